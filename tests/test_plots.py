"""Figure builders: traces, values, axes, ordering and colours, read back from the figures."""

import base64
import io
import math

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative
import pytest
import torch
from PIL import Image

from fbcd_lab import plots
from fbcd_lab.class_division import ClassDivision, soft_label_matrix


def bars(fig: go.Figure) -> dict[str, list]:
    return {t.name: list(t.y) for t in fig.data if t.type == "bar"}


def check_look(fig: go.Figure) -> None:
    assert isinstance(fig, go.Figure)
    assert fig.layout.template.layout.paper_bgcolor == pio.templates["plotly_white"].layout.paper_bgcolor
    assert 300 <= fig.layout.height <= 450
    assert fig.layout.title.text


def test_series_colors_methods_then_palette():
    colors = plots.series_colors(["ce", "train", "fbcd", "test", "cdh"])
    assert colors["ce"] == plots.METHOD_COLORS["ce"] and colors["fbcd"] == plots.METHOD_COLORS["fbcd"]
    assert colors["cdh"] == plots.METHOD_COLORS["cdh"]
    assert [colors["train"], colors["test"]] == qualitative.Plotly[:2]


def test_setup_notebook_sets_plotly_defaults(monkeypatch):
    monkeypatch.setattr(pio.renderers, "default", pio.renderers.default)
    monkeypatch.setattr(pio.templates, "default", pio.templates.default)
    plots.setup_notebook()
    assert pio.renderers.default == "plotly_mimetype+notebook_connected"
    assert pio.templates.default == "plotly_white"


def test_class_counts_figure_bars_and_log_axis():
    fig = plots.class_counts_figure({"train": [100, 10, 1], "test": [5, 5, 5]})
    check_look(fig)
    assert bars(fig) == {"train": [100, 10, 1], "test": [5, 5, 5]}
    assert list(fig.data[0].x) == [0, 1, 2]
    assert fig.layout.yaxis.type == "log" and fig.layout.barmode == "group"
    linear = plots.class_counts_figure({"train": [3, 2]}, log_y=False, title="t", classes=["cat", "dog"])
    assert linear.layout.yaxis.type == "linear" and list(linear.data[0].x) == ["cat", "dog"]
    assert linear.layout.title.text == "t"


def test_image_mosaic_rows_per_class_and_blank_cells():
    labels = np.array([0, 0, 0, 1, 2, 2])
    images = np.stack([np.full((1, 4, 3), 10 * (i + 1), dtype=np.uint8) for i in range(len(labels))])
    mosaic = plots.image_mosaic(images, labels, 3, per_class=2, seed=0)
    assert mosaic.shape == (3 * 4, 2 * 3) and mosaic.dtype == np.uint8
    assert set(np.unique(mosaic[0:4])) <= {10, 20, 30} and len(np.unique(mosaic[0:4])) == 2
    assert (mosaic[4:8, :3] == 40).all() and (mosaic[4:8, 3:] == 255).all()  # class 1 has one image
    assert np.array_equal(mosaic, plots.image_mosaic(torch.from_numpy(images), labels, 3, per_class=2, seed=0))
    rgb = plots.image_mosaic(np.zeros((2, 3, 5, 5), np.uint8), np.array([0, 1]), 2, per_class=3)
    assert rgb.shape == (10, 15, 3)
    with pytest.raises(ValueError, match="uint8"):
        plots.image_mosaic(np.zeros((2, 2, 5, 5), np.uint8), np.array([0, 1]), 2)


def test_image_grid_figure_is_one_png_of_the_mosaic():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), [8, 3, 1])
    images = torch.from_numpy(rng.integers(0, 256, (len(labels), 1, 8, 8), dtype=np.uint8))
    fig = plots.image_grid_figure(images, labels, ["zero", "one", "two"], per_class=4, seed=1)
    check_look(fig)
    assert len(fig.data) == 1 and fig.data[0].type == "image"
    source = fig.data[0].source
    assert source.startswith("data:image/png;base64,")
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).convert("L"))
    assert png.shape == (3 * 8, 4 * 8)
    assert np.array_equal(png, plots.image_mosaic(images, labels, 3, per_class=4, seed=1))
    assert list(fig.layout.yaxis.ticktext) == ["zero", "one", "two"]
    assert list(fig.layout.yaxis.tickvals) == [3.5, 11.5, 19.5]
    assert fig.layout.xaxis.showticklabels is False


