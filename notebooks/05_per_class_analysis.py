# %% [markdown]
# # 5. Per-class analysis
#
# | | |
# | --- | --- |
# | **You will learn** | where the gain of the two heads lands (head or tail classes), how the classifier's weight norms show the prior a model has learnt (the paper's Fig. 3), how much of the gain is the prediction rule; on the digits, then on real CIFAR-10-LT from committed runs |
# | **You need first** | notebooks 2 (cross-entropy's bias, the feature-balancing head) and 3 (class division) |
# | **Time** | about 15 minutes; two small models train in well under a minute |
#
# The paper's Fig. 3 shows, on CIFAR-100-LT, that the model mostly improves the *tail* classes and
# that the weight norms of its classifier are far more even than those of a cross-entropy model,
# whose head classes get the largest weights. You will redo that analysis on the digits: per-class
# recall ordered by training size, weight norms, many / medium / few recall, confusion matrices,
# and, because the way K cluster scores become one class matters, the three prediction rules side
# by side. The last part reads the same views from the committed CIFAR-10-LT runs, with no training.

# %%
import numpy as np
import pandas as pd

from fbcd_lab import plots
from fbcd_lab.claims import claim
from fbcd_lab.config import MethodConfig, preset
from fbcd_lab.data import build_long_tailed
from fbcd_lab.exercises import EXERCISES
from fbcd_lab.lab_preset import lab_preset
from fbcd_lab.models.predict import RULES
from fbcd_lab.records import evaluate_run
from fbcd_lab.training import train
from fbcd_lab.training_protocol import protocol_line

plots.setup_notebook()
sizes = lab_preset()
data = build_long_tailed("digits", 100, seed=0)
optim = preset("digits", epochs=sizes.epochs)
print(f"preset {sizes.name}: {optim.epochs} epochs, training seed {sizes.first_seed}, precision {sizes.precision}; "
      f"counts {list(data.counts)}")

# %% [markdown]
# ## Train cross-entropy and the two-head model
#
# Same data, same backbone (a small CNN), same seed and schedule; only the heads differ.

# %% tags=["nbval-ignore-output"]
runs, metrics = {}, {}
for method in ("ce", "fbcd"):
    runs[method] = train(data, MethodConfig(method=method, backbone="small_cnn"), optim, seed=sizes.first_seed,
                         precision=sizes.precision, progress=False)
    metrics[method], protocol = evaluate_run(runs[method], data)
    print(f"{method:>5}: trained in {runs[method].wall_time_s:.1f} s")

# %% tags=["nbval-ignore-output"]
for method in runs:
    print(f"{method:>5}: mean recall {metrics[method]['top_cluster']['mean_recall']:.3f} "
          f"(K = {runs[method].division.num_clusters})")

# %%
print("training protocol:", protocol_line(list(runs.values()), data))
print("evaluation:", protocol)
print("rows of the confusion matrices:", len(metrics["ce"]["top_cluster"]["confusion_matrix"]))

# %% jupyter={"source_hidden": true}
assert runs["ce"].division.num_clusters == 10 and runs["fbcd"].division.num_clusters == 31
top = {m: metrics[m]["top_cluster"] for m in runs}

# %% [markdown]
# ## Per-class recall (Fig. 3, top right)
#
# Classes from the largest to the smallest. Look at the right-hand side: the tail.

# %% tags=["nbval-ignore-output"]
plots.show(plots.per_class_recall_figure(data.counts, {m: metrics[m]["top_cluster"]["per_class_recall"]
                                                      for m in runs}, data.classes,
                                         title="Digits, ratio 100: per-class recall"))

# %% [markdown]
# ## Classifier weight norms (Fig. 3, bottom)
#
# For the two-head model a class's norm is the mean over its clusters. Cross-entropy tends to give
# the head classes larger weight vectors, which pushes predictions toward them. Why, from the
# softmax gradient (notebook 2 derives it): cross-entropy moves $\mathbf{w}_c$ by a sum over
# class c's own images, each pulling it toward its features with weight $1 - p_{ic}$, so a class
# with 144 images collects up to 144 pulls an epoch and a one-image class one; weight decay shrinks
# every vector by the same factor, so what is left roughly orders the norms by class size (the
# head's are the largest; among the tail classes, with a handful of images each, the order is noisy).

