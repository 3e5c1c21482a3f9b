"""Class-balancing rules: effective-number weights, the deferred switch, class-balanced sampling."""

import numpy as np
import pytest
import torch

from fbcd_lab.balancing import (deferred_epoch, draw_weights, effective_number_weights, make_balancing,
                                saved_switch_epoch)
from fbcd_lab.config import MethodConfig, preset
from fbcd_lab.data import build_long_tailed
from fbcd_lab.data.batches import iterate_batches, sample_weights
from fbcd_lab.recipes import RECIPES, recipe
from fbcd_lab.training import _mixes, start_run, train


def test_effective_number_weights_by_hand():
    beta = 0.9999
    raw = np.array([(1 - beta) / (1 - beta**5000), (1 - beta) / (1 - beta**50)])
    np.testing.assert_allclose(effective_number_weights([5000, 50], beta), raw / raw.sum() * 2)
    assert effective_number_weights([5000, 50]).sum() == pytest.approx(2.0)
    np.testing.assert_allclose(effective_number_weights([7, 7, 7]), [1, 1, 1])


def test_drw_switches_at_exactly_the_deferred_epoch():
    drw = make_balancing("drw", [100, 10], preset("paper_cifar"))
    assert [drw.class_weights(e) is None for e in (0, 159)] == [True, True]
    assert drw.class_weights(160) is not None and not drw.resample(199)
    drs = make_balancing("drs", [100, 10], preset("cpu_short"), deferred=5)
    assert [drs.resample(e) for e in (4, 5)] == [False, True] and drs.class_weights(29) is None
    assert [drs.switched(e) for e in (4, 5)] == [False, True]
    assert make_balancing("reweight", [100, 10], preset("digits", epochs=3)).class_weights(0) is not None
    assert make_balancing("resample", [100, 10], preset("digits", epochs=3)).resample(0)


# preset, epochs (None: the preset's), the switch epoch, the learning-rate decay it falls on
SWITCHES = [("paper_cifar", None, 160), ("ldam_cifar", None, 160), ("paper_tiny_imagenet", None, 160),
            ("cpu_short", None, 25), ("digits", None, 25), ("paper_cifar", 10, 8), ("paper_cifar", 50, 40),
            ("ldam_cifar", 10, 8), ("cpu_short", 10, 8), ("cpu_short", 50, 42), ("digits", 3, 2),
            ("paper_imagenet_lt", None, 72), ("paper_imagenet_lt", 10, 8), ("paper_cifar", 1, 0)]


@pytest.mark.parametrize("name, epochs, expected", SWITCHES)
def test_deferred_rules_switch_on_at_a_learning_rate_decay(name, epochs, expected):
    """The switch is the milestone nearest 80 % of the epochs (LDAM-DRW: 160 of 200, with the decay
    there), never an epoch between two decays; a cosine schedule, or a run too short for a
    milestone, switches at round(0.8 x epochs) below the last epoch."""
    optim = preset(name) if epochs is None else preset(name, epochs=epochs)
    at = deferred_epoch(optim)
    assert at == expected
    if optim.schedule == "step" and optim.milestones:
        assert at in optim.milestones
        assert optim.lr_factor(at) < optim.lr_factor(at - 1)  # the rate drops in the switch's epoch
        assert all(abs(m - 0.8 * optim.epochs) >= abs(at - 0.8 * optim.epochs) for m in optim.milestones)
    assert 0 <= at < optim.epochs and deferred_epoch(optim, deferred=3) == 3


def test_nearest_milestone_ties_go_to_the_later_one():
    optim = preset("cpu_short", epochs=30, milestones=(22, 26), factors=(0.1, 0.01))  # 24 is 2 from both
    assert deferred_epoch(optim) == 26


def test_runs_saved_before_the_rule_keep_the_switch_they_trained_with():
    """Records and checkpoints without a saved switch epoch were trained at round(0.8 x epochs)
    (24 of 30): their setting says so, so a study does not take them for runs of the new rule."""
    method = {"balancing": "drw", "deferred_epoch": None}
    assert saved_switch_epoch({"method": method, "optim": {"epochs": 30}}) == 24
    assert saved_switch_epoch({"method": {**method, "deferred_epoch": 5}, "optim": {"epochs": 30}}) == 5
    assert saved_switch_epoch({"method": {"balancing": "none"}, "optim": {"epochs": 30}}) is None
    assert saved_switch_epoch({"method": method, "optim": {"epochs": 30}, "balancing_switch_epoch": 25}) == 25


def test_cluster_weights_replace_the_class_weights_on_the_main_head_only():
    counts, clusters = [100, 10], [30, 30, 40, 10]
    drw = make_balancing("drw", counts, preset("paper_cifar"), cluster_counts=clusters)
    assert drw.cluster_weights_of(159) is None and drw.class_weights(159) is None
    np.testing.assert_allclose(drw.cluster_weights_of(160), effective_number_weights(clusters))
    np.testing.assert_allclose(drw.class_weights(160), effective_number_weights(counts))
    assert make_balancing("drw", counts, preset("paper_cifar")).cluster_weights_of(160) is None


