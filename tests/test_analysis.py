"""fbcd_lab.analysis: known answers on hand-made logits, features and models, and one short run on the digits."""

import json
import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.model_selection import StratifiedKFold
from torch import nn

import fbcd_lab.analysis.forward_passes as forward_passes
from fbcd_lab.analysis import (
    DEFAULT_TAUS, FeatureSet, RunLogits, channel_groups, cluster_confusion, cluster_confusion_from_logits,
    decompose_gain, diagonal_dominance, division_summary, effective_prior, equivalent_tau, fbh_kernel_norms,
    group_energy, held_out_tau, linear_probe, paired_verdict, prior_shift, prior_shift_from_logits, probe_from_features, reliability,
    reliability_from_logits, rule_sweep, rule_sweep_from_logits, waterfall,
)
from fbcd_lab.class_division import ClassDivision
from fbcd_lab.config import MethodConfig, preset
from fbcd_lab.data import build_long_tailed
from fbcd_lab.data.augment import AugmentSpec
from fbcd_lab.data.images import TensorImages
from fbcd_lab.evaluation import metrics_from_logits
from fbcd_lab.models.predict import log_prior
from fbcd_lab.models.two_head import TwoHeadModel
from fbcd_lab.training import train

COUNTS = (1000, 100, 10)  # many, medium, few; each class 10 x the next


def prior_plus_signal(cluster_sizes, class_of_cluster, labels, signal=3.0) -> RunLogits:
    """Logits exactly log(cluster prior) + ``signal`` on every cluster of the image's true class."""
    cls = torch.as_tensor(class_of_cluster)
    prior = log_prior(np.asarray(cluster_sizes))
    logits = prior[None, :] + signal * (cls[None, :] == torch.as_tensor(labels)[:, None]).float()
    counts = tuple(np.bincount(cls.numpy(), weights=np.asarray(cluster_sizes)).astype(int).tolist())
    return RunLogits(logits, np.asarray(labels), cls, prior, counts)


# ---------------------------------------------------------------- prediction rules


def test_rule_sweep_on_prior_plus_balanced_signal():
    labels = np.repeat(np.arange(3), 4)
    logits = prior_plus_signal(COUNTS, [0, 1, 2], labels)
    sweep = rule_sweep_from_logits(logits, taus=[0.0, 0.5, 1.0, 2.0])
    # top-1: the signal (3) beats one factor of 10 (log 10 = 2.3) but not two: the few class is lost
    assert sweep["top_cluster"]["per_class_recall"] == [1.0, 1.0, 0.0]
    assert sweep["top_cluster"]["mean_recall"] == pytest.approx(2 / 3)
    assert (sweep["top_cluster"]["many"], sweep["top_cluster"]["medium"], sweep["top_cluster"]["few"]) == (1, 1, 0)
    assert sweep["sum_clusters"]["mean_recall"] == pytest.approx(2 / 3)  # K = C: same as top-1
    by_tau = {m["tau"]: m for m in sweep["logit_adjusted"]}
    assert by_tau[0.0]["per_class_recall"] == [1.0, 1.0, 0.0]  # tau 0 is top-1
    assert by_tau[0.5]["per_class_recall"] == [1.0, 1.0, 1.0]  # 3 > 0.5 * log 100
    assert by_tau[1.0]["mean_recall"] == 1.0  # the prior removed exactly: only the signal is left
    assert by_tau[2.0]["per_class_recall"] == [0.0, 1.0, 1.0]  # over-corrected: the many class is lost
    assert sweep["best_logit_adjusted"] == {"tau": 0.5, "mean_recall": 1.0}
    for m in sweep["logit_adjusted"]:  # the same numbers as the repository's own metrics
        ref = metrics_from_logits(logits.logits, labels, logits.class_of_cluster, COUNTS, "logit_adjusted",
                                  logits.cluster_log_prior, m["tau"])
        assert m["mean_recall"] == ref["mean_recall"] and m["per_class_recall"] == ref["per_class_recall"]
    json.dumps(sweep, allow_nan=False)


