"""``python -m fbcd_lab summarize``: a folder of results tabulated, mean and spread over seeds."""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from fbcd_lab.cli.options import path_arg
from fbcd_lab.models.predict import RULES


def run_summarize(args: argparse.Namespace) -> int:
    from fbcd_lab.records import SHOWN_KEYS, load_records, summarize, tested_imbalance, varying_columns

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = load_records(args.folder)
        imbalance = tested_imbalance(records, args.rule)
        metric = args.metric
        beside = {"mean_recall": ("accuracy",), "accuracy": ("mean_recall",)}.get(metric, ()) if imbalance else ()
        rows = summarize(records, metric, args.rule, also=beside)
    left_out = [str(warning.message) for warning in caught]
    if not rows:  # one line: nothing to show, and why
        raise ValueError(f"no usable results.json under {args.folder}: {'; '.join(left_out)}" if left_out else
                         f"no results.json under {args.folder}")
    for message in left_out:
        print(f"warning: {message}", file=sys.stderr)
    for row in rows:  # each row's folder as the command was given it: a study's cell reads r100/drs@ldam_cifar
        row["folder"] = os.path.relpath(row["folder"], args.folder)
    cols = ["folder", *SHOWN_KEYS[:3], "recipe", *SHOWN_KEYS[3:], *varying_columns(rows), "code", "status", "n"]
    rows.sort(key=lambda row: [(0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v)) for v in
                               (row[c] for c in [*cols[1:], "folder"])])  # numbers as numbers: ratio 10 before 100
    cells = [{c: "-" if c in _UNUSED_BY.get(row["method"], ()) else _cell(row[c]) for c in cols} for row in rows]
    for cell, row in zip(cells, rows):  # a stopped run's epochs: those it ran of those planned
        if row["epochs_done"] is not None and row["epochs_done"] != row["epochs"]:
            cell["epochs"] = f"{row['epochs_done']} of {cell['epochs']}"
    shown = (metric, *beside)
    numbers = [[text for name in shown for text in _mean_sd_text(row, name)] for row in rows]
    width = {c: max(len(c), *(len(cell[c]) for cell in cells)) for c in cols}
    print(f"{' and '.join(shown)} (%) under the {args.rule} rule: mean and sample sd over training seeds "
          f"(u, lam and cluster '-' where the method has no head that reads them)")
    if imbalance is None:
        print("the test sets are balanced (there top-1 accuracy equals mean recall)")
    else:
        print(f"the test sets are imbalanced ({imbalance[0]:,} to {imbalance[1]:,} images a class): rank by "
              f"mean recall; top-1 accuracy counts every class by its test images and hides the tail")
    names = [f"{label:>{12 if i % 2 == 0 else 8}}" for name in shown
             for i, label in enumerate((SHORT_METRIC.get(name, name), "sd"))]
    align = {c: "<" if c == "folder" else ">" for c in cols}
    print(" ".join(f"{c:{align[c]}{width[c]}}" for c in cols), *names, " seeds")
    for cell, texts, row in zip(cells, numbers, rows):
        values = [f"{t:>{12 if i % 2 == 0 else 8}}" for i, t in enumerate(texts)]
        print(" ".join(f"{cell[c]:{align[c]}{width[c]}}" for c in cols), *values, f" {row['seeds']}")
    if left_out:  # said beside the table too, which a reader of stdout alone would take as complete
        print(f"{len(left_out)} results.json left out of this table (the warnings on stderr name them)")
    return 0


SHORT_METRIC = {"mean_recall": "mean recall", "accuracy": "top-1", "ece": "ECE"}
_UNUSED_BY = {"ce": ("u", "lam", "cluster"), "fbh": ("u", "cluster"), "cdh": ("lam",)}  # by the row's head


def _mean_sd_text(row: dict, metric: str) -> tuple[str, str]:
    """A summary row's mean and sd of ``metric`` in %, to two places as ``study`` prints them ('-'
    where there is none)."""
    if row[f"{metric}_mean"] is None:
        return "-", "-"
    return f"{100 * row[f'{metric}_mean']:.2f}", f"{100 * row[f'{metric}_std']:.2f}" if row["n"] > 1 else "-"


def _cell(value) -> str:
    """A table cell: '-' for nothing, numbers without trailing zeros, the rest as text."""
    if value is None or value == () or value == "[]":
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``summarize`` to the subcommands ``sub``."""
    su = sub.add_parser("summarize", help="mean and spread over seeds of a folder of results.json")
    su.add_argument("folder", type=path_arg, help="folder searched for results.json files (recursively)")
    su.add_argument("--metric", default="mean_recall", choices=("mean_recall", "accuracy", "ece"),
                    help="the number tabulated (default mean_recall; where the test sets are imbalanced, top-1 "
                         "accuracy is shown beside mean recall)")
    su.add_argument("--rule", default="top_cluster", choices=RULES, help="prediction rule (default top_cluster)")
    su.set_defaults(run=run_summarize)
