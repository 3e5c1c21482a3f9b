"""Where images come from: the embedded digits, torchvision's CIFAR, ImageFolder trees, ImageNet-LT.

Each loader returns a :class:`Source` (full training set, untouched test set, class names and
the augmentation that suits the images). Nothing is downloaded unless the caller asks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

from fbcd_lab.data.images import FileImages, ImageSet, TensorImages, open_image

SOURCES = ("digits", "cifar10", "cifar100", "imagefolder", "imagenet_lt")
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
DIGITS_TEST_PER_CLASS = 30
DIGITS_SPLIT_SEED = 0


@dataclass(frozen=True, eq=False)
class Source:
    """A full labelled training set and its untouched test set, with how to augment them.

    ``mean``/``std`` of None means: compute them from the training images actually used.
    ``natural`` marks a set that is long-tailed already (ImageNet-LT): it is not subsampled.
    """

    name: str
    classes: tuple[str, ...]
    train: ImageSet
    test: ImageSet
    in_channels: int
    image_size: int
    crop_padding: int
    hflip: bool
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    natural: bool = False


def load_source(
    name: str, root: str | Path | None = None, download: bool = False, image_size: int | None = None
) -> Source:
    """Load a source by name (one of :data:`SOURCES`); ``root`` is required for all but digits."""
    if name not in SOURCES:
        raise ValueError(f"dataset must be one of {SOURCES}, got {name!r}")
    native = {"digits": 8, "cifar10": 32, "cifar100": 32}.get(name)
    if native is not None and image_size not in (None, native):
        raise ValueError(f"image_size must be None or {native} for {name} (its images are not resized), "
                         f"got {image_size!r}")
    if name == "digits":
        return digits_source()
    if root is None:
        raise ValueError(f"data_root is required for dataset {name!r}")
    root = Path(root)
    if name in ("cifar10", "cifar100"):
        return cifar_source(name, root, download)
    if not root.is_dir():
        raise FileNotFoundError(f"data_root {str(root)!r} does not exist or is not a directory")
    if name == "imagefolder":
        return imagefolder_source(root, image_size)
    return imagenet_lt_source(root, image_size or 224)


def digits_source() -> Source:
    """scikit-learn's 8x8 handwritten digits, split into train and a balanced test part (seed 0)."""
    bunch = load_digits()
    images = torch.from_numpy(np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)).unsqueeze(1)
    labels = bunch.target.astype(np.int64)
    rng = np.random.RandomState(DIGITS_SPLIT_SEED)
    test_idx = np.sort(np.concatenate([
        rng.permutation(np.flatnonzero(labels == c))[:DIGITS_TEST_PER_CLASS] for c in range(10)
    ]))
    train_idx = np.setdiff1d(np.arange(len(labels)), test_idx)
    full = TensorImages(images, labels)
    return Source("digits", tuple(str(c) for c in range(10)), full.subset(train_idx),
                  full.subset(test_idx), in_channels=1, image_size=8, crop_padding=1, hflip=False)


def cifar_source(name: str, root: Path, download: bool) -> Source:
    """CIFAR-10 or CIFAR-100 through torchvision, from ``root`` (downloaded only if asked)."""
    from torchvision.datasets import CIFAR10, CIFAR100

    cls = CIFAR10 if name == "cifar10" else CIFAR100
    if not download and not (root / cls.base_folder).is_dir():
        raise FileNotFoundError(
            f"{name} not found under data_root {str(root)!r} (expected {cls.base_folder}/); "
            f"pass download=True (--download) on a machine with internet, or copy the extracted "
            f"{cls.filename} there"
        )
    try:
        parts = [cls(str(root), train=t, download=download) for t in (True, False)]
    except RuntimeError as err:
        raise FileNotFoundError(f"{name} under data_root {str(root)!r} is incomplete or corrupted ({err})") from err
    train, test = (TensorImages(torch.from_numpy(p.data).permute(0, 3, 1, 2).contiguous(),
                                np.asarray(p.targets, dtype=np.int64)) for p in parts)
    return Source(name, tuple(parts[0].classes), train, test, in_channels=3, image_size=32,
                  crop_padding=4, hflip=True, mean=CIFAR_MEAN, std=CIFAR_STD)


