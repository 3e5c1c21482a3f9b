# %% [markdown]
# # 8. The prior the classifier learnt
#
# | | |
# | --- | --- |
# | **You will learn** | how much of a long-tail gain is the prediction rule: post-hoc logit adjustment (a prior correction any model can get after training) swept over τ, what the class-division head does to the scores (where the cluster probability goes, the prior its top-cluster rule implies, as an equivalent τ), and how far each rule's confidences can be trusted |
# | **You need first** | notebooks 2 (FBH), 3 (CDH) and 5 (prediction rules); notebook 7 (the comparison) helps |
# | **Time** | about 30 minutes; the models train in seconds under the quick `ci` preset, in a few minutes under the default `full` |
#
# FBH + CDH beats plain cross-entropy (CE) under the top-cluster rule, this kit's default reading
# of the paper's "the correspondence between the K clusters and the original C classes" (the
# paper does not say which rule). But much of what a model trained on long-tailed data gets wrong
# comes from the training prior it has learnt, and *any* model can have that prior removed after
# training: post-hoc logit adjustment (Menon et al., 2021) subtracts τ times the log prior from
# each logit before the arg-max,
#
# $$\hat y = \arg\max_k \left( z_k - \tau \log \pi_k \right), \qquad \pi_k = \frac{n_k}{N},$$
#
# with $z_k$ the logit of class (or cluster) $k$, $n_k$ its training images (`data.counts`, or a
# division's `cluster_sizes`) and $N$ all training images: $\log \pi_k$ is what `log_prior` gives
# and τ is the `tau` of `predict_classes(..., rule="logit_adjusted", tau=...)`. The committed
# CIFAR-10-LT runs (printed below) show why this matters: there CE with logit adjustment scores
# above FBH + CDH with the top-cluster rule. This notebook measures how much of the gain is a
# correction of the prior, on the digits, for CE and FBH + CDH trained on the same data over
# the preset's training seeds (two under `ci`):
#
# 1. **the prediction rule**: top cluster, summed clusters and logit adjustment with τ swept, for
#    every model, CE included, then the same rules on the committed CIFAR-10-LT runs;
# 2. **what CDH does**: where the cluster probability mass goes, the division, and the class prior
#    the top-cluster rule implies, as an equivalent τ;
# 3. **calibration** under each rule.
#
# Notebook 9 asks the other half of the question: what the features learnt.

# %%
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fbcd_lab import analysis, plots
from fbcd_lab.analysis import mean_sd, paired_verdict, points
from fbcd_lab.claims import claim
from fbcd_lab.config import MethodConfig, preset
from fbcd_lab.data import build_long_tailed
from fbcd_lab.exercises import EXERCISES
from fbcd_lab.lab_preset import lab_preset
from fbcd_lab.records import read_record
from fbcd_lab.training import train_seeds
from fbcd_lab.training_protocol import protocol_line

plots.setup_notebook()
started = time.perf_counter()
sizes = lab_preset()
data = build_long_tailed("digits", 100, seed=0)
optim = preset("digits", epochs=sizes.epochs)
seeds = sizes.training_seeds
taus = list(analysis.DEFAULT_TAUS)
TAU = 1.0  # the tau of "post-hoc logit adjustment" in the findings and calibration, as in the run records
METHODS = {"ce": "CE", "fbcd": "FBH + CDH"}
print(f"preset {sizes.name}: {optim.epochs} epochs, training seeds {seeds}, precision {sizes.precision}; "
      f"counts {list(data.counts)} "
      f"(built with ratio 100; largest / smallest class {max(data.counts) / min(data.counts):g}), "
      f"{len(data.test)} test images")
print("taus swept:", " ".join(f"{t:g}" for t in taus))
STUDY = Path("../results/cifar10_lt/table1/r100")
committed = {c: read_record(STUDY / c / "seed0" / "results.json")["metrics"] for c in ("ce", "ours")}
print(f"committed CIFAR-10-LT runs (seed 0), mean recall: CE with logit adjustment "
      f"{100 * committed['ce']['logit_adjusted']['mean_recall']:.2f} %, FBH + CDH with the top-cluster rule "
      f"{100 * committed['ours']['top_cluster']['mean_recall']:.2f} %")

