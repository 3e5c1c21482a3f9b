"""Class division (notebooks 3 and 10): clusters per class, the feature embeddings coloured by
cluster, and the soft labels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from fbcd_lab.plots.layout import CLUSTER_COLORS, METHOD_COLORS, TALL, _finish


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
