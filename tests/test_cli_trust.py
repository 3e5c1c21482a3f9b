"""The command line never loses or silently changes a run, and bad files are one-line errors."""

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fbcd_lab.cli import main

TRAIN = ["train", "--dataset", "digits", "--method", "fbcd", "--u", "4", "--no-progress"]


def train(out, *extra):
    return main([*TRAIN, "--epochs", "2", "--out", str(out), *extra])


def one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 2-epoch run (module-wide: tests copy it before changing it)."""
    out = tmp_path_factory.mktemp("runs") / "done"
    assert train(out) == 0
    return out


def copy_run(src, dst):
    dst.mkdir()
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def files_of(folder):
    """Every file below ``folder`` with its bytes and modification time: the same before and after a
    command means the command changed no file there."""
    return {p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_existing_run_is_refused_without_resume_or_overwrite(finished, tmp_path, capsys):
    out = copy_run(finished, tmp_path / "r")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert train(out) == 2
    one_line_error(capsys, "already holds a run", "--resume", "--overwrite")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert train(out, "--resume", "--overwrite") == 2
    one_line_error(capsys, "exclude each other")
    assert train(out, "--overwrite", "--seed", "1") == 0
    assert "--overwrite: removed" in capsys.readouterr().out
    assert json.loads((out / "results.json").read_text())["seed"] == 1


def test_resume_extends_epochs_and_refuses_other_changes(finished, tmp_path, capsys):
    out = copy_run(finished, tmp_path / "r")
    first = json.loads((out / "results.json").read_text())
    assert main([*TRAIN, "--epochs", "4", "--out", str(out), "--resume"]) == 0
    assert "after epoch 2 of 2, extended from 2 to 4 epochs" in capsys.readouterr().out
    record = json.loads((out / "results.json").read_text())
    assert record["epochs_done"] == 4 and record["status"] == "finished"
    assert [h["loss"] for h in record["history"][:2]] == [h["loss"] for h in first["history"]]
    assert record["config"]["extensions"] == [{"at_epoch": 2, "from_epochs": 2, "to_epochs": 4}]
    assert main([*TRAIN, "--epochs", "4", "--out", str(out), "--resume", "--lam", "2", "--lr", "0.01"]) == 2
    one_line_error(capsys, "method.lam: saved 1.5, asked 2.0", "optim.lr: saved 0.05, asked 0.01")
    assert main([*TRAIN, "--epochs", "3", "--out", str(out), "--resume"]) == 2
    one_line_error(capsys, "epochs (--epochs) 3 would shorten the run", "(4 epochs): a run can be extended, not shortened")
    assert main([*TRAIN, "--out", str(out), "--resume"]) == 0  # no --epochs: the run's own length, nothing to do
    assert "after epoch 4 of 4\n" in capsys.readouterr().out
    assert json.loads((out / "results.json").read_text())["epochs_done"] == 4


def test_a_natural_run_saved_with_long_tail_options_resumes(tmp_path, capsys):
    """Runs saved before natural refused --n-max, --profile and --subset-seed hold them in their data
    spec; they change nothing on natural data, yet --resume refused the run with them (now refused as
    having no effect) and without them (a differing setting): such a run could never be continued."""
    natural = ["train", "--dataset", "digits", "--method", "ce", "--imbalance-ratio", "natural", "--no-progress"]
    out = tmp_path / "old"
    assert main([*natural, "--epochs", "1", "--out", str(out)]) == 0
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    state["data_spec"].update(n_max=50, profile="step", seed=5)  # as the code before the refusal saved them
    torch.save(state, out / "checkpoint.pt")
    assert main([*natural, "--epochs", "2", "--out", str(out), "--resume"]) == 0
    assert "after epoch 1 of 1, extended from 1 to 2 epochs" in capsys.readouterr().out
    record = json.loads((out / "results.json").read_text())
    assert record["epochs_done"] == 2 and record["config"]["data_spec"]["n_max"] is None


def test_resume_without_checkpoint_says_so(tmp_path, capsys):
    assert train(tmp_path / "new", "--resume") == 2
    one_line_error(capsys, "no checkpoint.pt", "drop --resume")
    assert not (tmp_path / "new" / "results.json").exists()


@pytest.mark.parametrize("option", ["--lr", "--lam", "--weight-decay"])
@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_non_finite_options_are_refused(tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as exit_info:
        train(tmp_path / "r", f"{option}={value}")
    assert exit_info.value.code == 2
    one_line_error(capsys, option, "finite")


def test_output_folder_checked_before_any_work(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert train(a_file) == 2
    one_line_error(capsys, "is a file")
    assert train(a_file / "below") == 2
    one_line_error(capsys, f"{a_file} is a file, not a folder")


def test_stale_temporaries_removed_and_umask_respected(tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    (out / ".checkpoint.pt.k9x2ab_c.tmp").write_bytes(b"half a checkpoint")
    old = os.umask(0o022)
    try:
        assert train(out) == 0
    finally:
        os.umask(old)
    assert "left by an interrupted write" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "results.json"]
    assert {oct(p.stat().st_mode & 0o777) for p in out.iterdir()} == {"0o644"}


def test_divergence_marks_the_record_and_keeps_it_strict_json(tmp_path, capsys):
    out = tmp_path / "r"
    assert train(out, "--lr", "1e30") == 2
    one_line_error(capsys, "diverged", "epoch 1", "--lr")
    record = json.loads((out / "results.json").read_text(), parse_constant=pytest.fail)
    assert record["status"] == "diverged" and record["metrics"] is None and record["diverged"]["epoch"] == 1


def test_records_name_both_seeds_and_the_deterministic_flag(tmp_path):
    out = tmp_path / "r"
    cuda = torch.cuda.is_available()  # --deterministic is refused on the CPU, where it has no effect
    assert train(out, "--seed", "3", "--subset-seed", "1", *(["--deterministic"] if cuda else [])) == 0
    record = json.loads((out / "results.json").read_text())
    assert (record["seed"], record["subset_seed"], record["config"]["deterministic"]) == (3, 1, cuda)
    assert record["data"]["seed"] == 1 and record["config"]["data_spec"]["seed"] == 1
    assert not torch.are_deterministic_algorithms_enabled()  # the mode ends with the run


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", random.Random(0).randbytes(256), "tensor"],
                         ids=["empty", "truncated zip", "random bytes", "a tensor"])
def test_bad_checkpoint_is_one_line_naming_the_file(tmp_path, capsys, content):
    path = tmp_path / "checkpoint.pt"
    if content == "tensor":
        torch.save(torch.zeros(3), path)
    else:
        path.write_bytes(content)
    assert main(["eval", "--checkpoint", str(path)]) == 2
    err = one_line_error(capsys, str(path))
    assert "weights_only" not in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


def test_summarize_skips_bad_records_and_never_pools_unlike_runs(finished, tmp_path, capsys):
    copy_run(finished, tmp_path / "a")
    assert train(tmp_path / "b", "--seed", "1") == 0
    assert train(tmp_path / "c", "--lam", "0.5") == 0
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "results.json").write_text('{"metrics": NaN}')
    capsys.readouterr()
    assert main(["summarize", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "warning: skipped" in err and str(tmp_path / "d" / "results.json") in err
    title, balance, header, *rows, left_out = [line for line in out.splitlines() if line.strip()]
    assert left_out == "1 results.json left out of this table (the warnings on stderr name them)"
    assert title.startswith("mean_recall (%) under the top_cluster rule: mean and sample sd over training seeds")
    assert balance == "the test sets are balanced (there top-1 accuracy equals mean recall)"
    assert len(rows) == 2 and any("[0, 1]" in r for r in rows) and any(r.rstrip().endswith("[0]") for r in rows)
    assert "lam" in header and " - " in next(r for r in rows if r.rstrip().endswith("[0]"))  # one seed: no sd
    assert main(["summarize", str(tmp_path / "d")]) == 2  # only a bad record: nothing to show is an error
    one_line_error(capsys, f"python -m fbcd_lab summarize: error: no usable results.json under {tmp_path / 'd'}: "
                           f"skipped {tmp_path / 'd' / 'results.json'}: not a readable results record (metrics is NaN")


def test_summarize_skips_hand_edited_records_naming_each(finished, tmp_path, capsys):
    """A seed that is not a number, an empty config, a rule's metrics removed, a finished run without
    metrics: each is skipped with a warning naming its file, no traceback, and every seed listed is
    a seed counted."""
    record = json.loads((finished / "results.json").read_text())
    without_rule = {**record, "metrics": {k: v for k, v in record["metrics"].items() if k != "top_cluster"}}
    edits = {"seed": {**record, "seed": "x"}, "config": {**record, "config": {}}, "rule": without_rule,
             "null": {**record, "metrics": None}, "good": {**record, "seed": 1}}
    for name, edited in edits.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(edited))
    capsys.readouterr()
    assert main(["summarize", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and err.count("warning:") == 4
    for name, why in (("seed", "seed must be an integer in [0, 2**32), got 'x'"), ("config", "config needs method"),
                      ("rule", "has no top_cluster metrics"), ("null", "a finished run without metrics")):
        assert str(tmp_path / name / "results.json") in err and why in err, (name, err)
    *_, row, left_out = out.splitlines()
    assert row.split()[-2:] == ["-", "[1]"] and " finished 1 " in row
    assert left_out == "4 results.json left out of this table (the warnings on stderr name them)"


@pytest.mark.parametrize("name", ["", ".", "..", "results.json", "a/b.json", "line\nbreak.json", "checkpoint.pt",
                                  "model.pt", ".run.lock", ".eval.json", "RESULTS.JSON", "Model.PT", "results.json.",
                                  "results.json ", "eval.json.", "notes ", "results.json::$DATA", "a:b.json",
                                  "x<y.json", "nul", "Con.json", "lpt1.txt"])
def test_eval_refuses_a_record_name_that_is_no_plain_file_name(finished, capsys, name):
    """Nor one another command writes into the run folder, nor a hidden one: `--record-name model.pt`
    replaced the run's weights with a record, `.run.lock` was removed with the lock; Windows drops a
    trailing '.' or ' ', so `results.json.` would be results.json there, and so is `results.json::$DATA`
    (a stream of it); `nul` and `con.json` are devices there."""
    before = files_of(finished)
    assert main(["eval", "--checkpoint", str(finished / "checkpoint.pt"), "--record-name", name]) == 2
    one_line_error(capsys, "--record-name must be a plain file name not starting with '.' nor ending in '.' or ' ', "
                           "without any of <>:\"|?*\\ or a device name (nul, con, ...), other than checkpoint.pt, "
                           "results.json, model.pt, got", repr(name))
    assert files_of(finished) == before


def eval_into(folder, *extra):
    return main(["eval", "--checkpoint", str(folder / "checkpoint.pt"), *extra])


def test_eval_never_overwrites_a_file_and_replaces_only_its_own_record(finished, tmp_path, capsys):
    """`eval --record-name notes.txt` replaced the user's notes, and a second `eval` its first record;
    a second plain `eval` names the default record, not a --record-name the user did not give."""
    run = copy_run(finished, tmp_path / "r")
    (run / "notes.txt").write_text("my notes\n")
    (run / "other.json").write_text(json.dumps({"written_by": "someone else"}))
    capsys.readouterr()
    assert eval_into(run) == 0
    first = json.loads((run / "eval.json").read_text())
    assert first["written_by"] == "eval"
    before = files_of(run)
    new_name = "name a new file (nothing is overwritten), or pass --overwrite to replace this record of eval's"
    for extra, why in (([], f"the record {run / 'eval.json'} (--record-name's default) exists: name a new file with "
                            f"--record-name (nothing is overwritten), or pass --overwrite to replace this record"),
                       (["--record-name", "eval.json"], f"--record-name {run / 'eval.json'} exists: {new_name}"),
                       (["--record-name", "notes.txt"], f"--record-name {run / 'notes.txt'} exists and is no record "
                                                        f"eval wrote: name a new file (nothing is overwritten)"),
                       (["--record-name", "notes.txt", "--overwrite"],
                        f"--record-name {run / 'notes.txt'} exists and is no record eval wrote"),
                       (["--record-name", "other.json", "--overwrite"],
                        f"--record-name {run / 'other.json'} exists and is no record eval")):
        assert eval_into(run, *extra) == 2
        one_line_error(capsys, f"python -m fbcd_lab eval: error: {why}")
    assert files_of(run) == before
    assert eval_into(run, "--overwrite") == 0
    assert (run / "notes.txt").read_text() == "my notes\n" and files_of(run)[Path("results.json")] == \
        before[Path("results.json")]
    assert json.loads((run / "eval.json").read_text())["created"] >= first["created"]
    assert "wrote " + str(run / "eval.json") in capsys.readouterr().out


def test_overwrite_takes_the_records_derived_from_the_replaced_run_with_it(finished, tmp_path, capsys):
    """`train --overwrite` left the old run's eval records and decompose output beside the new run;
    they go with it now, known by their content, and the user's files stay."""
    run = copy_run(finished, tmp_path / "r")
    assert eval_into(run, "--record-name", "ev.json") == 0
    (run / "eval.json").write_text((run / "results.json").read_text())  # eval's record before records were marked
    decomposition = {"written_by": "decompose", "folders": {"ce": [str(run)], "fbcd": [str(tmp_path / "f")]}}
    (run / "dec.json").write_text(json.dumps(decomposition))
    decomposition["folders"]["ce"] = [str(tmp_path / "elsewhere")]
    (run / "dec_of_others.json").write_text(json.dumps(decomposition))
    kept = {"notes.txt": "my notes\n", "mine.json": json.dumps({"written_by": "me"}), "eval_copy.txt": "{}",
            "fake.json": '{"written_by": "eval"'}
    for name, text in kept.items():
        (run / name).write_text(text)
    capsys.readouterr()
    assert train(run) == 2
    one_line_error(capsys, "already holds a run (checkpoint.pt, results.json, dec.json, ev.json, eval.json)")
    assert train(run, "--overwrite", "--seed", "1") == 0
    removed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("--overwrite")]
    assert removed == [f"--overwrite: removed checkpoint.pt, results.json, dec.json, ev.json, eval.json from {run} "
                       f"(the replaced run and the records derived from it; other files are kept)"]
    assert sorted(p.name for p in run.iterdir()) == sorted(["checkpoint.pt", "results.json", "dec_of_others.json",
                                                            *kept])
    assert all((run / name).read_text() == text for name, text in kept.items())


