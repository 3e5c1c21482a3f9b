# %% [markdown]
# # 6. Ablation and sensitivity
#
# | | |
# | --- | --- |
# | **You will learn** | which part of the method does the work (the paper's Table 4: CE, FBH, CDH, FBH + CDH), how much its settings matter (u, the division strategy, λ; Fig. 4), how to read a mean ± sd over seeds, and why the digits, the committed CIFAR-10-LT runs and the paper do not all order the heads alike |
# | **You need first** | notebooks 2 (FBH), 3 (CDH) and 5 (per-class analysis) |
# | **Time** | about 20 minutes; the digits' runs train in seconds each (every training cell prints how long its runs took, and the λ cell estimates its time before it starts) |
#
# The paper's Table 4 and Fig. 4 are repeated on the embedded digits, each over the preset's
# training seeds (two under `ci`) with mean and standard deviation, then set beside the paper's
# numbers and the committed CIFAR-10-LT study. The digits are tiny: 300 test images, tail classes with one or two training
# images. Expect seed-to-seed spreads of several points, and report what comes out, also where the
# method does not help.
#
# **What the spread measures.** Every run of a ratio trains on the *same* long-tailed subset
# (`build_long_tailed`'s `seed` is the subset seed, 0 throughout); the training seed
# (the `seed` of each `(data, method, optim, seed)` job of `train_and_record_all`) changes the
# initialisation, the division and the
# batch order. So the "± sd" below is training variance on one subset; another subset would add
# its own variance on top. A cell pools only runs whose settings agree in everything but the
# training seed (`records.pivot_table`), and "(n)" says how many it pooled.

# %%
import os
import warnings
from pathlib import Path

import pandas as pd

from fbcd_lab import plots
from fbcd_lab.claims import claim
from fbcd_lab.config import MethodConfig, preset
from fbcd_lab.data import build_long_tailed, long_tail_counts
from fbcd_lab.lab_preset import lab_preset
from fbcd_lab.records import load_records, pivot_table, summarize, train_and_record_all
from fbcd_lab.studies.orderings import CALLED, pair_gap, read_table, table_seed_scores
from fbcd_lab.training_protocol import protocol_line
from fbcd_lab.ui import DIGITS_SPLIT

plots.setup_notebook()
sizes = lab_preset()
optim = preset("digits", epochs=sizes.epochs)
seeds = sizes.training_seeds
datasets = {ratio: build_long_tailed("digits", ratio, seed=0) for ratio in (100, 50, 10)}  # one subset each
print(f"preset {sizes.name}: training seeds {seeds}, {optim.epochs} epochs, u values {sizes.u_values}, "
      f"precision {sizes.precision}")


# %% [markdown]
# ## Table 4: which head helps?
#
# Test mean recall in percent, "mean ± sd (n)" over the training seeds, one subset per ratio. The
# cell after the table pairs the seeds: each head's gap over cross-entropy, and CDH alone against
# FBH + CDH, at ratios 100 and 50, with the verdict of notebook 7's rule (an order is *called*
# only over three seeds or more, every seed's gap of one sign and the mean above twice the sd;
# with the two seeds of the `ci` and `binder` presets nothing is called).

# %% tags=["nbval-ignore-output"]
ablation = train_and_record_all([(datasets[ratio], MethodConfig(method=method, backbone="small_cnn"), optim, seed)
                                  for ratio in (100, 50, 10) for method in ("ce", "fbh", "cdh", "fbcd") for seed in seeds],
                                 sizes.processes, precision=sizes.precision)
print(f"{len(ablation)} runs, {sum(r['wall_time_s'] for r in ablation):.0f} s of training in all")
pivot_table(ablation, "method", "imbalance_ratio").loc[["ce", "fbh", "cdh", "fbcd"]]

# %% tags=["nbval-ignore-output"]
digits_seeds = {(row["method"], row["imbalance_ratio"]): {seed: 100 * v for seed, v in row["mean_recall_by_seed"].items()}
                for row in summarize(ablation)}