# %% [markdown]
# ## Train CE and FBH + CDH
#
# Same data, same small CNN, same schedule, one run per training seed and method; only the heads
# differ. (Notebook 9 trains the same runs: the same settings and seeds give the same models. A
# run trained before with the same settings, here or in an earlier notebook, is loaded from the
# run cache instead of trained again, and the time printed is that of its training: the notebook
# can then take less time than its runs' times add up to.)

# %% tags=["nbval-ignore-output"]
runs = train_seeds(data, [MethodConfig(method=m, backbone="small_cnn") for m in METHODS], optim, seeds,
                   precision=sizes.precision, progress=False)
for m in METHODS:
    print(f"{m:>5}: trained in " + ", ".join(f"{run.wall_time_s:.1f} s (seed {run.seed})" for run in runs[m]))
print("training protocol:", protocol_line([run for m in METHODS for run in runs[m]], data))

# %%
for m in METHODS:
    print(f"{METHODS[m]:>9}: K = {runs[m][0].division.num_clusters} clusters, "
          f"clusters per class {runs[m][0].division.clusters_per_class}")

# %% [markdown]
# ## 1. The prediction rule
#
# Every model is scored from one pass of test logits under three rules (`fbcd_lab.models.predict`):
# `top_cluster` (the class of the most probable cluster), `sum_clusters` (summed cluster
# probabilities: restores the training prior the division removed) and `logit_adjusted` (the
# equation above over the K clusters, with $\pi_k$ the cluster prior, then top cluster; τ = 0 is
# top cluster). For CE, K = C and logit adjustment is the classic post-hoc correction.
#
# **Choosing τ fairly.** The τ that scores best on the test images is read off the very images
# that score it: an upper bound, not a result. The head class here uses nearly all its images
# (the counts above), so no validation split is left; notebooks 4 and 6 make one by lowering the
# head class's size, which would change the data notebooks 5 and 9 train on. Here the data stay
# as they are and τ is chosen on held-out test images instead
# (`analysis.held_out_tau`): the test set is split into two stratified halves, each half is scored
# at the τ that is best on the *other* half, and the two scores are averaged. That row is the fair
# one; the best-on-test row beside it is what choosing on the test set would report.

# %% tags=["nbval-ignore-output"]
logits = {m: [analysis.run_logits(run, data) for run in runs[m]] for m in METHODS}
sweeps = {m: [analysis.rule_sweep_from_logits(lg, taus) for lg in logits[m]] for m in METHODS}
curve = {m: [mean_sd([s["logit_adjusted"][i]["mean_recall"] for s in sweeps[m]]) for i in range(len(taus))]
         for m in METHODS}
levels = {m: {rule: mean_sd([s[rule]["mean_recall"] for s in sweeps[m]]) for rule in ("top_cluster", "sum_clusters")}
          for m in METHODS}
plots.show(plots.rule_sweep_figure(taus, {m: [v for v, _ in curve[m]] for m in METHODS},
                                   {m: [s for _, s in curve[m]] for m in METHODS}, levels))

# %% tags=["nbval-ignore-output"]
at_tau = taus.index(TAU)
best_tau = {m: taus[int(np.argmax([v for v, _ in curve[m]]))] for m in METHODS}
held_out = {m: [analysis.held_out_tau(lg, taus) for lg in logits[m]] for m in METHODS}
rules_table = pd.DataFrame({
    METHODS[m]: {"top_cluster": points([s["top_cluster"]["mean_recall"] for s in sweeps[m]]),
                 "sum_clusters": points([s["sum_clusters"]["mean_recall"] for s in sweeps[m]]),
                 f"logit_adjusted, tau {TAU:g}": points([s["logit_adjusted"][at_tau]["mean_recall"]
                                                         for s in sweeps[m]]),
                 "taus chosen (each seed, each half)": " ".join(f"{t:g}" for h in held_out[m] for t in h["taus_chosen"]),
                 "logit_adjusted, tau chosen on held-out half": points([h["mean_recall"] for h in held_out[m]]),
                 "best tau on test (upper bound)": f"{best_tau[m]:g}",
                 "logit_adjusted, best tau on test": points([s["logit_adjusted"][taus.index(best_tau[m])]["mean_recall"]
                                                             for s in sweeps[m]])}
    for m in METHODS})
