"""Checkpoints: atomic with the umask's mode, safe to load, refused with one line for bad files and for
data they were not trained on, and resuming gives identical numbers."""

import errno
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
import torch
from PIL import Image

from fbcd_lab.checkpoints import (CheckpointError, DiskFullError, atomic_write, load_checkpoint, read_checkpoint,
                                  remove_stale_temporaries, save_checkpoint)
from fbcd_lab.config import MethodConfig, OptimConfig
from fbcd_lab.data import build_long_tailed
from fbcd_lab.evaluation import evaluate
from fbcd_lab.training import fit, start_run, train

OPTIM = OptimConfig(epochs=5, batch_size=64, lr=0.05, warmup_epochs=1, milestones=(3,), factors=(0.1,))
ONE_EPOCH = OptimConfig(epochs=1, batch_size=64, warmup_epochs=0, milestones=(), factors=())
METHOD = MethodConfig(method="fbcd", backbone="small_cnn", u=5)


@pytest.fixture(scope="module")
def checkpoint(digits_lt, tmp_path_factory) -> Path:
    """A one-epoch FBH + CDH checkpoint on the digits; tests write changed copies elsewhere."""
    path = tmp_path_factory.mktemp("checkpoint") / "checkpoint.pt"
    train(digits_lt, METHOD, ONE_EPOCH, progress=False, checkpoint=path)
    return path


def refusal(call, *args) -> str:
    """The message of the CheckpointError that ``call(*args)`` raises, checked to be one line."""
    with pytest.raises(CheckpointError) as err:
        call(*args)
    text = str(err.value)
    assert isinstance(err.value, ValueError) and "\n" not in text and "weights_only" not in text
    return text


def write_image_tree(root: Path, classes: tuple[str, ...]) -> Path:
    """An imagefolder root: 4/3/2 training and 2 test 8x8 PNG images per class (seeded)."""
    rng = np.random.RandomState(0)
    for split, counts in (("train", (4, 3, 2)), ("test", (2, 2, 2))):
        for name, n in zip(classes, counts):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.randint(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / split / name / f"{i}.png")
    return root


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
    torch.manual_seed(12345)  # training draws from the run's generator only, never the global state
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
    assert state["classes"] == [str(c) for c in range(10)] and "torch_rng" not in state
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temporary file left behind


def test_loading_leaves_the_global_random_state_alone(digits_lt, checkpoint):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    run = load_checkpoint(checkpoint, digits_lt, "cpu")
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(run.generator.get_state(), read_checkpoint(checkpoint)["generator"])


def test_checkpoint_refused_for_other_data(digits_lt, checkpoint, tmp_path):
    text = refusal(load_checkpoint, checkpoint, build_long_tailed("digits", 10, seed=1))
    assert text.startswith(f"checkpoint {str(checkpoint)!r} was trained on a different training subset")
    assert "indices SHA-256" in text and "(seed 0 vs 1, convention 'ldam' vs 'ldam')" in text
    other = build_long_tailed("digits", 20)
    text = refusal(load_checkpoint, checkpoint, other)
    assert f"counts {list(digits_lt.counts)} vs {list(other.counts)}" in text
    assert f"{len(digits_lt.train)} vs {len(other.train)} training images" in text
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_checkpoint(tmp_path / "absent.pt")


def test_checkpoint_matched_by_class_names_not_folder_name(digits_lt, tmp_path):
    data = build_long_tailed("imagefolder", None, root=write_image_tree(tmp_path / "pets", ("cat", "dog", "eel")))
    path = tmp_path / "checkpoint.pt"
    train(data, MethodConfig(method="fbcd", backbone="small_cnn", u=2), ONE_EPOCH, progress=False, checkpoint=path)
    copy = Path(shutil.copytree(tmp_path / "pets", tmp_path / "animals"))
    same = build_long_tailed("imagefolder", None, root=copy)
    assert same.name == "animals" and load_checkpoint(path, same, "cpu").epochs_done == 1
    for split in ("train", "test"):
        (copy / split / "eel").rename(copy / split / "fish")
    renamed = build_long_tailed("imagefolder", None, root=copy)
    assert refusal(load_checkpoint, path, renamed, "cpu") == (
        f"checkpoint {str(path)!r} has classes ['cat', 'dog', 'eel'] that differ from the data's "
        f"['cat', 'dog', 'fish'] (class 2: 'eel' vs 'fish')")
    assert refusal(load_checkpoint, path, digits_lt, "cpu") == f"checkpoint {str(path)!r} has 3 classes, the data 10"
    state = torch.load(path, weights_only=True)
    del state["classes"]  # as written before class names were saved: only the name check is skipped
    torch.save(state, tmp_path / "old.pt")
    assert load_checkpoint(tmp_path / "old.pt", renamed, "cpu").epochs_done == 1


