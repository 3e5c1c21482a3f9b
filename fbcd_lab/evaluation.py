"""Evaluation: logits once per model, then metrics under any prediction rule.

Top-1 accuracy, mean per-class recall, per-class recall, many / medium / few recall, confusion
matrix, expected calibration error and per-class classifier weight norms (scikit-learn metrics).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import confusion_matrix, recall_score

from fbcd_lab.data.batches import iterate_batches
from fbcd_lab.data.datasets import LongTailData
from fbcd_lab.data.images import ImageSet
from fbcd_lab.data.long_tail import group_recall, shot_groups
from fbcd_lab.models.predict import adjusted_logits, predict_classes
from fbcd_lab.models.two_head import TwoHeadModel, class_weight_norms
from fbcd_lab.runtime import resolve_precision


@torch.no_grad()
def collect_logits(
    model: TwoHeadModel, images: ImageSet, data: LongTailData, device: torch.device | str = "cpu",
    precision: str = "auto", batch_size: int = 512,
) -> tuple[torch.Tensor, np.ndarray]:
    """Main-head logits (N, K) on the CPU in float32, and the labels, in dataset order; computed in
    ``precision`` (as trained: pass the run's), ``auto`` choosing as the trainer does."""
    device = torch.device(device)
    bf16 = resolve_precision(precision, device) == "bf16"
    was_training = model.training
    model.eval()
    chunks = []
    try:
        for x, _, _ in iterate_batches(images, batch_size, data.augment, train=False,
                                       generator=torch.Generator(), device=device,
                                       image_size=data.image_size):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                chunks.append(model(x.contiguous(memory_format=torch.channels_last)).cluster_logits.float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(chunks), images.labels


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, num_bins: int = 15) -> float:
    """ECE with equal-width confidence bins: sum over bins of |accuracy - confidence| * share."""
    bins = np.minimum((confidence * num_bins).astype(int), num_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        mask = bins == b
        total += abs(correct[mask].mean() - confidence[mask].mean()) * mask.mean()
    return float(total)


def balanced_recall(labels: np.ndarray, pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``labels`` (balanced accuracy): the same number as
    scikit-learn's ``balanced_accuracy_score``, without its input checks (20 ms a call, more than a
    small model's epoch takes to score)."""
    labels, pred = np.asarray(labels), np.asarray(pred)
    size = int(max(labels.max(initial=-1), pred.max(initial=-1))) + 1
    counts = np.bincount(labels, minlength=size)
    hits = np.bincount(labels[pred == labels], minlength=size)
    present = counts > 0
    return float(np.mean(hits[present] / counts[present]))


def metrics_from_logits(
    logits: torch.Tensor,
    labels: np.ndarray,
    class_of_cluster: torch.Tensor,
    train_counts: tuple[int, ...],
    rule: str = "top_cluster",
    log_prior: torch.Tensor | None = None,
    tau: float = 1.0,
) -> dict:
    """Every metric of one prediction rule, JSON-ready. Calibration uses the class probability
    (summed over a class's clusters, after tau x the prior is removed for ``logit_adjusted``) of
    the predicted class."""
    num_classes = len(train_counts)
    pred = predict_classes(logits, class_of_cluster, rule, log_prior, tau).numpy()
    probs = (adjusted_logits(logits, log_prior, tau) if rule == "logit_adjusted" else logits).softmax(dim=1)
    class_probs = probs.new_zeros(len(probs), num_classes).index_add_(1, class_of_cluster.cpu(), probs)
    confidence = class_probs[torch.arange(len(pred)), torch.from_numpy(pred)].numpy()
    classes = list(range(num_classes))
    recall = recall_score(labels, pred, labels=classes, average=None, zero_division=0)
    return {
        "rule": rule,
        **({"tau": tau} if rule == "logit_adjusted" else {}),
        "accuracy": float((pred == labels).mean()),
        "mean_recall": balanced_recall(labels, pred),
        "per_class_recall": recall.tolist(),
        "group_recall": group_recall(recall, shot_groups(list(train_counts))),
        "confusion_matrix": confusion_matrix(labels, pred, labels=classes).tolist(),
        "ece": expected_calibration_error(confidence, pred == labels),
    }


def mean_recall(model: TwoHeadModel, data: LongTailData, split: str = "test") -> float:
    """``evaluate(model, data, split=split)["mean_recall"]`` (the top-cluster rule) without the other
    metrics: what the trainer scores after an epoch."""
    logits, labels = collect_logits(model, _split(data, split), data, next(model.parameters()).device,
                                    getattr(model, "precision", "auto"))
    return balanced_recall(labels, predict_classes(logits, model.class_of_cluster.cpu(), "top_cluster").numpy())


def _split(data: LongTailData, split: str) -> ImageSet:
    images = {"test": data.test, "val": data.val, "train": data.train}.get(split)
    if images is None:
        raise ValueError(f"split must be 'test', 'train' or 'val' (with a validation split), got {split!r}")
    return images


def evaluate(
    model: TwoHeadModel,
    data: LongTailData,
    *,
    split: str = "test",
    rule: str = "top_cluster",
    log_prior: torch.Tensor | None = None,
    device: torch.device | str | None = None,
    precision: str | None = None,
) -> dict:
    """Metrics of ``model`` on ``data``'s ``split`` (test, val or train) plus its weight norms.

    By default on the model's own device and in the precision it was trained in (``auto`` for a
    model the trainer did not build)."""
    images = _split(data, split)
    device = next(model.parameters()).device if device is None else device
    precision = getattr(model, "precision", "auto") if precision is None else precision
    logits, labels = collect_logits(model, images, data, device, precision)
    metrics = metrics_from_logits(logits, labels, model.class_of_cluster.cpu(), data.counts, rule, log_prior)
    metrics["weight_norms"] = class_weight_norms(model).tolist()
    return metrics
