# %% [markdown]
# # 7. The paper's comparison: every recipe of Table 1
#
# | | |
# | --- | --- |
# | **You will learn** | whether the two heads beat the standard long-tail remedies, and by how much: every recipe of the paper's Table 1 trained by one trainer, the fair controls the paper leaves out, the committed CIFAR-10-LT study (up to three seeds a cell, "(n)" says how many), and what its ordering says |
# | **You need first** | notebooks 2 and 3 (the two heads); notebook 6 for reading spreads over seeds |
# | **Time** | about 20 minutes; the digits table trains 13 recipes over the preset's seeds in a minute or two |
#
# Whether the two heads beat the standard long-tail remedies, and by how much. The paper's Table 1 compares its method ("Ours", and "Ours-Full" with Mixup and
# class re-weighting) with cross-entropy, Focal loss, Mixup, class-balanced weights (CB), LDAM,
# CB + Focal, deferred re-sampling (DRS) and LDAM + DRW. Every one of them is a *recipe* here: a
# head x a loss x a class-balancing rule x an augmentation, trained by the same trainer. Two
# recipes the paper does not compare with are added, because they are the fairest controls for a
# method that moves predictions toward the tail: the logit-adjusted loss (Menon et al., 2021) and
# Balanced Softmax (Ren et al., 2020), which correct the class prior inside the loss. A third
# control, `ce_neck`, is CE with the one layer Ours adds to the backbone (the balanced neck of the
# feature-balancing head, 64 -> 70 channels on the CIFAR ResNets), so that Ours is compared with
# a network of its own depth.
#
# The first table is trained here on the embedded digits (ratio 100, several training seeds, one
# long-tailed subset). The second is read from the committed CIFAR-10-LT study under `results/`,
# made on a CPU with the command written beside it. The paper's numbers stand beside both; the
# paper reports one number per cell, without seeds.

# %%
import contextlib
import io
import tempfile
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from fbcd_lab import plots
from fbcd_lab.claims import claim
from fbcd_lab.lab_preset import lab_preset
from fbcd_lab.recipes import RECIPES, TABLE1_RECIPES
from fbcd_lab.studies.runner import run_study
from fbcd_lab.studies.orderings import flipped_pairs, paper_means, read_table, side_by_side, table_means, table_spreads
from fbcd_lab.studies.table import table_markdown

plots.setup_notebook()
sizes = lab_preset()
print(f"preset {sizes.name}: training seeds {sizes.training_seeds}, {sizes.epochs} epochs, precision {sizes.precision}, "
      f"{len(TABLE1_RECIPES)} recipes in Table 1")

# %% [markdown]
# ## The recipes
#
# Each recipe's settings, as `fbcd_lab.recipes.RECIPES` holds them (everything else takes the
# paper's defaults: u = 10, λ = 1.5, random division). The hyper-parameters are those LDAM-DRW and
# MiSLAS use on CIFAR-LT. DRW and DRS switch on where LDAM-DRW switches them on: at a learning-rate
# decay, the one nearest 80 % of the epochs (160 of 200; 25 of 30 here, with the decay to
# 0.001 x lr). The last two rows are the other readings of Ours-Full (the README explains all
# three); Table 1 shows the default, `ours_full`.

# %%
pd.DataFrame([{"recipe": name, **fields} for name, fields in RECIPES.items()]).set_index("recipe").astype(object).fillna("")

# %% [markdown]
# What the names mean, in a line each ($n_c$ is class c's training count, $\pi_c$ its share, $z_c$
# its logit):
#
# | name | what it changes |
# | --- | --- |
# | Focal | the loss: $-(1 - p_y)^\gamma \log p_y$ with γ = 1 down-weights images already classified well |
# | CB | class-balanced weights on the loss, $w_c \propto (1 - \beta_{CB}) / (1 - \beta_{CB}^{n_c})$ with $\beta_{CB}$ = 0.9999 (Cui et al.), scaled to sum to C: "effective numbers" of images |
# | LDAM | the loss: a margin $\propto n_c^{-1/4}$ subtracted from the true class's logit, larger for rare classes |
# | DRW | deferred re-weighting: the CB weights switch on late, at a learning-rate decay |
# | DRS | deferred re-sampling: class-balanced batches (each class drawn with probability ∝ 1, images with replacement) from that decay on |
# | Mixup | pairs of images and their labels mixed with one weight λ ~ Beta(1, 1) a batch |
# | LA loss | logit-adjusted loss: $\tau \log \pi_c$ added to every logit $z_c$ inside the cross-entropy (τ = 1) |
# | Balanced Softmax | the softmax with each $e^{z_c}$ multiplied by $n_c$: the same as the LA loss at τ = 1 |
#
# The runs below use two optimisation presets: the digits' (30 epochs) and, for CIFAR-10-LT,
# `cpu_short` (30 epochs, lr 0.1 decayed at epochs 20 and 25), against the paper's `paper_cifar`
# (200 epochs, decays at 120 and 160).

