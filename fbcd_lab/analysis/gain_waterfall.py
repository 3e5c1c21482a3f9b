"""The waterfall from cross-entropy to FBH + CDH: prior correction, better features, the rest.

Per training seed, in mean-recall points (x 100) on the test set (``DEFINITIONS`` says the same):

    ce_top_cluster       CE, plain top-1
    + prior_correction   = CE with post-hoc logit adjustment at tau (default 1) - CE top-1
    + better_features    = class-balanced linear probe on FBH + CDH features - the same probe on CE
                           features (the probe's own level is not used, only the difference)
    = ce_la_plus_features
    + residual_<rule>    = FBH + CDH under <rule> - ce_la_plus_features
    = fbcd_<rule>        for top_cluster (as the paper reports) and for logit_adjusted (tau, prior
                         over the clusters)

The prior and feature steps are measured on different models and need not add up to the total
gain; the residual is the remainder, so prior + features + residual = fbcd_<rule> - ce_top_cluster
exactly, seed by seed. A negative residual means that FBH + CDH gains less than the two separate
effects predict (for top_cluster: its implied prior correction is weaker than tau = 1). Each level
and step is given as its mean and sample sd (ddof 1; None for one seed) over the seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fbcd_lab.analysis.forward_passes import FeatureSet, pooled_features, run_logits
from fbcd_lab.analysis.linear_probe import linear_probe, probe_from_features
from fbcd_lab.analysis.prediction_rules import rule_sweep_from_logits
from fbcd_lab.analysis.recall import seed_stats
from fbcd_lab.data.datasets import LongTailData
from fbcd_lab.run import Run

DEFINITIONS = {
    "ce_top_cluster": "CE, plain top-1 (top_cluster) test mean recall",
    "ce_logit_adjusted": "CE with post-hoc logit adjustment at tau (prior over its classes)",
    "ce_la_plus_features": "ce_logit_adjusted + better_features",
    "fbcd_top_cluster": "FBH + CDH, top_cluster rule (as the paper reports)",
    "fbcd_logit_adjusted": "FBH + CDH, logit_adjusted at tau (prior over its clusters)",
    "prior_correction": "ce_logit_adjusted - ce_top_cluster",
    "better_features": "class-balanced linear probe on FBH + CDH features - the same probe on CE features",
    "residual_top_cluster": "fbcd_top_cluster - ce_la_plus_features (what the steps do not explain)",
    "residual_logit_adjusted": "fbcd_logit_adjusted - ce_la_plus_features",
    "total_gain": "fbcd_<rule> - ce_top_cluster = prior_correction + better_features + residual_<rule>",
}


def waterfall(ce_top: Sequence[float], ce_la: Sequence[float], ce_probe: Sequence[float],
              fbcd_probe: Sequence[float], fbcd_top: Sequence[float], fbcd_la: Sequence[float],
              seeds: Sequence[int] | None = None) -> dict:
    """The waterfall from per-seed mean recalls (fractions, paired by position): every level and step as
    mean and sample sd over seeds, in points, with the total gain and both probes."""
    arrays = [np.asarray(a, dtype=np.float64) for a in (ce_top, ce_la, ce_probe, fbcd_probe, fbcd_top, fbcd_la)]
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1 or arrays[0].size == 0:
        raise ValueError(f"every per-seed list must have the same, non-zero length; got {[a.shape for a in arrays]}")
    ce_top, ce_la, ce_probe, fbcd_probe, fbcd_top, fbcd_la = arrays
    features = fbcd_probe - ce_probe
    base = ce_la + features
    levels = {"ce_top_cluster": ce_top, "ce_logit_adjusted": ce_la, "ce_la_plus_features": base,
              "fbcd_top_cluster": fbcd_top, "fbcd_logit_adjusted": fbcd_la}
    steps = {"prior_correction": ce_la - ce_top, "better_features": features,
             "residual_top_cluster": fbcd_top - base, "residual_logit_adjusted": fbcd_la - base}
    return {"unit": "mean-recall points (x 100)",
            "seeds": list(range(len(ce_top))) if seeds is None else [int(s) for s in seeds],
            "levels": {k: seed_stats(v, 100) for k, v in levels.items()},
            "steps": {k: seed_stats(v, 100) for k, v in steps.items()},
            "total_gain": {"top_cluster": seed_stats(fbcd_top - ce_top, 100),
                           "logit_adjusted": seed_stats(fbcd_la - ce_top, 100)},
            "probes": {"ce_balanced_probe": seed_stats(ce_probe, 100),
                       "fbcd_balanced_probe": seed_stats(fbcd_probe, 100)},
            "definitions": dict(DEFINITIONS)}


WATERFALL_STEPS = (("ce_top_cluster", "levels", "CE ({rule})"), ("prior_correction", "steps", "+ prior correction"),
                   ("better_features", "steps", "+ better features"), ("residual_{rule}", "steps", "+ the rest"),
                   ("fbcd_{rule}", "levels", "FBH + CDH ({rule})"))


def waterfall_rows(decomposition: dict, rule: str = "top_cluster") -> list[tuple[str, dict, bool]]:
    """The waterfall's bars in order, each (label, its :func:`seed_stats` in points, whether it is a step):
    CE under top_cluster, the three steps, FBH + CDH under ``rule``."""
    return [(label.format(rule="top_cluster" if key == "ce_top_cluster" else rule),
             decomposition[part][key.format(rule=rule)], part == "steps") for key, part, label in WATERFALL_STEPS]


def _by_seed(runs: Sequence[Run], what: str) -> dict[int, Run]:
    seeds = [run.seed for run in runs]
    if not runs or len(set(seeds)) != len(seeds):
        raise ValueError(f"{what} must be a non-empty list of runs with distinct seeds, got seeds {seeds}")
    return dict(zip(seeds, runs))


def decompose_gain(ce_runs: Sequence[Run], fbcd_runs: Sequence[Run], data: LongTailData, tau: float = 1.0,
                   probe_seed: int = 0, selection: str = "final") -> dict:
    """The waterfall (module docstring) of FBH + CDH's gain over CE, with runs paired by training seed (both
    lists must hold the same seeds); one logits pass and one class-balanced probe per run."""
    ce, fbcd = _by_seed(ce_runs, "ce_runs"), _by_seed(fbcd_runs, "fbcd_runs")
    if set(ce) != set(fbcd):
        raise ValueError(f"ce_runs and fbcd_runs must hold the same seeds, got {sorted(ce)} and {sorted(fbcd)}")
    seeds = sorted(ce)
    per_seed = {k: [] for k in ("ce_top", "ce_la", "ce_probe", "fbcd_probe", "fbcd_top", "fbcd_la")}
    for seed in seeds:
        for name, run in (("ce", ce[seed]), ("fbcd", fbcd[seed])):
            sweep = rule_sweep_from_logits(run_logits(run, data, selection), taus=[tau])
            per_seed[f"{name}_top"].append(sweep["top_cluster"]["mean_recall"])
            per_seed[f"{name}_la"].append(sweep["logit_adjusted"][0]["mean_recall"])
            per_seed[f"{name}_probe"].append(
                linear_probe(run, data, balanced=True, seed=probe_seed, selection=selection)["mean_recall"])
    out = waterfall(**per_seed, seeds=seeds)
    out["tau"] = float(tau)
    out["methods"] = {"ce": sorted({ce[s].method.method for s in seeds}),
                      "fbcd": sorted({fbcd[s].method.method for s in seeds})}
    return out


def decompose_saved(ce_folders: Sequence[str | Path], fbcd_folders: Sequence[str | Path], data: LongTailData,
                    probe_seed: int = 0) -> dict:
    """The waterfall of saved runs (folders with ``results.json`` and model-only ``model.pt``; CE runs in
    ``ce_folders``, FBH + CDH runs in ``fbcd_folders``, as their records say), paired by
    training seed: the rule levels are the records' own test metrics (logit adjustment at their tau),
    the two class-balanced probes are fitted on features of the saved weights. ``data`` must be the
    long-tailed set the runs were trained on (its subset fingerprint is compared)."""
    from fbcd_lab.weights import load_weights

    ce = _saved_by_seed(ce_folders, "ce_folders (--ce)", "ce")
    fbcd = _saved_by_seed(fbcd_folders, "fbcd_folders (--fbcd)", "fbcd")
    if set(ce) != set(fbcd):
        raise ValueError(f"ce_folders and fbcd_folders must hold the same seeds, got {sorted(ce)} and {sorted(fbcd)}")
    seeds = sorted(ce)
    taus = set()
    per_seed = {k: [] for k in ("ce_top", "ce_la", "ce_probe", "fbcd_probe", "fbcd_top", "fbcd_la")}
    for seed in seeds:
        for name, (folder, record) in (("ce", ce[seed]), ("fbcd", fbcd[seed])):
            if record["data"]["indices_sha256"] != data.fingerprint.indices_sha256:
                raise ValueError(f"{folder}: its run was trained on another long-tailed subset than the data it is "
                                 f"decomposed on")
            if record["config"]["optim"] != ce[seeds[0]][1]["config"]["optim"]:
                raise ValueError(f"{folder}: its run was trained on another schedule than {ce[seeds[0]][0]} "
                                 f"(epochs, rate, decays): their gains do not add up to one decomposition")
            metrics = record["metrics"]
            taus.add(metrics["logit_adjusted"]["tau"])
            per_seed[f"{name}_top"].append(metrics["top_cluster"]["mean_recall"])
            per_seed[f"{name}_la"].append(metrics["logit_adjusted"]["mean_recall"])
            model = load_weights(folder)
            features = FeatureSet(*pooled_features(model, data.train, data), *pooled_features(model, data.test, data))
            probe = probe_from_features(features, data.counts, True, probe_seed)
            per_seed[f"{name}_probe"].append(probe["mean_recall"])
    if len(taus) != 1:
        raise ValueError(f"the records adjust logits at different taus {sorted(taus)}: their gains do not add up "
                         f"to one decomposition")
    out = waterfall(**per_seed, seeds=seeds)
    out["tau"] = float(taus.pop())
    out["methods"] = {"ce": sorted({ce[s][1]["method"] for s in seeds}),
                      "fbcd": sorted({fbcd[s][1]["method"] for s in seeds})}
    out["folders"] = {"ce": [str(ce[s][0]) for s in seeds], "fbcd": [str(fbcd[s][0]) for s in seeds]}
    return out


PLAIN = {"loss": "ce", "balancing": "none", "augment": "none"}  # what a waterfall's two runs leave as CE's
SAVED_NEEDS = ("data.indices_sha256", "metrics.top_cluster.mean_recall", "metrics.logit_adjusted.mean_recall",
               "metrics.logit_adjusted.tau")  # what decompose_saved reads of a record


def _saved_by_seed(folders: Sequence[str | Path], what: str, method: str) -> dict[int, tuple[Path, dict]]:
    """Finished saved runs of ``method`` by training seed (folder, record); another method (swapped
    or repeated folders), a run with another loss, balancing or Mixup (:data:`PLAIN`), or a seed twice
    is refused, naming ``what`` holds them."""
    from fbcd_lab.records import read_record, record_status
    from fbcd_lab.run_folder import RECORD_NAME

    out = {}
    for folder in map(Path, folders):
        record = read_record(folder / RECORD_NAME, SAVED_NEEDS)
        if record["method"] != method:
            raise ValueError(f"{what} must hold runs of method {method!r}: {folder} is a run of method "
                             f"{record['method']!r}")
        changed = [f"{key} {value}" for key, plain in PLAIN.items()
                   if (value := record["config"]["method"].get(key, plain)) != plain]
        if changed:
            raise ValueError(f"{what} must hold plain runs of method {method!r} (loss ce, no balancing, no Mixup): "
                             f"{folder} has {', '.join(changed)}")
        if record_status(record) != "finished":
            raise ValueError(f"{folder}: the run is {record_status(record)}, not finished")
        if record["seed"] in out:
            raise ValueError(f"{what} holds training seed {record['seed']} twice ({out[record['seed']][0]}, {folder})")
        out[record["seed"]] = (folder, record)
    return out
