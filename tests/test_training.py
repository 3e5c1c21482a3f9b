"""Training on the embedded digits: the loss falls, the CPU is deterministic, a stop keeps the run."""

import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from fbcd_lab.config import PRESETS, MethodConfig, OptimConfig, preset
from fbcd_lab.data import FileImages, build_long_tailed
from fbcd_lab.evaluation import balanced_recall, evaluate
from fbcd_lab.runtime import resolve_device
from fbcd_lab.training import fit, make_division, start_run, train

SHORT = OptimConfig(epochs=6, batch_size=64, lr=0.05, warmup_epochs=1, milestones=(4,), factors=(0.1,))


def test_fbcd_loss_falls_on_digits(digits_lt):
    run = train(digits_lt, MethodConfig(method="fbcd", backbone="small_cnn"), SHORT, progress=False)
    losses = [h["loss"] for h in run.history]
    assert len(losses) == 6 and losses[-1] < 0.6 * losses[0]
    assert run.history[-1]["l1"] < run.history[0]["l1"] and run.history[-1]["l2"] < run.history[0]["l2"]
    assert run.model.num_clusters == run.division.num_clusters > digits_lt.num_classes
    assert run.model.fbh is not None and not run.stopped


@pytest.mark.parametrize("method", ["ce", "fbh", "cdh", "fbcd"])
def test_every_method_beats_chance(digits_lt, method):
    run = train(digits_lt, MethodConfig(method=method, backbone="small_cnn"), SHORT, progress=False)
    metrics = evaluate(run.model, digits_lt)
    assert run.history[-1]["loss"] < run.history[0]["loss"]
    assert metrics["mean_recall"] > 0.5  # chance is 0.1
    assert (run.model.fbh is not None) == (method in ("fbh", "fbcd"))
    assert (run.model.num_clusters > 10) == (method in ("cdh", "fbcd"))


def test_cpu_runs_are_deterministic(digits_lt):
    config = MethodConfig(method="fbcd", backbone="small_cnn", cluster="kmeans")
    a, b = (train(digits_lt, config, SHORT, seed=3, progress=False) for _ in range(2))
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    for (name, pa), pb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(pa, pb), name
    c = train(digits_lt, config, SHORT, seed=4, progress=False)
    assert [h["loss"] for h in c.history] != [h["loss"] for h in a.history]


def test_stop_flag_keeps_partial_run(digits_lt):
    calls = {"n": 0}

    def stop_after_two_epochs():
        calls["n"] += 1
        return calls["n"] > 2 * 6  # digits ratio 10: 585 images, 10 steps of 64 per epoch

    run = train(digits_lt, MethodConfig(method="ce", backbone="small_cnn"), SHORT,
                should_stop=stop_after_two_epochs, progress=False)
    assert run.stopped and 1 <= run.epochs_done < SHORT.epochs


def test_division_by_method(digits_lt):
    assert make_division(digits_lt, MethodConfig(method="fbh"), 0).num_clusters == 10
    division = make_division(digits_lt, MethodConfig(method="cdh", u=4, cluster="hierarchical"), 0)
    assert division.clusters_per_class[0] == 4 and division.clusters_per_class[-1] == 1
    np.testing.assert_array_equal(division.class_of_cluster[division.cluster_of_sample], digits_lt.train.labels)


def test_bad_configuration_values():
    inf, nan = float("inf"), float("nan")
    for kwargs, name in (({"u": 0}, "u"), ({"alpha": 0}, "alpha"), ({"lam": -1}, "lam"),
                         ({"method": "focal"}, "method"), ({"cluster": "dbscan"}, "cluster"),
                         ({"u": 12.0}, "u"), ({"u": inf}, "u"), ({"lam": inf}, "lam"), ({"lam": nan}, "lam"),
                         ({"alpha": nan}, "alpha"), ({"backbone": "x"}, "backbone"),
                         ({"kernel_size": 2.0}, "kernel_size"), ({"channels_per_class": 0}, "channels_per_class")):
        with pytest.raises(ValueError, match=f"^{name} must be"):
            MethodConfig(**kwargs)
    for bad in ({"epochs": 0}, {"epochs": 2.5}, {"batch_size": 64.5}, {"lr": inf}, {"lr": nan},
                {"weight_decay": inf}, {"momentum": 1.0}, {"warmup_epochs": True}):
        with pytest.raises(ValueError, match=f"^{next(iter(bad))} must be"):
            OptimConfig(**bad)
    with pytest.raises(ValueError, match=r"milestones must be an integer in \[0, 10\), got 10"):
        OptimConfig(epochs=10, warmup_epochs=0, milestones=(5, 10))
    with pytest.raises(ValueError, match=r"warmup_epochs \(5\) must not exceed epochs \(3\)"):
        OptimConfig(epochs=3, milestones=(), factors=())
    with pytest.raises(ValueError, match="factors"):
        OptimConfig(milestones=(10,), factors=(0.1, 0.01))
    with pytest.raises(ValueError, match=r"image_size must be None or 8 for digits \(its images are not resized\), got 32"):
        build_long_tailed("digits", 10, image_size=32)
    for ratio in (inf, nan):
        with pytest.raises(ValueError, match="imbalance_ratio must be"):
            build_long_tailed("digits", ratio)
    for seed in (-1, 2**32, 1.5):
        with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32\)"):
            build_long_tailed("digits", 10, seed=seed)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_short_presets_drop_milestones_that_never_apply():
    assert preset("paper_cifar", epochs=2).milestones == (1,)  # 120/100 -> 1; 160/100 -> 2 is the end
    assert preset("cpu_short", epochs=1).milestones == () and preset("cpu_short", epochs=1).factors == ()
    assert preset("digits", epochs=1).warmup_epochs == 0