def test_division_figure_bars_and_ratios_in_title():
    fig = plots.division_figure([100, 10], [5, 1])
    check_look(fig)
    assert list(bars(fig).values()) == [[100.0, 10.0], [20.0, 10.0]]
    assert fig.layout.yaxis.type == "log"
    assert "before division 10.0" in fig.layout.title.text and "after 2.0" in fig.layout.title.text
    assert "K = 6" in fig.layout.title.text  # the notebook's live widget copies the title text only
    with pytest.raises(ValueError):
        plots.division_figure([100, 10], [5])
    named = plots.division_figure([100, 10], [5, 1], ["cat", "7"])
    assert [list(t.x) for t in named.data] == [["cat", "7"]] * 2 and named.layout.xaxis.title.text == "class"
    with pytest.raises(ValueError, match="one class name per class, got 1 names for 2 classes"):
        plots.division_figure([100, 10], [5, 1], ["cat"])


def test_embedding_figures_one_trace_per_cluster():
    points = np.arange(12, dtype=float).reshape(6, 2)
    clusters = np.array([3, 3, 1, 1, 2, 2])
    fig = plots.embedding_figure(points, clusters, "digit 0")
    check_look(fig)
    assert [t.name for t in fig.data] == ["1", "2", "3"]
    assert list(fig.data[0].x) == [4.0, 6.0] and list(fig.data[0].y) == [5.0, 7.0]
    assert len({t.marker.color for t in fig.data}) == 3
    both = plots.embeddings_figure({"random": (points, clusters), "kmeans": (points, np.array([0, 0, 0, 1, 1, 1]))})
    check_look(both)
    assert [a.text for a in both.layout.annotations] == ["random", "kmeans"]
    assert [(t.name, t.xaxis) for t in both.data] == [("1", "x"), ("2", "x"), ("3", "x"), ("0", "x2"), ("1", "x2")]
    assert [t.showlegend for t in both.data] == [True] * 3 + [False] * 2


def test_soft_label_figure_ticks_and_values():
    division = ClassDivision(np.array([0, 1, 2, 0]), np.array([0, 0, 1]), "random")
    q = soft_label_matrix(division, 0.5)
    fig = plots.soft_label_figure(q, division.class_of_cluster)
    check_look(fig)
    assert fig.data[0].type == "heatmap" and np.array_equal(np.asarray(fig.data[0].z), q)
    assert list(fig.data[0].x) == ["c0/k0", "c0/k1", "c1/k2"] == list(fig.data[0].y)


def test_per_class_recall_figure_orders_by_decreasing_count():
    fig = plots.per_class_recall_figure([5, 50, 20], {"ce": [0.1, 0.9, 0.5], "fbcd": [0.3, 0.8, 0.6]})
    check_look(fig)
    count_bar, ce, fbcd = fig.data
    assert count_bar.type == "bar" and list(count_bar.y) == [50, 20, 5] and list(count_bar.x) == ["1", "2", "0"]
    assert [t.name for t in (ce, fbcd)] == ["ce", "fbcd"] and ce.mode == "lines+markers"
    assert list(ce.x) == ["1", "2", "0"] and list(ce.y) == [0.9, 0.5, 0.1] and list(fbcd.y) == [0.8, 0.6, 0.3]
    assert ce.line.color == plots.METHOD_COLORS["ce"] and fbcd.line.color == plots.METHOD_COLORS["fbcd"]
    assert fig.layout.xaxis.type == "category" and list(fig.layout.xaxis.categoryarray) == ["1", "2", "0"]
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.side == "right"  # the counts' axis
    assert ce.yaxis == "y2" and fig.layout.yaxis2.overlaying == "y"
    named = plots.per_class_recall_figure([5, 50, 20], {"ce": [0.1, 0.9, 0.5]}, ["a", "b", "c"])
    assert list(named.data[1].x) == ["b", "c", "a"]


