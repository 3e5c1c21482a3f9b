"""Results records hold every field, and a folder of them tabulates over seeds."""

import json

import numpy as np

import pytest

from fbcd_lab.config import MethodConfig, OptimConfig
from fbcd_lab.data import build_long_tailed
from fbcd_lab.models.predict import RULES
from fbcd_lab.records import evaluate_run, load_records, run_record, save_record, summarize
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


def test_summarize_means_over_seeds(tmp_path):
    def record(method, seed, recall, lr=0.1):
        config = {"method": {"method": method}, "optim": {"lr": lr}, "precision": "fp32",
                  "data_spec": {"name": "digits", "seed": seed}}
        return {"dataset": "digits", "imbalance_ratio": 10, "method": method, "seed": seed, "selection": "final",
                "config": config, "metrics": {"top_cluster": {"mean_recall": recall}}}

    for i, r in enumerate([record("ce", 0, 0.5), record("ce", 1, 0.7), record("fbcd", 0, 0.9),
                           record("ce", 2, 0.1, lr=0.5)]):
        save_record(r, tmp_path / f"r{i}" / "results.json")
    rows = summarize(load_records(tmp_path))
    ce = next(r for r in rows if r["method"] == "ce" and r["n"] == 2)
    assert ce["seeds"] == [0, 1] and len(rows) == 3  # the lr=0.5 run is another setting
    assert ce["mean_recall_mean"] == pytest.approx(0.6) and ce["mean_recall_std"] == pytest.approx(0.1414, abs=1e-4)
    assert next(r for r in rows if r["method"] == "fbcd")["mean_recall_std"] == 0.0
    pooled = summarize(load_records(tmp_path), keys=("method",))
    assert next(r for r in pooled if r["method"] == "ce")["n"] == 3
    with pytest.raises(FileNotFoundError, match="records folder"):
        load_records(tmp_path / "absent")
