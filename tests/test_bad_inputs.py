"""No option or record overwrites a run file, crashes a command or puts an impossible number in a table.

Each case of the bad-input sweep (issue 30) is one line naming the culprit, or the refusal, with exit
status 2, and no file of the run changed (bytes and modification times compared).
"""

import errno
import json
import os

import pytest
import torch

from fbcd_lab.checks import check
from fbcd_lab.cli import main
from test_cli_trust import copy_run, files_of, finished, one_line_error, train  # noqa: F401 (a fixture)
from test_orderings import _table


@pytest.fixture(scope="module")
def pair(tmp_path_factory, finished):
    """A finished CE run and a finished FBH + CDH run of the same seed and data, with their weights."""
    root = tmp_path_factory.mktemp("pair")
    ce = root / "ce"
    assert main(["train", "--dataset", "digits", "--method", "ce", "--epochs", "2", "--no-progress",
                 "--out", str(ce)]) == 0
    fbcd = copy_run(finished, root / "fbcd")
    for folder in (ce, fbcd):
        assert main(["weights", str(folder)]) == 0
    return ce, fbcd


def edited(path, field, raw):
    """Rewrite the JSON file ``path`` with its dotted ``field`` set to the JSON text ``raw``."""
    tree = json.loads(path.read_text())
    *parents, last = field.split(".")
    node = tree
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[int(last) if isinstance(node, list) else last] = "@value@"
    path.write_text(json.dumps(tree).replace('"@value@"', raw))
    return path


def edit_checkpoint(folder, edit):
    state = torch.load(folder / "checkpoint.pt", weights_only=True)
    edit(state)
    torch.save(state, folder / "checkpoint.pt")


@pytest.mark.parametrize("edit, why", [
    (lambda spec: spec.update(colour=1), "it holds 'colour', which no data takes"),
    (lambda spec: spec.pop("name"), "it needs a name and an imbalance_ratio"),
    (lambda spec: spec.update(name="foo"), "dataset must be one of ('digits', 'cifar10', 'cifar100', 'imagefolder', "
                                           "'tiny_imagenet', 'imagenet_lt'), got 'foo'"),
    (lambda spec: spec.update(imbalance_ratio=0.5), "imbalance_ratio must be a finite number >= 1, got 0.5")],
    ids=["unknown key", "no name", "unknown dataset", "ratio 0.5"])
def test_eval_refuses_a_checkpoint_whose_data_spec_rebuilds_no_data(finished, tmp_path, capsys, edit, why):
    """Was a TypeError (unexpected keyword argument) or a KeyError traceback; an unknown dataset or a
    ratio below 1 named the parameter but not the checkpoint."""
    run = copy_run(finished, tmp_path / "r")
    edit_checkpoint(run, lambda state: edit(state["data_spec"]))
    before = files_of(run)
    assert main(["eval", "--checkpoint", str(run / "checkpoint.pt")]) == 2
    one_line_error(capsys, f"checkpoint (--checkpoint) '{run / 'checkpoint.pt'}' has a data_spec that rebuilds no data "
                           f"({why})")
    assert files_of(run) == before


@pytest.mark.parametrize("edit, why", [
    (lambda state: state.update(history=state["history"] * 3), "epochs_done (its history's length) must be an "
                                                               "integer in [1, 2], got 6"),
    (lambda state: state.update(history=[]), "epochs_done (its history's length) must be an integer in [1, 2], got 0"),
    (lambda state: state.update(seed=-1), "seed must be an integer in [0, 2**32), got -1"),
    (lambda state: state.update(world_size=0), "world_size must be an integer in [1, 256], got 0"),
    (lambda state: state["history"][0].update(loss=float("nan")), "history[0].loss is not a finite number"),
    (lambda state: state.update(wall_time_s=float("nan")), "wall_time_s must be a finite number >= 0, got nan")],
    ids=["history x3", "no history", "seed -1", "world size 0", "NaN loss", "NaN wall time"])
def test_eval_refuses_a_checkpoint_whose_record_the_readers_would_refuse(finished, tmp_path, capsys, edit, why):
    """A history of 6 epochs in a 2-epoch run was written as "finished, final epoch (6)", a record
    summarize then skipped; seed -1 and world size 0 passed; a NaN failed in the JSON writer naming
    no file ("Out of range float values are not JSON compliant: nan")."""
    run = copy_run(finished, tmp_path / "r")
    edit_checkpoint(run, edit)
    before = files_of(run)
    assert main(["eval", "--checkpoint", str(run / "checkpoint.pt")]) == 2
    one_line_error(capsys, f"checkpoint (--checkpoint) '{run / 'checkpoint.pt'}' has invalid settings ({why})")
    assert files_of(run) == before