# %% tags=["nbval-ignore-output"]
plots.show(plots.weight_norms_figure(data.counts, {m: metrics[m]["top_cluster"]["weight_norms"] for m in runs}))

# %% jupyter={"source_hidden": true}
head_over_tail = {m: top[m]["weight_norms"][0] / np.mean(top[m]["weight_norms"][-3:]) for m in runs}
claim("weight norm, largest class / mean of the 3 smallest: ce", head_over_tail["ce"], above=1.5)
claim("weight norm, largest / 3 smallest: ce minus fbcd", head_over_tail["ce"] - head_over_tail["fbcd"], above=0.3)

# %% [markdown]
# ## Many / medium / few
#
# With the usual thresholds (more than 100 training images, 20 to 100, fewer than 20) digit 0 is
# the only *many* class here.

# %% tags=["nbval-ignore-output"]
plots.show(plots.group_recall_figure({m: metrics[m]["top_cluster"]["group_recall"] for m in runs}))

# %% jupyter={"source_hidden": true}
for m in runs:
    claim(f"recall of the many-shot class: {m}", top[m]["group_recall"]["many"], above=0.9)
claim("few-shot recall: fbcd minus ce", top["fbcd"]["group_recall"]["few"] - top["ce"]["group_recall"]["few"],
      above=0.03)

# %% [markdown]
# ## Confusion matrices
#
# Rows are true digits, columns predictions, each row normalised; the diagonal is the per-class
# recall. Read the bottom rows, the tail digits: their off-diagonal cells say which digits their
# test images are taken for, and comparing the two matrices shows which confusions the two heads
# remove and which they leave.

# %% tags=["nbval-ignore-output"]
plots.show(plots.confusion_figure(metrics["ce"]["top_cluster"]["confusion_matrix"], data.classes,
                                  title="cross-entropy"))

# %% tags=["nbval-ignore-output"]
plots.show(plots.confusion_figure(metrics["fbcd"]["top_cluster"]["confusion_matrix"], data.classes,
                                  title="FBH + CDH"))

# %% [markdown]
# ## How much of the gain is the prediction rule?
#
# - `top_cluster`: the class of the most probable cluster (the default).
# - `sum_clusters`: the class with the largest summed cluster probability. A class with u_c
#   clusters gets u_c shares, which restores the training prior the division removed.
# - `logit_adjusted`: subtract the log training prior of each cluster (or class) from the logits
#   first. On a cross-entropy model this is post-hoc logit adjustment, the obvious control: a
#   large part of any long-tail gain can come from the decision rule alone.

# %% tags=["nbval-ignore-output"]
by_rule = {m: {rule: metrics[m][rule]["mean_recall"] for rule in RULES} for m in runs}
print("mean recall under each rule (one seed):")
print(pd.DataFrame(by_rule).round(3).to_string())
print("\nFBH + CDH, recall of the many / medium / few classes under each rule:")
pd.DataFrame({rule: metrics["fbcd"][rule]["group_recall"] for rule in RULES}).round(3)

# %% tags=["nbval-ignore-output"]
plots.show(plots.rules_figure(by_rule))

# %% jupyter={"source_hidden": true}
claim("fbcd mean recall: top_cluster minus sum_clusters", by_rule["fbcd"]["top_cluster"] - by_rule["fbcd"]["sum_clusters"],
      above=0.02)
claim("ce mean recall: logit_adjusted minus top_cluster", by_rule["ce"]["logit_adjusted"] - by_rule["ce"]["top_cluster"],
      above=0.03)
claim("mean recall: fbcd top_cluster minus ce top_cluster", by_rule["fbcd"]["top_cluster"] - by_rule["ce"]["top_cluster"],
      above=0.02)
claim("|mean recall: ce logit_adjusted minus fbcd top_cluster|",
      abs(by_rule["ce"]["logit_adjusted"] - by_rule["fbcd"]["top_cluster"]), below=0.07)

# %% [markdown]
# ### Write them yourself: the two cluster rules
#
# From the K cluster logits (B, K) and each cluster's class (`class_of_cluster`, K integers), the
# predicted class of each sample (B,): first the top-cluster rule, then the summed-cluster rule.
# One of the check's inputs is a sample on which the two rules disagree. After each of your cells,
# a cell shows what a pass looks like.

# %%
ex = EXERCISES["top_cluster"]


