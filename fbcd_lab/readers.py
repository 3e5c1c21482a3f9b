"""The one reader of the JSON files runs and studies leave: results records and study tables.

Both are parsed as strict JSON (NaN, Infinity and numbers no float holds, such as 1e999, are
refused) and checked field by field with the rules of :mod:`fbcd_lab.checks`: types, recalls and
accuracies in [0, 1], scores in [0, 100], known statuses, positive epochs. A file that fails is
refused in one line naming its field, so a hand edit or another program's file is never shown as a
result. Fields a reader does not know are left alone; a field the library reads is checked when
present (``needs`` names those a caller cannot do without).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path

from fbcd_lab.checks import PARAMETERS, Rule, check, check_choice, check_counts, check_distinct, shown
from fbcd_lab.config import METHODS
from fbcd_lab.data.datasets import spec_problem
from fbcd_lab.studies import STUDIES

STATUSES = ("finished", "stopped", "diverged")
SELECTIONS = ("final", "best_val")
REQUIRED_KEYS = ("config", "metrics", "seed", "method", "selection")
FRACTION = Rule(float, 0, 1)  # a recall, an accuracy, a calibration error
PERCENT = Rule(float, 0, 100)  # a table's score
NON_NEGATIVE = Rule(float, 0)
TALLY = Rule(int, 0)  # a count that may be 0: epochs done, runs pooled, images of a class predicted as another
TEXT_FIELDS = ("dataset", "backbone", "cluster", "precision", "created", "protocol", "device")
# A table stores every score as a double in full (json.dumps writes the shortest text that reads back
# the same double), so its mean and sd differ from those of its per-seed scores only by the rounding
# of computing them in % from fractions (100 x mean) rather than from the scores in %: under 5 units
# in the last place of a score of at most 100 (math.ulp(100) = 1.4e-14 points). Allowed: 16 such
# units; a hand edit of the smallest digit a table shows (0.01) is over 10^10 times more.
SCORE_ROUNDING = 16 * math.ulp(100.0)


def read_json(path: str | Path) -> object:
    """The JSON value in the file ``path``, parsed strictly: a NaN, an Infinity or a number beyond a
    float (1e999) raises ValueError naming its field, as an unreadable file raises OSError or
    UnicodeDecodeError."""
    not_finite = []

    def number(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            not_finite.append(text)
        return value

    value = json.loads(Path(path).read_text(encoding="utf-8"), parse_float=number, parse_constant=number)
    if not_finite:
        text = not_finite[0] if len(not_finite[0]) <= 20 else not_finite[0][:17] + "..."
        raise ValueError(f"{where_not_finite(value) or 'the file'} is {text}, not a finite number: strict JSON holds "
                         f"no NaN, Infinity or number beyond a float")
    return value


def where_not_finite(tree, at: str = "") -> str | None:
    """The dotted name of the first non-finite number in a parsed JSON value (or the plain values a
    checkpoint holds for its record), or None."""
    if isinstance(tree, float):
        return None if math.isfinite(tree) else at
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for key, value in items:
        found = where_not_finite(value, f"{at}[{key}]" if isinstance(tree, list) else f"{at}.{key}" if at else key)
        if found is not None:
            return found
    return None


def check_record(record, needs: Sequence[str] = ()) -> None:
    """Refuse (ValueError naming the field) a parsed results record the library cannot use: one that
    lacks a key of :data:`REQUIRED_KEYS` or of ``needs`` (dotted names, ``data.image_size``), or holds
    a field of the wrong type or range."""
    missing = [k for k in (*REQUIRED_KEYS, *needs) if _lookup(record, k) is _ABSENT]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    check("seed", record["seed"])
    _check_config(record["config"])
    check_choice("method", record["method"], METHODS)
    check_choice("selection", record["selection"], SELECTIONS)
    if "status" in record:
        check_choice("status", record["status"], STATUSES)
    for name in ("u", "lam", "alpha", "epochs", "subset_seed"):
        if record.get(name) is not None:
            check(name, record[name])
    if record.get("imbalance_ratio", "natural") != "natural":
        check("imbalance_ratio", record["imbalance_ratio"])
    if "epochs_done" in record:
        check("epochs_done", record["epochs_done"], Rule(int, 0, record.get("epochs")))
        if record.get("status") == "finished" and record.get("epochs") not in (None, record["epochs_done"]):
            raise ValueError(f"status is finished but epochs_done is {record['epochs_done']} of {record['epochs']}")
    for name in TEXT_FIELDS:
        _text(name, record.get(name, ""))
    if record.get("recipe") is not None:
        _text("recipe", record["recipe"])
    if "counts" in record:
        check_counts("counts", _list("counts", record["counts"]))
    for i, name in enumerate(_list("classes", record.get("classes", []))):
        _text(f"classes[{i}]", name)
    _check_data(_mapping("data", record.get("data", {})))
    _check_code(record.get("code"))
    _check_metrics(record["metrics"], record_status(record))


def record_status(record: dict) -> str:
    """``finished``, ``stopped`` (ended early by the user) or ``diverged`` (loss not finite)."""
    if "status" in record:
        return record["status"]
    return "stopped" if record.get("stopped") or record.get("epochs_done", 0) < record.get("epochs", 0) else "finished"


_ABSENT = object()


def _lookup(tree, dotted: str):
    for key in dotted.split("."):
        if not isinstance(tree, dict) or key not in tree:
            return _ABSENT
        tree = tree[key]
    return tree


def _check_config(config) -> None:
    needed = (("method", dict), ("optim", dict), ("precision", str), ("data_spec", dict))
    if not isinstance(config, dict) or not all(isinstance(config.get(k), kind) for k, kind in needed):
        raise ValueError("config needs method, optim, precision and data_spec")
    for part in ("method", "optim"):
        for name, value in config[part].items():
            if name in PARAMETERS and value is not None:
                check(f"config.{part}.{name}", value, PARAMETERS[name])
    if config.get("seed") is not None:
        check("config.seed", config["seed"], PARAMETERS["seed"])
    if config.get("world_size") is not None:
        check("config.world_size", config["world_size"], PARAMETERS["processes"])
    problem = spec_problem(config["data_spec"])
    if problem:
        raise ValueError(f"config.data_spec rebuilds no data ({problem})")


def _check_data(data: dict) -> None:
    for name, rule in (("in_channels", Rule(int, 1, 3)), ("image_size", PARAMETERS["image_size"]),
                       ("num_train", TALLY), ("num_test", TALLY)):
        if name in data:
            check(f"data.{name}", data[name], rule)
    for name in ("dataset", "indices_sha256"):
        _text(f"data.{name}", data.get(name, ""))


def _check_code(code) -> None:
    if code is None:
        return
    _text("code.fbcd_lab", _mapping("code", code).get("fbcd_lab"))
    if code.get("commit") is not None:
        _text("code.commit", code["commit"])
    if code.get("modified") not in (None, True, False):
        raise ValueError(f"code.modified must be true, false or null, got {shown(code['modified'])}")


def _check_metrics(metrics, status: str) -> None:
    if metrics is None:
        if status == "finished":
            raise ValueError("a finished run without metrics")
        return
    if not isinstance(metrics, dict) or not all(isinstance(v, dict) for v in metrics.values()):
        raise ValueError("metrics must map each prediction rule to its numbers")
    for rule, numbers in metrics.items():
        at = f"metrics.{rule}"
        for name in ("accuracy", "mean_recall", "ece"):
            if name in numbers:
                check(f"{at}.{name}", numbers[name], FRACTION)
        if "tau" in numbers:
            check(f"{at}.tau", numbers["tau"], NON_NEGATIVE)
        for name, rule_of_each in (("per_class_recall", FRACTION), ("weight_norms", NON_NEGATIVE)):
            if name in numbers:
                _check_each(f"{at}.{name}", numbers[name], rule_of_each)
        for group, recall in _mapping(f"{at}.group_recall", numbers.get("group_recall", {})).items():
            if recall is not None:
                check(f"{at}.group_recall.{group}", recall, FRACTION)
        for i, row in enumerate(_list(f"{at}.confusion_matrix", numbers.get("confusion_matrix", []))):
            if not (isinstance(row, list) and all(type(n) is int and n >= 0 for n in row)):
                _check_each(f"{at}.confusion_matrix[{i}]", row, TALLY)  # names the entry at fault


def check_table(table) -> None:
    """Refuse (ValueError naming the field) a parsed study table (:mod:`fbcd_lab.studies.table`) whose
    fields the library reads are missing or of the wrong type or range, or disagree (a ratio twice,
    also by value as '100' and '100.0', a cell twice, a blank cell name or one with white space around
    it, an unknown study, a mean or sd that its per-seed scores do not give); other fields are left alone."""
    table = _mapping("the table", table)
    ratios = _list("ratios", table.get("ratios"))
    if not ratios:
        raise ValueError("ratios must name at least one ratio")
    for i, ratio in enumerate(ratios):
        _text(f"ratios[{i}]", ratio)
    check_distinct("ratios", ratios)
    values = [_ratio_value(ratio) for ratio in ratios]
    for i, value in enumerate(values):
        if value in values[:i]:
            raise ValueError(f"ratios names one ratio twice: {ratios[values.index(value)]!r} and {ratios[i]!r}")
    for name in ("study", "description", "dataset", "preset", "precision", "measure", "ranked_by", "ranking"):
        _text(name, table.get(name, ""))
    if "study" in table:
        check_choice("study", table["study"], STUDIES)
    if "epochs" in table:
        check("epochs", table["epochs"])
    for i, seed in enumerate(_list("seeds", table.get("seeds", []))):
        check(f"seeds[{i}]", seed, PARAMETERS["seed"])
    for i, backbone in enumerate(_list("backbones", table.get("backbones", []))):
        _text(f"backbones[{i}]", backbone)
    paper = _mapping("paper", table.get("paper") or {})
    _text("paper.text", paper.get("text", ""))
    cells = []
    for i, row in enumerate(_list("rows", table.get("rows"))):
        _check_row(f"rows[{i}]", row)
        if row["cell"] is not None and row["cell"] in cells:
            raise ValueError(f"rows[{i}].cell {row['cell']!r} is a second row of the same cell")
        cells.append(row["cell"])


def _ratio_value(ratio: str) -> float | str:
    """A table's ratio by its value, so that '100' and '100.0' are one ratio; 'natural' as it is."""
    try:
        return float(ratio)
    except ValueError:
        return ratio


