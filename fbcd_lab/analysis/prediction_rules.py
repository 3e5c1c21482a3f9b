"""The three prediction rules side by side, and logit adjustment over a range of tau, from one
pass of test logits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold

from fbcd_lab.analysis.forward_passes import RunLogits, run_logits
from fbcd_lab.analysis.recall import recall_summary
from fbcd_lab.data.datasets import LongTailData
from fbcd_lab.models.predict import predict_classes
from fbcd_lab.run import Run

DEFAULT_TAUS = tuple(float(t) for t in np.linspace(0, 2, 9))


def rule_sweep_from_logits(logits: RunLogits, taus: Sequence[float] = DEFAULT_TAUS) -> dict:
    """``rule_sweep`` on logits already collected (see :class:`RunLogits`)."""
    def score(rule: str, tau: float = 1.0) -> dict:
        pred = predict_classes(logits.logits, logits.class_of_cluster, rule, logits.cluster_log_prior, tau)
        return recall_summary(logits.labels, pred.numpy(), logits.counts)

    adjusted = [{"tau": float(t), **score("logit_adjusted", float(t))} for t in taus]
    best = max(adjusted, key=lambda m: m["mean_recall"]) if adjusted else None
    return {"taus": [float(t) for t in taus],
            "num_clusters": int(logits.logits.shape[1]),
            "top_cluster": score("top_cluster"),
            "sum_clusters": score("sum_clusters"),
            "logit_adjusted": adjusted,
            "best_logit_adjusted": None if best is None else {"tau": best["tau"], "mean_recall": best["mean_recall"]}}


def rule_sweep(run: Run, data: LongTailData, taus: Sequence[float] = DEFAULT_TAUS, selection: str = "final") -> dict:
    """Test mean recall (and accuracy, many / medium / few, per class) of top_cluster, sum_clusters
    and logit_adjusted at each tau (prior over the run's clusters; tau 0 is top_cluster), from ONE
    pass of ``collect_logits``; any model, CE included. ``best_logit_adjusted`` is chosen on the test set."""
    return rule_sweep_from_logits(run_logits(run, data, selection), taus)


def held_out_tau(logits: RunLogits, taus: Sequence[float] = DEFAULT_TAUS, folds: int = 2, seed: int = 0) -> dict:
    """Logit adjustment with tau chosen on held-out images: the test images are split into
    ``folds`` stratified parts; each part's tau is the best on the other parts, and that part is
    scored at it. A fair number where no validation split exists (the best tau on all the test
    images is an upper bound). ``mean_recall`` is the mean over the parts."""
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    if not len(taus):
        raise ValueError("taus is empty: give at least one tau to choose from")
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(logits.labels, logits.labels)
    chosen, scores = [], []
    for choose_on, score_on in splits:
        def part(idx: np.ndarray) -> RunLogits:
            return replace(logits, logits=logits.logits[torch.as_tensor(idx)], labels=logits.labels[idx])

        tau = rule_sweep_from_logits(part(choose_on), taus)["best_logit_adjusted"]["tau"]
        chosen.append(tau)
        scores.append(rule_sweep_from_logits(part(score_on), [tau])["logit_adjusted"][0]["mean_recall"])
    return {"folds": folds, "taus_chosen": chosen, "part_mean_recall": scores,
            "mean_recall": float(np.mean(scores))}
