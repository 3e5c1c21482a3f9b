# %% [markdown]
# # 1. Building imbalance
#
# | | |
# | --- | --- |
# | **You will learn** | how long-tailed benchmarks are made from balanced data (the exponential and step profiles), what the imbalance ratio means, why the test set stays balanced, and the many / medium / few groups papers report |
# | **You need first** | Python and a little NumPy; nothing about long tails |
# | **Time** | about 10 minutes; every cell runs in seconds (no training) |
#
# Long-tailed benchmarks are made, not found: a balanced training set is cut down class by class,
# while the test set is left balanced and untouched. You will build such a set, see its class
# counts on a log axis, look at its images, and split its classes into the groups papers report.
#
# Everything here runs on the embedded scikit-learn digits (8x8 grey images), so it needs no
# download. The same calls build the paper's sets from their images:
# `build_long_tailed("cifar10", 100, root=...)` for CIFAR-10-LT (likewise `"cifar100"`,
# `"tiny_imagenet"`, `"imagenet_lt"`, or `"imagefolder"` for a `train/` and `test/` folder of your
# own; notebook 10), once the images are on disk (`download=True` fetches CIFAR on a machine with
# internet). The counts alone need no images: `long_tail_counts` below gives them.

# %%
import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from fbcd_lab import plots
from fbcd_lab.data import build_long_tailed, load_source, long_tail_counts, shot_groups
from fbcd_lab.lab_preset import SUMMARY, lab_preset

plots.setup_notebook()
preset = lab_preset()
print(f"notebook preset: {preset.name} ({SUMMARY[preset.name]}); this one trains nothing, so every preset shows "
      f"the same (FBCD_PRESET sizes the notebooks that train)")

# %% [markdown]
# ## The exponential profile
#
# LDAM-DRW's recipe, copied by nearly every long-tail paper: class $i$ of $C$ (counted from 0) keeps
#
# $$n_i = \left\lfloor n_{\max} \, \beta^{-i/(C-1)} \right\rfloor$$
#
# images, where $\beta$ is the imbalance ratio (largest class over the smallest; `long_tail_counts`
# computes it). These are the standard totals; the paper's CIFAR tables use β = 10, 50 and 100.

# %%
for ratio in (10, 50, 100):
    c10, c100 = long_tail_counts(5000, 10, ratio), long_tail_counts(500, 100, ratio)
    print(f"ratio {ratio:>3}: CIFAR-10-LT {sum(c10):>6} images ({c10[0]} .. {c10[-1]}),"
          f" CIFAR-100-LT {sum(c100):>6} images ({c100[0]} .. {c100[-1]})")

# %% jupyter={"source_hidden": true}
assert sum(long_tail_counts(5000, 10, 100)) == 12_406

# %% [markdown]
# ## A long-tailed digits set
#
# The digits come with about 180 images per class (the next cell counts them). 30 per class are
# set aside as a balanced test set (fixed seed); the rest form the full training set, from which
# the long tail is drawn. Its smallest class has 144 images left, so n_max is 144: every class can
# give the head's count.
# Each class's images are shuffled with a seeded generator and the first n_i kept. The
# *fingerprint* (counts, seed, the rounding convention of the profile, `ldam` for LDAM-DRW's floor,
# and a hash of the chosen images) identifies the subset: two subsets with the same counts hold
# other images, and a baseline trained on another subset is not the same experiment.
#
# Under each chart of these notebooks a few lines repeat its numbers, rounded (`plots.show`,
# `plots.describe`): the chart is for reading, the lines for reading a value without hovering.

# %%
source = load_source("digits")
per_class = {split: np.bincount(images.labels, minlength=10) for split, images in
             (("test", source.test), ("training", source.train))}
print("all digits per class:", (per_class["test"] + per_class["training"]).tolist())
print("set aside for test:  ", per_class["test"].tolist())
print("left for training:   ", per_class["training"].tolist(), "| smallest:", per_class["training"].min())

# %% jupyter={"source_hidden": true}
everything = per_class["test"] + per_class["training"]
assert 170 <= everything.min() and everything.max() <= 190 and set(per_class["test"]) == {30}
assert per_class["training"].min() == 144

# %%
data = build_long_tailed("digits", 100, seed=0)
print("training counts:", list(data.counts))
print("training images:", len(data.train), "| test images:", len(data.test))
print("fingerprint:", data.fingerprint.indices_sha256[:16], "| convention:", data.fingerprint.convention)

# %% jupyter={"source_hidden": true}
assert data.counts[0] == 144 and data.fingerprint.convention == "ldam"

# %% jupyter={"source_hidden": true}
assert data.counts == (144, 86, 51, 31, 18, 11, 6, 4, 2, 1)

# %%
test_counts = [int((data.test.labels == c).sum()) for c in range(data.num_classes)]
plots.show(plots.class_counts_figure({"train (ratio 100)": data.counts, "test (untouched)": test_counts},
                                     title="Digits: long-tailed training set beside its balanced test set"))