def test_mixup_until_switch_mixes_before_the_switch_only(digits_lt):
    """The two-stage reading of Ours-Full: Mixup in the epochs before DRS switches on, none after
    (the epochs after the switch equal a DRS run's of the same state)."""
    method = recipe("ours_full_two_stage", "small_cnn")
    balancing = make_balancing(method.balancing, digits_lt.counts, preset("digits", epochs=5))
    assert [_mixes(method, balancing, e) for e in range(5)] == [True, True, True, True, False]
    assert [balancing.resample(e) for e in range(5)] == [False] * 4 + [True]
    with pytest.raises(ValueError, match="mixup_until_switch.*needs balancing 'drw' or 'drs'"):
        MethodConfig(augment="mixup_until_switch")


def drawn_shares(data, draws, epochs=40):
    """The share of each class among the samples drawn over ``epochs`` re-sampled epochs."""
    seen = np.zeros(data.num_classes)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for _, y, _ in iterate_batches(data.train, 64, data.augment, train=True, generator=g, class_draws=draws):
            seen += np.bincount(y.numpy(), minlength=data.num_classes)
    return seen / seen.sum()


def test_resampled_class_frequencies_are_uniform():
    data = build_long_tailed("digits", 100)  # 144 images of class 0 down to 1 of class 9
    share = drawn_shares(data, draw_weights("class_balanced", data.counts))  # 40 epochs x 345 draws = 13,800
    assert np.abs(share - 0.1).max() < 0.012  # about 4 standard errors of a share of 0.1


def test_class_balanced_draws_are_the_old_per_sample_weights_bit_for_bit():
    """Runs trained before the sampler option drew with torch.multinomial(1 / counts[labels]): the
    default draws the same epoch order."""
    data = build_long_tailed("digits", 100)
    old = torch.from_numpy(1.0 / np.bincount(data.train.labels)[data.train.labels])
    new = sample_weights(data.train.labels, draw_weights("class_balanced", data.counts))
    assert torch.equal(old, new)


def test_effective_number_sampler_draws_as_ldam_drws_imbalanced_dataset_sampler():
    """LDAM-DRW's ImbalancedDatasetSampler weights each sample by (1 - beta) / (1 - beta^n_c), so
    class c is drawn with probability proportional to n_c (1 - beta) / (1 - beta^n_c)."""
    counts = np.array([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50])  # CIFAR-10-LT, ratio 100
    per_sample = (1 - 0.9999) / (1 - 0.9999 ** counts)
    share = counts * per_sample / (counts * per_sample).sum()
    assert share[0] == pytest.approx(0.119, abs=5e-4) and share[-1] == pytest.approx(0.094, abs=5e-4)
    weights = draw_weights("effective_number", counts)
    assert np.allclose(counts * weights / (counts * weights).sum(), share)
    data = build_long_tailed("digits", 100)
    expected = data.counts * draw_weights("effective_number", data.counts)
    drawn = drawn_shares(data, draw_weights("effective_number", data.counts))
    assert np.abs(drawn - expected / expected.sum()).max() < 0.012
    drs = make_balancing("drs", data.counts, preset("digits", epochs=5), sampler="effective_number")
    assert drs.draws_of(3) is None and np.array_equal(drs.draws_of(4), draw_weights("effective_number", data.counts))


def test_deferred_epoch_beyond_the_run_is_refused(digits_lt):
    with pytest.raises(ValueError, match="deferred_epoch 9 must be below epochs"):
        start_run(digits_lt, MethodConfig(method="ce", backbone="small_cnn", balancing="drw", deferred_epoch=9),
                  preset("digits", epochs=5))


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_trains(digits_lt, name):
    run = train(digits_lt, recipe(name, "small_cnn"), preset("digits", epochs=3), progress=False)
    assert run.status == "finished" and all(np.isfinite(h["loss"]) for h in run.history)
    assert (run.model.fbh is not None) == name.startswith("ours")


def test_ldam_logit_adjusted_rule_reads_the_scaled_logits(digits_lt):
    from fbcd_lab.records import evaluate_run

    run = train(digits_lt, recipe("ldam", "small_cnn"), preset("digits"), progress=False)
    metrics, _ = evaluate_run(run, digits_lt)
    top1 = metrics["top_cluster"]["mean_recall"]
    # on cosines in [-1, 1] the log-prior swamped the logits: 0.1, every image called the rarest digit
    assert top1 > 0.8 and metrics["logit_adjusted"]["mean_recall"] > top1 - 0.05
    assert metrics["top_cluster"]["ece"] < 0.2


def test_ours_full_resumes_bit_identically(digits_lt, tmp_path):
    from fbcd_lab.checkpoints import load_checkpoint
    from fbcd_lab.training import fit

    method, optim = recipe("ours_full", "small_cnn"), preset("digits", epochs=4)  # DRW from epoch 3
    full = train(digits_lt, method, optim, seed=5, progress=False)
    calls = {"n": 0}

    def stop_in_third_epoch():
        calls["n"] += 1
        return calls["n"] > 25  # 10 steps per epoch

    train(digits_lt, method, optim, seed=5, progress=False, should_stop=stop_in_third_epoch,
          checkpoint=tmp_path / "ck.pt")
    resumed = load_checkpoint(tmp_path / "ck.pt", digits_lt, "cpu")
    fit(resumed, digits_lt, progress=False)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in full.history]
