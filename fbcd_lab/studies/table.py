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
from fbcd_lab.records import summarize
from fbcd_lab.studies.study import Cell, Study

METRIC, RULE = "accuracy", "top_cluster"
MEASURE = (f"top-1 accuracy (%) on the test set, final epoch, prediction rule {RULE}; "
           f"mean ± sample sd (n seeds)")


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


def _summary_text(rows: list[dict]) -> str:
    """``mean ± sd (n)`` in %, and the status and seeds of runs that did not finish."""
    parts = []
    for row in rows:
        mean, sd = row[f"{METRIC}_mean"], row[f"{METRIC}_std"]
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

    def number(row: str | None, ratio: float | None, backbone: str | None) -> float | None:
        return paper_number(table_no, column, ratio, row, backbone) if table_no and row else None

    rows = []
    for cell in cells:
        results = {}
        for ratio in ratios:
            summary = summarize(records[ratio, cell.label], METRIC, RULE)
            results[ratio_name(ratio)] = {
                "text": _summary_text(summary),
                "runs": [{"status": s["status"], "n": s["n"], "seeds": s["seeds"],
                          "mean": None if s[f"{METRIC}_mean"] is None else 100 * s[f"{METRIC}_mean"],
                          "sd": None if s[f"{METRIC}_mean"] is None or s["n"] < 2 else 100 * s[f"{METRIC}_std"]}
                         for s in summary]}
        rows.append({"cell": cell.label, "paper_row": row_name(cell.paper_row, cell.paper_backbone)
                     if cell.paper_row else study.unnumbered, "paper_only": False, "results": results,
                     "paper": {ratio_name(r): number(cell.paper_row, r, cell.paper_backbone) for r in ratios}})
    for row, backbone in paper_only_rows(table_no, column) if table_no else ():
        rows.append({"cell": None, "paper_row": row_name(row, backbone), "paper_only": True, "results": {},
                     "paper": {ratio_name(r): number(row, r, backbone) for r in ratios}})
    return {**header, "measure": MEASURE, "paper": paper, "ratios": [ratio_name(r) for r in ratios], "rows": rows}


def table_markdown(table: dict) -> str:
    """The table as Markdown: a header naming the study, data, settings (the precision too: part of the
    protocol; tables from before it was recorded say so) and paper column, then the rows."""
    fmt = paper_table(table["paper"]["table"]).format if table["paper"]["table"] else lambda v: "–"
    columns = [c for r in table["ratios"] for c in (f"ratio {r}", "paper")]
    lines = [f"## Study {table['study']}: {table['description']}", "",
             f"- data: {table['dataset']} ({table['classes']} classes, subset seed {table['subset_seed']}); "
             f"backbone {', '.join(table['backbones'])}; preset {table['preset']}, {table['epochs']} epochs; "
             f"precision {table.get('precision', 'not recorded')}; seeds {' '.join(map(str, table['seeds']))}",
             f"- ours: {table['measure']}",
             f"- paper: {table['paper']['text']}", "",
             "| cell | paper row | " + " | ".join(columns) + " |",
             "| --- | --- | " + " | ".join("---:" for _ in columns) + " |"]
    for row in table["rows"]:
        cells = [c for r in table["ratios"] for c in (row["results"][r]["text"] if r in row["results"] else "–",
                                                      fmt(row["paper"][r]))]
        lines.append(f"| {row['cell'] or '–'} | {row['paper_row']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def save_table(table: dict, folder: Path) -> tuple[Path, Path]:
    """Write ``folder/table.md`` and ``folder/table.json`` (strict JSON) atomically; return both paths."""
    paths = folder / "table.md", folder / "table.json"
    for path, text in zip(paths, (table_markdown(table), json.dumps(table, indent=1, allow_nan=False))):
        atomic_write(path, lambda f, text=text: f.write(text.encode()))
    return paths
