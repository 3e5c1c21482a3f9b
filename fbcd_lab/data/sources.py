"""Where images come from: the embedded digits, torchvision's CIFAR, ImageFolder trees, Tiny-ImageNet
in its original layout, ImageNet-LT.

Each loader returns a :class:`Source` (full training set, untouched test set, class names and
the augmentation that suits the images). Nothing is downloaded unless the caller asks. Image
files are read as one grey channel when every file of the source is grey, else as RGB.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

from fbcd_lab.data.images import FileImages, ImageSet, TensorImages, all_grey, open_image

SOURCES = ("digits", "cifar10", "cifar100", "imagefolder", "tiny_imagenet", "imagenet_lt")
OWN_VALIDATION = ("imagefolder", "imagenet_lt")  # sources with a validation split of their own
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
DIGITS_TEST_PER_CLASS = 30
DIGITS_SPLIT_SEED = 0
# The real CIFAR-10 as JPEG folders (train/ and test/, one folder a class), which the committed
# CIFAR-10-LT studies read: $FBCD_CIFAR10_JPEG, else shared/data/cifar10-jpeg beside the repository.
CIFAR10_JPEG_VAR = "FBCD_CIFAR10_JPEG"


def train_augmentation(kind: str, image_size: int) -> tuple[int, bool]:
    """The crop padding (0: none) and horizontal flip a source of ``kind`` (one of :data:`SOURCES`)
    trains with at ``image_size`` px: the digits 1 px and no flip (a flipped digit is another
    glyph), CIFAR 4 px, image folders and Tiny-ImageNet 4 px at 32 px scaled with size, ImageNet-LT none."""
    if kind not in SOURCES:
        raise ValueError(f"kind must be one of {SOURCES}, got {kind!r}")
    padding = {"digits": 1, "cifar10": 4, "cifar100": 4, "imagenet_lt": 0}.get(kind, max(1, image_size // 8))
    return padding, kind != "digits"


def cifar10_jpeg_root() -> Path:
    """Where the CIFAR-10 JPEG folders are looked for (they may be absent: check ``(root / "train").is_dir()``)."""
    default = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-jpeg"
    return Path(os.environ.get(CIFAR10_JPEG_VAR) or default)


@dataclass(frozen=True, eq=False)
class Source:
    """A full labelled training set and its untouched test set, with how to augment them.

    ``mean``/``std`` of None means: compute them from the training images actually used.
    ``natural`` marks a set that is long-tailed already (ImageNet-LT): it is not subsampled.
    ``val`` is the source's own validation split (an image folder's ``val/``, ImageNet-LT's val list), if asked.
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
    val: ImageSet | None = None


def load_source(
    name: str, root: str | Path | None = None, download: bool = False, image_size: int | None = None,
    val: bool = False,
) -> Source:
    """Load a source by name (one of :data:`SOURCES`); ``root`` is required for all but digits.

    ``val`` loads the source's own validation split too (:data:`OWN_VALIDATION` have one)."""
    if name not in SOURCES:
        raise ValueError(f"dataset must be one of {SOURCES}, got {name!r}")
    if val and name not in OWN_VALIDATION:
        raise ValueError(f"{name} has no validation split of its own (only {' and '.join(OWN_VALIDATION)}); "
                         f"carve one from unused training images with val_per_class (--val-per-class)")
    native = {"digits": 8, "cifar10": 32, "cifar100": 32}.get(name)
    if native is not None and image_size not in (None, native):  # their own size: the checkpoints that saved it
        raise ValueError(f"image_size must be None or {native} for {name} (its images are not resized), "
                         f"got {image_size!r}")
    if download and name not in ("cifar10", "cifar100"):
        raise ValueError(f"download is used only by cifar10 and cifar100 (torchvision fetches them), not by {name!r}")
    if name == "digits":
        if root is not None:
            raise ValueError(f"data_root is not used by 'digits' (embedded in scikit-learn), got {str(root)!r}")
        return digits_source()
    if root is None:
        raise ValueError(f"data_root is required for dataset {name!r}")
    root = Path(root)
    if name in ("cifar10", "cifar100"):
        return cifar_source(name, root, download)
    if not root.is_dir():
        raise FileNotFoundError(f"data_root {str(root)!r} does not exist or is not a directory")
    if name == "imagefolder":
        return imagefolder_source(root, image_size, val)
    if name == "tiny_imagenet":
        return tiny_imagenet_source(root, image_size)
    return imagenet_lt_source(root, image_size or 224, val)


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
                  full.subset(test_idx), 1, 8, *train_augmentation("digits", 8))


