"""Long-tailed class counts, seeded subsampling to them, and the many / medium / few split.

The conventions follow LDAM-DRW (Cao et al., 2019), which nearly every long-tail repository
copies: class 0 is the largest, counts fall exponentially (or in one step) to n_max / ratio, and
each class keeps the first n_i of its indices after a seeded shuffle. Every subset carries a
fingerprint, since unrecorded subset differences move published CE results by several points.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np

from fbcd_lab.checks import check, check_choice, check_counts

PROFILES = ("exp", "step")
CONVENTIONS = ("ldam", "first")


def long_tail_counts(
    n_max: int, num_classes: int, imbalance_ratio: float, profile: str = "exp"
) -> list[int]:
    """Per-class training counts, class 0 largest.

    ``exp``: n_i = floor(n_max * ratio^(-i/(C-1))) (LDAM-DRW's formula, bit for bit);
    ``step``: the first C//2 classes keep n_max, the rest floor(n_max / ratio). Ratio 1 is balanced.
    """
    n_max, num_classes = check("n_max", n_max), check("num_classes", num_classes)
    imbalance_ratio = check("imbalance_ratio", imbalance_ratio)
    check_choice("profile", profile, PROFILES)
    imb_factor = 1.0 / imbalance_ratio
    if profile == "exp":
        counts = [int(n_max * imb_factor ** (i / (num_classes - 1.0))) for i in range(num_classes)]
    else:
        half = num_classes // 2
        counts = [n_max] * half + [int(n_max * imb_factor)] * (num_classes - half)
    if min(counts) < 1:
        raise ValueError(
            f"imbalance_ratio {imbalance_ratio} with n_max {n_max} leaves an empty class "
            f"(counts {counts}); n_max / imbalance_ratio must be >= 1"
        )
    return counts


@dataclass(frozen=True)
class SubsetFingerprint:
    """What identifies a long-tailed subset: counts, seed, convention and a hash of its indices."""

    counts: tuple[int, ...]
    seed: int
    convention: str
    indices_sha256: str

    def to_dict(self) -> dict:
        """Plain JSON-ready dict."""
        return {**asdict(self), "counts": list(self.counts)}


def long_tail_indices(
    labels: np.ndarray, counts: list[int], seed: int = 0, convention: str = "ldam"
) -> tuple[np.ndarray, SubsetFingerprint]:
    """Indices of a long-tailed subset of a labelled set, with its fingerprint.

    ``ldam``: per class in class order, shuffle that class's indices with one
    ``np.random.RandomState(seed)`` and keep the first n_i (exactly LDAM-DRW's subset for the
    same seed). ``first``: keep each class's first n_i indices in dataset order.
    """
    labels = np.asarray(labels)
    check_choice("convention", convention, CONVENTIONS)
    counts, seed = check_counts("counts", counts), check("seed", seed)
    num_classes = len(counts)
    check_labels(labels, num_classes)
    rng = np.random.RandomState(seed)
    chosen = []
    for c, n_c in enumerate(counts):
        idx = np.flatnonzero(labels == c)
        if n_c > len(idx):
            raise ValueError(f"counts[{c}] must be in [1, {len(idx)}] (class size), got {n_c}")
        if convention == "ldam":
            rng.shuffle(idx)
        chosen.append(idx[:n_c])
    indices = np.concatenate(chosen).astype(np.int64)
    digest = hashlib.sha256(indices.tobytes()).hexdigest()
    return indices, SubsetFingerprint(tuple(int(n) for n in counts), int(seed), convention, digest)


def check_labels(labels: np.ndarray, num_classes: int) -> None:
    """Raise unless every label lies in [0, num_classes) and every class has a sample."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes}), got values from {labels.min()} to {labels.max()}"
        )
    present = np.bincount(labels, minlength=num_classes) if labels.size else np.zeros(num_classes)
    if (present == 0).any():
        raise ValueError(f"labels: class(es) {np.flatnonzero(present == 0).tolist()} have no sample")


MANY_ABOVE, FEW_BELOW = 100, 20  # the usual many / medium / few thresholds of the long-tail papers


def shot_groups(
    counts: list[int], many_above: int = MANY_ABOVE, few_below: int = FEW_BELOW
) -> dict[str, list[int]]:
    """Classes in the many (> many_above), medium and few (< few_below) shot groups."""
    if few_below > many_above + 1:
        raise ValueError(f"few_below ({few_below}) must be <= many_above + 1 ({many_above + 1})")
    groups: dict[str, list[int]] = {"many": [], "medium": [], "few": []}
    for c, n in enumerate(counts):
        key = "many" if n > many_above else "few" if n < few_below else "medium"
        groups[key].append(c)
    return groups


def group_recall(per_class_recall: np.ndarray, groups: dict[str, list[int]]) -> dict[str, float | None]:
    """Mean recall of each shot group; None for an empty group (not 0 %)."""
    recall = np.asarray(per_class_recall, dtype=float)
    return {k: (float(recall[v].mean()) if v else None) for k, v in groups.items()}
