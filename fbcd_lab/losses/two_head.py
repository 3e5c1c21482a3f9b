"""The paper's objective: L = L2 + lambda * L1 (Section 2), with optional class weights and Mixup.

L2 is the main head's loss (any registered loss) on the soft cluster labels ``soft_labels[cluster]``;
L1 is cross-entropy of the feature-balancing head's logits on the class labels. Class weights
(re-weighting, DRW) weight each sample by its class, in L2 and, unless ``weight_l1`` is off, in
L1. Mixup mixes both targets and the weights with the images' mixing weight.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from fbcd_lab.checks import check
from fbcd_lab.data.mixup import Mixing
from fbcd_lab.losses.base import LossFn, soft_cross_entropy
from fbcd_lab.models.two_head import HeadOutputs


class LossParts(NamedTuple):
    """The total loss and its two terms (l1 is zero without the feature-balancing head)."""

    total: torch.Tensor
    l2: torch.Tensor
    l1: torch.Tensor


def feature_balancing_loss(fbh_logits: torch.Tensor, labels: torch.Tensor,
                           class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 2: cross-entropy of the FBH logits against the class labels (weighted mean with weights)."""
    return F.cross_entropy(fbh_logits.float(), labels, weight=class_weights)


def fbcd_loss(
    outputs: HeadOutputs,
    labels: torch.Tensor,
    clusters: torch.Tensor,
    soft_labels: torch.Tensor,
    lam: float,
    *,
    main_loss: LossFn = soft_cross_entropy,
    class_weights: torch.Tensor | None = None,
    weight_l1: bool = True,
    mixing: Mixing | None = None,
) -> LossParts:
    """L = L2 + lambda * L1, with L2 = ``main_loss`` on the soft labels ``soft_labels[clusters]`` (rows
    of :func:`fbcd_lab.class_division.soft_label_matrix`). ``class_weights`` (C,) weight every
    sample by its class; ``mixing`` says how the batch's images were mixed (Mixup)."""
    lam = check("lam", lam)
    targets = soft_labels[clusters]
    weights = None if class_weights is None else class_weights[labels]
    if mixing is not None:
        targets = mixing.mix(targets)
        weights = None if weights is None else mixing.mix(weights)
    l2 = main_loss(outputs.cluster_logits, targets, weights)
    if outputs.fbh_logits is None:
        l1 = l2.new_zeros(())
    elif mixing is None:
        l1 = feature_balancing_loss(outputs.fbh_logits, labels, class_weights if weight_l1 else None)
    else:
        class_targets = mixing.mix(F.one_hot(labels, outputs.fbh_logits.shape[1]).float())
        l1 = soft_cross_entropy(outputs.fbh_logits, class_targets, weights if weight_l1 else None)
    return LossParts(l2 + lam * l1, l2, l1)
