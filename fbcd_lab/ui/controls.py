"""The training lab's controls: one widget per setting, with its tooltip, and the settings each
method reads (the others greyed out)."""

from __future__ import annotations

import ipywidgets as widgets

from fbcd_lab.class_division import STRATEGIES
from fbcd_lab.config import METHODS, MethodConfig
from fbcd_lab.models.predict import RULES

IMBALANCE_RATIOS = (1, 10, 20, 50, 100)
TOOLTIPS = {
    "method": "ce: plain; fbh: + feature-balancing head; cdh: class-division head; fbcd: both (the paper's)",
    "u": "clusters of the largest class (Eq. 3); 1 makes the class-division head a plain classifier",
    "lam": "weight of the feature-balancing loss L1 in L = L2 + λ L1",
    "alpha": "soft label of a sample's own cluster; its siblings share 1 - α",
    "cluster": "how a class is split into its clusters",
    "imbalance_ratio": "largest over smallest class of the long-tailed training set",
    "epochs": "training epochs (warm-up and decay scale with them)",
    "seed": "training seed: initialisation, division, batch order (the data subset stays fixed)",
    "rule": "how K cluster logits become one of C classes",
}
CONTROL_NAMES = ("method", "u", "lam", "alpha", "cluster", "imbalance_ratio", "epochs", "seed", "rule")
TRAINED_SETTINGS = tuple(name for name in CONTROL_NAMES if name != "rule")
HEAD_SETTINGS = ("u", "lam", "alpha", "cluster")


def make_controls(default_epochs: int) -> dict[str, widgets.Widget]:
    """One widget per setting, with the paper's defaults (u = 10, lambda = 1.5, random division)."""
    style = {"description_width": "110px"}
    controls = {
        "method": widgets.ToggleButtons(options=METHODS, value="fbcd", description="method", style=style),
        "u": widgets.IntSlider(value=10, min=1, max=20, description="u (clusters)", style=style),
        "lam": widgets.FloatSlider(value=1.5, min=0.0, max=3.0, step=0.1, description="λ (FBH weight)",
                                   style=style),
        "alpha": widgets.FloatSlider(value=0.5, min=0.05, max=1.0, step=0.05, description="α (soft label)",
                                     style=style),
        "cluster": widgets.Dropdown(options=STRATEGIES, value="random", description="division", style=style),
        "imbalance_ratio": widgets.SelectionSlider(options=IMBALANCE_RATIOS, value=100,
                                                   description="imbalance ratio", style=style),
        "epochs": widgets.IntSlider(value=default_epochs, min=1, max=max(100, default_epochs),
                                    description="epochs", style=style),
        "seed": widgets.IntText(value=0, description="training seed", style=style),
        "rule": widgets.Dropdown(options=RULES, value="top_cluster", description="prediction rule", style=style),
    }
    for name, widget in controls.items():
        widget.tooltip = TOOLTIPS[name]
    return controls


def method_settings(settings: dict) -> dict:
    """The head's settings of a run (u, lambda, alpha, clustering), None where its method does not
    read them (u, alpha and the clustering without CDH, lambda without FBH): a CE row shows none."""
    unused = MethodConfig(method=settings["method"]).unused(HEAD_SETTINGS)
    return {k: None if k in unused else settings[k] for k in HEAD_SETTINGS}


class Controls:
    """The panel's part that reads and greys out its controls (``self.controls``)."""

    def settings(self) -> dict:
        """The controls' current values, by name."""
        return {name: self.controls[name].value for name in CONTROL_NAMES}

    def _sync_method(self, change: dict | None = None) -> None:
        """Grey out the settings the chosen method does not use."""
        method = MethodConfig(method=self.controls["method"].value)
        for name in ("u", "alpha", "cluster"):
            self.controls[name].disabled = not method.uses_cdh
        self.controls["lam"].disabled = not method.uses_fbh