digits_steps = [("fbh", "ce"), ("cdh", "ce"), ("fbcd", "ce"), ("cdh", "fbcd")]
digits_gaps = {(a, b, ratio): pair_gap(digits_seeds[a, ratio], digits_seeds[b, ratio])
               for ratio in (100, 50) for a, b in digits_steps}
pd.DataFrame({f"ratio {ratio}: gap (points) ± sd (n), verdict": {
    f"{a} minus {b}": digits_gaps[a, b, ratio].text() for a, b in digits_steps} for ratio in (100, 50)})

# %% jupyter={"source_hidden": true}
assert sizes.seeds >= 3 or not any(gap.verdict == CALLED for gap in digits_gaps.values())

# %%
print("runs:", len(ablation), "| methods:", sorted({r["method"] for r in ablation}))
print("training protocol:", protocol_line(ablation))

# %% jupyter={"source_hidden": true}
table4 = pd.DataFrame(summarize(ablation)).set_index(["method", "imbalance_ratio"])["mean_recall_mean"]
assert len(ablation) == 3 * 4 * sizes.seeds and (pd.DataFrame(summarize(ablation))["n"] == sizes.seeds).all()
for ratio in (100, 50):
    claim(f"ratio {ratio}: cdh minus ce", table4["cdh", ratio] - table4["ce", ratio], above=0.04)
    claim(f"ratio {ratio}: cdh minus the best of fbh and fbcd",
          table4["cdh", ratio] - max(table4["fbh", ratio], table4["fbcd", ratio]), above=0.0)
claim("ratio 10: best minus worst method", table4.xs(10, level="imbalance_ratio").max()
      - table4.xs(10, level="imbalance_ratio").min(), below=0.06)

# %% [markdown]
# ## The same table on CIFAR-10-LT and in the paper
#
# The paper's Table 4 is on CIFAR-100-LT and Tiny-ImageNet-LT (ResNet-32 and ResNet-18, 200
# epochs); the repository's committed study ran it on CIFAR-10-LT at ratio 100 (its protocol is
# printed below). Their test sets are balanced, so top-1 accuracy is the mean recall. Read as
# gains over cross-entropy, settings of any accuracy compare.
#
# The committed study also trained four control cells, because on CIFAR the heads differ by more
# than their losses. ResNet-8 ends with D = 64 channels, not a multiple of C = 10, so FBH brings a
# *balanced neck* (notebook 2: a 1 x 1 convolution to 70 = 7 x 10 channels) that both heads read:
# the model's `neck` setting `shared`, the paper's cells. `always` adds the same neck without FBH
# (`ce+neck`, `cdh+neck`): what the extra layer alone gives. `fbh_only` lets only the
# feature-balancing head read the neck while the main head reads the backbone's own 64 channels
# (`fbh+own_neck`, `fbcd+own_neck`): FBH then shapes the shared backbone through its loss alone,
# never the features the classifier sees. The table after the gains shows all eight cells.

# %%
from fbcd_lab.paper_results import TABLES

heads = {"fbh": "FBH", "cdh": "CDH", "fbcd": "FBH + CDH"}
paper4 = TABLES[4].numbers
cifar4 = pd.DataFrame(summarize(load_records("../results/cifar10_lt/table4"), metric="accuracy"))
# neck "shared" is the paper's setting (FBH adds its neck where needed); "always" and "fbh_only" are controls
cifar4_cells = cifar4[cifar4["method.neck"] == "shared"].set_index("method")
cifar10_lt = 100 * cifar4_cells["accuracy_mean"]
print("CIFAR-10-LT training protocol:", protocol_line(load_records("../results/cifar10_lt/table4")))
gains = {
    "digits, small CNN (this notebook)": {heads[m]: 100 * (table4[m, 100] - table4["ce", 100]) for m in heads},
    "CIFAR-10-LT, ResNet-8 (committed)": {heads[m]: cifar10_lt[m] - cifar10_lt["ce"] for m in heads},
    "CIFAR-100-LT (paper)": {heads[m]: paper4["cifar100", 100, m, None, "all"] - paper4["cifar100", 100, "ce", None, "all"]
                             for m in heads},
    "Tiny-ImageNet-LT (paper)": {heads[m]: paper4["tiny_imagenet", 100, m, None, "all"]
                                 - paper4["tiny_imagenet", 100, "ce", None, "all"] for m in heads},
}

