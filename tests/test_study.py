"""Studies: the paper's tables as data, the study registry, and a runner that skips, resumes and tabulates."""

import json
import shutil

import pytest

from fbcd_lab import paper_results as paper
from fbcd_lab import runtime
from fbcd_lab.cli import main
from fbcd_lab.config import METHODS, preset
from fbcd_lab.recipes import RECIPES, recipe
from fbcd_lab.studies import STUDIES, get_study
from fbcd_lab.studies import runner
from fbcd_lab.studies.runner import run_study
from fbcd_lab.studies.table import table_markdown

TINY = {"ratios": [100], "seeds": [0, 1], "cells": ["ce", "ours"], "epochs": 1, "progress": False,
        "precision": "fp32"}
TINY_ARGV = ["study", "table1", "--dataset", "digits", "--ratios", "100", "--seeds", "0", "1", "--cells", "ce", "ours",
             "--epochs", "1", "--paper-column", "cifar10", "--no-progress"]


def test_paper_tables_hold_the_printed_numbers():
    assert paper.paper_number(1, "cifar10", 100, "ce") == 70.36
    assert paper.paper_number(1, "cifar10", 100.0, "ours") == 78.79
    assert paper.paper_number(1, "cifar100", 10, "ours_full") == 66.60
    assert paper.paper_number(2, "tiny_imagenet", 50, "ldam_drw") == 37.30
    assert paper.paper_number(3, "imagenet_lt", None, "ours") == 50.3
    assert paper.paper_number(3, "imagenet_lt", None, "ours", group="minority") == 24.0
    assert paper.paper_number(4, "tiny_imagenet", 50, "fbh") == 36.62
    assert paper.paper_number(4, "cifar100", 100, "fbcd") == paper.paper_number(1, "cifar100", 100, "ours")
    assert paper.paper_number(5, "cifar100", 100, "ours_full", "resnet110") == 50.45
    # What the paper does not report is None: CB on Tiny-ImageNet, our extra recipes, Table 5 at ratio 50.
    assert paper.paper_number(2, "tiny_imagenet", 100, "cb") is None
    assert paper.paper_number(1, "cifar10", 100, "la_loss") is None
    assert paper.paper_number(5, "cifar100", 50, "ce", "vgg16") is None
    with pytest.raises(ValueError, match="table"):
        paper.paper_number(6, "cifar10", 100, "ce")
    assert paper.TABLES[1].format(90.0) == "90.00" and paper.TABLES[3].format(7.7) == "7.7"
    assert paper.paper_table(5).reference.startswith("Table 5: Performance comparison on CIFAR-100")
    implemented = {k for t in paper.TABLES.values() for _, _, k, _, _ in t.numbers} - set(paper.PAPER_ONLY)
    assert implemented <= set(RECIPES) | set(METHODS)


def test_paper_only_rows_and_columns():
    assert paper.paper_only_rows(1, "cifar10") == [("bbn", None), ("mislas", None), ("hybrid_sc", None)]
    assert paper.paper_only_rows(3, "imagenet_lt") == [("oltr", None), ("lws", None), ("mislas", None)]
    assert paper.paper_only_rows(4, "cifar100") == []
    assert paper.row_name("mislas", "vgg16") == "MiSLAS, VGG-16 (paper only: not implemented here)"
    assert paper.row_name("ldam_drw") == "LDAM+DRW"
    assert paper.paper_dataset("cifar100", 100) == "cifar100"
    assert paper.paper_dataset("imagefolder", 200) == "tiny_imagenet"
    assert paper.paper_dataset("imagefolder", 10) == "cifar10"
    assert paper.paper_dataset("digits", 10) is None
    assert paper.paper_dataset("digits", 10, "cifar10") == "cifar10"
    with pytest.raises(ValueError, match="paper column"):
        paper.paper_dataset("digits", 10, "svhn")


