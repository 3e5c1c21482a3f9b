"""Mean recall with its many / medium / few split; mean and sample sd over seeds, and how two
methods compare seed by seed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import recall_score

from fbcd_lab.data.long_tail import group_recall, shot_groups
from fbcd_lab.evaluation import balanced_recall


def recall_summary(labels: np.ndarray, pred: np.ndarray, counts: Sequence[int]) -> dict:
    """Mean recall, accuracy, many / medium / few recall (``shot_groups`` of the training counts)
    and per-class recall, computed as ``metrics_from_logits`` computes them; JSON-ready."""
    labels, pred = np.asarray(labels), np.asarray(pred)
    recall = recall_score(labels, pred, labels=list(range(len(counts))), average=None, zero_division=0)
    return {"mean_recall": balanced_recall(labels, pred),
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


def mean_sd(values: Sequence[float], scale: float = 1.0) -> tuple[float, float]:
    """Mean and sample sd of ``values`` times ``scale`` (sd 0 for a single seed, so error bars stay
    drawable)."""
    stats = seed_stats(values, scale)
    return stats["mean"], stats["sd"] or 0.0


def points(values: Sequence[float]) -> str:
    """Fractions over seeds as 'mean ± sd' in points (hundredths)."""
    return "{:.1f} ± {:.1f}".format(*mean_sd(values, 100))


def signed_points(stats: dict, signed: bool = True) -> str:
    """A :func:`seed_stats` dict already in points as '+mean ± sd' ('+mean' for a single seed); a level
    (``signed`` False) without its '+'."""
    return f"{stats['mean']:{'+' if signed else ''}.1f}" + ("" if stats["sd"] is None else f" ± {stats['sd']:.1f}")


def paired_verdict(a: Sequence[float], b: Sequence[float]) -> tuple[str, str]:
    """How per-seed fractions ``a`` stand against ``b`` (paired by position), in one vocabulary:
    'called above' / 'called below' where :func:`fbcd_lab.studies.orderings.pair_gap` calls the order
    (three seeds or more, one sign, mean above twice the sd), the only verdicts that are findings;
    'leans above' / 'leans below' where the mean gap exceeds its own sd over seeds but is not called
    (a single seed has sd 0), never a finding; 'level with' otherwise. Second, the gap in points
    with pair_gap's verdict: '+5.3 ± 3.8 points, n = 2, not called'."""
    from fbcd_lab.studies.orderings import CALLED, pair_gap

    if len(a) != len(b):
        raise ValueError(f"paired_verdict needs one value per seed on both sides, got {len(a)} and {len(b)}")
    mean, sd = mean_sd(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64), 100)
    called = pair_gap({str(i): 100 * float(x) for i, x in enumerate(a)},
                      {str(i): 100 * float(y) for i, y in enumerate(b)}).verdict
    side = "above" if mean > 0 else "below"
    word = f"called {side}" if called == CALLED else f"leans {side}" if abs(mean) > sd else "level with"
    return word, f"{mean:+.1f} ± {sd:.1f} points, {called}"
