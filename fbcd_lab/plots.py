"""Every chart of the notebooks: plotly figure builders that return a figure and never show it.

One look throughout (template ``plotly_white``, 300-450 px high) and one colour per method
(:data:`METHOD_COLORS`; other series take plotly's qualitative palette in order). Per-class charts
order the classes by decreasing training size, as the paper's Fig. 3 does. :func:`describe` sums a
figure up in a few lines of rounded numbers, and :func:`show` displays it as the chart's plain-text
alternative, so that a notebook's checked outputs compare what its charts show.
"""

from __future__ import annotations

import base64
import io
import math
import numbers
from collections.abc import Iterable, Sequence

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio
import torch
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from fbcd_lab.data.long_tail import shot_groups

TEMPLATE = "plotly_white"
HEIGHT = 380
TALL = 450
METHOD_COLORS = {"ce": "#0072B2", "fbh": "#009E73", "cdh": "#E69F00", "fbcd": "#D55E00"}
COUNT_BAR_COLOR = "rgba(160, 160, 160, 0.45)"
CLUSTER_COLORS = qualitative.Dark24
NOTEBOOK_RENDERER = "plotly_mimetype+notebook_connected"
MAX_VALUES = 12


def setup_notebook(renderer: str = NOTEBOOK_RENDERER) -> None:
    """Make ``renderer`` and the kit's template plotly's defaults: interactive in JupyterLab, and
    HTML that loads plotly.js from its CDN in exported notebooks (lighter than embedding it)."""
    pio.renderers.default = renderer
    pio.templates.default = TEMPLATE


def series_colors(names: Iterable[str]) -> dict[str, str]:
    """A colour per series: a method's own colour, else the next of plotly's qualitative palette."""
    colors, spare = {}, 0
    for name in names:
        if name in METHOD_COLORS:
            colors[name] = METHOD_COLORS[name]
        elif name not in colors:
            colors[name] = qualitative.Plotly[spare % len(qualitative.Plotly)]
            spare += 1
    return colors


def _finish(fig: go.Figure, title: str, height: int = HEIGHT, subtitle: str | None = None) -> go.Figure:
    """Apply the shared look: template, left-aligned title (and subtitle), height and margins."""
    heading = {"text": title, "x": 0.01, "xanchor": "left"}
    if subtitle:
        heading["subtitle"] = {"text": subtitle}
    fig.update_layout(template=TEMPLATE, title=heading, height=height,
                      margin={"l": 60, "r": 30, "t": 90 if subtitle else 60, "b": 50})
    return fig


def _by_size(counts: Sequence[int]) -> np.ndarray:
    """Class indices by decreasing training count (ties keep index order)."""
    return np.argsort(-np.asarray(counts), kind="stable")


def class_counts_figure(counts: dict[str, Sequence[int]], log_y: bool = True,
                        title: str = "Images per class", classes: Sequence[str] | None = None) -> go.Figure:
    """Grouped bars of images per class, one trace per entry (e.g. train and test); log y by default.
    ``classes`` names the x ticks instead of class indices."""
    colors = series_colors(counts)
    fig = go.Figure()
    for name, values in counts.items():
        x = list(classes) if classes is not None else list(range(len(values)))
        fig.add_bar(x=x, y=list(values), name=name, marker_color=colors[name],
                    hovertemplate="class %{x}: %{y} images<extra>" + name + "</extra>")
    fig.update_layout(barmode="group", bargap=0.15)
    fig.update_xaxes(title_text="class" if classes is not None else "class index",
                     type="category" if classes is not None else "linear")
    fig.update_yaxes(title_text="images" + (" (log scale)" if log_y else ""), type="log" if log_y else "linear")
    return _finish(fig, title)