# %% [markdown]
# ## Table 1 on the digits
#
# `run_study("table1", ...)` trains every recipe for every seed into its own folder (here a
# temporary one), skipping runs already finished, and returns the table with the paper's CIFAR-10
# column beside it. The digits are not CIFAR-10: compare orderings, not numbers.

# %% tags=["nbval-ignore-output"]
out = Path(tempfile.mkdtemp(prefix="fbcd-table1-"))
with contextlib.redirect_stdout(io.StringIO()):  # the runner's progress lines name the temporary folder
    digits_table = run_study("table1", "digits", out, ratios=[100], seeds=sizes.training_seeds, epochs=sizes.epochs,
                             precision=sizes.precision, paper_column="cifar10", progress=False)
display(Markdown(table_markdown(digits_table)))

# %% tags=["nbval-ignore-output"]
ours = [r for r in digits_table["rows"] if not r["paper_only"]]
means = [r["results"]["100"]["runs"][0]["mean"] / 100 for r in ours]
sds = [(r["results"]["100"]["runs"][0]["sd"] or 0) / 100 for r in ours]
paper = [(r["paper"]["100"] or float("nan")) / 100 for r in ours]
plots.show(plots.sweep_figure([r["cell"] for r in ours], {"digits (this kit)": means, "paper, CIFAR-10": paper},
                              {"digits (this kit)": sds, "paper, CIFAR-10": [0] * len(ours)}, "recipe",
                              "Table 1 recipes: digits ratio 100 beside the paper's CIFAR-10-LT ratio 100"))

# %% tags=["nbval-ignore-output"]
ranked = sorted(zip([r["cell"] for r in ours], means), key=lambda pair: -pair[1])
best, ce = ranked[0], dict(ranked)["ce"]
print("ranking on the digits:", ", ".join(f"{name} {100 * m:.1f}" for name, m in ranked))
print(f"best: {best[0]} ({100 * best[1]:.1f}); ours {100 * dict(ranked)['ours']:.1f}; "
      f"ce {100 * ce:.1f}; la_loss {100 * dict(ranked)['la_loss']:.1f}")

# %% jupyter={"source_hidden": true}
digits = dict(ranked)
assert len(digits) == len(TABLE1_RECIPES) and all(r["results"]["100"]["runs"][0]["n"] == sizes.seeds for r in ours)
for recipe in ("la_loss", "balanced_softmax", "ldam_drw"):
    claim(f"digits: {recipe} minus ce", digits[recipe] - digits["ce"], above=0.1)
claim("digits: ours minus ce", digits["ours"] - digits["ce"], above=0.03)

# %% [markdown]
# ## Table 1 on CIFAR-10-LT (committed records)
#
# The records of the committed study (`results/cifar10_lt/`, ResNet-8, 30 epochs, seeds 0 1 2;
# see the README there for the command and protocol). Each cell pools only
# runs that agree in everything but the training seed, "(n)" says how many.

# %%
committed = Path("../results/cifar10_lt/table1")
if (committed / "table.json").is_file():
    cifar_table = read_table(committed)
    display(Markdown(table_markdown(cifar_table)))
else:
    cifar_table = None
    print(f"no committed study under {committed}: run the command in results/cifar10_lt/README.md")

# %%
if cifar_table is not None:
    done = [r for r in cifar_table["rows"] if not r["paper_only"] and r["results"]["100"]["runs"]]
    plots.show(plots.sweep_figure(
        [r["cell"] for r in done],
        {"CIFAR-10-LT, ResNet-8, 30 epochs": [r["results"]["100"]["runs"][0]["mean"] / 100 for r in done],
         "paper, ResNet-32, 200 epochs": [(r["paper"]["100"] or float("nan")) / 100 for r in done]},
        {"CIFAR-10-LT, ResNet-8, 30 epochs": [(r["results"]["100"]["runs"][0]["sd"] or 0) / 100 for r in done],
         "paper, ResNet-32, 200 epochs": [0] * len(done)},
        "recipe", "Table 1 recipes on CIFAR-10-LT ratio 100: this kit on a CPU beside the paper"))
    cifar = table_means(cifar_table, "100")
    print("ranking on CIFAR-10-LT:", ", ".join(f"{c} {m:.1f}" for c, m in sorted(cifar.items(), key=lambda p: -p[1])))
    print("above ours:", ", ".join(c for c, m in cifar.items() if m > cifar["ours"]) or "none")