def _truncated(path: Path, good: Path) -> None:
    path.write_bytes(good.read_bytes()[:1000])


def _other_format(path: Path, good: Path) -> None:
    torch.save({**torch.load(good, weights_only=True), "format": 99}, path)


BAD_FILES = [
    (_truncated, "is truncated or not a checkpoint (1000 bytes)"),
    (lambda p, good: p.write_bytes(b""), "is truncated or not a checkpoint (0 bytes)"),
    (lambda p, good: p.write_bytes(np.random.RandomState(0).bytes(500)),
     "is truncated or not a checkpoint (500 bytes)"),
    (lambda p, good: torch.save(torch.zeros(3), p), "holds a tensor, not an fbcd_lab checkpoint"),
    (lambda p, good: torch.save([1, 2], p), "holds a list, not an fbcd_lab checkpoint"),
    (lambda p, good: torch.save({"state_dict": {}, "epoch": 3}, p),
     "holds a dict without the keys of an fbcd_lab checkpoint (its keys: ['epoch', 'state_dict'])"),
    (lambda p, good: torch.save({"format": 1, "root": PurePosixPath("/data")}, p),
     "PurePosixPath) that a safe load refuses: not an fbcd_lab checkpoint"),
    (_other_format, "has format 99, expected 1"),
    (lambda p, good: torch.save({"format": 1, "model": {}}, p), "lacks method, optim, seed, precision, optimizer,"),
    (lambda p, good: p.mkdir(), "is a directory, not a checkpoint file"),
]


@pytest.mark.parametrize("make, reason", BAD_FILES)
def test_bad_file_gives_one_line_naming_it(digits_lt, checkpoint, tmp_path, make, reason):
    path = tmp_path / "bad.pt"
    make(path, checkpoint)
    for call, args in ((read_checkpoint, (path,)), (load_checkpoint, (path, digits_lt, "cpu"))):
        text = refusal(call, *args)
        assert text.startswith(f"checkpoint {str(path)!r} ") and reason in text


def _first_weight(state: dict):
    return next(iter(state["model"]))


SPOILED = [
    (lambda s: s.update(division="clusters"), "has division of type str, expected dict"),
    (lambda s: s.update(history=3), "has history of type int, expected list"),
    (lambda s: s.update(best=[1]), "has best of type list, expected dict or NoneType"),
    (lambda s: s["data"].pop("counts"), "lacks data.counts: not a complete fbcd_lab checkpoint"),
    (lambda s: s.update(classes="0123456789"), "has classes that are not a list of one name per class"),
    (lambda s: s["method"].update(u="five"), "has invalid settings (u must be"),
    (lambda s: s["method"].update(colour="red"), "has invalid settings ("),
    (lambda s: s["optim"].update(milestones=7), "has invalid settings ("),
    (lambda s: s["model"].update({"extra.weight": torch.zeros(1)}),
     "has model weights that do not fit the model its settings build (unexpected ['extra.weight'])"),
    (lambda s: s["model"].update({_first_weight(s): torch.zeros(2)}), "(wrong shape or type ['"),
    (lambda s: s["model"].update({_first_weight(s): "weights"}), "(wrong shape or type ['"),
    (lambda s: s.update(best_state={}),
     "has best-epoch weights that do not fit the model its settings build (missing ["),
    (lambda s: s.update(optimizer={}), "has an invalid optimiser state"),
    (lambda s: s.update(generator=torch.zeros(3)), "has an invalid random generator state"),
    (lambda s: s.update(precision="fp64"), "has an invalid precision"),
    (lambda s: s["division"].update(cluster_of_sample=torch.zeros(3)), "has a malformed class division"),
    (lambda s: s["division"].update(class_of_cluster=s["division"]["class_of_cluster"].flip(0)),
     "has a class division whose labels differ from the data's for"),
]


