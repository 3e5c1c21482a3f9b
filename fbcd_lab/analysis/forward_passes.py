"""One forward pass over an image set: a run's test logits, feature maps and pooled features.

Every pass is in eval mode, in dataset order and without augmentation (``iterate_batches`` with
``train=False``), in the precision the run was trained in, so on the CPU it is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from fbcd_lab.data.batches import iterate_batches
from fbcd_lab.data.datasets import LongTailData
from fbcd_lab.data.images import ImageSet
from fbcd_lab.evaluation import collect_logits
from fbcd_lab.models.predict import log_prior
from fbcd_lab.models.two_head import TwoHeadModel
from fbcd_lab.run import Run
from fbcd_lab.runtime import resolve_precision
from fbcd_lab.training import selected_model


@dataclass(frozen=True, eq=False)
class RunLogits:
    """A run's main-head test logits (N, K) in float32 and what every rule needs to read them."""

    logits: torch.Tensor
    labels: np.ndarray
    class_of_cluster: torch.Tensor
    cluster_log_prior: torch.Tensor
    counts: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class FeatureSet:
    """Pooled features (N, D) float32 with labels, of the training and the test set."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def run_model(run: Run, data: LongTailData, selection: str = "final") -> TwoHeadModel:
    """The run's model to analyse (final epoch, or ``best_val``), after checking it fits ``data``."""
    if run.diverged is not None:
        raise ValueError(f"this run diverged in epoch {run.diverged['epoch']}: its weights are not finite")
    if len(run.division.cluster_of_sample) != len(data.train):
        raise ValueError(f"data has {len(data.train)} training images but the run's division covers "
                         f"{len(run.division.cluster_of_sample)}: not the data this run was trained on")
    model = selected_model(run, selection)
    if model.num_classes != data.num_classes:
        raise ValueError(f"the run has {model.num_classes} classes, data {data.num_classes}")
    return model


def run_logits(run: Run, data: LongTailData, selection: str = "final") -> RunLogits:
    """One pass of ``collect_logits`` over the test set, with the cluster prior of the run's division."""
    model = run_model(run, data, selection)
    logits, labels = collect_logits(model, data.test, data, run.device, run.precision)
    return RunLogits(logits, np.asarray(labels), model.class_of_cluster.cpu(),
                      log_prior(run.division.cluster_sizes), tuple(data.counts))


def model_device(model: TwoHeadModel) -> torch.device:
    """The device the model's weights live on."""
    return next(model.parameters()).device


@torch.no_grad()
def feature_maps(model: TwoHeadModel, images: ImageSet, data: LongTailData, device: torch.device | str | None = None,
                 precision: str | None = None, batch_size: int = 256,
                 balanced: bool = False) -> Iterator[tuple[torch.Tensor, np.ndarray]]:
    """Yield ``(model.features(x)`` as float32 (B, D, H, W), labels) batch by batch, eval mode, no augmentation;
    ``balanced``: the map the feature-balancing head reads instead (``model.balanced_features``)."""
    device = torch.device(model_device(model) if device is None else device)
    precision = getattr(model, "precision", "auto") if precision is None else precision
    bf16 = resolve_precision(precision, device) == "bf16"
    was_training = model.training
    model.eval()
    try:
        for x, y, _ in iterate_batches(images, batch_size, data.augment, train=False, generator=torch.Generator(),
                                       device=device, image_size=data.image_size):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                x = x.contiguous(memory_format=torch.channels_last)
                fmap = model.balanced_features(x) if balanced else model.features(x)
            yield fmap.float(), y.cpu().numpy()
    finally:
        model.train(was_training)


def pooled_features(model: TwoHeadModel, images: ImageSet, data: LongTailData, device: torch.device | str | None = None,
                    precision: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Global average of ``model.features(x)`` (the vector the main head reads): (N, D) float32, labels."""
    xs, ys = [], []
    for fmap, y in feature_maps(model, images, data, device, precision):
        xs.append(fmap.mean(dim=(2, 3)).cpu().numpy())
        ys.append(y)
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


def run_features(run: Run, data: LongTailData, selection: str = "final") -> FeatureSet:
    """Pooled features of the training and test sets from the run's frozen feature extractor."""
    model = run_model(run, data, selection)
    train_x, train_y = pooled_features(model, data.train, data, run.device, run.precision)
    test_x, test_y = pooled_features(model, data.test, data, run.device, run.precision)
    return FeatureSet(train_x, train_y, test_x, test_y)
