"""The training lab panel: its controls, runs from the Train button, validation curves, a real Stop,
shown errors."""

import time

import ipywidgets as widgets
import pytest

import fbcd_lab.ui.runner
from fbcd_lab.ui import TrainingPanel


def set_controls(panel: TrainingPanel, **values) -> None:
    for name, value in values.items():
        panel.controls[name].value = value


def test_controls_have_documented_ranges_and_defaults():
    c = TrainingPanel().controls
    assert (c["u"].min, c["u"].max, c["u"].value) == (1, 20, 10)
    assert (c["lam"].min, c["lam"].max, c["lam"].step, c["lam"].value) == (0, 3, 0.1, 1.5)
    assert (c["alpha"].min, c["alpha"].max, c["alpha"].value) == (0.05, 1, 0.5)
    assert tuple(c["cluster"].options) == ("random", "kmeans", "hierarchical") and c["cluster"].value == "random"
    assert tuple(c["method"].options) == ("ce", "fbh", "cdh", "fbcd") and c["method"].value == "fbcd"
    assert tuple(c["rule"].options) == ("top_cluster", "sum_clusters", "logit_adjusted")
    assert tuple(c["imbalance_ratio"].options) == (1, 10, 20, 50, 100) and c["imbalance_ratio"].value == 100
    assert (c["epochs"].min, c["epochs"].max, c["epochs"].value) == (1, 100, 30)  # digits preset: 30 epochs
    assert c["seed"].value == 0


def test_every_control_states_its_sensible_range_beside_it():
    from fbcd_lab.ui import HELP

    panel = TrainingPanel()
    rows = [child for child in panel.widget.children if isinstance(child, widgets.HBox)][:len(panel.controls)]
    for (name, control), row in zip(panel.controls.items(), rows):
        assert row.children[0] is control and HELP[name] in row.children[1].value and control.tooltip == HELP[name]
    assert "Sensible 2 to 20 (the paper: 10)" in HELP["u"] and "Sensible 0.5 to 3 (the paper: 1.5)" in HELP["lam"]
    assert "above 1/u" in HELP["alpha"] and "10 or more" in HELP["epochs"] and "0 or more" in HELP["seed"]
    panel.controls["seed"].value = -3  # the seed box refuses a negative seed: it stays at its lowest, 0
    assert panel.controls["seed"].value == 0


def test_settings_that_make_no_sense_for_the_method_are_flagged():
    panel = TrainingPanel()
    assert panel.flags.value == ""  # the paper's defaults draw no warning
    set_controls(panel, u=1)
    assert "u = 1 divides no class" in panel.flags.value and "trains fbh" in panel.flags.value
    set_controls(panel, method="cdh")
    assert "trains ce" in panel.flags.value
    set_controls(panel, u=10, alpha=0.1)
    assert "α = 0.1 is at or below 1/u = 0.10" in panel.flags.value and "u = 1" not in panel.flags.value
    set_controls(panel, alpha=1.0)
    assert "hard cluster labels" in panel.flags.value
    set_controls(panel, method="fbh", lam=0.0)  # alpha is not read by fbh: no warning for it
    assert "λ = 0 gives the feature-balancing head no gradient" in panel.flags.value and "α" not in panel.flags.value
    set_controls(panel, method="ce", u=1)  # ce reads neither u nor λ nor α: nothing to flag
    assert panel.flags.value == ""
    set_controls(panel, epochs=3)
    assert "3 epochs is short" in panel.flags.value
    set_controls(panel, epochs=10)
    assert panel.flags.value == ""


def test_method_greys_out_unused_settings():
    panel = TrainingPanel()
    panel.controls["method"].value = "ce"
    assert all(panel.controls[k].disabled for k in ("u", "lam", "alpha", "cluster"))
    panel.controls["method"].value = "fbh"
    assert not panel.controls["lam"].disabled and panel.controls["u"].disabled