def _check_row(at: str, row) -> None:
    row = _required(at, row, ("cell", "paper_only", "results", "paper"))
    if not isinstance(row["paper_only"], bool):
        raise ValueError(f"{at}.paper_only must be true or false, got {shown(row['paper_only'])}")
    named = row["cell"] is not None or not row["paper_only"]  # only the paper's own rows have no cell
    if named and not _text(f"{at}.cell", row["cell"]).strip():
        blank = f" ({row['cell']!r}: only whitespace)" if row["cell"] else ""
        raise ValueError(f"{at}.cell is empty{blank}: a row of ours names its cell")
    if named and row["cell"] != row["cell"].strip():
        raise ValueError(f"{at}.cell {row['cell']!r} has white space around it: a cell is named by its run folder, "
                         f"{row['cell'].strip()!r}")
    _text(f"{at}.paper_row", row.get("paper_row", ""))
    for ratio, number in _mapping(f"{at}.paper", row["paper"]).items():
        if number is not None:
            check(f"{at}.paper.{ratio}", number, PERCENT)
    for ratio, result in _mapping(f"{at}.results", row["results"]).items():
        result = _mapping(f"{at}.results.{ratio}", result)
        for name in ("text", "top1_text"):
            _text(f"{at}.results.{ratio}.{name}", result.get(name, ""))
        for j, run in enumerate(_list(f"{at}.results.{ratio}.runs", result.get("runs", []))):
            _check_pooled_run(f"{at}.results.{ratio}.runs[{j}]", run)