def image_mosaic(images: torch.Tensor | np.ndarray, labels: np.ndarray, num_classes: int,
                 per_class: int = 6, seed: int = 0) -> np.ndarray:
    """One row per class of ``per_class`` seeded random images (white where a class has fewer):
    a uint8 (classes*H, per_class*W) array for grey images, (classes*H, per_class*W, 3) for colour."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] not in (1, 3) or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (N, C, H, W) with C 1 or 3, got {images.dtype} {images.shape}")
    _, channels, h, w = images.shape
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    mosaic = np.full((num_classes * h, per_class * w, channels), 255, dtype=np.uint8)
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        chosen = np.sort(rng.choice(members, min(per_class, len(members)), replace=False))
        for j, i in enumerate(chosen):
            mosaic[c * h:(c + 1) * h, j * w:(j + 1) * w] = images[i].transpose(1, 2, 0)
    return mosaic[..., 0] if channels == 1 else mosaic


def image_grid_figure(images: torch.Tensor | np.ndarray, labels: np.ndarray, classes: Sequence[str],
                      per_class: int = 6, seed: int = 0) -> go.Figure:
    """Training images, one row per class (:func:`image_mosaic`), shown as one compact PNG."""
    mosaic = image_mosaic(images, labels, len(classes), per_class, seed)
    h = mosaic.shape[0] // len(classes)
    fig = px.imshow(mosaic, binary_string=True, contrast_rescaling="infer")
    fig.update_traces(hoverinfo="skip")
    fig.update_xaxes(showticklabels=False, ticks="", showgrid=False)
    fig.update_yaxes(tickvals=[c * h + (h - 1) / 2 for c in range(len(classes))], ticktext=list(classes),
                     title_text="class", showgrid=False)
    return _finish(fig, f"Up to {per_class} random training images per class (blank: the class has fewer)",
                   height=min(TALL, max(300, 30 * len(classes) + 100)))


def division_figure(counts: Sequence[int], clusters_per_class: Sequence[int],
                    classes: Sequence[str] | None = None) -> go.Figure:
    """Class sizes n_c beside mean cluster sizes n_c / u_c (log y), per class index or per name in
    ``classes``. The title gives the imbalance ratio before (max / min n_c) and after
    (max / min n_c / u_c) to one decimal, e.g. "10.0"."""
    n = np.asarray(counts, dtype=float)
    u_c = np.asarray(clusters_per_class, dtype=float)
    if n.shape != u_c.shape or (u_c < 1).any():
        raise ValueError(f"need one u_c >= 1 per class, got counts {list(counts)} and u_c {list(clusters_per_class)}")
    if classes is not None and len(classes) != len(n):
        raise ValueError(f"need one class name per class, got {len(classes)} names for {len(n)} classes")
    sizes = n / u_c
    before, after = n.max() / n.min(), sizes.max() / sizes.min()
    x = list(range(len(n))) if classes is None else [str(c) for c in classes]
    fig = go.Figure()
    fig.add_bar(x=x, y=n.tolist(), name="class size n_c", marker_color="#7F7F7F",
                hovertemplate="class %{x}: %{y} images<extra></extra>")
    fig.add_bar(x=x, y=sizes.tolist(), name="images per cluster n_c / u_c", marker_color=METHOD_COLORS["cdh"],
                customdata=u_c.astype(int), hovertemplate="class %{x}: %{customdata} clusters of %{y:.1f} images"
                                                          "<extra></extra>")
    fig.update_layout(barmode="group", bargap=0.15)
    fig.update_xaxes(title_text="class index" if classes is None else "class", type="category")
    fig.update_yaxes(title_text="images (log scale)", type="log")
    return _finish(fig, f"Imbalance ratio before division {before:.1f}, after {after:.1f} (K = {int(u_c.sum())})",
                   subtitle="largest / smallest class, then largest / smallest mean cluster size")


def _cluster_traces(points: np.ndarray, clusters: np.ndarray, showlegend: bool) -> list[go.Scatter]:
    """One marker trace per cluster id (named by the id, as a category), in increasing id order."""
    points, clusters = np.asarray(points), np.asarray(clusters)
    return [go.Scatter(x=points[clusters == k, 0], y=points[clusters == k, 1], mode="markers", name=str(k),
                       legendgroup=str(k), showlegend=showlegend,
                       marker={"size": 6, "opacity": 0.8, "color": CLUSTER_COLORS[j % len(CLUSTER_COLORS)]},
                       hovertemplate=f"cluster {k}<extra></extra>")
            for j, k in enumerate(np.unique(clusters))]


def embedding_figure(points: np.ndarray, clusters: np.ndarray, title: str) -> go.Figure:
    """2-D scatter of ``points`` (N, 2), coloured by cluster id."""
    fig = go.Figure(_cluster_traces(points, clusters, showlegend=True))
    fig.update_xaxes(title_text="embedding axis 1")
    fig.update_yaxes(title_text="embedding axis 2")
    fig.update_layout(legend_title_text="cluster")
    return _finish(fig, title)


def embeddings_figure(panels: dict[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """Side-by-side 2-D scatters, one per panel name (e.g. a division strategy), coloured by cluster."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=list(panels), horizontal_spacing=0.05)
    for col, (points, clusters) in enumerate(panels.values(), start=1):
        for trace in _cluster_traces(points, clusters, showlegend=col == 1):
            fig.add_trace(trace, row=1, col=col)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(legend_title_text="cluster")
    return _finish(fig, "The same images divided by each strategy (colour = cluster)", height=TALL)