def test_registry_holds_the_papers_studies():
    assert list(STUDIES) == ["table1", "table2", "table3", "table4", "fig4", "table5", "ours_full"]
    assert [c.label for c in get_study("table2").cells(None, "tiny_imagenet")] == [
        "ce", "focal", "mixup", "ldam", "ours", "drs", "ldam_drw", "ours_full", "la_loss", "balanced_softmax",
        "ce_neck"]
    assert {c.label for c in get_study("table3").cells(None, "imagenet_lt")} == {
        "ce", "focal", "mixup", "ldam", "ours", "drs", "ldam_drw", "ours_full", "la_loss", "balanced_softmax",
        "ce_neck"}
    assert all(c.method.backbone == "resnext50" for c in get_study("table3").cells(None, "imagenet_lt"))
    table1 = get_study("table1").cells(None, "cifar10")
    assert [c.label for c in table1] == [
        "ce", "focal", "mixup", "cb", "ldam", "ours", "cb_focal", "cb_focal_ldam", "drs", "drs@ldam_cifar",
        "ldam_drw", "ldam_drw@ldam_cifar", "ours_full", "la_loss", "balanced_softmax", "ce_neck"]
    assert {c.label for c in table1 if c.schedule is None} == set(RECIPES) - {"ours_full_class", "ours_full_two_stage"}
    own = {c.label: c for c in table1 if c.schedule}
    assert {label: (c.method, c.paper_row) for label, c in own.items()} == {
        "drs@ldam_cifar": (recipe("drs"), "drs"), "ldam_drw@ldam_cifar": (recipe("ldam_drw"), "ldam_drw")}
    scaled = own["ldam_drw@ldam_cifar"].optim(preset("cpu_short"))  # LDAM-DRW's schedule, 30 epochs
    assert (scaled.epochs, scaled.warmup_epochs, scaled.milestones, scaled.factors) == (30, 1, (24, 27), (0.01, 0.0001))
    assert own["drs@ldam_cifar"].optim(preset("paper_cifar")) == preset("ldam_cifar")
    assert scaled == preset("ldam_cifar", epochs=30)  # the CIFAR presets share batch, rate and weight decay
    digits = own["drs@ldam_cifar"].optim(preset("digits"))  # the study's batch and rate, LDAM-DRW's decays
    assert (digits.batch_size, digits.lr, digits.milestones) == (64, 0.05, (24, 27))
    assert [(c.label, c.paper_row) for c in get_study("ours_full").cells("resnet8", "cifar10")] == [
        ("ours_full", "ours_full"), ("ours_full_class", "ours_full"), ("ours_full_two_stage", "ours_full")]
    heads = get_study("table4").cells("small_cnn", "digits")
    assert [(c.label, c.method.method, c.method.u, c.method.lam, c.method.backbone) for c in heads[:4]] == [
        (m, m, 10, 1.5, "small_cnn") for m in METHODS]
    assert [(c.label, c.method.method, c.method.neck, c.paper_row) for c in heads[4:]] == [
        ("ce+neck", "ce", "always", None), ("cdh+neck", "cdh", "always", None),
        ("fbh+own_neck", "fbh", "fbh_only", None), ("fbcd+own_neck", "fbcd", "fbh_only", None)]
    fig4 = {c.label: c.method for c in get_study("fig4").cells(None, "cifar100")}
    assert [m.u for k, m in fig4.items() if k.startswith("cdh-")] == [1, 2, 5, 10, 15, 20]
    assert {m.cluster for k, m in fig4.items() if k.startswith("fbcd-")} == {"random", "kmeans", "hierarchical"}
    assert all(m.backbone == "resnet32" for m in fig4.values())
    table5 = get_study("table5")
    cells = table5.cells(None, "cifar100")
    assert len(cells) == 15 and table5.ratios == (100,)
    assert all(paper.paper_number(5, "cifar100", 100, c.paper_row, c.paper_backbone) for c in cells)
    assert {c.method.backbone for c in table5.cells("vgg16", "cifar100")} == {"vgg16"}
    with pytest.raises(ValueError, match="table5 runs on"):
        table5.cells("resnet32", "cifar100")
    with pytest.raises(ValueError, match="no cell 'nope'"):
        get_study("table4").select(None, "digits", ["ce", "nope"])
    with pytest.raises(ValueError, match="study must be one of"):
        get_study("table9")


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """table1 on the digits: cells ce and ours, ratio 100, seeds 0 and 1, one epoch in fp32, against CIFAR-10."""
    out = tmp_path_factory.mktemp("study")
    table = run_study("table1", "digits", out, paper_column="cifar10", **TINY)
    return out, table


