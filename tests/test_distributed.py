"""Training on several processes (torchrun, DistributedDataParallel, gloo on the CPU).

The helpers are checked in one process; two real processes are started by torchrun itself
(``python -m torch.distributed.run``) and their run compared with one process on the same global
batch. Measured on the CPU (2026-11-27): the epoch losses of 2 processes with --sync-bn and of one
process agree to 1.2e-7 (relative) after 2 epochs, per-class recall exactly; the test allows 1e-5.
Bit-equality is out of reach: two half-batch gradient sums and all-reduced BatchNorm statistics
round differently from one whole-batch sum.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

from fbcd_lab import distributed
from fbcd_lab.balancing import draw_weights
from fbcd_lab.config import MethodConfig
from fbcd_lab.data import build_long_tailed
from fbcd_lab.data.batches import iterate_batches, shard_slice
from fbcd_lab.data.images import FileImages
from fbcd_lab.data.mixup import Mixing, draw_mixing
from fbcd_lab.losses import LOSSES, fbcd_loss
from fbcd_lab.models.two_head import HeadOutputs
from fbcd_lab.training import ShardMixing, _loss_scales

ROOT = Path(__file__).resolve().parents[1]
RTOL = 1e-5  # measured 1.2e-7; float reduction order differs, see the module's docstring
TRAIN_RECIPE = ["train", "--dataset", "digits", "--imbalance-ratio", "10", "--batch-size", "64", "--precision",
                "fp32", "--no-progress"]
TRAIN = [*TRAIN_RECIPE, "--method", "fbcd", "--u", "4"]


def test_shard_slice_splits_a_batch_into_contiguous_near_equal_parts():
    for batch in range(0, 20):
        for processes in (1, 2, 3, 4):
            parts = [shard_slice(batch, r, processes) for r in range(processes)]
            assert parts[0].start == 0 and parts[-1].stop == batch
            assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))
            sizes = [p.stop - p.start for p in parts]
            assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("processes, balanced, drop_last", [(2, False, False), (3, True, False), (2, False, True)])
def test_in_memory_shards_together_are_the_one_process_batch(digits_lt, processes, balanced, drop_last):
    """585 images in batches of 64: the last batch (9) splits unevenly; every image, augmentation
    and index of a process's part is bit for bit what one process has in those rows."""
    draws = draw_weights("class_balanced", digits_lt.counts) if balanced else None
    options = dict(train=True, drop_last=drop_last, class_draws=draws)
    whole = torch.Generator().manual_seed(3)
    alone = list(iterate_batches(digits_lt.train, 64, digits_lt.augment, generator=whole, **options))
    parts = []
    for rank in range(processes):
        generator = torch.Generator().manual_seed(3)
        parts.append(list(iterate_batches(digits_lt.train, 64, digits_lt.augment, generator=generator,
                                          shard=(rank, processes), **options)))
        assert torch.equal(generator.get_state(), whole.get_state())  # every process stays in step
    assert all(len(p) == len(alone) for p in parts)
    for step, batch in enumerate(alone):
        for i in range(3):
            assert torch.equal(torch.cat([p[step][i] for p in parts]), batch[i])
        for rank in range(processes):
            part = shard_slice(len(batch[1]), rank, processes)
            assert len(parts[rank][step][1]) == part.stop - part.start


def test_streamed_shards_cover_every_global_batch_once(imagenet_lt_tree):
    """10 streamed images, global batch 4, 3 processes: parts of 2/1/1, 2/1/1 and 1/1/0 images
    (an empty part is yielded, so every process takes every step)."""
    data = build_long_tailed("imagenet_lt", None, root=imagenet_lt_tree, image_size=16)
    assert isinstance(data.train, FileImages)
    parts, states = [], []
    for rank in range(3):
        generator = torch.Generator().manual_seed(0)
        parts.append(list(iterate_batches(data.train, 4, data.augment, train=True, generator=generator,
                                          image_size=16, shard=(rank, 3))))
        states.append(generator.get_state())
    assert all(torch.equal(s, states[0]) for s in states)
    assert [[len(b[1]) for b in p] for p in parts] == [[2, 2, 1], [1, 1, 1], [1, 1, 0]]
    assert parts[2][-1][0].shape == (0, data.in_channels, 16, 16)
    seen = torch.cat([b[2] for step in zip(*parts) for b in step])
    assert sorted(seen.tolist()) == list(range(10))
    labels = torch.cat([b[1] for step in zip(*parts) for b in step])
    assert labels.tolist() == data.train.labels[seen.numpy()].tolist()