print("test mean recall, points (mean ± sd over seeds)")
print(rules_table.to_string())

# %% jupyter={"source_hidden": true}
top = {m: levels[m]["top_cluster"][0] for m in METHODS}
claim(f"ce: logit_adjusted (tau {TAU:g}) minus top_cluster", curve["ce"][at_tau][0] - top["ce"], above=0.05)
claim("top_cluster: fbcd minus ce", top["fbcd"] - top["ce"], above=0.03)
claim("fbcd: top_cluster minus sum_clusters", top["fbcd"] - levels["fbcd"]["sum_clusters"][0], above=0.03)
claim("ce: logit_adjusted with tau chosen on held-out halves minus top_cluster",
      np.mean([h["mean_recall"] for h in held_out["ce"]]) - top["ce"], above=0.05)

# %% [markdown]
# ### Write it yourself: post-hoc logit adjustment
#
# From the logits (B, K), the training images of each output (`cluster_sizes`, K counts: clusters
# for FBH + CDH, classes for CE) and τ, return the adjusted logits $z_k - \tau \log \pi_k$ with
# $\pi_k = n_k / \sum_j n_j$; the prediction is then their argmax, as above. The cell after yours
# shows what a pass looks like.

# %%
ex = EXERCISES["logit_adjusted"]


def my_logit_adjusted(cluster_logits, cluster_sizes, tau):
    raise NotImplementedError  # your code: subtract tau log pi_k from every logit


ex.check(my_logit_adjusted)

# %%
ex.show_pass()  # what a pass looks like: the same check run on the answer ex.solution() prints

# %% [markdown]
# **The same rules on CIFAR-10-LT.** Every record of the committed study holds the test metrics
# under all three rules (logit adjustment at τ = 1), so the CIFAR-10-LT version of the table above
# needs no training and no images: CE and FBH + CDH (`ours`), ResNet-8, 30 epochs, every committed
# training seed. The last line compares the two seed by seed, in the words every comparison of
# this notebook uses (`analysis.paired_verdict`): *called above* or *called below* when notebook
# 7's rule calls the order (three seeds or more, every seed's gap of one sign, the mean above twice
# the sd), the only verdicts that are findings; *leans above* or *leans below* when the mean gap
# exceeds its own sd over the seeds but the order is not called, which is never a finding; *level
# with* otherwise (notebook 7's *within noise* is everything not called: *leans* and *level with*).
# On the digits' two seeds of the `ci` and `binder` presets nothing is called.

# %%
cifar_seeds = sorted(int(p.name[4:]) for p in (STUDY / "ours").glob("seed*") if (STUDY / "ce" / p.name).is_dir())
cifar = {c: [read_record(STUDY / c / f"seed{s}" / "results.json")["metrics"] for s in cifar_seeds]
         for c in ("ce", "ours")}
RULES = ("top_cluster", "sum_clusters", "logit_adjusted")
cifar_rules = pd.DataFrame({name: {rule: points([m[rule]["mean_recall"] for m in cifar[c]]) for rule in RULES}
                            for c, name in (("ce", "CE"), ("ours", "FBH + CDH"))})
print("training protocol:", protocol_line([read_record(STUDY / c / f"seed{s}" / "results.json")
                                          for c in ("ce", "ours") for s in cifar_seeds]))
print(f"CIFAR-10-LT ratio 100, committed runs, seeds {cifar_seeds}: test mean recall, points (mean ± sd)")
print(cifar_rules.to_string())
cifar_verdict, cifar_gap = paired_verdict([m["logit_adjusted"]["mean_recall"] for m in cifar["ce"]],
                                          [m["top_cluster"]["mean_recall"] for m in cifar["ours"]])
print(f"CE with logit adjustment against FBH + CDH with the top-cluster rule: {cifar_verdict} ({cifar_gap})")

# %% jupyter={"source_hidden": true}
assert cifar_verdict == "called above", "the introduction says CE with logit adjustment scores above on CIFAR-10-LT"