def test_study_runs_every_cell_and_seed_into_its_own_folder(tiny_study):
    out, _ = tiny_study
    records = {p.relative_to(out).as_posix(): json.loads(p.read_text()) for p in out.rglob("results.json")}
    assert set(records) == {f"table1/r100/{c}/seed{s}/results.json" for c in ("ce", "ours") for s in (0, 1)}
    for path, record in records.items():
        assert record["status"] == "finished" and record["epochs_done"] == 1
        assert record["seed"] == int(path.split("/")[3][4:]) and record["subset_seed"] == 0
        assert record["method"] == ("ce" if "/ce/" in path else "fbcd")
        assert (out / path).with_name("checkpoint.pt").is_file()


def test_table_shows_mean_sd_n_beside_the_paper(tiny_study):
    out, table = tiny_study
    text = (out / "table1" / "table.md").read_text()
    assert text == table_markdown(table)
    assert "CIFAR-10 of Table 1: Performance (top-1 accuracy, %)" in text and "column chosen with --paper-column" in text
    assert "seeds 0 1" in text and "backbone small_cnn" in text and "1 epoch; precision fp32; seeds" in text
    assert "- ranked by: top-1 accuracy (the test set is balanced, where it equals mean recall)" in text
    rows = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| ")}
    assert " ± " in rows["CE"] and "(2) | 70.36 |" in rows["CE"] and "(2) | 78.79 |" in rows["Ours"]
    assert "| – | 79.82 |" in rows["BBN (paper only: not implemented here)"]
    saved = json.loads((out / "table1" / "table.json").read_text())
    ce = saved["rows"][0]
    assert ce["cell"] == "ce" and ce["paper"] == {"100": 70.36} and saved["paper"]["table"] == 1
    assert saved["precision"] == "fp32"
    run = ce["results"]["100"]["runs"][0]
    assert run["n"] == 2 and run["seeds"] == [0, 1] and run["sd"] >= 0 and 0 <= run["mean"] <= 100
    assert [r["paper_row"] for r in saved["rows"] if r["paper_only"]] == [
        "BBN (paper only: not implemented here)", "MiSLAS (paper only: not implemented here)",
        "Hybrid-SC (paper only: not implemented here)"]


def test_second_invocation_skips_finished_runs(tiny_study, capsys, monkeypatch):
    out, table = tiny_study
    results = sorted(out.rglob("results.json"))
    stamps = [p.stat().st_mtime_ns for p in results]
    monkeypatch.setattr(runner, "fit", lambda *a, **k: pytest.fail("a finished run was trained again"))
    assert run_study("table1", "digits", out, paper_column="cifar10", **TINY)["rows"] == table["rows"]
    assert "4 done, 0 to resume, 0 to start" in capsys.readouterr().out
    assert [p.stat().st_mtime_ns for p in results] == stamps


def test_a_study_of_some_cells_keeps_the_other_finished_rows_of_its_table(tiny_study, tmp_path):
    """`--cells ce` after a study of ce and ours rewrites the table with both rows, not with one;
    a cell whose runs are not all finished, or are of other settings, is left out."""
    out, table = tiny_study
    again = run_study("table1", "digits", out, paper_column="cifar10", **{**TINY, "cells": ["ce"]})
    assert [r["cell"] for r in again["rows"] if not r["paper_only"]] == ["ce", "ours"]
    assert again["rows"] == table["rows"]
    fresh = run_study("table1", "digits", tmp_path, **{**TINY, "cells": ["ce"], "seeds": [0]})
    assert [r["cell"] for r in fresh["rows"] if not r["paper_only"]] == ["ce"]