def test_train_button_adds_rows_traces_and_progress():
    panel = TrainingPanel()
    set_controls(panel, u=4, lam=0.5, method="fbcd", epochs=2)
    panel.train_button.click()
    assert panel.progress.max == 2  # the click started a run (training goes on in a worker thread)
    panel.wait(timeout=60)
    assert not panel.running and not panel.train_button.disabled and panel.stop_button.disabled
    assert panel.error.value == ""
    assert len(panel.runs) == 1
    row = panel.runs[0]
    assert (row["u"], row["lam"], row["method"], row["epochs_done"], row["stopped"]) == (4, 0.5, "fbcd", 2, False)
    assert row["flags"].startswith("2 epochs is short")  # the row keeps the warnings its settings drew
    assert 0 <= row["mean_recall"] <= 1 and 0 <= row["accuracy"] <= 1 and row["wall_time_s"] > 0
    assert len(panel.figure.data) == 3
    l2, l1, recall = panel.figure.data
    assert l2.name == "run 1: fbcd u=4 λ=0.5" and l2.showlegend and not l1.showlegend
    assert tuple(l2.x) == tuple(l1.x) == (1, 2) and tuple(recall.x) == (1, 2)
    assert panel.progress.value == panel.progress.max == 2
    run, metrics = panel.results[1]
    assert run.epochs_done == 2 and set(metrics) == {"top_cluster", "sum_clusters", "logit_adjusted"}
    # L2 and L1 apart, L1 unweighted by lambda (the total loss's scale moves with lambda and K)
    assert tuple(l2.y) == tuple(r["l2"] for r in run.history) and tuple(l1.y) == tuple(r["l1"] for r in run.history)
    # the curve is the validation recall; the row reports the final test metrics and the best val epoch
    assert tuple(recall.y) == tuple(r["val_mean_recall"] for r in run.history)
    assert not any("test_mean_recall" in r for r in run.history)
    titles = [a.text for a in panel.figure.layout.annotations[:3]]
    assert titles[:2] == ["L2: main head's loss", "L1: FBH's loss"]
    assert titles[2].startswith("validation mean recall")
    assert tuple(panel.figure.layout.yaxis3.range) == (0, 1.05)  # the 1 tick below the title
    assert panel.progress.description == "progress" != panel.controls["epochs"].description
    assert row["mean_recall"] == metrics["top_cluster"]["mean_recall"]
    assert row["best_val_epoch"] == run.best["epoch"] in (1, 2)
    assert row["best_val_mean_recall"] == max(recall.y)

    set_controls(panel, method="ce", u=10, lam=1.5, epochs=2, rule="logit_adjusted")
    row2 = panel.train(block=True)
    assert row2 is panel.runs[1] and row2["method"] == "ce" and row2["rule"] == "logit_adjusted"
    assert row2["mean_recall"] == panel.results[2][1]["logit_adjusted"]["mean_recall"]
    assert len(panel.figure.data) == 6 and panel.figure.data[3].name == "run 2: ce"  # CE reads no u, λ
    assert [row2[k] for k in ("u", "lam", "alpha", "cluster")] == [None] * 4 and row["u"] == 4
    assert panel.figure.data[4].x == ()  # CE trains no FBH: no L1 curve
    assert panel.table.value.count("<tr") == 3  # header + two runs
    assert "fbcd" in panel.table.value and "logit_adjusted" in panel.table.value
    assert list(panel.datasets) == [100]  # same ratio: the data was built once


def test_equal_runs_are_told_apart_and_the_rule_changes_without_retraining():
    panel = TrainingPanel()
    set_controls(panel, method="fbcd", u=4, epochs=1)
    panel.train(block=True)
    set_controls(panel, rule="logit_adjusted")  # after training: every row re-read under the new rule
    assert [r["rule"] for r in panel.runs] == ["logit_adjusted"]
    assert panel.runs[0]["mean_recall"] == panel.results[1][1]["logit_adjusted"]["mean_recall"]
    assert "logit_adjusted" in panel.table.value and "top_cluster" not in panel.table.value
    panel.train(block=True)  # the same settings (the rule is not one: it is read after training)
    first, second = panel.figure.data[0], panel.figure.data[3]
    assert tuple(first.y) == tuple(second.y)  # the same numbers ...
    assert first.line.dash != second.line.dash and first.line.color != second.line.color  # ... drawn apart
    assert second.name == "run 2: fbcd u=4 λ=1.5 (settings of run 1)" and "settings of" not in first.name
    set_controls(panel, rule="top_cluster")
    assert [r["mean_recall"] for r in panel.runs] == [panel.results[i][1]["top_cluster"]["mean_recall"] for i in (1, 2)]
    assert list(panel.runs[0])[:8] == ["run", "method", "rule", "mean_recall", "accuracy", "many", "medium", "few"]


def test_seed_is_the_training_seed_on_one_subset_with_a_validation_split():
    panel = TrainingPanel()
    set_controls(panel, method="ce", epochs=1, seed=0)
    first = panel.train(block=True)
    set_controls(panel, seed=1)
    second = panel.train(block=True)
    assert (first["seed"], second["seed"]) == (0, 1) and panel.results[2][0].seed == 1
    assert list(panel.datasets) == [100]  # another training seed, the same data
    data = panel.datasets[100]
    assert data.spec["seed"] == 0 and data.spec["val_per_class"] == 10 and data.counts[0] == 134
    assert len(data.val) == 10 * data.num_classes
    panel.controls["imbalance_ratio"].value = 1  # the split leaves 10 images per class at every ratio
    panel.train(block=True)
    assert list(panel.datasets) == [100, 1] and panel.error.value == ""


