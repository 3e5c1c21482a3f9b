"""Convolutional feature extractors for the two-head long-tailed classifier.

Every backbone returns the final feature map (B, D, H, W) with no pooling and no
classifier, so the feature-balancing and class-division heads can work on it directly.
The CIFAR ResNets follow LDAM-DRW's ``models/resnet_cifar.py``; the torchvision models are
always built with ``weights=None`` and adapted to small (<= 64 px) inputs the usual CIFAR way.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

_SMALL_INPUT = 64


class ShortcutA(nn.Module):
    """Parameter-free option-A shortcut: subsample spatially by 2, zero-pad channels."""

    def __init__(self, planes: int) -> None:
        super().__init__()
        self.pad = planes // 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad), "constant", 0)


class BasicBlock(nn.Module):
    """Two 3x3 conv + BN layers with an identity or option-A shortcut (He et al., CIFAR)."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        needs_projection = stride != 1 or in_planes != planes
        self.shortcut = ShortcutA(planes) if needs_projection else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """LDAM-DRW's ResNet_s without avgpool/linear: 16/32/64-wide stages of n blocks each."""

    def __init__(self, n: int, in_channels: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(16, 16, n, stride=1)
        self.layer2 = self._make_layer(16, 32, n, stride=2)
        self.layer3 = self._make_layer(32, 64, n, stride=2)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    @staticmethod
    def _make_layer(in_planes: int, planes: int, n: int, stride: int) -> nn.Sequential:
        blocks = [BasicBlock(in_planes, planes, stride)]
        blocks += [BasicBlock(planes, planes, 1) for _ in range(n - 1)]
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return self.layer3(self.layer2(self.layer1(out)))


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


def _small_cnn(in_channels: int, input_size: int) -> nn.Module:
    return nn.Sequential(
        *_conv_bn_relu(in_channels, 32),
        *_conv_bn_relu(32, 64),
        nn.MaxPool2d(2),
        *_conv_bn_relu(64, 80),
    )


def _new_conv(old: nn.Conv2d, in_channels: int, stride: int | None = None) -> nn.Conv2d:
    """Copy of `old`'s configuration with new input channels / stride, freshly He-initialised."""
    conv = nn.Conv2d(
        in_channels, old.out_channels, old.kernel_size, stride=old.stride if stride is None else stride,
        padding=old.padding, groups=old.groups, bias=old.bias is not None,
    )
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


def _torchvision_resnet(factory: Callable[..., nn.Module]) -> Callable[[int, int], nn.Module]:
    def build(in_channels: int, input_size: int) -> nn.Module:
        net = factory(weights=None)
        if input_size <= _SMALL_INPUT:
            net.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
            nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
            net.maxpool = nn.Identity()
        elif in_channels != 3:
            net.conv1 = _new_conv(net.conv1, in_channels)
        return nn.Sequential(
            net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4
        )

    return build


def _vgg16(in_channels: int, input_size: int) -> nn.Module:
    layers = list(torchvision.models.vgg16_bn(weights=None).features)
    if in_channels != 3:
        layers[0] = _new_conv(layers[0], in_channels)
    if input_size <= _SMALL_INPUT:
        pools = [i for i, m in enumerate(layers) if isinstance(m, nn.MaxPool2d)]
        layers = [m for i, m in enumerate(layers) if i not in pools[-2:]]
    return nn.Sequential(*layers)


def _mobilenet_v2(in_channels: int, input_size: int) -> nn.Module:
    features = torchvision.models.mobilenet_v2(weights=None).features
    small = input_size <= _SMALL_INPUT
    if small or in_channels != 3:
        features[0][0] = _new_conv(features[0][0], in_channels, stride=1 if small else None)
    if small:
        features[2].conv[1][0].stride = (1, 1)
    return features


_BUILDERS: dict[str, Callable[[int, int], nn.Module]] = {
    "small_cnn": _small_cnn,
    "resnet8": lambda c, s: CifarResNet(1, c),
    "resnet20": lambda c, s: CifarResNet(3, c),
    "resnet32": lambda c, s: CifarResNet(5, c),
    "resnet110": lambda c, s: CifarResNet(18, c),
    "resnet18": _torchvision_resnet(torchvision.models.resnet18),
    "resnext50": _torchvision_resnet(torchvision.models.resnext50_32x4d),
    "vgg16": _vgg16,
    "mobilenet_v2": _mobilenet_v2,
}

BACKBONES: tuple[str, ...] = tuple(_BUILDERS)


def _check_positive(**values: int) -> None:
    for key, value in values.items():
        if value < 1:
            raise ValueError(f"{key} must be >= 1, got {value}")


def build_backbone(name: str, in_channels: int = 3, input_size: int = 32) -> nn.Module:
    """Build the feature extractor `name` (one of BACKBONES) for square inputs of `input_size` px.

    Raises ValueError for an unknown name or for in_channels / input_size below 1.
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown backbone name {name!r}; expected one of {', '.join(BACKBONES)}")
    _check_positive(in_channels=in_channels, input_size=input_size)
    return _BUILDERS[name](in_channels, input_size)


def feature_shape(backbone: nn.Module, in_channels: int, input_size: int) -> tuple[int, int, int]:
    """(D, H, W) of `backbone`'s feature map for a square input, via one eval-mode zero-batch forward.

    Every submodule's training flag is restored afterwards.
    """
    _check_positive(in_channels=in_channels, input_size=input_size)
    param = next(backbone.parameters(), None)
    device, dtype = (param.device, param.dtype) if param is not None else (None, None)
    flags = [(m, m.training) for m in backbone.modules()]
    backbone.eval()
    try:
        with torch.no_grad():
            out = backbone(torch.zeros(2, in_channels, input_size, input_size, device=device, dtype=dtype))
    finally:
        for m, flag in flags:
            m.training = flag
    _, d, h, w = out.shape
    return int(d), int(h), int(w)