# %% [markdown]
# ## 2. What CDH does
#
# CDH splits each class into u_c clusters and trains a K-way head on soft cluster labels. At test
# time the top-cluster rule takes the class of the single most probable cluster, so a class whose
# mass is spread over many siblings competes with only its best cluster's share. First, where the
# probability mass goes (seed 0): on the true class's best cluster, on its siblings, or on other
# classes, for images the rule gets right and wrong. Look at the right images: much of their mass
# sits on the siblings of the best cluster, which the top-cluster rule ignores and the
# summed-clusters rule adds back. The cell after the chart prints how often the runner-up cluster
# is a sibling, and how many of the images survive the summed-clusters rule.

# %% tags=["nbval-ignore-output"]
confusion = analysis.cluster_confusion_from_logits(logits["fbcd"][0].logits, logits["fbcd"][0].labels,
                                                   logits["fbcd"][0].class_of_cluster)
plots.show(plots.cluster_mass_figure(confusion))

# %% tags=["nbval-ignore-output"]
print("share of images whose runner-up cluster is of the true class, and share right under sum_clusters")
for name, block in (("right", confusion["right"]), ("wrong", confusion["wrong"]),
                    ("right, divided classes", confusion["divided_classes"]["right"]),
                    ("wrong, divided classes", confusion["divided_classes"]["wrong"])):
    shares = ["-" if v is None else f"{v:.2f}"
              for v in (block["runner_up"]["true_class"], block["correct_under_sum_clusters"])]
    print(f"{name:>22}: {block['images']:>3} images; runner-up of the true class {shares[0]}; "
          f"right under sum_clusters {shares[1]}")

# %% jupyter={"source_hidden": true}
claim("right images: share whose runner-up cluster is of the true class", confusion["right"]["runner_up"]["true_class"],
      above=0.5)

# %% [markdown]
# The division itself (seed 0; a random division, the paper's default): how many clusters, how
# even they are, and how much imbalance is left between clusters. A class's *balance* is its
# largest cluster over its smallest (1.20: 6 images against 5, say); its *evenness* is the entropy
# of its cluster shares over $\log u_c$ (1 when its clusters are equal; `division_summary`).

# %%
division = analysis.division_summary(runs["fbcd"][0].division)
print(f"K = {division['K']}, clusters per class {division['clusters_per_class']}")
print(f"imbalance: classes {division['imbalance_before']:.1f}, clusters {division['imbalance_after']:.1f}; "
      f"worst within-class cluster balance {division['worst_class_balance']:.2f}; "
      f"mean evenness {division['mean_evenness']:.3f} (1: equal clusters)")

# %% [markdown]
# **The prior the top-cluster rule implies.** A K-way head trained on the cluster prior scores a
# class by its best cluster; when the clusters carry no information on the image (a random
# division), that is a C-way head whose log prior is lowered by about $\log u_c$: the head classes,
# with many clusters, lose the most. So the top-cluster rule is itself a partial logit adjustment,
#
# $$\log \pi_c - \log u_c \;\approx\; (1 - \tau_{\mathrm{eq}}) \log \pi_c + \text{const},$$
#
# and $\tau_{\mathrm{eq}}$, its **equivalent τ** (`equivalent_tau`, `fit_tau` below; $u_c$ is
# `clusters_per_class`), says how strong. Step by step:
#
# 1. Why $-\log u_c$. With a random division the clusters of class c carry no information on the
#    image, so the head gives them about equal logits z; the class's summed score is
#    $\log \sum_{k \in c} e^{z} = z + \log u_c$, and the top-cluster rule scores the class by one
#    cluster, $z$: the class's score, which carries its learnt log prior $\log \pi_c$, is lowered
#    by $\log u_c$.
# 2. Logit adjustment with τ lowers each class's score by $\tau \log \pi_c$, a straight line in
#    $\log \pi_c$. $\log u_c$ is not one: Eq. 3 makes $u_c$ a straight line in $n_c$, not in
#    $\log n_c$, and rounds it. So fit the best straight line through the C points
#    $(\log \pi_c, \log u_c)$: $\log u_c \approx \tau_{\mathrm{eq}} \log \pi_c + b$ (least
#    squares). `equivalent_tau` fits the same kind of line to a shift that `prior_shift` gives
#    (next paragraph): the *analytic* shift, the log share of the class's largest cluster,
#    $\log(\max_{k \in c} n_k / n_c)$, which equals $-\log u_c$ only when the class's clusters are
#    equal (a division of 144 images into 10 clusters of 14 or 15 puts it a little above), or the
#    *measured* one.
# 3. Substitute: $\log \pi_c - \log u_c \approx \log \pi_c - \tau_{\mathrm{eq}} \log \pi_c - b =
#    (1 - \tau_{\mathrm{eq}}) \log \pi_c + \text{const}$, with const $= -b$.
# 4. The constant changes no prediction: it is added to every class's score alike, and the arg-max
#    is the same. Only the slope matters, which is why τ alone describes a logit adjustment.
#
# For the digits (u = 10, printed above): $u_c$ = 10 for the head digit and 1 for the tail, so
# $\log u_c$ falls from 2.3 to 0 while $\log \pi_c$ falls by $\log 144 = 5.0$: a slope near
# 2.3 / 5.0 ≈ 0.46 (exercise 1) for $-\log u_c$; the analytic shift, from the actual cluster sizes,
# gives a slightly different equivalent τ (printed under the figure). `prior_shift` gives the shift
# two ways: *analytic*, the log share of the class's largest cluster,
# $\log(\max_{k \in c} n_k / n_c)$, and *measured*, the
# mean over test images of $\max_{k \in c} z_k - \log \sum_{k \in c} e^{z_k}$ (how far the best
# cluster's logit falls below the class's summed score); `equivalent_tau` fits each to the τ of a
# logit adjustment of CE's log prior that shifts class scores the same way (least squares). The figure
# draws CE's log prior, the top-cluster rule's (analytic and measured) and the straight line
# $(1 - \tau_{\mathrm{eq}}) \log \pi_c$ fitted to the measured one. That line is drawn shifted
# up or down by a constant, the mean gap between it and the measured curve (the const of step 3),
# so that the two lie on each other and their slopes can be compared; the shift, printed under
# the figure, changes no prediction (step 4).