# %% [markdown]
# ### What the committed study says, in words computed from its records
#
# The paper's ordering and this study's, over the recipes both have; the flips are the pairs whose
# order differs. Each number below is computed from the table above.

# %%
if cifar_table is not None:
    paper_scores = {cell: score for cell, score in paper_means(cifar_table, "100").items() if cell in cifar}
    ours_rank = sorted(cifar, key=lambda c: -cifar[c]).index("ours") + 1
    paper_rank = sorted(paper_scores, key=lambda c: -paper_scores[c]).index("ours") + 1
    flips = sorted(flipped_pairs(paper_scores, cifar), key=lambda pair: "ours" not in pair)  # the pairs with ours first
    pairs = len(paper_scores) * (len(paper_scores) - 1) // 2
    above = sorted((c for c in cifar if cifar[c] > cifar["ours"]), key=lambda c: -cifar[c])
    findings = [f"Ours ranks {ours_rank} of {len(cifar)} recipes here (the paper ranks it {paper_rank} of the "
                f"{len(paper_scores)} it reports); above it: "
                + (", ".join(f"{c} {cifar[c]:.1f}" for c in above) or "none") + f" (ours {cifar['ours']:.1f}). "
                f"{len(flips)} of the {pairs} pairs of recipes with a paper number are in the other order."]
    if "ours_full" in cifar:
        findings.append(f"Ours-Full scores {cifar['ours_full']:.1f}, {cifar['ours_full'] - cifar['ours']:+.1f} points "
                        f"from Ours, where the paper has it {paper_scores['ours_full'] - paper_scores['ours']:+.1f} "
                        f"points from Ours.")
    if "ce_neck" in cifar:
        findings.append(f"The balanced neck alone is worth {cifar['ce_neck'] - cifar['ce']:+.1f} points to CE "
                        f"(ce_neck minus ce); Ours minus CE with the same layer: "
                        f"{cifar['ours'] - cifar['ce_neck']:+.1f} points.")
    findings.append("Pairs the paper orders one way and this study the other: "
                    + "; ".join(f"{a} > {b} in the paper, {cifar[a]:.1f} < {cifar[b]:.1f} here" for a, b in flips[:6])
                    + (f"; and {len(flips) - 6} more" if len(flips) > 6 else "") + ".")
    display(Markdown("\n".join(f"- {line}" for line in findings)))

# %% [markdown]
# ## Three readings of Ours-Full
#
# The paper gives Ours-Full one sentence: "combines with Mixup and class re-weighting [11] ... as used
# in MiSLAS". Class-count weights are 79 times larger on CIFAR-10-LT's tail class than on its head,
# but the main head sees K clusters whose imbalance the division has already cut to about 10: the
# default reading weights that head by its clusters' counts and the feature-balancing head by the
# classes'; `ours_full_class` puts class weights on both; `ours_full_two_stage` trains with Mixup,
# then re-samples class-balanced batches without it, as MiSLAS's two stages do. The committed
# `ours_full` study ran all three on the protocol above.

# %%
readings = Path("../results/cifar10_lt/ours_full")
if (readings / "table.json").is_file():
    readings_table = read_table(readings)
    display(Markdown(table_markdown(readings_table)))
else:
    print(f"no committed study under {readings}: run the command in results/cifar10_lt/README.md")

# %% [markdown]
# ## Does the ordering survive the paper's 200 epochs?
#
# The 30-epoch protocol is short: its learning rate decays at epochs 20 and 25, and DRW and DRS have
# five epochs at the smallest rate to act. The paper trains 200 epochs (decays at 120 and 160, the
# re-weighting from 160). The committed study `results/cifar10_lt_200/` trains seven of the recipes
# on that schedule, with the same ResNet-8, subset and test set, training seed 0 only (a run takes
# over an hour on a CPU thread; its README has the command). Below, the two orderings side by side
# over the recipes both have finished: the 30-epoch column is the mean over its seeds, the 200-epoch
# column one seed, so a flip between recipes closer than the 30-epoch spread over seeds (printed) is
# weak evidence. A pair *flips* when one schedule orders it one way and the other the other way.
# The command line prints the same comparison: `python -m fbcd_lab orderings
# results/cifar10_lt/table1 results/cifar10_lt_200/table1`.

# %%
long_path = Path("../results/cifar10_lt_200/table1/table.json")
long_table = read_table(long_path) if long_path.is_file() else None
if cifar_table is None or long_table is None:
    print(f"no table at {long_path}: make it with the command in results/cifar10_lt_200/README.md")
