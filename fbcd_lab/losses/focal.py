"""Focal loss (Lin et al., 2017): -(1 - p_k)^gamma log p_k, down-weighting easy examples.

Without weights, the batch mean of the sum over k of q_k times that term for soft targets q
(one-hot: the term of the label); gamma = 0 is cross-entropy. LDAM-DRW uses gamma = 1 on CIFAR-LT.

With sample weights w there are two forms, chosen by ``MethodConfig.focal_weighting``:

- ``cui`` (the default): Cui et al.'s class-balanced focal loss (CVPR 2019) in its softmax form,
  the batch MEAN of w_i * sum_k q_ik (1 - p_ik)^gamma (-log p_ik): the weight multiplies the focal
  term of the model's probabilities (one-hot: w_y (1 - p_y)^gamma (-log p_y)); their paper puts the
  focal term on per-class sigmoid probabilities, the softmax form reads it for a softmax classifier.
- ``ldam_drw``: LDAM-DRW's ``FocalLoss(weight=...)`` (its ``losses.py``): v_i = w_i * CE_i,
  p_i = exp(-v_i) and the loss is the batch MEAN of (1 - p_i)^gamma * v_i. The weight sits inside
  the exponent, so p_i is not the model's probability unless w_i = 1, and the tail's gradient grows
  far beyond its weight. For soft targets CE_i is -sum_k q_ik log p_ik.

Neither divides by the summed weights. With weights of 1 both equal the unweighted loss on one-hot
targets.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from fbcd_lab.losses.base import LossFn, LossSpec

WEIGHTINGS = ("cui", "ldam_drw")


def weighted_focal(values: torch.Tensor, gamma: float) -> torch.Tensor:
    """LDAM-DRW's ``focal_loss``: the mean of (1 - exp(-v))^gamma * v over the weighted per-sample
    cross-entropies ``values``."""
    return ((1 - torch.exp(-values)).pow(gamma) * values).mean()


def make(cluster_counts: np.ndarray, method) -> LossFn:
    gamma, weighting = method.focal_gamma, method.focal_weighting

    def focal(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        log_p = F.log_softmax(logits.float(), dim=1)
        if weights is not None and weighting == "ldam_drw":
            return weighted_focal(weights * -(targets * log_p).sum(dim=1), gamma)
        per_sample = -(targets * (1 - log_p.exp()).pow(gamma) * log_p).sum(dim=1)
        return (per_sample if weights is None else weights * per_sample).mean()

    return focal


SPEC = LossSpec("focal", make, divides_by_weights=False)
