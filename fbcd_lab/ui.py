"""The training lab: a widget panel to train CE, FBH, CDH or FBH + CDH and compare the runs.

:class:`TrainingPanel` puts the method's settings (u, lambda, alpha, clustering), the data's
imbalance ratio, the epochs, the training seed and the prediction rule on sliders and menus. Train
starts a run with the library's trainer; a live plot draws each run's two losses, L2 (the main
head's) and L1 (the feature-balancing head's, unweighted by lambda, so runs of any lambda compare),
and its mean recall on a validation split epoch by epoch; a table gathers one row per finished or
stopped run: its final test metrics under the prediction rule chosen now (changing the rule
re-reads every run, no retraining) and its best validation epoch. Runs with equal settings draw
in their own dash and say whose settings they repeat.

Why validation: choosing settings by the test curve fits them to the test set. The digits keep
:data:`DIGITS_SPLIT` (10 images per class, carved from the images the long tail leaves unused) for
the curve; without a split (``val_per_class=0``) the curve is the test set's, titled as one to
watch, not to tune on. The data subset stays fixed (subset seed 0); the seed control is the
training seed (initialisation, division, batch order).

Why a thread: while a cell is running, a Jupyter kernel handles no widget events, so a Stop
button next to a training loop in the kernel's main thread would never be heard. The panel
therefore trains in a worker thread and the kernel stays free; Stop sets an event that the
trainer polls between steps (``should_stop``), and the stopped run keeps what it learnt. Widget
updates from the worker are plain value assignments, which ipywidgets sends as they come.
``train(block=True)`` (tests, nbval) runs the same worker and waits for it.
"""

from __future__ import annotations

import html
import threading
import traceback
from pathlib import Path

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from fbcd_lab.checks import check_choice
from fbcd_lab.class_division import STRATEGIES
from fbcd_lab.config import DEFAULT_BACKBONE, METHODS, MethodConfig
from fbcd_lab.config import preset as optim_preset
from fbcd_lab.data.datasets import LongTailData, build_long_tailed
from fbcd_lab.models.predict import RULES
from fbcd_lab.records import evaluate_run
from fbcd_lab.run import Run
from fbcd_lab.runtime import PRECISIONS
from fbcd_lab.training import EpochCallback, fit, start_run

IMBALANCE_RATIOS = (1, 10, 20, 50, 100)
TOOLTIPS = {
    "method": "ce: plain; fbh: + feature-balancing head; cdh: class-division head; fbcd: both (the paper's)",
    "u": "clusters of the largest class (Eq. 3); 1 makes the class-division head a plain classifier",
    "lam": "weight of the feature-balancing loss L1 in L = L2 + λ L1",
    "alpha": "soft label of a sample's own cluster; its siblings share 1 - α",
    "cluster": "how a class is split into its clusters",
    "imbalance_ratio": "largest over smallest class of the long-tailed training set",
    "epochs": "training epochs (warm-up and decay scale with them)",
    "seed": "training seed: initialisation, division, batch order (the data subset stays fixed)",
    "rule": "how K cluster logits become one of C classes",
}
CONTROL_NAMES = ("method", "u", "lam", "alpha", "cluster", "imbalance_ratio", "epochs", "seed", "rule")
# (n_max, val_per_class): 134 = the smallest digit class (144 training images) less the 10 set aside,
# so that every ratio, 1 included, leaves 10 unused images per class for validation.
DIGITS_SPLIT = (134, 10)
VALIDATION_TITLE = "validation mean recall"
TEST_TITLE = "test mean recall (watch, don't tune)"


