"""A page per committed study under ``results/``: its saved table (``table.md``) and a figure of every
cell's mean ± sd over the training seeds, each seed's score and the paper's number, made from
``table.json`` when the book is built; and a page per results folder from its ``README.md``."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

from fbcd_lab.plots.layout import HEIGHT, TEMPLATE, series_colors
from fbcd_lab.studies.orderings import paper_means, read_table, table_means, table_seed_scores, table_spreads


def committed_studies(results: Path) -> dict[str, list[Path]]:
    """The study folders (holding ``table.json``) under ``results/``, by results folder, in name order."""
    studies: dict[str, list[Path]] = {}
    for table in sorted(results.glob("*/*/table.json")):
        studies.setdefault(table.parent.parent.name, []).append(table.parent)
    return studies


def _seed_scores(table: dict, ratio: str) -> dict[str, dict[str, float]]:
    """Each seed's score of every finished cell; none from a table saved before it held them."""
    try:
        return table_seed_scores(table, ratio)
    except ValueError:
        return {}


def study_figure(table: dict) -> go.Figure:
    """Every finished cell's mean ± sample sd over seeds (points: each seed, where the table holds
    them), beside the paper's number."""
    fig = go.Figure()
    colors = series_colors(f"ratio {r}" for r in table["ratios"])
    for ratio in table["ratios"]:
        means, spreads = table_means(table, ratio), table_spreads(table, ratio)
        cells, color = list(means), colors[f"ratio {ratio}"]
        fig.add_scatter(x=[means[c] for c in cells], y=cells, mode="markers", name=f"this kit, ratio {ratio}",
                        marker={"color": color, "size": 10},
                        error_x={"type": "data", "array": [spreads[c] or 0 for c in cells], "visible": True})
        seeds = _seed_scores(table, ratio)
        points = [(score, cell) for cell in cells for score in seeds.get(cell, {}).values()]
        fig.add_scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="markers",
                        name=f"each seed, ratio {ratio}", marker={"color": color, "size": 5, "opacity": 0.45})
        paper = paper_means(table, ratio)
        fig.add_scatter(x=list(paper.values()), y=list(paper), mode="markers", name=f"paper, ratio {ratio}",
                        marker={"color": color, "symbol": "diamond-open", "size": 10})
    fig.update_layout(template=TEMPLATE, height=max(HEIGHT, 60 + 28 * len(table["rows"])),
                      title={"text": f"{table['study']}: {table.get('measure', 'score')}", "x": 0.01},
                      xaxis_title="score (%)", yaxis={"autorange": "reversed"},
                      margin={"l": 150, "r": 30, "t": 60, "b": 50})
    return fig


def study_page(folder: Path, root: Path) -> str:
    """The markdown of one study's page: where it lies, its figure and its saved table."""
    table = read_table(folder)
    figure = pio.to_html(study_figure(table), include_plotlyjs=False, full_html=False, validate=False,
                         div_id=f"study-{folder.parent.name}-{folder.name}")
    saved = (folder / "table.md").read_text(encoding="utf-8")
    return "\n".join([f"# {folder.parent.name} / {folder.name}", "",
                      f"The committed study `{folder.relative_to(root)}/`: {table.get('description', '')}. "
                      "The figure is drawn from its `table.json` when the book is built; the table below is its "
                      "`table.md` as the study saved it.", "", figure, "",
                      saved.replace("\n## ", "\n### ").removeprefix("## "), ""])


def write_study_pages(root: Path, docs: Path) -> list[dict]:
    """Write a page per committed study (and per results folder, from its README) under
    ``docs/studies/``; return their navigation entries."""
    nav = []
    for group, folders in committed_studies(root / "results").items():
        target = docs / "studies" / group
        target.mkdir(parents=True, exist_ok=True)
        entries = []
        readme = root / "results" / group / "README.md"
        if readme.is_file():
            (target / "index.md").write_text(readme.read_text(encoding="utf-8"), encoding="utf-8")
            entries.append(f"studies/{group}/index.md")
        for folder in folders:
            (target / f"{folder.name}.md").write_text(study_page(folder, root), encoding="utf-8")
            entries.append({folder.name: f"studies/{group}/{folder.name}.md"})
        nav.append({group: entries})
    return nav