@pytest.mark.parametrize("spoil, reason", SPOILED)
def test_right_keys_wrong_contents_refused(digits_lt, checkpoint, tmp_path, spoil, reason):
    state = torch.load(checkpoint, weights_only=True)
    spoil(state)
    torch.save(state, tmp_path / "spoiled.pt")
    assert reason in refusal(load_checkpoint, tmp_path / "spoiled.pt", digits_lt, "cpu")


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "file.bin"
    atomic_write(path, lambda f: f.write(b"old"))

    def failing(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, failing)
    assert path.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_write_gives_the_umask_mode(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write(tmp_path / "file.bin", lambda f: f.write(b"x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "file.bin").stat().st_mode) == mode


def _no_space(f):
    f.write(b"half")
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _over_quota(f):
    f.write(b"half")
    raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))


def _no_space_inside_torch(f):
    try:
        _no_space(f)
    except OSError:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")  # as torch.save


@pytest.mark.parametrize("write, code, what", [(_no_space, errno.ENOSPC, "no space left on device"),
                                               (_over_quota, errno.EDQUOT, "disk quota exceeded"),
                                               (_no_space_inside_torch, errno.ENOSPC, "no space left on device")])
def test_full_disk_is_one_line_and_keeps_the_old_file(tmp_path, write, code, what):
    path = tmp_path / "checkpoint.pt"
    atomic_write(path, lambda f: f.write(b"old"))
    with pytest.raises(DiskFullError) as err:
        atomic_write(path, write)
    assert str(err.value) == f"{what} writing {str(path)!r}; the previous checkpoint.pt is kept"
    assert err.value.errno == code and isinstance(err.value, OSError) and isinstance(err.value, ValueError)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["checkpoint.pt"]


def test_save_checkpoint_on_a_full_disk(digits_lt, tmp_path, monkeypatch):
    run = start_run(digits_lt, METHOD, ONE_EPOCH, device="cpu")
    monkeypatch.setattr(torch, "save", lambda state, f: _no_space(f))
    with pytest.raises(DiskFullError, match=r"^no space left on device writing .*; checkpoint.pt was not written$"):
        save_checkpoint(run, digits_lt, tmp_path / "checkpoint.pt")
    monkeypatch.setattr(torch, "save", lambda state, f: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(OSError) as err:
        save_checkpoint(run, digits_lt, tmp_path / "checkpoint.pt")
    assert type(err.value) is OSError and err.value.errno == errno.EIO  # other errors pass unchanged
    assert os.listdir(tmp_path) == []


KILLED_WRITE = ("import os, sys; from fbcd_lab.checkpoints import atomic_write; "
                "atomic_write(sys.argv[1], lambda f: (f.write(b'half'), f.flush(), os._exit(9)))")


def test_remove_stale_temporaries_removes_only_those_of_killed_writes(tmp_path):
    atomic_write(tmp_path / "checkpoint.pt", lambda f: f.write(b"old"))
    assert subprocess.run([sys.executable, "-c", KILLED_WRITE, str(tmp_path / "checkpoint.pt")]).returncode == 9
    stale = [p for p in tmp_path.iterdir() if p.name != "checkpoint.pt"]
    assert len(stale) == 1 and stale[0].name.startswith(".checkpoint.pt.") and stale[0].read_bytes() == b"half"
    kept = ["checkpoint.pt", ".checkpoint.pt.tmp", "notes.tmp", "x.results.json.abcd1234.tmp", ".a.abcd1234.tmp.bak"]
    for name in kept:
        (tmp_path / name).write_bytes(b"mine")
    (tmp_path / ".b.abcd1234.tmp").mkdir()
    assert remove_stale_temporaries(tmp_path) == stale
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept + [".b.abcd1234.tmp"])
    assert remove_stale_temporaries(tmp_path) == [] and remove_stale_temporaries(tmp_path / "absent") == []


def test_streamed_resume_is_bit_identical_and_leaves_global_rng(imagenet_lt_tree, tmp_path):
    from fbcd_lab.config import preset

    data = build_long_tailed("imagenet_lt", None, root=imagenet_lt_tree, image_size=16)
    method, optim = MethodConfig(method="fbcd", backbone="small_cnn", u=3), preset("cpu_short", epochs=3, batch_size=4)
    full = train(data, method, optim, seed=1, progress=False)
    steps = {"n": 0}

    def stop_in_second_epoch():
        steps["n"] += 1
        return steps["n"] > 4  # 3 steps per epoch

    train(data, method, optim, seed=1, progress=False, should_stop=stop_in_second_epoch, checkpoint=tmp_path / "p.pt")
    torch.manual_seed(12345)
    rng = torch.get_rng_state()
    resumed = load_checkpoint(tmp_path / "p.pt", data, "cpu")
    fit(resumed, data, progress=False)
    assert torch.equal(torch.get_rng_state(), rng)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in full.history]


def test_ctrl_c_during_a_write_is_held_until_the_file_is_in_place(tmp_path, ctrl_c_raises):
    """An interrupt inside torch's writer came back as a RuntimeError or an abort: it is held, the
    file written whole, and the KeyboardInterrupt raised after."""
    import signal

    from fbcd_lab.checkpoints import atomic_write

    def write(f):
        f.write(b"first half")
        signal.raise_signal(signal.SIGINT)
        f.write(b", second half")

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "x.bin", write)
    assert (tmp_path / "x.bin").read_bytes() == b"first half, second half"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
