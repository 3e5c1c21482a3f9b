"""``python -m fbcd_lab orderings``: two study tables (or one and the paper's numbers) side by side,
and the pairs of recipes whose order changes."""

from __future__ import annotations

import argparse

from fbcd_lab.cli.options import path_arg, ratio_or_natural
from fbcd_lab.studies.table import ratio_name


def run_orderings(args: argparse.Namespace) -> int:
    from fbcd_lab.studies import orderings as od

    if args.every_cell and args.second is not None:
        raise ValueError(f"--every-cell ranks the cells of one table; {args.second} is a second: leave it out, "
                         f"or compare the two tables without --every-cell")
    if args.second is not None and od.table_file(args.first).resolve() == od.table_file(args.second).resolve():
        raise ValueError(f"{args.first} and {args.second} are the same table: give two studies' tables, or one "
                         f"alone to compare it with the paper's numbers")
    first = od.read_table(args.first)
    second = od.read_table(args.second) if args.second else None
    ratio = first["ratios"][0] if args.ratio is None else args.ratio
    for table, path in ((first, args.first), (second, args.second)):
        if table is not None and ratio not in table["ratios"]:
            raise ValueError(f"ratio (--ratio) {ratio} is not in the table of {path} (its ratios: "
                             f"{' '.join(table['ratios'])})")
    if second is not None and first.get("ranked_by") != second.get("ranked_by"):
        raise ValueError(f"the tables rank by different measures ({args.first}: {first.get('ranked_by')}, "
                         f"{args.second}: {second.get('ranked_by')}): their orderings do not compare")
    if args.every_cell:
        return _print_every_cell(first, args.first, ratio)
    names = (_table_label(first), _table_label(second) if second else "paper")
    if names[0] == names[1]:
        names = ("first", "second")
    scores = (od.table_means(first, ratio),
              od.paper_means(first, ratio) if second is None else od.table_means(second, ratio))
    spreads = (od.table_spreads(first, ratio), {} if second is None else od.table_spreads(second, ratio))
    by_seed = [od.table_seed_scores(t, ratio) for t in (first, second) if t is not None]
    if second is None and not scores[1]:
        raise ValueError(f"the paper reports no number for any recipe of {args.first} at ratio {ratio} (its "
                         f"dataset {first.get('dataset')}): give a second study's table to compare it with")
    rows = od.side_by_side(*scores, names)
    if len(rows) < 2:
        raise ValueError(f"{len(rows)} recipe{'' if len(rows) == 1 else 's'} finished in both orderings at ratio "
                         f"{ratio} ({', '.join(row['recipe'] for row in rows) or 'none'}): an order needs two")
    print(f"ratio {ratio}; {first.get('measure', 'score')}")
    print(f"  {names[0]}: {args.first} ({_table_description(first)})")
    paper = (first.get("paper") or {}).get("text", "the paper")
    print(f"  {names[1]}: " + (f"{args.second} ({_table_description(second)})" if second else paper))
    if second is not None:
        for field in ("dataset", "backbones"):
            if first.get(field) != second.get(field):
                values = [" ".join(v) if isinstance(v, list) else v for v in (first.get(field), second.get(field))]
                print(f"  note: the two tables differ in {field} ({values[0]} and {values[1]}), "
                      f"not only in epochs: the two orders are of different experiments")
    width = max(len("recipe"), *(len(row["recipe"]) for row in rows))
    print(f"{'recipe':<{width}}", *(f"{name:>{max(len(name), 19)}} rank" for name in names), "moves")
    counts = [{cell: len(seeds) for cell, seeds in scores.items()} for scores in by_seed] + [{}]
    for row in rows:
        cells = []
        for name, spread, n in zip(names, spreads, counts):
            sd, seeds = spread.get(row["recipe"]), n.get(row["recipe"])
            text = _score_text(row[name], sd, seeds)
            cells.append(f"{text:>{max(len(name), 19)}} {row[f'rank ({name})']:>4}")
        print(f"{row['recipe']:<{width}}", *cells, f"{row['moves']:+5d}")
    order = [row["recipe"] for row in rows]
    gaps = [od.pair_gaps(scores, order) for scores in by_seed]
    flips = od.flipped_pairs(*scores)
    print(f"{len(flips)} of the {len(rows) * (len(rows) - 1) // 2} pairs change order" + (":" if flips else "."))
    for a, b in flips:  # ordered by means; the paired gaps (over the seeds both trained) are what is called
        paired = "; ".join(f"{g[a, b].text()} in {name}" for g, name in zip(gaps, names))
        print(f"  {a} over {b} in {names[0]}, under it in {names[1]} (by mean); paired gap {a} - {b}: {paired}")
    if len(gaps) == 2:
        both = sum(all(g[pair].verdict == od.CALLED for g in gaps) for pair in flips)
        print(f"{both} of the {len(flips)} changes {'is' if both == 1 else 'are'} called in both orderings.")
    _print_pair_verdicts(gaps, names, by_seed)
    return 0


