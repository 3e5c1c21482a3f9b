"""How long a user's first own-data run takes: the own-data guide's command, no option beyond the data.

Builds a folder of 60 images (45 training images in 5 classes with a natural tail 20/12/7/4/2, 3 test
images per class) from the real CIFAR-10 JPEG folders, at 32 px and resized to 128 px, runs

    python -m fbcd_lab train --dataset imagefolder --data-root DIR --imbalance-ratio natural --method fbcd --out X

on each (plus --no-progress), and prints the wall time of the whole command (start-up, decoding,
training, evaluation, writing). Issue 19's targets: under 3 minutes, and the guide's example under 2.

    python bench/own_data_first_run.py [--cifar ../shared/data/cifar10-jpeg] [--json bench/results/own_data_first_run.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from fbcd_lab.data.sources import cifar10_jpeg_root

COUNTS = {"airplane": 20, "cat": 12, "frog": 7, "ship": 4, "truck": 2}
TEST_PER_CLASS = 3


def build_folder(cifar: Path, root: Path, size: int) -> int:
    """``root/{train,test}/<class>/`` from the first CIFAR-10 images of each class, at ``size`` px;
    returns the number of images written."""
    written = 0
    for split in ("train", "test"):
        for name, count in COUNTS.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            files = sorted((cifar / split / name).iterdir())[: count if split == "train" else TEST_PER_CLASS]
            for file in files:
                Image.open(file).convert("RGB").resize((size, size), Image.BICUBIC).save(folder / file.name)
                written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cifar", type=Path, default=cifar10_jpeg_root())
    parser.add_argument("--json", type=Path, default=Path("bench/results/own_data_first_run.json"))
    args = parser.parse_args()
    if not (args.cifar / "train").is_dir():
        sys.exit(f"--cifar: no CIFAR-10 JPEG folders at {args.cifar} (train/<class>/*.jpg)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (32, 128):
            root = Path(tmp) / f"px{size}"
            images = build_folder(args.cifar, root, size)
            out = Path(tmp) / f"run{size}"
            command = [sys.executable, "-m", "fbcd_lab", "train", "--dataset", "imagefolder", "--data-root",
                       str(root), "--imbalance-ratio", "natural", "--method", "fbcd", "--out", str(out),
                       "--no-progress"]
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, text=True)
            wall = time.perf_counter() - start
            record = json.loads((out / "results.json").read_text())
            rows.append({"image_px": size, "trained_px": record["data"]["image_size"], "images": images,
                         "wall_s": round(wall, 1),
                         "train_s": round(record["wall_time_s"], 1),
                         "backbone": record["config"]["method"]["backbone"], "epochs": record["epochs_done"],
                         "top1": record["metrics"]["top_cluster"]["accuracy"]})
    print(f"{'px':>4} {'trained':>7} {'images':>6} {'backbone':>9} {'epochs':>6} {'train s':>8} {'command s':>9} "
          f"{'top-1':>6}")
    for r in rows:
        print(f"{r['image_px']:>4} {r['trained_px']:>7} {r['images']:>6} {r['backbone']:>9} {r['epochs']:>6} "
              f"{r['train_s']:>8} "
              f"{r['wall_s']:>9} {r['top1']:>6.3f}")
    args.json.write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                                     "date": time.strftime("%Y-%m-%d"), "runs": rows}, indent=1) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