def scales_of_every_process(monkeypatch, processes, scales_of):
    """``scales_of(rank)`` for every rank, ``_loss_scales``'s all-reduce summing what the ranks give
    (a first pass collects each rank's tensor, a second answers with their sum)."""
    given = []
    monkeypatch.setattr(distributed, "all_reduce_sum", lambda t: given.append(t.clone()) or t)
    for rank in range(processes):
        scales_of(rank)
    monkeypatch.setattr(distributed, "all_reduce_sum", lambda t: t.copy_(sum(given)))
    return [scales_of(rank) for rank in range(processes)]


@pytest.mark.parametrize("loss", ["ce", "focal"])
@pytest.mark.parametrize("weighted, weight_l1, by_cluster", [(True, True, False), (True, False, False),
                                                             (True, True, True), (False, True, False)])
@pytest.mark.parametrize("mixup", [True, False])
def test_scaled_losses_of_the_parts_average_to_the_global_batch_loss(monkeypatch, loss, weighted, weight_l1,
                                                                     by_cluster, mixup):
    """What DDP averages (each process's loss, its terms scaled) has the gradient of the global
    batch's loss: with class weights, cross-entropy's terms divide by their summed weights and
    focal's by the sample count (LDAM-DRW's), L2 with cluster weights by its summed cluster weights,
    and weighted Mixup (paired over the global batch) has
    two terms, each with its own denominator (the pairing makes them differ in each part). The
    losses work in float32, so the parts' means round differently (measured 1e-6 relative); a
    wrong scale would be off by a factor such as 9/8."""
    torch.manual_seed(0)
    size, clusters_n, classes, processes = 9, 6, 3, 2
    logits = torch.randn(size, clusters_n, requires_grad=True)
    fbh = torch.randn(size, classes, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 2, 0, 1, 2, 2, 1])
    clusters = labels * 2 + torch.randint(2, (size,))
    soft = F.one_hot(torch.arange(clusters_n), clusters_n).float() * 0.8 + 0.2 / clusters_n
    class_weights = torch.tensor([0.5, 1.0, 3.0]) if weighted else None
    cluster_weights = torch.tensor([0.2, 0.6, 1.0, 1.4, 2.0, 0.8]) if by_cluster else None
    main_loss = LOSSES[loss].make(np.ones(clusters_n), MethodConfig(method="ce", loss=loss, focal_gamma=2.0))
    # in the parts of 5 and 4 samples the own weights sum to 5.5 and 8, the partners' to 10.5 and 3
    drawn = Mixing(0.3, torch.tensor([6, 7, 3, 0, 8, 1, 2, 4, 5])) if mixup else None
    options = dict(main_loss=main_loss, class_weights=class_weights, cluster_weights=cluster_weights,
                   weight_l1=weight_l1)

    whole = fbcd_loss(HeadOutputs(logits, fbh), labels, clusters, soft, 0.7, mixing=drawn, **options).total
    expected = torch.autograd.grad(whole, (logits, fbh))

    def shard(rank):
        part = shard_slice(size, rank, processes)
        if mixup:
            return part, ShardMixing(drawn.weight, drawn.perm, part), labels, clusters
        return part, None, labels[part], clusters[part]

    def scales_of(rank):
        part, mixing, y, c = shard(rank)
        return _loss_scales(size, part.stop - part.start, processes, y, c, class_weights, cluster_weights, mixing,
                            l2_by_weights=LOSSES[loss].divides_by_weights, l1_by_weights=weight_l1)

    averaged = [torch.zeros_like(logits), torch.zeros_like(fbh)]
    for rank, scales in enumerate(scales_of_every_process(monkeypatch, processes, scales_of)):
        part, mixing, y, c = shard(rank)
        total = fbcd_loss(HeadOutputs(logits[part], fbh[part]), y, c, soft, 0.7, mixing=mixing, scales=scales,
                          **options).total
        for acc, grad in zip(averaged, torch.autograd.grad(total, (logits, fbh))):
            acc += grad / processes
    for got, want in zip(averaged, expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)


def test_shard_mixing_gives_exactly_the_rows_one_process_mixes():
    values = torch.randn(9, 5)
    drawn = draw_mixing(9, 0.4, torch.Generator().manual_seed(2), torch.device("cpu"))
    mixed = drawn.mix(values)
    rows = torch.cat([ShardMixing(drawn.weight, drawn.perm, shard_slice(9, r, 2)).mix(values) for r in range(2)])
    assert torch.equal(rows, mixed)


