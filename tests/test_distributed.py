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
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

from fbcd_lab import distributed
from fbcd_lab.data import build_long_tailed
from fbcd_lab.data.batches import iterate_batches, shard_slice
from fbcd_lab.data.images import FileImages
from fbcd_lab.data.mixup import draw_mixing
from fbcd_lab.losses import fbcd_loss
from fbcd_lab.models.two_head import HeadOutputs
from fbcd_lab.training import ShardMixing, _loss_scales

ROOT = Path(__file__).resolve().parents[1]
RTOL = 1e-5  # measured 1.2e-7; float reduction order differs, see the module's docstring
TRAIN = ["train", "--dataset", "digits", "--imbalance-ratio", "10", "--method", "fbcd", "--u", "4",
         "--batch-size", "64", "--sync-bn", "--precision", "fp32", "--no-progress"]


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
    options = dict(train=True, drop_last=drop_last, balanced=balanced)
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


@pytest.mark.parametrize("weight_l1", [True, False])
def test_scaled_losses_of_the_parts_average_to_the_global_batch_loss(monkeypatch, weight_l1):
    """What DDP averages (each process's loss times its scale) has the gradient of the global
    batch's loss, here with class weights and Mixup paired over the global batch. The losses work
    in float32, so the parts' means round differently (measured 1e-6 relative); a wrong scale
    would be off by a factor such as 9/8."""
    torch.manual_seed(0)
    size, clusters_n, classes, processes = 9, 6, 3, 2
    logits = torch.randn(size, clusters_n, requires_grad=True)
    fbh = torch.randn(size, classes, requires_grad=True)
    labels = torch.randint(classes, (size,))
    clusters = labels * 2 + torch.randint(2, (size,))
    soft = F.one_hot(torch.arange(clusters_n), clusters_n).float() * 0.8 + 0.2 / clusters_n
    class_weights = torch.tensor([0.5, 1.0, 3.0])
    drawn = draw_mixing(size, 1.0, torch.Generator().manual_seed(1), torch.device("cpu"))
    options = dict(class_weights=class_weights, weight_l1=weight_l1)

    whole = fbcd_loss(HeadOutputs(logits, fbh), labels, clusters, soft, 0.7, mixing=drawn, **options).total
    expected = torch.autograd.grad(whole, (logits, fbh))

    mixed_weights = drawn.mix(class_weights[labels])
    global_denominators = torch.stack([mixed_weights.sum(), mixed_weights.sum() if weight_l1 else
                                       torch.tensor(float(size))])
    monkeypatch.setattr(distributed, "all_reduce_sum", lambda t: t.copy_(global_denominators))
    averaged = [torch.zeros_like(logits), torch.zeros_like(fbh)]
    for rank in range(processes):
        part = shard_slice(size, rank, processes)
        mixing = ShardMixing(drawn.weight, drawn.perm, part)
        outputs = HeadOutputs(logits[part], fbh[part])
        parts = fbcd_loss(outputs, labels, clusters, soft, 0.7, mixing=mixing, **options)
        scales = _loss_scales(size, part.stop - part.start, processes, labels, class_weights, weight_l1, mixing,
                              torch.device("cpu"))
        total = parts.l2 * scales[0] + 0.7 * parts.l1 * scales[1]
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


def launch(args, cwd, processes=None):
    """``python -m fbcd_lab ARGS`` as one process, or under torchrun with ``processes`` processes."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
                if processes else [sys.executable])
    return subprocess.run([*launcher, "-m", "fbcd_lab", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


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


@needs_gloo
def test_two_processes_match_one_process_on_the_same_global_batch(two_and_one):
    folder, two = two_and_one
    a = json.loads((folder / "A" / "results.json").read_text())
    b = json.loads((folder / "B" / "results.json").read_text())
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
    # rank 0 alone prints, writes the checkpoint and the record
    assert two.stdout.count("wrote A/results.json") == 1 and two.stdout.count("digits: 585 training images") == 1
    assert sorted(p.name for p in (folder / "A").iterdir()) == ["checkpoint.pt", "results.json"]


@needs_gloo
def test_two_processes_resume_and_refuse_an_indivisible_batch(two_and_one):
    folder, _ = two_and_one
    before = json.loads((folder / "A" / "results.json").read_text())["history"]
    resumed = launch([*TRAIN, "--epochs", "3", "--resume", "--out", "A"], folder, processes=2)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("resuming A/checkpoint.pt after epoch 2") == 1
    record = json.loads((folder / "A" / "results.json").read_text())
    assert record["history"][:2] == before and len(record["history"]) == 3
    assert record["history"][2]["world_size"] == 2 and record["config"]["extensions"][0]["to_epochs"] == 3
    assert torch.load(folder / "A" / "checkpoint.pt", weights_only=True)["history"] == record["history"]

    bad = launch([*TRAIN, "--epochs", "2", "--batch-size", "63", "--out", "C"], folder, processes=2)
    assert bad.returncode != 0
    errors = [line for line in bad.stderr.splitlines() if line.startswith("python -m fbcd_lab train: error:")]
    assert errors == [  # once: process 0 reports, process 1 ends quietly
        "python -m fbcd_lab train: error: batch size 63 is the global batch of 2 processes and "
        "must be divisible by 2 (each takes batch/2 of every batch; set --batch-size)"], bad.stderr[-2000:]
    assert not (folder / "C").exists()
