"""Results records: one JSON file per run, and a loader that tabulates a folder of them.

A record holds the configuration, class counts, division, per-epoch history, final metrics under
every prediction rule, the evaluation protocol, wall time, device and library versions. Single-seed
long-tail results vary by several points, so the table gives mean and spread over seeds.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import statistics
import warnings
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from fbcd_lab.balancing import saved_switch_epoch
from fbcd_lab.checkpoints import atomic_write
from fbcd_lab.checks import check
from fbcd_lab.config import MethodConfig, OptimConfig, with_defaults
from fbcd_lab.data.datasets import LongTailData
from fbcd_lab.evaluation import collect_logits, metrics_from_logits
from fbcd_lab.models.predict import RULES, log_prior
from fbcd_lab.models.two_head import class_weight_norms
from fbcd_lab.readers import check_record, read_json, record_status
from fbcd_lab.recipes import recipe_of
from fbcd_lab.runtime import code_version, library_versions
from fbcd_lab.run import Run
from fbcd_lab.training import run_threads, selected_model, train

RECORD_NAME = "results.json"
SHOWN_KEYS = ("dataset", "imbalance_ratio", "method", "backbone", "u", "lam", "cluster", "epochs", "selection",
              "precision")
SHOWN_ALIASES = {"method.method": "method", "method.backbone": "backbone", "method.u": "u", "method.lam": "lam",
                 "method.cluster": "cluster", "optim.epochs": "epochs", "selection": "selection",
                 "data.imbalance_ratio": "imbalance_ratio", "data.name": "dataset", "precision": "precision"}


def evaluate_run(run: Run, data: LongTailData, selection: str = "final", tau: float = 1.0) -> tuple[dict | None, str]:
    """Test metrics under every prediction rule (``tau`` for post-hoc logit adjustment), and a
    sentence naming the protocol used. A diverged run has no metrics (None): its weights are not finite."""
    if run.diverged is not None:
        return None, (f"diverged in epoch {run.diverged['epoch']} (loss {run.diverged['loss']}); no metrics, "
                      f"the checkpoint holds epoch {run.epochs_done}")
    model = selected_model(run, selection)
    with run_threads(run):
        logits, labels = collect_logits(model, data.test, data, run.device, run.precision)
        prior = log_prior(run.division.cluster_sizes)
        metrics = {rule: metrics_from_logits(logits, labels, model.class_of_cluster.cpu(), data.counts, rule, prior,
                                             tau) for rule in RULES}
    norms = class_weight_norms(model).tolist()
    for m in metrics.values():
        m["weight_norms"] = norms
    if selection == "final":
        protocol = f"final epoch ({run.epochs_done}{', stopped early' if run.stopped else ''}) on the test set"
    else:
        split = (f"the data's own validation split ({len(data.val)} images)" if data.spec.get("val_folder") else
                 f"a validation split of {data.spec['val_per_class']} images per class")
        protocol = f"epoch {run.best['epoch']} chosen by mean recall on {split}, reported on the test set"
    return metrics, protocol


def train_and_record(data: LongTailData, method: MethodConfig, optim: OptimConfig, seed: int = 0,
                     **train_options) -> dict:
    """Train one run, evaluate it under every rule (final epoch) and return its record."""
    run = train(data, method, optim, seed=seed, progress=False, **train_options)
    return run_record(run, data, *evaluate_run(run, data))


def train_and_record_all(jobs: Sequence[tuple[LongTailData, MethodConfig, OptimConfig, int]], processes: int = 1,
                         **train_options) -> list[dict]:
    """:func:`train_and_record` for each ``(data, method, optim, seed)`` job, records in job order. With
    ``processes`` > 1 the runs train in that many worker processes (joblib's reusable loky executor),
    each run on the threads it would get alone, so a record is the one a sequential loop makes; the
    notebooks' sweeps of tiny one-thread runs then use every core (notebook 6 under the binder preset:
    134 s alone, 75-87 s in two processes on two cores; BENCHMARKS.md). The workers ignore Ctrl-C
    (and a notebook's interrupt), which stops the waiting process; they end with it."""
    check("processes", processes)
    if processes == 1:
        return [train_and_record(*job, **train_options) for job in jobs]
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(max_workers=processes, initializer=signal.signal,
                                     initargs=(signal.SIGINT, signal.SIG_IGN))
    return list(executor.map(functools.partial(_train_and_record_job, options=train_options), jobs))


def _train_and_record_job(job: tuple, options: dict) -> dict:
    return train_and_record(*job, **options)


def run_record(run: Run, data: LongTailData, metrics: dict | None, protocol: str,
               selection: str = "final") -> dict:
    """The JSON-ready record of one run: ``seed`` is the training seed, ``subset_seed`` the seed
    of the long-tailed subset; ``status`` is finished, stopped or diverged."""
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": data.name, "imbalance_ratio": "natural" if data.imbalance_ratio is None else data.imbalance_ratio,
        "method": run.method.method, "recipe": recipe_of(run.method), "backbone": run.method.backbone,
        "u": run.method.u,
        "lam": run.method.lam, "alpha": run.method.alpha, "cluster": run.method.cluster,
        "seed": run.seed, "subset_seed": data.fingerprint.seed, "epochs": run.optim.epochs,
        "balancing_switch_epoch": run.switch_epoch,
        "epochs_done": run.epochs_done, "status": run.status, "stopped": run.stopped, "diverged": run.diverged,
        "protocol": protocol, "selection": selection,
        "config": {"method": run.method.to_dict(), "optim": run.optim.to_dict(),
                   "balancing_switch_epoch": run.switch_epoch, "seed": run.seed,
                   "precision": run.precision, "deterministic": run.deterministic,
                   "world_size": run.world_size, "sync_bn": run.sync_bn,
                   "extensions": run.extensions, "data_spec": data.spec},
        "data": data.record(), "counts": list(data.counts), "classes": list(data.classes),
        "division": run.division.record(), "history": run.history, "best_val": run.best,
        "metrics": metrics, "wall_time_s": run.wall_time_s, "device": device_name(run), "machine": machine(run),
        "precision": run.precision,
        "versions": library_versions(), "code": code_version(),
    }


