"""Shared fixtures: digits, a tiny ImageNet-LT tree, and the path to the real CIFAR-10 JPEG copy."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fbcd_lab.data import build_long_tailed

CIFAR10_JPEG = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpeg"


@pytest.fixture(scope="session")
def digits_lt():
    """Digits, exponential profile, imbalance ratio 10, seed 0."""
    return build_long_tailed("digits", 10)


@pytest.fixture(scope="session")
def cifar10_jpeg() -> Path:
    if not (CIFAR10_JPEG / "train").is_dir():
        pytest.skip(f"real CIFAR-10 JPEG folders not found at {CIFAR10_JPEG} (shared data is absent "
                    "in a plain checkout)")
    return CIFAR10_JPEG


@pytest.fixture
def imagenet_lt_tree(tmp_path) -> Path:
    """A tiny ImageNet root with ImageNet-LT split lists: 3 classes, 6/3/1 train, 2 test and 2 validation
    (``ImageNet_LT_val.txt``) images each."""
    rng = np.random.RandomState(0)
    lines = {"train": [], "test": [], "val": []}
    for split, per_class in (("train", [6, 3, 1]), ("test", [2, 2, 2]), ("val", [2, 2, 2])):
        for c, n in enumerate(per_class):
            wnid = f"n0000000{c}"
            (tmp_path / split / wnid).mkdir(parents=True)
            for i in range(n):
                rel = f"{split}/{wnid}/{wnid}_{i}.JPEG"
                Image.fromarray(rng.randint(0, 256, (40, 50, 3), dtype=np.uint8)).save(tmp_path / rel, "JPEG")
                lines[split].append(f"{rel} {c}")
    for split, rows in lines.items():
        (tmp_path / f"ImageNet_LT_{split}.txt").write_text("\n".join(rows) + "\n")
    return tmp_path