def test_weight_norms_figure_grouped_bars_by_decreasing_count():
    fig = plots.weight_norms_figure([5, 50, 20], {"ce": [1.0, 3.0, 2.0], "fbcd": [1.5, 1.6, 1.7]})
    check_look(fig)
    assert bars(fig) == {"ce": [3.0, 2.0, 1.0], "fbcd": [1.6, 1.7, 1.5]}
    assert list(fig.data[0].x) == ["1", "2", "0"] and fig.layout.barmode == "group"
    assert [t.marker.color for t in fig.data] == [plots.METHOD_COLORS["ce"], plots.METHOD_COLORS["fbcd"]]


def test_confusion_figure_normalises_rows_and_keeps_zero_rows():
    fig = plots.confusion_figure([[3, 1, 0], [0, 0, 0], [2, 2, 4]], ["a", "b", "c"], title="ce")
    check_look(fig)
    z = np.asarray(fig.data[0].z)
    assert np.allclose(z.sum(axis=1), [1, 0, 1]) and np.allclose(z[0], [0.75, 0.25, 0])
    assert list(fig.data[0].x) == ["a", "b", "c"] and fig.layout.yaxis.autorange == "reversed"
    assert fig.layout.title.text == "ce"
    raw = plots.confusion_figure([[3, 1], [0, 2]], ["a", "b"], normalize=False)
    assert np.array_equal(np.asarray(raw.data[0].z), [[3, 1], [0, 2]])


def test_group_recall_figure_empty_group_has_no_bar():
    groups = {"ce": {"many": 0.9, "medium": None, "few": 0.1}, "fbcd": {"many": 0.8, "medium": None, "few": 0.4}}
    fig = plots.group_recall_figure(groups)
    check_look(fig)
    assert [t.name for t in fig.data] == ["ce", "fbcd"]
    assert list(fig.data[0].x) == ["many", "medium", "few"]
    ce = fig.data[0].y
    assert ce[0] == 0.9 and ce[2] == 0.1 and (ce[1] is None or math.isnan(ce[1]))
    empty = [a for a in fig.layout.annotations if a.text == "empty"]
    assert len(empty) == 1 and empty[0].x == "medium"


def test_rules_figure_bars_per_method():
    values = {"ce": {"top_cluster": 0.5, "sum_clusters": 0.5, "logit_adjusted": 0.6},
              "fbcd": {"top_cluster": 0.7, "sum_clusters": 0.6, "logit_adjusted": 0.7}}
    fig = plots.rules_figure(values)
    check_look(fig)
    assert bars(fig) == {"ce": [0.5, 0.5, 0.6], "fbcd": [0.7, 0.6, 0.7]}
    assert list(fig.data[0].x) == ["top_cluster", "sum_clusters", "logit_adjusted"]


def test_sweep_figure_error_bars_numeric_and_categorical():
    fig = plots.sweep_figure([1, 5, 10], {"cdh": [0.4, 0.5, 0.55]}, {"cdh": [0.01, 0.02, 0.03]}, "u", "sweep u")
    check_look(fig)
    (trace,) = fig.data
    assert trace.name == "cdh" and list(trace.y) == [0.4, 0.5, 0.55]
    assert list(trace.error_y.array) == [0.01, 0.02, 0.03] and trace.error_y.visible
    assert fig.layout.xaxis.type == "linear" and trace.mode == "lines+markers"
    assert fig.layout.xaxis.title.text == "u" and fig.layout.title.text == "sweep u"
    cat = plots.sweep_figure(["random", "kmeans"], {"fbcd": [0.6, 0.62], "ce": [0.5, 0.5]},
                             {"fbcd": [0.0, 0.1], "ce": [0.02, 0.02]}, "strategy", "strategies")
    assert cat.layout.xaxis.type == "category" and cat.data[0].mode == "markers"
    assert list(cat.data[0].error_y.array) == [0.0, 0.1]
    assert [t.marker.color for t in cat.data] == [plots.METHOD_COLORS["fbcd"], plots.METHOD_COLORS["ce"]]


def test_history_figure_loss_and_recall_when_present():
    runs = {"ce": [{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.0, "test_mean_recall": 0.4}],
            "fbcd": [{"epoch": 1, "loss": 3.0, "test_mean_recall": 0.2}, {"epoch": 2, "loss": 1.5,
                                                                          "test_mean_recall": 0.5}]}
    fig = plots.history_figure(runs)
    check_look(fig)
    assert [(t.name, t.xaxis) for t in fig.data] == [("ce", "x"), ("ce", "x2"), ("fbcd", "x"), ("fbcd", "x2")]
    assert list(fig.data[0].y) == [2.0, 1.0] and list(fig.data[1].x) == [2] and list(fig.data[1].y) == [0.4]
    assert list(fig.data[3].y) == [0.2, 0.5]
    assert fig.data[0].line.color == plots.METHOD_COLORS["ce"]
    loss_only = plots.history_figure({"run 1": [{"epoch": 1, "loss": 1.0}]})
    assert len(loss_only.data) == 1 and "xaxis2" not in loss_only.layout.to_plotly_json()


