"""L1, L2 and L = L2 + lambda * L1."""

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
