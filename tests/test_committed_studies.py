"""The committed CIFAR-10-LT studies agree with their records, and the README and the book's results
guide (docs/pages/guides/results.md) quote their tables.

A record landed without rebuilding the table, or a table rebuilt without updating the README or the
guide, fails here; no data is needed (the records hold every number).
"""

import json
import re
from pathlib import Path

import pytest

from fbcd_lab.cli import main
from fbcd_lab.records import load_records, summarize
from fbcd_lab.studies.orderings import flipped_pairs, paper_means, table_means

ROOT = Path(__file__).resolve().parents[1]
STUDIES = [ROOT / "results" / "cifar10_lt" / "table1", ROOT / "results" / "cifar10_lt_200" / "table1",
           ROOT / "results" / "cifar10_lt_matched" / "table1", ROOT / "results" / "cifar10_lt" / "table4"]
RESULTS_GUIDE = ROOT / "docs" / "pages" / "guides" / "results.md"


def _cells(table: dict) -> dict[str, dict]:
    return {row["cell"]: row["results"]["100"]["runs"][0] for row in table["rows"]
            if not row["paper_only"] and row["results"]["100"]["runs"]}


@pytest.mark.parametrize("folder", STUDIES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_committed_table_is_the_mean_and_sd_of_its_finished_records(folder):
    if not (folder / "table.json").is_file():
        pytest.skip(f"no table at {folder / 'table.json'} yet: the study's runs have not landed")
    cells = _cells(json.loads((folder / "table.json").read_text()))
    trained = {path.parent.parent.name for path in (folder / "r100").glob("*/seed*/results.json")}
    assert trained == set(cells), "every cell with records is in the table, and no other"
    for cell, run in cells.items():
        (row,) = summarize(load_records(folder / "r100" / cell), metric="accuracy")
        assert (row["status"], row["n"], row["seeds"]) == (run["status"], run["n"], run["seeds"]), cell
        assert 100 * row["accuracy_mean"] == pytest.approx(run["mean"], abs=1e-9), cell
        assert 100 * (row["accuracy_std"] or 0) == pytest.approx(run["sd"] or 0, abs=1e-9), cell
        assert {seed: 100 * v for seed, v in row["accuracy_by_seed"].items()} == \
            {int(seed): pytest.approx(v, abs=1e-9) for seed, v in run["by_seed"].items()}, cell


@pytest.mark.parametrize("folder", STUDIES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_committed_record_names_its_recipe_switch_precision_and_code(folder):
    records = sorted(folder.rglob("results.json"))
    if not records:
        pytest.skip(f"no records under {folder} yet")
    for path in records:
        record = json.loads(path.read_text())
        missing = [key for key in ("recipe", "balancing_switch_epoch", "precision", "code") if key not in record]
        assert not missing, f"{path.relative_to(ROOT)} lacks {missing}"
        assert record["code"]["commit"] and record["code"]["modified"] is False, path.relative_to(ROOT)


def test_the_readme_row_quotes_the_committed_30_epoch_table():
    table = json.loads((STUDIES[0] / "table.json").read_text())
    readme = (ROOT / "README.md").read_text()
    header = re.search(r"^\| recipe \| (.+) \|$", readme, re.M).group(1).split(" | ")
    quoted = re.search(r"^\| this kit \| (.+) \|$", readme, re.M).group(1).split(" | ")
    cells = _cells(table)
    assert set(header) == set(cells)
    for recipe, text in zip(header, quoted):
        run = cells[recipe]
        spread = "" if run["sd"] is None else f" ± {run['sd']:.1f}"
        assert text == f"{run['mean']:.1f}{spread} ({run['n']})", recipe


def test_the_results_guide_quotes_the_orderings_command_on_the_two_studies(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    if not (STUDIES[1] / "table.json").is_file():
        pytest.skip(f"no table at {STUDIES[1] / 'table.json'} yet: the 200-epoch runs have not landed")
    assert main(["orderings", "results/cifar10_lt/table1", "results/cifar10_lt_200/table1"]) == 0
    printed = capsys.readouterr().out
    assert f"```\n{printed}```" in RESULTS_GUIDE.read_text(), \
        "the results guide's 30- against 200-epoch block is not what the orderings command prints: paste it again"


def test_the_results_guide_counts_the_pairs_that_differ_from_the_paper_over_the_cells_it_reports():
    tables = [json.loads((folder / "table.json").read_text()) for folder in STUDIES[:2]]
    paper = paper_means(tables[1], "100")
    short, long = (table_means(table, "100") for table in tables)
    reported = {cell: paper[cell] for cell in long if cell in paper}
    differ = [len(flipped_pairs(means, reported)) for means in (long, short)]  # over the names both have
    pairs = len(reported) * (len(reported) - 1) // 2
    words = {7: "seven", 8: "eight", 9: "nine", 10: "ten"}  # the guide counts the cells in words
    assert f"Over the {words[len(reported)]} cells of recipes the paper also reports" in " ".join(
        RESULTS_GUIDE.read_text().split())
    assert (f"the 200-epoch ordering differs from the paper's in {differ[0]} of the {pairs} pairs, the 30-epoch "
            f"ordering in {differ[1]}") in " ".join(RESULTS_GUIDE.read_text().split())
