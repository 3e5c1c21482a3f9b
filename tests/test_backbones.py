"""Tests for fbcd_lab.models.backbones: feature-map shapes, CIFAR ResNet sizes, validation."""

import pickle

import pytest
import torch
from torch import nn

from fbcd_lab.models.backbones import BACKBONES, ShortcutA, build_backbone, feature_shape

EXPECTED = {
    "small_cnn": (1, 8, (80, 4, 4)),
    "resnet8": (3, 32, (64, 8, 8)),
    "resnet20": (3, 32, (64, 8, 8)),
    "resnet32": (3, 32, (64, 8, 8)),
    "resnet110": (3, 32, (64, 8, 8)),
    "resnet18": (3, 32, (512, 4, 4)),
    "resnext50": (3, 32, (2048, 4, 4)),
    "vgg16": (3, 32, (512, 4, 4)),
    "mobilenet_v2": (3, 32, (1280, 4, 4)),
}

# LDAM-DRW / Idelbayev totals with a 64x10 linear layer (650 params) removed.
CIFAR_PARAMS = {"resnet20": 269_722 - 650, "resnet32": 464_154 - 650, "resnet110": 1_727_962 - 650}


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_backbones_cover_expected_names():
    assert set(BACKBONES) == set(EXPECTED)


@pytest.mark.parametrize("name", BACKBONES)
def test_feature_shape_natural_input(name):
    in_channels, size, expected = EXPECTED[name]
    net = build_backbone(name, in_channels=in_channels, input_size=size)
    assert feature_shape(net, in_channels, size) == expected
    assert net.training


@pytest.mark.parametrize("name", ["resnet18", "vgg16", "mobilenet_v2", "resnet20"])
def test_non_rgb_input_channels(name):
    net = build_backbone(name, in_channels=1, input_size=32)
    assert feature_shape(net, 1, 32) == EXPECTED[name][2]


@pytest.mark.parametrize("name", CIFAR_PARAMS)
def test_cifar_resnet_param_counts(name):
    assert n_params(build_backbone(name)) == CIFAR_PARAMS[name]


def test_resnet32_matches_ldam_total_with_fc():
    assert n_params(build_backbone("resnet32")) + n_params(nn.Linear(64, 10)) == 464_154


def test_option_a_shortcut_is_parameter_free_and_pads():
    shortcut = ShortcutA(32)
    assert n_params(shortcut) == 0
    out = shortcut(torch.ones(2, 16, 8, 8))
    assert out.shape == (2, 32, 4, 4)
    assert out[:, :8].abs().sum() == 0 and out[:, 24:].abs().sum() == 0
    assert torch.equal(out[:, 8:24], torch.ones(2, 16, 4, 4))


def test_cifar_resnet_pickles():
    net = build_backbone("resnet20")
    clone = pickle.loads(pickle.dumps(net))
    assert clone.state_dict().keys() == net.state_dict().keys()


def test_feature_shape_restores_submodule_flags():
    net = build_backbone("resnet8")
    net.bn1.eval()
    feature_shape(net, 3, 32)
    assert net.training and not net.bn1.training and net.layer1.training


def test_unknown_name_raises():
    with pytest.raises(ValueError, match="nope") as info:
        build_backbone("nope")
    assert "resnet32" in str(info.value)


@pytest.mark.parametrize("kwargs, param", [({"in_channels": 0}, "in_channels"), ({"input_size": 0}, "input_size")])
def test_non_positive_sizes_raise(kwargs, param):
    with pytest.raises(ValueError, match=param):
        build_backbone("resnet8", **kwargs)


@pytest.mark.parametrize("name", ["resnet32", "resnet18", "mobilenet_v2"])
def test_same_seed_same_weights(name):
    states = []
    for _ in range(2):
        torch.manual_seed(0)
        states.append(build_backbone(name).state_dict())
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
