"""Labelled image sets: decoded uint8 tensors in memory, or image files decoded on demand.

Small images (CIFAR, digits, small ImageFolders) live in memory so a batch is one indexing
operation; large ones (ImageNet-LT) stay as file paths and stream through a DataLoader.
Both offer ``labels``, ``len`` and ``subset`` so the rest of the library treats them alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF


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

    def decode(self, image_size: int | None = None) -> TensorImages:
        """Decode every file to RGB uint8 (resized to ``image_size`` squares if given)."""
        images = [read_rgb(p, image_size) for p in self.paths]
        shapes = {tuple(im.shape) for im in images}
        if len(shapes) > 1:
            raise ValueError(f"images differ in size ({sorted(shapes)[:3]} ...); pass image_size to resize them")
        return TensorImages(torch.stack(images), self.labels)


def read_rgb(path: str, image_size: int | None = None) -> torch.Tensor:
    """One image file as an RGB uint8 (3, H, W) tensor, optionally resized to a square.

    Pillow decodes (torchvision's own decoders are deprecated since 0.29)."""
    with Image.open(path) as im:
        image = torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1).contiguous()
    if image_size is not None and tuple(image.shape[1:]) != (image_size, image_size):
        image = TF.resize(image, [image_size, image_size], antialias=True)
    return image


ImageSet = TensorImages | FileImages