def soft_label_figure(q: np.ndarray, class_of_cluster: np.ndarray) -> go.Figure:
    """Heatmap of the (K, K) soft-label matrix; ticks "c{class}/k{cluster}" with the cluster's
    global id k (its row of the matrix and its output of the main head)."""
    ticks = [f"c{c}/k{k}" for k, c in enumerate(np.asarray(class_of_cluster).tolist())]
    fig = go.Figure(go.Heatmap(z=np.asarray(q), x=ticks, y=ticks, colorscale="Blues", zmin=0, zmax=1,
                               colorbar={"title": {"text": "target"}},
                               hovertemplate="sample in %{y}<br>target on %{x}: %{z:.3f}<extra></extra>"))
    fig.update_xaxes(title_text="target cluster", type="category", tickangle=-90)
    fig.update_yaxes(title_text="cluster of the sample", type="category", autorange="reversed")
    return _finish(fig, "Soft labels: α on the own cluster, the rest shared by its siblings", height=TALL,
                   subtitle="each row is one training target and sums to 1")


def per_class_recall_figure(counts: Sequence[int], recalls: dict[str, Sequence[float]],
                            classes: Sequence[str] | None = None,
                            title: str = "Per-class recall: the gain is in the tail") -> go.Figure:
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


def rule_sweep_figure(taus: Sequence[float], means: dict[str, Sequence[float]], stds: dict[str, Sequence[float]],
                      levels: dict[str, dict[str, tuple[float, float | None]]]) -> go.Figure:
    """Mean recall of post-hoc logit adjustment against tau (mean ± std over seeds), one line per model,
    and each model's ``levels[model][rule] = (mean, std)`` (top_cluster, sum_clusters) as a dashed or
    dotted horizontal line across the taus."""
    taus = [float(t) for t in taus]
    colors = series_colors([*means, *levels])
    fig = go.Figure()
    for name, y in means.items():
        fig.add_scatter(x=taus, y=list(y), name=f"{name} logit_adjusted", legendgroup=name, mode="lines+markers",
                        marker={"size": 8, "color": colors[name]}, line={"color": colors[name]},
                        error_y={"type": "data", "array": list(stds[name]), "visible": True},
                        customdata=list(stds[name]),
                        hovertemplate="tau %{x}: %{y:.1%} ± %{customdata:.1%}<extra>" + name + "</extra>")
    dashes = {"top_cluster": "dash", "sum_clusters": "dot"}
    for name, per_rule in levels.items():
        for rule, (mean, sd) in per_rule.items():
            spread = "" if sd is None else f" ± {sd:.1%}"
            fig.add_scatter(x=[min(taus), max(taus)], y=[mean, mean], name=f"{name} {rule}", legendgroup=name,
                            mode="lines", line={"color": colors[name], "dash": dashes.get(rule, "dashdot")},
                            meta={"level": mean, "sd": sd},
                            hovertemplate=f"{rule}: {mean:.1%}{spread}<extra>{name}</extra>")
    fig.update_xaxes(title_text="tau of post-hoc logit adjustment (0: top cluster)")
    fig.update_yaxes(title_text="mean recall (mean ± std over seeds)", tickformat=".0%")
    return _finish(fig, "Prediction rules: logit adjustment swept over tau",
                   subtitle="lines: logit_adjusted, tau times each model's own log prior (CE: classes, the two "
                            "heads: clusters); dashed: top_cluster; dotted: sum_clusters")


