"""Taking a long-tail gain apart: prediction rules, linear probes on frozen features, what the
feature-balancing and class-division heads do, calibration, and the CE -> FBH + CDH waterfall.

Every function reads trained runs (:class:`fbcd_lab.run.Run`) on their data in one deterministic
eval-mode pass and returns JSON-ready dicts or numpy arrays; the ``*_from_logits`` and
``*_from_features`` variants take what a pass gave, for hand-made inputs and reuse.
"""

from fbcd_lab.analysis.calibration import confidence_and_correct, reliability, reliability_from_logits
from fbcd_lab.analysis.channel_groups import channel_groups, diagonal_dominance, fbh_kernel_norms, group_energy
from fbcd_lab.analysis.class_division_head import (
    cluster_confusion, cluster_confusion_from_logits, division_summary, effective_prior, equivalent_tau,
    prior_shift, prior_shift_from_logits,
)
from fbcd_lab.analysis.forward_passes import (
    FeatureSet, RunLogits, feature_maps, pooled_features, run_features, run_logits,
)
from fbcd_lab.analysis.gain_waterfall import (
    DEFINITIONS, decompose_gain, decompose_saved, waterfall, waterfall_rows,
)
from fbcd_lab.analysis.linear_probe import linear_probe, probe_from_features
from fbcd_lab.analysis.prediction_rules import DEFAULT_TAUS, held_out_tau, rule_sweep, rule_sweep_from_logits
from fbcd_lab.analysis.recall import mean_sd, paired_verdict, points, recall_summary, seed_stats, signed_points

__all__ = [
    "DEFAULT_TAUS", "DEFINITIONS", "FeatureSet", "RunLogits", "channel_groups", "cluster_confusion",
    "cluster_confusion_from_logits", "confidence_and_correct", "decompose_gain", "decompose_saved",
    "diagonal_dominance", "division_summary", "effective_prior", "equivalent_tau", "fbh_kernel_norms",
    "feature_maps", "group_energy", "held_out_tau", "linear_probe", "mean_sd", "paired_verdict", "points",
    "pooled_features", "prior_shift", "prior_shift_from_logits", "probe_from_features", "recall_summary",
    "reliability", "reliability_from_logits", "rule_sweep", "rule_sweep_from_logits", "run_features",
    "run_logits", "seed_stats", "signed_points", "waterfall", "waterfall_rows",
]