# %% tags=["nbval-ignore-output"]
shifts = [analysis.prior_shift(run, data) for run in runs["fbcd"]]
ce_prior = np.asarray(shifts[0]["ce_log_prior"])
measured = ce_prior + np.mean([s["measured_shift"] for s in shifts], axis=0)
fit_tau = analysis.equivalent_tau(measured - ce_prior, ce_prior)  # the least-squares line through the measured one
fit = (1 - fit_tau) * ce_prior
plots.show(plots.effective_prior_figure(data.counts, {
    "CE: log(n_c / N)": ce_prior,
    "top_cluster, analytic": shifts[0]["effective_log_prior"],
    "top_cluster, measured (mean over seeds)": measured,
    "CE's prior x (1 - equivalent tau), fitted": fit + (measured - fit).mean(),
}))

# %% tags=["nbval-ignore-output"]
print(f"the fitted line is drawn shifted by {(measured - fit).mean():+.2f} nats (the constant of step 3)")
equivalent = {kind: mean_sd([s["equivalent_tau"][kind] for s in shifts]) for kind in ("analytic", "measured")}
for kind, (mean, sd) in equivalent.items():
    print(f"equivalent tau of the top-cluster rule, {kind}: {mean:.2f} ± {sd:.2f}")
print(f"log-prior range (largest - smallest): CE {shifts[0]['log_prior_range']['ce']:.2f}, "
      f"top_cluster analytic {shifts[0]['log_prior_range']['analytic']:.2f}, "
      f"measured {np.mean([s['log_prior_range']['measured'] for s in shifts]):.2f} (mean of the seeds' ranges)")
print(f"best tau for CE on the test set: {best_tau['ce']:g}; for FBH + CDH (prior over clusters): {best_tau['fbcd']:g}")

# %% jupyter={"source_hidden": true}
claim("equivalent tau of the top-cluster rule, measured", equivalent["measured"][0], above=0.1, below=0.9)
claim("equivalent tau, analytic minus measured", equivalent["analytic"][0] - equivalent["measured"][0], above=-0.2,
      below=0.3)

