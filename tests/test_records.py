"""Results records hold every field, and a folder of them tabulates over seeds."""

import json

import numpy as np

import pytest
import torch

from fbcd_lab.config import MethodConfig, OptimConfig
from fbcd_lab.data import build_long_tailed
from fbcd_lab.models.predict import RULES
from fbcd_lab.records import (
    code_text, evaluate_run, load_records, pivot_table, run_record, save_record, summarize, varying_columns,
)
from fbcd_lab.runtime import cpu_has_amx_bf16, cpu_model
from fbcd_lab.training import train

OPTIM = OptimConfig(epochs=3, batch_size=64, lr=0.05, warmup_epochs=1, milestones=(), factors=())


@pytest.fixture(scope="module")
def digits_val():
    return build_long_tailed("digits", 10, n_max=130, val_per_class=5)


def test_record_has_every_field(digits_val, tmp_path):
    run = train(digits_val, MethodConfig(method="fbcd", backbone="small_cnn"), OPTIM, progress=False)
    metrics, protocol = evaluate_run(run, digits_val)
    save_record(run_record(run, digits_val, metrics, protocol), tmp_path / "results.json")
    record = json.loads((tmp_path / "results.json").read_text())
    for key in ("config", "counts", "division", "history", "metrics", "wall_time_s", "device", "versions",
                "protocol", "data", "best_val"):
        assert key in record, key
    assert set(record["metrics"]) == set(RULES)
    top = record["metrics"]["top_cluster"]
    for key in ("accuracy", "mean_recall", "per_class_recall", "group_recall", "confusion_matrix", "ece",
                "weight_norms"):
        assert key in top, key
    assert len(top["per_class_recall"]) == 10 and len(top["confusion_matrix"]) == 10
    assert sum(map(sum, top["confusion_matrix"])) == 300
    assert record["division"]["K"] == run.division.num_clusters and len(record["history"]) == 3
    assert record["versions"]["torch"] and record["config"]["data_spec"]["val_per_class"] == 5
    assert record["precision"] == run.precision == record["config"]["precision"]
    assert record["machine"] == {"cpu": cpu_model(), "capability": torch.backends.cpu.get_cpu_capability(),
                                 "amx_bf16": cpu_has_amx_bf16()}  # runs from several machines can be told apart
    assert "final epoch (3)" in protocol and all("val_mean_recall" in h for h in record["history"])
    best_metrics, best_protocol = evaluate_run(run, digits_val, "best_val")
    assert f"epoch {run.best['epoch']} chosen by mean recall on a validation split" in best_protocol


def test_expected_calibration_error_by_hand():
    from fbcd_lab.evaluation import expected_calibration_error

    confidence = np.array([0.95, 0.95, 0.55, 0.55])
    correct = np.array([True, False, True, True])
    # bin of 0.95: accuracy 0.5, |0.5 - 0.95| * 2/4; bin of 0.55: accuracy 1, |1 - 0.55| * 2/4
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.225 + 0.225)
    assert expected_calibration_error(np.array([1.0, 1.0]), np.array([True, True])) == 0.0


def fake_record(method, seed, recall, lr=0.1, dataset="digits", status="finished", created="2026-01-01"):
    config = {"method": {"method": method}, "optim": {"lr": lr}, "precision": "fp32",
              "data_spec": {"name": dataset, "imbalance_ratio": 10, "seed": 0}}
    return {"dataset": dataset, "imbalance_ratio": 10, "method": method, "seed": seed, "selection": "final",
            "status": status, "created": created, "config": config,
            "metrics": {"top_cluster": {"mean_recall": recall}}}


def test_summarize_means_over_seeds(tmp_path):
    for i, r in enumerate([fake_record("ce", 0, 0.5), fake_record("ce", 1, 0.7), fake_record("fbcd", 0, 0.9),
                           fake_record("ce", 2, 0.1, lr=0.5)]):
        save_record(r, tmp_path / f"r{i}" / "results.json")
    rows = summarize(load_records(tmp_path))
    ce = next(r for r in rows if r["method"] == "ce" and r["n"] == 2)
    assert ce["seeds"] == [0, 1] and len(rows) == 3  # the lr=0.5 run is another setting
    assert ce["mean_recall_mean"] == pytest.approx(0.6) and ce["mean_recall_std"] == pytest.approx(0.1414, abs=1e-4)
    assert next(r for r in rows if r["method"] == "fbcd")["mean_recall_std"] == 0.0
    assert varying_columns(rows) == ["optim.lr"] and {r["optim.lr"] for r in rows} == {0.1, 0.5}
    with pytest.raises(FileNotFoundError, match="records folder .* does not exist"):
        load_records(tmp_path / "absent")
    (tmp_path / "README.md").write_text("a file")
    with pytest.raises(ValueError, match="records folder .*README.md' is a file, not a folder"):
        load_records(tmp_path / "README.md")