def make_controls(default_epochs: int) -> dict[str, widgets.Widget]:
    """One widget per setting, with the paper's defaults (u = 10, lambda = 1.5, random division)."""
    style = {"description_width": "110px"}
    controls = {
        "method": widgets.ToggleButtons(options=METHODS, value="fbcd", description="method", style=style),
        "u": widgets.IntSlider(value=10, min=1, max=20, description="u (clusters)", style=style),
        "lam": widgets.FloatSlider(value=1.5, min=0.0, max=3.0, step=0.1, description="λ (FBH weight)",
                                   style=style),
        "alpha": widgets.FloatSlider(value=0.5, min=0.05, max=1.0, step=0.05, description="α (soft label)",
                                     style=style),
        "cluster": widgets.Dropdown(options=STRATEGIES, value="random", description="division", style=style),
        "imbalance_ratio": widgets.SelectionSlider(options=IMBALANCE_RATIOS, value=100,
                                                   description="imbalance ratio", style=style),
        "epochs": widgets.IntSlider(value=default_epochs, min=1, max=max(100, default_epochs),
                                    description="epochs", style=style),
        "seed": widgets.IntText(value=0, description="training seed", style=style),
        "rule": widgets.Dropdown(options=RULES, value="top_cluster", description="prediction rule", style=style),
    }
    for name, widget in controls.items():
        widget.tooltip = TOOLTIPS[name]
    return controls


LOSS_TITLES = ("L2: main head's loss", "L1: FBH's loss")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def make_figure(recall_title: str = VALIDATION_TITLE) -> go.FigureWidget:
    """An empty live plot against the epoch: L2 (left), L1 (middle) and mean recall titled
    ``recall_title`` (right, 0 to 1 with room above for the title)."""
    figure = go.FigureWidget(make_subplots(rows=1, cols=3, subplot_titles=(*LOSS_TITLES, recall_title)))
    figure.update_xaxes(title_text="epoch")
    figure.update_yaxes(title_text="training loss", row=1, col=1)
    figure.update_yaxes(range=[0, 1.05], title_text="mean recall (top cluster)", row=1, col=3)
    # the legend under the plots, so that the three share the whole width and their titles fit
    figure.update_layout(height=420, margin={"t": 40, "b": 40, "l": 50, "r": 20},
                         legend={"orientation": "h", "yanchor": "top", "y": -0.2, "xanchor": "left", "x": 0})
    return figure


TRAINED_SETTINGS = tuple(name for name in CONTROL_NAMES if name != "rule")
HEAD_SETTINGS = ("u", "lam", "alpha", "cluster")


def method_settings(settings: dict) -> dict:
    """The head's settings of a run (u, lambda, alpha, clustering), None where its method does not
    read them (u, alpha and the clustering without CDH, lambda without FBH): a CE row shows none."""
    unused = MethodConfig(method=settings["method"]).unused(HEAD_SETTINGS)
    return {k: None if k in unused else settings[k] for k in HEAD_SETTINGS}


def run_row(run_id: int, settings: dict, run: Run, metrics: dict, rule: str) -> dict:
    """The comparison-table row of one run: its final-epoch test metrics under ``rule`` (reported,
    not used to choose), its settings (those its method reads), and its best validation epoch (None
    without a split)."""
    groups, best = metrics["group_recall"], run.best or {}
    return {"run": run_id, "method": settings["method"], "rule": rule, "mean_recall": metrics["mean_recall"],
            "accuracy": metrics["accuracy"], "many": groups["many"], "medium": groups["medium"],
            "few": groups["few"], **method_settings(settings),
            "ratio": settings["imbalance_ratio"], "seed": settings["seed"], "epochs": settings["epochs"],
            "epochs_done": run.epochs_done, "stopped": run.stopped, "best_val_epoch": best.get("epoch"),
            "best_val_mean_recall": best.get("val_mean_recall"), "wall_time_s": run.wall_time_s}


