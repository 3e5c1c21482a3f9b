"""Reliability diagrams and expected calibration error under each prediction rule."""

from __future__ import annotations

import numpy as np
import torch

from fbcd_lab.analysis.forward_passes import RunLogits, run_logits
from fbcd_lab.data.datasets import LongTailData
from fbcd_lab.evaluation import expected_calibration_error
from fbcd_lab.models.predict import RULES, adjusted_logits, predict_classes
from fbcd_lab.run import Run


def confidence_and_correct(logits: RunLogits, rule: str, tau: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Per image: the probability of the predicted class (summed over its clusters, after tau x the
    prior is removed for logit_adjusted), as ``metrics_from_logits`` defines it, and whether it is right."""
    pred = predict_classes(logits.logits, logits.class_of_cluster, rule, logits.cluster_log_prior, tau)
    z = adjusted_logits(logits.logits, logits.cluster_log_prior, tau) if rule == "logit_adjusted" else logits.logits
    probs = z.float().softmax(dim=1)
    num_classes = len(logits.counts)
    class_probs = probs.new_zeros(len(probs), num_classes).index_add_(1, logits.class_of_cluster, probs)
    confidence = class_probs[torch.arange(len(pred)), pred].numpy()
    return confidence, pred.numpy() == logits.labels


def reliability_from_logits(logits: RunLogits, rule: str, tau: float = 1.0, bins: int = 15) -> dict:
    """``reliability`` on logits already collected."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if int(bins) != bins or bins < 1:
        raise ValueError(f"bins must be an integer >= 1, got {bins}")
    bins = int(bins)
    confidence, correct = confidence_and_correct(logits, rule, tau)
    which = np.minimum((confidence * bins).astype(int), bins - 1)  # the bins expected_calibration_error uses
    rows = []
    for b in range(bins):
        mask = which == b
        rows.append({"lower": b / bins, "upper": (b + 1) / bins, "count": int(mask.sum()),
                     "confidence": float(confidence[mask].mean()) if mask.any() else None,
                     "accuracy": float(correct[mask].mean()) if mask.any() else None})
    return {"rule": rule, **({"tau": float(tau)} if rule == "logit_adjusted" else {}),
            "bins": rows, "ece": expected_calibration_error(confidence, correct, bins),
            "mean_confidence": float(confidence.mean()), "accuracy": float(correct.mean())}


def reliability(run: Run, data: LongTailData, rule: str, tau: float = 1.0, bins: int = 15,
                selection: str = "final") -> dict:
    """Reliability diagram of ``rule`` on the test set: equal-width confidence bins with mean
    confidence, accuracy and count (None for an empty bin), and the ECE (``expected_calibration_error``,
    the same bins); confidence is the predicted class's summed cluster probability."""
    return reliability_from_logits(run_logits(run, data, selection), rule, tau, bins)
