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


def ldam_drw_focal(logits, labels, weight, gamma):
    """LDAM-DRW's losses.py written out: focal_loss(F.cross_entropy(input, target, reduction='none',
    weight=self.weight), self.gamma), i.e. the batch mean of (1 - exp(-v))^gamma v, v = w_y CE."""
    values = F.cross_entropy(logits, labels, reduction="none", weight=weight)
    return ((1 - torch.exp(-values)) ** gamma * values).mean()


def cui_focal(logits, labels, weight, gamma):
    """Cui et al.'s class-balanced focal loss in softmax form, written out: the batch mean of
    w_y (1 - p_y)^gamma (-log p_y), p_y the model's probability of the label."""
    p = torch.softmax(logits, dim=1)[torch.arange(len(labels)), labels]
    return (weight[labels] * (1 - p) ** gamma * -torch.log(p)).mean()


def weighted_soft_ce(logits, targets, weights):
    """PyTorch's weighted mean of the soft cross-entropies: sum(w v) / sum(w)."""
    values = -(targets * logits.log_softmax(1)).sum(1)
    return (weights * values).sum() / weights.sum()


def mixing_case(seed=0):
    """Eight samples of three classes split into clusters (u = 3), both heads' logits, class weights
    and a hand-made Mixup pairing with weight 0.3."""
    from fbcd_lab.data.mixup import Mixing

    torch.manual_seed(seed)
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 2])
    div = divide_classes(labels.numpy(), 3, 3)
    q = torch.as_tensor(soft_label_matrix(div, 0.6), dtype=torch.float32)
    clusters = torch.as_tensor(div.cluster_of_sample)
    out = HeadOutputs(torch.randn(8, div.num_clusters), torch.randn(8, 3))
    return labels, clusters, q, out, torch.tensor([0.25, 1.0, 4.0]), Mixing(0.3, torch.tensor([7, 5, 4, 6, 0, 2, 3, 1]))


@pytest.mark.parametrize("gamma", [1.0, 2.0])
def test_weighted_focal_ldam_drw_is_ldam_drws_mean_of_focal_weighted_cross_entropies(gamma):
    logits, labels, onehot = batch(n=8)
    w = torch.tensor([0.2, 1.0, 3.0])
    focal = make_loss("focal", focal_gamma=gamma, balancing="reweight", focal_weighting="ldam_drw")
    v = w[labels] * -logits.log_softmax(1)[torch.arange(8), labels]
    expected = ((1 - torch.exp(-v)) ** gamma * v).mean()
    assert torch.allclose(ldam_drw_focal(logits, labels, w, gamma), expected)
    assert torch.allclose(focal(logits, onehot, w[labels]), expected)
    soft = 0.3 * onehot + 0.7 * onehot.flip(0)  # v_i = w_i * soft cross-entropy of sample i
    v_soft = w[labels] * -(soft * logits.log_softmax(1)).sum(1)
    assert torch.allclose(focal(logits, soft, w[labels]), ((1 - torch.exp(-v_soft)) ** gamma * v_soft).mean())
    assert torch.allclose(focal(logits, onehot, torch.ones(8)), focal(logits, onehot))


@pytest.mark.parametrize("loss", ["ce", "focal"])
def test_weighted_mixup_is_the_two_term_loss_of_the_mixup_code(loss):
    """lam * L_w(logits, y_a) + (1 - lam) * L_w(logits, y_b), each term weighted by its own labels."""
    labels, _, _, out, w, mixing = mixing_case()
    logits = out.fbh_logits
    q = torch.eye(3)  # identity division: the plain C-way head
    main_loss = make_loss(loss, focal_gamma=1.0)
    if loss == "ce":
        terms = [F.cross_entropy(logits, y, weight=w) for y in (labels, labels[mixing.perm])]
    else:
        terms = [cui_focal(logits, y, w, 1.0) for y in (labels, labels[mixing.perm])]
    parts = fbcd_loss(HeadOutputs(logits, None), labels, labels, q, 1.5, main_loss=main_loss, class_weights=w,
                      mixing=mixing)
    assert torch.allclose(parts.l2, 0.3 * terms[0] + 0.7 * terms[1])