def test_rule_sweep_with_divided_class():
    # class 0 split in two clusters of 500: top-1 sees a prior of 500, sum_clusters of 1000
    labels = np.repeat(np.arange(3), 2)
    logits = prior_plus_signal([500, 500, 100, 10], [0, 0, 1, 2], labels)
    sweep = rule_sweep_from_logits(logits, taus=[1.0])
    assert sweep["num_clusters"] == 4 and sweep["taus"] == [1.0]
    assert sweep["top_cluster"]["per_class_recall"] == [1.0, 1.0, 0.0]  # 3 < log(500 / 10)
    assert sweep["sum_clusters"]["per_class_recall"] == [1.0, 1.0, 0.0]
    assert sweep["logit_adjusted"][0]["mean_recall"] == 1.0
    assert len(DEFAULT_TAUS) == 9 and DEFAULT_TAUS[0] == 0.0 and DEFAULT_TAUS[-1] == 2.0


def test_held_out_tau_chooses_on_one_half_and_scores_the_other():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    noisy = prior_plus_signal(COUNTS, [0, 1, 2], labels, signal=2.0)
    noisy = RunLogits(noisy.logits + torch.as_tensor(rng.normal(0, 1.5, noisy.logits.shape), dtype=torch.float32),
                      noisy.labels, noisy.class_of_cluster, noisy.cluster_log_prior, noisy.counts)
    taus = [0.0, 0.5, 1.0, 1.5, 2.0]
    got = held_out_tau(noisy, taus, folds=2, seed=3)
    halves = list(StratifiedKFold(2, shuffle=True, random_state=3).split(labels, labels))
    for (choose_on, score_on), tau, score in zip(halves, got["taus_chosen"], got["part_mean_recall"]):
        def part(idx):
            return RunLogits(noisy.logits[idx], labels[idx], noisy.class_of_cluster, noisy.cluster_log_prior,
                             noisy.counts)
        assert tau == rule_sweep_from_logits(part(choose_on), taus)["best_logit_adjusted"]["tau"]
        assert score == rule_sweep_from_logits(part(score_on), [tau])["logit_adjusted"][0]["mean_recall"]
    assert got["mean_recall"] == pytest.approx(np.mean(got["part_mean_recall"]))
    best_on_all = rule_sweep_from_logits(noisy, taus)["best_logit_adjusted"]["mean_recall"]
    assert got["mean_recall"] <= best_on_all + 1e-12  # choosing on held-out images never beats the upper bound here
    json.dumps(got, allow_nan=False)


def test_held_out_tau_refuses_bad_arguments():
    logits = prior_plus_signal(COUNTS, [0, 1, 2], np.repeat(np.arange(3), 4))
    with pytest.raises(ValueError, match="folds"):
        held_out_tau(logits, folds=1)
    with pytest.raises(ValueError, match="taus"):
        held_out_tau(logits, taus=[])


# ---------------------------------------------------------------- effective prior of the top-cluster rule


def test_effective_prior_is_log_prior_minus_log_u_for_equal_clusters():
    cluster_of_sample = np.repeat(np.arange(7), [250, 250, 250, 250, 50, 50, 10])
    division = ClassDivision(cluster_of_sample, np.array([0, 0, 0, 0, 1, 1, 2]), "random")
    run, data = SimpleNamespace(division=division), SimpleNamespace(counts=COUNTS, num_classes=3)
    eff = effective_prior(run, data)
    assert eff == pytest.approx(np.log(np.array([250, 50, 10]) / 1110))
    assert np.log(np.array(COUNTS) / 1110) - eff == pytest.approx(np.log([4, 2, 1]))
    with pytest.raises(ValueError, match="not the data"):
        effective_prior(run, SimpleNamespace(counts=(999, 100, 10), num_classes=3))