def test_describe_gives_title_x_and_rounded_values_per_trace():
    fig = plots.per_class_recall_figure([5, 50, 20], {"ce": [0.1, 0.9, 0.5], "fbcd": [1 / 3, 0.8, 2 / 3]})
    assert plots.describe(fig) == ("Per-class recall, classes by training size\n"
                                   "x: 1 2 0\n"
                                   "training images: 50 20 5\n"
                                   "ce: 0.90 0.50 0.10\n"
                                   "fbcd: 0.80 0.67 0.33")
    assert plots.describe(fig, digits=1).splitlines()[-1] == "fbcd: 0.8 0.7 0.3"


def test_describe_whole_numbers_as_integers_gaps_as_dashes_and_error_bars():
    division = plots.division_figure([100, 10], [5, 1])
    assert plots.describe(division).splitlines()[1:] == ["x: 0 1", "class size n_c: 100 10",
                                                         "images per cluster n_c / u_c: 20 10"]
    groups = plots.group_recall_figure({"ce": {"many": 0.9, "medium": None, "few": 0.125}})
    assert plots.describe(groups).splitlines()[1:] == ["x: many medium few", "ce: 0.90 - 0.12"]
    sweep = plots.sweep_figure([1, 5], {"cdh": [0.4, 0.5]}, {"cdh": [0.01, 0.025]}, "u", "sweep u")
    assert plots.describe(sweep) == "sweep u\nx: 1 5\ncdh: 0.40±0.01 0.50±0.03"


def test_describe_shortens_long_series_but_keeps_ends_and_extremes():
    history = [{"epoch": e, "loss": 3 / e, "test_mean_recall": 0.8 if e == 20 else 0.5} for e in range(1, 31)]
    text = plots.describe(plots.history_figure({"ce": history}))
    assert text.splitlines() == [
        "Training history",
        "x: 1 2 3 4 … 27 28 29 30",
        "ce (training loss): 3.00 1.50 1.00 0.75 … 0.11 0.11 0.10 0.10 (30 values; min 0.10 at 30, max 3.00 at 1)",
        "ce (test mean recall): 0.50 0.50 0.50 0.50 … 0.50 0.50 0.50 0.50 (30 values; min 0.50 at 1, max 0.80 at 20)",
    ]
    short = plots.describe(plots.history_figure({"ce": history}), max_values=30)
    assert "…" not in short and "values;" not in short


def test_describe_heatmaps_images_and_point_clouds():
    confusion = plots.confusion_figure([[3, 1, 0], [0, 2, 0], [1, 3, 4]], ["a", "b", "c"], title="ce")
    assert plots.describe(confusion) == ("ce\nheatmap: 3x3, diagonal 0.75 1.00 0.50; "
                                         "largest off-diagonal 0.38 (row c, column b)")
    counts = plots.confusion_figure([[3, 1], [0, 2]], ["a", "b"], normalize=False)
    assert plots.describe(counts).endswith("diagonal 3 2; largest off-diagonal 1 (row a, column b)")
    assert plots.describe(go.Figure(go.Heatmap(z=[[1, 2, 3], [4, None, 0.5]]))) == "heatmap: 2x3, from 0.50 to 4.00"
    images = np.stack([np.full((1, 2, 2), 10 * (i + 1), np.uint8) for i in range(3)])
    grid = plots.image_grid_figure(images, np.array([0, 0, 1]), ["zero", "one"], per_class=2, seed=0)
    assert plots.describe(grid).splitlines()[1] == "image: 4x4 px, mean level 79"  # (10+20+30+255)*4/16
    points = np.arange(12, dtype=float).reshape(6, 2)
    panels = plots.embeddings_figure({"random": (points, np.array([3, 3, 1, 1, 1, 2])),
                                      "kmeans": (points, np.array([0, 0, 0, 1, 1, 1]))})
    assert plots.describe(panels).splitlines()[1:] == ["random: points per trace 1=3 2=1 3=2",
                                                       "kmeans: points per trace 0=3 1=3"]


