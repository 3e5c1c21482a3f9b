"""Losses of Section 2: L1 (Eq. 2), L2 (Eq. 4) and L = L2 + lambda * L1."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from fbcd_lab.checks import check
from fbcd_lab.models.two_head import HeadOutputs


class LossParts(NamedTuple):
    """The total loss and its two terms (l1 is zero without the feature-balancing head)."""

    total: torch.Tensor
    l2: torch.Tensor
    l1: torch.Tensor


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Eq. 4: mean over the batch of -sum_k q_k log p_k for soft targets (B, K)."""
    return -(targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()


def feature_balancing_loss(fbh_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. 2: cross-entropy of the FBH logits against the class labels."""
    return F.cross_entropy(fbh_logits.float(), labels)


def fbcd_loss(
    outputs: HeadOutputs,
    labels: torch.Tensor,
    clusters: torch.Tensor,
    soft_labels: torch.Tensor,
    lam: float,
) -> LossParts:
    """L = L2 + lambda * L1, with L2 on soft labels ``soft_labels[clusters]`` (rows of the (K, K)
    matrix from :func:`fbcd_lab.class_division.soft_label_matrix`)."""
    lam = check("lam", lam)
    l2 = soft_cross_entropy(outputs.cluster_logits, soft_labels[clusters])
    if outputs.fbh_logits is None:
        l1 = l2.new_zeros(())
    else:
        l1 = feature_balancing_loss(outputs.fbh_logits, labels)
    return LossParts(l2 + lam * l1, l2, l1)
