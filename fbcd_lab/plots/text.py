"""A figure summed up as a few lines of rounded numbers: the plain-text alternative :func:`show`
gives every chart, which the notebooks' checked outputs compare."""

from __future__ import annotations

import base64
import io
import math
import numbers
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go


MAX_VALUES = 12


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
