"""LDAM (Cao et al., 2019): a label-distribution-aware margin on a normalised linear classifier.

Class c gets the margin m_c = C / n_c^(1/4), scaled so the largest (on the smallest class) is
``ldam_max_margin`` (0.5 in LDAM-DRW); the model's cosine classifier already multiplies its
logits by ``ldam_scale`` (s = 30), so the target's logit loses s m_c before cross-entropy:
cross-entropy of s (cos - m), as in LDAM-DRW. With soft targets (Mixup) each logit loses s q_k m_k,
which is LDAM for one-hot targets.
"""

from __future__ import annotations

import numpy as np
import torch

from fbcd_lab.losses.base import LossFn, LossSpec, soft_cross_entropy


def margins(counts: np.ndarray, max_margin: float) -> np.ndarray:
    """m_c proportional to n_c^(-1/4), the largest equal to ``max_margin``."""
    m = 1.0 / np.sqrt(np.sqrt(np.asarray(counts, dtype=np.float64)))
    return m * (max_margin / m.max())


def make(cluster_counts: np.ndarray, method) -> LossFn:
    m = torch.as_tensor(margins(cluster_counts, method.ldam_max_margin), dtype=torch.float32)
    scale = method.ldam_scale

    def ldam(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        return soft_cross_entropy(logits.float() - scale * targets * m.to(logits.device), targets, weights)

    return ldam


SPEC = LossSpec("ldam", make, normalized_classifier=True)
