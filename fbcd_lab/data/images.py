"""Labelled image sets: decoded uint8 tensors in memory, or image files decoded on demand.

Small images (CIFAR, digits, small ImageFolders) live in memory so a batch is one indexing
operation; large ones (ImageNet-LT) stay as file paths and stream through a DataLoader.
Both offer ``labels``, ``len`` and ``subset`` so the rest of the library treats them alike.
A file that cannot be read or decoded raises :class:`BadImageFile`, one line naming the file.
Images are RGB, or one grey channel where every file of a source is grey (:func:`all_grey`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision.transforms.v2 import functional as TF

CHECK_THREADS = min(8, os.cpu_count() or 1)
GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


class BadImageFile(ValueError):
    """An image file that cannot be read or decoded; the message names the file and what is wrong, on one line."""


@dataclass(frozen=True, eq=False)
class TensorImages:
    """Images as a uint8 tensor (N, C, H, W) with int64 labels, held in memory."""

    images: torch.Tensor
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be a uint8 (N, C, H, W) tensor, got {self.images.dtype} "
                             f"with shape {tuple(self.images.shape)}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"images ({len(self.images)}) and labels ({len(self.labels)}) differ in length")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> TensorImages:
        """The images at ``indices``, in that order."""
        return TensorImages(self.images[torch.as_tensor(indices)], self.labels[indices])

    def to(self, device: torch.device | str) -> TensorImages:
        """The same images on ``device`` (a no-op when already there)."""
        return TensorImages(self.images.to(device), self.labels)


@dataclass(frozen=True, eq=False)
class FileImages:
    """Image file paths with int64 labels; decoded when a batch needs them."""

    paths: tuple[str, ...]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> FileImages:
        """The files at ``indices``, in that order."""
        return FileImages(tuple(self.paths[i] for i in indices), self.labels[indices])

    def decode(self, image_size: int | None = None, channels: int = 3) -> TensorImages:
        """Decode every file to uint8 RGB, or grey with ``channels`` 1 (resized to ``image_size``
        squares if given, else all must share one size)."""
        images = [read_image(p, image_size, channels) for p in self.paths]
        odd = next((i for i, im in enumerate(images) if im.shape != images[0].shape), None)
        if odd is not None:
            (h0, w0), (h, w) = images[0].shape[1:], images[odd].shape[1:]
            raise ValueError(f"image files differ in size: {self.paths[0]!r} is {w0}x{h0} but {self.paths[odd]!r} "
                             f"is {w}x{h}; pass image_size (--image-size) to resize them")
        return TensorImages(torch.stack(images), self.labels)


@contextmanager
def open_image(path: str) -> Iterator[Image.Image]:
    """Pillow's ``Image.open(path)``; failing to open the file, or to decode it inside the block,
    raises :class:`BadImageFile` naming the file (Pillow's own errors often do not)."""
    try:
        with Image.open(path) as im:
            yield im
    except Exception as err:  # Pillow's plugins raise many exception types on corrupt data
        raise BadImageFile(f"cannot read image file {str(path)!r}: {_reason(str(path), err)}") from err


def _reason(path: str, err: Exception) -> str:
    # One line, without the path that Python's OSError text repeats.
    if isinstance(err, UnidentifiedImageError):
        return "empty file" if os.path.getsize(path) == 0 else "not an image format Pillow can read"
    if isinstance(err, FileNotFoundError) and os.path.islink(path):
        return f"broken symbolic link to {os.readlink(path)!r}"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    text = " ".join(str(err).split())
    if isinstance(err, OSError) and text:
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def read_image(path: str, image_size: int | None = None, channels: int = 3) -> torch.Tensor:
    """One image file as a uint8 (channels, H, W) tensor, RGB (3) or grey (1), optionally resized
    to a square.

    Pillow decodes (torchvision's own decoders are deprecated since 0.29); a truncated or
    unreadable file raises :class:`BadImageFile`."""
    with open_image(path) as im:
        pixels = _pixels(im, channels)
    # NumPy transposes: torch's multi-threaded uint8 permute-copy took ~8 ms for 500x400 on 2 cores
    image = torch.from_numpy(pixels.transpose(2, 0, 1).copy())  # a copy: Pillow's buffer is read-only
    if image_size is not None and tuple(image.shape[1:]) != (image_size, image_size):
        image = TF.resize(image, [image_size, image_size], antialias=True)
    return image


def read_rgb(path: str, image_size: int | None = None) -> torch.Tensor:
    """:func:`read_image` with three channels (streamed sets: their transform makes grey sets one channel)."""
    return read_image(path, image_size, 3)


def _pixels(im: Image.Image, channels: int) -> np.ndarray:
    # (H, W, channels) uint8. 16-bit grey is scaled to 8 bits here: Pillow's own conversion clips it at 255.
    if im.mode in SIXTEEN_BIT_MODES:
        im = Image.fromarray((np.asarray(im).clip(0, 65535) >> 8).astype(np.uint8))
    return np.asarray(im.convert("L" if channels == 1 else "RGB")).reshape(im.height, im.width, channels)


def all_grey(paths: Iterable[str]) -> bool:
    """Whether every file holds a grey image (Pillow modes 1, L, LA, I, I;16..., F), read from the
    headers alone and stopping at the first colour one. A file that cannot be opened counts as colour:
    its error comes where it always did, when the file is decoded."""
    return all(_mode(p) in GREY_MODES for p in paths)


def _mode(path: str) -> str | None:
    try:
        with Image.open(path) as im:
            return im.mode
    except Exception:  # Pillow's plugins raise many exception types on bad files
        return None


def check_decodable(images: FileImages, what: str, threads: int = CHECK_THREADS) -> None:
    """Decode every file of ``images`` once, so that a bad test or validation image stops a run
    before training rather than after it; raise one :class:`BadImageFile` naming the first bad
    file (in order) and how many there are.

    Each file is opened by content (not extension) and decoded completely: JPEGs at 1/8 scale
    (Pillow's draft mode reads and entropy-decodes all the compressed data, so truncated files and
    broken data streams fail as in a full decode, but skips most of the inverse DCT and colour
    work), other formats at full size. Not checked: pixel values, sizes, and damage that libjpeg
    only warns about (a full decode accepts it too).
    """
    with ThreadPoolExecutor(threads) as pool:  # Pillow releases the GIL while it reads and decodes
        bad = [err for err in pool.map(_decode_error, images.paths) if err is not None]
    if bad:
        raise BadImageFile(f"{len(bad)} of {len(images)} {what} image files cannot be decoded; the first: {bad[0]}")


def _decode_error(path: str) -> BadImageFile | None:
    try:
        with open_image(path) as im:
            im.draft(im.mode, (max(1, im.width // 8), max(1, im.height // 8)))
            im.load()
    except BadImageFile as err:
        return err
    return None


ImageSet = TensorImages | FileImages
