"""Losses by name, one small module each, and the two-head objective L = L2 + lambda * L1.

:data:`LOSSES` is the one registry: a new loss is a module with a ``SPEC`` added here, and the
trainer, the configuration checks and the command line pick it up from this table.
"""

from fbcd_lab.losses import balanced_softmax, cross_entropy, focal, ldam, logit_adjusted
from fbcd_lab.losses.base import LossFn, LossSpec, log_prior, soft_cross_entropy, weighted_mean
from fbcd_lab.losses.two_head import LossParts, TermScales, fbcd_loss, feature_balancing_loss

LOSSES: dict[str, LossSpec] = {m.SPEC.name: m.SPEC for m in (cross_entropy, focal, ldam, logit_adjusted,
                                                             balanced_softmax)}

__all__ = ["LOSSES", "LossFn", "LossParts", "LossSpec", "TermScales", "fbcd_loss", "feature_balancing_loss",
           "log_prior", "soft_cross_entropy", "weighted_mean"]