def test_summarize_names_each_rows_precision_and_code():
    """Rows show the resolved precision (from the configuration where an old record lacks it at the
    top) and every code version that trained their runs; the code never splits a row."""
    records = [fake_record("ce", s, 0.5) for s in range(3)]
    records[0]["code"] = {"fbcd_lab": "0.1.0", "commit": "cc0fd82fa7179196b66663f4cefb83c227c4faca", "modified": False}
    records[1]["code"] = {"fbcd_lab": "0.1.0", "commit": "b1b5f02aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "modified": True}
    records[2]["precision"] = "fp32"
    [row] = summarize(records)
    assert row["precision"] == "fp32" and row["n"] == 3
    assert row["code"] == "0.1.0@b1b5f02+modified,0.1.0@cc0fd82,unrecorded"
    assert code_text({"code": {"fbcd_lab": "0.2.0", "commit": None, "modified": None}}) == "0.2.0"
    bf16 = fake_record("ce", 0, 0.5)
    bf16["config"]["precision"] = "bf16"
    assert sorted(r["precision"] for r in summarize([records[0], bf16])) == ["bf16", "fp32"]


def test_summarize_never_pools_unlike_runs():
    records = [fake_record("ce", 0, 0.6), fake_record("ce", 0, 0.2, dataset="cifar100"),
               fake_record("ce", 1, 0.3, status="stopped"), fake_record("ce", 2, None, status="diverged"),
               fake_record("ce", 1, 0.7)]
    records[-2]["metrics"] = None
    with pytest.warns(UserWarning, match="repeats seed 0 of the same setting as .*; counted once"):
        rows = summarize(records + [fake_record("ce", 0, 0.9, created="2026-02-02")])
    by = {(r["dataset"], r["status"]): r for r in rows}
    assert len(rows) == 4 and by[("digits", "finished")]["seeds"] == [0, 1]
    assert by[("digits", "finished")]["mean_recall_mean"] == pytest.approx(0.65)
    assert by[("cifar100", "finished")]["n"] == 1 and by[("digits", "stopped")]["seeds"] == [1]
    assert by[("digits", "diverged")]["mean_recall_mean"] is None
    table = pivot_table(records, "method", "imbalance_ratio")
    assert table.index.names == ["method", "dataset", "status", "seeds"] and table.shape == (4, 1)
    assert "65.0 ± 7.1 (2)" in table.to_string() and "–" in table.to_string()


def test_bad_records_are_skipped_with_a_warning(tmp_path):
    save_record(fake_record("ce", 0, 0.5), tmp_path / "good" / "results.json")
    for name, text in (("nan", '{"metrics": NaN}'), ("empty", ""), ("foreign", '{"a": 1}'), ("list", "[1, 2]")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(text)
    with pytest.warns(UserWarning) as caught:
        records = load_records(tmp_path)
    assert len(records) == 1 and len(caught) == 4
    assert all(str(tmp_path) in str(w.message) for w in caught)
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        save_record({"loss": float("nan")}, tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_records_name_the_code_that_made_them(tmp_path):
    """The package version, the git commit of the checkout and whether tracked files were changed;
    outside a git checkout (an installed wheel) the commit and the change are unknown."""
    import subprocess

    from fbcd_lab.runtime import code_version

    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "a.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "a.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "a"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert code_version(repo) == {"fbcd_lab": code_version()["fbcd_lab"], "commit": head, "modified": False}
    (repo / "b.py").write_text("untracked\n")
    code_version.cache_clear()
    assert code_version(repo)["modified"] is False  # an untracked file is not the code that ran
    (repo / "a.py").write_text("x = 2\n")
    code_version.cache_clear()
    assert code_version(repo)["modified"] is True
    assert code_version(tmp_path)["commit"] is None and code_version(tmp_path)["modified"] is None


def test_train_and_record_all_in_processes_gives_the_sequential_records_in_job_order():
    from fbcd_lab.config import MethodConfig, preset
    from fbcd_lab.data import build_long_tailed
    from fbcd_lab.records import train_and_record_all

    data = build_long_tailed("digits", 100)
    jobs = [(data, MethodConfig(method=m, backbone="small_cnn"), preset("digits", epochs=2), s)
            for m in ("cdh", "ce") for s in (1, 0)]
    alone, together = train_and_record_all(jobs), train_and_record_all(jobs, processes=2)
    assert [(r["method"], r["seed"]) for r in together] == [("cdh", 1), ("cdh", 0), ("ce", 1), ("ce", 0)]
    assert [r["metrics"] for r in together] == [r["metrics"] for r in alone]
    with pytest.raises(ValueError, match="processes"):
        train_and_record_all(jobs, processes=0)
