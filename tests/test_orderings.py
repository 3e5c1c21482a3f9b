"""Two orderings side by side: the table's means, the flipped pairs and the ranks, by known answers."""

import json
import math
import statistics
from pathlib import Path

import pytest

from fbcd_lab.cli import main
from fbcd_lab.readers import check_table
from fbcd_lab.studies.orderings import (CALLED, WITHIN_NOISE, PairGap, crossed_cells, flipped_pairs, not_called,
                                        pair_gap, paper_means, read_table, side_by_side, table_means)

COMMITTED = Path(__file__).parents[1] / "results" / "cifar10_lt" / "table1" / "table.json"


def _row(cell, runs, paper=None):
    return {"cell": cell, "paper_only": False, "paper": {"100": paper},
            "results": {"100": {"runs": runs}} if runs is not None else {}}


def _finished(mean, n=3):
    return {"status": "finished", "n": n, "seeds": list(range(n)), "mean": mean, "sd": 1.0}


def test_table_means_keep_only_cells_finished_in_one_group():
    table = {"rows": [_row("ce", [_finished(49.6)], 70.36), _row("ours", [_finished(61.7)], 82.46),
                      _row("drs", [{"status": "running", "n": 1, "seeds": [0], "mean": None, "sd": None}], 75.61),
                      _row("split", [_finished(50.0, 1), _finished(51.0, 2)]), _row("untrained", None),
                      {"cell": None, "paper_only": True, "paper": {"100": 80.0}, "results": {}}]}
    assert table_means(table, "100") == {"ce": 49.6, "ours": 61.7}
    assert paper_means(table, "100") == {"ce": 70.36, "ours": 82.46, "drs": 75.61}