def group_energy_figure(energies: dict[str, np.ndarray], classes: Sequence[str]) -> go.Figure:
    """Row-normalised channel-group energy (``analysis.group_energy``), one heatmap per panel name side by
    side on one colour scale: rows true class, columns the class's channel group."""
    labels = [str(c) for c in classes]
    top = max(float(np.nanmax(np.asarray(z, dtype=float))) for z in energies.values())
    fig = make_subplots(rows=1, cols=len(energies), subplot_titles=list(energies), horizontal_spacing=0.08)
    for col, z in enumerate(energies.values(), start=1):
        fig.add_trace(go.Heatmap(z=np.asarray(z, dtype=float), x=labels, y=labels, name="group energy",
                                 coloraxis="coloraxis",
                                 hovertemplate="class %{y} images, group %{x}: %{z:.0%}<extra></extra>"),
                      row=1, col=col)
    fig.update_xaxes(title_text="channel group", type="category")
    fig.update_yaxes(title_text="true class", type="category", autorange="reversed", col=1)
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_layout(coloraxis={"colorscale": "Blues", "cmin": 0, "cmax": top,
                                 "colorbar": {"title": {"text": "share"}, "tickformat": ".0%"}})
    return _finish(fig, "Energy of each class's channel group, per true class",
                   subtitle="each row sums to 1; a bright diagonal: class-c images fire group c", height=TALL)


def kernel_norms_figure(counts: Sequence[int], norms: dict[str, Sequence[float]]) -> go.Figure:
    """L2 norm of each class's FBH kernel (``analysis.fbh_kernel_norms``), classes by decreasing training
    size, grouped bars per series (e.g. training seed)."""
    order = _by_size(counts)
    x = [str(c) for c in order]
    colors = series_colors(norms)
    fig = go.Figure()
    for name, values in norms.items():
        fig.add_bar(x=x, y=[float(values[c]) for c in order], name=name, marker_color=colors[name],
                    hovertemplate="class %{x}: %{y:.3f}<extra>" + name + "</extra>")
    fig.update_layout(barmode="group", bargap=0.15)
    fig.update_xaxes(title_text="class (largest training set first)", type="category",
                     categoryorder="array", categoryarray=x)
    fig.update_yaxes(title_text="kernel norm")
    return _finish(fig, "FBH kernel norm per class")


