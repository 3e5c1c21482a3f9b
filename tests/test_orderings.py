"""Two orderings side by side: the table's means, the flipped pairs and the ranks, by known answers."""

import json
from pathlib import Path

import pytest

from fbcd_lab.cli import main
from fbcd_lab.studies.orderings import flipped_pairs, paper_means, side_by_side, table_means

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


def test_side_by_side_ranks_and_moves():
    rows = side_by_side({"ce": 49.6, "ours": 61.7, "drs": 64.6}, {"ce": 60.0, "ours": 75.0, "drs": 70.0},
                        ("30 epochs", "200 epochs"))
    assert [r["recipe"] for r in rows] == ["drs", "ours", "ce"]
    assert [(r["rank (30 epochs)"], r["rank (200 epochs)"], r["moves"]) for r in rows] == [(1, 2, -1), (2, 1, 1),
                                                                                            (3, 3, 0)]
    assert rows[1]["200 epochs"] == 75.0


def test_the_committed_study_against_the_paper_has_the_pairs_recomputed_by_hand():
    table = json.loads(COMMITTED.read_text())
    ours, paper = table_means(table, "100"), paper_means(table, "100")
    assert {"ce", "ours", "ldam_drw", "ce_neck"} <= ours.keys() and "ce_neck" not in paper
    expected = {(a, b) for a in paper for b in paper if a in ours and b in ours
                and paper[a] > paper[b] and ours[a] < ours[b]}
    assert set(flipped_pairs(paper, ours)) == expected and ("ours", "ldam_drw") in expected


def _table(means, epochs, ranked_by="accuracy"):
    return {"study": "table1", "dataset": "cifar10-jpeg", "backbones": ["resnet8"], "preset": "p", "epochs": epochs,
            "seeds": [0], "ratios": ["100"], "ranked_by": ranked_by, "measure": "top-1 accuracy (%)",
            "paper": {"text": "the paper's column"}, "rows": [_row(cell, [_finished(m)]) for cell, m in means.items()]}


def test_the_orderings_command_prints_both_ranks_and_the_flipped_pairs_with_their_gaps(tmp_path, capsys):
    (tmp_path / "short").mkdir()
    (tmp_path / "short" / "table.json").write_text(json.dumps(_table({"ce": 49.6, "ours": 61.7, "drs": 64.6}, 30)))
    (tmp_path / "long.json").write_text(json.dumps(_table({"ce": 60.0, "ours": 75.0, "drs": 70.0, "new": 1.0}, 200)))
    assert main(["orderings", str(tmp_path / "short"), str(tmp_path / "long.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3].split() == ["recipe", "30", "epochs", "rank", "200", "epochs", "rank", "moves"]
    assert [line.split() for line in lines[4:7]] == [["drs", "64.60", "±", "1.00", "1", "70.00", "±", "1.00", "2", "-1"],
                                                     ["ours", "61.70", "±", "1.00", "2", "75.00", "±", "1.00", "1", "+1"],
                                                     ["ce", "49.60", "±", "1.00", "3", "60.00", "±", "1.00", "3", "+0"]]
    assert lines[7:] == ["1 of the 3 pairs change order:",
                         "  drs over ours by 2.90 in 30 epochs, under it by 5.00 in 200 epochs"]


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
    with pytest.raises(SystemExit) as refused:
        main(["orderings", str(tmp_path / "a.json"), str(tmp_path / "a.json"), str(tmp_path / "a.json")])
    assert refused.value.code == 2
    assert capsys.readouterr().err.startswith("python -m fbcd_lab orderings: error: unrecognized arguments: ")