else:
    long_means = table_means(long_table, "100")
    display(pd.DataFrame(side_by_side(cifar, long_means, ("30 epochs", "200 epochs"))).set_index("recipe").round(2))
    long_flips = flipped_pairs(cifar, long_means)
    spread = [sd for cell, sd in table_spreads(cifar_table, "100").items() if cell in long_means]
    print(f"the 30-epoch spread over seeds of these recipes: ±{min(spread):.1f} to ±{max(spread):.1f} points")
    print(f"finished at 200 epochs: {len(long_means)} of 7 recipes ({', '.join(long_means)}); "
          f"{len(long_flips)} of the {len(long_means) * (len(long_means) - 1) // 2} pairs flip"
          + (": " + "; ".join(f"{a} > {b} at 30 epochs ({cifar[a]:.1f} > {cifar[b]:.1f}), {a} < {b} at 200 "
                              f"({long_means[a]:.1f} < {long_means[b]:.1f})" for a, b in long_flips)
             if long_flips else "."))

# %% [markdown]
# ## What you should have seen
#
# - Every recipe of Table 1, the two prior-correcting losses and the neck control trained by one
#   trainer, with the spread over training seeds that the paper's single numbers do not show.
# - On the digits (printed above): the ranking, the best recipe, and where "ours" and plain
#   cross-entropy stand. Tail classes with one or two images make every number noisy; read the ±.
# - On CIFAR-10-LT (the committed records): a ranking that differs from the paper's in the pairs
#   listed above, on a 30-epoch CPU protocol, and the pairs of it that the paper's 200-epoch
#   schedule orders the other way: Ours-Full, trained with Mixup, moves to the top.
# - Whether the two heads beat the prior-correcting losses (`la_loss`, `balanced_softmax`) is the
#   question the paper leaves open; both tables answer it for their protocol, and notebooks 8 and 9 take
#   the gain apart.
#
# ## Exercises
#
# 1. **Predict, then check.** Under `cpu_short` (30 epochs, learning-rate decays at epochs 20 and
#    25), at which epoch (from 0) do DRW and DRS switch on? And on `paper_cifar` shortened to 50
#    epochs? Check with `fbcd_lab.balancing.deferred_epoch(preset("cpu_short"))`.
# 2. The class-balanced weights ($\beta_{CB}$ = 0.9999, formula in the table of names above) of
#    CIFAR-10-LT at ratio 100: how many times the head class's weight does the tail class get?
#    Check with `effective_number_weights`.
# 3. Ours-Full's default reading weights the main head by its 31 clusters' counts instead. Roughly
#    how large is the largest cluster weight over the smallest, and why is that the right scale?
# 4. Why is `ce_neck`, not `ce`, the baseline that measures what the two heads add?
# 5. LDAM-DRW's focal loss with class weights computes p = exp(−w · CE). Why does that make
#    CB + Focal learn the head classes slowly?
#
# <details><summary>Answers (click to open)</summary>
#
# 1. **25** (the decay nearest 80 % of 30 = 24; LDAM-DRW switches at its decay, 160 of 200) and
#    **40** (the decays scale to 30 and 40).
# 2. About **79** times (0.051 for 5,000 images, 3.99 for 50; the weights sum to C = 10).
# 3. About **9.8**: the clusters hold 50 to 500 images, a tenth of the classes' range. Class
#    weights on that head would correct an imbalance the division has already removed, twice.
# 4. Ours adds a balanced neck (a 1 x 1 convolution, BN and ReLU) that no other recipe has; `ce_neck`
#    gives cross-entropy the same layer, so Ours minus `ce_neck` is what the heads add beyond it.
# 5. A head class has a small weight w, so w · CE stays small, p = exp(−w · CE) stays near 1 and
#    the focal factor (1 − p)^γ nearly silences its gradient; that is LDAM-DRW's published loss,
#    and this kit follows it (`fbcd_lab.losses.focal`).
#
# </details>

# %% jupyter={"source_hidden": true}
import numpy as np

from fbcd_lab.balancing import deferred_epoch, effective_number_weights
from fbcd_lab.class_division import divide_classes
from fbcd_lab.config import preset
from fbcd_lab.data import long_tail_counts

assert deferred_epoch(preset("cpu_short")) == 25 and deferred_epoch(preset("paper_cifar", epochs=50)) == 40
cifar10_weights = effective_number_weights(long_tail_counts(5000, 10, 100))
assert round(cifar10_weights[-1] / cifar10_weights[0]) == 79
cifar10_labels = np.repeat(np.arange(10), long_tail_counts(5000, 10, 100))
cluster_weights = effective_number_weights(divide_classes(cifar10_labels, 10, 10, "random", seed=0).cluster_sizes)
assert round(cluster_weights.max() / cluster_weights.min(), 1) == 9.8
if cifar_table is not None and long_table is not None and len(long_means) == 7:
    assert max(long_means, key=long_means.get) == "ours_full" and cifar["ours_full"] < max(cifar.values())