def cluster_mass_figure(confusion: dict) -> go.Figure:
    """Where the main head's probability mass goes (``analysis.cluster_confusion``): stacked bars of the
    true class's best cluster, its siblings and other classes, for right and wrong images (all, and
    divided classes alone); x labels give the image counts."""
    blocks = {"right": confusion["right"], "wrong": confusion["wrong"],
              "right, divided": confusion["divided_classes"]["right"],
              "wrong, divided": confusion["divided_classes"]["wrong"]}
    x = [f"{name} ({block['images']})" for name, block in blocks.items()]
    parts = {"best_true_cluster": ("best true cluster", "#009E73"), "true_siblings": ("true siblings", "#E69F00"),
             "other_classes": ("other classes", "#7F7F7F")}
    fig = go.Figure()
    for key, (name, color) in parts.items():
        fig.add_bar(x=x, y=[block["mass"][key] for block in blocks.values()], name=name, marker_color=color,
                    hovertemplate="%{x} images: %{y:.1%}<extra>" + name + "</extra>")
    fig.update_layout(barmode="stack", bargap=0.3)
    fig.update_xaxes(title_text="test images (count), by whether the top cluster is of the true class",
                     type="category")
    fig.update_yaxes(title_text="mean softmax mass", range=[0, 1], tickformat=".0%")
    return _finish(fig, "Where the class-division head puts its probability mass",
                   subtitle="divided: images of classes with u_c > 1, the only ones with siblings")


def effective_prior_figure(counts: Sequence[int], log_priors: dict[str, Sequence[float]]) -> go.Figure:
    """Per-class log priors (e.g. CE's log(n_c / N) and the top-cluster rule's effective one), classes by
    decreasing training size, one line per series."""
    order = _by_size(counts)
    x = [str(c) for c in order]
    colors = series_colors(log_priors)
    fig = go.Figure()
    for name, values in log_priors.items():
        fig.add_scatter(x=x, y=[float(values[c]) for c in order], name=name, mode="lines+markers",
                        line={"color": colors[name]}, hovertemplate="class %{x}: %{y:.2f}<extra>" + name + "</extra>")
    fig.update_xaxes(title_text="class (largest training set first)", type="category",
                     categoryorder="array", categoryarray=x)
    fig.update_yaxes(title_text="log prior")
    return _finish(fig, "The class prior each rule implies",
                   subtitle="a flatter line favours the head less; logit adjustment at tau tilts CE's by tau")


def reliability_figure(reliabilities: dict[str, dict[str, dict]]) -> go.Figure:
    """Reliability diagrams (``analysis.reliability``): one panel per rule, accuracy per confidence bin
    (at the bin centre; gaps for empty bins) one line per model, and the diagonal of perfect calibration.
    ``reliabilities[model][rule]`` is one reliability dict."""
    rules = list(dict.fromkeys(rule for per_rule in reliabilities.values() for rule in per_rule))
    colors = series_colors(reliabilities)
    fig = make_subplots(rows=1, cols=len(rules), subplot_titles=rules, horizontal_spacing=0.05, shared_yaxes=True)
    for col, rule in enumerate(rules, start=1):
        fig.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line={"color": "#BBBBBB", "dash": "dot"}, row=1, col=col)
        for model, per_rule in reliabilities.items():
            if rule not in per_rule:
                continue
            found = per_rule[rule]
            bins = found["bins"]
            fig.add_scatter(x=[(b["lower"] + b["upper"]) / 2 for b in bins], y=[b["accuracy"] for b in bins],
                            name=model, legendgroup=model, showlegend=col == 1, mode="lines+markers",
                            connectgaps=False, line={"color": colors[model]},
                            customdata=[[b["count"], b["confidence"]] for b in bins],
                            hovertemplate="bin at %{x:.2f}: accuracy %{y:.0%}, mean confidence "
                                          "%{customdata[1]:.2f}, %{customdata[0]} images<extra>"
                                          + f"{model}, ECE {found['ece']:.3f}</extra>", row=1, col=col)
    fig.update_xaxes(title_text="confidence", range=[0, 1])
    fig.update_yaxes(title_text="accuracy", range=[0, 1.02], tickformat=".0%", col=1)
    return _finish(fig, "Reliability per prediction rule",
                   subtitle="points under the dotted diagonal: over-confident")


