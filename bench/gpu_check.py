"""The GPU check of issue 11, in ONE command that fits one device call (at most 10 minutes):

1. data: the packed CIFAR-10-LT (ratio 100) decodes there to the same tensors as here (SHA-256);
2. agreement: CUDA against the CPU on the same weights and batch: fp32 logits, loss and gradients
   (TF32 off), eval-mode logits, bf16 autocast loss (relative tolerance stated in the JSON), and
   the whole-batch augmentation;
3. speed: a torch.profiler breakdown of a few training steps of FBH + CDH (data and augmentation,
   forward with the loss, backward, optimiser, bookkeeping, and one evaluation; top ops by CUDA
   time; host syncs, counted and located with CUDA's sync debug mode over one whole epoch of the
   library's own ``fit``); the reference PIL + DataLoader pipeline (LDAM-DRW style, fp32, 8
   workers) for a few epochs' steps, extrapolated to 200 epochs; then the full 200-epoch
   CIFAR-10-LT ratio-100 ResNet-32 FBH + CDH run (``preset("paper_cifar")``, recipe ``ours``, seed
   0) evaluated on the test set after every epoch, timed end to end, and the issue's two targets:
   full run <= 120 s on one H100, and >= 8x the reference;
4. tables: the recipes of Table 1 (``fbcd_lab.recipes.RECIPES``) under the paper protocol, seeds
   0 1 2, most important first (seed 0 of ce, ours, ours_full, la_loss, ldam_drw, then the other
   recipes; then seeds 1 and 2 in that order). The full run of part 3 is ``ours`` seed 0 (extra
   evaluation does not change training), so it is not run twice. Each run starts only if its
   estimated time fits before ``--deadline-s`` (counted from the start of the process), and a run
   that still reaches the deadline stops cleanly and is recorded as ``stopped``.

Profile and reference run before the full run so that a full run slower than hoped cannot take
them down with it. After every part ``gpu_check.json`` is rewritten, and after every run
``records.json`` (all runs' results records, JSON only, no checkpoints), so a command cut off by its
time limit still returns what it did. Files written under ``--out``: gpu_check.json, records.json,
profile_ops.txt (plus the log the command line tees): at most 4 of the 8 files that come back.

Prepare here (the tar travels in the ignored folder .gpu_data, named in ``carry``)::

    python bench/pack_gpu_data.py        # writes .gpu_data/cifar10_lt100.tar.gz (7.1 MiB)

The device command (tool ``run``, ``carry: [".gpu_data"]``, ``timeout_s: 570``)::

    set -o pipefail; PYTHONPATH=. PYTHONUNBUFFERED=1 python3 bench/gpu_check.py --data .gpu_data/cifar10_lt100.tar.gz --out $OUT --deadline-s 540 2>&1 | tee $OUT/log.txt

Back here, records to ``results/cifar10_lt_gpu/`` and a table (``files_at`` from the reply)::

    python bench/gpu_tables.py FILES_AT          # see its --help

With device time left, a second call adds table runs: copy the first records.json to
``.gpu_data/done1.json`` and add ``--tables-only --done .gpu_data/done1.json`` to the same line;
then ``python bench/gpu_tables.py FILES_AT_1 FILES_AT_2``.

Rehearsal on a CPU (the same code path; ``--shrink`` keeps that fraction of every class and of the
test set, and marks the data spec so such records never pool with real ones)::

    OMP_NUM_THREADS=1 python bench/gpu_check.py --data .gpu_data/cifar10_lt100.tar.gz --out /tmp/gpu_rehearsal \\
        --device cpu --epochs 1 --shrink 0.05 --ref-steps 3 --profile-steps 3 --deadline-s 110

Through fbcd_lab it imports torch, torchvision, numpy, scipy, scikit-learn (which loads pandas when
it is there), Pillow and tqdm, all in the GPU machine's Python; never plotly,
ipywidgets or Jupyter (``modules_loaded`` in gpu_check.json says so from the run itself).
"""

from __future__ import annotations

import time

T0 = time.monotonic()  # the deadline counts from here, before the heavy imports

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from collections import Counter  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

import numpy as np  # noqa: E402
import torch  # noqa: E402

from pack_gpu_data import read_packed  # noqa: E402
from throughput import reference_epoch  # noqa: E402