def _check_pooled_run(at: str, run) -> None:
    run = _required(at, run, ("status", "n", "mean", "sd"))
    check_choice(f"{at}.status", run["status"], STATUSES)
    check(f"{at}.n", run["n"], TALLY)
    for i, seed in enumerate(_list(f"{at}.seeds", run.get("seeds", []))):
        check(f"{at}.seeds[{i}]", seed, PARAMETERS["seed"])
    for name in ("mean", "sd", "top1_mean", "top1_sd"):
        if run.get(name) is not None:
            check(f"{at}.{name}", run[name], PERCENT)
    if "seeds" in run and run["status"] == "finished" and len(run["seeds"]) != run["n"]:
        raise ValueError(f"{at}.n is {run['n']} but it lists {len(run['seeds'])} seeds")
    for prefix in ("", "top1_"):
        if f"{prefix}by_seed" in run:
            _check_by_seed(at, run, prefix)


def _check_by_seed(at: str, run: dict, prefix: str) -> None:
    """Refuse per-seed scores (``by_seed``, or ``top1_by_seed``) out of range, of other seeds than the
    run's, or whose count, mean and sample sd are not the run's ``n``, ``mean`` and ``sd`` (up to
    :data:`SCORE_ROUNDING`): ``orderings`` pairs the seeds, and shows the mean."""
    name = f"{prefix}by_seed"
    by_seed = _mapping(f"{at}.{name}", run[name])
    for seed, score in by_seed.items():
        check(f"{at}.{name}.{seed}", score, PERCENT)
    if by_seed and "seeds" in run and sorted(by_seed) != sorted(str(seed) for seed in run["seeds"]):
        raise ValueError(f"{at}.{name} holds the seeds {sorted(by_seed)}, not the run's {run['seeds']}")
    scores = list(by_seed.values())
    if len(scores) != run["n"]:
        raise ValueError(f"{at}.n is {run['n']} but {name} holds {len(scores)} scores")
    expected = {"mean": statistics.fmean(scores) if scores else None,
                "sd": statistics.stdev(scores) if len(scores) > 1 else None}
    for field, value in expected.items():
        stored = run.get(f"{prefix}{field}")
        if (stored is None) != (value is None) or (value is not None and abs(stored - value) > SCORE_ROUNDING):
            raise ValueError(f"{at}.{prefix}{field} is {shown(stored)} but the {name} scores give "
                             f"{'none' if value is None else shown(value)}")


def _required(at: str, value, keys: tuple[str, ...]) -> dict:
    """``value`` as a mapping that holds every one of ``keys``; else one line naming what it lacks."""
    value = _mapping(at, value)
    missing = [k for k in keys if k not in value]
    if missing:
        raise ValueError(f"{at} lacks {', '.join(missing)}")
    return value


def _check_each(name: str, values, rule: Rule) -> None:
    for i, value in enumerate(_list(name, values)):
        check(f"{name}[{i}]", value, rule)


def _mapping(name: str, value) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object, got {shown(value)}")
    return value


def _list(name: str, value) -> list:
    if not isinstance(value, list):
        raise ValueError(f"{name} must be a list, got {shown(value)}")
    return value


def _text(name: str, value) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, got {shown(value)}")
    return value
