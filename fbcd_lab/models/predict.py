"""Rules that turn K cluster logits into one of C classes.

- ``top_cluster`` (default): the class of the most probable cluster.
- ``sum_clusters``: the class with the largest summed cluster probability. This hands a class
  with u_c clusters u_c shares of probability and so restores the training prior.
- ``logit_adjusted``: subtract tau * log(training prior of each cluster) from the logits, then
  take the top cluster (Menon et al., 2021; tau = 1 by default); with K = C this is post-hoc
  logit adjustment of CE.
All three work for any model, CE included.
"""

from __future__ import annotations

import numpy as np
import torch

from fbcd_lab.checks import check

RULES = ("top_cluster", "sum_clusters", "logit_adjusted")


def predict_classes(
    cluster_logits: torch.Tensor,
    class_of_cluster: torch.Tensor,
    rule: str = "top_cluster",
    log_prior: torch.Tensor | None = None,
    tau: float = 1.0,
) -> torch.Tensor:
    """Class predictions (B,) from (B, K) logits by ``rule``; ``log_prior`` (K,) and ``tau`` for
    logit_adjusted."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    class_of_cluster = class_of_cluster.to(cluster_logits.device)
    if rule == "sum_clusters":
        num_classes = int(class_of_cluster.max()) + 1
        probs = cluster_logits.float().softmax(dim=1)
        summed = probs.new_zeros(len(probs), num_classes).index_add_(1, class_of_cluster, probs)
        return summed.argmax(dim=1)
    if rule == "logit_adjusted":
        if log_prior is None or log_prior.shape != cluster_logits.shape[1:]:
            raise ValueError(f"log_prior of shape ({cluster_logits.shape[1]},) is required for rule 'logit_adjusted'")
        cluster_logits = adjusted_logits(cluster_logits, log_prior, tau)
    return class_of_cluster[cluster_logits.argmax(dim=1)]


def log_prior(cluster_sizes: np.ndarray) -> torch.Tensor:
    """Log of the training label prior over clusters (or classes when K = C)."""
    sizes = np.asarray(cluster_sizes, dtype=np.float64)
    if (sizes <= 0).any():
        raise ValueError("cluster_sizes must all be > 0")
    return torch.from_numpy(np.log(sizes / sizes.sum())).float()


def adjusted_logits(cluster_logits: torch.Tensor, log_prior: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """Post-hoc logit adjustment: logits - tau * log(prior), in float32."""
    return cluster_logits.float() - check("la_tau", tau) * log_prior.to(cluster_logits.device)