from fbcd_lab import training  # noqa: E402
from fbcd_lab.class_division import soft_label_matrix  # noqa: E402
from fbcd_lab.config import preset  # noqa: E402
from fbcd_lab.data import augment_batch, iterate_batches  # noqa: E402
from fbcd_lab.data.images import TensorImages  # noqa: E402
from fbcd_lab.evaluation import evaluate  # noqa: E402
from fbcd_lab.losses import fbcd_loss  # noqa: E402
from fbcd_lab.recipes import RECIPES, recipe  # noqa: E402
from fbcd_lab.records import evaluate_run, run_record  # noqa: E402
from fbcd_lab.runtime import deterministic_mode, library_versions, resolve_device  # noqa: E402
from fbcd_lab.training import fit, start_run  # noqa: E402

BACKBONE = "resnet32"
METHOD = recipe("ours", BACKBONE)  # FBH + CDH, u = 10, lambda = 1.5, random division
PRIORITY = ("ce", "ours", "ours_full", "la_loss", "ldam_drw")
TARGET_FULL_RUN_S, TARGET_SPEEDUP = 120.0, 8.0
# CUDA against the CPU, TF32 off: fp32 differences are reassociation only; bf16 autocast rounds
# activations to 8 bits of mantissa through 31 layers, so its loss is compared relatively.
TOLERANCES = {"fp32_logits_max_abs": 1e-3, "fp32_loss_abs": 1e-4, "fp32_grad_rel": 1e-3,
              "eval_logits_max_abs": 1e-3, "bf16_loss_rel": 3e-2}
RESERVE_S = 8.0  # kept before the deadline for the last evaluation and writes
RECORDS_FORMAT = "fbcd_lab gpu_check records, version 1"


def table_order(seeds: list[int]) -> list[tuple[str, int]]:
    """(recipe, seed) runs, most important first: the priority recipes, then the rest of Table 1,
    for each seed in turn."""
    names = [*PRIORITY, *(name for name in RECIPES if name not in PRIORITY)]
    return [(name, seed) for seed in seeds for name in names]


def json_safe(value):
    """Strict JSON: non-finite floats become strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_json(path: Path, value) -> None:
    """Write strict JSON atomically (a run killed mid-write leaves the previous file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(json_safe(value), indent=1, allow_nan=False))
    tmp.replace(path)


def elapsed() -> float:
    return time.monotonic() - T0


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def shrink(data, fraction: float):
    """A smaller copy for CPU rehearsals: the first ceil(fraction x n_c) training images of every class
    (still long-tailed) and every round(1 / fraction)-th test image. Its spec says so."""
    labels = data.train.labels
    keep = np.concatenate([np.flatnonzero(labels == c)[:max(2, math.ceil(fraction * n))]
                           for c, n in enumerate(data.counts)])
    step = max(1, round(1 / fraction))
    test = data.test.subset(np.arange(0, len(data.test), step))
    train = data.train.subset(keep)
    counts = tuple(int(n) for n in np.bincount(train.labels, minlength=data.num_classes))
    fingerprint = replace(data.fingerprint, counts=counts, indices_sha256=f"rehearsal subset of {data.fingerprint.indices_sha256}")
    return replace(data, name=f"{data.name}_rehearsal", train=train, test=test, counts=counts, fingerprint=fingerprint,
                   spec={**data.spec, "rehearsal_shrink": fraction})


# --- 2. agreement ---------------------------------------------------------------------------------