def test_table_only_trains_nothing_and_counts_what_is_finished(tiny_study, monkeypatch):
    """--table-only: the table of the finished runs with these settings, (n) per cell."""
    out, table = tiny_study
    monkeypatch.setattr(runner, "fit", lambda *a, **k: pytest.fail("--table-only trained"))
    again = run_study("table1", "digits", out, paper_column="cifar10", table_only=True,
                      **{**TINY, "seeds": [0, 1, 2]})
    assert [r["results"]["100"]["runs"][0]["n"] for r in again["rows"] if not r["paper_only"]] == [2, 2]
    assert again["rows"][0]["results"]["100"]["runs"][0]["mean"] == table["rows"][0]["results"]["100"]["runs"][0]["mean"]
    run_study("table1", "digits", out, paper_column="cifar10", **TINY)  # the fixture's table again


def test_table_only_refuses_runs_it_would_leave_out_and_keeps_the_table(tiny_study, monkeypatch):
    """A setting that differs from the runs' (here more epochs, or another precision) made --table-only
    write a table of empty cells over the good one; it is refused as training is, naming the setting."""
    out, _ = tiny_study
    tables = {p: p.read_bytes() for p in (out / "table1").glob("table.*")}
    monkeypatch.setattr(runner, "fit", lambda *a, **k: pytest.fail("--table-only trained"))
    with pytest.raises(ValueError, match=r"seed0 holds a run with other settings \(optim.epochs: saved 1, asked 2"):
        run_study("table1", "digits", out, table_only=True, **{**TINY, "epochs": 2})
    with pytest.raises(ValueError, match=r"seed0 was trained in fp32 but --precision bf16 was given: pass "
                                         r"--precision fp32"):
        run_study("table1", "digits", out, table_only=True, **{**TINY, "precision": "bf16"})
    assert {p: p.read_bytes() for p in (out / "table1").glob("table.*")} == tables and len(tables) == 2


def test_table_only_refuses_an_out_without_runs_of_the_study_and_writes_nothing(tiny_study, tmp_path, monkeypatch,
                                                                              capsys):
    """The stranger pass: a mistyped --out made --table-only create its folders and write a table of
    dashes, exit 0. A folder with no finished run of the study (here of other seeds) is refused too,
    and the table there is left as it was."""
    monkeypatch.setattr(runner, "fit", lambda *a, **k: pytest.fail("--table-only trained"))
    missing = tmp_path / "typo"
    assert main(["study", "table4", "--dataset", "digits", "--out", str(missing), "--table-only"]) == 2
    err = capsys.readouterr().err
    assert err.endswith(f"error: --out {missing} holds no runs of study table4 (no folder {missing / 'table4'}): "
                        f"nothing to make a table of, and nothing was written\n") and err.count("\n") == 1
    assert not missing.exists()
    (tmp_path / "empty" / "table1").mkdir(parents=True)
    out, _ = tiny_study
    files = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    for folder, seeds in ((tmp_path / "empty", [0, 1]), (out, [5])):
        with pytest.raises(ValueError, match=rf"^--out {folder} holds no runs of study table1 finished with these "
                                             r"settings, ratios, seeds and cells: nothing to make a table of"):
            run_study("table1", "digits", folder, table_only=True, **{**TINY, "seeds": seeds})
    assert [p for p in (tmp_path / "empty").rglob("*")] == [tmp_path / "empty" / "table1"]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == files