def my_top_cluster(cluster_logits, class_of_cluster):
    raise NotImplementedError  # your code: the class of each sample's most probable cluster


ex.check(my_top_cluster)

# %%
ex.show_pass()  # what a pass looks like: the same check run on the answer ex.solution() prints

# %% [markdown]
# And the summed-cluster rule: the class whose clusters' probabilities add up to the most.

# %%
ex = EXERCISES["sum_clusters"]


def my_sum_clusters(cluster_logits, class_of_cluster):
    raise NotImplementedError  # your code: add up each class's cluster probabilities, take the largest


ex.check(my_sum_clusters)

# %%
ex.show_pass()  # what a pass looks like: the same check run on the answer ex.solution() prints

# %% [markdown]
# ## The same views on real CIFAR-10-LT, from committed runs
#
# The digits' tail has one or two images a class; CIFAR-10-LT at ratio 100 has 5,000 down to 50.
# The repository keeps the records and model weights of a CIFAR-10-LT study (ResNet-8, 30 epochs,
# seed 0; the protocol is printed below, and `results/cifar10_lt/README.md` has the command that
# made them), so these views need no
# training and no images: per-class recall is in each run's record, and the weights give the norm
# of every cluster's weight vector $w_k$ in the main head. Four runs: cross-entropy, the paper's
# model (`ours`), and two baselines that score above it in that study (notebook 7 calls both orders
# above the run-to-run noise), the logit-adjusted loss (`la_loss`) and LDAM with deferred
# re-weighting (`ldam_drw`).

# %%
from pathlib import Path

from fbcd_lab.records import load_records, read_record
from fbcd_lab.weights import load_weights

study = Path("../results/cifar10_lt/table1/r100")
cifar = {cell: read_record(study / cell / "seed0" / "results.json") for cell in ("ce", "ours", "la_loss", "ldam_drw")}
cifar_top = {cell: r["metrics"]["top_cluster"] for cell, r in cifar.items()}
counts, classes = cifar["ours"]["counts"], cifar["ours"]["classes"]
print("training protocol:", protocol_line(list(cifar.values())))
print("training images per class:", dict(zip(classes, counts)))

# %% tags=["nbval-ignore-output"]
plots.show(plots.per_class_recall_figure(counts, {c: m["per_class_recall"] for c, m in cifar_top.items()}, classes,
                                         title="CIFAR-10-LT, ratio 100: per-class recall"))

# %% [markdown]
# Cross-entropy's recall falls with the class size down to almost nothing on the last two
# classes; every long-tail method lifts the tail, and differs in what it pays for it in the head.
# The weight norms tell the same story from inside the classifier:

# %% tags=["nbval-ignore-output"]
plots.show(plots.weight_norms_figure(counts, {c: m["weight_norms"] for c, m in cifar_top.items()}))

# %%
ratio = {c: m["weight_norms"][0] / np.mean(m["weight_norms"][-3:]) for c, m in cifar_top.items()}
tail = {c: np.mean(m["per_class_recall"][-3:]) for c, m in cifar_top.items()}
pd.DataFrame({"norm, largest class / 3 smallest": ratio, "recall of the 3 smallest classes": tail,
              "mean recall": {c: m["mean_recall"] for c, m in cifar_top.items()}}).round(3)

# %% jupyter={"source_hidden": true}
assert max(cifar_top["ce"]["per_class_recall"][-2:]) < 0.05 and all(tail[c] > tail["ce"] for c in ("ours", "la_loss", "ldam_drw"))
assert ratio["ce"] > 1.5 and ratio["ours"] < 1 and tail["ours"] > 4 * tail["ce"]
assert ratio["la_loss"] > ratio["ce"] and tail["la_loss"] == max(tail.values())
assert set(np.argsort(cifar_top["ce"]["weight_norms"])[-2:]) == {0, 1}
assert cifar_top["ce"]["mean_recall"] < cifar_top["ours"]["mean_recall"] < cifar_top["la_loss"]["mean_recall"] < \
    cifar_top["ldam_drw"]["mean_recall"]

