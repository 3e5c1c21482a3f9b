"""Checkpoints: atomic, safe to load, refused for other data, and resuming gives identical numbers."""

import pytest
import torch

from fbcd_lab.checkpoints import atomic_write, load_checkpoint, read_checkpoint
from fbcd_lab.config import MethodConfig, OptimConfig
from fbcd_lab.data import build_long_tailed
from fbcd_lab.evaluation import evaluate
from fbcd_lab.training import fit, train

OPTIM = OptimConfig(epochs=5, batch_size=64, lr=0.05, warmup_epochs=1, milestones=(3,), factors=(0.1,))
METHOD = MethodConfig(method="fbcd", backbone="small_cnn", u=5)


def test_resume_after_stop_equals_uninterrupted_run(digits_lt, tmp_path):
    full = train(digits_lt, METHOD, OPTIM, seed=2, progress=False, checkpoint=tmp_path / "full.pt")
    steps = {"n": 0}

    def stop_in_third_epoch():
        steps["n"] += 1
        return steps["n"] > 25  # 10 steps per epoch: stops during epoch 3

    part = train(digits_lt, METHOD, OPTIM, seed=2, progress=False, should_stop=stop_in_third_epoch,
                 checkpoint=tmp_path / "part.pt")
    assert part.stopped and part.epochs_done == 2
    resumed = load_checkpoint(tmp_path / "part.pt", digits_lt, "cpu")
    assert resumed.epochs_done == 2 and not resumed.finished
    fit(resumed, digits_lt, progress=False)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in full.history]
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    assert evaluate(resumed.model, digits_lt) == evaluate(full.model, digits_lt)


def test_checkpoint_contents_and_weights_only(digits_lt, tmp_path):
    path = tmp_path / "ck.pt"
    run = train(digits_lt, METHOD, OPTIM, seed=0, progress=False, checkpoint=path)
    state = torch.load(path, weights_only=True)
    assert {"model", "optimizer", "generator", "division", "method", "optim", "history", "data"} <= set(state)
    assert state["division"]["class_of_cluster"].tolist() == run.division.class_of_cluster.tolist()
    assert state["method"]["u"] == 5 and len(state["history"]) == 5
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temporary file left behind


def test_checkpoint_refused_for_other_data(digits_lt, tmp_path):
    path = tmp_path / "ck.pt"
    train(digits_lt, METHOD, OptimConfig(epochs=1, batch_size=64, warmup_epochs=0), progress=False, checkpoint=path)
    other = build_long_tailed("digits", 10, seed=1)
    with pytest.raises(ValueError, match="different training subset"):
        load_checkpoint(path, other)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_checkpoint(tmp_path / "absent.pt")


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "file.bin"
    atomic_write(path, lambda f: f.write(b"old"))

    def failing(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, failing)
    assert path.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1
