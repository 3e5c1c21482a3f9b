"""A study's table: mean ± sample sd (n seeds) per cell and ratio, beside the paper's number.

The statistics come from :func:`fbcd_lab.records.summarize` (runs pooled only when everything but
the training seed agrees); the paper's numbers from :mod:`fbcd_lab.paper_results`. The table is
kept as JSON-ready data and rendered as Markdown from it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from fbcd_lab.checkpoints import atomic_write
from fbcd_lab.paper_results import PAPER_DATASETS, paper_dataset, paper_number, paper_only_rows, paper_table, row_name
from fbcd_lab.records import summarize, tested_imbalance
from fbcd_lab.studies.study import Cell, Study

RULE = "top_cluster"
METRIC_NAMES = {"accuracy": "top-1 accuracy", "mean_recall": "mean recall"}


def measure(metric: str) -> str:
    """What the table's numbers are, in words."""
    return (f"{METRIC_NAMES[metric]} (%) on the test set, final epoch, prediction rule {RULE}; "
            f"mean ± sample sd (n seeds)")


def ranking(imbalance: tuple[int, int] | None) -> tuple[str, str]:
    """The metric a table ranks by, and why: top-1 accuracy on balanced test sets (the paper's
    measure, there equal to mean recall), mean recall on imbalanced ones (top-1 beside it)."""
    if imbalance is None:
        return "accuracy", "top-1 accuracy (the test set is balanced, where it equals mean recall)"
    return "mean_recall", (f"mean recall (the test set is imbalanced, {imbalance[0]:,} to {imbalance[1]:,} images a "
                           f"class, where top-1 accuracy counts every class by its images and hides the tail; "
                           f"top-1 is shown beside it)")


def ratio_name(ratio: float | None) -> str:
    """A ratio as the table names it: ``100``, ``12.5``; ``natural`` for a source long-tailed already."""
    return "natural" if ratio is None else f"{ratio:g}"


def paper_reference(study: Study, source: str, num_classes: int, override: str | None = None) -> dict:
    """Which paper numbers the study's table shows on data ``source``: the column (see
    :func:`~fbcd_lab.paper_results.paper_dataset`), its table and caption, and how it was chosen."""
    column = paper_dataset(source, num_classes, override)
    table = study.paper_tables.get(column) if column else None
    if column is None:
        why = f"{source} ({num_classes} classes) matches no paper dataset; choose one with --paper-column"
        return {"column": None, "table": None, "text": f"none: {why}"}
    if table is None:
        why = study.note or f"the paper reports no {study.name} numbers for {PAPER_DATASETS[column]}"
        return {"column": column, "table": None, "text": f"none: {why}"}
    how = ("chosen with --paper-column" if override else "from the dataset's name" if column == source else
           f"from the image folder's {num_classes} classes")
    group = " (its All column)" if column == "imagenet_lt" else ""
    return {"column": column, "table": table, "caption": paper_table(table).caption,
            "text": f"{PAPER_DATASETS[column]}{group} of {paper_table(table).reference} (column {how})"}


def _summary_text(rows: list[dict], metric: str) -> str:
    """``mean ± sd (n)`` in %, and the status and seeds of runs that did not finish."""
    parts = []
    for row in rows:
        mean, sd = row[f"{metric}_mean"], row[f"{metric}_std"]
        if row["status"] != "finished" or mean is None:
            parts.append(f"{row['status']} (seeds {' '.join(map(str, row['seeds']))})")
        else:
            parts.append(f"{100 * mean:.2f} ± {f'{100 * sd:.2f}' if row['n'] > 1 else '–'} ({row['n']})")
    return "; ".join(parts) or "–"


