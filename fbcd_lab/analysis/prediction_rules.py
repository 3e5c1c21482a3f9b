"""The three prediction rules side by side, and logit adjustment over a range of tau, from one
pass of test logits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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
