"""The rows of the paper's Table 1, two prior-correcting controls, the neck control and the
readings of Ours-Full, as named recipes.

Each recipe is a head x loss x class balancing x augmentation with the hyper-parameters the
original papers use on CIFAR-LT, as LDAM-DRW and MiSLAS set them: focal gamma 1; class-balanced
weights with beta 0.9999 (``cb_focal`` is Cui et al.'s class-balanced focal loss, the weight
multiplying the focal term; ``cb_focal_ldam`` the same weights inside the exponent, as LDAM-DRW's
code writes its ``FocalLoss(weight=...)``, the form this kit's ``cb_focal`` had until December
2026); LDAM margin 0.5 at the smallest class and scale 30; DRW and DRS switched on at the
learning-rate decay nearest 80 % of the epochs (160 of 200, with the decay there, as in
LDAM-DRW; see :mod:`fbcd_lab.config`); Mixup alpha 1. The paper's own method is ``ours`` (u = 10,
lambda = 1.5, random division) and ``ours_full``. ``ce_neck`` is CE with the balanced neck that
Ours's feature-balancing head adds where D is not a multiple of C (64 -> 70 channels on the CIFAR
ResNets): the control for that extra layer, which no other baseline has.

``ours_full`` rests on one sentence of the paper: "our approach also combines with Mixup and class
re-weighting [11] (in Table 1, last row) as used in MiSLAS [19]". Three readings:
- ``ours_full`` (the default): Mixup throughout plus deferred re-weighting (DRW) with effective-
  number weights of what each head sees: the K clusters' counts on the main head (L2), the
  classes' on the feature-balancing head (L1). The class division has already cut the main head's
  imbalance (about 100 to 10 on CIFAR-10-LT), so class weights there would correct it twice.
- ``ours_full_class``: the same with class weights on both heads (this kit's reading before).
- ``ours_full_two_stage``: MiSLAS-like, Mixup until the deferred switch, then class-balanced
  re-sampling (DRS) without Mixup and without weights. MiSLAS's stage 2 retrains the classifier
  alone for 10 epochs with label-aware smoothing; here the whole network goes on, as DRS does.
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
    "cb_focal_ldam": {"method": "ce", "loss": "focal", "focal_gamma": 1.0, "balancing": "reweight",
                      "focal_weighting": "ldam_drw"},
    "drs": {"method": "ce", "balancing": "drs"},
    "ldam_drw": {"method": "ce", "loss": "ldam", "balancing": "drw"},
    "ours_full": {"method": "fbcd", "augment": "mixup", "mixup_alpha": 1.0, "balancing": "drw", "weight_l1": True,
                  "l2_weights": "cluster"},
    "la_loss": {"method": "ce", "loss": "la", "la_tau": 1.0},
    "balanced_softmax": {"method": "ce", "loss": "balanced_softmax"},
    "ce_neck": {"method": "ce", "neck": "always"},
    "ours_full_class": {"method": "fbcd", "augment": "mixup", "mixup_alpha": 1.0, "balancing": "drw",
                        "weight_l1": True, "l2_weights": "class"},
    "ours_full_two_stage": {"method": "fbcd", "augment": "mixup_until_switch", "mixup_alpha": 1.0, "balancing": "drs"},
}
OURS_FULL_READINGS = ("ours_full", "ours_full_class", "ours_full_two_stage")
TABLE1_RECIPES = tuple(name for name in RECIPES if name not in OURS_FULL_READINGS[1:])


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