def test_flipped_pairs_are_the_strict_inversions_over_the_common_names():
    first = {"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0, "only_first": 9.0}
    second = {"a": 1.0, "b": 3.0, "c": 2.0, "d": 2.0, "only_second": 0.0}
    # a falls below b, c and d; b over c and b over d keep their order; c and d tie in second: no flip.
    assert flipped_pairs(first, second) == [("a", "b"), ("a", "c"), ("a", "d")]
    assert flipped_pairs(first, first) == []
    assert flipped_pairs(second, first) == [("b", "a"), ("c", "a"), ("d", "a")]  # nor the tie c = d this way


def test_crossed_cells_are_those_the_two_stand_on_either_side_of():
    means = {"own": 64.9, "shared": 65.9, "drs": 64.6, "la_loss": 65.5, "lsb": 65.0, "ce": 49.6, "tie": 64.9}
    assert crossed_cells(means, "own", "shared") == ["la_loss", "lsb"]  # a tie with own is crossed by neither
    assert crossed_cells(means, "shared", "own") == ["la_loss", "lsb"]
    assert crossed_cells(means, "ce", "ce") == []


def test_side_by_side_ranks_and_moves():
    rows = side_by_side({"ce": 49.6, "ours": 61.7, "drs": 64.6}, {"ce": 60.0, "ours": 75.0, "drs": 70.0},
                        ("30 epochs", "200 epochs"))
    assert [r["recipe"] for r in rows] == ["drs", "ours", "ce"]
    assert [(r["rank (30 epochs)"], r["rank (200 epochs)"], r["moves"]) for r in rows] == [(1, 2, -1), (2, 1, 1),
                                                                                            (3, 3, 0)]
    assert rows[1]["200 epochs"] == 75.0
    # a tie shares its rank and moves no one (ranked by name, ldam_drw and its own-schedule cell, both
    # 77.03 in the paper, were 3 and 4, and one of them "moved" where no pair changed order)
    tied = side_by_side({"a": 2.0, "b": 1.0, "c": 0.5}, {"a": 1.0, "b": 1.0, "c": 0.0}, ("x", "y"))
    assert [(r["rank (x)"], r["rank (y)"], r["moves"]) for r in tied] == [(1, 1, 0), (2, 1, 1), (3, 3, 0)]


def test_the_committed_study_against_the_paper_has_the_pairs_recomputed_by_hand():
    table = json.loads(COMMITTED.read_text())
    ours, paper = table_means(table, "100"), paper_means(table, "100")
    assert {"ce", "ours", "ldam_drw", "ce_neck"} <= ours.keys() and "ce_neck" not in paper
    expected = {(a, b) for a in paper for b in paper if a in ours and b in ours
                and paper[a] > paper[b] and ours[a] < ours[b]}
    assert set(flipped_pairs(paper, ours)) == expected and ("ours", "ldam_drw") in expected


def _table(means, epochs, ranked_by="accuracy"):
    """A study table whose cells have ``means`` (one seed each) or per-seed scores (a list, seeds 0, 1, ...)."""
    rows = []
    for cell, scores in means.items():
        scores = scores if isinstance(scores, list) else [scores]
        run = {"status": "finished", "n": len(scores), "seeds": list(range(len(scores))),
               "mean": statistics.fmean(scores), "sd": statistics.stdev(scores) if len(scores) > 1 else None,
               "by_seed": {str(seed): score for seed, score in enumerate(scores)}}
        rows.append(_row(cell, [run]))
    return {"study": "table1", "dataset": "cifar10-jpeg", "backbones": ["resnet8"], "preset": "p", "epochs": epochs,
            "seeds": [0], "ratios": ["100"], "ranked_by": ranked_by, "measure": "top-1 accuracy (%)",
            "paper": {"text": "the paper's column"}, "rows": rows}


SHORT = {"drs": [64.0, 64.6, 65.2], "ours": [61.0, 61.7, 62.4], "ce": [49.0, 49.6, 50.2],
         "cb": [63.0, 65.6, 63.5], "la_loss": [64.0, 65.0, 64.5], "balanced_softmax": [64.5, 64.3, 65.1]}
LONG = {"ce": 60.0, "ours": 75.0, "drs": 70.0, "cb": 69.0, "new": 1.0}


def test_pair_gap_calls_an_order_only_above_the_noise():
    """Called: every seed's gap has one sign and the mean exceeds twice the sd."""
    assert pair_gap({"0": 3.0, "1": 2.0, "2": 2.5}, {"0": 0.0, "1": 0.0, "2": 0.0}) == PairGap(2.5, 0.5, 3, CALLED)
    wide = pair_gap({"0": 3.0, "1": 0.5, "2": 2.5}, {"0": 0.0, "1": 0.0, "2": 0.0})  # one sign, mean 2.0 < 2 x 1.32
    assert (wide.n, wide.verdict) == (3, WITHIN_NOISE) and wide.mean == pytest.approx(2.0)
    against = pair_gap({"0": 9.0, "1": 9.0, "2": 9.0, "3": -0.1}, {s: 0.0 for s in "0123"})  # a seed against
    assert against.verdict == WITHIN_NOISE
    assert pair_gap({"0": 70.0, "1": 1.0}, {"0": 60.0}) == PairGap(10.0, None, 1, not_called(1))  # on seed 0
    two = pair_gap({"0": 3.0, "1": 2.0}, {"0": 0.0, "1": 0.0})  # one sign, mean 2.5 > 2 x 0.71: yet two seeds
    assert (two.n, two.verdict) == (2, "n = 2, not called") and two.text() == "+2.50 ± 0.71 (2) n = 2, not called"
    assert pair_gap({s: 1.0 for s in "012"}, {s: 0.5 for s in "012"}).verdict == CALLED  # identical gaps: sd 0
    with pytest.raises(ValueError, match="share no seed"):
        pair_gap({"0": 1.0}, {"1": 1.0})


def test_the_orderings_command_prints_ranks_flips_verdicts_and_the_noise_floor(tmp_path, capsys):
    (tmp_path / "short").mkdir()
    (tmp_path / "short" / "table.json").write_text(json.dumps(_table(SHORT, 30)))
    (tmp_path / "long.json").write_text(json.dumps(_table(LONG, 200)))
    assert main(["orderings", str(tmp_path / "short"), str(tmp_path / "long.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3].split() == ["recipe", "30", "epochs", "rank", "200", "epochs", "rank", "moves"]
    assert [line.split() for line in lines[4:8]] == [
        ["drs", "64.60", "±", "0.60", "(3)", "1", "70.00", "(1)", "2", "-1"],
        ["cb", "64.03", "±", "1.38", "(3)", "2", "69.00", "(1)", "3", "-1"],
        ["ours", "61.70", "±", "0.70", "(3)", "3", "75.00", "(1)", "1", "+2"],
        ["ce", "49.60", "±", "0.60", "(3)", "4", "60.00", "(1)", "4", "+0"]]
    assert lines[8:13] == ["2 of the 6 pairs change order:",
                           "  drs over ours in 30 epochs, under it in 200 epochs (by mean); paired gap drs - ours: "
                           "+2.90 ± 0.10 (3) called in 30 epochs; -5.00 (1) n = 1, not called in 200 epochs",
                           "  cb over ours in 30 epochs, under it in 200 epochs (by mean); paired gap cb - ours: "
                           "+2.33 ± 1.43 (3) within noise in 30 epochs; -6.00 (1) n = 1, not called in 200 epochs",
                           "0 of the 2 changes are called in both orderings.",
                           lines[12]]
    assert lines[12].startswith("Every pair, the first over the second in the order of 30 epochs")
    assert [line.split() for line in lines[13:20]] == [
        ["pair", "30", "epochs", "200", "epochs"],
        ["drs", "-", "cb", "+0.57", "±", "1.40", "(3)", "within", "noise", "+1.00", "(1)", "n", "=", "1,", "not", "called"],
        ["drs", "-", "ours", "+2.90", "±", "0.10", "(3)", "called", "-5.00", "(1)", "n", "=", "1,", "not", "called"],
        ["drs", "-", "ce", "+15.00", "±", "0.00", "(3)", "called", "+10.00", "(1)", "n", "=", "1,", "not", "called"],
        ["cb", "-", "ours", "+2.33", "±", "1.43", "(3)", "within", "noise", "-6.00", "(1)", "n", "=", "1,", "not", "called"],
        ["cb", "-", "ce", "+14.43", "±", "1.40", "(3)", "called", "+9.00", "(1)", "n", "=", "1,", "not", "called"],
        ["ours", "-", "ce", "+12.10", "±", "0.10", "(3)", "called", "+15.00", "(1)", "n", "=", "1,", "not", "called"]]
    assert lines[20:] == ["noise floor, la_loss - balanced_softmax (one objective, so their gap is run-to-run noise): "
                          "30 epochs -0.13 ± 0.72 (3) within noise; 200 epochs not measured (not both trained)"]


def test_every_cell_ranks_one_table_and_calls_the_pairs_the_paper_does_not_report(tmp_path, capsys):
    """The guide's verdicts for cells without a paper number (la_loss, balanced_softmax, ...) come
    from the command: --every-cell ranks every finished cell of one table and gives each pair's verdict."""
    table = _table(SHORT, 30)
    table["rows"][0]["paper"] = {"100": 75.61}  # drs
    path = tmp_path / "short.json"
    path.write_text(json.dumps(table))
    assert main(["orderings", str(path), "--every-cell"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"ratio 100; top-1 accuracy (%); every cell of {path} (table1 on cifar10-jpeg")
    assert [line.split() for line in lines[2:8]] == [
        ["balanced_softmax", "64.63", "±", "0.42", "(3)", "1", "–"],
        ["drs", "64.60", "±", "0.60", "(3)", "2", "75.61"],
        ["la_loss", "64.50", "±", "0.50", "(3)", "3", "–"],
        ["cb", "64.03", "±", "1.38", "(3)", "4", "–"],
        ["ours", "61.70", "±", "0.70", "(3)", "5", "–"],
        ["ce", "49.60", "±", "0.60", "(3)", "6", "–"]]
    pairs = lines[10:25]
    assert len(pairs) == 15 and pairs[0].split()[:3] == ["balanced_softmax", "-", "drs"]
    assert pairs[-1].split() == ["ours", "-", "ce", "+12.10", "±", "0.10", "(3)", "called"]
    assert lines[25:] == ["noise floor, la_loss - balanced_softmax (one objective, so their gap is run-to-run noise): "
                          "30 epochs -0.13 ± 0.72 (3) within noise"]
    assert main(["orderings", str(path), str(path), "--every-cell"]) == 2
    assert "--every-cell ranks the cells of one table;" in capsys.readouterr().err


def test_a_table_without_per_seed_scores_is_refused_naming_the_remedy(tmp_path, capsys):
    table = _table({"ce": [1.0, 2.0]}, 30)
    del table["rows"][0]["results"]["100"]["runs"][0]["by_seed"]
    (tmp_path / "old.json").write_text(json.dumps(table))
    assert main(["orderings", str(tmp_path / "old.json")]) == 2
    assert "holds no per-seed scores (cell ce): make it again with" in capsys.readouterr().err


def test_the_orderings_command_refuses_tables_it_cannot_compare(tmp_path, capsys):
    (tmp_path / "a.json").write_text(json.dumps(_table({"ce": 1.0}, 30)))
    (tmp_path / "b.json").write_text(json.dumps(_table({"ce": 1.0}, 200, ranked_by="mean_recall")))
    (tmp_path / "broken.json").write_text("{")
    assert main(["orderings", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 2
    assert "rank by different measures" in capsys.readouterr().err
    assert main(["orderings", str(tmp_path / "a.json"), "--ratio", "50"]) == 2
    assert "ratio (--ratio) 50 is not in the table of" in capsys.readouterr().err
    assert main(["orderings", str(tmp_path / "broken.json")]) == 2
    assert "broken.json is not a study's table.json" in capsys.readouterr().err
    assert main(["orderings", str(tmp_path / "missing")]) == 2
    assert "no study table at" in capsys.readouterr().err
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "table.json").write_text(json.dumps(_table(SHORT, 30)))
    (tmp_path / "long.json").write_text(json.dumps(_table({"ce": 60.0, "new": 1.0}, 200)))
    # the stranger pass: a self-comparison printed, one recipe in common ended in "max() arg is an empty
    # sequence", and a table the paper has no numbers for was "no recipe finished in both orderings", exit 1
    assert main(["orderings", str(tmp_path / "study"), str(tmp_path / "study" / "table.json")]) == 2
    assert "are the same table: give two studies' tables, or one alone" in capsys.readouterr().err
    assert main(["orderings", str(tmp_path / "study"), str(tmp_path / "long.json")]) == 2
    assert capsys.readouterr().err.endswith("1 recipe finished in both orderings at ratio 100 (ce): an order "
                                            "needs two\n")
    assert main(["orderings", str(tmp_path / "study")]) == 2
    assert "the paper reports no number for any recipe of " in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["orderings", str(tmp_path / "a.json"), str(tmp_path / "a.json"), str(tmp_path / "a.json")])
    assert refused.value.code == 2
    assert capsys.readouterr().err.startswith("python -m fbcd_lab orderings: error: unrecognized arguments: ")


@pytest.mark.parametrize("spoil, why", [
    (lambda run: run["by_seed"].update({"1": "abc"}), "rows[0].results.100.runs[0].by_seed.1 must be a finite number"),
    (lambda run: run.update(by_seed=[1.0, 2.0]), "rows[0].results.100.runs[0].by_seed must be a JSON object"),
    (lambda run: run["by_seed"].update({"1": 750.0}), "rows[0].results.100.runs[0].by_seed.1 must be a finite number in"),
    (lambda run: run["by_seed"].update({"x": 50.0}), "rows[0].results.100.runs[0].by_seed holds the seeds"),
    (lambda run: run.update(n=0), "rows[0].results.100.runs[0].n"),
    (lambda run: run.update(seeds=[0, 1, 2, 3, 4, 5]), "rows[0].results.100.runs[0].n is 3 but it lists 6 seeds"),
], ids=["text", "list", "750", "unknown seed", "n 0", "n against seeds"])
def test_a_table_whose_per_seed_scores_no_run_could_produce_is_refused(spoil, why, tmp_path, capsys):
    """The stranger pass found tracebacks and gaps of -231.97 points from spoilt per-seed scores."""
    table = _table(SHORT, 30)
    spoil(table["rows"][0]["results"]["100"]["runs"][0])
    (tmp_path / "t.json").write_text(json.dumps(table))
    assert main(["orderings", str(tmp_path / "t.json")]) == 2
    err = capsys.readouterr().err
    assert why in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("spoil, why", [
    (lambda t: t["rows"][0]["results"]["100"]["runs"][0]["by_seed"].update({"0": 10.0}),
     "rows[0].results.100.runs[0].mean is 64.6"),
    (lambda t: t["rows"][0]["results"]["100"]["runs"][0].update(mean=64.601),
     "rows[0].results.100.runs[0].mean is 64.601 but the by_seed scores give 64.6"),
    (lambda t: t["rows"][0]["results"]["100"]["runs"][0].update(sd=0.5),
     "rows[0].results.100.runs[0].sd is 0.5 but the by_seed scores give 0.6"),
    (lambda t: t["rows"][0]["results"]["100"]["runs"][0].update(sd=None),
     "rows[0].results.100.runs[0].sd is None but the by_seed scores give 0.6"),
    (lambda t: t["rows"][0]["results"]["100"]["runs"][0].update(status="stopped", n=2),
     "rows[0].results.100.runs[0].n is 2 but by_seed holds 3 scores"),
    (lambda t: t["rows"][0]["results"]["100"]["runs"][0].update(top1_by_seed={"0": 1.0, "1": 2.0, "2": 3.0},
                                                                 top1_mean=2.0, top1_sd=None),
     "rows[0].results.100.runs[0].top1_sd is None but the top1_by_seed scores give 1.0"),
    (lambda t: t.update(ratios=["100", "100"]), "ratios names '100' twice"),
    (lambda t: t.update(ratios=["100", "100.0"]), "ratios names one ratio twice: '100' and '100.0'"),
    (lambda t: t["rows"][1].update(cell=""), "rows[1].cell is empty: a row of ours names its cell"),
    (lambda t: t["rows"][1].update(cell=" \t"),
     "rows[1].cell is empty (' \\t': only whitespace): a row of ours names its cell"),
    (lambda t: t["rows"][1].update(cell=None), "rows[1].cell must be text, got None"),
    (lambda t: t["rows"][1].update(cell=" " + t["rows"][0]["cell"]),
     "rows[1].cell ' drs' has white space around it: a cell is named by its run folder, 'drs'"),
    (lambda t: t.update(study="nonsense"), "study must be one of ('table1', "),
], ids=["by_seed", "mean", "sd", "sd none", "n", "top1", "ratio twice", "ratio twice by value", "empty cell",
        "blank cell", "no cell", "spaced cell", "study"])
def test_a_table_whose_parts_disagree_is_refused_naming_the_field(spoil, why, tmp_path, capsys):
    """The stranger pass: a seed's score edited to 10 beside the mean 49.6 was shown as the mean and
    paired as the score (`ce - mixup -6.47 ... within noise` for `+6.73 called`); two equal ratios, an
    empty cell name and an unknown study were read, and then '100' beside '100.0' and a cell named
    ' '. Each is refused in one line naming the file."""
    table = _table(SHORT, 30)
    spoil(table)
    path = tmp_path / "t.json"
    path.write_text(json.dumps(table))
    assert main(["orderings", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path} is not a study's table.json ({why}" in err and err.count("\n") == 1


def test_a_table_agrees_with_its_per_seed_scores_to_the_rounding_it_stores(tmp_path, capsys):
    """The mean and sd the study computes from fractions and the ones of the scores in % differ in the
    last digits of a double: such a table is read; every committed table is."""
    table = _table(SHORT, 30)
    run = table["rows"][0]["results"]["100"]["runs"][0]
    run.update(mean=run["mean"] + 2 * math.ulp(100.0), sd=run["sd"] - 2 * math.ulp(100.0))
    (tmp_path / "t.json").write_text(json.dumps(table))
    assert main(["orderings", str(tmp_path / "t.json"), str(tmp_path / "t.json"), "--ratio", "100"]) == 2
    assert "are the same table" in capsys.readouterr().err  # read without complaint up to that check
    check_table(table)
    for path in sorted(COMMITTED.parents[2].glob("*/*/table.json")):
        check_table(read_table(path))


def test_a_table_with_two_rows_of_one_cell_is_refused(tmp_path, capsys):
    table = _table(SHORT, 30)
    table["rows"].append(table["rows"][0])
    (tmp_path / "t.json").write_text(json.dumps(table))
    assert main(["orderings", str(tmp_path / "t.json")]) == 2
    assert "rows[6].cell 'drs' is a second row of the same cell" in capsys.readouterr().err


def test_tables_of_other_datasets_or_backbones_are_compared_with_a_note(tmp_path, capsys):
    (tmp_path / "a.json").write_text(json.dumps(_table(SHORT, 30)))
    (tmp_path / "b.json").write_text(json.dumps({**_table(LONG, 200), "dataset": "digits"}))
    assert main(["orderings", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    assert ("note: the two tables differ in dataset (cifar10-jpeg and digits), not only in epochs: the two orders "
            "are of different experiments") in out and "differ in backbones" not in out
