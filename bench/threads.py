"""CPU threads for small and large models, on an idle machine and beside two busy processes.

Small models on tiny images lose badly to oversubscription: when other processes hold the cores,
OpenMP threads of one step wait for each other. This measures, with 1 and 2 intra-op threads and
with the thread count the trainer picks by itself (``fit(threads=None)``):
- the training lab's default run: digits, ratio 100, FBH + CDH, small CNN, 30 epochs (wall time);
- a large model: ResNet-32, FBH + CDH, CIFAR-10-LT ratio 100 from the JPEG folders, batch 128
  (images/s over 30 steps after 3 warm-up steps).
"Loaded" runs two processes spinning `python -c "while True: pass"` beside the measurement.
Prints a table and writes JSON. Run it on an otherwise idle machine.

    python bench/threads.py [--data-root ../shared/data/cifar10-jpeg] [--out bench/results/threads.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from fbcd_lab.config import MethodConfig, preset
from fbcd_lab.data import build_long_tailed
from fbcd_lab.data.sources import cifar10_jpeg_root
from fbcd_lab.runtime import available_cpus, library_versions
from fbcd_lab.training import training_step_flops, fit, start_run

ROOT = Path(__file__).resolve().parents[1]
LOAD_COMMAND = [sys.executable, "-c", "while True: pass"]


@contextmanager
def busy_processes(count: int):
    """``count`` processes spinning on the CPU for the duration of the block."""
    procs = [subprocess.Popen(LOAD_COMMAND) for _ in range(count)]
    time.sleep(0.5)
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def lab_run_seconds(threads: int | None) -> float:
    """Wall time of the lab's default run (data build, 30 epochs, no evaluation)."""
    start = time.perf_counter()
    data = build_long_tailed("digits", 100)
    run = start_run(data, MethodConfig(method="fbcd", backbone="small_cnn"), preset("digits"), seed=0)
    fit(run, data, progress=False, threads=threads)
    return time.perf_counter() - start


def large_images_per_s(data, threads: int | None, steps: int = 30, warmup: int = 3) -> float:
    """Training images/s of ResNet-32 FBH + CDH over ``steps`` steps after ``warmup`` steps."""
    run = start_run(data, MethodConfig(method="fbcd", backbone="resnet32"), preset("paper_cifar"), seed=0)
    marks = []

    def stop() -> bool:
        marks.append(time.perf_counter())
        return len(marks) > warmup + steps

    fit(run, data, progress=False, should_stop=stop, threads=threads)
    return steps * run.optim.batch_size / (marks[-1] - marks[warmup])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=cifar10_jpeg_root())
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "threads.json")
    args = parser.parse_args()
    cifar = build_long_tailed("imagefolder", 100, root=args.data_root)
    digits = build_long_tailed("digits", 100)
    probe = start_run(digits, MethodConfig(method="fbcd", backbone="small_cnn"), preset("digits"))
    large = start_run(cifar, MethodConfig(method="fbcd", backbone="resnet32"), preset("paper_cifar"))
    flops = {"lab": training_step_flops(probe, digits), "large": training_step_flops(large, cifar)}
    lab_run_seconds(1)  # warm caches and imports once
    rows = []
    for load in (0, 2):
        with busy_processes(load):
            for threads in (1, 2, None):
                label = "auto" if threads is None else str(threads)
                lab = min(lab_run_seconds(threads) for _ in range(2))
                rate = large_images_per_s(cifar, threads)
                rows.append({"busy_processes": load, "threads": label, "lab_run_s": round(lab, 2),
                             "resnet32_images_per_s": round(rate, 1)})
                print(f"busy {load}  threads {label:>4}  lab run {lab:6.2f} s  ResNet-32 {rate:7.1f} img/s",
                      flush=True)
    result = {"machine": platform.processor() or platform.machine(), "cpus": available_cpus(),
              "default_threads": torch.get_num_threads(), "step_gflops": {k: v / 1e9 for k, v in flops.items()},
              "load_command": " ".join(LOAD_COMMAND), "date": time.strftime("%Y-%m-%d"),
              "versions": library_versions(), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