def test_overwrite_keeps_the_eval_records_of_other_runs(finished, tmp_path, capsys):
    """`train --overwrite` deleted every eval record in OUT, one of another run that the user moved
    there too. A record goes only if it evaluated this run: its history is the checkpoint's, also
    when the run folder was moved after eval (its record names the old path); without a readable
    checkpoint the path the record names decides."""
    other = tmp_path / "other"
    assert train(other, "--seed", "1") == 0 and eval_into(other) == 0
    assert json.loads((other / "eval.json").read_text())["checkpoint"] == str((other / "checkpoint.pt").resolve())
    run = copy_run(finished, tmp_path / "before_move")
    assert eval_into(run) == 0
    run = run.rename(tmp_path / "r")
    (other / "eval.json").rename(run / "other_eval.json")
    foreign = (run / "other_eval.json").read_bytes()
    lost = copy_run(run, tmp_path / "no_checkpoint")
    (lost / "checkpoint.pt").unlink()
    (lost / "results.json").unlink()
    mine = json.loads((lost / "eval.json").read_text())
    (lost / "mine.json").write_text(json.dumps({**mine, "checkpoint": str(tmp_path / "x" / ".." / "no_checkpoint"
                                                                           / "checkpoint.pt")}))
    capsys.readouterr()
    assert train(lost) == 2  # the record naming this folder's checkpoint: what is left of a run
    one_line_error(capsys, f"{lost} already holds a run (mine.json); pass --resume")
    assert train(run, "--overwrite", "--seed", "1") == 0
    removed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("--overwrite")]
    assert removed == [f"--overwrite: removed checkpoint.pt, results.json, eval.json from {run} (the replaced run "
                       f"and the records derived from it; other files are kept)"]
    assert (run / "other_eval.json").read_bytes() == foreign


