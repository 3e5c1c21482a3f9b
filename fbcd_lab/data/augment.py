"""Augmentation of whole uint8 batches on the target device, and the streaming equivalent.

Random crop with zero padding and horizontal flip are done for the whole batch with one gather,
then normalisation: no per-image PIL work in the training loop. Random numbers come from a CPU
``torch.Generator`` so a seed gives the same crops on any device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision.transforms import v2 as T


@dataclass(frozen=True)
class AugmentSpec:
    """Normalisation statistics and training-time augmentation of one dataset."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop_padding: int = 4
    hflip: bool = True

    def __post_init__(self) -> None:
        if len(self.mean) != len(self.std) or min(self.std) <= 0:
            raise ValueError(f"mean {self.mean} and std {self.std} must have equal length and std > 0")
        if self.crop_padding < 0:
            raise ValueError(f"crop_padding must be >= 0, got {self.crop_padding}")


def draw_augmentation(n: int, spec: AugmentSpec, generator: torch.Generator) -> torch.Tensor:
    """Random crop offsets and flips for ``n`` images as one int64 (3, n) tensor (rows: y offset,
    x offset, flip), drawn on the CPU so that a whole epoch's draws reach the device in one copy."""
    span = 2 * spec.crop_padding + 1
    offsets = torch.randint(0, span, (2, n), generator=generator)
    flips = (torch.rand(n, generator=generator) < 0.5).long() if spec.hflip else torch.zeros(n, dtype=torch.long)
    return torch.cat([offsets, flips[None]])


def apply_augmentation(images: torch.Tensor, spec: AugmentSpec, draws: torch.Tensor) -> torch.Tensor:
    """Crop (with ``spec.crop_padding`` zero padding) and flip a uint8 (B, C, H, W) batch as ``draws``
    (3, B) on the same device say, with one gather."""
    b, c, h, w = images.shape
    p = spec.crop_padding
    device = images.device
    if p:
        padded = F.pad(images, (p, p, p, p))
        rows = (draws[0][:, None] + torch.arange(h, device=device))[:, None, :, None]
        cols = (draws[1][:, None] + torch.arange(w, device=device))[:, None, None, :]
        images = padded[torch.arange(b, device=device)[:, None, None, None],
                        torch.arange(c, device=device)[None, :, None, None], rows, cols]
    if spec.hflip:
        images = torch.where(draws[2].bool()[:, None, None, None], images.flip(3), images)
    return images


def augment_batch(images: torch.Tensor, spec: AugmentSpec, generator: torch.Generator) -> torch.Tensor:
    """Randomly crop (with ``spec.crop_padding`` zero padding) and flip a uint8 (B, C, H, W) batch."""
    return apply_augmentation(images, spec, draw_augmentation(len(images), spec, generator).to(images.device))


def normalize(images: torch.Tensor, spec: AugmentSpec, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 (B, C, H, W) to normalised floats."""
    mean = torch.tensor(spec.mean, device=images.device, dtype=dtype).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, device=images.device, dtype=dtype).view(1, -1, 1, 1)
    return (images.to(dtype) / 255.0 - mean) / std


def stream_transform(spec: AugmentSpec, image_size: int, train: bool) -> T.Compose:
    """torchvision transforms for streamed (large) RGB images: the ImageNet recipe, then one grey
    channel where ``spec`` has one channel's statistics."""
    if train:
        head = [T.RandomResizedCrop(image_size, antialias=True)]
        head += [T.RandomHorizontalFlip()] if spec.hflip else []
    else:
        head = [T.Resize(int(round(image_size * 256 / 224)), antialias=True), T.CenterCrop(image_size)]
    head += [T.Grayscale(1)] if len(spec.mean) == 1 else []
    return T.Compose([*head, T.ToDtype(torch.float32, scale=True), T.Normalize(spec.mean, spec.std)])


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of a uint8 (N, C, H, W) tensor, in [0, 1] units."""
    x = images.to(torch.float64).div_(255.0).transpose(0, 1).reshape(images.shape[1], -1)
    return tuple(x.mean(1).tolist()), tuple(x.std(1).clamp_min(1e-3).tolist())