def device_name(run: Run) -> str:
    """The device in words, e.g. ``cuda (NVIDIA H100 80GB HBM3)`` or ``cpu (2 threads)``."""
    import torch

    if run.device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(run.device)})"
    threads = run.threads or torch.get_num_threads()
    return f"cpu ({threads} thread{'s' if threads > 1 else ''})"


def machine(run: Run) -> dict:
    """What a run's last digits follow besides its settings, code and threads: the GPU, or the CPU
    (:func:`~fbcd_lab.runtime.cpu_identity`), so that runs compared seed by seed can be seen to come
    from one machine or from several."""
    import torch

    from fbcd_lab.runtime import cpu_identity

    return {"gpu": torch.cuda.get_device_name(run.device)} if run.device.type == "cuda" else cpu_identity()


def save_record(record: dict, path: str | Path) -> None:
    """Write a record as indented strict JSON (no NaN or Infinity), atomically."""
    text = json.dumps(record, indent=1, allow_nan=False)
    atomic_write(path, lambda f: f.write(text.encode()))


def read_record(path: str | Path, needs: Sequence[str] = ()) -> dict:
    """One results record, parsed strictly and checked (:func:`~fbcd_lab.readers.check_record`, with the
    dotted fields ``needs`` required too); a ValueError naming the file, and the field, if it is not one."""
    path = Path(path)
    try:
        record = read_json(path)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path}: not a readable results record ({err})") from None
    try:
        check_record(record, needs)
    except ValueError as err:
        raise ValueError(f"{path}: not a valid results record ({err})") from None
    return record