def build_table(study: Study, cells: Sequence[Cell], ratios: Sequence[float | None],
                records: dict[tuple[float | None, str], list[dict]], header: dict, paper: dict) -> dict:
    """The study's table as data: one row per cell (``records[ratio, label]`` pooled over seeds), then
    the paper-only rows of the paper's table, each with the paper's number per ratio."""
    table_no, column = paper["table"], paper["column"]
    imbalance = tested_imbalance([r for runs in records.values() for r in runs], RULE)
    metric, ranked_by = ranking(imbalance)
    shown = (metric,) if imbalance is None else (metric, "accuracy")

    def number(row: str | None, ratio: float | None, backbone: str | None) -> float | None:
        return paper_number(table_no, column, ratio, row, backbone) if table_no and row else None

    rows = []
    for cell in cells:
        results = {}
        for ratio in ratios:
            summary = summarize(records[ratio, cell.label], metric, RULE, also=shown[1:])
            results[ratio_name(ratio)] = {
                "text": _summary_text(summary, metric),
                **({} if imbalance is None else {"top1_text": _summary_text(summary, "accuracy")}),
                "runs": [{"status": s["status"], "n": s["n"], "seeds": s["seeds"],
                          **{f"{prefix}{key}": value for name, prefix in zip(shown, ("", "top1_"))
                             for key, value in _mean_sd(s, name).items()}} for s in summary]}
        rows.append({"cell": cell.label, "schedule": cell.schedule or header["preset"],
                     "paper_row": row_name(cell.paper_row, cell.paper_backbone) if cell.paper_row else study.unnumbered, "paper_only": False, "results": results,
                     "paper": {ratio_name(r): number(cell.paper_row, r, cell.paper_backbone) for r in ratios}})
    for row, backbone in paper_only_rows(table_no, column) if table_no else ():
        rows.append({"cell": None, "paper_row": row_name(row, backbone), "paper_only": True, "results": {},
                     "paper": {ratio_name(r): number(row, r, backbone) for r in ratios}})
    return {**header, "measure": measure(metric), "ranked_by": metric, "ranking": ranked_by,
            "test_images_per_class": None if imbalance is None else list(imbalance), "paper": paper,
            "ratios": [ratio_name(r) for r in ratios], "rows": rows}


def _mean_sd(summary: dict, metric: str) -> dict:
    """A summary row's mean and sample sd of ``metric`` in % (None where there is none), and each
    seed's value in % (``by_seed``, keyed by the seed as text), for paired comparisons."""
    mean = summary[f"{metric}_mean"]
    return {"mean": None if mean is None else 100 * mean,
            "sd": None if mean is None or summary["n"] < 2 else 100 * summary[f"{metric}_std"],
            "by_seed": {str(seed): 100 * value for seed, value in summary[f"{metric}_by_seed"].items()}}


def table_markdown(table: dict) -> str:
    """The table as Markdown: a header naming the study, data, settings (the precision too: part of the
    protocol; tables from before it was recorded say so) and paper column, then the rows."""
    fmt = paper_table(table["paper"]["table"]).format if table["paper"]["table"] else lambda v: "–"
    beside = table.get("test_images_per_class") is not None  # top-1 beside mean recall
    paper = table["paper"]["table"] is not None  # no column of dashes where the paper has no numbers
    per_ratio = ("top-1",) * beside + ("paper",) * paper
    columns = [c for r in table["ratios"] for c in (f"ratio {r}", *per_ratio)]
    lines = [f"## Study {table['study']}: {table['description']}", "",
             f"- data: {table['dataset']} ({table['classes']} classes, subset seed {table['subset_seed']}); "
             f"backbone {', '.join(table['backbones'])}; preset {table['preset']}, {table['epochs']} "
             f"epoch{'' if table['epochs'] == 1 else 's'}; "
             f"precision {table.get('precision', 'not recorded')}; seeds {' '.join(map(str, table['seeds']))}",
             *([f"- u: {table['u']} in the cells that divide their classes (the paper's: 10)"] if "u" in table else []),
             *_own_schedule_lines(table),
             f"- ours: {table['measure']}",
             *([f"- ranked by: {table['ranking']}"] if "ranking" in table else []),
             f"- paper: {table['paper']['text']}", "",
             "| cell | paper row | " + " | ".join(columns) + " |",
             "| --- | --- | " + " | ".join("---:" for _ in columns) + " |"]
    for row in table["rows"]:
        cells = [c for r in table["ratios"] for c in _row_cells(row, r, beside, paper, fmt)]
        lines.append(f"| {row['cell'] or '–'} | {row['paper_row']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _own_schedule_lines(table: dict) -> list[str]:
    """A header line naming the cells that train on a schedule of their own (none: no line)."""
    own = [f"{row['cell']} ({row['schedule']})" for row in table["rows"]
           if row["cell"] and row.get("schedule", table["preset"]) != table["preset"]]
    return [f"- own schedules: {', '.join(own)}, each scaled to {table['epochs']} epochs; every other cell "
            f"{table['preset']}"] if own else []


def _row_cells(row: dict, ratio: str, beside: bool, paper: bool, fmt) -> tuple[str, ...]:
    results = row["results"].get(ratio, {})
    ours = (results.get("text", "–"), results.get("top1_text", "–")) if beside else (results.get("text", "–"),)
    return (*ours, fmt(row["paper"][ratio])) if paper else ours


def save_table(table: dict, folder: Path) -> tuple[Path, Path]:
    """Write ``folder/table.md`` and ``folder/table.json`` (strict JSON) atomically; return both paths."""
    paths = folder / "table.md", folder / "table.json"
    for path, text in zip(paths, (table_markdown(table), json.dumps(table, indent=1, allow_nan=False))):
        atomic_write(path, lambda f, text=text: f.write(text.encode()))
    return paths
