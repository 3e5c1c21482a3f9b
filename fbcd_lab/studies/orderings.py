"""Two orderings of the same recipes side by side: which pairs change order between them, and
which orders rise above the run-to-run noise.

Used to ask whether a short protocol ranks the recipes as the paper's schedule does (the 30-epoch
against the 200-epoch CIFAR-10-LT study) and as the paper's own numbers do. A pair *flips* when one
ordering puts it strictly one way and the other strictly the other way; ties flip nothing.

An order is *called* (:func:`pair_gap`) only where the two recipes share at least three seeds, the
paired gaps over them all have one sign and their mean exceeds twice their sample sd; otherwise it
is *within noise*, and fewer seeds are *n = 1, not called* or *n = 2, not called*. With three seeds
the rule asks for a paired t statistic above 2 sqrt(3) = 3.46 (two-sided p < 0.075 at 2 degrees of
freedom) and no seed against: a line for so few runs, not a test corrected for the many pairs of a
table (with no true gap, 7.4 % of pairs are called: about 2.7 of 36 by chance alone). With two it
would ask for t above 2 sqrt(2) = 2.83 at one degree of freedom (p < 0.23), too weak to call.
The noise it guards against is measured by :data:`NOISE_PAIR`, two recipes that minimise the
same objective.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from fbcd_lab.readers import check_table, read_json

CALLED, WITHIN_NOISE = "called", "within noise"
MIN_SEEDS = 3  # the fewest paired seeds on which an order is called
# The LA loss at tau = 1 and Balanced Softmax are one objective (cross-entropy of z + log prior): any
# gap between them is run-to-run noise (floating-point order), the floor under every other gap.
NOISE_PAIR = ("la_loss", "balanced_softmax")


@dataclass(frozen=True)
class PairGap:
    """The paired gap of one recipe over another in points: mean and sample sd over their common
    seeds (None for one seed), the number of seeds, and the verdict (:data:`CALLED`,
    :data:`WITHIN_NOISE` or :func:`not_called`)."""

    mean: float
    sd: float | None
    n: int
    verdict: str

    def text(self) -> str:
        """``+1.25 ± 0.40 (3) called``."""
        spread = "" if self.sd is None else f" ± {self.sd:.2f}"
        return f"{self.mean:+.2f}{spread} ({self.n}) {self.verdict}"


def not_called(n: int) -> str:
    """The verdict of a gap over too few seeds to call: ``n = 2, not called``."""
    return f"n = {n}, not called"


def pair_gap(first: dict[str, float], second: dict[str, float]) -> PairGap:
    """The gap of ``first`` over ``second``, per-seed scores keyed by seed, paired over their common
    seeds, with its verdict (see the module's docstring)."""
    seeds = sorted(first.keys() & second.keys())
    if not seeds:
        raise ValueError("the two recipes share no seed: their gap cannot be paired")
    gaps = [first[s] - second[s] for s in seeds]
    if len(gaps) == 1:
        return PairGap(gaps[0], None, 1, not_called(1))
    mean, sd = statistics.fmean(gaps), statistics.stdev(gaps)
    if len(gaps) < MIN_SEEDS:
        return PairGap(mean, sd, len(gaps), not_called(len(gaps)))
    one_sign = all(g > 0 for g in gaps) or all(g < 0 for g in gaps)
    return PairGap(mean, sd, len(gaps), CALLED if one_sign and abs(mean) > 2 * sd else WITHIN_NOISE)


def table_seed_scores(table: dict, ratio: str) -> dict[str, dict[str, float]]:
    """Each seed's score (%) of every cell :func:`table_means` keeps, keyed by the seed as text; a
    table saved before it held them is refused (make it again with ``--table-only``)."""
    runs = _finished_runs(table, ratio)
    missing = [cell for cell, run in runs.items() if "by_seed" not in run]
    if missing:
        raise ValueError(f"the table holds no per-seed scores (cell {missing[0]}): make it again with "
                         f"`python -m fbcd_lab study ... --table-only`")
    return {cell: run["by_seed"] for cell, run in runs.items()}


def pair_gaps(scores: dict[str, dict[str, float]], order: list[str]) -> dict[tuple[str, str], PairGap]:
    """:func:`pair_gap` of every pair (a, b) of ``order`` with a before b, over ``scores`` by seed."""
    return {(a, b): pair_gap(scores[a], scores[b]) for a, b in combinations(order, 2)}


def noise_floor(scores: dict[str, dict[str, float]]) -> PairGap | None:
    """The gap between the two recipes of :data:`NOISE_PAIR` (None where either is missing)."""
    a, b = NOISE_PAIR
    return pair_gap(scores[a], scores[b]) if a in scores and b in scores else None


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


def table_file(path: Path) -> Path:
    """The ``table.json`` that ``path`` names: itself, or the one in the study folder ``path``."""
    return path / "table.json" if path.is_dir() else path


def read_table(path: Path) -> dict:
    """The table a study saved: ``path`` is its ``table.json`` or the study folder holding it; parsed
    strictly and checked (:func:`~fbcd_lab.readers.check_table`)."""
    file = table_file(path)
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


def crossed_cells(means: dict[str, float], first: str, second: str) -> list[str]:
    """The cells of ``means`` that ``first`` and ``second`` stand on different sides of (strictly, by
    mean): the places a recipe gains or loses when ``first`` (e.g. its own schedule) replaces ``second``."""
    return [cell for cell in sorted(means, key=lambda c: (-means[c], c)) if cell not in (first, second)
            and (means[first] - means[cell]) * (means[second] - means[cell]) < 0]


def side_by_side(first: dict[str, float], second: dict[str, float], names: tuple[str, str]) -> list[dict]:
    """One row per name in both orderings, in ``first``'s order (equal scores by name): each ordering's
    score and rank (1 is the best; equal scores share a rank, one above the number of names scored
    higher, so a tie moves no name), and how many places the name moves from the first to the second
    (+ is up)."""
    common = sorted(first.keys() & second.keys(), key=lambda name: (-first[name], name))
    rank_first, rank_second = ({name: 1 + sum(scores[other] > scores[name] for other in common) for name in common}
                               for scores in (first, second))
    return [{"recipe": name, names[0]: first[name], f"rank ({names[0]})": rank_first[name],
             names[1]: second[name], f"rank ({names[1]})": rank_second[name],
             "moves": rank_first[name] - rank_second[name]} for name in common]