@pytest.mark.parametrize("weight_l1", [True, False])
def test_weighted_mixup_on_cluster_soft_targets_is_two_terms_in_l2_and_l1(weight_l1):
    labels, clusters, q, out, w, mixing = mixing_case()
    perm = mixing.perm
    targets_a, targets_b = q[clusters], q[clusters][perm]
    l2 = 0.3 * weighted_soft_ce(out.cluster_logits, targets_a, w[labels]) + \
        0.7 * weighted_soft_ce(out.cluster_logits, targets_b, w[labels[perm]])
    onehot = F.one_hot(labels, 3).float()
    if weight_l1:
        l1 = 0.3 * weighted_soft_ce(out.fbh_logits, onehot, w[labels]) + \
            0.7 * weighted_soft_ce(out.fbh_logits, onehot[perm], w[labels[perm]])
    else:  # L1 unweighted: the loss on the mixed labels, as without class weights
        l1 = -((0.3 * onehot + 0.7 * onehot[perm]) * out.fbh_logits.log_softmax(1)).sum(1).mean()
    parts = fbcd_loss(out, labels, clusters, q, 1.5, class_weights=w, weight_l1=weight_l1, mixing=mixing)
    assert torch.allclose(parts.l2, l2) and torch.allclose(parts.l1, l1)
    assert torch.allclose(parts.total, l2 + 1.5 * l1)


@pytest.mark.parametrize("mixup", [False, True])
def test_cluster_weights_weight_l2_by_cluster_and_l1_by_class(mixup):
    """Ours-Full's default reading: in L2 each sample (and in Mixup's second term its partner)
    weighs its cluster's weight; L1 keeps the class weights."""
    labels, clusters, q, out, w, drawn = mixing_case()
    wk = torch.linspace(0.5, 2.0, q.shape[0])
    onehot = F.one_hot(labels, 3).float()
    perm = drawn.perm if mixup else torch.arange(8)
    share = 0.3 if mixup else 1.0
    l2 = share * weighted_soft_ce(out.cluster_logits, q[clusters], wk[clusters]) + \
        (1 - share) * weighted_soft_ce(out.cluster_logits, q[clusters][perm], wk[clusters[perm]])
    l1 = share * weighted_soft_ce(out.fbh_logits, onehot, w[labels]) + \
        (1 - share) * weighted_soft_ce(out.fbh_logits, onehot[perm], w[labels[perm]])
    parts = fbcd_loss(out, labels, clusters, q, 1.5, class_weights=w, cluster_weights=wk,
                      mixing=drawn if mixup else None)
    assert torch.allclose(parts.l2, l2) and torch.allclose(parts.l1, l1)
    class_only = fbcd_loss(out, labels, clusters, q, 1.5, class_weights=w, mixing=drawn if mixup else None)
    assert not torch.allclose(class_only.l2, l2)


def test_unweighted_focal_and_mixup_are_unchanged():
    """Without class weights: focal is the batch mean of -sum_k q_k (1 - p_k)^gamma log p_k and Mixup
    takes the loss on the mixed targets (for these losses, linear in q, the two-term loss)."""
    labels, clusters, q, out, _, mixing = mixing_case()
    focal = make_loss("focal", focal_gamma=2.0)

    def old_focal(logits, targets):
        log_p = logits.log_softmax(1)
        return -(targets * (1 - log_p.exp()) ** 2 * log_p).sum(1).mean()

    onehot = F.one_hot(labels, 3).float()
    mixed_onehot = 0.3 * onehot + 0.7 * onehot[mixing.perm]
    for targets in (onehot, mixed_onehot):
        assert torch.allclose(focal(out.fbh_logits, targets), old_focal(out.fbh_logits, targets), rtol=1e-6)
    parts = fbcd_loss(HeadOutputs(out.fbh_logits, None), labels, labels, torch.eye(3), 1.5, main_loss=focal,
                      mixing=mixing)
    assert torch.allclose(parts.l2, old_focal(out.fbh_logits, mixed_onehot), rtol=1e-6)
    mixed_q = 0.3 * q[clusters] + 0.7 * q[clusters][mixing.perm]
    parts = fbcd_loss(out, labels, clusters, q, 1.5, mixing=mixing)
    assert torch.allclose(parts.l2, -(mixed_q * out.cluster_logits.log_softmax(1)).sum(1).mean(), rtol=1e-6)
    assert torch.allclose(parts.l1, -(mixed_onehot * out.fbh_logits.log_softmax(1)).sum(1).mean(), rtol=1e-6)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0])