def load_records(folder: str | Path) -> list[dict]:
    """Every ``results.json`` under ``folder`` (recursively), sorted by path, each with its ``path``;
    a file that is not a readable record is skipped with a warning naming it, so one bad file
    cannot hide the rest."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"records folder {str(folder)!r} is a file, not a folder")
    if not folder.is_dir():
        raise FileNotFoundError(f"records folder {str(folder)!r} does not exist")
    records = []
    for path in sorted(folder.rglob(RECORD_NAME)):
        try:
            records.append({**read_record(path), "path": str(path)})
        except ValueError as err:
            warnings.warn(f"skipped {err}", stacklevel=2)
    return records


def setting(record: dict) -> dict:
    """Everything that defines a run but its training seed, flattened to dotted names."""
    config = record["config"]
    return _flatten({"method": with_defaults(MethodConfig, config["method"]), "optim": config["optim"],
                     "balancing_switch_epoch": saved_switch_epoch(config), "precision": config["precision"],
                     "data": config["data_spec"], "selection": record["selection"],
                     "deterministic": config.get("deterministic", False),
                     "world_size": config.get("world_size", 1), "sync_bn": config.get("sync_bn", False),
                     "extensions": json.dumps(config.get("extensions", []))})


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = tuple(value) if isinstance(value, list) else value
    return flat


def tested_counts(record: dict, rule: str = "top_cluster") -> list[int] | None:
    """Test images per class: the row sums of the record's confusion matrix (None without metrics)."""
    matrix = ((record.get("metrics") or {}).get(rule) or {}).get("confusion_matrix")
    return None if matrix is None else [int(sum(row)) for row in matrix]


def tested_imbalance(records: Sequence[dict], rule: str = "top_cluster") -> tuple[int, int] | None:
    """(fewest, most) test images of a class when some record's test set is imbalanced, else None.

    On an imbalanced test set top-1 accuracy weights each class by its test images, so it can hide
    the tail; mean recall (balanced accuracy) weights every class alike. On a balanced one they are
    equal."""
    counts = [c for c in (tested_counts(r, rule) for r in records) if c]
    if not any(min(c) != max(c) for c in counts):
        return None
    return min(min(c) for c in counts), max(max(c) for c in counts)


def summarize(records: list[dict], metric: str = "mean_recall", rule: str = "top_cluster",
              also: Sequence[str] = ()) -> list[dict]:
    """Mean, sample standard deviation and count of ``metric`` (and of the metrics in ``also``)
    over training seeds.

    Runs are pooled only when everything but the seed is the same and all finished; stopped and
    diverged runs get rows of their own (``status``). A seed counts once: a second record of the
    same setting and seed is left out with a warning. Rows show :data:`SHOWN_KEYS` and every
    setting in which the rows differ (``varying``), so no two rows look alike, the ``recipe``
    whose settings they are (None for none), the ``code`` that trained them (:func:`code_text`) and the
    ``folder`` holding their run folders (a study's cell; None for records read without a path), and
    for a run that did not finish the ``epochs_done`` of its planned ``epochs``;
    ``<metric>_by_seed`` holds each seed's value, for paired comparisons.
    """
    groups: dict = {}
    for r in records:
        key = (json.dumps(setting(r), sort_keys=True, default=str), record_status(r))
        if key[1] != "finished":
            key += (r["seed"], r.get("created"))
        lacking = _lacking(r, rule, (metric, *also)) if key[1] == "finished" or r.get("metrics") else None
        if lacking:
            warnings.warn(f"{r.get('path', 'a record')} has no {lacking}; left out", stacklevel=2)
            continue
        groups.setdefault(key, {})
        if r["seed"] in groups[key]:
            first = groups[key][r["seed"]]
            warnings.warn(f"{r.get('path', 'a record')} repeats seed {r['seed']} of the same setting as "
                          f"{first.get('path', 'another record')}; counted once", stacklevel=2)
            continue
        groups[key][r["seed"]] = r
    shown = set(SHOWN_KEYS)
    flats = [setting(next(iter(g.values()))) for g in groups.values()]
    varying = sorted(k for k in set().union(*flats)
                     if SHOWN_ALIASES.get(k) not in shown and len({str(f.get(k)) for f in flats}) > 1)
    rows = []
    for (_, status, *_), runs, flat in zip(groups, groups.values(), flats):
        first = next(iter(runs.values()))
        row = {**{k: first.get(k, flat.get(k)) for k in SHOWN_KEYS}, **{k: flat.get(k) for k in varying},
               "recipe": next((r["recipe"] for r in runs.values() if r.get("recipe")), None),
               "code": ",".join(sorted({code_text(r) for r in runs.values()})),
               "status": status, "seeds": sorted(runs), "folder": _common_folder(runs.values()),
               "epochs_done": None if status == "finished" else first.get("epochs_done")}
        for name in (metric, *also):
            values = [r["metrics"][rule][name] for r in runs.values() if r.get("metrics")]
            row.update({"n": len(values), f"{name}_mean": statistics.fmean(values) if values else None,
                        f"{name}_std": statistics.stdev(values) if len(values) > 1 else 0.0 if values else None})
            row[f"{name}_by_seed"] = {seed: runs[seed]["metrics"][rule][name] for seed in sorted(runs)
                                      if runs[seed].get("metrics")}
        rows.append(row)
    return rows


