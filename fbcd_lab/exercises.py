"""Implement-it-yourself exercises: a learner writes one piece of the method and ``check`` tells
at once whether it is right, and if not, what is wrong, in a line or two.

Each :class:`Exercise` runs the learner's function on generated inputs (edge cases included)
against this library's own implementation, and knows the usual mistakes of its piece (rounding
half to even in Eq. 3, interleaved channel groups in Eq. 1, adding the prior instead of
subtracting it, ...) well enough to name them. ``hint()`` says where to start, ``solution()`` shows
a plain correct answer. The notebooks call them where each idea is taught:

    from fbcd_lab.exercises import EXERCISES
    ex = EXERCISES["clusters_per_class"]
    ex.check(my_clusters_per_class)      # one line: right on N inputs, or what is wrong
    ex.show_pass()                       # what a pass looks like: the check of the plain answer
"""

from __future__ import annotations

import inspect
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from fbcd_lab.class_division import ClassDivision, clusters_per_class, soft_label_matrix
from fbcd_lab.losses import feature_balancing_loss, soft_cross_entropy
from fbcd_lab.models.predict import adjusted_logits, log_prior, predict_classes


@dataclass(frozen=True)
class Case:
    """One input of a check: what it is, in words, and the arguments."""

    what: str
    args: tuple


@dataclass(frozen=True)
class Result:
    """The verdict of :meth:`Exercise.check`: ``ok`` and the message it shows (its repr, so the
    notebook cell that calls ``check`` displays it)."""

    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Exercise:
    """One piece of the method to write: ``task`` says what, ``reference`` is the library's answer,
    ``cases`` the inputs a check runs, ``mistakes`` known wrong answers with what to say when the
    learner's output equals theirs, ``hints`` and ``answer`` for :meth:`hint` and :meth:`solution`."""

    name: str
    task: str
    reference: Callable
    cases: Callable[[], list[Case]]
    hints: str
    answer: Callable
    mistakes: tuple[tuple[Callable, str], ...] = ()
    rtol: float = 1e-5

    def check(self, fn: Callable) -> Result:
        """Run ``fn`` on every case against the reference; the first difference, named, or all right."""
        cases = self.cases()
        for case in cases:
            expected = _as_array(self.reference(*case.args))
            try:
                got = fn(*_fresh(case.args))
            except NotImplementedError:
                return Result(False, f"✗ {self.name}: not written yet (it raised NotImplementedError); "
                                     f"ex.hint() helps you start")
            except Exception as err:  # the learner's code: any error is a finding to report
                return Result(False, f"✗ {self.name}: on {case.what}: your function raised "
                                     f"{type(err).__name__}: {err}")
            problem = self._difference(case, expected, got)
            if problem:
                return Result(False, f"✗ {self.name}: on {case.what}: {problem}")
        return Result(True, f"✓ {self.name}: right on all {len(cases)} inputs, edge cases included")

    def _difference(self, case: Case, expected: np.ndarray, got) -> str | None:
        if got is None:
            return "your function returned None (a missing return?)"
        try:
            got = _as_array(got)
        except (TypeError, ValueError):
            return f"expected an array or tensor, got a {type(got).__name__}"
        if got.shape != expected.shape:
            return f"the result has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        if np.issubdtype(expected.dtype, np.floating):
            wrong = ~np.isclose(got.astype(np.float64), expected, rtol=self.rtol, atol=1e-6)
        else:
            wrong = got != expected
        if not wrong.any():
            return None
        for mistake, said in self.mistakes:
            seen = _as_array(mistake(*case.args))
            if seen.shape == got.shape and np.allclose(seen.astype(np.float64), got.astype(np.float64),
                                                       rtol=self.rtol, atol=1e-6):
                return said
        at = tuple(int(i) for i in np.argwhere(wrong)[0])
        where = f" at index {at[0] if len(at) == 1 else at}" if at else ""
        return f"got {_short(got[at] if at else got)}{where}, expected {_short(expected[at] if at else expected)}"

    def show_pass(self) -> Result:
        """What a pass looks like: the check run on :meth:`solution`'s answer; raises AssertionError
        if the check refused it (a broken exercise, never the learner's doing)."""
        result = self.check(self.answer)
        if not result:
            raise AssertionError(f"exercise {self.name!r} refuses its own answer: {result.message}")
        return result

    def hint(self) -> None:
        """Print where to start."""
        print(textwrap.fill(f"{self.name}: {self.hints}", 100))

    def solution(self) -> None:
        """Print a plain correct answer (not the library's, which checks its inputs too)."""
        print(inspect.getsource(self.answer))


