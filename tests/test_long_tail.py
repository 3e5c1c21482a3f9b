"""Long-tailed counts, seeded subsampling and the many / medium / few split."""

import numpy as np
import pytest

from fbcd_lab.data.long_tail import group_recall, long_tail_counts, long_tail_indices, shot_groups


@pytest.mark.parametrize(("ratio", "cifar10", "cifar100"),
                         [(10, 20_431, 19_573), (50, 13_996, 12_608), (100, 12_406, 10_847)])
def test_exponential_totals_match_ldam_drw(ratio, cifar10, cifar100):
    assert sum(long_tail_counts(5000, 10, ratio)) == cifar10
    assert sum(long_tail_counts(500, 100, ratio)) == cifar100


def test_exponential_profile_values():
    assert long_tail_counts(5000, 10, 100) == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    counts = long_tail_counts(500, 100, 100)
    assert counts[0] == 500 and counts[-1] == 5 and counts == sorted(counts, reverse=True)


def test_step_profile_and_balanced():
    assert long_tail_counts(5000, 10, 10, "step") == [5000] * 5 + [500] * 5
    assert long_tail_counts(100, 5, 4, "step") == [100, 100, 25, 25, 25]
    assert long_tail_counts(300, 7, 1) == [300] * 7


@pytest.mark.parametrize(("kwargs", "names"), [
    ({"imbalance_ratio": 0.5}, "imbalance_ratio"),
    ({"n_max": 0}, "n_max"),
    ({"num_classes": 1}, "num_classes"),
    ({"profile": "linear"}, "profile"),
    ({"n_max": 50, "imbalance_ratio": 100}, "empty class"),
])
def test_bad_counts_arguments(kwargs, names):
    args = {"n_max": 5000, "num_classes": 10, "imbalance_ratio": 10, **kwargs}
    with pytest.raises(ValueError, match=names):
        long_tail_counts(**args)


def ldam_reference(labels, counts, seed):
    """LDAM-DRW's gen_imbalanced_data: global seed, then np.random.shuffle per class."""
    np.random.seed(seed)
    out = []
    for c, n in enumerate(counts):
        idx = np.where(labels == c)[0]
        np.random.shuffle(idx)
        out.append(idx[:n])
    return np.concatenate(out)


def test_ldam_convention_reproduces_ldam_subset():
    labels = np.tile(np.arange(10), 500)
    counts = long_tail_counts(500, 10, 100)
    idx, fp = long_tail_indices(labels, counts, seed=0)
    np.testing.assert_array_equal(idx, ldam_reference(labels, counts, 0))
    assert np.bincount(labels[idx]).tolist() == counts
    assert fp.counts == tuple(counts) and fp.seed == 0 and fp.convention == "ldam"
    again, fp2 = long_tail_indices(labels, counts, seed=0)
    other, fp3 = long_tail_indices(labels, counts, seed=1)
    assert fp2 == fp and fp3.indices_sha256 != fp.indices_sha256
    np.testing.assert_array_equal(again, idx)
    assert fp.to_dict()["counts"] == counts


def test_first_convention_keeps_dataset_order():
    labels = np.array([0, 1, 0, 1, 0, 1])
    idx, _ = long_tail_indices(labels, [2, 1], convention="first")
    assert idx.tolist() == [0, 2, 1]


def test_bad_subsample_arguments():
    labels = np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"counts\[0\]"):
        long_tail_indices(labels, [3, 1])
    with pytest.raises(ValueError, match="labels must lie in"):
        long_tail_indices(np.array([0, 1, 2]), [1, 1])
    with pytest.raises(ValueError, match="no sample"):
        long_tail_indices(np.array([0, 0, 2]), [1, 1, 1])
    with pytest.raises(ValueError, match="convention"):
        long_tail_indices(labels, [1, 1], convention="random")


def test_shot_groups_and_empty_group_is_none():
    groups = shot_groups([500, 101, 100, 20, 19, 5])
    assert groups == {"many": [0, 1], "medium": [2, 3], "few": [4, 5]}
    assert shot_groups([50, 10], many_above=40, few_below=15) == {"many": [0], "medium": [], "few": [1]}
    recall = group_recall(np.array([1.0, 0.5]), shot_groups([500, 200]))
    assert recall == {"many": 0.75, "medium": None, "few": None}
    with pytest.raises(ValueError, match="few_below"):
        shot_groups([5], many_above=10, few_below=20)