# %% tags=["nbval-ignore-output"]
pd.DataFrame(gains).round(2)

# %% tags=["nbval-ignore-output"]
plots.show(plots.head_gains_figure(gains, "Table 4 at ratio 100, as gains over cross-entropy"))

# %%
necks = 100 * cifar4.pivot(index="method", columns="method.neck", values="accuracy_mean")
print(f"FBH + CDH over CDH: {necks.loc['fbcd', 'shared'] - necks.loc['cdh', 'shared']:+.1f} points; over CDH with "
      f"the same neck (always): {necks.loc['fbcd', 'shared'] - necks.loc['cdh', 'always']:+.1f}; FBH + CDH when only "
      f"FBH reads the neck (fbh_only): {necks.loc['fbcd', 'fbh_only'] - necks.loc['fbcd', 'shared']:+.1f}")
necks.round(2).loc[["ce", "fbh", "cdh", "fbcd"], ["shared", "always", "fbh_only"]]

# %% [markdown]
# Top-1 in percent, the mean over the seeds the protocol line names; an empty cell was not trained (the neck is always there
# with FBH, so `always` equals `shared` for it; `fbh_only` needs FBH). Read across a row: a
# method's gain from the layer alone is `always` minus `shared` for CE and CDH, and the printed
# line shows how much of FBH + CDH's lead over CDH is left once CDH gets the same layer, and what
# FBH + CDH loses when its classifier does not read the neck.
#
# Which of these gaps are findings? As in notebook 7, a gap between two cells counts only when it
# is *called*: paired by training seed, the differences all have one sign and their mean exceeds
# twice their standard deviation, over at least three seeds; otherwise it is *within noise* (or
# too few seeds to call), whatever its mean: notebooks 8 and 9 split *within noise* into *leans*
# (the mean gap above its own sd) and *level with*, neither a finding. Each step of the paper's order, and each neck control, with its verdict:

# %%
table4_seeds = table_seed_scores(read_table(Path("../results/cifar10_lt/table4")), "100")
steps = [("fbh", "ce"), ("cdh", "ce"), ("cdh", "fbh"), ("fbcd", "cdh"), ("ce+neck", "ce"), ("cdh+neck", "cdh"),
         ("fbcd", "cdh+neck"), ("fbcd", "fbcd+own_neck"), ("fbh", "fbh+own_neck")]
step_gaps = {(a, b): pair_gap(table4_seeds[a], table4_seeds[b]) for a, b in steps}
pd.DataFrame({"gap (points) ± sd (n), verdict": {f"{a} minus {b}": gap.text() for (a, b), gap in step_gaps.items()}})

# %% jupyter={"source_hidden": true}
assert len({tuple(s) for s in cifar4_cells.loc[list(heads) + ["ce"], "seeds"]}) == 1  # the same seeds each
for setting in list(gains)[1:]:  # CIFAR-10-LT and the paper: both heads help, together the most
    assert min(gains[setting].values()) > 0 and max(gains[setting], key=gains[setting].get) == "FBH + CDH"
for setting in ("CIFAR-10-LT, ResNet-8 (committed)", "CIFAR-100-LT (paper)"):
    assert gains[setting]["FBH"] < gains[setting]["CDH"] < gains[setting]["FBH + CDH"]
neck_alone = 100 * cifar4.set_index(["method", "method.neck"]).loc[("ce", "always"), "accuracy_mean"] - cifar10_lt["ce"]
assert neck_alone < gains["CIFAR-10-LT, ResNet-8 (committed)"]["FBH + CDH"] / 4  # the layer is not the gain
assert (round(neck_alone, 1), round(gains["CIFAR-10-LT, ResNet-8 (committed)"]["FBH + CDH"], 1)) == (1.7, 11.6)  # ex. 2
assert all(step_gaps[step].verdict == CALLED for step in [("cdh", "ce"), ("cdh", "fbh"), ("fbcd", "cdh"),
                                                          ("fbcd", "cdh+neck"), ("ce+neck", "ce")])
