"""The two heads of Section 2: feature balancing (FBH, Eq. 1) and class division (CDH).

When the backbone's D channels are not a multiple of the C classes (64 channels for CIFAR,
512 for Tiny-ImageNet, 2048 for ImageNet-LT; D < C for CIFAR-100), :class:`BalancedNeck` ends the
feature extractor with a 1x1 conv + BN + ReLU to g * C channels, g = ceil(D / C) by default,
so every class owns exactly g channels and no information is squeezed below D. Both heads read
the neck's output, so the main classifier sees the same class-balanced channels that FBH trains.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fbcd_lab.checks import check


def channels_for(in_channels: int, num_classes: int, channels_per_class: int | None = None) -> int:
    """Channels per class group g: ``channels_per_class`` if given, else ceil(D / C)."""
    if channels_per_class is None:
        return math.ceil(in_channels / num_classes)
    return check("channels_per_class", channels_per_class)


class BalancedNeck(nn.Sequential):
    """1x1 conv + BN + ReLU from D channels to g * C, so each class can own g channels."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class FeatureBalancingHead(nn.Module):
    """Eq. 1: z_c = GAP(F_c * K_c), the c-th group of g channels convolved with class kernel K_c.

    One grouped convolution (C groups, one output each, no padding) then global average pooling.
    """

    def __init__(self, num_classes: int, channels_per_class: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.kernel_size = check("kernel_size", kernel_size)
        self.conv = nn.Conv2d(num_classes * channels_per_class, num_classes, self.kernel_size,
                              groups=num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h, w = features.shape[-2:]
        if h < self.kernel_size or w < self.kernel_size:
            raise ValueError(f"kernel_size {self.kernel_size} is larger than the {h}x{w} feature map; "
                             f"kernel_size must be <= {min(h, w)}")
        return self.conv(features).mean(dim=(2, 3))


class NormedLinear(nn.Module):
    """Cosine classifier: normalised features times normalised class weights, times ``scale``
    (LDAM-DRW's ``NormedLinear`` with the s its loss applies, so the logits are the ones softmax was
    trained on: post-hoc logit adjustment and calibration read them as they are). Stored as
    (out, in) like ``nn.Linear`` so weight norms read the same way."""

    def __init__(self, in_features: int, out_features: int, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-1, 1).renorm_(2, 0, 1e-5).mul_(1e5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cosine = nn.functional.linear(nn.functional.normalize(x, dim=1), nn.functional.normalize(self.weight, dim=1))
        return self.scale * cosine
