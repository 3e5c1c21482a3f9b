"""Mean recall with its many / medium / few split, and mean and sample sd over seeds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import balanced_accuracy_score, recall_score

from fbcd_lab.data.long_tail import group_recall, shot_groups


def recall_summary(labels: np.ndarray, pred: np.ndarray, counts: Sequence[int]) -> dict:
    """Mean recall, accuracy, many / medium / few recall (``shot_groups`` of the training counts)
    and per-class recall, computed as ``metrics_from_logits`` computes them; JSON-ready."""
    labels, pred = np.asarray(labels), np.asarray(pred)
    recall = recall_score(labels, pred, labels=list(range(len(counts))), average=None, zero_division=0)
    return {"mean_recall": float(balanced_accuracy_score(labels, pred)),
            "accuracy": float((pred == labels).mean()),
            **group_recall(recall, shot_groups(list(counts))),
            "per_class_recall": recall.tolist()}


def seed_stats(values: Sequence[float], scale: float = 1.0) -> dict:
    """``mean`` and sample ``sd`` (ddof 1; None for a single seed) of ``values`` times ``scale``,
    and the scaled values themselves (``per_seed``)."""
    x = np.asarray(values, dtype=np.float64) * scale
    if x.size == 0:
        raise ValueError("seed_stats needs at least one value")
    return {"mean": float(x.mean()), "sd": float(x.std(ddof=1)) if x.size > 1 else None,
            "per_seed": x.tolist()}