def agreement(data, device: torch.device) -> dict:
    """Same weights and batch on the CPU and ``device``: fp32 logits, loss and gradients, eval-mode
    logits, bf16 loss, and the whole-batch augmentation, compared (TF32 off for the fp32 parts)."""
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        run = start_run(data, METHOD, preset("paper_cifar"), device="cpu", precision="fp32")
        cpu_model = run.model.train()
        gpu_model = copy.deepcopy(cpu_model).to(device)
        # a seeded shuffled, augmented batch: every class can appear (the first 128 in order are all class 0)
        x, y, idx = next(iterate_batches(data.train, 128, data.augment, train=True,
                                         generator=torch.Generator().manual_seed(1)))
        soft = torch.as_tensor(soft_label_matrix(run.division, METHOD.alpha), dtype=torch.float32)
        clusters = torch.as_tensor(run.division.cluster_of_sample)[idx]
        results = {}
        for name, model, dev in (("cpu", cpu_model, torch.device("cpu")), ("gpu", gpu_model, device)):
            out = model(x.to(dev))
            loss = fbcd_loss(out, y.to(dev), clusters.to(dev), soft.to(dev), METHOD.lam).total
            loss.backward()
            grads = torch.cat([p.grad.flatten().cpu() for p in model.parameters()])
            model.eval()
            with torch.no_grad():
                eval_logits = model(x.to(dev)).cluster_logits.cpu()
            model.train()
            results[name] = (out.cluster_logits.detach().cpu(), out.fbh_logits.detach().cpu(), loss.item(), grads,
                             eval_logits)
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16):
            out = gpu_model(x.to(device))
        bf16_loss = fbcd_loss(out, y.to(device), clusters.to(device), soft.to(device), METHOD.lam).total.item()
        bf16_logits = out.cluster_logits.float().cpu()
        images = data.train.images[:256]
        aug_cpu = augment_batch(images, data.augment, torch.Generator().manual_seed(5))
        aug_gpu = augment_batch(images.to(device), data.augment, torch.Generator().manual_seed(5)).cpu()
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    c, g = results["cpu"], results["gpu"]
    report = {
        "compared": f"cpu against {device}", "batch_classes": sorted(set(y.tolist())),
        "max_abs_diff_cluster_logits": (c[0] - g[0]).abs().max().item(),
        "max_abs_diff_fbh_logits": (c[1] - g[1]).abs().max().item(),
        "max_abs_diff_eval_logits": (c[4] - g[4]).abs().max().item(),
        "loss_cpu": c[2], "loss_gpu": g[2], "loss_gpu_bf16": bf16_loss,
        "bf16_loss_rel_diff": abs(bf16_loss - c[2]) / abs(c[2]),
        "bf16_logits_rel_diff": ((bf16_logits - c[0]).norm() / c[0].norm()).item(),
        "grad_rel_diff": ((c[3] - g[3]).norm() / c[3].norm()).item(),
        "augmentation_identical": bool(torch.equal(aug_cpu, aug_gpu)),
        "tolerances": TOLERANCES,
    }
    report["ok"] = bool(report["max_abs_diff_cluster_logits"] < TOLERANCES["fp32_logits_max_abs"]
                        and report["max_abs_diff_fbh_logits"] < TOLERANCES["fp32_logits_max_abs"]
                        and report["max_abs_diff_eval_logits"] < TOLERANCES["eval_logits_max_abs"]
                        and abs(c[2] - g[2]) < TOLERANCES["fp32_loss_abs"]
                        and report["grad_rel_diff"] < TOLERANCES["fp32_grad_rel"]
                        and report["bf16_loss_rel_diff"] < TOLERANCES["bf16_loss_rel"]
                        and report["augmentation_identical"])
    return report


# --- 3a. profile ------------------------------------------------------------------------------------

class Phases:
    """Labels each phase of a step for torch.profiler; with ``synced``, also times it on the host
    clock with a device sync before and after (a serialised per-phase latency)."""

    def __init__(self, device: torch.device, synced: bool = False) -> None:
        self.device, self.synced, self.seconds = device, synced, Counter()

    @contextmanager
    def __call__(self, name: str):
        with torch.profiler.record_function(name):
            if self.synced:
                sync(self.device)
                start = time.perf_counter()
            yield
            if self.synced:
                sync(self.device)
                self.seconds[name] += time.perf_counter() - start


class ReplicaSteps:
    """The training step of ``fbcd_lab.training._train_epoch`` (one process, no Mixup or balancing:
    the ``ours`` recipe), copied phase by phase so each phase can be labelled."""

    def __init__(self, run, data) -> None:
        self.run, self.data = run, data
        self.objective = training._objective(run, data)
        self.batches = self._epoch()
        self.sums = torch.zeros(3, device=run.device)

    def _epoch(self):
        return iterate_batches(self.objective.train_set, self.run.optim.batch_size, self.data.augment, train=True,
                               generator=self.run.generator, device=self.run.device, image_size=self.data.image_size)

    def __call__(self, steps: int, phase) -> None:
        run, device, method = self.run, self.run.device, self.run.method
        _, soft, cluster_of_sample, main_loss, _ = self.objective
        lam = method.lam if method.uses_fbh else 0.0
        run.model.train()
        for _ in range(steps):
            with phase("data"):  # the epoch's order and crop/flip draws come with its first batch
                batch = next(self.batches, None)
                if batch is None:
                    self.batches = self._epoch()
                    batch = next(self.batches)
                x, y, idx = batch
            with phase("forward"):
                for group in run.optimizer.param_groups:
                    group["lr"] = run.optim.lr * run.optim.lr_factor(0, 0.5)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=run.precision == "bf16"):
                    outputs = run.model(x.contiguous(memory_format=torch.channels_last))
                parts = fbcd_loss(outputs, y, cluster_of_sample[idx.to(device)], soft, lam, main_loss=main_loss)
            with phase("backward"):
                run.optimizer.zero_grad(set_to_none=True)
                parts.total.backward()
            with phase("optimizer"):
                run.optimizer.step()
            with phase("bookkeeping"):
                self.sums += torch.stack([p.detach() for p in parts]) * len(y)


