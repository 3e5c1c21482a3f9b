"""Eq. 3 cluster counts, division strategies and soft labels."""

import numpy as np
import pytest

from fbcd_lab.class_division import (
    clusters_per_class, divide_classes, identity_division, pixel_features, soft_label_matrix,
)
from fbcd_lab.data.long_tail import long_tail_counts


def test_cifar10_lt_ratio_100_u10():
    assert clusters_per_class(long_tail_counts(5000, 10, 100), 10) == [10, 6, 4, 3, 2, 2, 1, 1, 1, 1]


@pytest.mark.parametrize(("ratio", "k"), [(10, 391), (50, 311), (100, 283)])
def test_cifar100_lt_total_clusters(ratio, k):
    assert sum(clusters_per_class(long_tail_counts(500, 100, ratio), 10)) == k


def test_rounds_half_up_and_ignores_class_order():
    # (2-1)/(3-1) * 1 = 0.5 and (6-1)/(11-1) * 5 = 2.5: Python's round would give 0 and 2.
    assert clusters_per_class([1, 2, 3], 2) == [1, 2, 2]
    assert clusters_per_class([11, 1, 6], 6) == [6, 1, 4]


def test_edge_cases():
    assert clusters_per_class([7, 7, 7], 10) == [1, 1, 1]
    assert clusters_per_class([500, 50, 5], 1) == [1, 1, 1]
    assert clusters_per_class([3, 1], 10) == [3, 1]  # never more clusters than samples
    assert clusters_per_class([1, 16, 23], np.int64(12)) == clusters_per_class([1, 16, 23], 12) == [1, 9, 12]
    for bad in (0, 2.5, 12.0, -1, float("inf"), float("nan"), True):
        with pytest.raises(ValueError, match=r"u must be an integer in \[1, 2147483647\]"):
            clusters_per_class([5, 1], bad)
    for counts in ([5, 0], [5.5, 1], [5.0, 1], [float("inf"), 1]):
        with pytest.raises(ValueError, match=r"counts\[0|counts\[1"):
            clusters_per_class(counts, 3)
    with pytest.raises(ValueError, match="counts must not be empty"):
        clusters_per_class([], 3)


def test_kmeans_on_duplicate_features_leaves_no_cluster_empty():
    labels = labels_for([40, 4])
    features = np.zeros((44, 3))  # every image identical: k-means finds one distinct cluster
    division = divide_classes(labels, 2, 10, "kmeans", features)
    assert division.clusters_per_class == [10, 1]
    sizes = division.cluster_sizes
    assert sizes.min() >= 1 and sizes[:10].sum() == 40 and sizes[:10].max() - sizes[:10].min() <= 4


def labels_for(counts):
    return np.repeat(np.arange(len(counts)), counts)


@pytest.mark.parametrize("strategy", ["random", "kmeans", "hierarchical"])
def test_division_structure(strategy):
    counts = [40, 20, 5]
    labels = np.random.RandomState(0).permutation(labels_for(counts))
    features = np.random.RandomState(1).rand(len(labels), 6) + labels[:, None] * 3
    div = divide_classes(labels, 3, 5, strategy, features, seed=0)
    assert div.clusters_per_class == [5, 3, 1] and div.num_clusters == 9
    assert div.class_of_cluster.tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 2]
    np.testing.assert_array_equal(div.class_of_cluster[div.cluster_of_sample], labels)
    assert (div.cluster_sizes > 0).all() and div.imbalance_before() == 8.0
    assert div.record()["K"] == 9 and div.strategy == strategy
    again = divide_classes(labels, 3, 5, strategy, features, seed=0)
    np.testing.assert_array_equal(again.cluster_of_sample, div.cluster_of_sample)


def test_random_division_is_equal_size_and_balances():
    div = divide_classes(labels_for([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]), 10, 10)
    assert div.num_clusters == 31
    assert div.cluster_sizes[:10].tolist() == [500] * 10
    assert div.imbalance_before() == 100.0 and div.imbalance_after() == pytest.approx(500 / 50)


def test_kmeans_finds_obvious_clusters():
    labels = np.zeros(60, dtype=int)
    labels[50:] = 1
    features = np.zeros((60, 2))
    features[25:50, 0] = 100.0
    div = divide_classes(labels, 2, 2, "kmeans", features)
    assert len(set(div.cluster_of_sample[:25])) == 1 and len(set(div.cluster_of_sample[25:50])) == 1
    assert div.cluster_of_sample[0] != div.cluster_of_sample[30]


def test_division_errors():
    labels = labels_for([4, 2])
    with pytest.raises(ValueError, match="strategy"):
        divide_classes(labels, 2, 2, "spectral")
    with pytest.raises(ValueError, match="features"):
        divide_classes(labels, 2, 2, "kmeans")
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        divide_classes(np.array([0, 1, 2]), 2, 2)
    with pytest.raises(ValueError, match="no sample"):
        divide_classes(np.array([0, 0, 2]), 3, 2)


def test_soft_labels():
    div = divide_classes(labels_for([30, 20, 3]), 3, 4)
    assert div.clusters_per_class == [4, 3, 1]
    q = soft_label_matrix(div, 0.7)
    np.testing.assert_allclose(q.sum(1), 1.0)
    assert q[0].tolist() == pytest.approx([0.7, 0.1, 0.1, 0.1, 0, 0, 0, 0])
    assert q[5].tolist() == pytest.approx([0, 0, 0, 0, 0.15, 0.7, 0.15, 0])
    assert q[7].tolist() == [0, 0, 0, 0, 0, 0, 0, 1.0]  # u_c = 1: hard label
    np.testing.assert_array_equal(soft_label_matrix(div, 1.0), np.eye(8))
    for bad in (0.0, 1.5, -0.2):
        with pytest.raises(ValueError, match=r"alpha must be a finite number in \(0, 1\]"):
            soft_label_matrix(div, bad)


def test_identity_and_pixel_features():
    div = identity_division(np.array([0, 1, 1]), 2)
    assert div.num_clusters == 2 and div.cluster_of_sample.tolist() == [0, 1, 1]
    images = np.random.RandomState(0).randint(0, 256, (20, 3, 4, 4)).astype(np.uint8)
    assert pixel_features(images).shape == (20, 48) and pixel_features(images).max() <= 1.0
    assert pixel_features(images, 5).shape == (20, 5)
    with pytest.raises(ValueError, match="pca_components"):
        pixel_features(images, 100)