def test_an_unreadable_record_is_refused_never_replaced(tiny_study, tmp_path, monkeypatch, capsys):
    """A damaged results.json without a checkpoint (every committed record) was removed and its run
    trained again; a study now refuses it, training and --table-only alike, naming the file, and
    leaves it, the table and every other file as they were. A study of other cells leaves it out."""
    out = tmp_path / "study"
    shutil.copytree(tiny_study[0], out)
    bad = out / "table1" / "r100" / "ce" / "seed0" / "results.json"
    bad.write_text(bad.read_text()[:200])
    files = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    monkeypatch.setattr(runner, "fit", lambda *a, **k: pytest.fail("a study trained over a damaged record"))
    for table_only in (False, True):
        with pytest.raises(ValueError, match=rf"{bad}: not a readable results record \(.*\): nothing was trained "
                                             r"or written; restore it \(`git checkout` if it is committed\) or move "
                                             r"it away to train that run again"):
            run_study("table1", "digits", out, table_only=table_only, **TINY)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == files
    capsys.readouterr()
    others = run_study("table1", "digits", out, **{**TINY, "cells": ["ours"]})
    assert [r["cell"] for r in others["rows"] if not r["paper_only"]] == ["ours"]
    assert f"left out of the table: {bad}: not a readable results record" in capsys.readouterr().out
    assert bad.read_bytes() == files[bad]


def test_runs_of_other_settings_are_refused_before_training(tiny_study):
    out, _ = tiny_study
    with pytest.raises(ValueError, match=r"seed0 holds a run with other settings \(optim.epochs: saved 1, asked 2"):
        run_study("table1", "digits", out, **{**TINY, "epochs": 2})


def test_runs_of_the_old_switch_rule_are_neither_done_nor_pooled(tmp_path):
    """A DRS run recorded before the switch followed the learning-rate decays (no saved switch epoch:
    it switched at round(0.8 x 20) = 16, between the decays at 13 and 17) is another setting than
    today's (switch at the decay, 17): a study refuses its folder and summarize keeps it apart."""
    from fbcd_lab.records import read_record, save_record, summarize

    options = {"ratios": [100], "seeds": [0], "cells": ["drs"], "epochs": 20, "progress": False,
               "precision": "fp32"}
    run_study("table1", "digits", tmp_path, **options)
    path = tmp_path / "table1" / "r100" / "drs" / "seed0" / "results.json"
    new = read_record(path)
    assert new["balancing_switch_epoch"] == new["config"]["balancing_switch_epoch"] == 17
    old = json.loads(json.dumps(new))
    del old["balancing_switch_epoch"], old["config"]["balancing_switch_epoch"]
    save_record(old, path)
    with pytest.raises(ValueError, match=r"other settings \(balancing_switch_epoch: saved 16, asked 17\)"):
        run_study("table1", "digits", tmp_path, **options)
    assert len(summarize([new, old])) == 2


def _files(folder):
    """Every file under ``folder`` with its modification time and bytes."""
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("precision", "amx", "now"), [
    ("bf16", False, "--precision bf16 was given"),
    ("auto", True, "--precision auto resolves to bf16 on this machine"),
], ids=["bf16", "auto-on-an-amx-cpu"])
def test_cli_study_in_another_precision_is_refused_before_training(tiny_study, capsys, monkeypatch, precision, amx,
                                                                   now):
    out, _ = tiny_study
    before = _files(out)
    monkeypatch.setattr(runtime, "cpu_has_amx_bf16", lambda: amx)
    monkeypatch.setattr(runner, "fit", lambda *a, **k: pytest.fail("trained before refusing"))
    assert main([*TINY_ARGV, "--out", str(out), "--precision", precision]) == 2
    err = capsys.readouterr().err
    assert err == (f"python -m fbcd_lab study: error: {out / 'table1' / 'r100' / 'ce' / 'seed0'} was trained in fp32 "
                   f"but {now}: pass --precision fp32 to continue this study (or choose another --out)\n")
    assert _files(out) == before