def test_eval_refuses_weights_that_are_not_finite(finished, tmp_path, capsys):
    """Was "Out of range float values are not JSON compliant: nan" from writing the record."""
    run = copy_run(finished, tmp_path / "r")
    edit_checkpoint(run, lambda state: state["model"]["classifier.weight"].fill_(float("nan")))
    before = files_of(run)
    assert main(["eval", "--checkpoint", str(run / "checkpoint.pt")]) == 2
    one_line_error(capsys, f"checkpoint (--checkpoint) '{run / 'checkpoint.pt'}' has model weights that are not "
                           f"finite (NaN or infinite values in ['classifier.weight']): not weights of a trained model")
    assert files_of(run) == before


@pytest.mark.parametrize("edit, why", [
    (lambda model: [t.fill_(float("nan")) for t in model.values() if t.is_floating_point()],
     "model weights that are not finite"),
    (lambda model: model.update({"classifier.weight": torch.zeros(3, 3)}),
     "model weights that do not fit the model its settings build (wrong shape or type ['classifier.weight'])")],
    ids=["all NaN", "wrong shape"])
def test_weights_refuses_what_eval_refuses(finished, tmp_path, capsys, edit, why):
    """`weights` exported such tensors to model.pt without a word."""
    run = copy_run(finished, tmp_path / "r")
    edit_checkpoint(run, lambda state: edit(state["model"]))
    before = files_of(run)
    assert main(["weights", str(run)]) == 2
    one_line_error(capsys, f"checkpoint '{run / 'checkpoint.pt'}' has {why}")
    assert files_of(run) == before and not (run / "model.pt").exists()


INVALID = "not a valid results record ({})"


@pytest.mark.parametrize("field, raw, why", [
    ("metrics.top_cluster.mean_recall", '"0.5"',
     INVALID.format("metrics.top_cluster.mean_recall must be a finite number in [0, 1], got '0.5'")),
    ("metrics.top_cluster.mean_recall", "7.5",
     INVALID.format("metrics.top_cluster.mean_recall must be a finite number in [0, 1], got 7.5")),
    ("metrics.top_cluster.mean_recall", "1e999",
     "not a readable results record (metrics.top_cluster.mean_recall is 1e999, not a finite number: strict JSON "
     "holds no NaN, Infinity or number beyond a float)"),
    ("metrics.top_cluster.per_class_recall.3", "-0.1",
     INVALID.format("metrics.top_cluster.per_class_recall[3] must be a finite number in [0, 1], got -0.1")),
    ("status", '"weird"', INVALID.format("status must be one of ('finished', 'stopped', 'diverged'), got 'weird'")),
    ("status", "5", INVALID.format("status must be one of ('finished', 'stopped', 'diverged'), got 5")),
    ("epochs", "-5", INVALID.format("epochs must be an integer in [1, 2147483647], got -5")),
    ("imbalance_ratio", '"abc"', INVALID.format("imbalance_ratio must be a finite number >= 1, got 'abc'")),
    ("code", '"x"', INVALID.format("code must be a JSON object, got 'x'")),
    ("config.world_size", "0", INVALID.format("config.world_size must be an integer in [1, 256], got 0")),
], ids=["recall text", "recall 7.5", "recall 1e999", "class recall", "status weird", "status 5", "epochs -5",
        "ratio abc", "code text", "world size 0"])