# %% [markdown]
# Three things to read in that table. Cross-entropy's two largest classes have the largest weight
# vectors, as in the paper's Fig. 3, and the paper's model turns it around on seed 0: its head
# class has the *smallest* norm there (the three-seed fit below supports the direction, not the
# rank on every seed). A flat norm profile is not what balances a classifier: the logit-adjusted loss
# has norms at least as skewed as cross-entropy's and, on seed 0, the best tail recall of the four, because it
# corrects the prior in the logits during training (to the logit of every class $j$ it adds
# $\tau \log \pi_j$, with $\pi_j$ the class's training share and $\tau = 1$), not in the weights.
# And on this short CPU protocol (ResNet-8, 30 epochs, where the paper trains ResNet-32 for 200)
# the paper's model scores below the logit-adjusted loss and LDAM-DRW in mean recall; notebook 7
# sets every method of the paper's Table 1 side by side.
#
# **Where this study departs from the paper, and the evidence.** The paper's Table 1 (CIFAR-10-LT,
# ratio 100, ResNet-32, 200 epochs) puts its model above LDAM-DRW and Mixup above cross-entropy;
# here both orders are reversed, and over the 30-epoch study's three seeds both reversals are
# called by the kit's rule (three seeds or more, every seed's gap of one sign, mean above twice the
# sd: the paired gaps are printed below). The repository also holds a few 200-epoch runs of the
# same ResNet-8 protocol (`results/cifar10_lt_200`), which say whether the short schedule is the
# reason:

# %%
from fbcd_lab.models.two_head import build_model
from fbcd_lab.paper_results import TABLES
from fbcd_lab.studies.orderings import MIN_SEEDS, pair_gap

CELLS = ("ce", "mixup", "ours", "ldam_drw")
studies = {"30 epochs": Path("../results/cifar10_lt/table1/r100"), "200 epochs": Path("../results/cifar10_lt_200/table1/r100")}
by_seed = {label: {cell: {p.name: 100 * read_record(p / "results.json")["metrics"]["top_cluster"]["accuracy"]
                          for p in sorted((folder / cell).glob("seed*"))} for cell in CELLS}
           for label, folder in studies.items()}
accuracy = {label: {cell: list(seeds.values()) for cell, seeds in cells.items()} for label, cells in by_seed.items()}
reversals = {label: {pair: pair_gap(cells[pair[0]], cells[pair[1]]) for pair in (("ce", "mixup"), ("ldam_drw", "ours"))}
             for label, cells in by_seed.items()}
for label, gaps in reversals.items():
    print(f"{label}, paired accuracy gap in points (seeds) verdict: " +
          "; ".join(f"{a} minus {b} {gap.text()}" for (a, b), gap in gaps.items()))
paper1 = {cell: TABLES[1].numbers["cifar10", 100, cell, None, "all"] for cell in CELLS}
departures = {f"ResNet-8, {label} (seeds)": {cell: f"{np.mean(v):.1f} ({len(v)})" for cell, v in cells.items()}
              for label, cells in accuracy.items()}
departures["paper: ResNet-32, 200 epochs"] = {cell: f"{v:.1f}" for cell, v in paper1.items()}
print("protocol of the 200-epoch runs:", protocol_line(load_records(studies["200 epochs"] / "ours")))
size = {name: sum(p.numel() for p in build_model(name, 10, 3, 32, fbh=False).parameters())
        for name in ("resnet8", "resnet32")}
below = {cell: paper1[cell] - np.mean(accuracy["200 epochs"][cell]) for cell in CELLS}
print(f"parameters: ResNet-8 {size['resnet8']:,}, ResNet-32 {size['resnet32']:,}; at 200 epochs every cell is "
      f"{min(below.values()):.1f} to {max(below.values()):.1f} points below the paper's")
pd.DataFrame(departures)

# %% jupyter={"source_hidden": true}
for label, cells in accuracy.items():
    assert np.mean(cells["mixup"]) < np.mean(cells["ce"]) and np.mean(cells["ours"]) < np.mean(cells["ldam_drw"]), label
assert all(gap.verdict == "called" and gap.mean > 0 for gap in reversals["30 epochs"].values())
late = reversals["200 epochs"]  # the next paragraph: both called at 200 epochs, on three seeds or more
assert all(gap.verdict == "called" and gap.mean > 0 and gap.n >= MIN_SEEDS for gap in late.values())
assert paper1["mixup"] > paper1["ce"] and paper1["ours"] > paper1["ldam_drw"] and min(below.values()) > 5