def test_fp32_study_continues_on_a_bf16_machine_with_precision_fp32(tiny_study, capsys, monkeypatch):
    out, table = tiny_study
    monkeypatch.setattr(runtime, "cpu_has_amx_bf16", lambda: True)  # auto would resolve to bf16
    monkeypatch.setattr(runner, "fit", lambda *a, **k: pytest.fail("a finished run was trained again"))
    assert main([*TINY_ARGV, "--out", str(out), "--precision", "fp32"]) == 0
    printed = capsys.readouterr().out
    assert "4 done, 0 to resume, 0 to start" in printed and "precision fp32;" in printed
    assert json.loads((out / "table1" / "table.json").read_text())["rows"] == table["rows"]


def test_bf16_study_names_its_precision_and_refuses_fp32(tmp_path):
    settings = {"ratios": [10], "seeds": [0], "cells": ["ce"], "epochs": 1, "progress": False}
    with pytest.raises(ValueError, match=r"precision must be one of \('auto', 'bf16', 'fp32'\), got 'fp16'"):
        run_study("table4", "digits", tmp_path, precision="fp16", **settings)
    assert not any(tmp_path.iterdir())
    table = run_study("table4", "digits", tmp_path, precision="bf16", **settings)
    assert table["precision"] == "bf16" and "precision bf16;" in (tmp_path / "table4" / "table.md").read_text()
    assert json.loads((tmp_path / "table4" / "table.json").read_text())["precision"] == "bf16"
    with pytest.raises(ValueError, match=r"seed0 was trained in bf16 but --precision fp32 was given: pass "
                                         r"--precision bf16 to continue"):
        run_study("table4", "digits", tmp_path, precision="fp32", **settings)


def test_interrupted_study_resumes_and_matches_an_uninterrupted_one(tmp_path, capsys):
    settings = {"ratios": [10], "seeds": [0], "cells": ["ce", "fbcd"], "epochs": 2, "progress": False}
    epochs = []

    def stop_in_second_run(record):
        epochs.append(record["epoch"])
        if len(epochs) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_study("table4", "digits", tmp_path / "a", callbacks=[stop_in_second_run], **settings)
    stopped = tmp_path / "a" / "table4" / "r10" / "fbcd" / "seed0"
    assert json.loads((stopped / "results.json").read_text())["status"] == "stopped"
    assert not (tmp_path / "a" / "table4" / "table.md").exists()
    capsys.readouterr()
    resumed = run_study("table4", "digits", tmp_path / "a", **settings)
    out = capsys.readouterr().out
    assert "1 done, 1 to resume, 0 to start" in out and f"resuming {stopped} after epoch 1 of 2" in out
    record = json.loads((stopped / "results.json").read_text())
    assert record["status"] == "finished" and [h["epoch"] for h in record["history"]] == [1, 2]
    # A run that lost its results.json (killed while evaluating) is finished from its checkpoint.
    (stopped / "results.json").unlink()
    run_study("table4", "digits", tmp_path / "a", **settings)
    assert "resuming" in capsys.readouterr().out and (stopped / "results.json").is_file()
    fresh = run_study("table4", "digits", tmp_path / "b", **settings)
    assert [r["results"] for r in resumed["rows"]] == [r["results"] for r in fresh["rows"]]


def test_a_study_run_stopped_inside_an_epoch_records_its_checkpoints_weights(tmp_path, monkeypatch):
    """As `train` does: the stopped record scores the weights of the checkpoint a rerun continues."""
    from fbcd_lab import training
    from fbcd_lab.checkpoints import load_checkpoint
    from fbcd_lab.data.datasets import data_from_spec
    from fbcd_lab.records import evaluate_run

    real_loss, calls = training.fbcd_loss, []

    def interrupt_in_second_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 10 + 2:  # digits ratio 10 (585 images) is 10 batches of 64 an epoch
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(training, "fbcd_loss", interrupt_in_second_epoch)
    monkeypatch.setenv("FBCD_RUN_CACHE", "off")  # a cached run would not train
    with pytest.raises(KeyboardInterrupt):
        run_study("table4", "digits", tmp_path, ratios=[10], seeds=[0], cells=["ce"], epochs=3, progress=False)
    folder = tmp_path / "table4" / "r10" / "ce" / "seed0"
    record = json.loads((folder / "results.json").read_text())
    assert record["status"] == "stopped" and len(record["history"]) == 1
    data = data_from_spec(record["config"]["data_spec"])
    metrics, _ = evaluate_run(load_checkpoint(folder / "checkpoint.pt", data, "cpu"), data)
    assert record["metrics"]["top_cluster"]["weight_norms"] == metrics["top_cluster"]["weight_norms"]


