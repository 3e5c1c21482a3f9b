"""The training lab's runner: Train, Stop and wait, and the worker thread that builds the data,
trains (the kernel stays free to hear Stop), evaluates and adds the run's row."""

from __future__ import annotations

import html
import threading
import traceback

import plotly.graph_objects as go

from fbcd_lab.config import DEFAULT_BACKBONE, MethodConfig
from fbcd_lab.config import preset as optim_preset
from fbcd_lab.data.datasets import LongTailData, build_long_tailed
from fbcd_lab.records import evaluate_run
from fbcd_lab.training import fit, start_run


class Runner:
    """The panel's part that runs the training thread."""

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
            fit(run, data, eval_every=eval_every, progress=False, threads=self.threads,
                callbacks=[self._plotter(traces, method.uses_fbh)], should_stop=lambda: self._stop_event.is_set())
            metrics, protocol = evaluate_run(run, data)
            if metrics is None:
                raise ValueError(f"run {protocol}; lower lambda, or the preset's learning rate")
            where = (f"{run.threads} CPU thread{'s' if run.threads > 1 else ''}" if run.device.type == "cpu"
                     else str(run.device))
            self.clock.value = f"{'stopped after' if run.stopped else 'done in'} {run.wall_time_s:.1f} s on {where}"
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

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.train_button.disabled = running
        self.stop_button.disabled = not running
