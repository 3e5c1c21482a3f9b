"""Training throughput of fbcd_lab's trainer against the usual long-tail pipeline, head cost, and
the training lab's 30-epoch retrain (``--lab-only``: that alone). Prints a table and writes JSON.

Reference: the way most long-tail repositories (LDAM-DRW and its descendants) train: a Dataset
holding uint8 arrays that returns a PIL image per item, per-image torchvision transforms
(RandomCrop 32 with padding 4, flip, ToTensor, Normalize), a DataLoader, fp32 eager PyTorch.
Both train ResNet-32 on CIFAR-10-LT (ratio 100) with batch 128 in the same process. Every recipe
of Table 1 is timed too, as its step time over CE's (DRW and DRS switched on from the first step).

    python bench/throughput.py [--data-root ../shared/data/cifar10-jpeg] [--out bench/results/throughput.json]
    python bench/throughput.py --lab-only [--out bench/results/lab_retrain.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

from fbcd_lab.config import MethodConfig, OptimConfig
from fbcd_lab.data import build_long_tailed
from fbcd_lab.data.sources import cifar10_jpeg_root
from fbcd_lab.models import build_model
from fbcd_lab.recipes import RECIPES, recipe
from fbcd_lab.runtime import cpu_has_amx_bf16, cpu_model, library_versions
from fbcd_lab.training import fit, start_run

ROOT = Path(__file__).resolve().parents[1]
LAB_EPOCHS = 30


class PilDataset(Dataset):
    """LDAM-DRW style: uint8 HWC arrays, a PIL image and per-image transforms per item."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def reference_epoch(data, num_workers: int, max_steps: int, device: torch.device | str = "cpu",
                    bf16: bool = False) -> float:
    """Images per second of the reference pipeline over ``max_steps`` steps (after 2 warm-up steps;
    the loader restarts when an epoch ends before that). ``bf16`` adds bf16 autocast and
    channels-last to it, to separate the data pipeline's share from the numeric format's."""
    device = torch.device(device)
    torch.manual_seed(0)
    transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                           T.Normalize(data.augment.mean, data.augment.std)])
    images = data.train.images.permute(0, 2, 3, 1).numpy()
    loader = DataLoader(PilDataset(images, data.train.labels, transform), batch_size=128, shuffle=True,
                        num_workers=num_workers, drop_last=True, pin_memory=str(device) != "cpu")
    memory_format = torch.channels_last if bf16 else torch.contiguous_format
    model = build_model("resnet32", data.num_classes, fbh=False).to(device, memory_format=memory_format)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)
    model.train()
    step, seen, start = 0, 0, time.perf_counter()
    while step < max_steps + 2:
        for x, y in loader:
            if step == 2:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                seen, start = 0, time.perf_counter()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(x.to(device, memory_format=memory_format)).cluster_logits
            loss = F.cross_entropy(logits.float(), y.to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(y)
            step += 1
            if step >= max_steps + 2:
                break
    loss.item()
    return seen / (time.perf_counter() - start)


def ours_epoch(data, method: str | MethodConfig, precision: str, max_steps: int, batch_size: int = 128) -> float:
    """Images per second of fbcd_lab's trainer over ``max_steps`` steps (after 2 warm-up steps)."""
    optim = OptimConfig(epochs=1, batch_size=batch_size, warmup_epochs=0, milestones=(), factors=())
    config = method if isinstance(method, MethodConfig) else MethodConfig(method=method, backbone="resnet32")
    run = start_run(data, config, optim, precision=precision)
    marks: list[float] = []

    def should_stop() -> bool:
        marks.append(time.perf_counter())
        return len(marks) > max_steps + 2

    fit(run, data, should_stop=should_stop, progress=False)
    return max_steps * batch_size / (marks[-1] - marks[2])


def lab_retrain(repeats: int = 5) -> dict:
    """The training lab's retrain at its defaults (digits ratio 100 with its validation split, FBH + CDH,
    u 10, lambda 1.5, 30 epochs), as the Train button runs it: training with the live plot and the
    validation score every epoch, evaluation, the table row. The first run builds the data (the
    panel keeps it); the next ``repeats`` are timed, and their median is the retrain."""
    from fbcd_lab.ui.panel import TrainingPanel

    panel = TrainingPanel()
    panel.controls["epochs"].value = LAB_EPOCHS
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        row = panel.train(block=True)
        times.append(time.perf_counter() - start)
    fit_s = [run.wall_time_s for run, _ in panel.results.values()]
    return {"config": {**panel.settings(), "dataset": panel.dataset, "preset": panel.preset},
            "epochs": row["epochs_done"], "first_s": times[0], "retrain_s": statistics.median(times[1:]),
            "retrains_s": times[1:], "fit_s": statistics.median(fit_s[1:]), "threads": torch.get_num_threads(),
            "mean_recall": row["mean_recall"], "cpu": cpu_model(), "amx_bf16": cpu_has_amx_bf16(),
            "load_average": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=cifar10_jpeg_root())
    parser.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    parser.add_argument("--lab-only", action="store_true",
                        help="only the training lab's retrain (no CIFAR-10 needed); JSON to bench/results/lab_retrain.json")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/throughput.json)")
    args = parser.parse_args()
    if args.lab_only:
        lab = lab_retrain()
        print(f"{'lab retrain (digits r100 fbcd, 30 epochs), median s':<52} {lab['retrain_s']:>9.2f}")
        print(f"{'  of which fit (training + validation), s':<52} {lab['fit_s']:>9.2f}")
        print(f"{'  first run, data built, s':<52} {lab['first_s']:>9.2f}")
        out = args.out or ROOT / "bench" / "results" / "lab_retrain.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"lab_retrain": lab, "versions": library_versions(),
                                   "date": time.strftime("%Y-%m-%d")}, indent=1))
        print(f"wrote {out}")
        return
    if not (args.data_root / "train").is_dir():
        raise SystemExit(f"CIFAR-10 JPEG folders not found at {args.data_root}; pass --data-root")
    data = build_long_tailed("imagefolder", 100, root=args.data_root)
    rows = {}
    for workers in (0, 2):
        rows[f"reference, PIL + DataLoader, {workers} workers, fp32"] = reference_epoch(data, workers, args.steps)
    if cpu_has_amx_bf16():
        rows["reference, 0 workers, bf16 + channels-last"] = reference_epoch(data, 0, args.steps, bf16=True)
    for method in ("ce", "fbcd"):
        for precision in ("fp32", "bf16"):
            if precision == "bf16" and not cpu_has_amx_bf16():
                continue
            rows[f"fbcd_lab {method}, {precision}"] = ours_epoch(data, method, precision, args.steps)
    reference = max(v for k, v in rows.items() if k.startswith("reference") and k.endswith("fp32"))
    default = "bf16" if cpu_has_amx_bf16() else "fp32"
    ratios = {
        "ours_default_over_reference": rows[f"fbcd_lab ce, {default}"] / reference,
        "ours_fp32_over_reference": rows["fbcd_lab ce, fp32"] / reference,
        "fbcd_step_over_ce_step": rows[f"fbcd_lab ce, {default}"] / rows[f"fbcd_lab fbcd, {default}"],
    }
    if cpu_has_amx_bf16():
        ratios["ours_bf16_over_reference_bf16"] = rows["fbcd_lab ce, bf16"] / rows["reference, 0 workers, bf16 + channels-last"]
    default_ce = rows[f"fbcd_lab ce, {default}"]
    recipe_step = {}
    for name in RECIPES:
        deferred = {"deferred_epoch": 0} if RECIPES[name].get("balancing") in ("drw", "drs") else {}
        rate = ours_epoch(data, recipe(name, "resnet32", **deferred), default, args.steps)
        recipe_step[name] = default_ce / rate
    lab = lab_retrain()
    print(f"{'pipeline (ResNet-32, CIFAR-10-LT r100, batch 128)':<52} {'images/s':>9}")
    for name, value in rows.items():
        print(f"{name:<52} {value:>9.1f}")
    for name, value in ratios.items():
        print(f"{name:<52} {value:>9.2f}")
    for name, value in recipe_step.items():
        print(f"{'step time over CE, recipe ' + name + ' (' + default + ')':<52} {value:>9.2f}")
    print(f"{'lab retrain (digits r100 fbcd, 30 epochs), median s':<52} {lab['retrain_s']:>9.2f}")
    result = {"images_per_s": rows, "ratios": ratios, "recipe_step_over_ce": recipe_step,
              "lab_retrain": lab, "steps": args.steps,
              "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
              "amx_bf16": cpu_has_amx_bf16(), "versions": library_versions(),
              "date": time.strftime("%Y-%m-%d")}
    out = args.out or ROOT / "bench" / "results" / "throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