def _attr(row, *names: str) -> float:
    for name in names:
        if hasattr(row, name):
            return float(getattr(row, name))
    return 0.0


def _device_times(row) -> tuple[float, float]:
    """(self, total) device time of a profiler row in microseconds, across PyTorch versions."""
    return (_attr(row, "self_device_time_total", "self_cuda_time_total"),
            _attr(row, "device_time_total", "cuda_time_total"))


SYNC_CALLS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize", "cudaMemcpy",
              "cudaMemcpyAsync", "cudaStreamWaitEvent")
PHASES = ("data", "forward", "backward", "optimizer", "bookkeeping", "evaluation")


def profile(data, device: torch.device, steps: int, epochs: int, out: Path) -> dict:
    """Step time unsynced and per phase, a torch.profiler table of ``steps`` steps and one evaluation,
    the host syncs of one epoch of the library's ``fit``, and one evaluation's cost with the test set
    copied per call (as the library does) or kept on the device. A failing measurement is recorded
    under ``errors`` and the others still run."""
    result: dict = {"steps": steps, "recipe": "ours", "errors": {}}
    run = start_run(data, METHOD, preset("paper_cifar", epochs=epochs), device=device)
    replica = ReplicaSteps(run, data)
    result["precision"] = run.precision

    def attempt(name: str, fn) -> None:
        try:
            with deterministic_mode(False, device):  # cuDNN autotuning, as fit has it
                fn()
        except Exception as err:  # noqa: BLE001 - e.g. a profiler that cannot start on this machine
            result["errors"][name] = f"{type(err).__name__}: {err}"
            traceback.print_exc()

    def unsynced() -> None:
        replica(max(3, steps // 2), Phases(device))  # warm-up: autotuning, allocator, first epoch's draws
        sync(device)
        start = time.perf_counter()
        replica(steps, Phases(device))
        host = time.perf_counter() - start
        sync(device)
        total = time.perf_counter() - start
        result["unsynced"] = {"ms_per_step": 1e3 * total / steps, "host_ms_per_step": 1e3 * host / steps,
                              "images_per_s": steps * run.optim.batch_size / total,
                              "note": "host_ms_per_step close to ms_per_step means the step is bound by the "
                                      "host launching kernels, not by the GPU"}

    def synced() -> None:
        timed = Phases(device, synced=True)
        replica(steps, timed)
        result["synced_phase_ms_per_step"] = {k: 1e3 * v / steps for k, v in timed.seconds.items()}

    def profiled() -> None:
        activities = [torch.profiler.ProfilerActivity.CPU]
        if device.type == "cuda":
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        phase = Phases(device)
        with torch.profiler.profile(activities=activities) as prof:
            replica(steps, phase)
            with phase("evaluation"):
                evaluate(run.model, data)
            sync(device)
        result.update(profile_tables(prof, device, steps))
        sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
        rows = prof.key_averages()
        try:
            text = rows.table(sort_by=sort, row_limit=40, max_name_column_width=60)
        except Exception:  # noqa: BLE001 - a renamed sort key must not cost the rest of the check
            text = rows.table(row_limit=40)
        (out / "profile_ops.txt").write_text(
            f"torch.profiler, {steps} training steps of FBH + CDH (ResNet-32, batch {run.optim.batch_size}, "
            f"{run.precision}) and one test evaluation on {device}\n\n{text}\n")

    def audit() -> None:
        result["sync_audit"] = sync_audit(data, device)

    def evaluation() -> None:  # as fit evaluates every epoch
        result["evaluation_ms"] = evaluation_costs(run, data, device)

    for name, fn in (("unsynced", unsynced), ("synced", synced), ("profiler", profiled), ("sync_audit", audit),
                     ("evaluation", evaluation)):
        attempt(name, fn)
    return result


def profile_tables(prof, device: torch.device, steps: int) -> dict:
    """Per-phase host and device time, device busy time per step, top ops, runtime calls and syncs."""
    result: dict = {}
    phases, busy_us = {}, 0.0
    for evt in prof.events():
        kind = str(getattr(evt, "device_type", "CPU"))
        if evt.name in PHASES and kind.endswith("CPU"):  # a labelled range: its host time, its kernels' time
            entry = phases.setdefault(evt.name, {"count": 0, "cpu_ms": 0.0, "device_ms": 0.0})
            entry["count"] += 1
            entry["cpu_ms"] += _attr(evt, "cpu_time_total") / 1e3
            entry["device_ms"] += _attr(evt, "device_time_total", "cuda_time_total") / 1e3
        elif kind.endswith("CUDA") and evt.name not in PHASES and not getattr(evt, "is_user_annotation", False):
            busy_us += evt.time_range.elapsed_us()  # kernels, copies and memsets, one stream
    result["profiled_phases_ms"] = phases
    rows = prof.key_averages()
    ops = [row for row in rows if row.key not in PHASES]
    key = (lambda r: _device_times(r)[0]) if device.type == "cuda" else (lambda r: _attr(r, "self_cpu_time_total"))
    result["top_ops"] = [{"op": r.key, "count": r.count, "self_device_ms": _device_times(r)[0] / 1e3,
                          "self_cpu_ms": _attr(r, "self_cpu_time_total") / 1e3,
                          "cpu_total_ms": _attr(r, "cpu_time_total") / 1e3}
                         for r in sorted(ops, key=key, reverse=True)[:25]]
    eval_device_ms = phases.get("evaluation", {}).get("device_ms", 0.0)
    result["gpu_busy_ms_per_step"] = (busy_us / 1e3 - eval_device_ms) / steps if device.type == "cuda" else None
    result["gpu_busy_note"] = ("all device activity in the profile (kernels, copies, memsets) less the kernels "
                               "launched under 'evaluation', per training step")
    result["runtime_calls_in_profile"] = {r.key: r.count for r in rows if r.key.startswith(("cuda", "cuLaunch"))}
    result["sync_calls_in_profile"] = {r.key: r.count for r in rows if r.key in SYNC_CALLS}
    return result


def sync_audit(data, device: torch.device) -> dict:
    """One epoch of the library's own ``fit`` with evaluation (eval_every=1) under CUDA's sync debug
    mode: every synchronising call, counted by the line that made it. Nothing to count on the CPU."""
    run = start_run(data, METHOD, preset("paper_cifar", epochs=1), device=device)
    if device.type != "cuda":
        fit(run, data, eval_every=1, progress=False)
        return {"note": "CPU: no device syncs exist", "epochs": run.epochs_done}
    places: Counter = Counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fit(run, data, eval_every=1, progress=False)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    for w in caught:
        if "synchroniz" in str(w.message).lower():
            places[f"{os.path.relpath(w.filename, BENCH.parent)}:{w.lineno}"] += 1
    steps = -(-len(data.train) // run.optim.batch_size)
    return {"epoch_steps": steps, "syncs": sum(places.values()), "by_line": dict(places.most_common(20))}


def evaluation_costs(run, data, device: torch.device, repeats: int = 3) -> dict:
    """Median wall time of one ``evaluate`` (all metrics) as fit calls it every epoch, the test set
    copied to the device each call; and with the test set kept there (not what the library does)."""
    kept = replace(data, test=data.test.to(device)) if isinstance(data.test, TensorImages) else data
    times = {}
    for name, d in (("library", data), ("test_set_on_device", kept)):
        samples = []
        for _ in range(repeats):
            sync(device)
            start = time.perf_counter()
            evaluate(run.model, d)
            sync(device)
            samples.append(1e3 * (time.perf_counter() - start))
        times[name] = statistics.median(samples)
    return times


# --- 3b. reference, 3c. full run -----------------------------------------------------------------

def reference(data, device: torch.device, steps: int, epochs: int) -> dict:
    workers = min(8, len(os.sched_getaffinity(0))) if device.type == "cuda" else 0
    try:
        ips = reference_epoch(data, workers, steps, device)
    except Exception as err:  # noqa: BLE001 - e.g. too little shared memory for worker processes
        fallback = {"failed_with_workers": workers, "error": f"{type(err).__name__}: {err}"}
        workers, ips = 0, reference_epoch(data, 0, steps, device)
    else:
        fallback = None
    per_epoch = len(data.train) / ips
    return {"images_per_s": ips, "workers": workers, "steps": steps, "precision": "fp32", "epochs": epochs,
            "extrapolated_epochs_s": epochs * per_epoch, "epoch_s": per_epoch, "fallback": fallback,
            "what": "PIL image per item, per-image torchvision transforms, DataLoader, fp32 eager, CE, "
                    "batch 128, ResNet-32; training only (no evaluation)"}


def full_run(data, device: torch.device, epochs: int, should_stop) -> tuple[dict, object]:
    """The paper's CIFAR protocol (our reading: x0.1 at epochs 120 and 160), test mean recall after
    every epoch, timed end to end: model build, training with the evaluations, final evaluation."""
    optim = preset("paper_cifar", epochs=epochs)
    sync(device)
    start = time.perf_counter()
    run = fit(start_run(data, METHOD, optim, device=device), data, eval_every=1, progress=False,
              should_stop=should_stop)
    sync(device)
    train_s = time.perf_counter() - start
    metrics, protocol = evaluate_run(run, data)
    total_s = time.perf_counter() - start
    times = [h["time_s"] for h in run.history]
    summary = {"epochs": run.epochs_done, "epochs_asked": epochs, "status": run.status, "precision": run.precision,
               "train_wall_s": train_s, "end_to_end_s": total_s, "eval_every": 1,
               "first_epoch_s": times[0] if times else None,
               "images_per_s": run.epochs_done * len(data.train) / train_s, "protocol": protocol,
               "extrapolated_full_s": total_s * epochs / run.epochs_done if run.epochs_done else None}
    if metrics:
        summary.update({f"mean_recall_{rule}": m["mean_recall"] for rule, m in metrics.items()})
        summary["accuracy_top_cluster"] = metrics["top_cluster"]["accuracy"]
        summary["group_recall_top_cluster"] = metrics["top_cluster"]["group_recall"]
    return summary, run_record(run, data, metrics, protocol)


# --- 4. tables -------------------------------------------------------------------------------------

def table_run(data, name: str, seed: int, device: torch.device, epochs: int, should_stop) -> dict:
    """One cell and seed as ``study table1`` trains it (no checkpoint files), and its record."""
    run = start_run(data, recipe(name, BACKBONE), preset("paper_cifar", epochs=epochs), seed=seed, device=device)
    fit(run, data, progress=False, should_stop=should_stop)
    return run_record(run, data, *evaluate_run(run, data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="tar.gz from bench/pack_gpu_data.py")
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json, records.json, profile_ops.txt")
    parser.add_argument("--epochs", type=int, default=200, help="epochs of the full run and of every table run")
    parser.add_argument("--deadline-s", type=float, default=540.0,
                        help="seconds from the process start by which everything has stopped (default 540: "
                             "30 s margin inside a 570 s command limit)")
    parser.add_argument("--ref-steps", type=int, default=200, help="timed steps of the reference pipeline (~2 epochs)")
    parser.add_argument("--profile-steps", type=int, default=20, help="steps per profile measurement")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--no-tables", action="store_true", help="stop after the full run")
    parser.add_argument("--tables-only", action="store_true",
                        help="a later call with device time left: data check and table runs only")
    parser.add_argument("--done", type=Path, nargs="*", default=[],
                        help="records.json of earlier calls: their finished runs are not run again")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--shrink", type=float, default=None,
                        help="CPU rehearsal only: keep this fraction of every class and of the test set")
    args = parser.parse_args()
    device = resolve_device(args.device)
    deadline = T0 + args.deadline_s
    args.out.mkdir(parents=True, exist_ok=True)

    def left() -> float:
        return deadline - time.monotonic()

    def should_stop() -> bool:
        return left() < RESERVE_S

    result: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                    "versions": library_versions(), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "argv": sys.argv[1:], "deadline_s": args.deadline_s, "parts": {}}
    records: dict = {"format": RECORDS_FORMAT, "device": result["device"], "epochs": args.epochs,
                     "order": [f"{n}_seed{s}" for n, s in table_order(args.seeds)], "records": {}, "skipped": {},
                     "done_earlier": []}
    earlier_s = []  # training times of earlier calls' runs: the estimate when this call has no full run
    for path in args.done:
        earlier = json.loads(path.read_text())
        finished = {k: r for k, r in earlier["records"].items() if r["status"] == "finished" and r["epochs"] == args.epochs}
        records["done_earlier"] += list(finished)
        earlier_s += [r["wall_time_s"] for r in finished.values()]

    def save() -> None:
        write_json(args.out / "gpu_check.json", result)

    def part(name: str, fn, *fn_args):
        """Run one part, timing it; an exception is recorded and the next part still runs."""
        result["parts"][name] = {"started_s": elapsed(), "status": "running"}
        save()
        print(f"[{elapsed():6.1f} s] {name} ...", flush=True)
        start = time.perf_counter()
        try:
            value = fn(*fn_args)
            status = "done"
        except Exception as err:  # noqa: BLE001 - keep going: later parts still measure something
            value, status = None, f"failed: {type(err).__name__}: {err}"
            result["parts"][name]["traceback"] = traceback.format_exc()[-4000:]
            print(result["parts"][name]["traceback"], flush=True)
        result["parts"][name].update(status=status, wall_s=time.perf_counter() - start)
        if value is not None:
            result[name] = value if not isinstance(value, tuple) else value[0]
        save()
        print(f"[{elapsed():6.1f} s] {name}: {status} in {result['parts'][name]['wall_s']:.1f} s", flush=True)
        return value

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data, provenance = read_packed(args.data, Path(tmp))
    if args.shrink:
        data = shrink(data, args.shrink)
    result["data"] = {**provenance, "load_s": time.perf_counter() - start, "name": data.name,
                      "counts": list(data.counts), "num_test": len(data.test), "spec": data.spec,
                      "imports_and_load_s": elapsed()}
    print(f"[{elapsed():6.1f} s] data: {data.name}, counts {list(data.counts)}, {len(data.test)} test images; "
          f"identical to the packed original: {provenance['identical']} {provenance['differs'] or ''}", flush=True)
    save()

    run_value = None
    if not args.tables_only:
        part("agreement", agreement, data, device)
        part("profile", profile, data, device, args.profile_steps, args.epochs, args.out)
        part("reference", reference, data, device, args.ref_steps, args.epochs)
        run_value = part("full_run", full_run, data, device, args.epochs, should_stop)

    def add_record(key: str, record: dict) -> None:
        record["packed_data"] = provenance
        records["records"][key] = record
        write_json(args.out / "records.json", records)

    if run_value is not None:
        run = result["full_run"]
        if run["status"] == "finished":
            add_record("ours_seed0", run_value[1])
        else:
            records["skipped"]["ours_seed0"] = f"the full run {run['status']} after {run['epochs']} epochs"
        targets = {"full_run_s": run["end_to_end_s"], "full_run_s_max": TARGET_FULL_RUN_S,
                   "full_run_met": run["status"] == "finished" and run["end_to_end_s"] <= TARGET_FULL_RUN_S,
                   "speedup_min": TARGET_SPEEDUP, "note": "speedup: the reference's epochs (extrapolated, "
                   "training only) over the full run's end-to-end time (with an evaluation every epoch)"}
        if "reference" in result and run["extrapolated_full_s"]:
            targets["speedup"] = result["reference"]["extrapolated_epochs_s"] / run["extrapolated_full_s"]
            targets["speedup_met"] = targets["speedup"] >= TARGET_SPEEDUP
        result["targets"] = targets
        save()

    def tables() -> dict:
        durations: dict[str, list[float]] = {}
        fallback = result.get("full_run", {}).get("extrapolated_full_s")  # None if the full run did not run
        eval_ms = result.get("profile", {}).get("evaluation_ms", {}).get("library")
        if fallback and eval_ms:  # table runs evaluate once, the full run after every epoch
            fallback = max(0.5 * fallback, fallback - args.epochs * eval_ms / 1e3)
        if not fallback and earlier_s:
            fallback = max(earlier_s) + 5.0  # their wall time is training only; add the build and evaluation
        done = []
        for name, seed in table_order(args.seeds):
            key = f"{name}_seed{seed}"
            if key in records["records"] or key in records["skipped"] or key in records["done_earlier"]:
                continue
            known = durations.get(name) or [v for vs in durations.values() for v in vs] or ([fallback] if fallback else [])
            estimate = 1.05 * max(known) if known else None
            if estimate is not None and estimate > left() - RESERVE_S:
                records["skipped"][key] = (f"needs ~{estimate:.0f} s, {max(0.0, left() - RESERVE_S):.0f} s usable "
                                           f"before the deadline")
                continue
            if left() < 2 * RESERVE_S:
                records["skipped"][key] = "deadline"
                continue
            start = time.perf_counter()
            try:
                record = table_run(data, name, seed, device, args.epochs, should_stop)
            except Exception as err:  # noqa: BLE001 - one recipe failing must not cost the others
                records["skipped"][key] = f"failed: {type(err).__name__}: {err}"
                traceback.print_exc()
                continue
            took = time.perf_counter() - start
            if record["status"] == "finished":  # a stopped run's time is no estimate
                durations.setdefault(name, []).append(took)
            add_record(key, record)
            done.append(key)
            print(f"[{elapsed():6.1f} s] {key}: {record['status']}, accuracy "
                  f"{record['metrics']['top_cluster']['accuracy'] if record['metrics'] else None}, {took:.1f} s",
                  flush=True)
        write_json(args.out / "records.json", records)
        return {"runs": done, "skipped": len(records["skipped"]), "durations_s": durations}

    if not args.no_tables:
        part("tables", tables)
    result["total_s"] = elapsed()
    result["modules_loaded"] = {m: sys.modules.get(m) is not None for m in ("plotly", "ipywidgets", "IPython", "pandas")}
    save()
    try:
        summary(result, records, args.out)
    except Exception:  # noqa: BLE001 - everything is saved; the printout is a convenience
        traceback.print_exc()


def summary(result: dict, records: dict, out: Path) -> None:
    """The short table the device reply's output tail shows."""
    print(f"\ndevice: {result['device']}; torch {result['versions']['torch']}; {result['total_s']:.0f} s in all")
    print(f"data identical to the packed original: {result['data']['identical']}")
    for name, info in result["parts"].items():
        print(f"  {name:<10} {info['status'][:90]} ({info.get('wall_s', 0):.1f} s)")
    if "agreement" in result:
        a = result["agreement"]
        print(f"agreement ok={a['ok']}: logits {a['max_abs_diff_cluster_logits']:.2e}, grad rel "
              f"{a['grad_rel_diff']:.2e}, bf16 loss rel {a['bf16_loss_rel_diff']:.2e}, augmentation identical "
              f"{a['augmentation_identical']}")
    if "profile" in result:
        p = result["profile"]
        u, busy = p.get("unsynced", {}), p.get("gpu_busy_ms_per_step")
        if u:
            print(f"step: {u['ms_per_step']:.2f} ms unsynced (host {u['host_ms_per_step']:.2f} ms"
                  + ("" if busy is None else f", GPU busy {busy:.2f} ms") + ")")
        print("synced phases ms per step: " + ", ".join(f"{k} {v:.2f}"
                                                       for k, v in p.get("synced_phase_ms_per_step", {}).items()))
        print(f"evaluation ms: {p.get('evaluation_ms')}; syncs in one fit epoch: "
              f"{p.get('sync_audit', {}).get('syncs', '-')}; profile errors: {p['errors'] or 'none'}")
    if "reference" in result:
        r = result["reference"]
        print(f"reference: {r['images_per_s']:.0f} images/s ({r['workers']} workers), {r['epochs']} epochs ~ "
              f"{r['extrapolated_epochs_s']:.0f} s")
    if "full_run" in result:
        f = result["full_run"]
        print(f"full run: {f['epochs']}/{f['epochs_asked']} epochs, {f['status']}, {f['end_to_end_s']:.1f} s end to end "
              f"({f['images_per_s']:.0f} images/s, {f['precision']}), mean recall "
              f"{f.get('mean_recall_top_cluster', float('nan')):.4f}, accuracy {f.get('accuracy_top_cluster', float('nan')):.4f}")
    if "targets" in result:
        t = result["targets"]
        print(f"targets: full run {t['full_run_s']:.1f} s <= {t['full_run_s_max']:.0f} s: {t['full_run_met']}; "
              f"speedup {t.get('speedup', float('nan')):.1f}x >= {t['speedup_min']:.0f}x: {t.get('speedup_met')}")
    print(f"records: {len(records['records'])} ({', '.join(records['records'])}); skipped {len(records['skipped'])}")
    print(f"files: {', '.join(sorted(p.name for p in out.iterdir() if p.is_file()))}")


if __name__ == "__main__":
    main()