def tsne_figure(panels: dict[str, tuple[np.ndarray, np.ndarray]], counts: Sequence[int],
                classes: Sequence[str]) -> go.Figure:
    """2-D embeddings (e.g. t-SNE) side by side, ``panels[name] = (points (N, 2), labels (N,))``, one colour
    per class; few-shot classes (``shot_groups``) are drawn as larger open diamonds and named "(tail)"."""
    tail = set(shot_groups(list(counts))["few"])
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=list(panels), horizontal_spacing=0.05)
    for col, (points, labels) in enumerate(panels.values(), start=1):
        points, labels = np.asarray(points), np.asarray(labels)
        for c, name in enumerate(classes):
            mask = labels == c
            is_tail = c in tail
            fig.add_scatter(x=points[mask, 0], y=points[mask, 1], mode="markers",
                            name=f"{name} (tail)" if is_tail else str(name), legendgroup=str(c),
                            showlegend=col == 1,
                            marker={"color": CLUSTER_COLORS[c % len(CLUSTER_COLORS)], "size": 9 if is_tail else 5,
                                    "symbol": "diamond-open" if is_tail else "circle", "opacity": 0.85},
                            hovertemplate=f"class {name}<extra></extra>", row=1, col=col)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(legend_title_text="class")
    return _finish(fig, "t-SNE of test-set pooled features (colour = class)",
                   subtitle="open diamonds: few-shot (tail) classes", height=TALL)


def waterfall_figure(decomposition: dict, rule: str = "top_cluster",
                     title: str = "Where the gain comes from: CE to FBH + CDH") -> go.Figure:
    """``analysis.waterfall``'s decomposition as one plotly Waterfall in mean-recall points: CE, + prior
    correction, + better features, + the rest, = FBH + CDH under ``rule`` (``analysis.waterfall_rows``);
    mean over seeds, the sd in the hover text and in :func:`describe` (via the trace's ``meta``)."""
    from fbcd_lab.analysis import waterfall_rows

    rows = [(stats, label) for label, stats, _ in waterfall_rows(decomposition, rule)]
    x = [label for _, label in rows]
    means = [stats["mean"] for stats, _ in rows]
    sds = [stats["sd"] for stats, _ in rows]
    measure = ["absolute", "relative", "relative", "relative", "total"]
    hover = []
    for (stats, label), kind in zip(rows, measure):
        sign = "+" if kind == "relative" else ""
        spread = "" if stats["sd"] is None else f" ± {stats['sd']:.1f}"
        seeds = ", ".join(f"{v:{sign}.1f}" for v in stats["per_seed"])
        hover.append(f"{label}: {stats['mean']:{sign}.1f}{spread} points<br>per seed: {seeds}")
    n = len(decomposition["seeds"])
    fig = go.Figure(go.Waterfall(
        x=x, y=means, measure=measure, name="mean recall", text=[f"{m:{'+' if k == 'relative' else ''}.1f}"
                                                                  for m, k in zip(means, measure)],
        textposition="outside", hovertext=hover, hoverinfo="text", meta={"sd": sds},
        increasing={"marker": {"color": "#009E73"}}, decreasing={"marker": {"color": "#CC79A7"}},
        totals={"marker": {"color": METHOD_COLORS["fbcd"]}}, connector={"line": {"color": "#BBBBBB"}}))
    fig.update_xaxes(type="category", title_text="level, then each step's change")
    fig.update_yaxes(title_text="mean recall (points)")
    return _finish(fig, title, subtitle=f"mean over {n} training seeds; the spread is in the hover text" if n > 1
                   else "one training seed")


def show(fig: go.Figure, digits: int = 2) -> None:
    """Display ``fig`` with :func:`describe` as its plain-text alternative: JupyterLab and the HTML
    export draw the chart, a viewer without plotly (or a screen reader, or nbval, which skips
    plotly's own payloads) reads its rounded numbers; the learner sees no text line under the chart."""
    from IPython.display import display

    display({**fig._repr_mimebundle_(), "text/plain": describe(fig, digits)}, raw=True)


