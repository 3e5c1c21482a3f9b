"""Per-class results (notebooks 2, 5 and 10): recall by class and by group, confusion, and the
classifier's weight norms by class and by cluster."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from fbcd_lab.plots.layout import COUNT_BAR_COLOR, TALL, _by_size, _finish, series_colors


def per_class_recall_figure(counts: Sequence[int], recalls: dict[str, Sequence[float]],
                            classes: Sequence[str] | None = None,
                            title: str = "Per-class recall, classes by training size") -> go.Figure:
    """Per-class test recall, classes by decreasing training size, one line per method, over grey
    bars of the training counts (right axis, log). The paper's Fig. 3, top right."""
    order = _by_size(counts)
    names = list(classes) if classes is not None else [str(c) for c in range(len(counts))]
    x = [names[c] for c in order]
    colors = series_colors(recalls)
    fig = go.Figure()
    # The counts sit on the base axis (drawn on the right) so that they are painted under the lines.
    fig.add_bar(x=x, y=[counts[c] for c in order], name="training images", marker_color=COUNT_BAR_COLOR,
                hovertemplate="class %{x}: %{y} training images<extra></extra>")
    for name, values in recalls.items():
        fig.add_scatter(x=x, y=[values[c] for c in order], name=name, yaxis="y2", mode="lines+markers",
                        line={"color": colors[name]}, hovertemplate="class %{x}: recall %{y:.0%}<extra>"
                                                                    + name + "</extra>")
    fig.update_layout(
        xaxis={"title": {"text": "class (largest training set first)"}, "type": "category",
               "categoryorder": "array", "categoryarray": x},
        yaxis={"title": {"text": "training images (log scale)"}, "type": "log", "side": "right", "showgrid": False},
        yaxis2={"title": {"text": "test recall"}, "side": "left", "overlaying": "y", "range": [0, 1.05],
                "tickformat": ".0%", "tickmode": "linear", "tick0": 0, "dtick": 0.2},
        legend={"x": 1.1},
    )
    return _finish(fig, title)


def weight_norms_figure(counts: Sequence[int], norms: dict[str, Sequence[float]]) -> go.Figure:
    """Per-class classifier weight norm, classes by decreasing training size, grouped bars per
    method. The paper's Fig. 3, bottom."""
    order = _by_size(counts)
    x = [str(c) for c in order]
    colors = series_colors(norms)
    fig = go.Figure()
    for name, values in norms.items():
        fig.add_bar(x=x, y=[values[c] for c in order], name=name, marker_color=colors[name],
                    hovertemplate="class %{x}: %{y:.3f}<extra>" + name + "</extra>")
    fig.update_layout(barmode="group", bargap=0.15)
    fig.update_xaxes(title_text="class (largest training set first)", type="category",
                     categoryorder="array", categoryarray=x)
    fig.update_yaxes(title_text="weight norm ‖w_c‖")
    return _finish(fig, "Classifier weight norm per class",
                   subtitle="a class's norm is the mean over its clusters; a larger norm pulls predictions its way")


def cluster_norms_figure(counts: Sequence[int], norms: Sequence[float], class_of_cluster: Sequence[int],
                         classes: Sequence[str], title: str) -> go.Figure:
    """The main head's weight norm of every cluster, one marker per cluster above its class, classes
    by decreasing training size, each class's mean as a bar behind its clusters."""
    order = _by_size(counts)
    norms, owner = np.asarray(norms, dtype=float), np.asarray(class_of_cluster)
    x = [classes[c] for c in order]
    fig = go.Figure()
    fig.add_bar(x=x, y=[norms[owner == c].mean() for c in order], name="class mean", marker_color=COUNT_BAR_COLOR,
                hovertemplate="%{x}: mean %{y:.3f}<extra></extra>")
    fig.add_scatter(x=[classes[c] for c in owner], y=norms, mode="markers", name="one cluster",
                    marker={"size": 8, "color": series_colors(["one cluster"])["one cluster"]},
                    hovertemplate="%{x}: %{y:.3f}<extra>cluster</extra>")
    fig.update_xaxes(title_text="class (largest training set first)", type="category",
                     categoryorder="array", categoryarray=x)
    fig.update_yaxes(title_text="weight norm ‖w_k‖ of a cluster")
    return _finish(fig, title, subtitle="a class with u_c clusters has u_c markers")


def confusion_figure(matrix: Sequence[Sequence[int]], classes: Sequence[str], normalize: bool = True,
                     title: str = "Confusion matrix") -> go.Figure:
    """Heatmap of the confusion matrix, rows true and columns predicted; each row divided by its
    sum when ``normalize`` (a row of zeros stays zeros)."""
    z = np.asarray(matrix, dtype=float)
    if normalize:
        sums = z.sum(axis=1, keepdims=True)
        z = np.divide(z, sums, out=np.zeros_like(z), where=sums > 0)
    labels = [str(c) for c in classes]
    fig = go.Figure(go.Heatmap(z=z, x=labels, y=labels, colorscale="Blues", zmin=0,
                               zmax=1 if normalize else None,
                               hovertemplate="true %{y}, predicted %{x}: %{z" + (":.0%" if normalize else "")
                                             + "}<extra></extra>"))
    fig.update_xaxes(title_text="predicted class", type="category")
    fig.update_yaxes(title_text="true class", type="category", autorange="reversed")
    return _finish(fig, title, height=TALL,
                   subtitle="each row is one true class" + ("; rows sum to 1" if normalize else " (counts)"))


def group_recall_figure(groups: dict[str, dict[str, float | None]]) -> go.Figure:
    """Mean recall of the many / medium / few groups, one bar trace per method. An empty group
    (None) gets no bar (not 0) and an "empty" annotation."""
    names = list(dict.fromkeys(g for values in groups.values() for g in values))
    colors = series_colors(groups)
    fig = go.Figure()
    for method, values in groups.items():
        y = [values.get(g) for g in names]
        fig.add_bar(x=names, y=y, name=method, marker_color=colors[method], texttemplate="%{y:.0%}",
                    textposition="outside", hovertemplate="%{x}: %{y:.1%}<extra>" + method + "</extra>")
    for g in names:
        if any(values.get(g) is None for values in groups.values()):
            fig.add_annotation(x=g, y=0, yanchor="bottom", text="empty", showarrow=False,
                               font={"color": "#7F7F7F", "size": 14})
    fig.update_layout(barmode="group", bargap=0.2)
    fig.update_xaxes(title_text="shot group", type="category")
    fig.update_yaxes(title_text="mean recall", range=[0, 1.1], tickformat=".0%")
    return _finish(fig, "Recall on many-, medium- and few-shot classes",
                   subtitle="a group without classes is empty, not 0 %")