def test_show_displays_the_chart_with_its_description_as_plain_text(monkeypatch, capsys):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda bundle, raw: shown.append((bundle, raw)))
    plots.setup_notebook()
    fig = plots.rules_figure({"ce": {"top_cluster": 0.5, "logit_adjusted": 0.625}})
    plots.show(fig)
    (bundle, raw), = shown
    assert raw and bundle["text/plain"] == plots.describe(fig)
    assert bundle["application/vnd.plotly.v1+json"]["data"][0]["y"] == [0.5, 0.625]
    assert "text/html" in bundle and "ce: 0.50" not in capsys.readouterr().out  # nothing printed under the chart
    assert plots.describe(fig).endswith("x: top_cluster logit_adjusted\nce: 0.50 0.62")


# ---------------------------------------------------------------- notebook 8: where the gain comes from


def test_rule_sweep_figure_lines_with_error_bars_and_rule_levels():
    fig = plots.rule_sweep_figure([0, 1, 2], {"ce": [0.5, 0.7, 0.6]}, {"ce": [0.01, 0.02, 0.03]},
                                  {"ce": {"top_cluster": (0.5, 0.01), "sum_clusters": (0.45, None)}})
    check_look(fig)
    line, top, summed = fig.data
    assert (line.name, list(line.x), list(line.y)) == ("ce logit_adjusted", [0.0, 1.0, 2.0], [0.5, 0.7, 0.6])
    assert list(line.error_y.array) == [0.01, 0.02, 0.03] and line.error_y.visible
    assert [t.name for t in (top, summed)] == ["ce top_cluster", "ce sum_clusters"]
    assert list(top.x) == [0.0, 2.0] and list(top.y) == [0.5, 0.5] and list(summed.y) == [0.45, 0.45]
    assert (top.line.dash, summed.line.dash) == ("dash", "dot")
    assert {t.line.color for t in fig.data} == {plots.METHOD_COLORS["ce"]}
    assert plots.describe(fig) == ("Prediction rules: logit adjustment swept over tau\n"
                                   "x: 0 1 2\n"
                                   "ce logit_adjusted: 0.50±0.01 0.70±0.02 0.60±0.03\n"
                                   "ce top_cluster: 0.50±0.01 (level)\n"
                                   "ce sum_clusters: 0.45 (level)")


def test_group_energy_figure_heatmaps_side_by_side_on_one_scale():
    energies = {"CE": np.array([[0.6, 0.4], [0.6, 0.4]]), "FBH": np.array([[0.9, 0.1], [0.2, 0.8]])}
    fig = plots.group_energy_figure(energies, ["a", "b"])
    check_look(fig)
    assert [a.text for a in fig.layout.annotations] == ["CE", "FBH"]
    assert [(t.type, t.xaxis) for t in fig.data] == [("heatmap", "x"), ("heatmap", "x2")]
    assert np.array_equal(np.asarray(fig.data[1].z), energies["FBH"]) and list(fig.data[0].y) == ["a", "b"]
    assert {t.coloraxis for t in fig.data} == {"coloraxis"}
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0, 0.9)
    assert plots.describe(fig).splitlines()[1:] == [
        "group energy (CE): 2x2, diagonal 0.60 0.40; largest off-diagonal 0.60 (row b, column a)",
        "group energy (FBH): 2x2, diagonal 0.90 0.80; largest off-diagonal 0.20 (row b, column a)"]


def test_kernel_norms_figure_bars_by_decreasing_count():
    fig = plots.kernel_norms_figure([5, 50, 20], {"seed 0": np.array([1.0, 3.0, 2.0]), "seed 1": [1.5, 2.5, 2.0]})
    check_look(fig)
    assert bars(fig) == {"seed 0": [3.0, 2.0, 1.0], "seed 1": [2.5, 2.0, 1.5]}
    assert list(fig.data[0].x) == ["1", "2", "0"] and fig.layout.barmode == "group"
    assert plots.describe(fig) == "FBH kernel norm per class\nx: 1 2 0\nseed 0: 3 2 1\nseed 1: 2.50 2.00 1.50"