def test_one_process_is_untouched():
    """Outside torchrun every helper is a no-op and SyncBatchNorm conversion is plain BatchNorm."""
    assert not distributed.is_distributed() and distributed.rank() == 0 and distributed.world_size() == 1
    assert distributed.is_main() and distributed.init("cpu") == "cpu"
    assert distributed.broadcast_object({"a": 1}) == {"a": 1} and distributed.main_first(lambda: 5) == 5
    assert distributed.from_main(lambda: 6) == 6
    t = torch.ones(2)
    assert distributed.all_reduce_sum(t) is t and torch.equal(t, torch.ones(2))
    assert distributed.check_global_batch(64, 2) == 32
    with pytest.raises(ValueError, match="must be divisible by 2"):
        distributed.check_global_batch(63, 2)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4))
    weight, mean = model[1].weight, model[1].running_mean
    x = torch.randn(5, 1, 6, 6)
    before, state = model(x), {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    distributed.convert_sync_batchnorm(model, torch.device("cpu"))
    assert isinstance(model[1], distributed.CpuSyncBatchNorm) and model[1].weight is weight
    assert model[1].running_mean is mean and model.state_dict().keys() == state.keys()
    model.load_state_dict(state)
    assert torch.equal(model(x), before)
    assert distributed.wrap(model, torch.device("cpu"), sync_bn=True) is model


# ------------------------------------------------------------------------ two processes, torchrun

needs_gloo = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                                reason="this PyTorch build has no torch.distributed with the gloo backend")


def launch_env():
    """This checkout first on the path, one thread a process, no torchrun variables of an outer job."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    return env


def torchrun(processes, *options):
    """The torchrun launcher of ``processes`` processes on this machine."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes), *options]


