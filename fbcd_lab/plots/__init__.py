"""Every chart of the notebooks: plotly figure builders that return a figure and never show it.

One look throughout (template ``plotly_white``, 300-450 px high) and one colour per method
(:data:`METHOD_COLORS`; other series take plotly's qualitative palette in order). Per-class charts
order the classes by decreasing training size, as the paper's Fig. 3 does. :func:`describe` sums a
figure up in a few lines of rounded numbers, and :func:`show` displays it as the chart's plain-text
alternative, so that a notebook's checked outputs compare what its charts show.

One module a topic: :mod:`~fbcd_lab.plots.imbalance`, :mod:`~fbcd_lab.plots.division`,
:mod:`~fbcd_lab.plots.recall_norms`, :mod:`~fbcd_lab.plots.comparison` and :mod:`~fbcd_lab.plots.analysis`;
the shared look and :func:`show` in :mod:`~fbcd_lab.plots.layout`, :func:`describe` in
:mod:`~fbcd_lab.plots.text`. Every public name is importable from here (``plots.X``).
"""

from fbcd_lab.plots.layout import (
    CLUSTER_COLORS, COUNT_BAR_COLOR, HEIGHT, METHOD_COLORS, NOTEBOOK_RENDERER, TALL, TEMPLATE, series_colors,
    setup_notebook, show,
)
from fbcd_lab.plots.text import MAX_VALUES, describe
from fbcd_lab.plots.imbalance import class_counts_figure, image_grid_figure, image_mosaic
from fbcd_lab.plots.division import division_figure, embedding_figure, embeddings_figure, soft_label_figure
from fbcd_lab.plots.recall_norms import (
    cluster_norms_figure, confusion_figure, group_recall_figure, per_class_recall_figure, weight_norms_figure,
)
from fbcd_lab.plots.comparison import head_gains_figure, history_figure, rules_figure, sweep_figure
from fbcd_lab.plots.analysis import (
    cluster_mass_figure, effective_prior_figure, group_energy_figure, kernel_norms_figure, reliability_figure,
    rule_sweep_figure, tsne_figure, waterfall_figure,
)

__all__ = [
    "TEMPLATE", "HEIGHT", "TALL", "METHOD_COLORS", "COUNT_BAR_COLOR", "CLUSTER_COLORS", "NOTEBOOK_RENDERER",
    "setup_notebook", "series_colors", "show", "MAX_VALUES", "describe", "class_counts_figure", "image_mosaic",
    "image_grid_figure", "division_figure", "embedding_figure", "embeddings_figure", "soft_label_figure",
    "per_class_recall_figure", "weight_norms_figure", "cluster_norms_figure", "confusion_figure",
    "group_recall_figure", "rules_figure", "head_gains_figure", "sweep_figure", "history_figure",
    "rule_sweep_figure", "group_energy_figure", "kernel_norms_figure", "cluster_mass_figure",
    "effective_prior_figure", "reliability_figure", "tsne_figure", "waterfall_figure",
]
