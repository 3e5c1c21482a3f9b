"""What the class-division head does: where its probability mass goes, how the division splits
each class, and the class prior that the top-cluster rule implies.

``cluster_confusion``. Test images carry no cluster, so right / wrong is at the class level: the
top cluster belongs to the true class or not. Per image the softmax mass over the K clusters
splits into the true class's best cluster, its other clusters (siblings) and the clusters of
other classes; ``mass`` holds the means of the three (they sum to 1). ``runner_up``: the share of
images whose second cluster belongs to the true class (for right images: a sibling; for wrong
ones: the true class came second) or to another class. ``correct_under_sum_clusters``: the share
the sum_clusters rule gets right (for wrong images: errors caused by mass spread over siblings).
``divided_classes`` repeats both blocks over images of classes with u_c > 1, the only ones with
siblings.

``effective_prior`` and ``prior_shift``: the derivation is in ``effective_prior``'s docstring.
"""

from __future__ import annotations

import numpy as np
import torch

from fbcd_lab.analysis.forward_passes import run_logits
from fbcd_lab.class_division import ClassDivision
from fbcd_lab.data.datasets import LongTailData
from fbcd_lab.run import Run


def _share(mask: np.ndarray, values: np.ndarray) -> float | None:
    return float(values[mask].mean()) if mask.any() else None


def _confusion_block(mask: np.ndarray, best_true: np.ndarray, siblings: np.ndarray, other: np.ndarray,
                     runner_up_true: np.ndarray, sum_right: np.ndarray, total: int) -> dict:
    return {"images": int(mask.sum()), "share_of_images": float(mask.sum() / total) if total else None,
            "mass": {"best_true_cluster": _share(mask, best_true), "true_siblings": _share(mask, siblings),
                     "other_classes": _share(mask, other)},
            "runner_up": {"true_class": _share(mask, runner_up_true),
                          "other_class": _share(mask, 1.0 - runner_up_true)},
            "correct_under_sum_clusters": _share(mask, sum_right)}


def cluster_confusion_from_logits(logits: torch.Tensor, labels: np.ndarray, class_of_cluster: torch.Tensor) -> dict:
    """``cluster_confusion`` on (N, K) main-head logits, labels (N,) and the (K,) cluster-to-class map."""
    probs = logits.float().softmax(dim=1).double().cpu().numpy()
    cls = np.asarray(class_of_cluster.cpu())
    labels = np.asarray(labels)
    n, k = probs.shape
    own = cls[None, :] == labels[:, None]
    true_mass = (probs * own).sum(axis=1)
    best_true = np.where(own, probs, -1.0).max(axis=1)
    order = np.argsort(-probs, axis=1, kind="stable")
    right = own[np.arange(n), order[:, 0]]
    runner_up_true = own[np.arange(n), order[:, 1]].astype(float) if k > 1 else np.zeros(n)
    class_mass = probs @ (cls[:, None] == np.arange(int(cls.max()) + 1)[None, :])  # (N, C) summed per class
    sum_right = (class_mass.argmax(axis=1) == labels).astype(float)
    pieces = (best_true, true_mass - best_true, 1.0 - true_mass, runner_up_true, sum_right, n)
    divided = np.bincount(cls)[labels] > 1
    return {"num_clusters": int(k), "clusters_per_class": np.bincount(cls).tolist(),
            "right": _confusion_block(right, *pieces), "wrong": _confusion_block(~right, *pieces),
            "divided_classes": {"right": _confusion_block(right & divided, *pieces),
                                "wrong": _confusion_block(~right & divided, *pieces)}}


def cluster_confusion(run: Run, data: LongTailData, selection: str = "final") -> dict:
    """Where the main head's test probability mass and runner-up cluster go, for images whose top
    cluster is of the right or a wrong class, and for divided classes alone (see the module docstring)."""
    logits = run_logits(run, data, selection)
    return cluster_confusion_from_logits(logits.logits, logits.labels, logits.class_of_cluster)


def division_summary(division: ClassDivision) -> dict:
    """Cluster sizes, balance (largest / smallest cluster) and, per class, how evenly its images spread:
    ``evenness`` = entropy of its cluster shares / log u_c (1: even; None for u_c = 1), ``effective_clusters``
    = exp(entropy). No purity: every cluster holds one class by construction, whatever the strategy."""
    sizes = division.cluster_sizes
    cls = division.class_of_cluster
    per_class = []
    for c in range(division.num_classes):
        s = sizes[cls == c].astype(np.float64)
        share = s / s.sum()
        entropy = float(-(share * np.log(share)).sum())
        per_class.append({"class": c, "u": int(len(s)), "sizes": s.astype(int).tolist(),
                          "balance": float(s.max() / s.min()),
                          "evenness": float(entropy / np.log(len(s))) if len(s) > 1 else None,
                          "effective_clusters": float(np.exp(entropy))})
    evenness = [p["evenness"] for p in per_class if p["evenness"] is not None]
    return {**division.record(), "balance": division.imbalance_after(),
            "worst_class_balance": max(p["balance"] for p in per_class),
            "mean_evenness": float(np.mean(evenness)) if evenness else None,
            "per_class": per_class}


