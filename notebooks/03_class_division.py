# %% [markdown]
# # 3. Class division
#
# | | |
# | --- | --- |
# | **You will learn** | the paper's class-division head (Section 2.2): how many clusters each class is cut into (Eq. 3), how balanced the K clusters are, how random, k-means and hierarchical division cut a class, and the soft labels of the main head's loss (Eq. 4) |
# | **You need first** | notebook 1 (the long-tailed digits and their counts); notebook 2 for the feature-balancing head that the full model adds |
# | **Time** | about 15 minutes; every cell runs in seconds (no training) |
#
# Notebook 2 showed the classifier head's bias: long weight vectors and a learnt prior for the head
# classes. The class-division head removes its cause: its main classifier is trained on *clusters*
# instead of classes, the largest class split into u clusters, the smallest kept whole, so the K
# outputs it learns are far more balanced than the C classes were.

# %%
import ipywidgets as widgets
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from fbcd_lab import plots
from fbcd_lab.exercises import EXERCISES
from fbcd_lab.class_division import clusters_per_class, divide_classes, pixel_features, soft_label_matrix
from fbcd_lab.data import build_long_tailed, long_tail_counts
from fbcd_lab.lab_preset import lab_preset

plots.setup_notebook()
preset = lab_preset()
data = build_long_tailed("digits", 100, seed=0)
print("counts:", list(data.counts))

# %% [markdown]
# ## Eq. 3 on the paper's datasets
#
# With the classes sorted by size, $n_1 \le \dots \le n_C$, class $c$ is cut into
#
# $$u_c = 1 + \left[\frac{n_c - n_1}{n_C - n_1}\,(u - 1)\right] \qquad (3)$$
#
# clusters, $[\cdot]$ rounding: the largest class into $u$, the smallest into one, the others on
# the straight line between; the main head has $K = \sum_c u_c$ outputs.
# `fbcd_lab.class_division.clusters_per_class(counts, u)` computes $u_c$ (`counts` in any order).
# Rounding is half-up (Python's `round` rounds halves to even, which would change K). For
# CIFAR-10-LT at β = 100 and u = 10 the largest class becomes 10 clusters of 500 images; the
# largest cluster is now 10 times the smallest class instead of 100 times.

# %%
cifar10 = long_tail_counts(5000, 10, 100)
print("CIFAR-10-LT, u = 10: u_c =", clusters_per_class(cifar10, 10), "K =", sum(clusters_per_class(cifar10, 10)))
for ratio in (10, 50, 100):
    print(f"CIFAR-100-LT ratio {ratio}, u = 10: K = {sum(clusters_per_class(long_tail_counts(500, 100, ratio), 10))}")

# %% [markdown]
# The same division cut for real: `divide_classes` (random, the paper's default) on CIFAR-10-LT's
# 12,406 training labels at β = 100 with the paper's u = 10, one row a class. It needs only the
# counts, which the long-tail builder fixes, so no image is loaded (the class names are read from a
# committed run record of that set). Each cluster's size is a whole number of images, so a class
# of 2,997 split in 6 gets clusters of 500 and 499.

# %%
from fbcd_lab.records import read_record

cifar_record = read_record("../results/cifar10_lt/table1/r100/ce/seed0/results.json")
cifar_labels = np.repeat(np.arange(10), cifar10)
cifar_division = divide_classes(cifar_labels, 10, 10, "random", seed=0)
owner = np.asarray(cifar_division.class_of_cluster)
cifar_table = pd.DataFrame({
    "class": cifar_record["classes"], "n_c": cifar10, "u_c": cifar_division.clusters_per_class,
    "cluster sizes": [sorted(cifar_division.cluster_sizes[owner == c].tolist(), reverse=True) for c in range(10)],
    "mean images per cluster": np.round(np.array(cifar10) / cifar_division.clusters_per_class, 1)})
print(f"CIFAR-10-LT, β = 100, u = 10: K = {cifar_division.num_clusters}; imbalance before "
      f"{cifar_division.imbalance_before():.0f}, after {cifar_division.imbalance_after():.1f} (largest / smallest "
      f"cluster: {cifar_division.cluster_sizes.max()} against {cifar_division.cluster_sizes.min()} images)")