def imagefolder_source(root: Path, image_size: int | None = None) -> Source:
    """A ``train/<class>/...`` and ``test/<class>/...`` tree (Tiny-ImageNet, CIFAR as JPEG, your data).

    Images stay files here; :func:`fbcd_lab.data.build_long_tailed` decodes the chosen subset
    into memory when they are small. Augmentation: 4-pixel padded crop at 32 px, scaled with size.
    Hidden names (``.ipynb_checkpoints``, ``.git``, ``.DS_Store``, ``._x.jpg``) are neither
    classes nor images, at any depth.
    """
    parts = {}
    for split in ("train", "test"):
        folder = root / split
        if not folder.is_dir():
            raise FileNotFoundError(f"data_root {str(root)!r} has no {split}/ folder of class folders")
        classes = sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))
        if not classes:
            raise FileNotFoundError(f"{str(folder)!r} holds no class folder (hidden folders do not count)")
        samples = make_dataset(str(folder), {c: i for i, c in enumerate(classes)},
                               is_valid_file=_visible_image_file(str(folder)))
        parts[split] = (tuple(classes), FileImages(tuple(p for p, _ in samples),
                                                   np.array([y for _, y in samples], dtype=np.int64)))
    if parts["train"][0] != parts["test"][0]:
        raise ValueError(f"data_root {str(root)!r}: train/ and test/ hold different class folders")
    size = image_size or _probe_size(parts["train"][1].paths[0])
    return Source(root.name, parts["train"][0], parts["train"][1], parts["test"][1], in_channels=3,
                  image_size=size, crop_padding=max(1, size // 8), hflip=True)


def imagenet_lt_source(root: Path, image_size: int = 224) -> Source:
    """ImageNet-LT from its split lists (``ImageNet_LT_train.txt``, ``ImageNet_LT_test.txt``,
    lines ``train/n01440764/xxx.JPEG 0``) over an ImageNet root; streamed, not held in memory."""
    parts = {}
    for split in ("train", "test"):
        listing = root / f"ImageNet_LT_{split}.txt"
        if not listing.is_file():
            raise FileNotFoundError(f"data_root {str(root)!r} lacks the split list {listing.name}")
        rows = [line.split() for line in listing.read_text().splitlines() if line.strip()]
        paths = tuple(str(root / r[0]) for r in rows)
        missing = [p for p in paths[:1] + paths[-1:] if not Path(p).is_file()]
        if missing:
            raise FileNotFoundError(f"ImageNet-LT image {missing[0]!r} from {listing.name} not found")
        parts[split] = FileImages(paths, np.array([int(r[1]) for r in rows], dtype=np.int64))
    num_classes = int(parts["train"].labels.max()) + 1
    classes = tuple(sorted({Path(p).parent.name for p in parts["train"].paths}))
    if len(classes) != num_classes:
        classes = tuple(str(c) for c in range(num_classes))
    return Source("imagenet_lt", classes, parts["train"], parts["test"], in_channels=3,
                  image_size=image_size, crop_padding=0, hflip=True, mean=IMAGENET_MEAN,
                  std=IMAGENET_STD, natural=True)


def _visible_image_file(folder: str) -> Callable[[str], bool]:
    # make_dataset's file test (its walk and sample order stay torchvision's): an image extension
    # and no hidden name below ``folder`` (the data root itself may sit in, say, ~/.cache).
    def is_valid(path: str) -> bool:
        return path.lower().endswith(IMG_EXTENSIONS) and os.sep + "." not in path[len(folder):]
    return is_valid


def _probe_size(path: str) -> int:
    with open_image(path) as im:
        return max(im.size)