def test_measured_prior_shift_and_equivalent_tau():
    # siblings with equal logits: max - logsumexp = -log u_c exactly
    logits = prior_plus_signal([250, 250, 250, 250, 50, 50, 10], [0, 0, 0, 0, 1, 1, 2], np.arange(3))
    shift = prior_shift_from_logits(logits.logits, logits.class_of_cluster)
    assert shift == pytest.approx(-np.log([4, 2, 1]), abs=1e-9)
    ce = np.log(np.array(COUNTS) / 1110)
    assert equivalent_tau(-0.3 * ce + 1.0, ce) == pytest.approx(0.3)  # a shift of -0.3 log prior is tau 0.3
    assert equivalent_tau(np.zeros(3), ce) == 0.0
    assert equivalent_tau(np.ones(3), np.zeros(3)) is None  # a flat prior has no tau


# ---------------------------------------------------------------- cluster confusion and division summary


def test_cluster_confusion_on_hand_made_probabilities():
    probs = torch.tensor([[0.5, 0.3, 0.2],   # class 0: right, runner-up its sibling
                          [0.3, 0.3, 0.4],   # class 0: wrong, class-0 mass 0.6 wins under sum_clusters
                          [0.6, 0.1, 0.3],   # class 1: wrong, true class second, wrong under sum too
                          [0.1, 0.2, 0.7]])  # class 1: right, runner-up another class
    out = cluster_confusion_from_logits(probs.log(), np.array([0, 0, 1, 1]), torch.tensor([0, 0, 1]))
    right, wrong = out["right"], out["wrong"]
    assert out["clusters_per_class"] == [2, 1] and right["images"] == 2 and wrong["share_of_images"] == 0.5
    assert right["mass"] == pytest.approx({"best_true_cluster": 0.6, "true_siblings": 0.15, "other_classes": 0.25})
    assert wrong["mass"] == pytest.approx({"best_true_cluster": 0.3, "true_siblings": 0.15, "other_classes": 0.55})
    assert right["runner_up"] == {"true_class": 0.5, "other_class": 0.5}
    assert wrong["runner_up"] == {"true_class": 1.0, "other_class": 0.0}
    assert right["correct_under_sum_clusters"] == 1.0 and wrong["correct_under_sum_clusters"] == 0.5
    div = out["divided_classes"]
    assert div["right"]["mass"] == pytest.approx({"best_true_cluster": 0.5, "true_siblings": 0.3, "other_classes": 0.2})
    assert div["wrong"]["images"] == 1 and div["wrong"]["correct_under_sum_clusters"] == 1.0
    empty = cluster_confusion_from_logits(probs.log()[:1], np.array([0]), torch.tensor([0, 0, 1]))["wrong"]
    assert empty["images"] == 0 and empty["mass"]["true_siblings"] is None
    json.dumps(out, allow_nan=False)


def test_division_summary():
    division = ClassDivision(np.array([0, 0, 0, 1, 2, 2]), np.array([0, 0, 1]), "kmeans")
    out = division_summary(division)
    assert out["K"] == 3 and out["cluster_sizes"] == [3, 1, 2] and out["balance"] == 3.0
    c0, c1 = out["per_class"]
    assert c0["sizes"] == [3, 1] and c0["balance"] == 3.0
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert c0["evenness"] == pytest.approx(entropy / math.log(2))
    assert c0["effective_clusters"] == pytest.approx(math.exp(entropy))
    assert c1["evenness"] is None and c1["effective_clusters"] == 1.0
    assert out["mean_evenness"] == pytest.approx(entropy / math.log(2)) and out["worst_class_balance"] == 3.0
    json.dumps(out, allow_nan=False)


# ---------------------------------------------------------------- channel groups and FBH kernels