def describe(fig: go.Figure, digits: int = 2, max_values: int = MAX_VALUES) -> str:
    """The title, an ``x:`` line where x changes, then per trace its name and rounded y (± error), a
    heatmap's diagonal, an image's size, a point cloud's size, a reference level's value or a waterfall's
    bars (± the sd in its ``meta``): a figure's numbers as text to read and compare. Series over
    ``max_values`` keep their ends and extremes; gaps print as ``-``."""
    lines = [fig.layout.title.text] if fig.layout.title.text else []
    subplots = _subplot_titles(fig)
    clouds: dict[str, list[str]] = {}
    last_x = None
    for trace in fig.data:
        where = subplots.get(trace.xaxis or "x")
        label = ("image" if trace.type == "image" else trace.name or trace.type) + (f" ({where})" if where else "")
        if trace.type == "heatmap":
            lines.append(f"{label}: {_describe_matrix(trace, digits, max_values)}")
        elif trace.type == "image":
            lines.append(f"{label}: {_describe_image(trace)}")
        elif trace.type == "waterfall":
            lines += _describe_waterfall(trace, digits)
        elif isinstance(trace.meta, dict) and "level" in trace.meta:
            lines.append(f"{label}: {_describe_level(trace.meta, digits)}")
        elif _is_point_cloud(trace):
            clouds.setdefault(where or "points", []).append(f"{trace.name}={len(trace.x)}")
        else:
            x = _labels(trace.x, digits) if trace.x is not None else None
            if x is not None and x != last_x:
                lines.append("x: " + " ".join(_shorten(x, max_values)))
                last_x = x
            lines.append(f"{label}: {_describe_series(trace, x, digits, max_values)}")
    lines += [f"{where}: points per trace {' '.join(sizes)}" for where, sizes in clouds.items()]
    return "\n".join(lines)


