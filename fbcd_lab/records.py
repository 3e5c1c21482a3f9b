"""Results records: one JSON file per run, and a loader that tabulates a folder of them.

A record holds the configuration, class counts, division, per-epoch history, final metrics under
every prediction rule, the evaluation protocol, wall time, device and library versions. Single-seed
long-tail results vary by several points, so the table gives mean and spread over seeds.
"""

from __future__ import annotations

import json
import statistics
from datetime import datetime, timezone
from pathlib import Path

from fbcd_lab.checkpoints import atomic_write
from fbcd_lab.config import MethodConfig, OptimConfig
from fbcd_lab.data.datasets import LongTailData
from fbcd_lab.evaluation import collect_logits, metrics_from_logits
from fbcd_lab.models.predict import RULES, log_prior
from fbcd_lab.models.two_head import class_weight_norms
from fbcd_lab.runtime import library_versions
from fbcd_lab.run import Run
from fbcd_lab.training import selected_model, train

RECORD_NAME = "results.json"
SHOWN_KEYS = ("dataset", "imbalance_ratio", "method", "backbone", "u", "lam", "cluster", "epochs", "selection")


def evaluate_run(run: Run, data: LongTailData, selection: str = "final") -> tuple[dict, str]:
    """Test metrics under every prediction rule, and a sentence naming the protocol used."""
    model = selected_model(run, selection)
    logits, labels = collect_logits(model, data.test, data, run.device, run.precision)
    prior = log_prior(run.division.cluster_sizes)
    metrics = {rule: metrics_from_logits(logits, labels, model.class_of_cluster.cpu(), data.counts, rule, prior)
               for rule in RULES}
    norms = class_weight_norms(model).tolist()
    for m in metrics.values():
        m["weight_norms"] = norms
    if selection == "final":
        protocol = f"final epoch ({run.epochs_done}{', stopped early' if run.stopped else ''}) on the test set"
    else:
        protocol = (f"epoch {run.best['epoch']} chosen by mean recall on a validation split of "
                    f"{data.spec['val_per_class']} images per class, reported on the test set")
    return metrics, protocol


def train_and_record(data: LongTailData, method: MethodConfig, optim: OptimConfig, seed: int = 0,
                     **train_options) -> dict:
    """Train one run, evaluate it under every rule (final epoch) and return its record."""
    run = train(data, method, optim, seed=seed, progress=False, **train_options)
    return run_record(run, data, *evaluate_run(run, data))


def run_record(run: Run, data: LongTailData, metrics: dict, protocol: str) -> dict:
    """The JSON-ready record of one run."""
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": data.name, "imbalance_ratio": data.imbalance_ratio,
        "method": run.method.method, "backbone": run.method.backbone, "u": run.method.u,
        "lam": run.method.lam, "alpha": run.method.alpha, "cluster": run.method.cluster,
        "seed": run.seed, "epochs": run.optim.epochs, "epochs_done": run.epochs_done,
        "stopped": run.stopped, "protocol": protocol, "selection": "final" if protocol.startswith("final") else "best_val",
        "config": {"method": run.method.to_dict(), "optim": run.optim.to_dict(), "seed": run.seed,
                   "precision": run.precision, "data_spec": data.spec},
        "data": data.record(), "counts": list(data.counts), "classes": list(data.classes),
        "division": run.division.record(), "history": run.history, "best_val": run.best,
        "metrics": metrics, "wall_time_s": run.wall_time_s, "device": device_name(run),
        "versions": library_versions(),
    }


def device_name(run: Run) -> str:
    """The device in words, e.g. ``cuda (NVIDIA H100 80GB HBM3)`` or ``cpu (2 threads)``."""
    import torch

    if run.device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(run.device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def save_record(record: dict, path: str | Path) -> None:
    """Write a record as indented JSON, atomically."""
    atomic_write(path, lambda f: f.write(json.dumps(record, indent=1).encode()))


def load_records(folder: str | Path) -> list[dict]:
    """Every ``results.json`` under ``folder`` (recursively), sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"records folder {str(folder)!r} does not exist")
    return [json.loads(p.read_text()) for p in sorted(folder.rglob(RECORD_NAME))]


def setting(record: dict) -> str:
    """Everything that defines a run but its seed, as one comparable string."""
    config = record["config"]
    spec = {k: v for k, v in config["data_spec"].items() if k != "seed"}
    return json.dumps({"method": config["method"], "optim": config["optim"], "precision": config["precision"],
                       "data": spec, "selection": record["selection"]}, sort_keys=True)


def summarize(records: list[dict], metric: str = "mean_recall", rule: str = "top_cluster",
              keys: tuple[str, ...] | None = None) -> list[dict]:
    """Mean, sample standard deviation and count of ``metric`` over seeds.

    Without ``keys``, runs are pooled only when everything but the seed is the same (rows show
    :data:`SHOWN_KEYS`); with ``keys``, runs are pooled by those record fields alone.
    """
    groups: dict = {}
    for r in records:
        groups.setdefault(tuple(r.get(k) for k in keys) if keys else setting(r), []).append(r)
    rows = []
    for runs in groups.values():
        values = [r["metrics"][rule][metric] for r in runs]
        rows.append({**{k: runs[0].get(k) for k in (keys or SHOWN_KEYS)}, "n": len(values),
                     "seeds": sorted(r["seed"] for r in runs), f"{metric}_mean": statistics.fmean(values),
                     f"{metric}_std": statistics.stdev(values) if len(values) > 1 else 0.0})
    return rows