def confusion_block(images: int, best: float, siblings: float) -> dict:
    return {"images": images, "mass": {"best_true_cluster": best, "true_siblings": siblings,
                                       "other_classes": 1 - best - siblings}}


def test_cluster_mass_figure_stacks_best_cluster_siblings_and_others():
    confusion = {"right": confusion_block(8, 0.5, 0.25), "wrong": confusion_block(2, 0.125, 0.125),
                 "divided_classes": {"right": confusion_block(6, 0.25, 0.5), "wrong": confusion_block(0, 0, 0)}}
    fig = plots.cluster_mass_figure(confusion)
    check_look(fig)
    assert fig.layout.barmode == "stack"
    assert list(fig.data[0].x) == ["right (8)", "wrong (2)", "right, divided (6)", "wrong, divided (0)"]
    assert bars(fig) == {"best true cluster": [0.5, 0.125, 0.25, 0], "true siblings": [0.25, 0.125, 0.5, 0],
                         "other classes": [0.25, 0.75, 0.25, 1]}
    assert plots.describe(fig).splitlines()[1:] == ["x: right (8) wrong (2) right, divided (6) wrong, divided (0)",
                                                    "best true cluster: 0.50 0.12 0.25 0.00",
                                                    "true siblings: 0.25 0.12 0.50 0.00",
                                                    "other classes: 0.25 0.75 0.25 1.00"]


def test_effective_prior_figure_lines_by_decreasing_count():
    fig = plots.effective_prior_figure([5, 50, 20], {"CE": [-3.0, -1.0, -2.0], "top_cluster": [-3.0, -2.5, -2.0]})
    check_look(fig)
    assert [t.name for t in fig.data] == ["CE", "top_cluster"]
    assert list(fig.data[0].x) == ["1", "2", "0"] and list(fig.data[0].y) == [-1.0, -2.0, -3.0]
    assert list(fig.data[1].y) == [-2.5, -2.0, -3.0]
    assert plots.describe(fig).splitlines()[1:] == ["x: 1 2 0", "CE: -1 -2 -3", "top_cluster: -2.50 -2.00 -3.00"]


def reliability_bins(accuracy: list, ece: float) -> dict:
    return {"bins": [{"lower": 0.0, "upper": 0.5, "count": 0 if accuracy[0] is None else 2,
                      "confidence": None if accuracy[0] is None else 0.3, "accuracy": accuracy[0]},
                     {"lower": 0.5, "upper": 1.0, "count": 4, "confidence": 0.75, "accuracy": accuracy[1]}],
            "ece": ece}


def test_reliability_figure_one_panel_per_rule_and_the_diagonal():
    values = {"ce": {"top_cluster": reliability_bins([None, 0.5], 0.25),
                     "logit_adjusted": reliability_bins([0.5, 1.0], 0.2)},
              "fbcd": {"top_cluster": reliability_bins([0.0, 0.75], 0.1)}}
    fig = plots.reliability_figure(values)
    check_look(fig)
    assert [a.text for a in fig.layout.annotations] == ["top_cluster", "logit_adjusted"]
    assert [(t.name, t.xaxis, t.showlegend) for t in fig.data] == [("ce", "x", True), ("fbcd", "x", True),
                                                                   ("ce", "x2", False)]
    assert list(fig.data[0].x) == [0.25, 0.75] and list(fig.data[0].y) == [None, 0.5]
    assert [t.line.color for t in fig.data] == [plots.METHOD_COLORS[m] for m in ("ce", "fbcd", "ce")]
    assert "ECE 0.250" in fig.data[0].hovertemplate
    assert [(s.x0, s.y0, s.x1, s.y1, s.xref) for s in fig.layout.shapes] == [(0, 0, 1, 1, "x"), (0, 0, 1, 1, "x2")]
    assert plots.describe(fig) == ("Reliability per prediction rule\nx: 0.25 0.75\n"
                                   "ce (top_cluster): - 0.50\nfbcd (top_cluster): 0.00 0.75\n"
                                   "ce (logit_adjusted): 0.50 1.00")


