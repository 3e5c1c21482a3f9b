"""Class-balancing rules: which class weights the loss uses and whether batches are re-sampled,
epoch by epoch.

- ``none``: neither.
- ``reweight``: class-balanced "effective number" weights (Cui et al., 2019) from the start.
- ``drw``: the same weights from the deferred epoch on (LDAM-DRW's deferred re-weighting).
- ``resample``: class-balanced sampling from the start.
- ``drs``: class-balanced sampling from the deferred epoch on (deferred re-sampling).
The re-sampling rules draw with replacement, by default every class with probability 1/C
(``class_balanced``: the class-balanced sampling of Kang et al., ICLR 2020, and of DRS as LDAM-DRW's
paper describes it); ``sampler="effective_number"`` draws each sample with its class's
effective-number weight instead, as the sampler in LDAM-DRW's code (``ImbalancedDatasetSampler``, for
its ``Resample`` rule) is written to draw, so a class is drawn in proportion to
n_c (1 - beta) / (1 - beta^n_c): on CIFAR-10-LT ratio 100 from 0.119 of the draws for the head class
down to 0.094 for the tail, not 1/C. Their released ``cifar_train.py`` never hands that sampler to
its data loader (kaidic/LDAM-DRW issue 7) and has no deferred re-sampling rule, so no released run
drew that way.
In LDAM-DRW the deferred rules switch on at epoch 160 of 200, together with the learning rate's
decay there, with 20 % of training left. The rule here keeps that beat on every schedule (see
:func:`deferred_epoch`): the switch is a learning-rate decay, the one nearest 80 % of the epochs.

``ours_full`` may weight the K-cluster head by the effective numbers of its clusters
(``l2_weights="cluster"``) rather than of the classes: the division has already cut that head's
imbalance, and class weights on it would correct twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fbcd_lab.checks import check_counts

BALANCING = ("none", "reweight", "drw", "resample", "drs")
DEFERRED = ("drw", "drs")  # the rules that switch on at a deferred epoch
WEIGHTED = ("reweight", "drw")  # the rules that weight the loss by class
RESAMPLED = ("resample", "drs")  # the rules that re-sample the batches
SAMPLERS = ("class_balanced", "effective_number")
DEFERRED_SHARE = 0.8


def effective_number_weights(counts, beta: float = 0.9999) -> np.ndarray:
    """w_c = (1 - beta) / (1 - beta^n_c), normalised to sum to the number of classes (LDAM-DRW's
    ``per_cls_weights``)."""
    counts = np.asarray(check_counts("counts", counts), dtype=np.float64)
    weights = (1.0 - beta) / (1.0 - np.power(beta, counts))
    return weights / weights.sum() * len(counts)


def draw_weights(sampler: str, counts, beta: float = 0.9999) -> np.ndarray:
    """Per-class weights a re-sampling rule draws each sample with: 1 / n_c (``class_balanced``:
    every class equally likely) or the effective-number weights (``effective_number``)."""
    if sampler == "effective_number":
        return effective_number_weights(counts, beta)
    return 1.0 / np.asarray(check_counts("counts", counts), dtype=np.float64)


def deferred_epoch(optim, deferred: int | None = None) -> int:
    """The epoch (from 0) at which DRW and DRS switch on under ``optim`` (an
    :class:`~fbcd_lab.config.OptimConfig`): ``deferred`` if given; else, on a step schedule, the
    learning-rate milestone nearest 0.8 x epochs (the later one on a tie): 160 of 200 for
    paper_cifar and ldam_cifar, 25 of 30 for cpu_short and digits; else (cosine, or no milestone
    left) round(0.8 x epochs), kept below the last epoch so a short run still switches."""
    if deferred is not None:
        return deferred
    if optim.schedule == "step" and optim.milestones:
        target = DEFERRED_SHARE * optim.epochs
        return min(reversed(optim.milestones), key=lambda m: abs(m - target))
    return _share_epoch(optim.epochs)


def _share_epoch(epochs: int) -> int:
    """round(0.8 x epochs), kept below the last epoch (at epoch 0 for a 1-epoch run)."""
    return min(round(DEFERRED_SHARE * epochs), epochs - 1)


def switch_epoch(rule: str, optim, deferred: int | None = None) -> int | None:
    """The epoch (from 0) at which a deferred rule (DRW, DRS) switches on under ``optim``; None for
    the others."""
    return deferred_epoch(optim, deferred) if rule in DEFERRED else None


def saved_switch_epoch(state: dict) -> int | None:
    """The switch epoch a saved run (a checkpoint or a record's ``config``) trained with: the one it
    saved, or, for runs saved before the switch followed the learning-rate decays,
    round(0.8 x epochs) below the last epoch (or its ``deferred_epoch``), the rule of that time."""
    if "balancing_switch_epoch" in state:
        return state["balancing_switch_epoch"]
    method = state["method"]
    if method.get("balancing", "none") not in DEFERRED:
        return None
    epochs, deferred = state["optim"]["epochs"], method.get("deferred_epoch")
    return _share_epoch(epochs) if deferred is None else deferred


@dataclass(frozen=True)
class Balancing:
    """Class weights from epoch ``weights_from`` on, re-sampling from ``resample_from`` on (None:
    never) with per-class ``draws`` (:func:`draw_weights`); ``cluster_weights`` (K,), when given,
    replace the class weights on the main head."""

    rule: str
    weights: np.ndarray | None
    weights_from: int | None
    resample_from: int | None
    cluster_weights: np.ndarray | None = None
    draws: np.ndarray | None = None

    def class_weights(self, epoch: int) -> np.ndarray | None:
        """The class weights of ``epoch`` (None: all ones)."""
        return self.weights if self.weighting(epoch) else None

    def cluster_weights_of(self, epoch: int) -> np.ndarray | None:
        """The main head's cluster weights of ``epoch`` (None: the class weights weight it, if any)."""
        return self.cluster_weights if self.weighting(epoch) else None

    def weighting(self, epoch: int) -> bool:
        """Whether ``epoch`` weights the loss."""
        return self.weights_from is not None and epoch >= self.weights_from

    def switched(self, epoch: int) -> bool:
        """Whether a deferred rule has switched on by ``epoch`` (always False for the others)."""
        return self.rule in DEFERRED and (self.weighting(epoch) or self.resample(epoch))

    def resample(self, epoch: int) -> bool:
        """Whether ``epoch`` re-samples its batches."""
        return self.resample_from is not None and epoch >= self.resample_from

    def draws_of(self, epoch: int) -> np.ndarray | None:
        """The per-class draw weights of ``epoch`` (None: a plain shuffle)."""
        return self.draws if self.resample(epoch) else None


def make_balancing(rule: str, class_counts, optim, beta: float = 0.9999, deferred: int | None = None,
                   cluster_counts=None, sampler: str = "class_balanced") -> Balancing:
    """The rule named ``rule`` (one of :data:`BALANCING`) for a run under ``optim`` on these counts;
    with ``cluster_counts`` the weighted rules weight the main head by its clusters' effective numbers;
    the re-sampling rules draw by ``sampler`` (one of :data:`SAMPLERS`)."""
    at = deferred_epoch(optim, deferred)
    weights = effective_number_weights(class_counts, beta)
    clusters = None if cluster_counts is None else effective_number_weights(cluster_counts, beta)
    draws = draw_weights(sampler, class_counts, beta)
    return {
        "none": Balancing(rule, None, None, None),
        "reweight": Balancing(rule, weights, 0, None, clusters),
        "drw": Balancing(rule, weights, at, None, clusters),
        "resample": Balancing(rule, None, None, 0, draws=draws),
        "drs": Balancing(rule, None, None, at, draws=draws),
    }[rule]