cifar_table

# %% jupyter={"source_hidden": true}
assert cifar_record["counts"] == list(cifar10) and cifar_division.num_clusters == 31
assert cifar_division.cluster_sizes.max() == 500 and cifar_division.cluster_sizes.min() == 50

# %%
division = divide_classes(data.train.labels, data.num_classes, 10, "random", seed=0)
table = pd.DataFrame({"class": data.classes, "n_c": data.counts, "u_c": division.clusters_per_class,
                      "images per cluster": np.round(np.array(data.counts) / division.clusters_per_class, 1)})
print(f"K = {division.num_clusters}; imbalance before {division.imbalance_before():.1f}, after "
      f"{division.imbalance_after():.1f} (largest / smallest actual cluster; the chart below uses mean sizes)")
table

# %%
plots.show(plots.division_figure(data.counts, division.clusters_per_class))

# %% [markdown]
# ### Write it yourself: Eq. 3
#
# Write $u_c$ for a list of class counts (in any order) and a largest-class u, returning one
# integer a class. The check runs CIFAR-10-LT's counts and five edge cases: a share of exactly one
# half, unsorted counts, more clusters than images, equal counts, u = 1. Eq. 3 as printed does not
# settle two of them, and the library follows two rules there: when every class has the same count
# ($n_1 = n_C$, where Eq. 3 divides by zero) every class gets one cluster, and no class gets more
# clusters than it has images ($u_c$ is capped at $n_c$, or a cluster would be empty; the two
# cell below prints both). The cell after yours shows what a pass looks like.

# %%
print("equal counts [40, 40, 40], u = 10:", clusters_per_class([40, 40, 40], 10))
print("counts [1, 2, 3], u = 10 (Eq. 3 alone gives the largest class u = 10):", clusters_per_class([1, 2, 3], 10))

# %% jupyter={"source_hidden": true}
assert list(clusters_per_class([40, 40, 40], 10)) == [1, 1, 1]
assert list(clusters_per_class([1, 2, 3], 10)) == [1, 2, 3]

# %%
ex = EXERCISES["clusters_per_class"]


def my_clusters_per_class(counts, u):
    raise NotImplementedError  # your code: Eq. 3 for every class, in the order of counts (a list or array)


ex.check(my_clusters_per_class)

# %%
ex.show_pass()  # what a pass looks like: the same check run on the answer ex.solution() prints

# %% [markdown]
# ## Try it: u
#
# u = 1 is the plain classifier; larger u cuts the head into more, smaller clusters. The
# imbalance after division (largest over smallest mean cluster size) falls about as 1/u for as long
# as the head's clusters are larger than the rarest class; on the digits, whose rarest class has
# one image, that is the whole slider.

# %% tags=["nbval-ignore-output"]
u_slider = widgets.IntSlider(value=10, min=1, max=20, description="u")
live = go.FigureWidget(plots.division_figure(data.counts, division.clusters_per_class))


def redraw(_=None):
    u_c = clusters_per_class(data.counts, u_slider.value)
    fresh = plots.division_figure(data.counts, u_c)
    with live.batch_update():
        for trace, new in zip(live.data, fresh.data):
            trace.y = new.y
        live.layout.title.text = fresh.layout.title.text


u_slider.observe(redraw, names="value")
widgets.VBox([u_slider, live])

# %% jupyter={"source_hidden": true}
u_slider.value = 5  # moved from code: the chart above redraws, as when you drag the slider
assert plots.describe(live) == plots.describe(plots.division_figure(data.counts, clusters_per_class(data.counts, 5)))
u_slider.value = 10

# %% [markdown]
# The same for a few values of u, without the chart. This table divides each class's images
# evenly, n_c / u_c (digit 0 at u = 10: 144 / 10 = 14.4 images a cluster), while the division
# above cut real images into whole clusters (digit 0's of 15 and 14 images): hence its 15.0 where
# this table says 14.4.

# %%
for u in (1, 2, 5, 10, 20):
    u_c = clusters_per_class(data.counts, u)
    sizes = np.array(data.counts) / np.array(u_c)
    print(f"u = {u:>2}: K = {sum(u_c):>3}, u_c = {u_c}, imbalance after ≈ {sizes.max() / sizes.min():.1f}")