def test_diverging_loss_stops_the_run_and_keeps_the_last_good_checkpoint(digits_lt, tmp_path):
    first = OptimConfig(epochs=1, batch_size=64, lr=0.05, warmup_epochs=0, milestones=(), factors=())
    run = train(digits_lt, MethodConfig(method="fbcd", backbone="small_cnn"), first, progress=False,
                checkpoint=tmp_path / "ck.pt")
    run.optim = replace(first, epochs=3, lr=1e30)
    fit(run, digits_lt, progress=False, checkpoint=tmp_path / "ck.pt")
    assert run.status == "diverged" and run.diverged["epoch"] == 2 and run.epochs_done == 1
    assert all(np.isfinite(h["loss"]) for h in run.history)
    saved = torch.load(tmp_path / "ck.pt", weights_only=True)
    assert len(saved["history"]) == 1
    with pytest.raises(ValueError, match="diverged in epoch 2"):
        fit(run, digits_lt, progress=False)
    assert all(torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point())


def test_training_leaves_thread_setting_and_uses_one_thread_for_small_models(digits_lt):
    seen = []
    before = torch.get_num_threads()
    train(digits_lt, MethodConfig(method="ce", backbone="small_cnn"), SHORT, progress=False,
          callbacks=[lambda record: seen.append(torch.get_num_threads())])
    assert seen == [1] * SHORT.epochs and torch.get_num_threads() == before


def test_fit_trains_on_the_threads_asked_and_refuses_a_count_that_is_not_one(digits_lt):
    seen = []
    run = start_run(digits_lt, MethodConfig(method="ce", backbone="small_cnn"), SHORT, seed=0)
    fit(run, digits_lt, progress=False, threads=2, callbacks=[lambda record: seen.append(torch.get_num_threads())])
    assert seen == [2] * SHORT.epochs and run.threads == 2
    for bad in (0, -1, 1.5, "2"):
        with pytest.raises(ValueError, match="threads"):
            fit(start_run(digits_lt, MethodConfig(method="ce", backbone="small_cnn"), SHORT, seed=0), digits_lt,
                progress=False, threads=bad)


def test_streamed_dataset_trains_and_evaluates(imagenet_lt_tree):
    data = build_long_tailed("imagenet_lt", None, root=imagenet_lt_tree, image_size=16)
    assert isinstance(data.train, FileImages)
    run = train(data, MethodConfig(method="fbcd", backbone="small_cnn", u=3), preset("cpu_short", epochs=2, batch_size=4),
                progress=False)
    metrics = evaluate(run.model, data)
    assert run.division.clusters_per_class == [3, 2, 1] and run.epochs_done == 2
    assert len(metrics["per_class_recall"]) == 3 and sum(map(sum, metrics["confusion_matrix"])) == 6


def test_presets_follow_the_documented_schedules():
    paper, ldam = PRESETS["paper_cifar"], PRESETS["ldam_cifar"]
    assert [paper.lr_factor(e) for e in (4, 119, 120, 159, 160)] == [1.0, 1.0, 0.1, 0.1, 0.01]
    assert [ldam.lr_factor(e) for e in (159, 160, 180)] == [1.0, 0.01, 0.0001]
    assert paper.lr_factor(0, 1 / 97) == pytest.approx(1 / (5 * 97))  # LDAM-DRW's linear warm-up
    lt = PRESETS["paper_imagenet_lt"]
    assert (lt.lr, lt.batch_size, lt.epochs, lt.schedule) == (0.2, 512, 90, "cosine")
    assert lt.lr_factor(5, 0.0) == pytest.approx(1.0) and lt.lr_factor(89, 1.0) == pytest.approx(0.0)
    short = preset("paper_cifar", epochs=10)
    assert short.milestones == (6, 8) and short.warmup_epochs == 0
    assert preset("paper_cifar", epochs=10, milestones=(9,), factors=(0.5,)).milestones == (9,)
    with pytest.raises(ValueError, match="preset must be one of"):
        preset("imagenet")


def test_evaluate_defaults_to_the_models_device_and_precision(digits_lt):
    run = train(digits_lt, MethodConfig(method="ce", backbone="small_cnn"), SHORT, precision="fp32", progress=False)
    assert run.model.precision == "fp32"
    assert evaluate(run.model, digits_lt) == evaluate(run.model, digits_lt, device="cpu", precision="fp32")


def test_bf16_only_where_the_gpu_supports_it(monkeypatch):
    from fbcd_lab.runtime import resolve_precision

    gpu = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla V100")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    assert resolve_precision("auto", gpu) == "fp32"
    with pytest.raises(ValueError, match="precision 'bf16' is not supported natively by Tesla V100"):
        resolve_precision("bf16", gpu)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert resolve_precision("auto", gpu) == resolve_precision("bf16", gpu) == "bf16"


@pytest.mark.parametrize("classes", [2, 10, 100])
def test_balanced_recall_is_scikit_learns_balanced_accuracy_to_the_bit(classes):
    from sklearn.metrics import balanced_accuracy_score

    rng = np.random.default_rng(classes)
    for n in (1, 7, 300):
        labels = rng.integers(0, classes, n)
        pred = np.where(rng.random(n) < 0.6, labels, rng.integers(0, classes + 3, n))  # some classes only predicted
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scikit-learn warns of classes only predicted
            expected = balanced_accuracy_score(labels, pred)
        assert balanced_recall(labels, pred) == expected


def test_the_recall_fit_records_every_epoch_is_evaluates(digits_lt):
    run = train(digits_lt, MethodConfig(method="fbcd", backbone="small_cnn"), preset("digits", epochs=2), seed=0,
                precision="fp32", progress=False, eval_every=1)
    assert run.history[-1]["test_mean_recall"] == evaluate(run.model, digits_lt)["mean_recall"]
