"""One trainer for CE, FBH, CDH and FBH + CDH on any long-tailed dataset, on CUDA or the CPU.

On CUDA it uses bf16 autocast and channels-last; on the CPU the same seed gives the same numbers.
Training can be stopped between steps by a callable flag or a KeyboardInterrupt (a kernel
interrupt in Jupyter); what was trained so far is kept and marked as stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from fbcd_lab.class_division import ClassDivision, divide_classes, identity_division, pixel_features, soft_label_matrix
from fbcd_lab.config import MethodConfig, OptimConfig
from fbcd_lab.data.batches import iterate_batches
from fbcd_lab.data.datasets import LongTailData
from fbcd_lab.data.images import TensorImages
from fbcd_lab.evaluation import evaluate
from fbcd_lab.losses import fbcd_loss
from fbcd_lab.models.two_head import TwoHeadModel, build_model

EpochCallback = Callable[[dict], None]


class _StopRequested(Exception):
    """Raised inside the loop when ``should_stop`` says so."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; asking for absent CUDA is an error."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available; use 'cpu' or 'auto'")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be one of auto, cpu, cuda; got {str(device)!r}")
    return device


def make_division(data: LongTailData, method: MethodConfig, seed: int) -> ClassDivision:
    """The class division the main head trains on: identity without CDH, Eq. 3 clusters with it.

    k-means and hierarchical division cluster a PCA of the raw training pixels.
    """
    labels = data.train.labels
    if not method.uses_cdh or method.u == 1:
        return identity_division(labels, data.num_classes)
    features = None
    if method.cluster != "random":
        if not isinstance(data.train, TensorImages):
            raise ValueError(f"cluster {method.cluster!r} needs in-memory images; use cluster='random'")
        pixels = data.train.images.numpy()
        features = pixel_features(pixels, min(method.cluster_pca, *pixels.reshape(len(pixels), -1).shape), seed)
    return divide_classes(labels, data.num_classes, method.u, method.cluster, features, seed)


@dataclass
class TrainResult:
    """A trained model with its division, per-epoch history and run facts."""

    model: TwoHeadModel
    division: ClassDivision
    history: list[dict] = field(default_factory=list)
    stopped: bool = False
    wall_time_s: float = 0.0
    device: str = "cpu"

    @property
    def epochs_done(self) -> int:
        return len(self.history)


def train(
    data: LongTailData,
    method: MethodConfig,
    optim: OptimConfig,
    *,
    seed: int = 0,
    device: str | torch.device = "auto",
    eval_every: int = 0,
    callbacks: Sequence[EpochCallback] = (),
    should_stop: Callable[[], bool] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``method`` on ``data`` and return the model with its history.

    ``eval_every`` > 0 evaluates mean recall on the test set every that many epochs (for live
    plots; the final metrics come from :func:`fbcd_lab.evaluation.evaluate`). Each epoch's record
    goes to every callback. ``should_stop`` is polled between steps.
    """
    dev = resolve_device(device)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    division = make_division(data, method, seed)
    model = build_model(method.backbone, data.num_classes, data.in_channels, data.image_size,
                        division.class_of_cluster, method.uses_fbh, method.kernel_size,
                        method.channels_per_class).to(dev)
    result = TrainResult(model, division, device=str(dev))
    run_epochs(result, data, method, optim, generator, dev, range(optim.epochs), eval_every,
               callbacks, should_stop, progress)
    return result


def run_epochs(
    result: TrainResult,
    data: LongTailData,
    method: MethodConfig,
    optim: OptimConfig,
    generator: torch.Generator,
    device: torch.device,
    epochs: range,
    eval_every: int = 0,
    callbacks: Sequence[EpochCallback] = (),
    should_stop: Callable[[], bool] | None = None,
    progress: bool = True,
    optimizer: torch.optim.Optimizer | None = None,
) -> torch.optim.Optimizer:
    """Train ``result.model`` for ``epochs``, appending to ``result.history``; returns the optimiser
    (pass it back with the same generator to continue where a run stopped)."""
    model = result.model
    cuda = device.type == "cuda"
    if cuda:
        model.to(memory_format=torch.channels_last)
    if optimizer is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=optim.lr, momentum=optim.momentum,
                                    weight_decay=optim.weight_decay)
    soft = torch.as_tensor(soft_label_matrix(result.division, method.alpha), dtype=torch.float32, device=device)
    cluster_of_sample = torch.as_tensor(result.division.cluster_of_sample, device=device)
    train_set = data.train.to(device) if isinstance(data.train, TensorImages) else data.train
    steps_per_epoch = max(1, -(-len(train_set) // optim.batch_size))
    lam = method.lam if method.uses_fbh else 0.0
    start = time.perf_counter()
    bar = tqdm(total=len(epochs) * steps_per_epoch, disable=not progress, desc=method.method, leave=False)
    try:
        for epoch in epochs:
            model.train()
            sums = torch.zeros(3, device=device)
            seen = 0
            for step, (x, y, idx) in enumerate(iterate_batches(
                    train_set, optim.batch_size, data.augment, train=True, generator=generator,
                    device=device, image_size=data.image_size)):
                if should_stop is not None and should_stop():
                    raise _StopRequested
                for group in optimizer.param_groups:
                    group["lr"] = optim.lr * optim.lr_factor(epoch + step / steps_per_epoch)
                if cuda:
                    x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
                    outputs = model(x)
                parts = fbcd_loss(outputs, y, cluster_of_sample[idx.to(device)], soft, lam)
                optimizer.zero_grad(set_to_none=True)
                parts.total.backward()
                optimizer.step()
                sums += torch.stack([p.detach() for p in parts]) * len(y)
                seen += len(y)
                bar.update(1)
            loss, l2, l1 = (sums / max(seen, 1)).tolist()
            record = {"epoch": epoch + 1, "loss": loss, "l2": l2, "l1": l1,
                      "lr": optimizer.param_groups[0]["lr"], "time_s": time.perf_counter() - start}
            if eval_every and ((epoch + 1) % eval_every == 0 or epoch + 1 == epochs.stop):
                record["test_mean_recall"] = evaluate(model, data, device=device)["mean_recall"]
            result.history.append(record)
            for callback in callbacks:
                callback(record)
    except (KeyboardInterrupt, _StopRequested):
        result.stopped = True
    finally:
        bar.close()
        result.wall_time_s += time.perf_counter() - start
    return optimizer