def test_tsne_figure_colours_classes_and_marks_the_tail():
    points = np.arange(12, dtype=float).reshape(6, 2)
    labels = np.array([0, 0, 1, 0, 1, 1])
    fig = plots.tsne_figure({"CE": (points[:3], labels[:3]), "FBH + CDH": (points[3:], labels[3:])}, [100, 10],
                            ["a", "b"])
    check_look(fig)
    assert [(t.name, t.xaxis, t.showlegend) for t in fig.data] == [("a", "x", True), ("b (tail)", "x", True),
                                                                   ("a", "x2", False), ("b (tail)", "x2", False)]
    assert list(fig.data[0].x) == [0.0, 2.0] and list(fig.data[1].y) == [5.0]
    assert [t.marker.symbol for t in fig.data[:2]] == ["circle", "diamond-open"]
    assert fig.data[0].marker.color == fig.data[2].marker.color != fig.data[1].marker.color
    assert plots.describe(fig).splitlines()[1:] == ["CE: points per trace a=2 b (tail)=1",
                                                    "FBH + CDH: points per trace a=1 b (tail)=2"]


def test_waterfall_figure_levels_steps_and_spread():
    from fbcd_lab.analysis import waterfall

    # binary fractions, so every level and step is exact: prior 12.5 twice, features 25 and 37.5
    gain = waterfall(ce_top=[0.5, 0.75], ce_la=[0.625, 0.875], ce_probe=[0.5, 0.5], fbcd_probe=[0.75, 0.875],
                     fbcd_top=[0.75, 0.875], fbcd_la=[0.875, 1.0], seeds=[0, 1])
    fig = plots.waterfall_figure(gain)
    check_look(fig)
    (trace,) = fig.data
    assert trace.type == "waterfall"
    assert list(trace.x) == ["CE (top_cluster)", "+ prior correction", "+ better features", "+ the rest",
                             "FBH + CDH (top_cluster)"]
    assert list(trace.measure) == ["absolute", "relative", "relative", "relative", "total"]
    assert list(trace.y) == [62.5, 12.5, 31.25, -25.0, 81.25]
    assert 62.5 + 12.5 + 31.25 - 25.0 == 81.25  # the total bar plotly computes is FBH + CDH's level
    assert trace.meta["sd"] == pytest.approx([17.6777, 0.0, 8.8388, 17.6777, 8.8388], abs=1e-4)
    assert list(trace.text) == ["62.5", "+12.5", "+31.2", "-25.0", "81.2"]
    assert trace.hovertext[1] == "+ prior correction: +12.5 ± 0.0 points<br>per seed: +12.5, +12.5"
    assert trace.hovertext[3] == "+ the rest: -25.0 ± 17.7 points<br>per seed: -12.5, -37.5"
    assert "2 training seeds" in fig.layout.title.subtitle.text
    assert plots.describe(fig) == ("Where the gain comes from: CE to FBH + CDH\n"
                                   "CE (top_cluster): 62.50±17.68\n"
                                   "+ prior correction: +12.50±0.00\n"
                                   "+ better features: +31.25±8.84\n"
                                   "+ the rest: -25.00±17.68\n"
                                   "FBH + CDH (top_cluster): 81.25±8.84 (total)")
    adjusted = plots.waterfall_figure(gain, "logit_adjusted", title="On the digits")
    assert adjusted.data[0].x[-1] == "FBH + CDH (logit_adjusted)" and adjusted.layout.title.text == "On the digits"
    one = waterfall(ce_top=[0.5], ce_la=[0.625], ce_probe=[0.5], fbcd_probe=[0.75], fbcd_top=[0.75], fbcd_la=[0.875])
    assert plots.waterfall_figure(one).layout.title.subtitle.text == "one training seed"
    assert list(adjusted.data[0].y)[3:] == [-12.5, 93.75]


def test_describe_waterfall_without_spread_and_levels_leave_other_figures_alone():
    fig = go.Figure(go.Waterfall(x=["a", "b", "c", "t"], y=[1, 2, -1, None],
                                 measure=["absolute", "relative", "relative", "total"]))
    assert plots.describe(fig) == "a: 1\nb: +2\nc: -1\nt: - (total)"
    # a two-point flat line without a level in its meta is an ordinary series
    flat = plots.sweep_figure(["x", "y"], {"ce": [0.5, 0.5]}, {"ce": [0.0, 0.0]}, "s", "flat")
    assert plots.describe(flat) == "flat\nx: x y\nce: 0.50±0 0.50±0"  # as before: errors rounded on their own
