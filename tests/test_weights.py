"""Model-only weights: written from a finished run's checkpoint, rebuilt from its record alone."""

import json

import pytest
import torch

from fbcd_lab.cli import main
from fbcd_lab.data import build_long_tailed
from fbcd_lab.evaluation import evaluate
from fbcd_lab.weights import export_weights, load_weights


@pytest.mark.parametrize("recipe", ["ours", "ldam_drw"])
def test_weights_rebuild_the_model_that_the_record_scored(tmp_path, capsys, recipe):
    """The model rebuilt from results.json and model.pt scores what the record says, to the last
    digit (the cluster-to-class map of FBH + CDH and LDAM's scaled cosine classifier included)."""
    out = tmp_path / recipe
    assert main(["train", "--dataset", "digits", "--recipe", recipe, "--epochs", "2", "--no-progress",
                 "--out", str(out)]) == 0
    assert main(["weights", str(out)]) == 0
    assert f"wrote {out / 'model.pt'}" in capsys.readouterr().out
    record = json.loads((out / "results.json").read_text())
    model = load_weights(out)
    assert not model.training and (model.fbh is not None) == (recipe == "ours")
    metrics = evaluate(model, build_long_tailed("digits", 100))
    assert metrics["accuracy"] == record["metrics"]["top_cluster"]["accuracy"]
    assert metrics["per_class_recall"] == record["metrics"]["top_cluster"]["per_class_recall"]
    assert (out / "model.pt").stat().st_size < (out / "checkpoint.pt").stat().st_size


def test_weights_of_unfinished_or_mismatched_runs_are_refused(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "digits", "--method", "ce", "--epochs", "1", "--no-progress",
                 "--out", str(out)]) == 0
    with pytest.raises(FileNotFoundError, match="no model weights .*python -m fbcd_lab weights"):
        load_weights(out)
    record = json.loads((out / "results.json").read_text())
    (out / "results.json").write_text(json.dumps({**record, "status": "stopped"}))
    with pytest.raises(ValueError, match="the run is stopped, not finished"):
        export_weights(out)
    (out / "results.json").write_text(json.dumps({**record, "epochs_done": 3}))
    with pytest.raises(ValueError, match="holds 1 epochs but the record 3"):
        export_weights(out)
    (out / "results.json").write_text(json.dumps(record))
    export_weights(out)
    saved = torch.load(out / "model.pt", weights_only=True)
    saved["model"].popitem()
    torch.save(saved, out / "model.pt")
    with pytest.raises(ValueError, match="does not fit the model its record"):
        load_weights(out)
