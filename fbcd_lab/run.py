"""The state of one training run, shared by the trainer and the checkpoints."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from fbcd_lab.class_division import ClassDivision
from fbcd_lab.config import MethodConfig, OptimConfig
from fbcd_lab.models.two_head import TwoHeadModel


@dataclass
class Run:
    """Everything a training run is: settings, model, division, optimiser, RNG and history.

    ``best_state`` holds the weights of the best epoch on the validation split, when the data
    has one (``best`` says which epoch and score). ``mid_epoch`` marks a run stopped inside an
    epoch: its weights have moved past its last checkpoint, so only that checkpoint can resume it.
    """

    method: MethodConfig
    optim: OptimConfig
    seed: int
    device: torch.device
    precision: str
    model: TwoHeadModel
    division: ClassDivision
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    history: list[dict] = field(default_factory=list)
    stopped: bool = False
    wall_time_s: float = 0.0
    best: dict | None = None
    best_state: dict | None = None
    mid_epoch: bool = False

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    @property
    def finished(self) -> bool:
        return self.epochs_done >= self.optim.epochs
