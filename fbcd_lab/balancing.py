"""Class-balancing rules: which class weights the loss uses and whether batches are re-sampled,
epoch by epoch.

- ``none``: neither.
- ``reweight``: class-balanced "effective number" weights (Cui et al., 2019) from the start.
- ``drw``: the same weights from the deferred epoch on (LDAM-DRW's deferred re-weighting).
- ``resample``: class-balanced sampling from the start.
- ``drs``: class-balanced sampling from the deferred epoch on (deferred re-sampling).
The deferred epoch is 160 of 200 in LDAM-DRW; by default it scales with the run (0.8 x epochs,
at most the last epoch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fbcd_lab.checks import check_counts

BALANCING = ("none", "reweight", "drw", "resample", "drs")
DEFERRED = ("drw", "drs")  # the rules that switch on at a deferred epoch
WEIGHTED = ("reweight", "drw")  # the rules that weight the loss by class
DEFERRED_SHARE = 0.8


def effective_number_weights(counts, beta: float = 0.9999) -> np.ndarray:
    """w_c = (1 - beta) / (1 - beta^n_c), normalised to sum to the number of classes (LDAM-DRW's
    ``per_cls_weights``)."""
    counts = np.asarray(check_counts("counts", counts), dtype=np.float64)
    weights = (1.0 - beta) / (1.0 - np.power(beta, counts))
    return weights / weights.sum() * len(counts)


def deferred_epoch(epochs: int, deferred: int | None = None) -> int:
    """The epoch (from 0) at which DRW and DRS switch on: ``deferred``, else round(0.8 x epochs),
    kept below the last epoch so a short run still switches (at epoch 0 for a 1-epoch run)."""
    return min(round(DEFERRED_SHARE * epochs), epochs - 1) if deferred is None else deferred


def switch_epoch(rule: str, epochs: int, deferred: int | None = None) -> int | None:
    """The epoch (from 0) at which a deferred rule (DRW, DRS) switches on; None for the others."""
    return deferred_epoch(epochs, deferred) if rule in DEFERRED else None


@dataclass(frozen=True)
class Balancing:
    """Class weights from epoch ``weights_from`` on, re-sampling from ``resample_from`` on (None: never)."""

    rule: str
    weights: np.ndarray | None
    weights_from: int | None
    resample_from: int | None

    def class_weights(self, epoch: int) -> np.ndarray | None:
        """The class weights of ``epoch`` (None: all ones)."""
        return self.weights if self.weights_from is not None and epoch >= self.weights_from else None

    def resample(self, epoch: int) -> bool:
        """Whether ``epoch`` draws class-balanced batches."""
        return self.resample_from is not None and epoch >= self.resample_from


def make_balancing(rule: str, class_counts, epochs: int, beta: float = 0.9999,
                   deferred: int | None = None) -> Balancing:
    """The rule named ``rule`` (one of :data:`BALANCING`) for a run of ``epochs`` on these counts."""
    at = deferred_epoch(epochs, deferred)
    weights = effective_number_weights(class_counts, beta)
    return {
        "none": Balancing(rule, None, None, None),
        "reweight": Balancing(rule, weights, 0, None),
        "drw": Balancing(rule, weights, at, None),
        "resample": Balancing(rule, None, None, 0),
        "drs": Balancing(rule, None, None, at),
    }[rule]
