"""Two orderings of the same recipes side by side: which pairs change order between them.

Used to ask whether a short protocol ranks the recipes as the paper's schedule does (the 30-epoch
against the 200-epoch CIFAR-10-LT study) and as the paper's own numbers do. A pair *flips* when one
ordering puts it strictly one way and the other strictly the other way; ties flip nothing.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

from fbcd_lab.readers import check_table, read_json


def _finished_runs(table: dict, ratio: str) -> dict[str, dict]:
    """The pooled run of every cell of ``table`` at ``ratio`` whose runs pool into one finished group."""
    finished = {}
    for row in table["rows"]:
        runs = row["results"].get(ratio, {}).get("runs", [])
        if not row["paper_only"] and len(runs) == 1 and runs[0]["status"] == "finished" and runs[0]["mean"] is not None:
            finished[row["cell"]] = runs[0]
    return finished


def table_means(table: dict, ratio: str) -> dict[str, float]:
    """The mean score (%) of every cell of a study's ``table`` (see :mod:`fbcd_lab.studies.table`)
    at ``ratio`` whose runs pool into one finished group; cells not finished there are left out."""
    return {cell: run["mean"] for cell, run in _finished_runs(table, ratio).items()}


def read_table(path: Path) -> dict:
    """The table a study saved: ``path`` is its ``table.json`` or the study folder holding it; parsed
    strictly and checked (:func:`~fbcd_lab.readers.check_table`)."""
    file = path / "table.json" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no study table at {file}: make it with `python -m fbcd_lab study ... --table-only`")
    try:
        table = read_json(file)
        check_table(table)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{file} is not a study's table.json ({err})") from None
    return table


def table_spreads(table: dict, ratio: str) -> dict[str, float | None]:
    """The sample sd over seeds of every cell :func:`table_means` keeps (None for a single seed)."""
    return {cell: run["sd"] for cell, run in _finished_runs(table, ratio).items()}


def paper_means(table: dict, ratio: str) -> dict[str, float]:
    """The paper's number of every cell of ``table`` at ``ratio`` that the paper reports."""
    return {row["cell"]: row["paper"][ratio] for row in table["rows"]
            if not row["paper_only"] and row["paper"].get(ratio) is not None}


def flipped_pairs(first: dict[str, float], second: dict[str, float]) -> list[tuple[str, str]]:
    """The pairs (a, b) of names in both orderings that ``first`` puts strictly above (a over b)
    and ``second`` strictly below, in ``first``'s order (names of equal score by name)."""
    common = sorted(first.keys() & second.keys(), key=lambda name: (-first[name], name))
    return [(a, b) for a, b in combinations(common, 2) if first[a] > first[b] and second[a] < second[b]]


def side_by_side(first: dict[str, float], second: dict[str, float], names: tuple[str, str]) -> list[dict]:
    """One row per name in both orderings, in ``first``'s order: each ordering's score and rank (1 is
    the best; equal scores ranked by name), and how many places the name moves from the first to
    the second (+ is up)."""
    common = sorted(first.keys() & second.keys(), key=lambda name: (-first[name], name))
    rank_first = {name: i + 1 for i, name in enumerate(common)}
    rank_second = {name: i + 1 for i, name in enumerate(sorted(common, key=lambda name: (-second[name], name)))}
    return [{"recipe": name, names[0]: first[name], f"rank ({names[0]})": rank_first[name],
             names[1]: second[name], f"rank ({names[1]})": rank_second[name],
             "moves": rank_first[name] - rank_second[name]} for name in common]
