"""Mixup (Zhang et al., 2018): train on convex combinations of pairs of images and their targets.

Each step draws a mixing weight w ~ Beta(alpha, alpha) and a pairing (a permutation of the
batch) from the run's seeded generator, so a resumed run mixes exactly as an uninterrupted one.
Written here rather than with torchvision's ``MixUp``: that takes integer labels only (the class
division needs soft cluster targets mixed) and draws from the global random state.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from fbcd_lab.checks import check


class Mixing(NamedTuple):
    """How one batch was mixed: sample i became ``weight`` * i + (1 - ``weight``) * ``perm[i]``."""

    weight: float
    perm: torch.Tensor

    def mix(self, values: torch.Tensor) -> torch.Tensor:
        """Mix anything indexed by sample (images, targets, weights) the same way."""
        if self.weight == 1.0:
            return values
        return self.weight * values + (1.0 - self.weight) * values[self.perm]

    def pair(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each sample's own ``values`` and its partner's, for losses taken on each separately
        (Mixup's two-term loss ``weight`` * L(own) + (1 - ``weight``) * L(partner's))."""
        return values, values[self.perm]


def draw_mixing(batch_size: int, alpha: float, generator: torch.Generator, device: torch.device) -> Mixing:
    """A mixing weight from Beta(alpha, alpha) and a random pairing, drawn from ``generator``."""
    alpha = check("mixup_alpha", alpha)
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    weight = float(np.random.RandomState(seed).beta(alpha, alpha))
    return Mixing(weight, torch.randperm(batch_size, generator=generator).to(device))