assert step_gaps[("fbh", "ce")].verdict != CALLED and step_gaps[("fbh", "ce")].mean > 0  # ahead by mean only

# %% [markdown]
# In the committed CIFAR-10-LT runs CDH helps and FBH + CDH helps most (CDH over CE, CDH over
# FBH and FBH + CDH over CDH are called above, and FBH + CDH's lead over CDH holds, called, when
# CDH gets the same neck), while FBH alone is ahead of CE by mean only (within noise). By mean
# these runs order the heads as the paper's CIFAR-100 does (CE < FBH < CDH < FBH + CDH), and in
# the paper's tables both heads help and together they help most. The digits, by mean over their
# seeds, are the outlier: CDH alone leads FBH + CDH there (not called with two seeds; the paired
# gaps under the digits' table). A likely reason, which this notebook does not test (answer 4
# says what would): the small CNN's 80 channels give FBH 8 channels a class, and a tail class of
# one or two images gives its channel group almost nothing to learn from, while the class-division
# head's soft labels act on the classifier directly. The extra
# layer that FBH brings where the channels do not split evenly (the neck, notebook 2) is not the
# gain: cross-entropy with the same layer (`ce` with `neck = always` in the committed study) gains
# only the amount printed below, over the seeds of this study (called) and over the three of the
# Table 1 study that notebook 7 reads (its `ce_neck` row; within noise there).

# %%
print(f"CIFAR-10-LT top-1: CE {cifar10_lt['ce']:.2f} %, FBH + CDH {cifar10_lt['fbcd']:.2f} % "
      f"({gains['CIFAR-10-LT, ResNet-8 (committed)']['FBH + CDH']:+.1f} points); "
      f"CE with FBH's extra layer alone {neck_alone:+.1f} points")
print(f"the layer alone, paired over the Table 4 study's seeds (ce+neck minus ce): {step_gaps['ce+neck', 'ce'].text()}")
table1_seeds = table_seed_scores(read_table(Path("../results/cifar10_lt/table1")), "100")
neck_table1 = pair_gap(table1_seeds["ce_neck"], table1_seeds["ce"])
print(f"the same layer over the {neck_table1.n} seeds of the Table 1 study (ce_neck minus ce): {neck_table1.text()}")

# %% jupyter={"source_hidden": true}
assert step_gaps["ce+neck", "ce"].verdict == CALLED and neck_table1.verdict != CALLED and neck_table1.n == 3
assert round(neck_table1.mean, 1) == 1.6  # answer 2

# %% [markdown]
# ## Fig. 4 left: the number of clusters u (class-division head alone)
#
# u = 1 is plain cross-entropy. The paper finds CDH helpful over a wide range of u (its Fig. 4: 5 to 20 on
# CIFAR-100). One point per u: mean ± sd over the training seeds (`summarize` rows).

# %% tags=["nbval-ignore-output"]
sweep = train_and_record_all([(datasets[100], MethodConfig(method="cdh", backbone="small_cnn", u=u), optim, seed)
                               for u in sizes.u_values for seed in seeds], sizes.processes, precision=sizes.precision)
by_u = pd.DataFrame(summarize(sweep))
print(f"{len(sweep)} runs, {sum(r['wall_time_s'] for r in sweep):.0f} s of training in all")
plots.show(plots.sweep_figure(by_u["u"].tolist(), {"cdh": by_u["mean_recall_mean"].tolist()},
                              {"cdh": by_u["mean_recall_std"].tolist()}, "u (clusters of the largest class)",
                              "Class-division head alone, digits ratio 100"))