def test_without_a_validation_split_the_curve_is_labelled_test():
    panel = TrainingPanel(val_per_class=0, eval_every=2)
    assert "test mean recall" in panel.figure.layout.annotations[2].text
    assert "validation" not in panel.figure.layout.annotations[2].text
    set_controls(panel, method="ce", epochs=3)
    row = panel.train(block=True)
    run, _ = panel.results[1]
    assert panel.datasets[100].val is None and panel.datasets[100].counts[0] == 144
    recall = panel.figure.data[2]
    assert tuple(recall.x) == (2, 3)  # every eval_every epochs, and the last
    assert tuple(recall.y) == tuple(r["test_mean_recall"] for r in run.history if "test_mean_recall" in r)
    assert row["best_val_epoch"] is None and row["best_val_mean_recall"] is None


def test_stop_keeps_the_partial_run():
    panel = TrainingPanel()
    set_controls(panel, method="ce", epochs=30)
    assert panel.train(block=False) is None
    assert panel.running and panel.train_button.disabled and not panel.stop_button.disabled
    deadline = time.monotonic() + 60
    while panel.progress.value < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    panel.stop_button.click()
    panel.wait(timeout=60)
    assert not panel.running and not panel.train_button.disabled
    row = panel.runs[-1]
    assert row["stopped"] is True and 1 <= row["epochs_done"] < 30
    assert 0 <= row["mean_recall"] <= 1
    assert len(panel.figure.data[0].x) == row["epochs_done"]


def test_missing_data_is_shown_and_raised_in_block_mode(tmp_path):
    panel = TrainingPanel(dataset="cifar10", preset="cpu_short", data_root=tmp_path)
    set_controls(panel, epochs=1)
    with pytest.raises(FileNotFoundError, match="download"):
        panel.train(block=True)
    assert "FileNotFoundError" in panel.error.value and "download" in panel.error.value
    assert not panel.train_button.disabled and panel.runs == []


def test_error_in_the_worker_thread_is_shown(monkeypatch):
    def boom(*args, **kwargs):
        raise ValueError("boom <b>")

    monkeypatch.setattr(fbcd_lab.ui.runner, "fit", boom)
    panel = TrainingPanel()
    set_controls(panel, epochs=1)
    panel.train_button.click()
    panel.wait(timeout=60)
    assert "ValueError: boom &lt;b&gt;" in panel.error.value
    assert not panel.train_button.disabled and not panel.running and panel.runs == []
    assert panel.figure.data[0].name.endswith("(failed)")


def test_clock_shows_elapsed_and_left_and_every_control_explains_itself():
    panel = TrainingPanel()
    seen = []
    panel.clock.observe(lambda change: seen.append(change["new"]), names="value")
    set_controls(panel, method="ce", epochs=3)
    panel.train(block=True)
    assert seen[0] == "starting…" and seen[1].startswith("epoch 1/3 · ") and "s elapsed · ~" in seen[1]
    assert seen[-1].startswith("done in ") and seen[-1].endswith(" s on 1 CPU thread")
    assert all(w.tooltip for w in panel.controls.values())
    assert panel.table.value.startswith("<div style='overflow-x:auto'>")


def test_a_diverged_run_is_shown_as_such(monkeypatch):
    panel = TrainingPanel()
    from fbcd_lab.config import OptimConfig

    monkeypatch.setattr(fbcd_lab.ui.runner, "optim_preset", lambda name, epochs: OptimConfig(
        epochs=epochs, batch_size=64, lr=1e30, warmup_epochs=0, milestones=(), factors=()))
    set_controls(panel, method="ce", epochs=2)
    with pytest.raises(ValueError, match="diverged in epoch 1"):
        panel.train(block=True)
    assert "diverged in epoch 1" in panel.error.value and not panel.runs


def test_the_lab_trains_in_fp32_unless_asked(monkeypatch):
    """bf16 autocast would change the lab's small runs for little speed: fp32 even where auto picks bf16."""
    monkeypatch.setattr("fbcd_lab.runtime.cpu_has_amx_bf16", lambda: True)  # an AMX CPU: auto means bf16
    runs = {}
    for precision in (None, "bf16"):
        panel = TrainingPanel() if precision is None else TrainingPanel(precision=precision)
        set_controls(panel, method="ce", epochs=1)
        panel.train(block=True)
        runs[precision] = panel.results[1][0]
    assert (runs[None].precision, runs["bf16"].precision) == ("fp32", "bf16")
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainingPanel(precision="fp16")


def test_the_panel_trains_on_the_threads_asked_and_refuses_a_bad_count():
    assert TrainingPanel().threads is None  # the trainer's choice: one thread for the small CNN
    panel = TrainingPanel(threads=2)
    set_controls(panel, method="ce", epochs=2)
    panel.train(block=True)
    run, _ = panel.results[1]
    assert run.threads == 2 and panel.clock.value.endswith(" s on 2 CPU threads")
    for bad in (0, 2.0, "1"):
        with pytest.raises(ValueError, match="threads"):
            TrainingPanel(threads=bad)
