"""Focal loss (Lin et al., 2017): -(1 - p_k)^gamma log p_k, down-weighting easy examples.

With soft targets, the sum over k of q_k times that term; gamma = 0 is cross-entropy. LDAM-DRW
uses gamma = 1 on CIFAR-LT.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from fbcd_lab.losses.base import LossFn, LossSpec, weighted_mean


def make(cluster_counts: np.ndarray, method) -> LossFn:
    gamma = method.focal_gamma

    def focal(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        log_p = F.log_softmax(logits.float(), dim=1)
        per_sample = -(targets * (1 - log_p.exp()).pow(gamma) * log_p).sum(dim=1)
        return weighted_mean(per_sample, weights)

    return focal


SPEC = LossSpec("focal", make)