class TrainingPanel:
    """ipywidgets controls + Train/Stop buttons + live plotly FigureWidget + comparison table.

    Display ``panel.widget``. ``runs`` holds the table's rows (under the rule chosen now),
    ``results[run_id]`` the trained run and its metrics under every rule, ``trained[run_id]`` its
    settings, ``datasets[ratio]`` the data it trained on (subset seed 0).
    ``val_per_class`` None takes :data:`DIGITS_SPLIT` (n_max too, unless given) on the digits and
    no split elsewhere; ``n_max`` None is otherwise the dataset's own. Without a split the curve
    is test recall every ``eval_every`` epochs. Runs train in ``precision``, fp32 by default: the
    lab's models are small, and bf16 autocast would change their numbers for little speed.
    """

    def __init__(self, dataset: str = "digits", preset: str = "digits", data_root: str | Path | None = None,
                 eval_every: int = 1, n_max: int | None = None, val_per_class: int | None = None,
                 precision: str = "fp32") -> None:
        if dataset not in DEFAULT_BACKBONE:
            raise ValueError(f"dataset must be one of {tuple(DEFAULT_BACKBONE)}, got {dataset!r}")
        split = DIGITS_SPLIT if dataset == "digits" and val_per_class is None else (None, val_per_class or 0)
        self.dataset, self.preset, self.data_root, self.eval_every = dataset, preset, data_root, eval_every
        self.precision = check_choice("precision", precision, PRECISIONS)
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
        self._sync_method()
        c = self.controls
        self.widget = widgets.VBox([
            c["method"],
            widgets.HBox([widgets.VBox([c[k] for k in ("u", "lam", "alpha", "cluster")]),
                          widgets.VBox([c[k] for k in ("imbalance_ratio", "epochs", "seed", "rule")])]),
            widgets.HBox([self.train_button, self.stop_button, self.progress, self.clock]),
            self.error, self.figure, self.table,
        ])

    def settings(self) -> dict:
        """The controls' current values, by name."""
        return {name: self.controls[name].value for name in CONTROL_NAMES}

    def train(self, block: bool = True) -> dict | None:
        """Train one run with the current settings (what the Train button does).

        ``block`` waits for the run and returns its table row, re-raising any error after showing
        it; otherwise training goes on in the background and this returns None at once.
        """
        if self.running:
            raise RuntimeError("a run is already going: stop it or wait for it first")
        settings = self.settings()
        run_id, self._next_id = self._next_id, self._next_id + 1
        traces = self._add_traces(run_id, settings)
        self.trained[run_id] = settings
        self._stop_event.clear()
        self._exception, self._last_row = None, None
        self.error.value = ""
        self.progress.max, self.progress.value = settings["epochs"], 0
        self.clock.value = "starting…"
        self._set_running(True)
        self._thread = threading.Thread(target=self._work, args=(run_id, settings, traces),
                                        name=f"fbcd-lab-run-{run_id}", daemon=True)
        self._thread.start()
        if not block:
            return None
        self.wait()
        if self._exception is not None:
            raise self._exception
        return self._last_row

    def stop(self) -> None:
        """Ask the current run to stop after its current step (what the Stop button does)."""
        self._stop_event.set()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the current run to end; a kernel interrupt meanwhile stops the run."""
        if self._thread is None:
            return
        try:
            self._thread.join(timeout)
        except KeyboardInterrupt:
            self.stop()
            self._thread.join()

    def _work(self, run_id: int, settings: dict, traces: tuple[go.Scatter, ...]) -> None:
        """The worker thread's body: build or reuse the data, train, evaluate, add the row."""
        try:
            data = self._data(settings["imbalance_ratio"])
            method = MethodConfig(method=settings["method"], backbone=DEFAULT_BACKBONE[self.dataset],
                                  u=settings["u"], lam=settings["lam"], alpha=settings["alpha"],
                                  cluster=settings["cluster"])
            optim = optim_preset(self.preset, epochs=settings["epochs"])
            run = start_run(data, method, optim, seed=settings["seed"], precision=self.precision)
            eval_every = 0 if data.val is not None else self.eval_every  # the trainer scores val every epoch
            fit(run, data, eval_every=eval_every, progress=False,
                callbacks=[self._plotter(traces, method.uses_fbh)], should_stop=lambda: self._stop_event.is_set())
            metrics, protocol = evaluate_run(run, data)
            if metrics is None:
                raise ValueError(f"run {protocol}; lower lambda, or the preset's learning rate")
            self.clock.value = f"{'stopped after' if run.stopped else 'done in'} {run.wall_time_s:.1f} s"
            self.results[run_id] = (run, metrics)
            self._show_table()
            self._last_row = self.runs[-1]
        except Exception as exc:
            self._exception = exc
            traces[0].name += " (failed)"
            details = html.escape("".join(traceback.format_exception(exc)))
            self.error.value = (f"<div style='color:#b00020'><b>run {run_id} failed: "
                                f"{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</b>"
                                f"<details><summary>traceback</summary><pre>{details}</pre></details></div>")
        finally:
            self._set_running(False)

    def _data(self, ratio: float) -> LongTailData:
        """The long-tailed data for ``ratio`` (subset seed 0, the panel's split), built once and reused."""
        if ratio not in self.datasets:
            self.datasets[ratio] = build_long_tailed(self.dataset, ratio, seed=0, n_max=self.n_max,
                                                     root=self.data_root, val_per_class=self.val_per_class)
        return self.datasets[ratio]

    def _show_table(self) -> None:
        """Rebuild :attr:`runs` and the table from every finished run under the rule chosen now."""
        rule = self.controls["rule"].value
        self.runs = [run_row(i, self.trained[i], run, metrics[rule], rule)
                     for i, (run, metrics) in self.results.items()]
        table = pd.DataFrame(self.runs).to_html(index=False, float_format=lambda x: f"{x:.3f}", na_rep="–")
        self.table.value = f"<div style='overflow-x:auto'>{table}</div>"  # 21 columns: scroll, don't cut

    def _add_traces(self, run_id: int, settings: dict) -> tuple[go.Scatter, ...]:
        """L2, L1 and recall traces for a new run, in one colour and dash, one legend entry; a run
        that repeats an earlier run's settings says whose."""
        used = method_settings(settings)
        name = " ".join([f"run {run_id}: {settings['method']}", *([f"u={used['u']}"] if used["u"] is not None else []),
                         *([f"λ={used['lam']:g}"] if used["lam"] is not None else [])])
        same = [i for i, s in self.trained.items() if all(s[k] == settings[k] for k in TRAINED_SETTINGS)]
        if same:
            name += f" (settings of run {same[0]})"
        line = {"color": qualitative.Plotly[(run_id - 1) % len(qualitative.Plotly)],
                "dash": DASHES[(run_id - 1) % len(DASHES)]}
        for col in (1, 2, 3):
            self.figure.add_scatter(x=(), y=(), mode="lines+markers", name=name, legendgroup=name,
                                    showlegend=col == 1, line=line, row=1, col=col)
        return tuple(self.figure.data[-3:])

    def _plotter(self, traces: tuple[go.Scatter, ...], uses_fbh: bool) -> EpochCallback:
        """The epoch callback: extend the run's L2, L1 (only where FBH trains) and recall
        (:attr:`curve`) traces and advance the progress bar."""
        points = [([], []) for _ in traces]

        def on_epoch(record: dict) -> None:
            for (x, y), key, drawn in zip(points, ("l2", "l1", self.curve),
                                          (True, uses_fbh, self.curve in record)):
                if drawn:
                    x.append(record["epoch"])
                    y.append(record[key])
            with self.figure.batch_update():
                for trace, (x, y) in zip(traces, points):
                    trace.x, trace.y = tuple(x), tuple(y)
            self.progress.value = record["epoch"]
            done, total = record["epoch"], self.progress.max
            left = record["time_s"] / done * (total - done)
            self.clock.value = f"epoch {done}/{total} · {record['time_s']:.1f} s elapsed · ~{left:.0f} s left"

        return on_epoch

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.train_button.disabled = running
        self.stop_button.disabled = not running

    def _sync_method(self, change: dict | None = None) -> None:
        """Grey out the settings the chosen method does not use."""
        method = MethodConfig(method=self.controls["method"].value)
        for name in ("u", "alpha", "cluster"):
            self.controls[name].disabled = not method.uses_cdh
        self.controls["lam"].disabled = not method.uses_fbh

