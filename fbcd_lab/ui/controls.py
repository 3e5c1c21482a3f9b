"""The training lab's controls: one widget per setting, with its sensible range beside it, the
settings each method reads (the others greyed out), and the warnings for settings that make no
sense for the method."""

from __future__ import annotations

import html

import ipywidgets as widgets

from fbcd_lab.class_division import STRATEGIES
from fbcd_lab.config import METHODS, MethodConfig
from fbcd_lab.models.predict import RULES

IMBALANCE_RATIOS = (1, 10, 20, 50, 100)
SHORT_RUN_EPOCHS = 10  # below this the preset's warm-up and decays are squeezed into a few epochs
# What each control sets and its sensible range, shown beside the control and as its tooltip.
HELP = {
    "method": "ce: plain; fbh: + feature-balancing head; cdh: class-division head; fbcd: both (the paper's). "
              "A method's unused settings are greyed out",
    "u": "clusters of the largest class (Eq. 3). Sensible 2 to 20 (the paper: 10); 1 divides nothing, so the "
         "class-division head becomes a plain classifier",
    "lam": "weight λ of the feature-balancing loss in L = L2 + λ L1. Sensible 0.5 to 3 (the paper: 1.5); 0 gives "
           "the feature-balancing head no gradient",
    "alpha": "soft label α of a sample's own cluster; its siblings share 1 − α. Sensible above 1/u, up to 0.9 (the "
             "paper: 0.5); at or below 1/u the own cluster gets no more than a sibling, 1 makes siblings rivals",
    "cluster": "how a class is split into its clusters: random (the paper's), k-means or hierarchical on pixels",
    "imbalance_ratio": "largest over smallest class of the training set: 1 is balanced (nothing to correct), 100 "
                       "the paper's hardest CIFAR setting",
    "epochs": f"training epochs; warm-up and decays scale with them. Sensible {SHORT_RUN_EPOCHS} or more "
              f"(the digits preset: 30); shorter runs stop far from converged",
    "seed": "training seed, 0 or more: initialisation, division, batch order (the data subset stays fixed)",
    "rule": "how K cluster logits become one of C classes: top_cluster (the paper's reading), sum_clusters, "
            "logit_adjusted (τ = 1); read after training, no retraining",
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
        "seed": widgets.BoundedIntText(value=0, min=0, max=2**31 - 1, description="training seed", style=style),
        "rule": widgets.Dropdown(options=RULES, value="top_cluster", description="prediction rule", style=style),
    }
    for name, widget in controls.items():
        widget.tooltip = HELP[name]
    return controls


def setting_warnings(settings: dict) -> list[str]:
    """What makes no sense, or trains something other than it seems, in ``settings`` for the chosen
    method: u = 1 with the class-division head, alpha at or below 1/u or at 1, lambda = 0 with the
    feature-balancing head, fewer than SHORT_RUN_EPOCHS epochs. Empty when all is sensible."""
    method = MethodConfig(method=settings["method"])
    flags = []
    if method.uses_cdh and settings["u"] == 1:
        flags.append("u = 1 divides no class: the class-division head is a plain classifier, so this run "
                     f"trains {'fbh' if method.uses_fbh else 'ce'}")
    if method.uses_cdh and settings["u"] > 1 and settings["alpha"] <= 1 / settings["u"]:
        flags.append(f"α = {settings['alpha']:g} is at or below 1/u = {1 / settings['u']:.2f}: in the largest class a "
                     f"sample's own cluster gets no more than each sibling's (1 − α)/(u − 1), so its label says "
                     f"nothing about its cluster")
    if method.uses_cdh and settings["u"] > 1 and settings["alpha"] == 1:
        flags.append("α = 1 gives hard cluster labels: the clusters of one class are trained as rival classes")
    if method.uses_fbh and settings["lam"] == 0:
        flags.append(f"λ = 0 gives the feature-balancing head no gradient: this trains "
                     f"{'cdh' if method.uses_cdh else 'ce'}'s objective with an idle head")
    if settings["epochs"] < SHORT_RUN_EPOCHS:
        flags.append(f"{settings['epochs']} epochs is short (sensible: {SHORT_RUN_EPOCHS} or more): the warm-up "
                     f"and the decays are squeezed together and the run stops far from converged")
    return flags


def method_settings(settings: dict) -> dict:
    """The head's settings of a run (u, lambda, alpha, clustering), None where its method does not
    read them (u, alpha and the clustering without CDH, lambda without FBH): a CE row shows none."""
    unused = MethodConfig(method=settings["method"]).unused(HEAD_SETTINGS)
    return {k: None if k in unused else settings[k] for k in HEAD_SETTINGS}


def help_label(name: str) -> widgets.HTML:
    """The help text of control ``name``, to sit beside it."""
    return widgets.HTML(f"<span style='font-size:85%;color:#555'>{HELP[name]}</span>",
                        layout=widgets.Layout(width="520px"))


class Controls:
    """The panel's part that reads, greys out and checks its controls (``self.controls``, and
    ``self.flags``, where settings that make no sense for the method are named)."""

    def settings(self) -> dict:
        """The controls' current values, by name."""
        return {name: self.controls[name].value for name in CONTROL_NAMES}

    def _sync_method(self, change: dict | None = None) -> None:
        """Grey out the settings the chosen method does not use."""
        method = MethodConfig(method=self.controls["method"].value)
        for name in ("u", "alpha", "cluster"):
            self.controls[name].disabled = not method.uses_cdh
        self.controls["lam"].disabled = not method.uses_fbh

    def _show_flags(self, change: dict | None = None) -> None:
        """Name in :attr:`flags` what in the current settings makes no sense for the method (empty when nothing)."""
        flags = setting_warnings(self.settings())
        self.flags.value = "".join(f"<div style='color:#b26a00'>⚠ {html.escape(flag)}</div>" for flag in flags)