# %% jupyter={"source_hidden": true}
assert by_u["u"].tolist() == list(sizes.u_values) and (by_u["n"] == sizes.seeds).all()
recall_at = dict(zip(by_u["u"], by_u["mean_recall_mean"]))
claim("cdh: mean recall at u = 10 minus u = 1", recall_at[10] - recall_at[1], above=0.05)
claim("cdh: |mean recall at u = 20 minus u = 10|", abs(recall_at[20] - recall_at[10]), below=0.06)

# %% [markdown]
# ## Fig. 4 right: how the classes are divided
#
# The full model with u = 10 and each division strategy. The paper reports little difference.

# %% tags=["nbval-ignore-output"]
strategies = train_and_record_all([(datasets[100], MethodConfig(method="fbcd", backbone="small_cnn", cluster=c),
                                     optim, seed) for c in ("random", "kmeans", "hierarchical") for seed in seeds],
                                   sizes.processes, precision=sizes.precision)
by_strategy = pd.DataFrame(summarize(strategies))
print(f"{len(strategies)} runs, {sum(r['wall_time_s'] for r in strategies):.0f} s of training in all")
plots.show(plots.sweep_figure(by_strategy["cluster"].tolist(), {"fbcd": by_strategy["mean_recall_mean"].tolist()},
                              {"fbcd": by_strategy["mean_recall_std"].tolist()}, "division strategy",
                              "FBH + CDH (u = 10), digits ratio 100"))

# %% tags=["nbval-ignore-output"]
pivot_table(strategies, "cluster", "method")

# %% jupyter={"source_hidden": true}
assert (by_strategy["n"] == sizes.seeds).all() and len(by_strategy) == 3
claim("fbcd: best minus worst division strategy", by_strategy["mean_recall_mean"].max()
      - by_strategy["mean_recall_mean"].min(), below=0.05)

# %% [markdown]
# ## The weight λ of the feature-balancing loss, chosen on a validation split
#
# $\mathcal{L} = \mathcal{L}_2 + \lambda\,\mathcal{L}_1$: λ sets how hard the class groups of
# channels are trained (the paper uses λ = 1.5 and does not sweep it). λ = 0 keeps the
# feature-balancing head but gives it no gradient, which leaves the class-division head alone.
#
# The u and division sweeps above are read on the test set: they describe, they choose nothing.
# A λ *chosen* for its test score would have seen the test set. So this sweep trains on the
# training lab's split (notebook 4): 10 images per class set aside for validation, carved from
# those the long tail leaves unused, so the head digit keeps 134 training images instead of 144.
# λ is chosen by the final epoch's validation mean recall, mean over the seeds, and its test score
# reported; the λ the test set would pick is printed beside it, as what test-set selection gives.
# The cell says how long it will take, from the runs above, before it starts.

# %% tags=["nbval-ignore-output"]
lams = (0.0, 1.5, 3.0)
per_run = pd.DataFrame(strategies)["wall_time_s"].mean()
print(f"{len(lams) * len(seeds)} runs of FBH + CDH on the digits, about {per_run:.0f} s each "
      f"(the mean of the division runs above), {sizes.processes} at a time: about "
      f"{len(lams) * len(seeds) * per_run / sizes.processes / 60:.1f} min")
with_val = build_long_tailed("digits", 100, seed=0, n_max=DIGITS_SPLIT[0], val_per_class=DIGITS_SPLIT[1])
lam_sweep = train_and_record_all([(with_val, MethodConfig(method="fbcd", backbone="small_cnn", lam=lam), optim,
                                    seed) for lam in lams for seed in seeds], sizes.processes, precision=sizes.precision)
by_lam = pd.DataFrame(summarize(lam_sweep))
print(f"took {sum(r['wall_time_s'] for r in lam_sweep):.0f} s of training in all")
plots.show(plots.sweep_figure(by_lam["lam"].tolist(), {"fbcd": by_lam["mean_recall_mean"].tolist()},
                              {"fbcd": by_lam["mean_recall_std"].tolist()}, "λ (weight of the FBH loss L1)",
                              "FBH + CDH (u = 10), digits ratio 100"))