# %% [markdown]
# ## How the three strategies cut the largest class
#
# Digit 0 (144 images) split into 10 clusters, drawn in a 2-D embedding of its pixels
# (PCA here; t-SNE under the binder and full presets). *Random* cuts ignore the images;
# *k-means* and *hierarchical* (Ward) clustering on a PCA of the pixels group similar images.
# The paper found the final accuracy insensitive to this choice (Fig. 4 right; notebook 6 checks).
# The cell also prints each strategy's cluster sizes.

# %%
features = pixel_features(data.train.images.numpy(), 20, seed=0)
largest = np.flatnonzero(data.train.labels == 0)
embed = TSNE(n_components=2, random_state=0, perplexity=20) if preset.tsne else PCA(n_components=2, random_state=0)
points = embed.fit_transform(features[largest])
panels = {}
for strategy in ("random", "kmeans", "hierarchical"):
    split = divide_classes(data.train.labels, data.num_classes, 10, strategy, features, seed=0)
    panels[strategy] = (points, split.cluster_of_sample[largest])
plots.show(plots.embeddings_figure(panels))
for strategy, (_, clusters) in panels.items():
    print(f"{strategy:>12}: images per cluster of digit 0 {sorted(np.bincount(clusters)[np.unique(clusters)].tolist(), reverse=True)}")

# %% [markdown]
# ## Soft labels
#
# A sample of cluster k of class c gets the soft label
#
# $$q_{k'} = \begin{cases} \alpha & k' = k \\ (1-\alpha)/(u_c - 1) & k' \ne k \text{ a sibling cluster of class } c \\ 0 & \text{otherwise} \end{cases}$$
#
# and a class with one cluster keeps a hard label; rows sum to one
# (`fbcd_lab.class_division.soft_label_matrix(division, alpha)`). Small α says "these clusters are
# one class"; α = 1 treats the clusters as unrelated classes. The main head's loss is the
# cross-entropy with these targets, with $p_{ik}$ its softmax output for cluster $k$ (Eq. 4;
# `fbcd_lab.losses.base.soft_cross_entropy`):
#
# $$\mathcal{L}_2 = -\frac{1}{N} \sum_{i=1}^{N} \sum_{k=1}^{K} q_{ik} \log p_{ik} \qquad (4)$$
#
# At test time the class of the predicted cluster is the prediction (the *top-cluster* rule;
# notebook 5 compares it with two others).

# %%
small = divide_classes(data.train.labels, data.num_classes, 4, "random", seed=0)
q = soft_label_matrix(small, 0.5)
print("u_c with u = 4:", small.clusters_per_class, "| rows sum to 1:", bool(np.allclose(q.sum(1), 1)))
print("row of cluster 0:", np.round(q[0, :6], 3).tolist())
plots.show(plots.soft_label_figure(q, small.class_of_cluster))

# %% tags=["nbval-ignore-output"]
alpha_slider = widgets.FloatSlider(value=0.5, min=0.05, max=1.0, step=0.05, description="α")
heat = go.FigureWidget(plots.soft_label_figure(q, small.class_of_cluster))
alpha_slider.observe(lambda change: setattr(heat.data[0], "z", soft_label_matrix(small, change["new"])),
                     names="value")
widgets.VBox([alpha_slider, heat])

# %% jupyter={"source_hidden": true}
alpha_slider.value = 0.8  # moved from code: the heat map above redraws, as when you drag the slider
assert np.allclose(np.asarray(heat.data[0].z, dtype=float), soft_label_matrix(small, 0.8))
alpha_slider.value = 0.5

# %% [markdown]
# ### Write it yourself: the soft labels
#
# Given each cluster's class (`class_of_cluster`, K integers, a class's clusters side by side) and
# α, return the (K, K) matrix whose row k is the soft label of a sample in cluster k. The cell
# after yours shows what a pass looks like.

# %%
ex = EXERCISES["soft_labels"]


def my_soft_labels(class_of_cluster, alpha):
    raise NotImplementedError  # your code: row k is the target of a sample in cluster k ((K, K) array or tensor)


ex.check(my_soft_labels)