# %% [markdown]
# ## 3. Calibration
#
# A rule that moves predictions toward the tail also changes how far its confidences can be
# trusted. Reliability diagrams (seed 0; accuracy per confidence bin, at the bin centre; the dotted
# diagonal is perfect calibration) and the expected calibration error per rule, mean over seeds,
#
# $$\mathrm{ECE} = \sum_{b=1}^{B} \frac{|S_b|}{M} \left| \operatorname{acc}(S_b) - \operatorname{conf}(S_b) \right|,$$
#
# over B = 10 equal-width confidence bins $S_b$ (`bins=10`) of the $M$ test images, with
# $\operatorname{acc}$ and $\operatorname{conf}$ the bin's accuracy and mean confidence
# (`reliability_from_logits`, whose `bins` rows the diagram draws). Confidence is the predicted
# class's summed cluster probability, after τ times the prior is removed for `logit_adjusted`.

# %% tags=["nbval-ignore-output"]
reliabilities = {m: [{rule: analysis.reliability_from_logits(lg, rule, TAU, bins=10) for rule in RULES}
                     for lg in logits[m]] for m in METHODS}
plots.show(plots.reliability_figure({m: reliabilities[m][0] for m in METHODS}))

# %% tags=["nbval-ignore-output"]
ece_table = pd.DataFrame({METHODS[m]: {rule: np.mean([r[rule]["ece"] for r in reliabilities[m]]) for rule in RULES}
                          for m in METHODS})
print("ECE (10 bins), mean over seeds")
print(ece_table.round(3).to_string())

# %% jupyter={"source_hidden": true}
for m in METHODS:
    for rule in RULES:
        claim(f"ECE, {m} {rule}", ece_table.loc[rule, METHODS[m]], above=0.0, below=0.25)

# %% [markdown]
# ## Findings
#
# The key comparisons, computed from the cells above, paired by training seed, in mean-recall
# points, in the words of section 1's CIFAR-10-LT line: *called above* or *called below* only by
# notebook 7's rule (three seeds or more, every seed's gap of one sign, the mean above twice the
# sd); *leans above* or *leans below* when the mean exceeds its own sd over seeds but is not
# called, never a finding; *level with* otherwise.

# %% tags=["nbval-ignore-output"]
per_seed = {f"{m}_{rule}": [s[rule]["mean_recall"] if rule != "logit_adjusted" else s[rule][at_tau]["mean_recall"]
                            for s in sweeps[m]] for m in METHODS for rule in ("top_cluster", "logit_adjusted")}
ce_la_vs_fbcd, gap1 = paired_verdict(per_seed["ce_logit_adjusted"], per_seed["fbcd_top_cluster"])
both_la, gap2 = paired_verdict(per_seed["fbcd_logit_adjusted"], per_seed["ce_logit_adjusted"])
tau_eq = equivalent["measured"][0]
print(f"findings on the digits ({len(seeds)} training seeds, {optim.epochs} epochs, logit adjustment at tau {TAU:g})")
worth = {"called above": "the prior correction alone is worth more than the whole top-cluster gain",
         "called below": "the prior correction alone is worth less than the whole top-cluster gain"}.get(
    ce_la_vs_fbcd, "no difference is shown between the prior correction alone and the whole top-cluster gain")
print(f"1. CE with post-hoc logit adjustment against FBH + CDH under the top-cluster rule: {ce_la_vs_fbcd} "
      f"({gap1}): {worth}. On CIFAR-10-LT: {cifar_verdict} ({cifar_gap}).")
survives = {"called above": "a gain survives a fair prior correction",
            "called below": "CE does better once both are corrected"}.get(
    both_la, "no gain is shown to survive a fair prior correction, and no loss either")
print(f"2. With the same post-hoc logit adjustment on both, FBH + CDH against CE: {both_la} ({gap2}): {survives}.")
print(f"3. The top-cluster rule acts like logit adjustment with tau {tau_eq:.2f} (measured), "
      f"{'weaker than' if tau_eq < TAU else 'at least as strong as'} tau {TAU:g}.")
print(f"4. The lowest ECE by mean over the seeds (not called): {ece_table['CE'].idxmin()} for CE, "
      f"{ece_table['FBH + CDH'].idxmin()} for FBH + CDH.")

