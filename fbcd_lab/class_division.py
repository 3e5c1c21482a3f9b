"""Class division (Section 2.2): split each class into u_c clusters that become the main head's classes.

Eq. 3 gives u_c from the class sizes; clusters come from a random equal-size split, k-means or
hierarchical clustering (scikit-learn) on any per-sample features; soft labels put alpha on a
sample's own cluster and share 1 - alpha among its siblings.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning

from fbcd_lab.checks import check, check_choice, check_counts
from fbcd_lab.data.long_tail import check_labels

STRATEGIES = ("random", "kmeans", "hierarchical")


def clusters_per_class(counts: list[int] | np.ndarray, u: int) -> list[int]:
    """Eq. 3: u_c = 1 + round((n_c - n_1) / (n_C - n_1) * (u - 1)).

    n_1 and n_C are the smallest and largest counts, whatever the class order. Rounding is
    half-up, computed exactly with fractions (Python's ``round`` rounds halves to even, which
    changes K). All classes equal gives all ones; u_c is capped at n_c so no cluster is empty (a cap
    that binds only for u above the largest count, which :func:`divide_classes` refuses: :func:`check_u`).
    """
    u = check("u", u)
    counts = check_counts("counts", counts)
    n_1, n_C = min(counts), max(counts)
    if n_1 == n_C:
        return [1] * len(counts)
    return [min(n, 1 + math.floor(Fraction(n - n_1, n_C - n_1) * (u - 1) + Fraction(1, 2)))
            for n in counts]


def check_u(u: int, counts: list[int] | np.ndarray) -> int:
    """``u`` if it is at most the largest of ``counts``, else a ValueError naming u, its value and that
    count: above it Eq. 3 would give the largest class more clusters than images, capped without a
    word. At most it, no class is capped (u_c lies on the line from (n_1, 1) to (n_C, u), below n_c)."""
    u, largest = check("u", u), max(check_counts("counts", counts))
    if u > largest:
        raise ValueError(f"u must be at most {largest}, the largest class's training images (a class cannot "
                         f"have more clusters than images), got {u}")
    return u


@dataclass(frozen=True, eq=False)
class ClassDivision:
    """For every training sample its cluster; for every cluster its class. Clusters of class c
    are numbered contiguously, classes in order, so class 0 owns clusters 0 .. u_0 - 1."""

    cluster_of_sample: np.ndarray
    class_of_cluster: np.ndarray
    strategy: str

    @property
    def num_clusters(self) -> int:
        """K, the number of classes the main head is trained on."""
        return len(self.class_of_cluster)

    @property
    def num_classes(self) -> int:
        return int(self.class_of_cluster.max()) + 1

    @property
    def clusters_per_class(self) -> list[int]:
        return np.bincount(self.class_of_cluster, minlength=self.num_classes).tolist()

    @property
    def cluster_sizes(self) -> np.ndarray:
        return np.bincount(self.cluster_of_sample, minlength=self.num_clusters)

    def imbalance_before(self) -> float:
        """Largest over smallest class size."""
        sizes = np.bincount(self.class_of_cluster[self.cluster_of_sample], minlength=self.num_classes)
        return float(sizes.max() / sizes.min())

    def imbalance_after(self) -> float:
        """Largest over smallest cluster size: the imbalance the main head trains on."""
        return float(self.cluster_sizes.max() / self.cluster_sizes.min())

    def record(self) -> dict:
        """JSON-ready summary (the full assignment is kept in checkpoints, not records)."""
        return {"strategy": self.strategy, "K": self.num_clusters,
                "clusters_per_class": self.clusters_per_class,
                "cluster_sizes": self.cluster_sizes.tolist(),
                "imbalance_before": self.imbalance_before(), "imbalance_after": self.imbalance_after()}


def identity_division(labels: np.ndarray, num_classes: int) -> ClassDivision:
    """No division: every class is one cluster (u = 1, the plain C-way head)."""
    check_labels(labels, num_classes)
    return ClassDivision(np.asarray(labels, dtype=np.int64).copy(), np.arange(num_classes), "none")


def divide_classes(
    labels: np.ndarray,
    num_classes: int,
    u: int,
    strategy: str = "random",
    features: np.ndarray | None = None,
    seed: int = 0,
) -> ClassDivision:
    """Divide each class into u_c clusters (Eq. 3) by ``strategy`` on per-sample ``features``.

    ``random`` splits a class into u_c near-equal random parts and needs no features; ``kmeans``
    and ``hierarchical`` (Ward) cluster the rows of ``features`` (N, F), e.g. raw pixels, their
    PCA (:func:`pixel_features`) or a model's pooled features. ``u`` above the largest class's
    count is refused (:func:`check_u`).
    """
    labels = np.asarray(labels, dtype=np.int64)
    check_choice("strategy", strategy, STRATEGIES)
    check_labels(labels, num_classes)
    if strategy != "random":
        if features is None or len(features) != len(labels):
            raise ValueError(f"features must be an (N={len(labels)}, F) array for strategy {strategy!r}")
        features = np.asarray(features, dtype=np.float64).reshape(len(labels), -1)
    counts = np.bincount(labels, minlength=num_classes)
    u_c = clusters_per_class(counts, check_u(u, counts))
    rng = np.random.RandomState(seed)
    cluster_of_sample = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for c in range(num_classes):
        idx = np.flatnonzero(labels == c)
        cluster_of_sample[idx] = offset + _split(idx, u_c[c], strategy, features, rng)
        offset += u_c[c]
    class_of_cluster = np.repeat(np.arange(num_classes), u_c)
    return ClassDivision(cluster_of_sample, class_of_cluster, strategy)


def _split(idx: np.ndarray, k: int, strategy: str, features: np.ndarray | None,
           rng: np.random.RandomState) -> np.ndarray:
    """Cluster ids 0..k-1 for the samples ``idx`` of one class."""
    if k == 1:
        return np.zeros(len(idx), dtype=np.int64)
    if strategy == "random":
        part = np.empty(len(idx), dtype=np.int64)
        for j, chunk in enumerate(np.array_split(rng.permutation(len(idx)), k)):
            part[chunk] = j
        return part
    x = features[idx]
    if strategy == "kmeans":
        model = KMeans(n_clusters=k, n_init=3, random_state=rng.randint(2**31 - 1))
    else:
        model = AgglomerativeClustering(n_clusters=k, linkage="ward")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Number of distinct clusters", ConvergenceWarning)
        return fill_empty_clusters(model.fit_predict(x).astype(np.int64), k)


def fill_empty_clusters(part: np.ndarray, k: int) -> np.ndarray:
    """Cluster ids 0..k-1 with none empty: each empty id takes the second half of the largest cluster.

    k-means leaves clusters empty when a class has fewer distinct feature vectors than clusters
    (duplicate images); an empty cluster must never reach training, where its soft label and
    logit would stand for no image.
    """
    part = part.copy()
    if len(part) < k:
        raise ValueError(f"cannot split {len(part)} samples into {k} non-empty clusters")
    for empty in sorted(set(range(k)) - set(part.tolist())):
        largest = np.flatnonzero(part == np.bincount(part, minlength=k).argmax())
        part[largest[len(largest) // 2:]] = empty
    return part


def pixel_features(images: np.ndarray, pca_components: int | None = None, seed: int = 0) -> np.ndarray:
    """Flattened pixels in [0, 1] as clustering features, optionally reduced by PCA."""
    x = np.asarray(images, dtype=np.float32).reshape(len(images), -1) / 255.0
    if pca_components is None:
        return x
    if not 1 <= pca_components <= min(x.shape):
        raise ValueError(f"pca_components must be in [1, {min(x.shape)}], got {pca_components}")
    return PCA(n_components=pca_components, random_state=seed).fit_transform(x)


def soft_label_matrix(division: ClassDivision, alpha: float) -> np.ndarray:
    """(K, K) matrix whose row k is the soft label of a sample in cluster k.

    alpha on the own cluster, (1 - alpha) / (u_c - 1) on each sibling of the same class; a hard
    one-hot row where u_c = 1 (the formula divides by zero there). Rows sum to 1.
    """
    alpha = check("alpha", alpha)
    cls = division.class_of_cluster
    u_c = np.bincount(cls)[cls]
    same = cls[:, None] == cls[None, :]
    sibling = np.where(u_c > 1, (1 - alpha) / np.maximum(u_c - 1, 1), 0.0)
    q = np.where(same, sibling[:, None], 0.0)
    np.fill_diagonal(q, np.where(u_c > 1, alpha, 1.0))
    return q
