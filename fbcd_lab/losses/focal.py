"""Focal loss (Lin et al., 2017): -(1 - p_k)^gamma log p_k, down-weighting easy examples.

Without weights, the batch mean of the sum over k of q_k times that term for soft targets q
(one-hot: the term of the label); gamma = 0 is cross-entropy. LDAM-DRW uses gamma = 1 on CIFAR-LT.

With sample weights w it is LDAM-DRW's ``FocalLoss(weight=...)``: v_i = w_i * CE_i,
p_i = exp(-v_i) and the loss is the plain batch MEAN of (1 - p_i)^gamma * v_i (not divided by the
summed weights, and p_i is not the model's probability unless w_i = 1). For soft targets (Mixup's
mixed targets, the K-cluster soft labels) CE_i is the soft cross-entropy -sum_k q_ik log p_ik of
sample i and w_i its weight, which is LDAM-DRW's form for one-hot targets. For hard targets,
weights of 1 give the unweighted loss; for soft targets the two differ (the unweighted loss weighs
each k by (1 - p_k)^gamma, the weighted one the whole sample by (1 - exp(-CE_i))^gamma).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from fbcd_lab.losses.base import LossFn, LossSpec


def weighted_focal(values: torch.Tensor, gamma: float) -> torch.Tensor:
    """LDAM-DRW's ``focal_loss``: the mean of (1 - exp(-v))^gamma * v over the weighted per-sample
    cross-entropies ``values``."""
    return ((1 - torch.exp(-values)).pow(gamma) * values).mean()


def make(cluster_counts: np.ndarray, method) -> LossFn:
    gamma = method.focal_gamma

    def focal(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        log_p = F.log_softmax(logits.float(), dim=1)
        if weights is None:
            return -(targets * (1 - log_p.exp()).pow(gamma) * log_p).sum(dim=1).mean()
        return weighted_focal(weights * -(targets * log_p).sum(dim=1), gamma)

    return focal


SPEC = LossSpec("focal", make, divides_by_weights=False)