def _as_array(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _fresh(args: tuple) -> tuple:
    """Copies of the arguments, so a learner's function that writes into its inputs changes no case."""
    return tuple(a.clone() if isinstance(a, torch.Tensor) else a.copy() if isinstance(a, (np.ndarray, list)) else a
                 for a in args)


def _short(value) -> str:
    array = np.asarray(value)
    if array.ndim == 0:
        return f"{array.item():.6g}" if np.issubdtype(array.dtype, np.floating) else str(array.item())
    return np.array2string(array, precision=4, threshold=12)


# Eq. 3 ------------------------------------------------------------------------------------------

def clusters_per_class_solution(counts: Sequence[int], u: int) -> list[int]:
    n_1, n_C = min(counts), max(counts)
    if n_1 == n_C:
        return [1] * len(counts)
    return [min(n, 1 + math.floor((n - n_1) / (n_C - n_1) * (u - 1) + 0.5)) for n in counts]


def _clusters_cases() -> list[Case]:
    return [Case("CIFAR-10-LT's counts (ratio 100) with u = 10",
                 ([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50], 10)),
            Case("counts [1, 3, 5] with u = 2 (a share of exactly one half)", ([1, 3, 5], 2)),
            Case("counts [500, 5000, 50] (not sorted) with u = 5", ([500, 5000, 50], 5)),
            Case("counts [1, 2, 3] with u = 10 (more clusters than images)", ([1, 2, 3], 10)),
            Case("equal counts [40, 40, 40] with u = 10", ([40, 40, 40], 10)),
            Case("counts [7, 700] with u = 1", ([7, 700], 1))]


def _half_to_even(counts, u):
    n_1, n_C = min(counts), max(counts)
    return [1] * len(counts) if n_1 == n_C else [min(n, 1 + round((n - n_1) / (n_C - n_1) * (u - 1))) for n in counts]


def _first_and_last(counts, u):
    n_1, n_C = counts[-1], counts[0]
    return [1 + math.floor((n - n_1) / (n_C - n_1) * (u - 1) + 0.5) for n in counts]


def _uncapped(counts, u):
    n_1, n_C = min(counts), max(counts)
    return [1] * len(counts) if n_1 == n_C else [1 + math.floor((n - n_1) / (n_C - n_1) * (u - 1) + 0.5)
                                                 for n in counts]


CLUSTERS_PER_CLASS = Exercise(
    "clusters_per_class",
    "u_c = 1 + round((n_c - n_1) / (n_C - n_1) * (u - 1)) for each class (Eq. 3)",
    lambda counts, u: np.asarray(clusters_per_class(counts, u)),
    _clusters_cases,
    "n_1 and n_C are the smallest and the largest count (min and max, whatever the order); round half "
    "up (math.floor(x + 0.5)), as the paper's integer clusters need; equal counts divide by zero, so "
    "give every class one cluster there; and no class can have more clusters than images.",
    clusters_per_class_solution,
    mistakes=((_half_to_even, "a share of exactly one half rounds down in your answer: Python's round() "
                              "rounds halves to even; Eq. 3 rounds them up (math.floor(x + 0.5))"),
              (_uncapped, "a class got more clusters than it has images: cap u_c at n_c, or a cluster is empty"),
              (_first_and_last, "n_1 and n_C are the smallest and largest counts (min, max), not the last and "
                                "first: the counts need not be sorted")))


# The soft labels ---------------------------------------------------------------------------------

def soft_labels_solution(class_of_cluster: np.ndarray, alpha: float) -> np.ndarray:
    k = len(class_of_cluster)
    q = np.zeros((k, k))
    for i in range(k):
        siblings = [j for j in range(k) if class_of_cluster[j] == class_of_cluster[i] and j != i]
        if not siblings:
            q[i, i] = 1.0
            continue
        q[i, i] = alpha
        for j in siblings:
            q[i, j] = (1 - alpha) / len(siblings)
    return q


def _soft_reference(class_of_cluster: np.ndarray, alpha: float) -> np.ndarray:
    division = ClassDivision(np.zeros(0, dtype=np.int64), np.asarray(class_of_cluster), "random")
    return soft_label_matrix(division, alpha)


def _soft_cases() -> list[Case]:
    return [Case("clusters of classes [0, 0, 0, 1, 1, 2] with alpha 0.5", (np.array([0, 0, 0, 1, 1, 2]), 0.5)),
            Case("clusters of classes [0, 0, 1, 1, 1, 1] with alpha 0.8", (np.array([0, 0, 1, 1, 1, 1]), 0.8)),
            Case("one cluster a class, [0, 1, 2], with alpha 0.5 (u_c = 1: a hard label)", (np.array([0, 1, 2]), 0.5)),
            Case("clusters of classes [0, 0, 0, 0] with alpha 1", (np.array([0, 0, 0, 0]), 1.0))]


def _soft_single_alpha(class_of_cluster, alpha):
    q = _soft_reference(class_of_cluster, alpha)
    alone = np.flatnonzero(np.bincount(class_of_cluster)[class_of_cluster] == 1)
    q[alone, alone] = alpha
    return q


def _soft_over_all(class_of_cluster, alpha):
    k = len(class_of_cluster)
    q = np.full((k, k), (1 - alpha) / max(k - 1, 1))
    np.fill_diagonal(q, alpha)
    return q


SOFT_LABELS = Exercise(
    "soft_labels",
    "the (K, K) soft-label matrix: alpha on a sample's own cluster, (1 - alpha) / (u_c - 1) on each "
    "sibling cluster of the same class, 0 elsewhere",
    _soft_reference,
    _soft_cases,
    "row k is the target of a sample in cluster k; its siblings are the other clusters whose class is "
    "class_of_cluster[k]; a class with one cluster has no sibling to share with, so its row is one-hot; "
    "every row sums to 1.",
    soft_labels_solution,
    mistakes=((_soft_single_alpha, "a class with one cluster keeps only alpha on its row, which then sums to "
                                   "alpha: with no sibling the label is hard (1 on the own cluster)"),
              (_soft_over_all, "the rest (1 - alpha) goes to the siblings of the same class only, not to every "
                               "other cluster")))


# Eq. 1: the feature-balancing head's forward pass ----------------------------------------------

def fbh_forward_solution(features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    num_classes, g = weight.shape[:2]
    logits = []
    for c in range(num_classes):
        group = features[:, c * g:(c + 1) * g]
        response = F.conv2d(group, weight[c:c + 1], bias[c:c + 1])
        logits.append(response.mean(dim=(2, 3)))
    return torch.cat(logits, dim=1)


def _fbh_reference(features, weight, bias):
    return F.conv2d(features, weight, bias, groups=weight.shape[0]).mean(dim=(2, 3))


def _fbh_cases() -> list[Case]:
    g = torch.Generator().manual_seed(0)

    def case(what, b, c, per, k, h):
        return Case(what, (torch.randn(b, c * per, h, h, generator=g), torch.randn(c, per, k, k, generator=g),
                           torch.randn(c, generator=g)))
    return [case("2 images, 3 classes of 2 channels, 3x3 kernels, 5x5 maps", 2, 3, 2, 3, 5),
            case("1 image, 4 classes of 1 channel, 1x1 kernels, 4x4 maps", 1, 4, 1, 1, 4),
            case("3 images, 2 classes of 3 channels, a kernel as large as the 3x3 map", 3, 2, 3, 3, 3),
            case("2 images, 10 classes of 7 channels, 3x3 kernels, 8x8 maps (CIFAR's shape)", 2, 10, 7, 3, 8)]


def _fbh_interleaved(features, weight, bias):
    c, per = weight.shape[:2]
    order = torch.arange(c * per).reshape(per, c).T.reshape(-1)  # class c reads channels c, c + C, ...
    return F.conv2d(features[:, order], weight, bias, groups=c).mean(dim=(2, 3))


def _fbh_max_pooled(features, weight, bias):
    return F.conv2d(features, weight, bias, groups=weight.shape[0]).amax(dim=(2, 3))


def _fbh_padded(features, weight, bias):
    return F.conv2d(features, weight, bias, groups=weight.shape[0], padding=weight.shape[-1] // 2).mean(dim=(2, 3))


FBH_FORWARD = Exercise(
    "fbh_forward",
    "Eq. 1: z_c = GAP(F_c * K_c): class c's group of g channels convolved with its kernel, then averaged "
    "over the map; features (B, C g, H, W), weight (C, g, k, k), bias (C,) -> logits (B, C)",
    _fbh_reference,
    _fbh_cases,
    "class c owns the contiguous channels c*g .. c*g + g - 1; one output channel per class, no padding "
    "(the paper's valid convolution); global AVERAGE pooling over H and W. F.conv2d(..., groups=C) does "
    "all classes at once, a loop over c is fine too.",
    fbh_forward_solution,
    mistakes=((_fbh_interleaved, "class c reads the contiguous channels c*g .. c*g + g - 1, not every C-th "
                                 "channel: F.conv2d's groups split the channels into contiguous blocks"),
              (_fbh_max_pooled, "the logit is the AVERAGE of the response map (global average pooling), not "
                                "its maximum"),
              (_fbh_padded, "Eq. 1's convolution has no padding: the response map is (H - k + 1) x (W - k + 1)")),
    rtol=1e-4)


# Eq. 2 and the total loss ------------------------------------------------------------------------

def feature_balancing_loss_solution(fbh_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    log_p = fbh_logits.log_softmax(dim=1)
    return -log_p[torch.arange(len(labels)), labels].mean()


def _loss_batch(seed: int, n: int, c: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return 3 * torch.randn(n, c, generator=g), torch.randint(0, c, (n,), generator=g)


def _l1_cases() -> list[Case]:
    return [Case("8 samples of 3 classes", _loss_batch(0, 8, 3)), Case("1 sample of 10 classes", _loss_batch(1, 1, 10)),
            Case("32 samples of 5 classes with large logits", tuple(
                a * (20 if i == 0 else 1) for i, a in enumerate(_loss_batch(2, 32, 5))))]


L1_LOSS = Exercise(
    "feature_balancing_loss",
    "Eq. 2: L1, the cross-entropy of the FBH logits (B, C) against the class labels (B,), averaged over the batch",
    feature_balancing_loss,
    _l1_cases,
    "cross-entropy is -log softmax(z)_y for each sample's label y; average it over the batch. "
    "z.log_softmax(dim=1) is stable where log(softmax(z)) overflows on large logits.",
    feature_balancing_loss_solution,
    mistakes=((lambda z, y: F.cross_entropy(z, y, reduction="sum"),
               "the loss is the MEAN over the batch, not the sum"),
              (lambda z, y: -z[torch.arange(len(y)), y].mean(),
               "the logits need a log-softmax first: -log p_y, with p = softmax(z)")))


def total_loss_solution(cluster_logits, soft_targets, fbh_logits, labels, lam):
    l2 = -(soft_targets * cluster_logits.log_softmax(dim=1)).sum(dim=1).mean()
    l1 = F.cross_entropy(fbh_logits, labels)
    return l2 + lam * l1


def _total_reference(cluster_logits, soft_targets, fbh_logits, labels, lam):
    return soft_cross_entropy(cluster_logits, soft_targets) + lam * feature_balancing_loss(fbh_logits, labels)


def _total_cases() -> list[Case]:
    cases = []
    for seed, (n, k, c, lam) in enumerate(((8, 6, 3, 1.5), (4, 5, 2, 0.0), (1, 3, 3, 3.0))):
        g = torch.Generator().manual_seed(seed)
        soft = torch.rand(n, k, generator=g).softmax(dim=1)
        cases.append(Case(f"{n} samples, K = {k} clusters, C = {c} classes, lambda {lam}",
                          (torch.randn(n, k, generator=g), soft, torch.randn(n, c, generator=g),
                           torch.randint(0, c, (n,), generator=g), lam)))
    return cases


TOTAL_LOSS = Exercise(
    "total_loss",
    "L = L2 + lambda L1: L2 the soft-label cross-entropy of the K cluster logits (Eq. 4), L1 Eq. 2",
    _total_reference,
    _total_cases,
    "L2 = mean over the batch of -sum_k q_k log softmax(z)_k for the soft targets q; L1 is plain "
    "cross-entropy on the class labels; lambda weighs L1, not L2.",
    total_loss_solution,
    mistakes=((lambda z, q, f, y, lam: lam * soft_cross_entropy(z, q) + feature_balancing_loss(f, y),
               "lambda weighs L1 (the feature-balancing head's loss), not L2"),
              (lambda z, q, f, y, lam: F.cross_entropy(z, q.argmax(1)) + lam * feature_balancing_loss(f, y),
               "L2 uses the whole soft target q (alpha and the siblings' shares), not only its largest entry")))


# The prediction rules ---------------------------------------------------------------------------

def top_cluster_solution(cluster_logits: torch.Tensor, class_of_cluster: torch.Tensor) -> torch.Tensor:
    return class_of_cluster[cluster_logits.argmax(dim=1)]


def sum_clusters_solution(cluster_logits: torch.Tensor, class_of_cluster: torch.Tensor) -> torch.Tensor:
    probs = cluster_logits.softmax(dim=1)
    num_classes = int(class_of_cluster.max()) + 1
    summed = torch.stack([probs[:, class_of_cluster == c].sum(dim=1) for c in range(num_classes)], dim=1)
    return summed.argmax(dim=1)


def _rule_cases() -> list[Case]:
    g = torch.Generator().manual_seed(0)
    many = torch.tensor([0, 0, 0, 0, 1, 2])  # class 0 split in four
    return [Case("20 samples, clusters of classes [0, 0, 0, 0, 1, 2]", (torch.randn(20, 6, generator=g), many)),
            Case("a sample whose top cluster is class 1's while class 0's four clusters hold more in total",
                 (torch.tensor([[1.0, 1.0, 1.0, 1.0, 1.5, -5.0]]), many)),
            Case("one cluster a class (K = C = 4)", (torch.randn(6, 4, generator=g), torch.arange(4)))]


TOP_CLUSTER = Exercise(
    "top_cluster",
    "the top-cluster rule: each sample's class is the class of its most probable cluster",
    lambda z, cls: predict_classes(z, cls, "top_cluster"),
    _rule_cases,
    "argmax over the K cluster logits gives a cluster; class_of_cluster maps it to its class.",
    top_cluster_solution,
    mistakes=((lambda z, cls: z.argmax(dim=1), "that is the cluster, not its class: map it through class_of_cluster"),))

SUM_CLUSTERS = Exercise(
    "sum_clusters",
    "the summed-cluster rule: each sample's class is the one whose clusters' probabilities add up to the most",
    lambda z, cls: predict_classes(z, cls, "sum_clusters"),
    _rule_cases,
    "softmax over the K clusters first (probabilities add, logits do not), then add each class's "
    "clusters' probabilities and take the largest sum.",
    sum_clusters_solution,
    mistakes=((lambda z, cls: torch.zeros(len(z), int(cls.max()) + 1).index_add_(1, cls, z).argmax(dim=1),
               "summing the logits is not summing probabilities: take the softmax over the clusters first"),
              (lambda z, cls: predict_classes(z, cls, "top_cluster"),
               "that is the top-cluster rule: add up each class's cluster probabilities instead")))


# Post-hoc logit adjustment ----------------------------------------------------------------------

def logit_adjusted_solution(cluster_logits: torch.Tensor, cluster_sizes: np.ndarray, tau: float) -> torch.Tensor:
    prior = torch.as_tensor(cluster_sizes / cluster_sizes.sum(), dtype=torch.float32)
    return cluster_logits - tau * prior.log()


def _la_cases() -> list[Case]:
    g = torch.Generator().manual_seed(0)
    sizes = np.array([5000, 500, 50])
    return [Case("4 samples, 3 clusters of 5000, 500 and 50 images, tau 1", (torch.randn(4, 3, generator=g), sizes, 1.0)),
            Case("the same with tau 0 (no adjustment)", (torch.randn(4, 3, generator=g), sizes, 0.0)),
            Case("CIFAR-10-LT's class counts, tau 1.5",
                 (torch.randn(5, 10, generator=g), np.array([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]),
                  1.5))]


LOGIT_ADJUSTED = Exercise(
    "logit_adjusted",
    "post-hoc logit adjustment (Menon et al., 2021): z_k - tau log pi_k, pi_k the training prior of "
    "cluster (or class) k",
    lambda z, sizes, tau: adjusted_logits(z, log_prior(sizes), tau),
    _la_cases,
    "pi_k = n_k / sum n: the share of the training images in cluster k; SUBTRACT tau log pi_k from every "
    "logit, so frequent outputs lose the most (log pi_k is most negative for the rare ones).",
    logit_adjusted_solution,
    mistakes=((lambda z, sizes, tau: z + tau * log_prior(sizes),
               "subtract tau log pi_k; adding it moves predictions further toward the head"),
              (lambda z, sizes, tau: z - tau * torch.as_tensor(np.log(sizes), dtype=torch.float32),
               "log pi_k is the log of the SHARE n_k / sum n, not of the count n_k (the two differ by log N, a "
               "constant that changes no prediction but every adjusted logit)")))

EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    CLUSTERS_PER_CLASS, SOFT_LABELS, FBH_FORWARD, L1_LOSS, TOTAL_LOSS, TOP_CLUSTER, SUM_CLUSTERS, LOGIT_ADJUSTED)}
