"""Comparing runs (notebooks 5, 6, 7 and 9): prediction rules and heads side by side, sweeps over a
setting, and training histories."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from fbcd_lab.plots.layout import _finish, series_colors


def _grouped_bars(values: dict[str, dict[str, float]], text: str, hover: str) -> go.Figure:
    """One bar trace per series of ``values`` ({series: {x: y}}), grouped at each x in first-seen order,
    each bar labelled with ``text`` and hovered with ``hover`` (plotly templates)."""
    xs = list(dict.fromkeys(x for per_x in values.values() for x in per_x))
    colors = series_colors(values)
    fig = go.Figure()
    for name, per_x in values.items():
        fig.add_bar(x=xs, y=[per_x.get(x) for x in xs], name=name, marker_color=colors[name], texttemplate=text,
                    textposition="outside", hovertemplate=hover + "<extra>" + name + "</extra>")
    fig.update_layout(barmode="group", bargap=0.2)
    return fig


def rules_figure(values: dict[str, dict[str, float]]) -> go.Figure:
    """Mean recall under each prediction rule (x), one bar trace per method."""
    fig = _grouped_bars(values, "%{y:.1%}", "%{x}: %{y:.1%}")
    fig.update_xaxes(title_text="prediction rule", type="category")
    fig.update_yaxes(title_text="mean recall", range=[0, 1.1], tickformat=".0%")
    return _finish(fig, "How much of the gain is the prediction rule?")


def head_gains_figure(gains: dict[str, dict[str, float]], title: str) -> go.Figure:
    """Each head's gain over cross-entropy in points (x: the heads), one bar trace per setting
    (dataset, backbone): Table 4 read as differences, so settings of any accuracy compare."""
    fig = _grouped_bars(gains, "%{y:+.1f}", "%{x}: %{y:+.2f} points")
    fig.update_xaxes(title_text="head(s) added to the backbone", type="category")
    fig.update_yaxes(title_text="gain over cross-entropy (points)", zeroline=True)
    return _finish(fig, title)


def sweep_figure(x: Sequence, means: dict[str, Sequence[float]], stds: dict[str, Sequence[float]],
                 x_title: str, title: str, y_title: str = "mean recall (mean ± std over seeds)") -> go.Figure:
    """Mean ± standard deviation over seeds (error bars), one trace per series; lines join numeric
    x (e.g. u), markers stand side by side on categorical x (e.g. strategies). The paper's Fig. 4."""
    x = list(x)
    numeric = all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in x)
    colors = series_colors(means)
    fig = go.Figure()
    for name, y in means.items():
        fig.add_scatter(x=x, y=list(y), name=name, mode="lines+markers" if numeric else "markers",
                        marker={"size": 9, "color": colors[name]}, line={"color": colors[name]},
                        error_y={"type": "data", "array": list(stds[name]), "visible": True},
                        customdata=list(stds[name]),
                        hovertemplate="%{x}: %{y:.1%} ± %{customdata:.1%}<extra>" + name + "</extra>")
    fig.update_xaxes(title_text=x_title, type="linear" if numeric else "category")
    fig.update_yaxes(title_text=y_title, tickformat=".0%")
    if not numeric:
        fig.update_layout(scattermode="group")
    return _finish(fig, title)


def history_figure(histories: dict[str, list[dict]]) -> go.Figure:
    """Training loss per epoch (left) and, where the records hold it, test mean recall (right), one
    trace per run name."""
    with_recall = any("test_mean_recall" in r for records in histories.values() for r in records)
    titles = ("training loss", "test mean recall") if with_recall else ("training loss",)
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles)
    colors = series_colors(histories)
    for name, records in histories.items():
        style = {"name": name, "legendgroup": name, "mode": "lines+markers", "line": {"color": colors[name]}}
        epochs = [r.get("epoch", i + 1) for i, r in enumerate(records)]
        fig.add_scatter(x=epochs, y=[r["loss"] for r in records], row=1, col=1, **style)
        if with_recall:
            scored = [(e, r["test_mean_recall"]) for e, r in zip(epochs, records) if "test_mean_recall" in r]
            fig.add_scatter(x=[e for e, _ in scored], y=[v for _, v in scored], row=1, col=2,
                            showlegend=False, **style)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="loss", row=1, col=1)
    if with_recall:
        fig.update_yaxes(title_text="mean recall", tickformat=".0%", range=[0, 1], row=1, col=2)
    return _finish(fig, "Training history")
