"""A run folder is owned by one process: real processes, as two users or two terminals would start them."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

LONG = ["--dataset", "digits", "--method", "ce", "--epochs", "400", "--no-progress"]


def start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "fbcd_lab", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_for(condition, what: str, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def holds(folder: Path, process: subprocess.Popen) -> bool:
    """Whether ``process`` holds ``folder`` and has written a checkpoint there."""
    lock = folder / ".run.lock"
    return (folder / "checkpoint.pt").is_file() and lock.is_file() and f"process {process.pid} " in lock.read_text()


def test_a_second_train_into_a_held_folder_is_refused_and_the_first_run_is_kept(tmp_path):
    out = tmp_path / "run"
    first = start("train", *LONG, "--out", str(out))
    try:
        wait_for(lambda: holds(out, first), "the first run's checkpoint")
        second = start("train", *LONG, "--seed", "1", "--overwrite", "--out", str(out))
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2
        assert f"{out} is in use by process {first.pid} on " in err and "Traceback" not in err
        third = start("eval", "--checkpoint", str(out / "checkpoint.pt"))
        assert third.wait(timeout=120) == 2 and "is in use by process" in third.stderr.read()
    finally:
        first.send_signal(signal.SIGTERM)  # a scheduler's stop: recorded as stopped
        first.communicate(timeout=120)
    assert first.returncode == 130
    record = json.loads((out / "results.json").read_text())
    assert record["seed"] == 0 and record["status"] == "stopped"
    assert not (out / ".run.lock").exists()


def test_a_killed_run_leaves_no_lock_that_blocks_its_resume(tmp_path):
    out = tmp_path / "run"
    short = ["--dataset", "digits", "--method", "ce", "--epochs", "150", "--no-progress", "--out", str(out)]
    first = start("train", *short)
    wait_for(lambda: holds(out, first), "the first run's checkpoint")
    first.kill()  # kill -9: no handler runs, the lock file stays behind
    first.communicate(timeout=60)
    assert (out / ".run.lock").is_file() and not (out / "results.json").exists()
    resumed = start("train", *short, "--resume")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    record = json.loads((out / "results.json").read_text())
    assert record["status"] == "finished" and record["epochs_done"] == 150
    assert not (out / ".run.lock").exists()


def test_two_studies_on_one_folder_never_train_the_same_run(tmp_path):
    """The second study reaches the run the first is training and is refused, naming the holder;
    what the first finishes is kept."""
    study = ["study", "table1", "--dataset", "digits", "--ratios", "100", "--seeds", "0", "--cells", "ce",
             "--epochs", "400", "--precision", "fp32", "--no-progress", "--out", str(tmp_path)]
    folder = tmp_path / "table1" / "r100" / "ce" / "seed0"
    first = start(*study)
    try:
        wait_for(lambda: holds(folder, first), "the first study's checkpoint")
        second = start(*study)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2 and f"{folder} is in use by process {first.pid} on " in err
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    assert json.loads((folder / "results.json").read_text())["status"] == "stopped"