# %% [markdown]
# ## What the images look like
#
# One row per class, up to six training images each. The tail classes have only a few images,
# which is exactly why a model learns them badly.

# %%
plots.show(plots.image_grid_figure(data.train.images, data.train.labels, data.classes, per_class=6))

# %% [markdown]
# ## Many, medium and few
#
# Papers on ImageNet-LT report accuracy on classes with more than 100 training images (*many*),
# 20 to 100 (*medium*) and fewer than 20 (*few*). On small sets the thresholds are parameters; a
# group with no class is reported as empty, never as 0 % accuracy.

# %%
for thresholds in ((100, 20), (40, 10)):
    groups = shot_groups(list(data.counts), many_above=thresholds[0], few_below=thresholds[1])
    print(f"many > {thresholds[0]}, few < {thresholds[1]}:",
          {name: members or "empty" for name, members in groups.items()})

# %% [markdown]
# ## Try it: ratio and profile
#
# Move the slider or switch to the *step* profile (half the classes keep n_max, the other half
# n_max / β). The chart updates in place; the cell after it moves
# the menu from code and checks that the chart redrew.

# %% tags=["nbval-ignore-output"]
ratio_slider = widgets.SelectionSlider(options=[1, 2, 5, 10, 20, 50, 100], value=100, description="ratio β")
profile_menu = widgets.ToggleButtons(options=["exp", "step"], value="exp", description="profile")
live = go.FigureWidget(plots.class_counts_figure({"train": data.counts}, title="training counts"))


def redraw(_=None):
    counts = long_tail_counts(144, 10, ratio_slider.value, profile_menu.value)
    with live.batch_update():
        live.data[0].y = counts
        live.layout.title.text = f"{profile_menu.value} profile, ratio {ratio_slider.value}: {sum(counts)} images"


ratio_slider.observe(redraw, names="value")
profile_menu.observe(redraw, names="value")
widgets.VBox([widgets.HBox([ratio_slider, profile_menu]), live])

# %% jupyter={"source_hidden": true}
profile_menu.value = "step"  # moved from code: the chart above redraws, as when you click the button
assert list(live.data[0].y) == [144] * 5 + [1] * 5
profile_menu.value = "exp"

# %% [markdown]
# ## What you should have seen
#
# - The exponential profile at β = 100 leaves digit 0 with 144 images and digit 9 with one.
# - The test set is balanced and untouched, so its accuracy equals the mean per-class recall.
# - The many / medium / few split depends on the thresholds, and empty groups say so.
#
# Next: notebook 2 shows what cross-entropy learns from such a set, and the paper's first remedy, the
# feature-balancing head; notebook 3 divides the large classes into clusters, its second.
#
# ## Exercises
#
# 1. **Predict, then check.** How many training images does CIFAR-10-LT have at β = 200 (n_max
#    5000)? Estimate it from the formula, then run `sum(long_tail_counts(5000, 10, 200))`.
# 2. How many images does class 5 of CIFAR-100-LT keep at β = 100 (n_max 500)?
# 3. **Change a setting.** Build CIFAR-10's *step* profile at β = 10 with `long_tail_counts(5000,
#    10, 10, "step")`. How many images does it keep, and why does it hold more than the exponential
#    profile at the same ratio?
# 4. In the digits at β = 100, which group (many, medium, few) is digit 1 in under the default
#    thresholds, and which digits are *few*?
# 5. Why do papers cut only the training set and keep the test set balanced?
#
# <details><summary>Answers (click to open)</summary>
#
# 1. **11,203**: 5000, 2775, 1540, 854, 474, 263, 146, 81, 45, 25. Halving the smallest class from
#    50 (β = 100) to 25 removes only 1,203 images: the tail holds few images whatever the ratio.
# 2. ⌊500 · 100^(−5/99)⌋ = **396**.
# 3. **27,500** (five classes of 5000, five of 500), against 20,431 for the exponential profile at
#    β = 10: the step profile cuts half the classes to n_max / β and leaves the other half whole,
#    while the exponential one shrinks every class but the first.
# 4. Digit 1 (86 images) is *medium* (20 to 100); digits 4 to 9 (18 images down to 1) are *few*.
# 5. So that every class weighs the same in the score: on a balanced test set top-1 accuracy
#    equals the mean of the per-class recalls, and a model cannot score well by favouring the
#    head classes. (Notebook 10 shows what to report when your own test set is long-tailed.)
#
# </details>

# %% jupyter={"source_hidden": true}
assert list(long_tail_counts(5000, 10, 200)) == [5000, 2775, 1540, 854, 474, 263, 146, 81, 45, 25]
assert sum(long_tail_counts(5000, 10, 200)) == 11_203 and long_tail_counts(500, 100, 100)[5] == 396
assert sum(long_tail_counts(5000, 10, 10, "step")) == 27_500 and sum(long_tail_counts(5000, 10, 10)) == 20_431
assert shot_groups(list(data.counts)) == {"many": [0], "medium": [1, 2, 3], "few": [4, 5, 6, 7, 8, 9]}