def launch(args, cwd, processes=None):
    """``python -m fbcd_lab ARGS`` as one process, or under torchrun with ``processes`` processes and
    ``--sync-bn`` (BatchNorm over the whole global batch, as one process has it; one process refuses
    the option, which does nothing there)."""
    launcher, sync = (torchrun(processes), ["--sync-bn"]) if processes else ([sys.executable], [])
    return subprocess.run([*launcher, "-m", "fbcd_lab", *args, *sync], cwd=cwd, env=launch_env(), capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def two_and_one(tmp_path_factory):
    """The same 2-epoch run by 2 processes (A) and by one (B); 585 images in batches of 64, so the
    last batch of 9 splits 5/4 between the processes."""
    folder = tmp_path_factory.mktemp("ddp")
    two = launch([*TRAIN, "--epochs", "2", "--out", "A"], folder, processes=2)
    assert two.returncode == 0, two.stderr[-3000:]
    one = launch([*TRAIN, "--epochs", "2", "--out", "B"], folder)
    assert one.returncode == 0, one.stderr[-3000:]
    return folder, two


def assert_same_training(a, b):
    """Records ``a`` (2 processes) and ``b`` (one) have the same epoch losses up to rounding, the
    same learning rates, and per-class recalls at most one test image apart."""
    assert len(a["history"]) == len(b["history"]) == 2
    for ha, hb in zip(a["history"], b["history"]):
        assert ha["world_size"] == 2 and ha["sync_bn"] is True and "world_size" not in hb
        for key in ("loss", "l2", "l1"):
            assert ha[key] == pytest.approx(hb[key], rel=RTOL), (key, ha[key], hb[key])
        assert ha["lr"] == hb["lr"]
    per_class = 1 / sum(b["metrics"]["top_cluster"]["confusion_matrix"][0])  # one test image of a class
    for rule, metrics in b["metrics"].items():
        diff = np.abs(np.subtract(a["metrics"][rule]["per_class_recall"], metrics["per_class_recall"]))
        assert diff.max() <= per_class + 1e-12, (rule, diff)  # at most one test image per class


@needs_gloo
def test_two_processes_match_one_process_on_the_same_global_batch(two_and_one):
    folder, two = two_and_one
    a = json.loads((folder / "A" / "results.json").read_text())
    b = json.loads((folder / "B" / "results.json").read_text())
    assert_same_training(a, b)
    # rank 0 alone prints, writes the checkpoint and the record
    assert two.stdout.count("wrote A/results.json") == 1 and two.stdout.count("digits: 585 training images") == 1
    assert sorted(p.name for p in (folder / "A").iterdir()) == ["checkpoint.pt", "results.json"]


@needs_gloo
@pytest.mark.parametrize("name", ["cb_focal", "ours_full"])
def test_two_processes_match_one_process_with_class_weights(tmp_path, name):
    """Weighted focal (``cb_focal``: class-balanced weights from the start, LDAM-DRW's batch mean)
    and weighted Mixup (``ours_full``: Mixup throughout, DRW's weights on L2 and L1 in the second of
    2 epochs, two terms each with its own summed weights): 2 processes train one process's run.
    ``ours_full`` with u = 4 as above: with u = 10 float rounding grows to 1e-4 within an epoch of
    Mixup on these digits (measured 2026-12-03, old and new loss code alike; the first step agrees
    to 1e-7), too chaotic for a tolerance that would catch a wrong scale."""
    args = [*TRAIN_RECIPE, "--recipe", name, "--epochs", "2", *(["--u", "4"] if name == "ours_full" else [])]
    two = launch([*args, "--out", "A"], tmp_path, processes=2)
    assert two.returncode == 0, two.stderr[-3000:]
    one = launch([*args, "--out", "B"], tmp_path)
    assert one.returncode == 0, one.stderr[-3000:]
    a, b = (json.loads((tmp_path / out / "results.json").read_text()) for out in ("A", "B"))
    assert a["balancing_switch_epoch"] == (1 if name == "ours_full" else None)
    assert_same_training(a, b)


@needs_gloo
def test_two_processes_resume_and_refuse_an_indivisible_batch(two_and_one):
    """A run continues with the process count it was trained with (a mix would record world_size 1
    for epochs two processes trained, and summarize would then drop a true one-process run as its
    duplicate); another count is refused like any other setting."""
    folder, _ = two_and_one
    before = json.loads((folder / "A" / "results.json").read_text())["history"]
    resumed = launch([*TRAIN, "--epochs", "3", "--resume", "--out", "A"], folder, processes=2)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("resuming A/checkpoint.pt after epoch 2") == 1
    record = json.loads((folder / "A" / "results.json").read_text())
    assert record["history"][:2] == before and len(record["history"]) == 3
    assert record["history"][2]["world_size"] == 2 and record["config"]["extensions"][0]["to_epochs"] == 3
    assert torch.load(folder / "A" / "checkpoint.pt", weights_only=True)["history"] == record["history"]

    alone = launch([*TRAIN, "--epochs", "4", "--resume", "--out", "A"], folder)  # one process continuing
    assert alone.returncode == 2 and "world_size: saved 2, asked 1" in alone.stderr, alone.stderr[-2000:]
    assert json.loads((folder / "A" / "results.json").read_text())["history"] == record["history"]
    pair = launch([*TRAIN, "--epochs", "3", "--resume", "--out", "B"], folder, processes=2)  # and the reverse
    assert pair.returncode != 0 and "world_size: saved 1, asked 2" in pair.stderr, pair.stderr[-3000:]

    bad = launch([*TRAIN, "--epochs", "2", "--batch-size", "63", "--out", "C"], folder, processes=2)
    assert bad.returncode != 0
    errors = [line for line in bad.stderr.splitlines() if line.startswith("python -m fbcd_lab train: error:")]
    assert errors == [  # once: process 0 reports, process 1 ends quietly
        "python -m fbcd_lab train: error: batch size 63 is the global batch of 2 processes and "
        "must be divisible by 2 (each takes batch/2 of every batch; set --batch-size)"], bad.stderr[-2000:]
    assert not (folder / "C").exists()


def child_of_rank(parent: int, rank: int) -> int:
    """The pid of ``parent``'s child process whose environment says RANK=``rank``."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                environ = (proc / "environ").read_bytes().split(b"\0")
            except (OSError, IndexError):
                continue
            if ppid == parent and f"RANK={rank}".encode() in environ:
                return int(proc.name)
    raise AssertionError(f"no child of {parent} with RANK={rank}")


@needs_gloo
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds torchrun's children through /proc (Linux)")
def test_a_killed_process_leaves_the_survivor_one_line_and_the_checkpoint(tmp_path):
    """kill -9 of process 1 in the middle of a run: process 0's next gradient all-reduce fails, and it
    says so in one line naming the checkpoint and --resume, not in gloo's traceback (torchrun's own
    monitor, slowed here, would otherwise stop process 0 first with SIGTERM, an interruption)."""
    job = subprocess.Popen([*torchrun(2, "--monitor-interval", "5"), "-m", "fbcd_lab", *TRAIN, "--epochs", "5000",
                            "--out", "A"], cwd=tmp_path, env=launch_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "A" / "checkpoint.pt").is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        os.kill(child_of_rank(job.pid, 1), signal.SIGKILL)
        _, err = job.communicate(timeout=150)
    finally:
        job.kill()
    said = [line for line in err.splitlines() if line.startswith("python -m fbcd_lab train: error:")]
    assert len(said) == 1 and said[0].startswith(
        "python -m fbcd_lab train: error: process 0 stops: another process of this torchrun job ended ("), err[-3000:]
    assert said[0].endswith("A/checkpoint.pt keeps the last finished epoch: run the same torchrun command with --resume")
    assert "[rank0]" not in err and "GLHF" not in err, err[-3000:]  # no traceback of process 0
    assert torch.load(tmp_path / "A" / "checkpoint.pt", weights_only=True)["history"]
