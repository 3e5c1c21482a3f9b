"""L1, L2 and L = L2 + lambda * L1."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fbcd_lab.class_division import divide_classes, identity_division, soft_label_matrix
from fbcd_lab.losses import fbcd_loss, soft_cross_entropy
from fbcd_lab.models.two_head import HeadOutputs


def test_l2_with_u1_equals_cross_entropy():
    torch.manual_seed(0)
    labels = torch.randint(0, 5, (32,))
    labels[:5] = torch.arange(5)
    logits = torch.randn(32, 5)
    div = identity_division(labels.numpy(), 5)
    q = torch.as_tensor(soft_label_matrix(div, 0.5), dtype=torch.float32)
    parts = fbcd_loss(HeadOutputs(logits, None), labels, labels, q, lam=1.5)
    assert torch.allclose(parts.l2, F.cross_entropy(logits, labels))
    assert parts.l1 == 0 and torch.allclose(parts.total, parts.l2)


def test_soft_cross_entropy_by_hand():
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0]])
    target = torch.tensor([[0.5, 0.5, 0.0, 0.0]])
    assert soft_cross_entropy(logits, target).item() == pytest.approx(torch.log(torch.tensor(4.0)).item())


def test_total_is_l2_plus_lambda_l1():
    torch.manual_seed(0)
    labels = torch.tensor([0, 0, 0, 0, 1, 1])
    div = divide_classes(labels.numpy(), 2, 3)
    q = torch.as_tensor(soft_label_matrix(div, 0.6), dtype=torch.float32)
    clusters = torch.as_tensor(div.cluster_of_sample)
    out = HeadOutputs(torch.randn(6, div.num_clusters), torch.randn(6, 2))
    parts = fbcd_loss(out, labels, clusters, q, lam=1.5)
    expected_l2 = -(q[clusters] * out.cluster_logits.log_softmax(1)).sum(1).mean()
    assert torch.allclose(parts.l2, expected_l2)
    assert torch.allclose(parts.l1, F.cross_entropy(out.fbh_logits, labels))
    assert torch.allclose(parts.total, parts.l2 + 1.5 * parts.l1)
    with pytest.raises(ValueError, match="lam"):
        fbcd_loss(out, labels, clusters, q, lam=-0.1)


def make_loss(name, counts=(50, 20, 5), **fields):
    from fbcd_lab.config import MethodConfig
    from fbcd_lab.losses import LOSSES

    return LOSSES[name].make(np.asarray(counts), MethodConfig(method="ce", loss=name, **fields))


def batch(k=3, n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, k, generator=g)
    labels = torch.randint(0, k, (n,), generator=g)
    return logits, labels, F.one_hot(labels, k).float()


def test_focal_with_gamma_zero_is_cross_entropy_and_down_weights_easy_examples():
    logits, labels, onehot = batch()
    assert torch.allclose(make_loss("focal", focal_gamma=0.0)(logits, onehot), F.cross_entropy(logits, labels))
    per_ce = F.cross_entropy(logits, labels, reduction="none")
    expected = ((1 - torch.exp(-per_ce)) ** 2 * per_ce).mean()
    assert torch.allclose(make_loss("focal", focal_gamma=2.0)(logits, onehot), expected)


def test_logit_adjusted_loss_with_tau_zero_is_cross_entropy():
    logits, labels, onehot = batch()
    assert torch.allclose(make_loss("la", la_tau=0.0)(logits, onehot), F.cross_entropy(logits, labels))
    prior = torch.tensor([50.0, 20.0, 5.0]) / 75
    assert torch.allclose(make_loss("la", la_tau=2.0)(logits, onehot),
                          F.cross_entropy(logits + 2.0 * prior.log(), labels))


def test_balanced_softmax_is_cross_entropy_on_logits_plus_log_prior():
    logits, labels, onehot = batch()
    prior = torch.tensor([50.0, 20.0, 5.0]) / 75
    assert torch.allclose(make_loss("balanced_softmax")(logits, onehot), F.cross_entropy(logits + prior.log(), labels))
    assert torch.allclose(make_loss("balanced_softmax")(logits, onehot), make_loss("la", la_tau=1.0)(logits, onehot))


def test_ldam_largest_margin_is_half_on_the_smallest_class():
    from fbcd_lab.losses.ldam import margins

    m = margins(np.array([5000, 500, 50]), 0.5)
    assert m.max() == pytest.approx(0.5) and m.argmax() == 2
    assert m[0] == pytest.approx(0.5 * (50 / 5000) ** 0.25)
    logits, labels, onehot = batch()
    cosine = torch.tanh(logits)  # cosines lie in [-1, 1]
    shifted = cosine - F.one_hot(labels, 3) * torch.tensor(margins(np.array([50, 20, 5]), 0.5), dtype=torch.float32)
    assert torch.allclose(make_loss("ldam")(30 * cosine, onehot), F.cross_entropy(30 * shifted, labels))


def test_ldam_model_gives_the_scaled_logits_its_loss_trained():
    """The cosine classifier outputs s cos (s = ldam_scale), so post-hoc logit adjustment and
    calibration read the logits softmax was trained on, not cosines in [-1, 1]."""
    from fbcd_lab.models import build_model

    torch.manual_seed(0)
    model = build_model("small_cnn", 3, 1, 8, fbh=False, normalized_classifier=True, classifier_scale=30.0).eval()
    x = torch.randn(4, 1, 8, 8)
    logits = model(x).cluster_logits
    cosine = F.linear(F.normalize(model.features(x).mean(dim=(2, 3)), dim=1),
                      F.normalize(model.classifier.weight, dim=1))
    assert torch.allclose(logits, 30 * cosine, atol=1e-5) and logits.abs().max() > 1


def test_weighted_losses_follow_pytorch_cross_entropy_weights():
    logits, labels, onehot = batch()
    w = torch.tensor([0.2, 1.0, 3.0])
    ce = make_loss("ce")
    assert torch.allclose(ce(logits, onehot, w[labels]), F.cross_entropy(logits, labels, weight=w))


def test_mixup_with_weight_one_equals_no_mixup():
    from fbcd_lab.data.mixup import Mixing

    torch.manual_seed(0)
    labels = torch.tensor([0, 0, 0, 0, 1, 1])
    div = divide_classes(labels.numpy(), 2, 3)
    q = torch.as_tensor(soft_label_matrix(div, 0.6), dtype=torch.float32)
    clusters = torch.as_tensor(div.cluster_of_sample)
    out = HeadOutputs(torch.randn(6, div.num_clusters), torch.randn(6, 2))
    w = torch.tensor([0.5, 1.5])
    plain = fbcd_loss(out, labels, clusters, q, 1.5, class_weights=w)
    mixed = fbcd_loss(out, labels, clusters, q, 1.5, class_weights=w, mixing=Mixing(1.0, torch.randperm(6)))
    assert all(torch.allclose(a, b, rtol=1e-6, atol=0) for a, b in zip(plain, mixed))
    half = fbcd_loss(out, labels, clusters, q, 1.5, mixing=Mixing(0.5, torch.arange(6).flip(0)))
    mixed_targets = 0.5 * q[clusters] + 0.5 * q[clusters].flip(0)
    assert torch.allclose(half.l2, -(mixed_targets * out.cluster_logits.log_softmax(1)).sum(1).mean())


def test_unsupported_combinations_are_refused_naming_both():
    from fbcd_lab.config import MethodConfig

    for head in ("cdh", "fbcd"):
        for loss in ("focal", "ldam", "la", "balanced_softmax"):
            with pytest.raises(ValueError, match=f"loss '{loss}' with method '{head}' is not supported"):
                MethodConfig(method=head, loss=loss)
    for head in ("ce", "fbh", "cdh", "fbcd"):  # balancing and Mixup compose with every head
        MethodConfig(method=head, balancing="drw", augment="mixup")
