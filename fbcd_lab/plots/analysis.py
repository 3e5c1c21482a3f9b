"""Taking a gain apart (notebooks 8 and 9): rule sweeps, channel-group energy, kernel norms, cluster
mass, effective priors, reliability, t-SNE and the waterfall of the decomposition."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from fbcd_lab.data.long_tail import shot_groups
from fbcd_lab.plots.layout import CLUSTER_COLORS, METHOD_COLORS, TALL, _by_size, _finish, series_colors


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