def _is_number(value) -> bool:
    """A finite real number (not a bool, None, NaN or text)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _numbers(values: Sequence, digits: int) -> list[str]:
    """Whole numbers as integers when all of ``values`` are whole, else ``digits`` decimals; ``-`` for gaps."""
    whole = all(float(v).is_integer() for v in values if _is_number(v))
    return [("-" if not _is_number(v) else f"{v:.0f}" if whole else f"{v:.{digits}f}") for v in values]


def _labels(values: Sequence, digits: int) -> list[str]:
    """Axis labels as text: numbers rounded as by :func:`_numbers`, anything else as it is."""
    values = list(values)
    return _numbers(values, digits) if all(_is_number(v) for v in values) else [str(v) for v in values]


def _shorten(items: list[str], max_values: int) -> list[str]:
    """``items`` as they are, or their first and last third of ``max_values`` around an ellipsis."""
    if len(items) <= max_values:
        return items
    keep = max(1, max_values // 3)
    return [*items[:keep], "…", *items[-keep:]]


def _describe_series(trace, x: list[str] | None, digits: int, max_values: int) -> str:
    """A bar's or a line's y values (with their error bars); a long one also names its extremes."""
    y = list(trace.y) if trace.y is not None else []
    values = _numbers(y, digits)
    errors = trace.error_y.array if trace.type == "scatter" and trace.error_y.visible else None
    text = values if errors is None else [f"{v}±{e}" if _is_number(raw) else v
                                          for v, e, raw in zip(values, _numbers(list(errors), digits), y)]
    line = " ".join(_shorten(text, max_values))
    finite = [i for i, v in enumerate(y) if _is_number(v)]
    if len(y) <= max_values or not finite:
        return line
    at = x or [str(i) for i in range(len(y))]
    low, high = min(finite, key=lambda i: y[i]), max(finite, key=lambda i: y[i])
    return f"{line} ({len(y)} values; min {values[low]} at {at[low]}, max {values[high]} at {at[high]})"


def _describe_level(meta: dict, digits: int) -> str:
    """A horizontal reference line (``meta = {"level": mean, "sd": sd or None}``): its one value ± sd."""
    value, sd = meta["level"], meta.get("sd")
    text = _numbers([value], digits)[0] + ("" if sd is None else f"±{_numbers([sd], digits)[0]}")
    return f"{text} (level)"


def _describe_waterfall(trace, digits: int) -> list[str]:
    """One line per bar of a waterfall: its label and value, signed for a relative step, ± the spread
    that ``meta["sd"]`` holds (if any), and "(total)" for a computed total."""
    y = list(trace.y) if trace.y is not None else []
    x = [str(v) for v in trace.x] if trace.x is not None else [str(i) for i in range(len(y))]
    measure = list(trace.measure) if trace.measure is not None else ["relative"] * len(y)
    sds = trace.meta.get("sd") if isinstance(trace.meta, dict) else None
    values = _numbers(y, digits)
    errors = _numbers(list(sds), digits) if sds is not None else ["-"] * len(y)
    lines = []
    for label, v, text, error, kind in zip(x, y, values, errors, measure):
        sign = "+" if kind == "relative" and _is_number(v) and v >= 0 else ""
        spread = "" if error == "-" else f"±{error}"
        lines.append(f"{label}: {sign}{text}{spread}" + (" (total)" if kind == "total" else ""))
    return lines


def _describe_matrix(trace, digits: int, max_values: int) -> str:
    """A heatmap's shape, and its diagonal and largest off-diagonal cell when square, else its range."""
    z = np.asarray(trace.z, dtype=float)
    rows, cols = z.shape
    cells = np.array(_numbers(z.ravel().tolist(), digits), dtype=object).reshape(z.shape)
    if rows != cols or rows < 2:
        low, high = np.unravel_index(np.nanargmin(z), z.shape), np.unravel_index(np.nanargmax(z), z.shape)
        return f"{rows}x{cols}, from {cells[low]} to {cells[high]}"
    diagonal = " ".join(_shorten(list(np.diag(cells)), max_values))
    off = np.where(np.eye(rows, dtype=bool), -np.inf, np.nan_to_num(z, nan=-np.inf))
    r, c = np.unravel_index(np.argmax(off), off.shape)
    ticks_y = list(trace.y) if trace.y is not None else list(range(rows))
    ticks_x = list(trace.x) if trace.x is not None else list(range(cols))
    return (f"{rows}x{cols}, diagonal {diagonal}; largest off-diagonal {cells[r, c]} "
            f"(row {ticks_y[r]}, column {ticks_x[c]})")


def _describe_image(trace) -> str:
    """An image trace's size in pixels and its mean level (0-255), from its PNG or its z."""
    if trace.source:
        from PIL import Image

        pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(trace.source.split(",", 1)[1]))))
    else:
        pixels = np.asarray(trace.z)
    return f"{pixels.shape[0]}x{pixels.shape[1]} px, mean level {pixels.mean():.0f}"


def _is_point_cloud(trace) -> bool:
    """A markers-only scatter over numeric x (an embedding's cluster), summed up by its size."""
    return (trace.type == "scatter" and trace.mode == "markers" and trace.x is not None and len(trace.x) > 0
            and all(_is_number(v) for v in trace.x))


def _subplot_titles(fig: go.Figure) -> dict[str, str]:
    """Subplot title by x axis id ("x", "x2", ...), from the titles make_subplots centres over each axis."""
    titles = {}
    for axis in fig.layout:
        if not axis.startswith("xaxis") or fig.layout[axis].domain is None:
            continue
        centre = sum(fig.layout[axis].domain) / 2
        for note in fig.layout.annotations:
            if note.xref == "paper" and note.yanchor == "bottom" and note.x is not None \
                    and abs(note.x - centre) < 1e-9:
                titles["x" + axis[5:]] = note.text
    return titles if len(titles) > 1 else {}