def _print_every_cell(table: dict, path, ratio: str) -> int:
    """Every finished cell of one table ranked by mean, with the paper's number where it has one, and
    the verdict of every pair: the orders of cells the paper does not report are called here too."""
    from fbcd_lab.studies import orderings as od

    means, spreads = od.table_means(table, ratio), od.table_spreads(table, ratio)
    by_seed, paper = od.table_seed_scores(table, ratio), od.paper_means(table, ratio)
    if len(means) < 2:
        raise ValueError(f"{len(means)} recipe{'' if len(means) == 1 else 's'} finished in {path} at ratio {ratio}: "
                         f"an order needs two")
    order = sorted(means, key=lambda cell: (-means[cell], cell))
    name = _table_label(table)
    print(f"ratio {ratio}; {table.get('measure', 'score')}; every cell of {path} ({_table_description(table)})")
    width = max(len("recipe"), *map(len, order))
    print(f"{'recipe':<{width}} {name:>19} rank {'paper':>7}")
    for rank, cell in enumerate(order, 1):
        text = _score_text(means[cell], spreads.get(cell), len(by_seed[cell]))
        reported = f"{paper[cell]:.2f}" if cell in paper else "–"
        print(f"{cell:<{width}} {text:>19} {rank:>4} {reported:>7}")
    _print_pair_verdicts([od.pair_gaps(by_seed, order)], (name,), [by_seed])
    return 0


def _score_text(mean: float, sd: float | None, seeds: int | None) -> str:
    """A cell's score as the tables print it: ``64.52 ± 0.52 (3)``, without the parts not known."""
    return f"{mean:.2f}" + (f" ± {sd:.2f}" if sd is not None else "") + (f" ({seeds})" if seeds is not None else "")


def _print_pair_verdicts(gaps: list[dict], names: tuple[str, str], by_seed: list[dict]) -> None:
    """Every pair's paired gap and verdict in each study table, and the noise floor beside them."""
    from fbcd_lab.studies.orderings import CALLED, MIN_SEEDS, NOISE_PAIR, noise_floor

    print(f"Every pair, the first over the second in the order of {names[0]}: the paired gap (points) ± its sd over "
          f"the seeds both trained (n), {CALLED} where there are {MIN_SEEDS} seeds or more, every seed's gap has one "
          f"sign and the mean exceeds twice the sd:")
    width = max(len(f"{a} - {b}") for a, b in gaps[0])
    columns = [max(len(f"{names[i]}"), *(len(g[p].text()) for p in g)) for i, g in enumerate(gaps)]
    print(" ".join([f"{'pair':<{width}}", *(f"{names[i]:<{w}}" for i, w in enumerate(columns))]).rstrip())
    for a, b in gaps[0]:
        cells = (f"{g[a, b].text():<{w}}" for g, w in zip(gaps, columns))
        print(" ".join([f"{a + ' - ' + b:<{width}}", *cells]).rstrip())
    floors = []
    for name, scores in zip(names, by_seed):
        floor = noise_floor(scores)
        floors.append(f"{name} {floor.text()}" if floor else f"{name} not measured (not both trained)")
    print(f"noise floor, {NOISE_PAIR[0]} - {NOISE_PAIR[1]} (one objective, so their gap is run-to-run noise): "
          + "; ".join(floors))


def _table_label(table: dict) -> str:
    """A study table's column name: its epochs."""
    return f"{table.get('epochs')} epochs"


def _table_description(table: dict) -> str:
    """A study table in a few words: study, dataset, backbones, preset and the seeds asked for."""
    seeds = " ".join(str(s) for s in table.get("seeds", []))
    return (f"{table.get('study')} on {table.get('dataset')}, {' '.join(table.get('backbones', []))}, "
            f"{table.get('preset')}, seeds asked {seeds}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``orderings`` to the subcommands ``sub``."""
    od = sub.add_parser("orderings", help="two study tables (or one and the paper) side by side: ranks, and the "
                                         "pairs of recipes whose order changes")
    od.add_argument("first", type=path_arg, help="a study's table.json, or the study folder holding it")
    od.add_argument("second", type=path_arg, nargs="?",
                    help="another study's table.json or folder (default: the paper's numbers for the first)")
    od.add_argument("--ratio", type=lambda text: ratio_name(ratio_or_natural(text)),
                    help="imbalance ratio to compare, a number or natural (default: the first table's first)")
    od.add_argument("--every-cell", action="store_true",
                    help="one table: rank every finished cell (the paper's number beside those it reports) and give "
                         "every pair's verdict, those the paper does not report included")
    od.set_defaults(run=run_orderings)
