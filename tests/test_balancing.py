"""Class-balancing rules: effective-number weights, the deferred switch, class-balanced sampling."""

import numpy as np
import pytest
import torch

from fbcd_lab.balancing import effective_number_weights, make_balancing
from fbcd_lab.config import MethodConfig, preset
from fbcd_lab.data import build_long_tailed
from fbcd_lab.data.batches import iterate_batches
from fbcd_lab.recipes import RECIPES, recipe
from fbcd_lab.training import start_run, train


def test_effective_number_weights_by_hand():
    beta = 0.9999
    raw = np.array([(1 - beta) / (1 - beta**5000), (1 - beta) / (1 - beta**50)])
    np.testing.assert_allclose(effective_number_weights([5000, 50], beta), raw / raw.sum() * 2)
    assert effective_number_weights([5000, 50]).sum() == pytest.approx(2.0)
    np.testing.assert_allclose(effective_number_weights([7, 7, 7]), [1, 1, 1])


def test_drw_switches_at_exactly_the_deferred_epoch():
    drw = make_balancing("drw", [100, 10], epochs=200)
    assert [drw.class_weights(e) is None for e in (0, 159)] == [True, True]
    assert drw.class_weights(160) is not None and not drw.resample(199)
    drs = make_balancing("drs", [100, 10], epochs=30, deferred=5)
    assert [drs.resample(e) for e in (4, 5)] == [False, True] and drs.class_weights(29) is None
    assert make_balancing("reweight", [100, 10], epochs=3).class_weights(0) is not None
    assert make_balancing("resample", [100, 10], epochs=3).resample(0)


def test_resampled_class_frequencies_are_uniform():
    data = build_long_tailed("digits", 100)  # 144 images of class 0 down to 1 of class 9
    seen = np.zeros(10)
    g = torch.Generator().manual_seed(0)
    for _ in range(40):
        for _, y, _ in iterate_batches(data.train, 64, data.augment, train=True, generator=g, balanced=True):
            seen += np.bincount(y.numpy(), minlength=10)
    share = seen / seen.sum()  # 40 epochs x 345 draws = 13,800
    assert np.abs(share - 0.1).max() < 0.012  # about 4 standard errors of a share of 0.1


def test_deferred_epoch_beyond_the_run_is_refused(digits_lt):
    with pytest.raises(ValueError, match="deferred_epoch 9 must be below epochs"):
        start_run(digits_lt, MethodConfig(method="ce", backbone="small_cnn", balancing="drw", deferred_epoch=9),
                  preset("digits", epochs=5))


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_trains(digits_lt, name):
    run = train(digits_lt, recipe(name, "small_cnn"), preset("digits", epochs=3), progress=False)
    assert run.status == "finished" and all(np.isfinite(h["loss"]) for h in run.history)
    assert (run.model.fbh is not None) == (name in ("ours", "ours_full"))


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
