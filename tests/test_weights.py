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
    (out / "results.json").write_text(json.dumps({**record, "epochs": 3, "epochs_done": 3}))
    with pytest.raises(ValueError, match="holds 1 epochs but the record 3"):
        export_weights(out)
    (out / "results.json").write_text(json.dumps(record))
    export_weights(out)
    saved = torch.load(out / "model.pt", weights_only=True)
    saved["model"].popitem()
    torch.save(saved, out / "model.pt")
    with pytest.raises(ValueError, match="model-weights file .* has model weights that do not fit the model its settings"):
        load_weights(out)
    (out / "model.pt").write_bytes(b"\x80\x02 not a weights file")
    with pytest.raises(ValueError, match="model-weights file .* is truncated or not a model-weights file"):
        load_weights(out)


def test_decompose_from_saved_runs_equals_the_decomposition_of_the_trained_runs(tmp_path, capsys):
    """`decompose` on saved folders (records and model.pt) gives exactly what `decompose_gain` gives on
    the same runs trained in this process; wrong pairings and an existing --out are refused."""
    from fbcd_lab.analysis import decompose_gain
    from fbcd_lab.config import MethodConfig, preset
    from fbcd_lab.training import train

    folders = {}
    for method in ("ce", "fbcd"):
        for seed in (0, 1):
            folders[method, seed] = out = tmp_path / f"{method}{seed}"
            assert main(["train", "--dataset", "digits", "--method", method, "--epochs", "2", "--seed", str(seed),
                         "--no-progress", "--out", str(out)]) == 0
            assert main(["weights", str(out)]) == 0
    capsys.readouterr()
    target = tmp_path / "gain.json"
    assert main(["decompose", "--ce", str(folders["ce", 0]), str(folders["ce", 1]),
                 "--fbcd", str(folders["fbcd", 1]), str(folders["fbcd", 0]), "--out", str(target)]) == 0
    printed = capsys.readouterr().out
    saved = json.loads(target.read_text())
    data = build_long_tailed("digits", 100)
    runs = {m: [train(data, MethodConfig(method=m, backbone="small_cnn"), preset("digits", epochs=2), seed=s,
                      progress=False) for s in (0, 1)] for m in ("ce", "fbcd")}
    trained = decompose_gain(runs["ce"], runs["fbcd"], data)
    assert saved["seeds"] == [0, 1] and saved["levels"] == trained["levels"] and saved["steps"] == trained["steps"]
    record = json.loads((folders["ce", 1] / "results.json").read_text())
    assert saved["levels"]["ce_top_cluster"]["per_seed"][1] == pytest.approx(
        100 * record["metrics"]["top_cluster"]["mean_recall"])
    better = saved["steps"]["better_features"]
    assert f"+ better features {better['mean']:+.1f} ± {better['sd']:.1f}" in printed

    assert main(["decompose", "--ce", str(folders["ce", 0]), "--fbcd", str(folders["fbcd", 0]),
                 "--out", str(target)]) == 2
    assert f"--out {target} exists" in capsys.readouterr().err
    assert main(["decompose", "--ce", str(folders["ce", 0]), "--fbcd", str(folders["fbcd", 1])]) == 2
    assert "must hold the same seeds, got [0] and [1]" in capsys.readouterr().err
    other = tmp_path / "ratio10"
    assert main(["train", "--dataset", "digits", "--method", "fbcd", "--epochs", "1", "--imbalance-ratio", "10",
                 "--no-progress", "--out", str(other)]) == 0
    assert main(["weights", str(other)]) == 0
    assert main(["decompose", "--ce", str(folders["ce", 0]), "--fbcd", str(other)]) == 2
    assert f"{other}: its run was trained on another long-tailed subset" in capsys.readouterr().err
