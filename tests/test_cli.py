"""The command line: the demo table, train/eval round trip, one-line errors naming the option."""

import json

import pytest

from fbcd_lab.cli import main


def test_demo_prints_per_class_recall(capsys):
    assert main(["demo", "--imbalance-ratio", "10"]) == 0
    out = capsys.readouterr().out
    assert "n_train" in out and "mean recall" in out and " ce " in out and "fbcd" in out
    assert out.count("\n") > 15


def test_train_then_eval(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "digits", "--method", "cdh", "--u", "4", "--epochs", "2",
                 "--no-progress", "--out", str(out)]) == 0
    record = json.loads((out / "results.json").read_text())
    assert record["method"] == "cdh" and record["u"] == 4 and record["epochs_done"] == 2
    assert record["division"]["clusters_per_class"][0] == 4
    assert main(["eval", "--checkpoint", str(out / "checkpoint.pt")]) == 0
    again = json.loads((out / "eval.json").read_text())
    assert again["metrics"]["top_cluster"]["mean_recall"] == record["metrics"]["top_cluster"]["mean_recall"]
    assert main(["summarize", str(tmp_path)]) == 0
    assert "cdh" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "option"), [
    (["--u", "0"], "--u"), (["--lam", "-1"], "--lam"), (["--alpha", "1.5"], "--alpha"),
    (["--imbalance-ratio", "0.5"], "--imbalance-ratio"), (["--epochs", "x"], "--epochs"),
    (["--method", "focal"], "--method"), (["--cluster", "dbscan"], "--cluster"),
    (["--device", "tpu"], "--device"), (["--seed", "-1"], "--seed"), (["--n-max", "0"], "--n-max"),
])
def test_bad_options_exit_with_one_line(tmp_path, capsys, args, option):
    argv = ["train", "--dataset", "digits", "--method", "fbcd", "--out", str(tmp_path), *args]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and option in err


def test_missing_data_is_one_line_error(tmp_path, capsys):
    assert main(["train", "--dataset", "cifar10", "--data-root", str(tmp_path), "--method", "ce",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "download" in err
    assert main(["train", "--dataset", "digits", "--method", "ce", "--selection", "best_val",
                 "--out", str(tmp_path / "o")]) == 2
    assert "--val-per-class" in capsys.readouterr().err


def test_recall_table_shows_whole_rule_names_and_printable_class_names():
    """Column heads were cut to 8 characters ("top clus"); a newline in a class name broke the layout."""
    from fbcd_lab.cli.report import recall_table

    result = {"per_class_recall": [1.0, 0.5], "mean_recall": 0.75, "group_recall": {"many": 1.0, "medium": None,
                                                                                     "few": 0.5}}
    text = recall_table([10, 2], ["cat", "two\nlines"], {"top cluster": result, "logit adjusted": result})
    lines = text.splitlines()
    assert lines[0].split()[-4:] == ["top", "cluster", "logit", "adjusted"]
    assert len({len(line) for line in lines[:-1]}) == 1  # every row as wide as the head
    assert "two\\nlines" in text and "empty" in text
    assert lines[-1] == "(many: over 100 training images, medium: 20 to 100, few: under 20; empty: no class in the group)"


def test_a_long_run_says_after_its_first_epoch_how_long_it_will_take(capsys):
    """The own-data guide's command (docs/pages/guides/own_data.md) once ran 10 minutes on 58 images with
    nothing said: after the first epoch, a run with more than a minute to go says how long and how to
    shorten it."""
    from types import SimpleNamespace

    from fbcd_lab.cli.train import _time_estimate

    run = SimpleNamespace(epochs_done=0, wall_time_s=0.0, optim=SimpleNamespace(epochs=200))
    estimate = _time_estimate(run, 32)
    estimate({"epoch": 1, "time_s": 3.1})
    estimate({"epoch": 2, "time_s": 6.2})
    assert capsys.readouterr().out == ("epoch 1 of 200 took 3.1 s: about 10 min to go; --epochs N or --preset "
                                       "cpu_short (30 epochs) makes the run shorter\n")
    resumed = SimpleNamespace(epochs_done=190, wall_time_s=500.0, optim=SimpleNamespace(epochs=200))
    _time_estimate(resumed, 32)({"epoch": 191, "time_s": 503.0})  # 27 s to go: nothing to say
    assert capsys.readouterr().out == ""
    # a 30-epoch run of large photos: smaller images, not cpu_short, shorten it
    photos = SimpleNamespace(epochs_done=0, wall_time_s=0.0, optim=SimpleNamespace(epochs=30))
    _time_estimate(photos, 200)({"epoch": 1, "time_s": 9.0})
    assert capsys.readouterr().out == ("epoch 1 of 30 took 9.0 s: about 4 min to go; --epochs N or --image-size 64 "
                                       "(the images are 200 px) makes the run shorter\n")
