"""The run cache returns the run training would make, and never one of other settings."""

import inspect
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fbcd_lab import run_cache, training
from fbcd_lab.config import MethodConfig, preset
from fbcd_lab.data import build_long_tailed
from fbcd_lab.records import read_record
from fbcd_lab.studies.runner import run_study

FBCD = MethodConfig(method="fbcd", backbone="small_cnn")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    """The cache on, in a fresh folder."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(run_cache.ENABLED_VAR, "on")
    monkeypatch.setenv(run_cache.DIR_VAR, str(folder))
    monkeypatch.delenv(run_cache.BUDGET_VAR, raising=False)
    return folder


@pytest.fixture(scope="module")
def data():
    return build_long_tailed("digits", 100, seed=0)


@pytest.fixture(scope="module")
def optim():
    return preset("digits", epochs=2)


def no_training(monkeypatch):
    """Make any training an error: what follows must come from the cache."""
    def refuse(*args, **kwargs):
        raise AssertionError("trained although the run was cached")
    monkeypatch.setattr(training, "fit", refuse)
    monkeypatch.setattr("fbcd_lab.studies.runner.fit", refuse)


def same_weights(a, b) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a_second_run_of_the_same_settings_is_loaded_with_its_weights_history_and_random_state(
        data, optim, cache, monkeypatch):
    first = training.train(data, FBCD, optim, seed=0, precision="fp32", progress=False)
    after_training = torch.get_rng_state()
    torch.manual_seed(123)  # the global state is moved; a hit must set it as training left it
    no_training(monkeypatch)
    second = training.train(data, FBCD, optim, seed=0, precision="fp32", progress=False)
    assert same_weights(first, second) and second.history == first.history and len(second.history) == 2
    assert torch.equal(second.generator.get_state(), first.generator.get_state())
    assert torch.equal(torch.get_rng_state(), after_training)
    assert second.optimizer.state_dict()["state"].keys() == first.optimizer.state_dict()["state"].keys()
    assert (second.precision, second.threads, second.status) == (first.precision, first.threads, "finished")
    assert [p.suffix for p in cache.iterdir()] == [".pt"]


def test_train_seeds_loads_every_run_it_trained_before(data, optim, monkeypatch):
    methods = [MethodConfig(method=m, backbone="small_cnn") for m in ("ce", "fbcd")]
    first = training.train_seeds(data, methods, optim, [0, 1], precision="fp32", progress=False)
    no_training(monkeypatch)
    second = training.train_seeds(data, methods, optim, [0, 1], precision="fp32", progress=False)
    assert all(same_weights(a, b) for m in first for a, b in zip(first[m], second[m]))
    assert not same_weights(first["fbcd"][0], first["fbcd"][1])


@pytest.mark.parametrize("change", ["precision", "seed", "config", "epochs", "data", "eval_every", "threads"])
def test_other_settings_miss(data, optim, monkeypatch, change):
    asked = {"data": data, "method": FBCD, "optim": optim, "seed": 0, "precision": "fp32", "options": {}}
    training.train(asked["data"], asked["method"], asked["optim"], seed=0, precision="fp32", progress=False)
    other = {"precision": {"precision": "bf16"}, "seed": {"seed": 1},
             "config": {"method": MethodConfig(method="fbcd", backbone="small_cnn", lam=1.0)},
             "epochs": {"optim": preset("digits", epochs=3)}, "data": {"data": build_long_tailed("digits", 50, seed=0)},
             "eval_every": {"options": {"eval_every": 1}}, "threads": {"options": {"threads": 2}}}[change]
    asked.update(other)
    device = torch.device("cpu")
    key = run_cache.run_key(asked["data"], asked["method"], asked["optim"], asked["seed"], device, asked["precision"],
                            asked["options"])
    assert run_cache.load(key, asked["data"], device) is None
    trained = []
    monkeypatch.setattr(training, "fit", lambda run, data, **kw: trained.append(run) or run)
    training.train(asked["data"], asked["method"], asked["optim"], seed=asked["seed"], precision=asked["precision"],
                   progress=False, **asked["options"])
    assert len(trained) == 1


def test_other_cpu_kernels_miss(data, optim, monkeypatch):
    training.train(data, FBCD, optim, seed=0, precision="fp32", progress=False)
    device = torch.device("cpu")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert run_cache.load(run_cache.run_key(data, FBCD, optim, 0, device, "fp32", {}), data, device) is None
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    assert run_cache.load(run_cache.run_key(data, FBCD, optim, 0, device, "fp32", {}), data, device) is not None


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="ATen's AVX2 kernels need an x86 CPU")
def test_aten_cpu_capability_changes_the_kernel_identity():
    code = "from fbcd_lab.run_cache import kernel_identity; print(kernel_identity()['capability'])"
    env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
    default, avx2 = (subprocess.run([sys.executable, "-c", code], env=variables, capture_output=True, text=True,
                                    check=True).stdout.strip()
                     for variables in (env, {**env, "ATEN_CPU_CAPABILITY": "avx2"}))
    assert avx2 == "AVX2" and default == torch.backends.cpu.get_cpu_capability()
    if default != "AVX2":
        assert default != avx2


def test_changed_library_source_misses(data, optim, tmp_path, monkeypatch):
    training.train(data, FBCD, optim, seed=0, precision="fp32", progress=False)
    copy = tmp_path / "fbcd_lab"
    shutil.copytree(Path(run_cache.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = run_cache.source_digest(copy)
    assert before == run_cache.source_digest.__wrapped__(Path(run_cache.__file__).parent)
    with (copy / "losses" / "__init__.py").open("a") as f:
        f.write("\n# changed\n")
    changed = run_cache.source_digest.__wrapped__(copy)
    assert changed != before
    monkeypatch.setattr(run_cache, "source_digest", lambda: changed)
    device = torch.device("cpu")
    assert run_cache.load(run_cache.run_key(data, FBCD, optim, 0, device, "fp32", {}), data, device) is None


@pytest.mark.parametrize("option", ["callbacks", "should_stop", "checkpoint"])
def test_runs_that_act_while_training_bypass_the_cache(data, optim, cache, tmp_path, option):
    value = {"callbacks": [lambda record: None], "should_stop": lambda: False,
             "checkpoint": tmp_path / "run.pt"}[option]
    assert run_cache.run_key(data, FBCD, optim, 0, torch.device("cpu"), "fp32", {option: value}) is None
    training.train(data, FBCD, optim, seed=0, precision="fp32", progress=False, **{option: value})
    assert not cache.exists()


def test_the_cache_turns_off_and_refuses_a_bad_setting(data, optim, cache, monkeypatch):
    monkeypatch.setenv(run_cache.ENABLED_VAR, "off")
    training.train(data, FBCD, optim, seed=0, precision="fp32", progress=False)
    assert not cache.exists()
    monkeypatch.setenv(run_cache.ENABLED_VAR, "sometimes")
    with pytest.raises(ValueError, match="FBCD_RUN_CACHE must be 'on' or 'off'"):
        run_cache.enabled()
    monkeypatch.setenv(run_cache.ENABLED_VAR, "on")
    monkeypatch.setenv(run_cache.BUDGET_VAR, "lots")
    no_training(monkeypatch)  # refused before training (it was a warning once the run was done)
    with pytest.raises(ValueError, match=r"^FBCD_RUN_CACHE_MB must be a number of MiB in \[0, 2\*\*40\], got 'lots'$"):
        training.train(data, FBCD, optim, seed=0, precision="fp32", progress=False)
    assert not cache.exists()
    for bad in ("inf", "1e308", "-1", "nan"):  # 1e308 MiB has no size in bytes: an OverflowError's traceback
        monkeypatch.setenv(run_cache.BUDGET_VAR, bad)
        with pytest.raises(ValueError, match=rf"^FBCD_RUN_CACHE_MB must be a number of MiB in \[0, 2\*\*40\], got '{bad}'$"):
            run_cache.check_settings()


def test_a_corrupt_entry_is_a_miss_with_a_warning_and_is_replaced(data, optim, cache):
    first = training.train(data, FBCD, optim, seed=0, precision="fp32", progress=False)
    (entry,) = cache.iterdir()
    entry.write_bytes(entry.read_bytes()[:1000])
    with pytest.warns(UserWarning, match="run cache: .*truncated or not a run cache entry"):
        again = training.train(data, FBCD, optim, seed=0, precision="fp32", progress=False)
    assert same_weights(first, again) and entry.stat().st_size > 1000
    assert run_cache.load(run_cache.run_key(data, FBCD, optim, 0, torch.device("cpu"), "fp32", {}), data,
                          torch.device("cpu")) is not None


def test_an_entry_of_another_key_under_this_name_is_a_miss(data, optim, cache):
    training.train(data, FBCD, optim, seed=0, precision="fp32", progress=False)
    device = torch.device("cpu")
    key = run_cache.run_key(data, FBCD, optim, 0, device, "fp32", {})
    other = run_cache.run_key(data, FBCD, optim, 1, device, "fp32", {})
    shutil.copy(run_cache.entry_path(key), run_cache.entry_path(other))
    with pytest.warns(UserWarning, match="holds another key"):
        assert run_cache.load(other, data, device) is None
    assert not run_cache.entry_path(other).exists()


def test_the_least_recently_used_entries_go_beyond_the_budget(data, optim, cache):
    device = torch.device("cpu")
    keys = [run_cache.run_key(data, FBCD, optim, seed, device, "fp32", {}) for seed in range(3)]
    for seed in range(3):
        training.train(data, FBCD, optim, seed=seed, precision="fp32", progress=False)
    paths = [run_cache.entry_path(k) for k in keys]
    for age, path in zip((30, 20, 10), paths):
        os.utime(path, (time.time() - age, time.time() - age))
    assert run_cache.load(keys[0], data, device) is not None  # used now: the most recent
    size = paths[0].stat().st_size
    assert run_cache.evict(2 * size + size // 2) == [paths[1]]
    assert [p.exists() for p in paths] == [True, False, True]
    assert run_cache.evict(0) == [paths[2], paths[0]] and not list(cache.iterdir())


def test_a_stored_run_respects_the_budget(data, optim, cache, monkeypatch):
    monkeypatch.setenv(run_cache.BUDGET_VAR, "0.1")  # 100 KiB: less than one entry
    training.train(data, FBCD, optim, seed=0, precision="fp32", progress=False)
    assert not list(cache.iterdir())


def test_the_key_knows_every_training_option_of_fit_with_its_default():
    defaults = {name: p.default for name, p in inspect.signature(training.fit).parameters.items()}
    assert {k: defaults[k] for k in run_cache.TRAINING_OPTIONS} == run_cache.TRAINING_OPTIONS


def test_a_study_loads_cached_runs_and_gives_the_same_records_and_epochs(data, tmp_path, monkeypatch):
    def study(out, seen):
        return run_study("table1", "digits", out, ratios=[100], seeds=[0], cells=["ce", "ours"], epochs=2,
                         precision="fp32", progress=False, callbacks=[seen.append])

    first_epochs, second_epochs = [], []
    study(tmp_path / "a", first_epochs)
    no_training(monkeypatch)
    study(tmp_path / "b", second_epochs)
    assert second_epochs == first_epochs and len(first_epochs) == 4
    for cell in ("ce", "ours"):
        a, b = (read_record(tmp_path / out / "table1" / "r100" / cell / "seed0" / "results.json") for out in "ab")
        assert a["metrics"] == b["metrics"] and a["history"] == b["history"]
        assert (tmp_path / "b" / "table1" / "r100" / cell / "seed0" / "checkpoint.pt").is_file()


def test_a_study_refuses_a_bad_budget_before_it_trains_or_makes_a_folder(tmp_path, monkeypatch):
    """It was met only when a new run was about to start: a run to resume trained to its end first,
    and the next run's folder was left empty."""
    monkeypatch.setenv(run_cache.BUDGET_VAR, "abc")
    no_training(monkeypatch)
    with pytest.raises(ValueError, match=r"^FBCD_RUN_CACHE_MB must be a number of MiB in \[0, 2\*\*40\], got 'abc'$"):
        run_study("table1", "digits", tmp_path / "s", ratios=[100], seeds=[0], cells=["ce"], epochs=1, progress=False)
    assert not (tmp_path / "s").exists()