# %% tags=["nbval-ignore-output"]
print(f"the whole notebook took {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ## Exercises
#
# 1. **Predict a number.** Under the top-cluster rule, a head class split into u_c = 10 clusters
#    that share its probability equally has its best cluster at 1/10 of the class's probability.
#    By how many nats does that lower the head class's score against a tail class kept whole
#    (u_c = 1)? Compare with the equivalent τ of section 2.
# 2. **Predict, then check.** Which rule will give FBH + CDH its *lowest* mean recall on the
#    digits: top cluster, summed clusters or logit adjustment at τ = 1? Decide, then read the table
#    of section 1.
# 3. **Change a setting.** Set `TAU = 0.5` in the first code cell and rerun the notebook. Which
#    rows of the tables change, and which finding can change its verdict?
# 4. Logit adjustment needs no retraining. What does a practitioner need to know about the training
#    set to apply it to a model someone else trained?
# 5. Why is the best τ read off the test set an upper bound rather than a result to report?
#
# <details><summary>Answers (click to open)</summary>
#
# 1. **ln 10 ≈ 2.30 nats**: the top cluster's log-probability is the class's minus ln u_c. Logit
#    adjustment with τ subtracts τ · ln(n_c): between the head (144 images) and a one-image class
#    that is τ · ln 144, so a shift of ln 10 matches τ = ln 10 / ln 144 ≈ 0.46 there. Section 2
#    finds about the same analytically and somewhat less measured on the trained models, which
#    also counts how unevenly the clusters share the class's probability.
# 2. Summed clusters: adding the clusters' probabilities back gives each class its whole training
#    share again, so the head classes regain what the division took from them (the check under
#    section 1 asserts top cluster above summed clusters by at least 3 points).
# 3. The logit-adjusted rows, the reliability diagram's third row of panels and the findings that
#    use them: 1 and 2 (logit adjustment), 3 (it compares with τ) and possibly 4 (ECE); top cluster
#    and summed clusters do not use τ. A weaker correction lifts CE less: read the sweep at τ = 0.5
#    in section 1's chart to see where finding 1 lands (at τ = 0.5 CE falls below FBH + CDH's top
#    cluster in the stored run).
# 4. The class counts (or frequencies) of its training set, the prior π; for a model with clusters,
#    the clusters' sizes too (the prior over its K outputs).
# 5. Choosing τ on the test set fits one parameter to the very images that score it, so it can only
#    flatter. A fair result chooses τ on images it does not score: a validation split, or, as
#    section 1's held-out row does, one half of the test set for the other half; or it fixes τ = 1
#    before looking, as the records do. Compare the two rows of section 1's table: the
#    held-out taus differ from half to half and from seed to seed, which is the noise the
#    best-on-test row hides.
#
# </details>

# %% jupyter={"source_hidden": true}
assert data.counts[0] == 144 and round(np.log(10), 2) == 2.30 and round(np.log(10) / np.log(144), 2) == 0.46
claim("fbcd: sum_clusters is its lowest rule (exercise 2)", min(levels["fbcd"]["top_cluster"][0],
      curve["fbcd"][at_tau][0]) - levels["fbcd"]["sum_clusters"][0], above=0.0)
claim("fbcd top_cluster minus ce logit_adjusted at tau 0.5 (exercise 3)",
      top["fbcd"] - curve["ce"][taus.index(0.5)][0], above=0.0)

# %% [markdown]
# ## What we found
#
# The numbered sentences above are the findings on the digits, in words, computed from the
# numbers printed with them; they change with the preset and the seeds, and these notes say how
# to read them.
#
# - **Prior correction.** Sentence 1 compares CE with post-hoc logit adjustment, a correction any
#   model can get after training, against the paper's FBH + CDH with the top-cluster rule. Where it
#   reads *called above*, the correction alone beats the top-cluster gain, the concern the
#   CIFAR-10-LT line raises (called there over three seeds); where it reads *called below*,
#   FBH + CDH holds a gain that post-hoc adjustment of CE does not reach. A *lean* or *level with*
#   shows neither (with two seeds nothing is called): no gain of FBH + CDH is shown to survive a
#   fair prior correction on this data.
# - **The fair comparison.** Sentence 2 gives both models the same correction; it is the number to
#   report beside the paper's, and the rule sweep of section 1 shows how it depends on τ.
# - **Why the rule matters.** Sentence 3 places the top-cluster rule on the τ scale of logit
#   adjustment: the class division corrects part of the prior by itself, without any τ.
#
# One subset, a few seeds and a small balanced test set make every step noisy: read the ±, and
# rerun with `FBCD_PRESET=full` for more seeds. Notebook 9 asks whether the features improved too.