def test_a_run_stopped_by_an_error_says_how_to_continue(tmp_path, capsys, monkeypatch):
    """An unreadable training image in epoch 3 stopped the run with its one-line error, and nothing
    said that the checkpoint of epoch 2 was kept and that --resume continues it."""
    from fbcd_lab import training
    from fbcd_lab.data import BadImageFile

    real_loss, calls = training.fbcd_loss, []

    def bad_image_at(call):
        def loss(*args, **kwargs):
            calls.append(1)
            if len(calls) == call:
                raise BadImageFile("image 'x.jpg' is truncated")
            return real_loss(*args, **kwargs)
        return loss

    monkeypatch.setattr(training, "fbcd_loss", bad_image_at(3))  # in epoch 1: no checkpoint yet, nothing to say
    assert main([*TRAIN, "--epochs", "4", "--out", str(tmp_path / "first")]) == 2
    one_line_error(capsys, "python -m fbcd_lab train: error: image 'x.jpg' is truncated\n")
    calls.clear()
    monkeypatch.setattr(training, "fbcd_loss", bad_image_at(2 * 6 + 3))  # 6 batches an epoch
    assert main([*TRAIN, "--epochs", "4", "--out", str(tmp_path)]) == 2
    one_line_error(capsys, f"python -m fbcd_lab train: error: image 'x.jpg' is truncated; {tmp_path / 'checkpoint.pt'} "
                           f"keeps epoch 2 of 4: once the cause is fixed, run the same command with --resume to "
                           f"continue\n")
    monkeypatch.setattr(training, "fbcd_loss", real_loss)
    assert main([*TRAIN, "--epochs", "4", "--out", str(tmp_path), "--resume"]) == 0
    assert [h["epoch"] for h in json.loads((tmp_path / "results.json").read_text())["history"]] == [1, 2, 3, 4]