def cifar_source(name: str, root: Path, download: bool) -> Source:
    """CIFAR-10 or CIFAR-100 through torchvision, from ``root`` (downloaded only if asked)."""
    from torchvision.datasets import CIFAR10, CIFAR100

    cls = CIFAR10 if name == "cifar10" else CIFAR100
    if not download and not (root / cls.base_folder).is_dir():
        raise FileNotFoundError(
            f"{name} not found under data_root {str(root)!r} (expected {cls.base_folder}/); "
            f"pass --download (download=True in Python) on a machine with internet, or copy the extracted "
            f"{cls.filename} there"
        )
    try:
        parts = [cls(str(root), train=t, download=download) for t in (True, False)]
    except RuntimeError as err:
        raise FileNotFoundError(f"{name} under data_root {str(root)!r} is incomplete or corrupted ({err})") from err
    train, test = (TensorImages(torch.from_numpy(p.data).permute(0, 3, 1, 2).contiguous(),
                                np.asarray(p.targets, dtype=np.int64)) for p in parts)
    return Source(name, tuple(parts[0].classes), train, test, 3, 32, *train_augmentation(name, 32),
                  mean=CIFAR_MEAN, std=CIFAR_STD)


def imagefolder_source(root: Path, image_size: int | None = None, val: bool = False) -> Source:
    """A ``train/<class>/...`` and ``test/<class>/...`` tree (CIFAR as JPEG, your data), with
    ``val/<class>/...`` as the validation split when ``val``.

    Images stay files here; :func:`fbcd_lab.data.build_long_tailed` decodes the chosen subset
    into memory when they are small. Augmentation: 4-pixel padded crop at 32 px, scaled with size.
    Hidden names (``.ipynb_checkpoints``, ``.git``, ``.DS_Store``, ``._x.jpg``) are neither
    classes nor images, at any depth.
    """
    parts = {split: _class_folders(root, split) for split in _splits(val)}
    for split, (classes, _) in parts.items():
        if classes != parts["train"][0]:
            raise ValueError(f"data_root {str(root)!r}: train/ and {split}/ hold different class folders")
    if len(parts["train"][0]) == 1:
        raise ValueError(f"data_root {str(root)!r}: {str(root / 'train')!r} holds one class folder "
                         f"({parts['train'][0][0]!r}); a classifier needs at least 2")
    images = {split: files for split, (_, files) in parts.items()}
    size = image_size or _probe_size(images["train"].paths[0])
    return Source(root.name, parts["train"][0], images["train"], images["test"], _channels(images), size,
                  *train_augmentation("imagefolder", size), val=images.get("val"))


def tiny_imagenet_source(root: Path, image_size: int | None = None) -> Source:
    """Tiny-ImageNet (200 classes, 500 training images each, 64 x 64) in its original layout:
    ``wnids.txt``, ``train/<wnid>/images/*.JPEG``, ``val/images/*.JPEG`` labelled by
    ``val/val_annotations.txt`` (file, wnid, box). Classes are the wnids in sorted order, as an
    ImageFolder over ``train/`` numbers them. Its test labels are not public, so ``val/`` (50 per
    class) is the test set, as in the long-tail literature; ``words.txt`` is not needed."""
    wnids_file = root / "wnids.txt"
    if not wnids_file.is_file():
        raise FileNotFoundError(f"data_root {str(root)!r} is not a tiny-imagenet-200 folder: it lacks wnids.txt")
    classes = tuple(sorted(set(wnids_file.read_text().split())))
    index = {wnid: c for c, wnid in enumerate(classes)}
    train = [(path, index[wnid]) for wnid in classes for path in _tiny_train_files(root, wnid)]
    annotations = root / "val" / "val_annotations.txt"
    if not annotations.is_file():
        raise FileNotFoundError(f"data_root {str(root)!r} lacks val/val_annotations.txt (the test labels)")
    test = [(str(root / "val" / "images" / file), _tiny_label(index, wnid, annotations))
            for file, wnid in (line.split("\t")[:2] for line in annotations.read_text().splitlines() if line.strip())]
    images = {split: FileImages(tuple(p for p, _ in rows), np.array([y for _, y in rows], dtype=np.int64))
              for split, rows in (("train", train), ("test", test))}
    size = image_size or 64
    return Source("tiny_imagenet", classes, images["train"], images["test"], _channels(images), size,
                  *train_augmentation("tiny_imagenet", size))


def imagenet_lt_source(root: Path, image_size: int = 224, val: bool = False) -> Source:
    """ImageNet-LT from its split lists (``ImageNet_LT_train.txt``, ``ImageNet_LT_test.txt``, and
    ``ImageNet_LT_val.txt`` as the validation split when ``val``; lines ``train/n01440764/xxx.JPEG 0``)
    over an ImageNet root; streamed, not held in memory."""
    images = {split: _listed_files(root, split) for split in _splits(val)}
    num_classes = int(images["train"].labels.max()) + 1
    classes = tuple(sorted({Path(p).parent.name for p in images["train"].paths}))
    if len(classes) != num_classes:
        classes = tuple(str(c) for c in range(num_classes))
    channels = _channels(images)
    mean, std = imagenet_stats(channels)
    return Source("imagenet_lt", classes, images["train"], images["test"], channels, image_size,
                  *train_augmentation("imagenet_lt", image_size), mean=mean, std=std, natural=True,
                  val=images.get("val"))


