"""Logit-adjusted loss (Menon et al., 2021): cross-entropy on logits + tau * log(prior).

The model learns balanced logits because the training prior is added during training only;
tau = 0 is cross-entropy, tau = 1 the Fisher-consistent choice (and Balanced Softmax).
"""

from __future__ import annotations

import numpy as np
import torch

from fbcd_lab.losses.base import LossFn, LossSpec, log_prior, soft_cross_entropy


def make(cluster_counts: np.ndarray, method) -> LossFn:
    shift = method.la_tau * log_prior(cluster_counts)

    def logit_adjusted(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None):
        return soft_cross_entropy(logits.float() + shift.to(logits.device), targets, weights)

    return logit_adjusted


SPEC = LossSpec("la", make)
