"""The training lab's panel, :class:`TrainingPanel`: its controls, runner and live plot put together,
and the comparison table of its runs."""

from __future__ import annotations

import threading
from pathlib import Path

import ipywidgets as widgets
import pandas as pd

from fbcd_lab.checks import check, check_choice
from fbcd_lab.config import DEFAULT_BACKBONE
from fbcd_lab.config import preset as optim_preset
from fbcd_lab.data.datasets import LongTailData
from fbcd_lab.run import Run
from fbcd_lab.runtime import PRECISIONS
from fbcd_lab.ui.controls import Controls, help_label, make_controls, method_settings, setting_warnings
from fbcd_lab.ui.live_plot import TEST_TITLE, VALIDATION_TITLE, LivePlot, make_figure
from fbcd_lab.ui.runner import Runner

# (n_max, val_per_class): 134 = the smallest digit class (144 training images) less the 10 set aside,
# so that every ratio, 1 included, leaves 10 unused images per class for validation.
DIGITS_SPLIT = (134, 10)


INTEGER_COLUMNS = {"u", "best_val_epoch"}
# one line a run: the numbers never wrap, and the flags (the last column) wrap in a column wide enough to read
TABLE_STYLE = ("<style>.fbcd-runs th, .fbcd-runs td {white-space: nowrap}"
               " .fbcd-runs td:last-child {white-space: normal; min-width: 36em}</style>")


def run_row(run_id: int, settings: dict, run: Run, metrics: dict, rule: str) -> dict:
    """The comparison-table row of one run: its final-epoch test metrics under ``rule`` (reported,
    not used to choose), its settings (those its method reads), its best validation epoch (None
    without a split) and the warnings its settings drew (None when none)."""
    groups, best = metrics["group_recall"], run.best or {}
    return {"run": run_id, "method": settings["method"], "rule": rule, "mean_recall": metrics["mean_recall"],
            "accuracy": metrics["accuracy"], "many": groups["many"], "medium": groups["medium"],
            "few": groups["few"], **method_settings(settings),
            "ratio": settings["imbalance_ratio"], "seed": settings["seed"], "epochs": settings["epochs"],
            "epochs_done": run.epochs_done, "stopped": run.stopped, "best_val_epoch": best.get("epoch"),
            "best_val_mean_recall": best.get("val_mean_recall"), "wall_time_s": run.wall_time_s,
            "flags": "; ".join(setting_warnings(settings)) or None}


class TrainingPanel(Controls, Runner, LivePlot):
    """ipywidgets controls + Train/Stop buttons + live plotly FigureWidget + comparison table.

    Display ``panel.widget``. ``runs`` holds the table's rows (under the rule chosen now),
    ``results[run_id]`` the trained run and its metrics under every rule, ``trained[run_id]`` its
    settings, ``datasets[ratio]`` the data it trained on (subset seed 0).
    ``val_per_class`` None takes :data:`DIGITS_SPLIT` (n_max too, unless given) on the digits and
    no split elsewhere; ``n_max`` None is otherwise the dataset's own. Without a split the curve
    is test recall every ``eval_every`` epochs. Runs train in ``precision``, fp32 by default: the
    lab's models are small, and bf16 autocast would change their numbers for little speed. They
    train on ``threads`` CPU threads, None: the trainer's choice (one for models this small: a
    second thread gains a little on an idle machine and loses many-fold beside busy processes).
    The count changes a run's last float digits, so one panel keeps one.
    """

    def __init__(self, dataset: str = "digits", preset: str = "digits", data_root: str | Path | None = None,
                 eval_every: int = 1, n_max: int | None = None, val_per_class: int | None = None,
                 precision: str = "fp32", threads: int | None = None) -> None:
        if dataset not in DEFAULT_BACKBONE:
            raise ValueError(f"dataset must be one of {tuple(DEFAULT_BACKBONE)}, got {dataset!r}")
        split = DIGITS_SPLIT if dataset == "digits" and val_per_class is None else (None, val_per_class or 0)
        self.dataset, self.preset, self.data_root, self.eval_every = dataset, preset, data_root, eval_every
        self.precision = check_choice("precision", precision, PRECISIONS)
        self.threads = None if threads is None else check("threads", threads)
        self.n_max, self.val_per_class = split[0] if n_max is None else n_max, split[1]
        self.curve = "val_mean_recall" if self.val_per_class else "test_mean_recall"
        self.controls = make_controls(optim_preset(preset).epochs)
        self.train_button = widgets.Button(description="Train", button_style="success", icon="play")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="progress")
        self.clock = widgets.Label(value="")
        self.figure = make_figure(VALIDATION_TITLE if self.val_per_class else TEST_TITLE)
        self.table = widgets.HTML()
        self.error = widgets.HTML()
        self.error.add_class("fbcd-lab-error")  # the browser test finds it by this class
        self.flags = widgets.HTML()
        self.runs: list[dict] = []
        self.results: dict[int, tuple[Run, dict]] = {}
        self.trained: dict[int, dict] = {}
        self.datasets: dict[float, LongTailData] = {}
        self.running = False
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._exception: Exception | None = None
        self._last_row: dict | None = None
        self._next_id = 1

        self.train_button.on_click(lambda _: self.train(block=False))
        self.stop_button.on_click(lambda _: self.stop())
        self.controls["method"].observe(self._sync_method, names="value")
        self.controls["rule"].observe(lambda _: self._show_table(), names="value")
        for control in self.controls.values():
            control.observe(self._show_flags, names="value")
        self._sync_method()
        self._show_flags()
        self.widget = widgets.VBox([
            *(widgets.HBox([control, help_label(name)]) for name, control in self.controls.items()),
            self.flags,
            widgets.HBox([self.train_button, self.stop_button, self.progress, self.clock]),
            self.error, self.figure, self.table,
        ])

    def _show_table(self) -> None:
        """Rebuild :attr:`runs` and the table from every finished run under the rule chosen now."""
        rule = self.controls["rule"].value
        self.runs = [run_row(i, self.trained[i], run, metrics[rule], rule)
                     for i, (run, metrics) in self.results.items()]
        frame = pd.DataFrame(self.runs)
        for column in INTEGER_COLUMNS & set(frame):  # None (a setting CE does not read) made them float
            frame[column] = ["–" if pd.isna(value) else str(int(value)) for value in frame[column]]
        table = frame.to_html(index=False, float_format=lambda x: f"{x:.3f}", na_rep="–", classes="fbcd-runs")
        self.table.value = f"<div style='overflow-x:auto'>{TABLE_STYLE}{table}</div>"  # 21 columns: scroll, don't cut