def imagenet_stats(channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """ImageNet's per-channel mean and std; for one grey channel, their averages over R, G and B."""
    if channels == 3:
        return IMAGENET_MEAN, IMAGENET_STD
    return (sum(IMAGENET_MEAN) / 3,), (sum(IMAGENET_STD) / 3,)


def _splits(val: bool) -> tuple[str, ...]:
    return ("train", "test", "val") if val else ("train", "test")


def _class_folders(root: Path, split: str) -> tuple[tuple[str, ...], FileImages]:
    """The class names and image files of ``root/split/<class>/...`` (torchvision's walk and order)."""
    folder = root / split
    if not folder.is_dir():
        raise FileNotFoundError(f"data_root {str(root)!r} has no {split}/ folder of class folders")
    entries = [e for e in os.scandir(folder) if not e.name.startswith(".")]
    classes = sorted(e.name for e in entries if e.is_dir())
    if not classes:
        raise FileNotFoundError(f"{str(folder)!r} holds no class folder (hidden folders do not count)")
    image, skipped = _visible_image_file(str(folder)), []

    def is_valid(path: str) -> bool:  # an image is kept; another visible file is counted and named
        if image(path):
            return True
        if os.sep + "." not in path[len(str(folder)):]:
            skipped.append(path)
        return False

    samples = make_dataset(str(folder), {c: i for i, c in enumerate(classes)}, is_valid_file=is_valid,
                           allow_empty=True)
    labels = np.array([y for _, y in samples], dtype=np.int64)
    loose = sorted(e.path for e in entries if not e.is_dir())  # beside the class folders, an image too: no class
    accepted = " ".join(IMG_EXTENSIONS)
    unused = skipped + loose
    others = f"; {len(unused)} other file(s) skipped, e.g. {Path(unused[0]).name!r}" if unused else ""
    empty = [c for i, c in enumerate(classes) if not (labels == i).any()]
    if empty:
        raise FileNotFoundError(f"{str(folder / empty[0])!r} holds no image file (images are regular files ending in "
                                f"{accepted}){others}" + (f"; {len(empty) - 1} more empty class folder(s)"
                                                          if len(empty) > 1 else ""))
    reasons = ((skipped, "that are not images", f"images are regular files ending in {accepted}"),
               (loose, "not in a class folder", "an image belongs to the class whose folder holds it"))
    said = [f"{len(files)} file(s) {why} were skipped, e.g. {Path(files[0]).name!r} ({rule})"
            for files, why, rule in reasons if files]
    if said:
        warnings.warn(f"{str(folder)!r}: {'; '.join(said)}", stacklevel=2)
    return tuple(classes), FileImages(tuple(p for p, _ in samples), labels)


def _tiny_train_files(root: Path, wnid: str) -> list[str]:
    folder = root / "train" / wnid / "images"
    if not folder.is_dir():
        raise FileNotFoundError(f"data_root {str(root)!r}: class {wnid} of wnids.txt has no "
                                f"train/{wnid}/images/ folder")
    is_valid = _visible_image_file(str(folder))
    return sorted(e.path for e in os.scandir(folder) if e.is_file() and is_valid(e.path))


def _tiny_label(index: dict[str, int], wnid: str, annotations: Path) -> int:
    if wnid not in index:
        raise ValueError(f"{str(annotations)!r} labels an image {wnid!r}, which is not in wnids.txt")
    return index[wnid]


def _listed_files(root: Path, split: str) -> FileImages:
    """The files and labels of ImageNet-LT's list for ``split``; its first and last files must exist."""
    listing = root / f"ImageNet_LT_{split}.txt"
    if not listing.is_file():
        raise FileNotFoundError(f"data_root {str(root)!r} lacks the split list {listing.name}")
    rows = [line.split() for line in listing.read_text().splitlines() if line.strip()]
    paths = tuple(str(root / r[0]) for r in rows)
    missing = [p for p in paths[:1] + paths[-1:] if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"ImageNet-LT image {missing[0]!r} from {listing.name} not found")
    return FileImages(paths, np.array([int(r[1]) for r in rows], dtype=np.int64))


def _channels(images: dict[str, FileImages]) -> int:
    """1 when every file of every split is grey, else 3 (mixed grey and colour stay RGB)."""
    return 1 if all_grey(p for files in images.values() for p in files.paths) else 3


def _visible_image_file(folder: str) -> Callable[[str], bool]:
    # make_dataset's file test (its walk and sample order stay torchvision's): an image extension
    # and no hidden name below ``folder`` (the data root itself may sit in, say, ~/.cache).
    # Not a FIFO, socket or device named *.jpg (a FIFO would block its reader forever); a dangling
    # link stays, to be named as unreadable when the images are decoded or checked.
    def is_valid(path: str) -> bool:
        return (path.lower().endswith(IMG_EXTENSIONS) and os.sep + "." not in path[len(folder):]
                and (os.path.isfile(path) or not os.path.exists(path)))
    return is_valid


def _probe_size(path: str) -> int:
    with open_image(path) as im:
        return max(im.size)
