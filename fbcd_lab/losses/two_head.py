"""The paper's objective: L = L2 + lambda * L1 (Section 2), with optional class weights and Mixup.

L2 is the main head's loss (any registered loss) on the soft cluster labels ``soft_labels[cluster]``;
L1 is cross-entropy of the feature-balancing head's logits on the class labels. Class weights
(re-weighting, DRW) weight each sample by its class, in L2 (or, with cluster weights, by its
cluster there) and, unless ``weight_l1`` is off, in L1.

Mixup with mixing weight m pairs sample i with sample j = perm[i]. A head whose loss is weighted
takes the two-term loss of the Mixup and MiSLAS code, m * L_w(own targets) + (1 - m) *
L_w(partner's targets): in L2 the targets soft_labels[clusters] and the same rows permuted, in L1
the labels and the labels permuted, each term weighted by the classes of the samples whose targets
it uses (for cross-entropy each term is PyTorch's sum(w v) / sum(w), for focal LDAM-DRW's plain
mean; see the losses). Mixing the weights as well and applying them to the loss on mixed targets
would add cross terms. A head whose loss is not weighted (no balancing, DRW before its switch, L1
with ``weight_l1`` off) takes the loss on the mixed targets m q_i + (1 - m) q_j: for
cross-entropy, focal, logit-adjusted and Balanced Softmax, which are linear in the targets, that
is the two-term form up to rounding, and for one-hot targets it is the two-term form of the
weighted losses with all weights 1; LDAM's margin follows the mixed target (s q_k m_k) instead.
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


class TermScales(NamedTuple):
    """Factors on the loss terms, for distributed training (:func:`fbcd_lab.training._loss_scales`):
    L2's and L1's term on the samples' own targets and, with weighted Mixup, on their partners'.
    All 1 in one process."""

    l2_own: float | torch.Tensor = 1.0
    l2_partner: float | torch.Tensor = 1.0
    l1_own: float | torch.Tensor = 1.0
    l1_partner: float | torch.Tensor = 1.0


def feature_balancing_loss(fbh_logits: torch.Tensor, labels: torch.Tensor,
                           class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 2: cross-entropy of the FBH logits against the class labels (weighted mean with weights)."""
    return F.cross_entropy(fbh_logits.float(), labels, weight=class_weights)


def _mixup_terms(mixing: Mixing, own: torch.Tensor, partner: torch.Tensor, own_scale: float | torch.Tensor,
                 partner_scale: float | torch.Tensor) -> torch.Tensor:
    """Mixup's two-term loss m * L(own targets) + (1 - m) * L(partner's), each term scaled."""
    return mixing.weight * own_scale * own + (1.0 - mixing.weight) * partner_scale * partner


def _main_head_loss(main_loss: LossFn, logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None,
                    mixing: Mixing | None, scales: TermScales) -> torch.Tensor:
    """L2: ``main_loss`` on the targets, on the mixed targets (Mixup without weights) or Mixup's two
    terms with each sample's own and its partner's targets and weights."""
    if mixing is None:
        return scales.l2_own * main_loss(logits, targets, weights)
    if weights is None:
        return scales.l2_own * main_loss(logits, mixing.mix(targets), None)
    terms = (main_loss(logits, t, w) for t, w in zip(mixing.pair(targets), mixing.pair(weights)))
    return _mixup_terms(mixing, *terms, scales.l2_own, scales.l2_partner)


def _feature_balancing_head_loss(fbh_logits: torch.Tensor, labels: torch.Tensor,
                                 class_weights: torch.Tensor | None, mixing: Mixing | None,
                                 scales: TermScales) -> torch.Tensor:
    """L1: Eq. 2 on the labels, on the mixed one-hot labels (Mixup without weights) or Mixup's two
    terms with each sample's own and its partner's label."""
    if mixing is None:
        return scales.l1_own * feature_balancing_loss(fbh_logits, labels, class_weights)
    if class_weights is None:
        one_hot = F.one_hot(labels, fbh_logits.shape[1]).float()
        return scales.l1_own * soft_cross_entropy(fbh_logits, mixing.mix(one_hot))
    terms = (feature_balancing_loss(fbh_logits, y, class_weights) for y in mixing.pair(labels))
    return _mixup_terms(mixing, *terms, scales.l1_own, scales.l1_partner)


def main_head_sample_weights(labels: torch.Tensor, clusters: torch.Tensor, class_weights: torch.Tensor | None,
                             cluster_weights: torch.Tensor | None) -> torch.Tensor | None:
    """Each sample's weight in L2: its cluster's weight if ``cluster_weights`` are given, else its
    class's (None: no weights)."""
    if cluster_weights is not None:
        return cluster_weights[clusters]
    return None if class_weights is None else class_weights[labels]


def fbcd_loss(
    outputs: HeadOutputs,
    labels: torch.Tensor,
    clusters: torch.Tensor,
    soft_labels: torch.Tensor,
    lam: float,
    *,
    main_loss: LossFn = soft_cross_entropy,
    class_weights: torch.Tensor | None = None,
    cluster_weights: torch.Tensor | None = None,
    weight_l1: bool = True,
    mixing: Mixing | None = None,
    scales: TermScales = TermScales(),
) -> LossParts:
    """L = L2 + lambda * L1, with L2 = ``main_loss`` on the soft labels ``soft_labels[clusters]`` (rows
    of :func:`fbcd_lab.class_division.soft_label_matrix`). ``class_weights`` (C,) weight every
    sample by its class, in L2 unless ``cluster_weights`` (K,) weight it there by its cluster;
    ``mixing`` says how the batch's images were mixed (Mixup); ``scales`` multiply the terms
    (distributed training)."""
    lam = check("lam", lam)
    weights = main_head_sample_weights(labels, clusters, class_weights, cluster_weights)
    l2 = _main_head_loss(main_loss, outputs.cluster_logits, soft_labels[clusters], weights, mixing, scales)
    if outputs.fbh_logits is None:
        l1 = l2.new_zeros(())
    else:
        l1 = _feature_balancing_head_loss(outputs.fbh_logits, labels, class_weights if weight_l1 else None,
                                          mixing, scales)
    return LossParts(l2 + lam * l1, l2, l1)