def test_cb_focal_is_cuis_class_balanced_focal_loss(gamma):
    """``cb_focal`` (the default weighting) is the batch mean of w_y (1 - p_y)^gamma (-log p_y):
    weighted and unweighted, hard and soft targets. LDAM-DRW's form (the weight in the exponent,
    this kit's cb_focal before December 2026) gives another number."""
    from fbcd_lab.config import MethodConfig
    from fbcd_lab.losses import LOSSES
    from fbcd_lab.recipes import recipe

    logits, labels, onehot = batch(n=8)
    w = torch.tensor([0.2, 1.0, 3.0])
    focal = LOSSES["focal"].make(np.ones(3), recipe("cb_focal", focal_gamma=gamma))
    assert torch.allclose(focal(logits, onehot, w[labels]), cui_focal(logits, labels, w, gamma))
    assert torch.allclose(focal(logits, onehot), cui_focal(logits, labels, torch.ones(3), gamma))
    soft = 0.3 * onehot + 0.7 * onehot.flip(0)
    p = torch.softmax(logits, dim=1)
    by_hand = (w[labels] * -(soft * (1 - p) ** gamma * torch.log(p)).sum(1)).mean()
    assert torch.allclose(focal(logits, soft, w[labels]), by_hand)
    assert torch.allclose(focal(logits, soft), -(soft * (1 - p) ** gamma * torch.log(p)).sum(1).mean())
    if gamma > 0:
        assert not torch.allclose(ldam_drw_focal(logits, labels, w, gamma), cui_focal(logits, labels, w, gamma))
    ldam = LOSSES["focal"].make(np.ones(3), recipe("cb_focal_ldam", focal_gamma=gamma))
    assert torch.allclose(ldam(logits, onehot, w[labels]), ldam_drw_focal(logits, labels, w, gamma))
    assert MethodConfig(method="ce", loss="focal").focal_weighting == "cui"


def test_tail_gradient_over_head_gradient_at_one_half():
    """The issue's numbers: at p_y = 0.5 (two equal logits) the gradient on the true logit is 79x
    larger for the tail class than for the head in Cui's form, 1,282x in LDAM-DRW's, on
    CIFAR-10-LT ratio 100's effective-number weights."""
    from fbcd_lab.balancing import effective_number_weights
    from fbcd_lab.losses import LOSSES
    from fbcd_lab.recipes import recipe

    counts = np.array([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50])
    w = torch.as_tensor(effective_number_weights(counts), dtype=torch.float32)
    ratios = {}
    for name in ("cb_focal", "cb_focal_ldam"):
        loss = LOSSES["focal"].make(np.ones(10), recipe(name))
        grads = []
        for label in (0, 9):
            logits = torch.full((1, 10), -1e4)
            logits[0, label] = logits[0, (label + 1) % 10] = 0.0
            logits.requires_grad_(True)
            loss(logits, F.one_hot(torch.tensor([label]), 10).float(), w[[label]]).backward()
            grads.append(logits.grad[0, label].abs().item())
        ratios[name] = grads[1] / grads[0]
    assert round(ratios["cb_focal"]) == 79 and round(ratios["cb_focal_ldam"]) == 1282


def test_saved_weighted_focal_runs_read_as_the_ldam_drw_form():
    """A run saved before ``focal_weighting`` existed trained LDAM-DRW's form: read back, its method
    is cb_focal_ldam's, not the new cb_focal's; other saved runs keep the defaults."""
    from fbcd_lab.config import MethodConfig, with_defaults
    from fbcd_lab.recipes import recipe, recipe_of

    saved = recipe("cb_focal_ldam", "resnet8").to_dict()
    del saved["focal_weighting"], saved["sampler"]
    assert recipe_of(MethodConfig(**with_defaults(MethodConfig, saved))) == "cb_focal_ldam"
    plain = recipe("focal", "resnet8").to_dict()
    del plain["focal_weighting"]
    assert recipe_of(MethodConfig(**with_defaults(MethodConfig, plain))) == "focal"