class FixedMap(nn.Module):
    """A backbone that maps a one-hot class image (C channels) to a fixed (D, 3, 3) feature map."""

    def __init__(self, weight: torch.Tensor) -> None:  # weight (D, C): column c is class c's feature vector
        super().__init__()
        self.conv = nn.Conv2d(weight.shape[1], weight.shape[0], 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(weight[:, :, None, None])

    def forward(self, x):
        return self.conv(x)


@pytest.fixture(scope="module")
def digits():
    return build_long_tailed("digits", 100)


def one_hot_data(digits, num_classes: int, per_class: int = 2):
    """Test (and train) images of 3x3 pixels whose channel c is 255 for class c, normalised to exactly 1."""
    labels = np.repeat(np.arange(num_classes), per_class)
    images = torch.zeros(len(labels), num_classes, 3, 3, dtype=torch.uint8)
    images[torch.arange(len(labels)), torch.from_numpy(labels)] = 255
    tensor_images = TensorImages(images, labels)
    return replace(digits, classes=tuple(map(str, range(num_classes))), train=tensor_images, test=tensor_images,
                   counts=(per_class,) * num_classes, augment=AugmentSpec((0.0,) * num_classes, (1.0,) * num_classes),
                   in_channels=num_classes, image_size=3)


def model_with(weight: torch.Tensor, num_classes: int, fbh: bool, g: int | None = None) -> TwoHeadModel:
    return TwoHeadModel(FixedMap(weight), (weight.shape[0], 3, 3), num_classes, fbh=fbh, kernel_size=3,
                        channels_per_class=g)


@pytest.mark.parametrize("fbh", [True, False])
def test_one_hot_groups_give_identity_energy(digits, fbh):
    c, g = 4, 2
    weight = torch.zeros(c * g, c)
    for j in range(c):
        weight[j * g:(j + 1) * g, j] = 1.0  # class j fires only its own group
    model = model_with(weight, c, fbh, g)
    energy = group_energy(model, one_hot_data(digits, c))
    assert energy.shape == (c, c)
    np.testing.assert_allclose(energy, np.eye(c), atol=1e-7)
    summary = diagonal_dominance(energy, counts=(200, 50, 10, 1))
    assert summary["mean_diagonal"] == pytest.approx(1.0) and summary["chance"] == 0.25
    assert summary["own_group_is_max"] == 1.0 and summary["matched_mean_diagonal"] == pytest.approx(1.0)
    assert summary["groups"] == pytest.approx({"many": 1.0, "medium": 1.0, "few": 1.0})


def test_group_energy_uses_squared_activations(digits):
    c = 3
    weight = torch.zeros(c, c)
    for j in range(c):
        weight[j, j], weight[(j + 1) % c, j] = 2.0, 1.0  # own group at 2, the next at 1: energies 4 and 1
    energy = group_energy(model_with(weight, c, fbh=True, g=1), one_hot_data(digits, c))
    expected = 0.8 * np.eye(c) + 0.2 * np.roll(np.eye(c), 1, axis=1)
    np.testing.assert_allclose(energy, expected, atol=1e-6)
    permuted = diagonal_dominance(energy[:, [1, 2, 0]])  # groups in another order: the matching finds them
    assert permuted["mean_diagonal"] == pytest.approx(0.2) and permuted["matched_mean_diagonal"] == pytest.approx(0.8)


def test_uneven_channel_split_without_fbh(digits):
    c, d = 3, 7  # 7 % 3 = 1: the first group holds one channel more
    weight = torch.zeros(d, c)
    groups = [(0, 3), (3, 5), (5, 7)]
    for j, (lo, hi) in enumerate(groups):
        weight[lo:hi, j] = 1.0
    model = model_with(weight, c, fbh=False)
    assert [(r.start, r.stop) for r in channel_groups(model)] == groups
    np.testing.assert_allclose(group_energy(model, one_hot_data(digits, c)), np.eye(c), atol=1e-7)
    with pytest.raises(ValueError, match="non-empty groups"):
        channel_groups(model_with(torch.zeros(2, c), c, fbh=False))


def test_fbh_kernel_norms_of_hand_set_kernel():
    c, g = 3, 2
    model = model_with(torch.zeros(c * g, c), c, fbh=True, g=g)
    with torch.no_grad():
        for j in range(c):
            model.fbh.conv.weight[j] = j + 1.0  # (g, 3, 3) all equal to j + 1
    np.testing.assert_allclose(fbh_kernel_norms(model), (np.arange(c) + 1) * math.sqrt(g * 9), rtol=1e-6)
    with pytest.raises(ValueError, match="no feature-balancing head"):
        fbh_kernel_norms(model_with(torch.zeros(c, c), c, fbh=False))


# ---------------------------------------------------------------- linear probes


def test_probes_on_separable_features_are_perfect():
    rng = np.random.RandomState(0)
    train_y = np.repeat(np.arange(3), [50, 10, 2])
    test_y = np.repeat(np.arange(3), 20)
    features = FeatureSet(np.eye(3)[train_y] * 5 + rng.rand(len(train_y), 3) * 0.1, train_y,
                          np.eye(3)[test_y] * 5 + rng.rand(len(test_y), 3) * 0.1, test_y)
    for balanced in (True, False):
        out = probe_from_features(features, (50, 10, 2), balanced)
        assert out["mean_recall"] == 1.0 and out["converged"]
        assert out["sampling"] == ("class_balanced" if balanced else "instance_balanced")
        json.dumps(out, allow_nan=False)


def test_balanced_probe_helps_the_tail_and_is_deterministic():
    rng = np.random.RandomState(1)
    train_y = np.repeat([0, 1], [400, 20])
    test_y = np.repeat([0, 1], 500)
    centre = np.array([[0.0], [2.0]])
    features = FeatureSet(centre[train_y] + rng.randn(len(train_y), 1), train_y,
                          centre[test_y] + rng.randn(len(test_y), 1), test_y)
    plain = probe_from_features(features, (400, 20), balanced=False)
    balanced = probe_from_features(features, (400, 20), balanced=True)
    assert balanced["per_class_recall"][1] > plain["per_class_recall"][1] + 0.2
    assert balanced["mean_recall"] > plain["mean_recall"]
    assert probe_from_features(features, (400, 20), balanced=True) == balanced


# ---------------------------------------------------------------- calibration


def test_reliability_known_bin():
    labels = np.array([0] * 8 + [1] * 2)  # every image predicted class 0 with probability 0.9: 8 of 10 right
    logits = torch.tensor([[math.log(0.9), math.log(0.1)]]).repeat(10, 1)
    out = reliability_from_logits(RunLogits(logits, labels, torch.arange(2), log_prior(np.array([8, 2])), (8, 2)),
                                  "top_cluster", bins=15)
    full = [b for b in out["bins"] if b["count"]]
    assert len(out["bins"]) == 15 and len(full) == 1 and full[0]["count"] == 10
    assert full[0]["lower"] == pytest.approx(13 / 15)
    assert full[0]["confidence"] == pytest.approx(0.9) and full[0]["accuracy"] == pytest.approx(0.8)
    assert out["ece"] == pytest.approx(0.1) and out["bins"][0]["confidence"] is None
    with pytest.raises(ValueError, match="rule"):
        reliability_from_logits(RunLogits(logits, labels, torch.arange(2), log_prior(np.array([8, 2])), (8, 2)), "x")


def test_reliability_ece_matches_metrics_from_logits():
    gen = torch.Generator().manual_seed(0)
    cls = torch.tensor([0, 0, 0, 1, 1, 2])
    logits = RunLogits(3 * torch.randn(200, 6, generator=gen), np.arange(200) % 3, cls,
                       log_prior(np.array([40, 30, 30, 10, 10, 3])), (100, 20, 3))
    for rule in ("top_cluster", "sum_clusters", "logit_adjusted"):
        out = reliability_from_logits(logits, rule, tau=0.7)
        ref = metrics_from_logits(logits.logits, logits.labels, cls, logits.counts, rule, logits.cluster_log_prior, 0.7)
        assert out["ece"] == pytest.approx(ref["ece"]) and out["accuracy"] == pytest.approx(ref["accuracy"])
        assert sum(b["count"] for b in out["bins"]) == 200


# ---------------------------------------------------------------- the waterfall


def test_waterfall_arithmetic():
    out = waterfall(ce_top=[0.49, 0.50], ce_la=[0.64, 0.64], ce_probe=[0.60, 0.62], fbcd_probe=[0.65, 0.66],
                    fbcd_top=[0.60, 0.61], fbcd_la=[0.67, 0.68], seeds=[3, 4])
    steps, levels = out["steps"], out["levels"]
    assert out["seeds"] == [3, 4]
    assert steps["prior_correction"]["per_seed"] == pytest.approx([15, 14])
    assert steps["prior_correction"]["mean"] == pytest.approx(14.5)
    assert steps["prior_correction"]["sd"] == pytest.approx(math.sqrt(0.5))
    assert steps["better_features"]["per_seed"] == pytest.approx([5, 4])
    assert levels["ce_la_plus_features"]["per_seed"] == pytest.approx([69, 68])
    assert steps["residual_top_cluster"]["per_seed"] == pytest.approx([-9, -7])
    assert steps["residual_top_cluster"]["sd"] == pytest.approx(math.sqrt(2))
    assert steps["residual_logit_adjusted"]["mean"] == pytest.approx(-1.0)
    total = out["total_gain"]["top_cluster"]
    assert total["per_seed"] == pytest.approx([11, 11]) and total["sd"] == pytest.approx(0.0)
    parts = [steps[k]["mean"] for k in ("prior_correction", "better_features", "residual_top_cluster")]
    assert sum(parts) == pytest.approx(total["mean"])  # the residual closes the sum by definition
    assert out["probes"]["fbcd_balanced_probe"]["mean"] == pytest.approx(65.5)
    one = waterfall([0.5], [0.6], [0.7], [0.8], [0.6], [0.7])
    assert one["steps"]["better_features"] == {"mean": pytest.approx(10.0), "sd": None,
                                               "per_seed": [pytest.approx(10.0)]}
    with pytest.raises(ValueError, match="same, non-zero length"):
        waterfall([0.5, 0.6], [0.6], [0.7], [0.8], [0.6], [0.7])
    json.dumps(out, allow_nan=False)


def test_decompose_gain_needs_the_same_seeds():
    with pytest.raises(ValueError, match="same seeds"):
        decompose_gain([SimpleNamespace(seed=0)], [SimpleNamespace(seed=1)], None)
    with pytest.raises(ValueError, match="distinct seeds"):
        decompose_gain([SimpleNamespace(seed=0)] * 2, [SimpleNamespace(seed=0)], None)


# ---------------------------------------------------------------- end to end on the digits


@pytest.fixture(scope="module")
def digit_runs(digits):
    optim = preset("digits", epochs=3)
    return {m: [train(digits, MethodConfig(method=m, backbone="small_cnn"), optim, seed=s, progress=False)
                for s in (0, 1)] for m in ("ce", "fbcd")}


def finite(x) -> bool:
    return bool(np.isfinite(np.asarray(x, dtype=float)).all())


def test_every_function_runs_on_trained_digit_models(digits, digit_runs, monkeypatch):
    ce, fbcd = digit_runs["ce"][0], digit_runs["fbcd"][0]
    c = digits.num_classes
    calls = {"n": 0}
    real = forward_passes.collect_logits

    def counting(*args, **kwargs):
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(forward_passes, "collect_logits", counting)
    for run in (ce, fbcd):
        sweep = rule_sweep(run, digits)
        assert len(sweep["logit_adjusted"]) == 9 and finite([m["mean_recall"] for m in sweep["logit_adjusted"]])
        assert sweep["logit_adjusted"][0]["mean_recall"] == sweep["top_cluster"]["mean_recall"]
        assert sweep == rule_sweep(run, digits)  # deterministic
        for balanced in (True, False):
            probe = linear_probe(run, digits, balanced)
            assert 0 <= probe["mean_recall"] <= 1 and probe["feature_dim"] == run.model.feature_channels
        energy = group_energy(run.model, digits)
        assert energy.shape == (c, c) and finite(energy) and np.allclose(energy.sum(axis=1), 1)
        assert finite(diagonal_dominance(energy, digits.counts)["diagonal"])
        conf = cluster_confusion(run, digits)
        assert conf["right"]["images"] + conf["wrong"]["images"] == len(digits.test)
        summary = division_summary(run.division)
        assert summary["K"] == run.model.num_clusters and len(summary["per_class"]) == c
        eff = effective_prior(run, digits)
        ce_prior = np.log(np.array(digits.counts) / sum(digits.counts))
        assert eff.shape == (c,) and np.all(eff <= ce_prior + 1e-12)
        shift = prior_shift(run, digits)
        assert finite(shift["measured_shift"]) and finite(shift["analytic_shift"])
        assert np.all(np.array(shift["measured_shift"]) >= np.array(shift["minus_log_u"]) - 1e-9)
        for rule in ("top_cluster", "sum_clusters", "logit_adjusted"):
            rel = reliability(run, digits, rule)
            assert sum(b["count"] for b in rel["bins"]) == len(digits.test) and 0 <= rel["ece"] <= 1
        json.dumps([sweep, probe, conf, summary, shift, rel], allow_nan=False)
    # one logits pass per rule_sweep, cluster_confusion, prior_shift and reliability call
    assert calls["n"] == 2 * (2 + 1 + 1 + 3)
    assert np.allclose(effective_prior(ce, digits), ce_prior) and prior_shift(ce, digits)["equivalent_tau"] == {
        "analytic": pytest.approx(0.0), "measured": pytest.approx(0.0)}
    assert prior_shift(fbcd, digits)["equivalent_tau"]["analytic"] > 0  # the split lowers the head's prior
    norms = fbh_kernel_norms(fbcd.model)
    assert norms.shape == (c,) and finite(norms) and (norms > 0).all()


def test_decompose_gain_on_digits(digits, digit_runs):
    out = decompose_gain(digit_runs["ce"], digit_runs["fbcd"], digits)
    assert out["seeds"] == [0, 1] and out["methods"] == {"ce": ["ce"], "fbcd": ["fbcd"]}
    for block in (out["levels"], out["steps"], out["total_gain"], out["probes"]):
        for stat in block.values():
            assert finite([stat["mean"], stat["sd"]]) and len(stat["per_seed"]) == 2
    steps = out["steps"]
    assert (steps["prior_correction"]["mean"] + steps["better_features"]["mean"]
            + steps["residual_top_cluster"]["mean"]) == pytest.approx(out["total_gain"]["top_cluster"]["mean"])
    json.dumps(out, allow_nan=False)


def test_paired_verdict_words_a_lean_apart_from_a_called_order():
    assert paired_verdict([0.60, 0.62, 0.64], [0.50, 0.51, 0.55]) == ("called above", "+10.0 ± 1.0 points, called")
    assert paired_verdict([0.50, 0.51, 0.55], [0.60, 0.62, 0.64]) == ("called below", "-10.0 ± 1.0 points, called")
    assert paired_verdict([0.60, 0.58], [0.50, 0.54]) == ("leans above", "+7.0 ± 4.2 points, n = 2, not called")
    assert paired_verdict([0.60, 0.52, 0.56], [0.50, 0.50, 0.50]) == ("leans above", "+6.0 ± 4.0 points, within noise")
    assert paired_verdict([0.50], [0.52]) == ("leans below", "-2.0 ± 0.0 points, n = 1, not called")
    assert paired_verdict([0.60, 0.50], [0.50, 0.60]) == ("level with", "+0.0 ± 14.1 points, n = 2, not called")
    with pytest.raises(ValueError, match="one value per seed on both sides, got 2 and 1"):
        paired_verdict([0.5, 0.6], [0.5])
