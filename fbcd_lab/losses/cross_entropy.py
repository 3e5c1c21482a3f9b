"""Cross-entropy on soft targets: plain CE with one-hot targets, the paper's L2 on cluster soft labels."""

from __future__ import annotations

import numpy as np

from fbcd_lab.losses.base import LossFn, LossSpec, soft_cross_entropy


def make(cluster_counts: np.ndarray, method) -> LossFn:
    return soft_cross_entropy


SPEC = LossSpec("ce", make, any_head=True)