def _common_folder(records: Iterable[dict]) -> str | None:
    """The folder holding the run folders of ``records`` (a study's cell for its seeds, the run
    folder itself for one run), or None where a record has no path."""
    paths = [r.get("path") for r in records]
    if None in paths:
        return None
    return os.path.commonpath([os.path.dirname(p) for p in paths])


def _lacking(record: dict, rule: str, names: Sequence[str]) -> str | None:
    """What of ``rule``'s metrics ``names`` the record lacks, in words (``top_cluster metrics``,
    ``top_cluster ece``), or None."""
    numbers = (record.get("metrics") or {}).get(rule)
    if not isinstance(numbers, dict):
        return f"{rule} metrics"
    return next((f"{rule} {name}" for name in names if name not in numbers), None)


def code_text(record: dict) -> str:
    """The code that trained ``record``, short: ``0.1.0@cc0fd82``, ``+modified`` where tracked files
    differed from that commit, the version alone outside git, ``unrecorded`` in records older than it."""
    code = record.get("code")
    if not code:
        return "unrecorded"
    commit = f"@{code['commit'][:7]}" if code.get("commit") else ""
    return f"{code['fbcd_lab']}{commit}{'+modified' if code.get('modified') else ''}"


def varying_columns(rows: list[dict]) -> list[str]:
    """The columns of :func:`summarize` rows beyond the fixed ones (the settings that differ)."""
    fixed = set(SHOWN_KEYS) | {"recipe", "code", "status", "n", "seeds", "folder", "epochs_done"}
    return [k for k in rows[0] if k not in fixed and not k.endswith(("_mean", "_std", "_by_seed"))] if rows else []


def pivot_table(records: list[dict], index: str, columns: str, metric: str = "mean_recall",
                rule: str = "top_cluster", scale: float = 100.0):
    """A pandas table of "mean ± sd (n)" cells, ``index`` by ``columns``, from :func:`summarize`.

    Every other setting in which the runs differ, and the status of runs that did not finish,
    become further index levels, so a cell never pools or hides two different settings.
    """
    import pandas as pd

    rows = summarize(records, metric, rule)
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    extra = [k for k in (*varying_columns(rows), *SHOWN_KEYS) if k not in (index, columns)
             and frame[k].astype(str).nunique() > 1]
    if (frame["status"] != "finished").any():
        extra += ["status", "seeds"]
    frame["cell"] = [("–" if r[f"{metric}_mean"] is None else
                      f"{scale * r[f'{metric}_mean']:.1f} ± {scale * r[f'{metric}_std']:.1f} ({r['n']})") for r in rows]
    for k in extra:
        frame[k] = frame[k].astype(str)
    return frame.pivot(index=[index, *extra], columns=columns, values="cell")
