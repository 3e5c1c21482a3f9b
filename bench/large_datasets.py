"""How long the paper's larger settings train on this CPU: images/s of fbcd_lab's trainer (CE and
FBH + CDH, fp32 unless the CPU has AMX) for Tiny-ImageNet-LT (ResNet-18, 64 px, 200 classes) and
ImageNet-LT (ResNeXt-50, 224 px, 1000 classes), and what that makes an epoch and a whole run of the
paper's preset. Prints a table and writes JSON.

The images are random uint8 tensors held in memory, so this times the model's step alone; the
labels follow each set's long-tailed profile (scaled down to the images timed, at least one per
class), so the class division and the heads have about their real size. ImageNet-LT streams from
JPEG files in a real run: its loader's own rate is ``bench/loader.py``'s.

    python bench/large_datasets.py [--steps 4] [--out bench/results/large_datasets.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from throughput import ours_epoch

from fbcd_lab.config import PRESETS, MethodConfig
from fbcd_lab.data import AugmentSpec, TensorImages, build_long_tailed, long_tail_counts
from fbcd_lab.data.sources import IMAGENET_MEAN, IMAGENET_STD
from fbcd_lab.runtime import cpu_has_amx_bf16, library_versions

ROOT = Path(__file__).resolve().parents[1]
TINY_COUNTS = long_tail_counts(500, 200, 100)
# name: (backbone, classes, image size, label profile, training images, preset, batch timed here)
SETTINGS = {
    "Tiny-ImageNet-LT r100": ("resnet18", 200, 64, TINY_COUNTS, sum(TINY_COUNTS), "paper_tiny_imagenet", 64),
    # ImageNet-LT's counts run from 1280 to 5 (115,846 images, from its list); an exponential
    # profile with those ends stands in for the list's labels here
    "ImageNet-LT": ("resnext50", 1000, 224, long_tail_counts(1280, 1000, 256), 115_846, "paper_imagenet_lt", 16),
}


def synthetic_data(classes: int, size: int, counts: list[int], n: int, seed: int = 0):
    """A LongTailData of ``n`` random ``size``-px images whose labels follow ``counts`` scaled to ``n``."""
    scaled = np.maximum(1, np.round(np.asarray(counts) * n / sum(counts))).astype(int)
    labels = np.repeat(np.arange(classes), scaled)
    images = torch.randint(0, 256, (len(labels), 3, size, size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(seed))
    train = TensorImages(images, labels)
    template = build_long_tailed("digits", 100)
    return replace(template, name=f"synthetic {size} px", classes=tuple(str(c) for c in range(classes)),
                   train=train, test=train, spare=train.subset(np.arange(0)), counts=tuple(int(c) for c in scaled),
                   augment=AugmentSpec(IMAGENET_MEAN, IMAGENET_STD, size // 8, True), in_channels=3,
                   image_size=size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per measurement (after 2 warm-up steps)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "large_datasets.json")
    args = parser.parse_args()
    precision = "bf16" if cpu_has_amx_bf16() else "fp32"
    rows = []
    print(f"{'setting':<24} {'method':<6} {'batch':>5} {'images/s':>9} {'epoch h':>8} {'run h':>8}  ({precision})")
    for name, (backbone, classes, size, counts, train_images, preset_name, batch) in SETTINGS.items():
        data = synthetic_data(classes, size, counts, max(2 * classes, batch * (args.steps + 3)))
        epochs = PRESETS[preset_name].epochs
        for method in ("ce", "fbcd"):
            rate = ours_epoch(data, MethodConfig(method=method, backbone=backbone), precision, args.steps, batch)
            epoch_h = train_images / rate / 3600
            rows.append({"setting": name, "backbone": backbone, "image_size": size, "classes": classes,
                         "method": method, "batch": batch, "images_per_s": rate, "train_images": train_images,
                         "epoch_hours": epoch_h, "preset": preset_name, "epochs": epochs, "run_hours": epoch_h * epochs})
            print(f"{name:<24} {method:<6} {batch:>5} {rate:>9.2f} {epoch_h:>8.2f} {epoch_h * epochs:>8.1f}")
    result = {"rows": rows, "steps": args.steps, "precision": precision,
              "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
              "versions": library_versions(), "date": time.strftime("%Y-%m-%d")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
