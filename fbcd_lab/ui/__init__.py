"""The training lab: a widget panel to train CE, FBH, CDH or FBH + CDH and compare the runs.

:class:`TrainingPanel` puts the method's settings (u, lambda, alpha, clustering), the data's
imbalance ratio, the epochs, the training seed and the prediction rule on sliders and menus, each
with its sensible range written beside it; the settings a method does not read are greyed out, and
a warning line names any setting that makes no sense for the method (u = 1 with the class-division
head, alpha at or below 1/u, lambda = 0 with the feature-balancing head, a very short run). Train
starts a run with the library's trainer; a live plot draws each run's two losses, L2 (the main
head's) and L1 (the feature-balancing head's, unweighted by lambda, so runs of any lambda compare),
and its mean recall on a validation split epoch by epoch; a table gathers one row per finished or
stopped run: its final test metrics under the prediction rule chosen now (changing the rule
re-reads every run, no retraining) and its best validation epoch. Runs with equal settings draw
in their own dash and say whose settings they repeat.

Why validation: choosing settings by the test curve fits them to the test set. The digits keep
:data:`DIGITS_SPLIT` (10 images per class, carved from the images the long tail leaves unused) for
the curve; without a split (``val_per_class=0``) the curve is the test set's, titled as one to
watch, not to tune on. The data subset stays fixed (subset seed 0); the seed control is the
training seed (initialisation, division, batch order).

Why a thread: while a cell is running, a Jupyter kernel handles no widget events, so a Stop
button next to a training loop in the kernel's main thread would never be heard. The panel
therefore trains in a worker thread and the kernel stays free; Stop sets an event that the
trainer polls between steps (``should_stop``), and the stopped run keeps what it learnt. Widget
updates from the worker are plain value assignments, which ipywidgets sends as they come.
``train(block=True)`` (tests, nbval) runs the same worker and waits for it.

The panel's parts: :mod:`~fbcd_lab.ui.controls`, :mod:`~fbcd_lab.ui.runner` (the training thread) and
:mod:`~fbcd_lab.ui.live_plot`, put together in :mod:`~fbcd_lab.ui.panel`.
"""

from fbcd_lab.ui.controls import (
    CONTROL_NAMES, HEAD_SETTINGS, HELP, IMBALANCE_RATIOS, TRAINED_SETTINGS, make_controls, method_settings,
    setting_warnings,
)
from fbcd_lab.ui.live_plot import DASHES, LOSS_TITLES, TEST_TITLE, VALIDATION_TITLE, make_figure
from fbcd_lab.ui.panel import DIGITS_SPLIT, TrainingPanel, run_row

__all__ = [
    "CONTROL_NAMES", "DASHES", "DIGITS_SPLIT", "HEAD_SETTINGS", "HELP", "IMBALANCE_RATIOS", "LOSS_TITLES",
    "TEST_TITLE", "TRAINED_SETTINGS", "TrainingPanel", "VALIDATION_TITLE", "make_controls", "make_figure",
    "method_settings", "run_row", "setting_warnings",
]
