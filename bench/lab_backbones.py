"""Would a lighter digits model bring the training lab's retrain under 1 s? Time against accuracy.

The lab's retrain spends about two thirds of its time in convolutions running near one core's fp32
peak, so only fewer FLOPs make it much faster. This trains the lab's default run (digits ratio 100
with its validation split, 30 epochs, one thread, fp32) for CE and FBH + CDH over five seeds with
the kit's ``small_cnn`` and with lighter candidates (built here, not in the library), and prints
each one's GFLOP per step, median ``fit`` time and final test mean recall. Run it on an idle machine.

    python bench/lab_backbones.py [--seeds 5] [--out bench/results/lab_backbones.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch.nn as nn

from fbcd_lab.config import DEFAULT_BACKBONE, MethodConfig
from fbcd_lab.config import preset as optim_preset
from fbcd_lab.data import LongTailData, build_long_tailed
from fbcd_lab.evaluation import mean_recall
from fbcd_lab.models import backbones
from fbcd_lab.runtime import cpu_has_amx_bf16, cpu_model, library_versions
from fbcd_lab import training
from fbcd_lab.training import fit, start_run, training_step_flops
from fbcd_lab.ui.panel import DIGITS_SPLIT

ROOT = Path(__file__).resolve().parents[1]
LAB = "digits"


def _stack(*layers: int | str):
    """A plain CNN: an int is a 3x3 conv + BN + ReLU to that many channels, "pool" a 2x2 max-pool."""
    def build(in_channels: int, input_size: int) -> nn.Module:
        modules, channels = [], in_channels
        for layer in layers:
            if layer == "pool":
                modules.append(nn.MaxPool2d(2))
            else:
                modules += backbones._conv_bn_relu(channels, layer)
                channels = layer
        return nn.Sequential(*modules)
    return build


CANDIDATES = {
    "small_cnn (the kit's: 32, 64, pool, 80)": backbones._BUILDERS["small_cnn"],
    "pool first (32, pool, 64, 80)": _stack(32, "pool", 64, 80),
    "narrow (16, 32, pool, 80)": _stack(16, 32, "pool", 80),
    "pool first, 48 (32, pool, 48, 80)": _stack(32, "pool", 48, 80),
    "two convs (32, pool, 80)": _stack(32, "pool", 80),
}


def lab_data() -> LongTailData:
    """The lab's default data: the digits at ratio 100 with the lab's own validation split."""
    n_max, val_per_class = DIGITS_SPLIT
    return build_long_tailed(LAB, 100, n_max=n_max, val_per_class=val_per_class)


def measure(name: str, seeds: int) -> list[dict]:
    """Fit time and test mean recall of CE and FBH + CDH with candidate ``name`` for each seed."""
    backbones._BUILDERS[DEFAULT_BACKBONE[LAB]] = CANDIDATES[name]
    training._FLOPS_CACHE.clear()  # it is keyed by the backbone's name, which the candidates share
    data = lab_data()
    optim = optim_preset(LAB)
    rows = []
    for method in ("ce", "fbcd"):
        config = MethodConfig(method=method, backbone=DEFAULT_BACKBONE[LAB])
        for seed in range(seeds):
            run = start_run(data, config, optim, seed=seed, precision="fp32")
            start = time.perf_counter()
            fit(run, data, progress=False, threads=1)
            rows.append({"backbone": name, "method": method, "seed": seed, "fit_s": time.perf_counter() - start,
                         "mean_recall": mean_recall(run.model, data),
                         "step_gflops": training_step_flops(run, data) / 1e9})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "lab_backbones.json")
    args = parser.parse_args()
    kit = backbones._BUILDERS[DEFAULT_BACKBONE[LAB]]
    measure(next(iter(CANDIDATES)), 1)  # warm-up: imports, data, kernels
    rows = []
    try:
        for name in CANDIDATES:
            rows += measure(name, args.seeds)
    finally:
        backbones._BUILDERS[DEFAULT_BACKBONE[LAB]] = kit
    print(f"{'backbone':<42} {'method':<6} {'GFLOP/step':>10} {'fit s':>6} {'mean recall':>14}")
    for name in CANDIDATES:
        for method in ("ce", "fbcd"):
            mine = [r for r in rows if r["backbone"] == name and r["method"] == method]
            recall = [r["mean_recall"] for r in mine]
            print(f"{name:<42} {method:<6} {mine[0]['step_gflops']:>10.3f} "
                  f"{statistics.median(r['fit_s'] for r in mine):>6.2f} "
                  f"{statistics.mean(recall):>7.3f} ± {statistics.stdev(recall):.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cpu": cpu_model(), "amx_bf16": cpu_has_amx_bf16(),
                                    "date": time.strftime("%Y-%m-%d"), "versions": library_versions(),
                                    "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