def test_summarize_skips_a_record_with_an_impossible_field_naming_it(finished, tmp_path, capsys, field, raw, why):
    """One bad record is one warning naming its file and field: it neither stops the summary (a
    TypeError in statistics.fmean) nor shows as inf, 750.00 %, status weird or 5, epochs -5, ratio abc."""
    copy_run(finished, tmp_path / "good")
    bad = edited(copy_run(finished, tmp_path / "bad") / "results.json", field, raw)
    before = files_of(tmp_path)
    capsys.readouterr()
    assert main(["summarize", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert err == f"warning: skipped {bad}: {why}\n"
    *_, row, left_out = out.splitlines()
    mean = 100 * json.loads((finished / "results.json").read_text())["metrics"]["top_cluster"]["mean_recall"]
    assert row.split()[-3:] == [f"{mean:.2f}", "-", "[0]"] and len(out.splitlines()) == 5
    assert left_out == "1 results.json left out of this table (the warnings on stderr name them)"
    assert main(["summarize", str(bad.parent)]) == 2  # nothing left to show: one line says why
    one_line_error(capsys, f"python -m fbcd_lab summarize: error: no usable results.json under {bad.parent}: "
                           f"skipped {bad}: {why}\n")
    assert files_of(tmp_path) == before


@pytest.mark.parametrize("edit, why", [
    (lambda table: table.update(paper="the paper"), "paper must be a JSON object, got 'the paper'"),
    (lambda table: table["rows"][0].update(paper="70.4"), "rows[0].paper must be a JSON object, got '70.4'"),
    (lambda table: table["rows"][1]["results"]["100"]["runs"][0].update(mean=750.0),
     "rows[1].results.100.runs[0].mean must be a finite number in [0, 100], got 750.0"),
    (lambda table: table["rows"][1]["results"]["100"]["runs"][0].update(status="weird"),
     "rows[1].results.100.runs[0].status must be one of ('finished', 'stopped', 'diverged'), got 'weird'"),
    (lambda table: table.update(ratios=[]), "ratios must name at least one ratio"),
    (lambda table: table.update(rows=None), "rows must be a list, got None"),
], ids=["paper text", "row paper text", "mean 750", "status", "no ratio", "no rows"])
def test_orderings_refuses_a_table_with_an_impossible_field_naming_it(tmp_path, capsys, edit, why):
    """A `paper` field of text was an AttributeError traceback; a mean of 750 was shown."""
    table = _table({"ce": 49.6, "ours": 61.7}, 30)
    edit(table)
    path = tmp_path / "table.json"
    path.write_text(json.dumps(table))
    before = files_of(tmp_path)
    assert main(["orderings", str(path)]) == 2
    one_line_error(capsys, f"{path} is not a study's table.json ({why})")
    assert files_of(tmp_path) == before


def test_orderings_refuses_nan_and_an_empty_ratio(tmp_path, capsys):
    """A NaN mean was printed as `nan ± 1.00`; `--ratio ''` meant the default ratio."""
    path = tmp_path / "table.json"
    path.write_text(json.dumps(_table({"ce": 49.6, "ours": 61.7}, 30)))
    (tmp_path / "again.json").write_text(path.read_text())
    assert main(["orderings", str(path), str(tmp_path / "again.json"), "--ratio", "100"]) == 0
    edited(path, "rows.1.results.100.runs.0.mean", "NaN")
    before = files_of(tmp_path)
    capsys.readouterr()
    assert main(["orderings", str(path)]) == 2
    one_line_error(capsys, f"{path} is not a study's table.json (rows[1].results.100.runs[0].mean is NaN, not a "
                           f"finite number: strict JSON holds no NaN, Infinity or number beyond a float)")
    with pytest.raises(SystemExit) as refused:
        main(["orderings", str(path), "--ratio", ""])
    assert refused.value.code == 2
    one_line_error(capsys, "python -m fbcd_lab orderings: error: argument --ratio: must be natural or a finite "
                           "number >= 1, got ''")
    assert files_of(tmp_path) == before


def test_decompose_refuses_swapped_or_repeated_runs_and_impossible_records(pair, tmp_path, capsys):
    """The records name their method: swapped --ce and --fbcd, or one run as both, were accepted; a
    recall of 7.5 printed "+ the rest +736.3"."""
    ce, fbcd = pair
    bad = copy_run(fbcd, tmp_path / "bad")
    edited(bad / "results.json", "metrics.top_cluster.mean_recall", "7.5")
    before = {folder: files_of(folder) for folder in (ce, fbcd, bad)}
    capsys.readouterr()
    for first, second, why in (
            (fbcd, ce, f"ce_folders (--ce) must hold runs of method 'ce': {fbcd} is a run of method 'fbcd'"),
            (ce, ce, f"fbcd_folders (--fbcd) must hold runs of method 'fbcd': {ce} is a run of method 'ce'"),
            (fbcd, fbcd, f"ce_folders (--ce) must hold runs of method 'ce': {fbcd} is a run of method 'fbcd'"),
            (ce, bad, f"{bad / 'results.json'}: not a valid results record (metrics.top_cluster.mean_recall must be "
                      f"a finite number in [0, 1], got 7.5)")):
        assert main(["decompose", "--ce", str(first), "--fbcd", str(second)]) == 2
        one_line_error(capsys, f"python -m fbcd_lab decompose: error: {why}")
    assert {folder: files_of(folder) for folder in (ce, fbcd, bad)} == before
    assert main(["decompose", "--ce", str(ce), "--fbcd", str(fbcd)]) == 0  # the right way round


@pytest.mark.parametrize("extra, why", [
    (["--kernel-size", "1000000"], "argument --kernel-size: must be an integer in [1, 1024], got '1000000'"),
    (["--kernel-size", "99999999999999999999"],
     "argument --kernel-size: must be an integer in [1, 1024], got '99999999999999999999'"),
    (["--val-per-class", "99999999999999999999"],
     "argument --val-per-class: must be an integer in [0, 2147483647], got '99999999999999999999'"),
    (["--workers", "100000"], "argument --workers: must be an integer in [0, 256], got '100000'"),
    (["--u", "1" + "0" * 5000], "argument --u: must be an integer in [1, 2147483647], got '1" + "0" * 35 + "..."),
], ids=["kernel 1e6", "kernel 1e20", "val 1e20", "workers", "u of 5001 digits"])
def test_integer_options_are_bounded_before_any_allocation(tmp_path, capsys, extra, why):
    """--kernel-size 1000000 tried to allocate 320 TB, 1e20 was a C++ stack dump, --val-per-class 1e20
    an OverflowError in formatting the library's own message."""
    with pytest.raises(SystemExit) as refused:
        train(tmp_path / "never", *extra)
    assert refused.value.code == 2
    one_line_error(capsys, f"python -m fbcd_lab train: error: {why}")
    assert not (tmp_path / "never").exists()


def test_the_librarys_messages_survive_huge_integers():
    """A value no float or decimal string holds is refused by the one check, in one short line."""
    with pytest.raises(ValueError, match=r"^u must be an integer in \[1, 2147483647\], got an integer of 16610 bits$"):
        check("u", 10**5000)
    with pytest.raises(ValueError) as refused:
        check("lam", 10**400)  # beyond a float
    assert str(refused.value) == "lam must be a finite number >= 0, got 1" + "0" * 36 + "..."


@pytest.mark.parametrize("extra, why", [
    (["--workers", "2"], "workers (--workers) 2: the training images of digits are held in memory, where batches "
                         "are indexed and no worker process decodes them; leave it out"),
    (["--download"], "download (--download) is used only by cifar10 and cifar100 (torchvision fetches them), "
                     "not by 'digits'"),
    (["--val-per-class", "2000"], "val_per_class (--val-per-class) 2000 needs that many unused training images of "
                                  "every class, but class 0 has 4 left over by the long tail; lower val_per_class "
                                  "or n_max (by at least 1996)"),
], ids=["workers in memory", "download digits", "val per class"])
def test_options_a_run_would_ignore_are_refused(tmp_path, capsys, extra, why):
    """--download with digits and --workers with images in memory were ignored silently."""
    assert train(tmp_path / "never", *extra) == 2
    one_line_error(capsys, f"python -m fbcd_lab train: error: {why}")
    assert not (tmp_path / "never").exists()


def test_train_out_is_refused_inside_a_run_or_above_runs(finished, tmp_path, capsys):
    """As `study --out` is refused inside a run folder: summarize would pool the nested runs."""
    (tmp_path / "runs").mkdir()
    run = copy_run(finished, tmp_path / "runs" / "a")
    before = files_of(tmp_path)
    assert train(run / "inner") == 2
    one_line_error(capsys, f"--out {run / 'inner'} lies in the run folder {run} (it holds checkpoint.pt, "
                           f"results.json): choose a folder outside every run")
    assert train(tmp_path / "runs") == 2
    one_line_error(capsys, f"--out {tmp_path / 'runs'} holds runs below it ({run / 'checkpoint.pt'}): a run folder "
                           f"holds one run, so summarize never pools it with another; choose a new folder")
    assert files_of(tmp_path) == before and not (run / "inner").exists()


def test_a_full_disk_at_the_lock_file_names_it(finished, tmp_path, capsys, monkeypatch):
    """The message named no file; the lock file is removed with the refusal."""
    run = copy_run(finished, tmp_path / "r")
    before = files_of(run)

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "pwrite", full)
    assert main(["eval", "--checkpoint", str(run / "checkpoint.pt")]) == 2
    one_line_error(capsys, f"[Errno {errno.ENOSPC}] {os.strerror(errno.ENOSPC)} (writing the lock file of the run "
                           f"folder): '{run / '.run.lock'}'")
    assert files_of(run) == before


@pytest.mark.parametrize("extra, option", [
    (["--method", "fbcd", "--lam", "1e308"], "--lam (it is 1e+308)"),
    (["--method", "ce", "--loss", "focal", "--focal-gamma", "1e308"], "--focal-gamma (it is 1e+308)"),
    (["--method", "ce", "--loss", "la", "--la-tau", "1e308"], "--la-tau (it is 1e+308)"),
], ids=["lam", "focal gamma", "la tau"])
def test_a_divergence_names_the_loss_option_that_caused_it(tmp_path, capsys, extra, option):
    """It advised "try a lower --lr" alone, which cannot help."""
    out = tmp_path / "r"
    assert main(["train", "--dataset", "digits", *extra, "--epochs", "1", "--no-progress", "--out", str(out)]) == 2
    one_line_error(capsys, f"is marked diverged (try a lower {option} or a lower --lr)")
    assert json.loads((out / "results.json").read_text())["status"] == "diverged"


def test_decompose_takes_plain_runs_of_one_schedule_and_never_writes_a_run_file(pair, tmp_path, capsys):
    """A CE-method run with another loss (LDAM-DRW passed as "CE"), or runs of another schedule, made a
    waterfall that is none; --out could write JSON over .run.lock, checkpoint.pt or model.pt."""
    ce, fbcd = pair
    focal, longer = tmp_path / "focal", tmp_path / "longer"
    for folder, extra in ((focal, ["--loss", "focal", "--epochs", "2"]), (longer, ["--epochs", "3"])):
        assert main(["train", "--dataset", "digits", "--method", "ce", *extra, "--no-progress", "--out",
                     str(folder)]) == 0
        assert main(["weights", str(folder)]) == 0
    capsys.readouterr()
    assert main(["decompose", "--ce", str(focal), "--fbcd", str(fbcd)]) == 2
    one_line_error(capsys, f"python -m fbcd_lab decompose: error: ce_folders (--ce) must hold plain runs of method "
                           f"'ce' (loss ce, no balancing, no Mixup): {focal} has loss focal")
    assert main(["decompose", "--ce", str(longer), "--fbcd", str(fbcd)]) == 2
    one_line_error(capsys, f"python -m fbcd_lab decompose: error: {fbcd}: its run was trained on another schedule "
                           f"than {longer} (epochs, rate, decays): their gains do not add up to one decomposition")
    before = files_of(fbcd)
    for name in (".run.lock", "checkpoint.pt", "model.pt", "results.json", "results.json.", "model.pt "):
        assert main(["decompose", "--ce", str(ce), "--fbcd", str(fbcd), "--out", str(fbcd / name)]) == 2
        one_line_error(capsys, f"python -m fbcd_lab decompose: error: --out's file name must be a plain file name "
                               f"not starting with '.' nor ending in '.' or ' ', without any of <>:\"|?*\\ or "
                               f"a device name (nul, con, ...), other than checkpoint.pt, results.json, model.pt, "
                               f"got {name!r}")
    assert files_of(fbcd) == before
    assert main(["decompose", "--ce", str(ce), "--fbcd", str(fbcd), "--out", str(tmp_path / "dec.json")]) == 0
    assert json.loads((tmp_path / "dec.json").read_text())["written_by"] == "decompose"  # train --overwrite knows it


@pytest.mark.parametrize("extra, why", [
    (["--cells", "ce", "ours", "ce"], "cells (--cells) names 'ce' twice"),
    (["--seeds", "0", "1", "0"], "seeds (--seeds) names 0 twice"),
    (["--ratios", "100", "100"], "ratios (--ratios) names 100.0 twice"),
], ids=["cells", "seeds", "ratios"])
def test_study_refuses_a_value_named_twice(tmp_path, capsys, extra, why):
    """`--cells ce ce` was quietly run once: a repeated value is a typo, refused before any data."""
    argv = ["study", "table1", "--dataset", "digits", "--epochs", "1", "--no-progress", "--out", str(tmp_path / "s")]
    assert main(argv + extra) == 2
    one_line_error(capsys, f"python -m fbcd_lab study: error: {why}")
    assert not (tmp_path / "s").exists()


def test_weights_refuses_a_folder_named_twice(finished, tmp_path, capsys):
    run = copy_run(finished, tmp_path / "run")
    assert main(["weights", str(run), f"{tmp_path}/./run/"]) == 2
    one_line_error(capsys, f"python -m fbcd_lab weights: error: folders names '{run.resolve()}' twice")
    assert not (run / "model.pt").exists()
