"""The training lab's live plot: L2, L1 and the recall curve against the epoch, one colour and dash
a run, extended by an epoch callback as the run trains."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from fbcd_lab.training import EpochCallback
from fbcd_lab.ui.controls import TRAINED_SETTINGS, method_settings

VALIDATION_TITLE = "validation mean recall"
TEST_TITLE = "test mean recall (watch, don't tune)"
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


class LivePlot:
    """The panel's part that draws each run on ``self.figure`` (with ``self.progress`` and ``self.clock``)."""

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
