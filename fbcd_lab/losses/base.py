"""What every loss shares: the loss signature, the weighted mean, soft-target cross-entropy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

# A main-head loss: (logits (B, K), soft targets (B, K) summing to 1, per-sample weights (B,) or None)
# -> scalar. Hard labels are one-hot targets; class division and Mixup make them soft.
LossFn = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


@dataclass(frozen=True)
class LossSpec:
    """A named loss: ``make(cluster_counts, method)`` builds its function for one run.

    ``normalized_classifier``: the loss expects scaled cosine logits (s cos, s = ``ldam_scale``) from
    a weight- and feature-normalised linear head (LDAM). ``any_head``: it is defined on the K-cluster
    soft targets of the class-division head; the others need the plain C-way head.
    ``divides_by_weights``: with sample weights the loss is :func:`weighted_mean`'s sum(w v) / sum(w);
    False: it is a plain mean over the batch (focal, as LDAM-DRW's). Distributed training scales
    each process's loss by the matching denominator."""

    name: str
    make: Callable[[np.ndarray, object], LossFn]
    normalized_classifier: bool = False
    any_head: bool = False
    divides_by_weights: bool = True


def weighted_mean(values: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Mean of per-sample ``values``; with ``weights``, sum(w * v) / sum(w), PyTorch's
    ``cross_entropy(weight=...)`` convention, so LDAM-DRW's for its cross-entropy and LDAM losses
    (not for its focal loss: see :mod:`fbcd_lab.losses.focal`)."""
    if weights is None:
        return values.mean()
    return (weights * values).sum() / weights.sum()


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 4: the (weighted) mean over the batch of -sum_k q_k log p_k for soft targets (B, K)."""
    return weighted_mean(-(targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1), weights)


def log_prior(counts: np.ndarray, device: torch.device | None = None) -> torch.Tensor:
    """log(n_k / N): the log training prior over the main head's outputs, float32 on ``device``."""
    counts = np.asarray(counts, dtype=np.float64)
    return torch.as_tensor(np.log(counts / counts.sum()), dtype=torch.float32, device=device)