def _log_priors(run: Run, data: LongTailData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CE log prior log(n_c / N), effective top-cluster log prior log(max_{k in c} n_k / N), and u_c."""
    division = run.division
    sizes = division.cluster_sizes.astype(np.float64)
    cls = division.class_of_cluster
    counts = np.bincount(cls, weights=sizes, minlength=division.num_classes)
    if len(counts) != data.num_classes or not np.array_equal(counts, np.asarray(data.counts, dtype=np.float64)):
        raise ValueError(f"the run's division covers class sizes {counts.astype(int).tolist()}, data has "
                         f"{list(data.counts)}: not the data this run was trained on")
    largest = np.array([sizes[cls == c].max() for c in range(division.num_classes)])
    total = sizes.sum()
    return np.log(counts / total), np.log(largest / total), np.bincount(cls, minlength=division.num_classes)


def effective_prior(run: Run, data: LongTailData) -> np.ndarray:
    """(C,) effective log prior of the top-cluster rule, log(max_{k in c} n_k / N); CE's is log(n_c / N).

    A K-way head trained on the cluster prior pi_k = n_k / N learns
    z_k = log p(x|k) + log pi_k + b(x); a C-way head z_c = log p(x|c) + log pi_c + b(x). The
    top-cluster score of class c is max_{k in c} z_k. When the clusters carry no information on x (a
    random division: p(x|k) = p(x|c)) it is log p(x|c) + log max_{k in c} pi_k + b(x): a C-way head
    whose log prior is log(max_{k in c} n_k / N), lowered by log(n_c / max_k n_k), which is log u_c
    for equal clusters. When x lies in one cluster only (separable clusters) the max gives back
    log p(x|c) + log pi_c: no shift. The analytic value is thus the shift of uninformative clusters
    (random division, the default); ``prior_shift`` also measures the actual one on test logits as max_{k in c} z_k -
    logsumexp_{k in c} z_k (logsumexp being the C-way score that sum_clusters ranks), which lies in
    [-log u_c, 0], and turns either shift into the post-hoc logit-adjustment tau it amounts to.
    """
    return _log_priors(run, data)[1]


def equivalent_tau(shift: np.ndarray, ce_log_prior: np.ndarray) -> float | None:
    """-slope of the least-squares line shift_c = a + b log pi_c: the tau of post-hoc logit
    adjustment that shifts class scores the same way (None when the prior is flat)."""
    shift, ce_log_prior = np.asarray(shift, dtype=np.float64), np.asarray(ce_log_prior, dtype=np.float64)
    x = ce_log_prior - ce_log_prior.mean()
    if np.allclose(x, 0):
        return None
    return float(-(x * (shift - shift.mean())).sum() / (x * x).sum())


def prior_shift_from_logits(logits: torch.Tensor, class_of_cluster: torch.Tensor) -> np.ndarray:
    """(C,) mean over images of max_{k in c} z_k - logsumexp_{k in c} z_k: how far the top-cluster
    score of class c sits below the C-way score (logsumexp, which sum_clusters ranks); in [-log u_c, 0]."""
    z = logits.double().cpu()
    cls = class_of_cluster.cpu()
    out = []
    for c in range(int(cls.max()) + 1):
        zc = z[:, cls == c]
        out.append(float((zc.max(dim=1).values - zc.logsumexp(dim=1)).mean()))
    return np.array(out)


def prior_shift(run: Run, data: LongTailData, selection: str = "final") -> dict:
    """The top-cluster rule's shift of each class's log prior next to CE's log prior: analytic (bounded by
    -log u_c) and measured on test logits, each with its ``equivalent_tau`` and the log-prior range left."""
    ce, eff, u = _log_priors(run, data)
    logits = run_logits(run, data, selection)
    measured = prior_shift_from_logits(logits.logits, logits.class_of_cluster)
    analytic = eff - ce
    return {"clusters_per_class": u.tolist(), "ce_log_prior": ce.tolist(), "effective_log_prior": eff.tolist(),
            "minus_log_u": (-np.log(u)).tolist(), "analytic_shift": analytic.tolist(),
            "measured_shift": measured.tolist(),
            "equivalent_tau": {"analytic": equivalent_tau(analytic, ce), "measured": equivalent_tau(measured, ce)},
            "log_prior_range": {"ce": float(np.ptp(ce)), "analytic": float(np.ptp(ce + analytic)),
                                "measured": float(np.ptp(ce + measured))}}