def test_refused_runs_leave_no_folder_and_name_the_option(tmp_path, capsys):
    for extra, needle in ((["--n-max", "100000"], "n_max (--n-max) must be <= 144"),
                          (["--loss", "focal"], "loss (--loss) 'focal' with method 'fbcd' is not supported"),
                          (["--kernel-size", "9"], "kernel_size (--kernel-size) 9 is larger")):
        out = tmp_path / "never" / "made"  # the parent it would make goes too
        assert train(out, *extra) == 2
        one_line_error(capsys, needle)
        assert not out.parent.exists()
    with pytest.raises(SystemExit):
        main([*TRAIN, "--out", ""])
    one_line_error(capsys, "argument --out: must not be empty")
    assert train(tmp_path / "never", "--data-root", str(tmp_path)) == 2
    one_line_error(capsys, "data_root (--data-root) is not used by 'digits'")
    for option in ("--lr", "--weight-decay"):  # 1e308 overflowed float32 in SGD's update: a traceback
        with pytest.raises(SystemExit):
            main([*TRAIN, option, "1e308", "--out", str(tmp_path / "never")])
        one_line_error(capsys, f"argument {option}: ", "must be a finite number in")
    assert not (tmp_path / "never").exists()


def test_short_runs_switch_deferred_balancing_on_before_the_end(tmp_path, capsys):
    """The epoch a deferred rule switches on at is printed and recorded (from 0 in the record): the
    learning-rate decay nearest 80 % of the epochs (25 of 30 in the digits preset), and in a run too
    short for any decay the epoch before the last."""
    for epochs, switch in (("1", 0), ("2", 1), ("30", 25)):
        out = tmp_path / f"drw{epochs}"
        assert main(["train", "--dataset", "digits", "--recipe", "ldam_drw", "--epochs", epochs, "--no-progress",
                     "--out", str(out)]) == 0
        record = json.loads((out / "results.json").read_text())
        assert record["recipe"] == "ldam_drw" and record["status"] == "finished"
        assert record["balancing_switch_epoch"] == switch
        assert f"drw on from epoch {switch + 1} of {epochs}" in capsys.readouterr().out


