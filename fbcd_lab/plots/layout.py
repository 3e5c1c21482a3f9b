"""The kit's one look (template, heights, a colour per method), plotly's notebook set-up, and
:func:`show`, which displays a figure with its :func:`~fbcd_lab.plots.text.describe` text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative

from fbcd_lab.plots.text import describe


TEMPLATE = "plotly_white"
HEIGHT = 380
TALL = 450
METHOD_COLORS = {"ce": "#0072B2", "fbh": "#009E73", "cdh": "#E69F00", "fbcd": "#D55E00"}
COUNT_BAR_COLOR = "rgba(160, 160, 160, 0.45)"
CLUSTER_COLORS = qualitative.Dark24
NOTEBOOK_RENDERER = "plotly_mimetype+notebook_connected"


def setup_notebook(renderer: str = NOTEBOOK_RENDERER) -> None:
    """Make ``renderer`` and the kit's template plotly's defaults: interactive in JupyterLab, and
    HTML that loads plotly.js from its CDN in exported notebooks (lighter than embedding it)."""
    pio.renderers.default = renderer
    pio.templates.default = TEMPLATE


def series_colors(names: Iterable[str]) -> dict[str, str]:
    """A colour per series: a method's own colour, else the next of plotly's qualitative palette."""
    colors, spare = {}, 0
    for name in names:
        if name in METHOD_COLORS:
            colors[name] = METHOD_COLORS[name]
        elif name not in colors:
            colors[name] = qualitative.Plotly[spare % len(qualitative.Plotly)]
            spare += 1
    return colors


def _finish(fig: go.Figure, title: str, height: int = HEIGHT, subtitle: str | None = None) -> go.Figure:
    """Apply the shared look: template, left-aligned title (and subtitle), height and margins."""
    heading = {"text": title, "x": 0.01, "xanchor": "left"}
    if subtitle:
        heading["subtitle"] = {"text": subtitle}
    fig.update_layout(template=TEMPLATE, title=heading, height=height,
                      margin={"l": 60, "r": 30, "t": 90 if subtitle else 60, "b": 50})
    return fig


def _by_size(counts: Sequence[int]) -> np.ndarray:
    """Class indices by decreasing training count (ties keep index order)."""
    return np.argsort(-np.asarray(counts), kind="stable")


def show(fig: go.Figure, digits: int = 2) -> None:
    """Display ``fig`` with :func:`describe` as its plain-text alternative: JupyterLab and the HTML
    export draw the chart, a viewer without plotly (or a screen reader, or nbval, which skips
    plotly's own payloads) reads its rounded numbers; the learner sees no text line under the chart."""
    from IPython.display import display

    display({**fig._repr_mimebundle_(), "text/plain": describe(fig, digits)}, raw=True)
