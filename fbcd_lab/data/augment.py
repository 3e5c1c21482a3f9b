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


def augment_batch(images: torch.Tensor, spec: AugmentSpec, generator: torch.Generator) -> torch.Tensor:
    """Randomly crop (with ``spec.crop_padding`` zero padding) and flip a uint8 (B, C, H, W) batch."""
    b, _, h, w = images.shape
    p = spec.crop_padding
    device = images.device
    if p:
        padded = F.pad(images, (p, p, p, p))
        oy, ox = (torch.randint(0, 2 * p + 1, (b,), generator=generator).to(device) for _ in range(2))
        rows = (oy[:, None] + torch.arange(h, device=device))[:, None, :, None]
        cols = (ox[:, None] + torch.arange(w, device=device))[:, None, None, :]
        images = padded[torch.arange(b, device=device)[:, None, None, None],
                        torch.arange(images.shape[1], device=device)[None, :, None, None], rows, cols]
    if spec.hflip:
        flip = (torch.rand(b, generator=generator) < 0.5).to(device)[:, None, None, None]
        images = torch.where(flip, images.flip(3), images)
    return images


def normalize(images: torch.Tensor, spec: AugmentSpec, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 (B, C, H, W) to normalised floats."""
    mean = torch.tensor(spec.mean, device=images.device, dtype=dtype).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, device=images.device, dtype=dtype).view(1, -1, 1, 1)
    return (images.to(dtype) / 255.0 - mean) / std


def stream_transform(spec: AugmentSpec, image_size: int, train: bool) -> T.Compose:
    """torchvision transforms for streamed (large) images: the ImageNet recipe."""
    if train:
        head = [T.RandomResizedCrop(image_size, antialias=True)]
        head += [T.RandomHorizontalFlip()] if spec.hflip else []
    else:
        head = [T.Resize(int(round(image_size * 256 / 224)), antialias=True), T.CenterCrop(image_size)]
    return T.Compose([*head, T.ToDtype(torch.float32, scale=True), T.Normalize(spec.mean, spec.std)])


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of a uint8 (N, C, H, W) tensor, in [0, 1] units."""
    x = images.to(torch.float64).div_(255.0).transpose(0, 1).reshape(images.shape[1], -1)
    return tuple(x.mean(1).tolist()), tuple(x.std(1).clamp_min(1e-3).tolist())
