"""The two heads, the balanced neck, the four methods as one model, prediction rules, weight norms."""

import numpy as np
import pytest
import torch
from torch import nn

from fbcd_lab.models import (
    BalancedNeck, FeatureBalancingHead, TwoHeadModel, build_model, class_weight_norms, log_prior, predict_classes,
)


def group_gradients(model, features, num_classes):
    """For each FBH logit c, the channels of the feature map that receive a gradient."""
    owners = []
    for c in range(num_classes):
        fmap = features.clone().requires_grad_(True)
        model.fbh(fmap)[:, c].sum().backward()
        touched = fmap.grad.abs().sum(dim=(0, 2, 3)) > 0
        owners.append(torch.nonzero(touched).flatten().tolist())
    return owners


def test_fbh_logit_depends_only_on_its_group_when_d_is_a_multiple():
    torch.manual_seed(0)
    model = build_model("small_cnn", 10, in_channels=1, input_size=8)
    assert isinstance(model.neck, nn.Identity) and model.feature_channels == 80
    fmap = model.features(torch.randn(3, 1, 8, 8)).detach()
    owners = group_gradients(model, fmap, 10)
    assert owners == [list(range(8 * c, 8 * c + 8)) for c in range(10)]


@pytest.mark.parametrize(("classes", "channels"), [(10, 70), (100, 100), (7, 70)])
def test_balanced_neck_gives_every_class_the_same_channels(classes, channels):
    torch.manual_seed(0)
    model = build_model("resnet8", classes, input_size=32)
    g = channels // classes
    assert model.feature_channels == channels and model.classifier.in_features == channels
    fmap = model.features(torch.randn(2, 3, 32, 32)).detach()
    assert fmap.shape == (2, channels, 8, 8)
    owners = group_gradients(model, fmap, classes)
    assert owners == [list(range(g * c, g * c + g)) for c in range(classes)]


def test_channels_per_class_override_and_plain_models():
    model = build_model("resnet8", 10, channels_per_class=2)
    assert model.feature_channels == 20
    ce = build_model("resnet8", 10, fbh=False)
    assert ce.fbh is None and isinstance(ce.neck, nn.Identity) and ce.feature_channels == 64
    out = ce(torch.randn(2, 3, 32, 32))
    assert out.cluster_logits.shape == (2, 10) and out.fbh_logits is None


def test_four_methods_are_one_model():
    mapping = [0, 0, 0, 1, 1, 2]
    x = torch.randn(2, 1, 8, 8)
    for fbh in (False, True):
        for clusters in (None, mapping):
            out = build_model("small_cnn", 3, 1, 8, clusters, fbh=fbh)(x)
            assert out.cluster_logits.shape == (2, 3 if clusters is None else 6)
            assert (out.fbh_logits is not None) == fbh


def test_kernel_and_mapping_errors():
    with pytest.raises(ValueError, match="kernel_size 5 is larger than the backbone's 4x4"):
        build_model("small_cnn", 10, 1, 8, kernel_size=5)
    head = FeatureBalancingHead(2, 1, kernel_size=3)
    with pytest.raises(ValueError, match="kernel_size 3 is larger than the 2x2"):
        head(torch.randn(1, 2, 2, 2))
    with pytest.raises(ValueError, match=r"kernel_size must be an integer in \[1, 1024\], got 0"):
        FeatureBalancingHead(2, 1, kernel_size=0)
    with pytest.raises(ValueError, match="class_of_cluster"):
        build_model("small_cnn", 3, 1, 8, [0, 0, 1])
    with pytest.raises(ValueError, match="num_classes"):
        build_model("small_cnn", 1, 1, 8)
    with pytest.raises(ValueError, match="channels_per_class"):
        build_model("small_cnn", 10, 1, 8, channels_per_class=0)


def test_prediction_rules():
    class_of_cluster = torch.tensor([0, 0, 0, 1])
    # cluster 3 (class 1) is the top cluster, but class 0's three clusters together outweigh it.
    logits = torch.log(torch.tensor([[0.25, 0.2, 0.2, 0.35]]))
    assert predict_classes(logits, class_of_cluster).tolist() == [1]
    assert predict_classes(logits, class_of_cluster, "sum_clusters").tolist() == [0]
    prior = log_prior(np.array([10, 10, 10, 90]))
    assert predict_classes(logits, class_of_cluster, "logit_adjusted", prior).tolist() == [0]
    assert torch.allclose(prior.exp().sum(), torch.tensor(1.0))
    with pytest.raises(ValueError, match="log_prior"):
        predict_classes(logits, class_of_cluster, "logit_adjusted")
    with pytest.raises(ValueError, match="rule must be one of"):
        predict_classes(logits, class_of_cluster, "vote")


def test_weight_norms_average_a_class_clusters():
    model = build_model("small_cnn", 2, 1, 8, [0, 0, 1], fbh=False)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.weight[0, 0] = 1.0
        model.classifier.weight[1, 0] = 3.0
        model.classifier.weight[2, :2] = torch.tensor([3.0, 4.0])
    np.testing.assert_allclose(class_weight_norms(model), [2.0, 5.0])


def test_state_dict_round_trip():
    torch.manual_seed(0)
    model = build_model("small_cnn", 3, 1, 8, [0, 0, 1, 2])
    clone = build_model("small_cnn", 3, 1, 8, [0, 0, 1, 2])
    clone.load_state_dict(model.state_dict())
    x = torch.randn(2, 1, 8, 8)
    model.eval(), clone.eval()
    assert torch.equal(model(x).cluster_logits, clone(x).cluster_logits)
    assert isinstance(model, TwoHeadModel) and model.num_clusters == 4


@pytest.mark.parametrize(("fbh", "neck", "has_neck", "main_channels"), [
    (True, "shared", True, 70), (True, "always", True, 70), (True, "fbh_only", True, 64),
    (False, "shared", False, 64), (False, "always", True, 70), (False, "fbh_only", False, 64)])
def test_neck_controls_which_head_reads_the_balanced_channels(fbh, neck, has_neck, main_channels):
    model = build_model("resnet8", 10, fbh=fbh, neck=neck)  # 64 channels, 10 classes: g = 7
    assert isinstance(model.neck, BalancedNeck) == has_neck and model.feature_channels == main_channels
    assert model.classifier.in_features == main_channels
    x = torch.randn(2, 3, 32, 32)
    out = model(x)
    assert out.cluster_logits.shape == (2, 10) and (out.fbh_logits is not None) == fbh
    assert model.features(x).shape[1] == main_channels and model.balanced_features(x).shape[1] == (70 if has_neck else 64)
    with pytest.raises(ValueError, match="neck must be one of"):
        build_model("resnet8", 10, neck="sometimes")
