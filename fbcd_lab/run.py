"""The state of one training run, shared by the trainer and the checkpoints."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from fbcd_lab.balancing import switch_epoch
from fbcd_lab.class_division import ClassDivision
from fbcd_lab.config import MethodConfig, OptimConfig
from fbcd_lab.data.datasets import LongTailData
from fbcd_lab.models.two_head import TwoHeadModel, build_model


@dataclass
class Run:
    """Everything a training run is: settings, model, division, optimiser, RNG and history.

    ``best_state`` holds the weights of the best epoch on the validation split, when the data
    has one (``best`` says which epoch and score). ``mid_epoch`` marks a run stopped inside an
    epoch: its weights have moved past its last checkpoint, so only that checkpoint can resume it.
    ``diverged`` (epoch and loss) marks a run whose loss stopped being finite. ``extensions`` lists
    the times its epochs were raised on resuming (see :func:`fbcd_lab.resume.resume_run`);
    ``threads`` the CPU threads its last ``fit`` trained with.
    ``world_size`` and ``sync_bn`` say how the last ``fit`` trained it: in how many processes
    (DistributedDataParallel, see :mod:`fbcd_lab.distributed`) and whether BatchNorm used the
    global batch's statistics; every epoch trained by several processes records both.
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
    diverged: dict | None = None
    deterministic: bool = False
    extensions: list[dict] = field(default_factory=list)
    threads: int | None = None
    world_size: int = 1
    sync_bn: bool = False

    def __post_init__(self) -> None:
        self.model.precision = self.precision

    @property
    def switch_epoch(self) -> int | None:
        """The epoch (from 0) at which its deferred class balancing switches on (None: not deferred)."""
        return switch_epoch(self.method.balancing, self.optim, self.method.deferred_epoch)

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    @property
    def finished(self) -> bool:
        return self.epochs_done >= self.optim.epochs

    @property
    def status(self) -> str:
        """``finished``, ``stopped`` (ended early on request) or ``diverged`` (loss not finite)."""
        if self.diverged is not None:
            return "diverged"
        return "finished" if self.finished and not self.stopped else "stopped"


def model_and_optimizer(data: LongTailData, method: MethodConfig, optim: OptimConfig, division: ClassDivision,
                        device: torch.device) -> tuple[TwoHeadModel, torch.optim.Optimizer]:
    """The run's model (channels-last on ``device``) and its SGD optimiser, as the trainer makes them
    and as a checkpoint restores them."""
    model = build_model(method.backbone, data.num_classes, data.in_channels, data.image_size,
                        division.class_of_cluster, method.uses_fbh, method.kernel_size,
                        method.channels_per_class, method.uses_normalized_classifier, method.neck,
                        method.ldam_scale).to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=optim.lr, momentum=optim.momentum,
                                weight_decay=optim.weight_decay)
    return model, optimizer