def test_digits_without_a_paper_column_says_so(tmp_path, capsys):
    table = run_study("table4", "digits", tmp_path, ratios=[10], seeds=[0], cells=["ce"], epochs=1, progress=False)
    assert table["paper"]["table"] is None and "matches no paper dataset" in capsys.readouterr().out
    assert "| ce | CE | " in table_markdown(table) and table["rows"][0]["results"]["10"]["text"].endswith("± – (1)")


def test_cli_study_continues_after_ctrl_c(tmp_path, capsys, monkeypatch):
    argv = ["study", "table4", "--dataset", "digits", "--out", str(tmp_path), "--ratios", "10", "--seeds", "0", "1",
            "--cells", "ce", "--epochs", "1", "--paper-column", "cifar100", "--no-progress"]
    real_fit = runner.fit

    def fit_then_interrupt(run, data, **options):
        real_fit(run, data, **options)
        if run.seed == 1:
            raise KeyboardInterrupt  # after its checkpoint, before its record

    monkeypatch.setattr(runner, "fit", fit_then_interrupt)
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run the same command again to continue" in err
    monkeypatch.setattr(runner, "fit", real_fit)
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "1 done, 1 to resume, 0 to start" in out and "| ce | CE | " in out and "(2) | 55.71 |" in out
    assert (tmp_path / "table4" / "table.json").is_file()


@pytest.mark.parametrize(("args", "message"), [
    (["tableX"], "invalid choice: 'tableX'"),
    (["table1", "--ratios", "0.5"], "--ratios"),
    (["table1", "--seeds", "-1"], "--seeds"),
    (["table1", "--paper-column", "svhn"], "--paper-column"),
    (["table1", "--precision", "fp16"], "--precision"),
])
def test_bad_study_options_are_one_line_errors(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["study", *args, "--dataset", "digits", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and message in err


def test_bad_cell_is_a_one_line_error(tmp_path, capsys):
    assert main(["study", "table1", "--dataset", "digits", "--out", str(tmp_path), "--cells", "ce", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no cell 'nope'" in err and not any(tmp_path.iterdir())


def test_study_out_inside_a_run_folder_or_under_a_file_is_refused(tmp_path):
    run_folder = tmp_path / "run"
    run_folder.mkdir()
    (run_folder / "results.json").write_text("{}")
    with pytest.raises(ValueError, match=r"lies in the run folder .*run \(it holds results.json\)"):
        run_study("table1", "digits", run_folder / "study", **TINY)
    (tmp_path / "afile").write_text("")
    with pytest.raises(ValueError, match=r"afile is a file, not a folder"):
        run_study("table1", "digits", tmp_path / "afile" / "sub", **TINY)
    assert not (run_folder / "study").exists()


def test_cells_the_paper_plots_or_adds_as_controls_are_labelled_so(tmp_path):
    fig4 = run_study("fig4", "digits", tmp_path / "f", ratios=[10], seeds=[0], cells=["cdh-u1"], epochs=1,
                     progress=False)
    assert fig4["rows"][0]["paper_row"] == "plotted in Fig. 4 (no number printed)"
    table4 = run_study("table4", "digits", tmp_path / "t", ratios=[10], seeds=[0], cells=["ce", "ce+neck"],
                       epochs=1, progress=False)
    assert [r["paper_row"] for r in table4["rows"]] == ["CE", "a control (not in the paper)"]