# %% [markdown]
# Both departures are also there in the 200-epoch runs, and both are called there as well (three
# seeds in common, the paired gaps above): the paper's model under LDAM-DRW, and Mixup under
# cross-entropy. For both orders the short schedule is not the reason. What is left differs from
# the paper in the backbone: ResNet-8, with far fewer parameters than ResNet-32 (printed). A
# likely reason, untested here: Mixup is a regulariser, and a small network that already
# underfits gains nothing from a harder training task (every cell here scores several points
# below the paper's, printed above); the paper's model may need the larger network's features as
# well. The test: the same cells with ResNet-32 for 200 epochs, on a GPU. Notebook 7 sets every
# method of Table 1 side by side.
#
# The committed weights show where the inversion of the weight norms comes from. Each marker below is one cluster of
# the main head: the head class (airplane) owns 10 clusters, the four smallest classes one each.

# %% tags=["nbval-ignore-output"]
model = load_weights(study / "ours" / "seed0")
cluster_norms = model.classifier.weight.detach().norm(dim=1).numpy()
owner = model.class_of_cluster.numpy()
plots.show(plots.cluster_norms_figure(counts, cluster_norms, owner, classes,
                                      "CIFAR-10-LT, FBH + CDH: the weight norm of every cluster"))

# %%
clusters = np.bincount(owner)
single = clusters[owner] == 1
print(f"K = {len(cluster_norms)} clusters; mean norm of a cluster of a class split in several: "
      f"{cluster_norms[~single].mean():.2f}, of a class kept whole: {cluster_norms[single].mean():.2f}")

# %% jupyter={"source_hidden": true}
assert list(clusters) == [10, 6, 4, 3, 2, 2, 1, 1, 1, 1]
assert np.allclose(np.bincount(owner, weights=cluster_norms) / clusters, cifar_top["ours"]["weight_norms"], atol=1e-5)
assert (round(float(cluster_norms[~single].mean()), 1), round(float(cluster_norms[single].mean()), 1)) == (2.4, 2.9)
assert data.counts[0] == 144 and sum(c > 100 for c in data.counts) == 1  # exercise 2: digit 0 alone is many-shot
assert [round(float(tail[c]), 3) for c in ("la_loss", "ce", "ours", "ldam_drw")] == [0.664, 0.098, 0.421, 0.633]

# %% [markdown]
# Split against whole is not the whole story: among the classes kept whole the norm still grows
# with the class size, as cross-entropy's does, and a class split in 6 (automobile) sits above some
# split in fewer. Two forces act, and a least-squares line through every committed seed's class
# norms separates them: $\lVert \mathbf{w}_c \rVert \approx a + b \ln n_c + c \ln u_c$.

# %%
seed_records = [read_record(study / "ours" / f"seed{s}" / "results.json") for s in (0, 1, 2)]
design = np.array([[1.0, np.log(n), np.log(u)] for r in seed_records
                   for n, u in zip(r["counts"], r["division"]["clusters_per_class"])])
observed = np.concatenate([r["metrics"]["top_cluster"]["weight_norms"] for r in seed_records])
(a, b, c), *_ = np.linalg.lstsq(design, observed, rcond=None)
r2 = 1 - ((observed - design @ np.array([a, b, c])) ** 2).sum() / ((observed - observed.mean()) ** 2).sum()
u_of = seed_records[0]["division"]["clusters_per_class"]
print(f"norm ≈ {a:.2f} + {b:.2f} ln n_c − {-c:.2f} ln u_c over {len(observed)} class norms (3 seeds); R² {r2:.2f}")
line = design[:10] @ np.array([a, b, c])
seed0_norms = np.asarray(cifar_top["ours"]["weight_norms"])
print(pd.DataFrame({"n_c": counts, "u_c": u_of, "norm, seed 0": np.round(seed0_norms, 2),
                    "the line": np.round(line, 2)}, index=classes).to_string())
print(f"automobile, seed 0: {seed0_norms[1] - line[1]:.2f} above the line; its norm above bird's by "
      f"{seed0_norms[1] - seed0_norms[2]:.2f} and above cat's by {seed0_norms[1] - seed0_norms[3]:.2f}, "
      f"where the line puts it below both")