def test_a_closed_pipe_ends_quietly():
    """`python -m fbcd_lab orderings TABLE | head -0`: no traceback, no error line, SIGPIPE's status."""
    table = Path(__file__).resolve().parents[1] / "results" / "cifar10_lt" / "table1"
    process = subprocess.Popen([sys.executable, "-m", "fbcd_lab", "orderings", str(table)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before anything is written
    assert process.wait(timeout=120) == 141
    assert process.stderr.read() == b""


def test_a_second_ctrl_c_while_python_shuts_down_ends_it_without_a_traceback():
    """A Ctrl-C pressed twice: the first stops and saves the run (status 130), the second reached
    Python's shutdown and printed a KeyboardInterrupt traceback from an exit hook. The hook here
    sends that second Ctrl-C, to a command whose work was interrupted."""
    script = (
        "import atexit, os, runpy, signal, sys, time\n"
        "import fbcd_lab.cli\n"
        "fbcd_lab.cli.main = lambda: 130\n"
        "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(2)))\n"
        "runpy.run_module('fbcd_lab', run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert (done.returncode, done.stderr) == (130, "")


def test_summarize_names_the_recipe_and_orders_numbers_as_numbers(tmp_path, capsys):
    for ratio in ("100", "10"):
        assert main(["train", "--dataset", "digits", "--recipe", "ce", "--imbalance-ratio", ratio, "--epochs", "1",
                     "--no-progress", "--out", str(tmp_path / f"r{ratio}")]) == 0
    capsys.readouterr()
    assert main(["summarize", str(tmp_path)]) == 0
    _, _, header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[:5] == ["folder", "dataset", "imbalance_ratio", "method", "recipe"]
    assert [row.split()[:1] + row.split()[2:5] for row in rows] == [["r10", "10", "ce", "ce"],
                                                                     ["r100", "100", "ce", "ce"]]
    assert [row.split()[6:9] for row in rows] == [["-", "-", "-"]] * 2  # CE reads no u, lambda or clustering
    records = [json.loads((tmp_path / f"r{r}" / "results.json").read_text()) for r in ("10", "100")]
    assert [row.split()[-3] for row in rows] == [f"{100 * r['metrics']['top_cluster']['mean_recall']:.2f}"
                                                 for r in records]  # percent, as study prints


def test_options_the_run_would_not_use_are_refused(tmp_path, capsys):
    """`--recipe ce --u 5` would train plain CE, yet record u 5 and never pool with CE's runs."""
    for extra, option in ((["--recipe", "ce", "--u", "5"], "--u (read only by the class-division head"),
                          (["--method", "ce", "--focal-gamma", "2"], "--focal-gamma (read only by loss focal)"),
                          (["--recipe", "ours", "--deferred-epoch", "3"], "--deferred-epoch (read only by balancing"),
                          (["--recipe", "ours", "--no-weight-l1"], "--no-weight-l1 (read only by")):
        assert main(["train", "--dataset", "digits", *extra, "--out", str(tmp_path / "run")]) == 2
        one_line_error(capsys, "options with no effect on this run:", option)
        assert not (tmp_path / "run").exists()


def test_the_package_loads_pytorch_only_when_used():
    """`python -m fbcd_lab` catches Ctrl-C from the moment PyTorch starts loading (a traceback of
    50 lines before), because importing the package itself loads nothing heavy."""
    code = "import sys, fbcd_lab; print('torch' in sys.modules); from fbcd_lab import train; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert out.split() == ["False", "True"]


def test_summarize_shows_a_stopped_runs_epochs_of_those_planned(finished, tmp_path, capsys):
    """The stranger pass: a run stopped after 1 of 2 epochs read `epochs 2 ... stopped`."""
    run = copy_run(finished, tmp_path / "stopped")
    record = json.loads((run / "results.json").read_text())
    record.update(status="stopped", stopped=True, epochs_done=1, history=record["history"][:1])
    (run / "results.json").write_text(json.dumps(record))
    copy_run(finished, tmp_path / "done")
    capsys.readouterr()
    assert main(["summarize", str(tmp_path)]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[3:]}
    assert " 1 of 2 " in rows["stopped"] and "stopped" in rows["stopped"].split()
    assert " 2 " in rows["done"] and " of 2 " not in rows["done"] and "finished" in rows["done"].split()


def test_a_run_stopped_inside_an_epoch_records_its_checkpoints_weights(tmp_path, capsys, monkeypatch):
    """Ctrl-C in epoch 3 scored the weights two steps into it but called them epoch 2's: the record
    now scores the checkpoint's weights, those --resume continues and `eval` reads."""
    from fbcd_lab import training
    from fbcd_lab.checkpoints import load_checkpoint
    from fbcd_lab.data import build_long_tailed
    from fbcd_lab.records import evaluate_run

    real_loss, calls = training.fbcd_loss, []

    def interrupt_in_third_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2 * 6 + 3:  # digits ratio 100 (354 images) is 6 batches of 64 an epoch
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(training, "fbcd_loss", interrupt_in_third_epoch)
    assert main([*TRAIN, "--epochs", "4", "--out", str(tmp_path)]) == 130
    record = json.loads((tmp_path / "results.json").read_text())
    assert record["status"] == "stopped" and len(record["history"]) == 2
    data = build_long_tailed("digits", 100)
    saved = load_checkpoint(tmp_path / "checkpoint.pt", data, "cpu")
    metrics, _ = evaluate_run(saved, data)
    assert record["metrics"]["top_cluster"]["per_class_recall"] == metrics["top_cluster"]["per_class_recall"]
    assert record["metrics"]["top_cluster"]["accuracy"] == metrics["top_cluster"]["accuracy"]
    assert record["metrics"]["top_cluster"]["weight_norms"] == metrics["top_cluster"]["weight_norms"]
    out, err = capsys.readouterr()
    assert "final epoch (2, stopped early)" in out
    assert err == (f"interrupted; {tmp_path / 'checkpoint.pt'} keeps epoch 2 of 4: run the same command with --resume "
                   f"to continue\n")
