"""Building the imbalance (notebooks 1 and 10): class counts and image grids."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import torch

from fbcd_lab.plots.layout import TALL, _finish, series_colors


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
