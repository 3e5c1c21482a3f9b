"""What the feature-balancing head does to the feature map: per-class channel-group energy and
the norm of each class's FBH kernel.

Groups: with FBH, class j owns channels j*g .. (j+1)*g - 1 of the feature map both heads read
(``model.features``, after the balanced neck), g the FBH's channels per class. A model without
FBH (the CE baseline) has its D channels split into C contiguous groups as ``np.array_split``
splits them: when D % C != 0 the first D % C groups hold one channel more, so every channel is
used, and energies are per-channel means, so unequal group sizes do not bias them (D < C is an
error). Such groups have no tie to the classes, so compare ``matched_mean_diagonal`` as well.

Energy: the mean of squared activations over a group's channels and positions, not the mean
activation: it is non-negative for any feature map (ReLU or not), so a row normalised to sum 1 is
a proper share. ``group_energy[c, j]`` averages it over test images of class c, then each row is
divided by its sum: a model whose class-c images fire only group c has 1 on the diagonal, a model
without class-specific groups about 1 / C.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from fbcd_lab.analysis.forward_passes import feature_maps
from fbcd_lab.data.datasets import LongTailData
from fbcd_lab.data.long_tail import group_recall, shot_groups
from fbcd_lab.models.two_head import TwoHeadModel


def channel_groups(model: TwoHeadModel) -> list[range]:
    """Class j's channels (a range) of the feature map the feature-balancing head reads (the balanced
    map), as the module docstring defines them."""
    num_classes, d = model.num_classes, model.balanced_channels
    if model.fbh is not None:
        g = model.fbh.conv.weight.shape[1]
        return [range(j * g, (j + 1) * g) for j in range(num_classes)]
    if d < num_classes:
        raise ValueError(f"cannot split {d} channels into {num_classes} non-empty groups")
    return [range(int(part[0]), int(part[-1]) + 1) for part in np.array_split(np.arange(d), num_classes)]


def group_energy(model: TwoHeadModel, data: LongTailData, split: str = "test") -> np.ndarray:
    """(C, C) row-normalised energy of class j's channel group on ``split`` images of class c (module
    docstring); a class with no image or no energy gets a row of NaN."""
    images = {"test": data.test, "train": data.train, "val": data.val}.get(split)
    if images is None:
        raise ValueError(f"split must be 'test', 'train' or 'val' (with a validation split), got {split!r}")
    groups = channel_groups(model)
    num_classes = model.num_classes
    member = torch.zeros(model.balanced_channels, num_classes, dtype=torch.float64)
    for j, channels in enumerate(groups):
        member[list(channels), j] = 1.0 / len(channels)
    sums = np.zeros((num_classes, num_classes))
    seen = np.zeros(num_classes)
    for fmap, labels in feature_maps(model, images, data, balanced=True):
        energy = (fmap.double().pow(2).mean(dim=(2, 3)).cpu() @ member).numpy()  # (B, C) per-group energy
        np.add.at(sums, labels, energy)
        seen += np.bincount(labels, minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / seen[:, None]
        return means / means.sum(axis=1, keepdims=True)


def diagonal_dominance(energy: np.ndarray, counts: Sequence[int] | None = None) -> dict:
    """Summary of a ``group_energy`` matrix: diagonal and its mean (chance 1 / C), share of rows whose own
    group is largest, mean diagonal after the best one-to-one group-class matching (Hungarian: the fair
    baseline for groups without a class); ``counts`` adds many / medium / few means."""
    energy = np.asarray(energy, dtype=np.float64)
    num_classes = len(energy)
    valid = ~np.isnan(energy).any(axis=1)
    diag = np.diag(energy)
    rows, cols = linear_sum_assignment(np.nan_to_num(energy), maximize=True)
    out = {"diagonal": [None if np.isnan(v) else float(v) for v in diag],
           "mean_diagonal": float(diag[valid].mean()) if valid.any() else None,
           "chance": 1.0 / num_classes,
           "own_group_is_max": float((energy[valid].argmax(axis=1) == np.flatnonzero(valid)).mean())
           if valid.any() else None,
           "matched_mean_diagonal": float(energy[rows, cols][valid[rows]].mean()) if valid.any() else None}
    if counts is not None:
        out["groups"] = group_recall(np.where(valid, diag, np.nan), shot_groups(list(counts)))
    return out


def fbh_kernel_norms(model: TwoHeadModel) -> np.ndarray:
    """(C,) L2 norm of each class's FBH kernel (its g x k x k slice of ``fbh.conv.weight``, bias
    excluded)."""
    if model.fbh is None:
        raise ValueError("this model has no feature-balancing head")
    with torch.no_grad():
        return model.fbh.conv.weight.detach().float().flatten(1).norm(dim=1).cpu().numpy()