# %% jupyter={"source_hidden": true}
assert b > 0 and c < -b and r2 > 0.5  # more images lengthen a class's vectors, more clusters shorten them more
whole = [cifar_top["ours"]["weight_norms"][k] for k in range(10) if u_of[k] == 1]  # exercise 4: frog .. truck
assert whole.index(max(whole)) == 0 and whole.index(min(whole)) == len(whole) - 1
assert cifar_top["ours"]["weight_norms"][1] > max(cifar_top["ours"]["weight_norms"][2:4])  # automobile above bird, cat
assert line[1] < min(line[2:4]) and round(float(seed0_norms[1] - line[1]), 1) == 0.4  # answer 4

# %% [markdown]
# ## Exercises
#
# 1. **Predict, then check.** Of the four CIFAR-10-LT runs, which one recalls the three smallest
#    classes best, and which one worst? Guess before you read the table above.
# 2. On the digits, which class is the only *many* class, and why is its recall close to 1 for both
#    models?
# 3. **Change a line.** Add `"fbh"` to the methods of the training cell, `("ce", "fbh", "fbcd")`,
#    and rerun the notebook's digits part. Where does the feature-balancing head alone land, in mean
#    recall and in its weight norms?
# 4. Why does the paper's model give its head class the *smallest* weight norm on CIFAR-10-LT?
#    Hint: what soft label does a cluster get when its class is split in 10, and when it is not
#    split at all?
# 5. The logit-adjusted loss keeps cross-entropy's skewed norms and still has the best tail recall of
#    the four. What does that tell you about reading weight norms as a diagnosis?
#
# <details><summary>Answers (click to open)</summary>
#
# 1. On seed 0 (the table's run): best the logit-adjusted loss (0.664), worst cross-entropy
#    (0.098), with the paper's model (0.421) and LDAM-DRW (0.633) between. The methods that correct
#    the prior in the loss (LA) or re-weight late (DRW) reach the tail furthest in this run; one
#    seed calls no order (notebook 7 compares the methods over three seeds).
# 2. Digit 0, the only class with more than 100 training images (134 in the lab's split, 144
#    here). With that many images even plain cross-entropy learns it; the gain is elsewhere.
# 3. Expect it near cross-entropy in mean recall on the digits (notebook 6 measures it over
#    seeds), and expect weight norms still skewed like cross-entropy's, since its main head is a
#    plain C-way classifier; the run you make shows whether this seed bears that out (this
#    notebook does not train it).
# 4. Two forces, which the line fitted above separates. More images lengthen a class's vectors,
#    as in cross-entropy (the coefficient of ln n_c is positive: among the classes kept whole,
#    truck's 50 images give the shortest vector, frog's 232 the longest). More clusters shorten
#    them, by more per nat (the coefficient of ln u_c is negative and larger): in training a
#    class's probability is the sum of its u_c clusters', and a random division makes the clusters
#    alike, so their logits are alike and the class scores about z + ln u_c, with z one cluster's
#    logit. The division hands a class split in u_c a head start of ln u_c nats, and its clusters'
#    weights need that much less length to give the class its probability; the soft labels (α =
#    0.5, siblings sharing the rest) keep any one cluster from being pushed to a confident logit.
#    Airplane has the largest head start, ln 10 ≈ 2.3, and the shortest vectors; automobile (6
#    clusters, 2,997 images) is where the line misses most: the two forces put it below bird and
#    cat, yet its norm sits about 0.4 above the line, and above bird's and cat's norms too (the
#    line under the table prints each gap). A class kept whole gets no
#    head start. So these two forces are not all: one study, three seeds.
# 5. That a skewed norm profile is a symptom of a prior learnt into the weights, not a requirement
#    for balance: a model can correct the prior elsewhere (the logits, the loss, the decision
#    rule) and keep skewed norms. Compare recalls, not norms, to judge a method.
#
# </details>

# %% [markdown]
# ## What you should have seen
#
# - Both models recognise the head digits; they differ on the tail, where a class may have a
#   single training image.
# - Cross-entropy's weight norms fall with class size; the two-head model's are flatter.
# - Summing cluster probabilities lowers the two-head model's mean recall on this seed (the group
#   table under the rules shows where: many, medium or few). Logit adjustment
#   lifts plain cross-entropy to about the level of the two heads under the top-cluster rule
#   (within a few points, above or below: compare the table's `ce` `logit_adjusted` with `fbcd`
#   `top_cluster`). One seed on 300 test images is noisy: notebook 6 repeats the comparison over
#   seeds, and notebooks 8 and 9 take this question apart.