# %% tags=["nbval-ignore-output"]
by_lam["val_mean_recall"] = [pd.Series([r["history"][-1]["val_mean_recall"] for r in lam_sweep if r["lam"] == lam]).mean()
                              for lam in by_lam["lam"]]
chosen = by_lam.loc[by_lam["val_mean_recall"].idxmax()]
on_test = by_lam.loc[by_lam["mean_recall_mean"].idxmax()]
steps = by_lam["mean_recall_mean"].diff().dropna()
trend = "falls at every step" if (steps < 0).all() else "rises at every step" if (steps > 0).all() else "goes up and down"
print(f"λ chosen on the validation split: {chosen['lam']:g} (validation {chosen['val_mean_recall']:.3f}); its test "
      f"mean recall {chosen['mean_recall_mean']:.3f} ± {chosen['mean_recall_std']:.3f}")
print(f"test-set selection would pick λ = {on_test['lam']:g} ({on_test['mean_recall_mean']:.3f}): "
      f"{'the same λ' if on_test['lam'] == chosen['lam'] else 'another λ'}; range over λ on test "
      f"{by_lam['mean_recall_mean'].max() - by_lam['mean_recall_mean'].min():.3f}")
print(f"as λ grows from {lams[0]:g} to {lams[-1]:g}, test mean recall {trend}: "
      + " → ".join(f"{v:.3f}" for v in by_lam["mean_recall_mean"]))

# %% jupyter={"source_hidden": true}
assert by_lam["lam"].tolist() == list(lams) and (by_lam["n"] == sizes.seeds).all()
assert with_val.counts[0] == 134 and len(with_val.val) == 100 and all("val_mean_recall" in r["history"][-1]
                                                                       for r in lam_sweep)
assert {name: lab_preset(name).seeds for name in ("ci", "binder", "full")} == {"ci": 2, "binder": 2, "full": 5}
assert [long_tail_counts(144, 10, r)[-1] for r in (100, 20, 5)] == [1, 7, 28]  # answer 4

# %% [markdown]
# ## Full-scale results from the command line
#
# The same tables from real runs, e.g. the paper's CIFAR-100-LT protocol on a GPU:
#
# ```bash
# for seed in 0 1 2; do for method in ce fbh cdh fbcd; do
#   python -m fbcd_lab train --dataset cifar100 --data-root ~/data --imbalance-ratio 100 \
#     --method $method --seed $seed --out runs/cifar100-r100-$method-s$seed
# done; done
# ```
#
# This cell reads a folder only when the environment variable `FBCD_RESULTS` names one, e.g.
# `FBCD_RESULTS=$PWD/runs python -m fbcd_lab lab` from the repository root (an absolute path:
# the notebook runs in `notebooks/`), or `os.environ["FBCD_RESULTS"] = "/path/to/runs"` in a cell
# above. Files that are not readable results records are skipped, and the warnings say which.
# Runs that differ in anything but the seed (dataset, epochs, a stopped run, ...) get rows of
# their own.

# %%
results = os.environ.get("FBCD_RESULTS")
if results is None:
    print("FBCD_RESULTS is not set: set it to a folder of results.json files and rerun this cell")
else:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saved = load_records(results)
        full_scale = pivot_table(saved, "method", "imbalance_ratio")
    for warning in caught:
        print("warning:", warning.message)
    if saved:
        display(full_scale)
    else:
        print(f"no results.json under {results}: make some with the commands above")

