"""Balanced Softmax (Ren et al., 2020): softmax over exp(logit_c) * n_c, i.e. cross-entropy on
logits + log n_c. It is the logit-adjusted loss with tau = 1 (log n_c and log prior differ by a
constant), kept under its own name because papers report it as a method of its own."""

from __future__ import annotations

import numpy as np
import torch

from fbcd_lab.losses.base import LossFn, LossSpec, soft_cross_entropy


def make(cluster_counts: np.ndarray, method) -> LossFn:
    log_counts = torch.as_tensor(np.log(np.asarray(cluster_counts, dtype=np.float64)), dtype=torch.float32)

    def balanced_softmax(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None):
        return soft_cross_entropy(logits.float() + log_counts.to(logits.device), targets, weights)

    return balanced_softmax


SPEC = LossSpec("balanced_softmax", make)