# %%
ex.show_pass()  # what a pass looks like: the same check run on the answer ex.solution() prints

# %% [markdown]
# ### Write it yourself: the whole objective
#
# $\mathcal{L} = \mathcal{L}_2 + \lambda\,\mathcal{L}_1$: Eq. 4 on the main head's K cluster
# logits (B, K) and the batch's soft targets (B, K), rows of the matrix above, plus λ times
# notebook 2's $\mathcal{L}_1$ on the feature-balancing head's logits (B, C) and the class labels
# (B,). This is what every training step of the two-head model minimises. The cell after yours
# shows what a pass looks like.

# %%
ex = EXERCISES["total_loss"]


def my_total_loss(cluster_logits, soft_targets, fbh_logits, labels, lam):
    raise NotImplementedError  # your code: L2 (Eq. 4) on the soft targets, plus lambda times L1


ex.check(my_total_loss)

# %%
ex.show_pass()  # what a pass looks like: the same check run on the answer ex.solution() prints

# %% [markdown]
# ## What you should have seen
#
# - Eq. 3 gives K = 31 clusters for CIFAR-10-LT (β = 100, u = 10) and 283 for CIFAR-100-LT; on
#   CIFAR-10-LT the clusters hold 500 images down to the tail's 50, an imbalance of 10 instead of 100.
# - Division brings the digits' imbalance from 144 down to 15 with u = 10 (clusters of 14 or 15
#   images against a one-image tail class).
# - Random division makes equal clusters; k-means and hierarchical follow the images and may be
#   unequal.
# - Soft labels keep the siblings of a class related.
#
# Next: notebook 4 trains the two-head model with these settings on sliders.
#
# ## Exercises
#
# 1. **Predict, then check.** How many clusters K does Eq. 3 give for CIFAR-10-LT at β = 10 with
#    u = 10? Work out u_c for a few classes first, then run
#    `sum(clusters_per_class(long_tail_counts(5000, 10, 10), 10))`.
# 2. In CIFAR-10-LT at β = 100, the second-largest class (automobile) has 2,997 images (n_1 = 50,
#    n_C = 5000). Into how many clusters does Eq. 3 cut it with u = 10?
# 3. With u = 4 and α = 0.5, what soft label does a sample of digit 0 give each of its three sibling
#    clusters? Check it in the row printed above.
# 4. **Change a setting.** Set α = 1 in `soft_label_matrix`. What does L2 (Eq. 4) become, and
#    what do the clusters of one class then learn about each other?
# 5. On the digits, which u would make the imbalance after division about 1, and why would that
#    be a bad idea?
#
# <details><summary>Answers (click to open)</summary>
#
# 1. **K = 42**: u_c = 10, 8, 6, 5, 4, 3, 2, 2, 1, 1 for 5000 down to 500 images; at β = 10 the
#    smallest class is already large (500), so more classes are split than at β = 100 (K = 42
#    against 31) and the division evens out a milder imbalance.
# 2. 1 + [(2997 − 50) / (5000 − 50) · 9] = 1 + [5.36] = **6**.
# 3. (1 − 0.5) / (4 − 1) = **0.167** (digit 0 has u_c = 4 with u = 4).
# 4. One-hot targets over the K clusters: plain cross-entropy on K classes, which pushes the
#    clusters of one class apart as if they were different classes; the soft labels (α < 1) tell
#    the head that siblings are alike.
# 5. u = 144: every cluster holds one image, like the rarest digit, and K = 354 is the number of
#    training images. The head would be balanced by making every output as data-starved as the
#    tail: each cluster learnt from a single image.
#
# </details>

# %% jupyter={"source_hidden": true}
assert sum(clusters_per_class(long_tail_counts(5000, 10, 10), 10)) == 42
assert clusters_per_class(long_tail_counts(5000, 10, 100), 10)[1] == 6
assert round(float(soft_label_matrix(small, 0.5)[0, 1]), 3) == 0.167 and small.clusters_per_class[0] == 4
assert sum(clusters_per_class(cifar10, 10)) == 31
assert sum(clusters_per_class(long_tail_counts(500, 100, 100), 10)) == 283
assert round(division.imbalance_after()) == 15 and sum(clusters_per_class(data.counts, 144)) == 354