# %% [markdown]
# ## Exercises
#
# 1. **Predict, then check.** How many models does the digits' Table 4 cell train under your preset
#    (the first cell prints the training seeds)? Count before you look at `len(ablation)`.
# 2. In the committed CIFAR-10-LT study, what share of FBH + CDH's gain over cross-entropy would
#    cross-entropy get from FBH's extra layer alone (read the printed numbers)?
# 3. **Change a setting.** Add `6.0` to `lams` in the λ cell and rerun it. What does a λ that large
#    do to the main head's training, and does the curve show it?
# 4. Why might the class-division head alone lead FBH + CDH on the digits (by mean; with two seeds
#    not called) but not on CIFAR-10-LT or in the paper?
# 5. Two seeds agree and the table prints "± 0.0". What does that tell you, and what does it not?
#
# <details><summary>Answers (click to open)</summary>
#
# 1. 3 ratios × 4 methods × the number of seeds: **24** under the `ci` and `binder` presets (2
#    seeds), 60 under `full` (5).
# 2. **1.7 of 11.6 points**, about a seventh (51.62 % and 61.51 % against 49.92 %, three seeds each;
#    the layer's own gain is called in this Table 4 study and within noise in the Table 1 study,
#    +1.6 points there, both printed above, and far below the heads'): the rest is the two heads.
# 3. The total loss is then dominated by L1, the feature-balancing head's cross-entropy, which
#    trains the features but is not used for prediction; the main head, which predicts, gets a
#    relatively smaller share of every step. On the digits the sweep's last printed line gives the
#    trend of test recall over λ, by mean over the preset's seeds (two under `ci`: a trend to
#    read, not an order called): where it falls, the feature-balancing loss seems to cost recall
#    there, the more the heavier it weighs. Choose λ by the validation line, not by this one.
# 4. A hypothesis this notebook does not test: a tail class of one or two images cannot train its
#    own channel group, while the grouping still constrains the shared features; CIFAR-10-LT's
#    smallest class has 50 images. The number of channels a class alone is not the reason: the
#    paper's CIFAR-100-LT has 64 feature channels (ResNet-32) for 100 classes, about one a class,
#    and FBH helps there. Notebook 9 looks at what FBH does to the features. What would test the
#    hypothesis: FBH's gap over CE should grow as the tail gets more images. Train `ce` and `fbh`
#    over three seeds or more on digits sets with the same head and a fuller tail, e.g.
#    `build_long_tailed("digits", r)` for r = 100, 20 and 5 (the rarest class keeps 1, 7 and 28
#    images), pair each ratio's seeds with `pair_gap` on the few-shot classes' recall (the mean
#    recall nears its ceiling at small ratios, as ratio 10 above shows), and measure the tail
#    classes' own-group energy share (`group_energy`, notebook 2), which should rise from chance
#    (0.1) with them.
# 5. Only that the runs agreed, not that the number is exact: with n = 2 the sample sd is a very
#    rough estimate, another subset of the data would add its own variance, and the test set of
#    300 images moves in steps of 1/30 per class.
#
# </details>

# %% [markdown]
# ## What you should have seen
#
# - The four rows of Table 4 with their spread. On the digits, by mean over the seeds, the
#   class-division head alone leads at ratios 50 and 100, ahead of cross-entropy and of FBH +
#   CDH; over two seeds no order is called (the paired gaps under the table), so the paper's
#   ordering (FBH + CDH best) is not seen here, nor is its opposite shown. The feature-balancing
#   head alone (its small CNN has 80 channels, 8 per class) is level with cross-entropy: its
#   paired gaps under the table are not called at either ratio. At ratio 10 all methods are
#   within a few points.
# - CDH alone over u: u = 1 is cross-entropy; by mean over the preset's seeds (two under `ci`:
#   not called) recall rises with u and levels off around u = 10 (u = 20 within a few points of
#   u = 10; the checks assert both).
# - The division strategy matters little (a few points at most), as the paper reports, though
#   k-means and hierarchical division make unequal clusters.
# - λ: chosen on a validation split, never on the test set; the sweep prints the validation
#   choice, its test score, and what test-set selection would have picked. Weigh any difference
#   against the error bars: 10 validation images a class move the choice in steps of 1/100.
# - Beside the digits: in the committed CIFAR-10-LT runs CDH helps and FBH + CDH helps most
#   (called over three seeds), while FBH alone is ahead of cross-entropy by mean only; the paper's
#   tables put both heads above cross-entropy and the two together highest.
# - The spread is training variance on one subset, from two seeds: an sd of 0.0 only means the
#   two seeds agreed. Single-seed comparisons on small long-tailed sets mislead; always look at
#   the spread and at n.
