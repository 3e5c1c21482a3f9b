"""The rows of the paper's Table 1 (and two prior-correcting controls) as named recipes.

Each recipe is a head x loss x class balancing x augmentation with the hyper-parameters the
original papers use on CIFAR-LT, as LDAM-DRW and MiSLAS set them: focal gamma 1; class-balanced
weights with beta 0.9999; LDAM margin 0.5 at the smallest class and scale 30; DRW and DRS switched on
at 80 % of the epochs (160 of 200); Mixup alpha 1. The paper's own method is ``ours`` (u = 10,
lambda = 1.5, random division) and ``ours_full``.

``ours_full`` rests on one sentence of the paper: "our approach also combines with Mixup and class
re-weighting [11] (in Table 1, last row) as used in MiSLAS [19]". We read it as Mixup throughout
plus deferred class-balanced re-weighting (DRW, the weights of [11] from 80 % of the epochs on),
applied to both L2 and L1. The alternatives are a flag away: ``weight_l1=False`` weights L2 only,
``balancing="reweight"`` weights from the start.
"""

from __future__ import annotations

from dataclasses import replace

from fbcd_lab.checks import check_choice
from fbcd_lab.config import MethodConfig

RECIPES: dict[str, dict] = {
    "ce": {"method": "ce"},
    "focal": {"method": "ce", "loss": "focal", "focal_gamma": 1.0},
    "mixup": {"method": "ce", "augment": "mixup", "mixup_alpha": 1.0},
    "cb": {"method": "ce", "balancing": "reweight", "cb_beta": 0.9999},
    "ldam": {"method": "ce", "loss": "ldam"},
    "ours": {"method": "fbcd"},
    "cb_focal": {"method": "ce", "loss": "focal", "focal_gamma": 1.0, "balancing": "reweight"},
    "drs": {"method": "ce", "balancing": "drs"},
    "ldam_drw": {"method": "ce", "loss": "ldam", "balancing": "drw"},
    "ours_full": {"method": "fbcd", "augment": "mixup", "mixup_alpha": 1.0, "balancing": "drw", "weight_l1": True},
    "la_loss": {"method": "ce", "loss": "la", "la_tau": 1.0},
    "balanced_softmax": {"method": "ce", "loss": "balanced_softmax"},
}


def recipe(name: str, backbone: str = "resnet32", **overrides) -> MethodConfig:
    """The :class:`MethodConfig` of recipe ``name`` on ``backbone``, any field replaced by ``overrides``."""
    check_choice("recipe", name, RECIPES)
    return replace(MethodConfig(backbone=backbone, **RECIPES[name]), **overrides)


def recipe_of(method: MethodConfig) -> str | None:
    """The name of the recipe ``method`` is (backbone aside), or None if it is none of them."""
    return next((name for name in RECIPES if recipe(name, method.backbone) == method), None)


def describe_method(method: MethodConfig) -> str:
    """The four choices in a few words, with the recipe's name when it is one, for logs."""
    name = recipe_of(method)
    parts = [f"head {method.method}", f"loss {method.loss}", f"balancing {method.balancing}",
             f"augment {method.augment}"]
    return f"{'recipe ' + name + ': ' if name else ''}{', '.join(parts)}, backbone {method.backbone}"
