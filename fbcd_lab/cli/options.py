"""The options more than one command shares, and the argparse types that check values by the
library's own rules: method options (to a MethodConfig), data options (to the data), device, selection."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from fbcd_lab.balancing import BALANCING, SAMPLERS
from fbcd_lab.checks import PARAMETERS, check, shown
from fbcd_lab.class_division import STRATEGIES
from fbcd_lab.config import AUGMENTATIONS, L2_WEIGHTS, METHODS, MethodConfig
from fbcd_lab.data.datasets import build_long_tailed, data_from_spec
from fbcd_lab.data.sources import SOURCES
from fbcd_lab.losses import LOSSES
from fbcd_lab.losses.focal import WEIGHTINGS as FOCAL_WEIGHTINGS
from fbcd_lab.models.two_head import NECKS
from fbcd_lab.recipes import RECIPES, recipe


def text_arg(text: str) -> str:
    """An argparse type for text that must not be empty (or blank)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def path_arg(text: str) -> Path:
    """An argparse type for a path that must not be empty ('' would mean the current folder)."""
    return Path(text_arg(text))


def checked(name: str) -> Callable[[str], int | float]:
    """An argparse type that parses the text and checks it with the library's own rule for ``name``."""
    rule = PARAMETERS[name]

    def parse(text: str):
        try:
            value = rule.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule.describe()}, got {shown(text)}") from None
        try:
            return check(name, value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule.describe()}, got {shown(text)}") from None
    parse.__name__ = rule.kind.__name__
    return parse


def ratio_or_natural(text: str) -> float | None:
    """``--imbalance-ratio`` and ``--ratios``: ``natural`` (None: keep every training image as counted),
    else a number checked with the library's rule for imbalance_ratio."""
    if text == "natural":
        return None
    try:
        return checked("imbalance_ratio")(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be natural or {PARAMETERS['imbalance_ratio'].describe()}, "
                                         f"got {text!r}") from None


METHOD_OPTIONS = ("method", "u", "lam", "alpha", "cluster", "kernel_size", "loss", "balancing", "augment",
                  "mixup_alpha", "focal_gamma", "la_tau", "cb_beta", "deferred_epoch", "weight_l1", "l2_weights",
                  "neck", "focal_weighting", "sampler")


def add_method_options(parser: argparse.ArgumentParser) -> None:
    """The method's options: a recipe and/or the four choices (head, loss, balancing, augmentation)
    with their parameters; an option left out takes the recipe's value, else the paper's default."""
    default = MethodConfig()
    parser.add_argument("--recipe", choices=tuple(RECIPES),
                        help="a row of the paper's Table 1 (or la_loss, balanced_softmax); options below override it")
    parser.add_argument("--method", choices=METHODS, help="head: ce, fbh, cdh or fbcd (FBH + CDH); "
                                                          "required without --recipe")
    parser.add_argument("--u", type=checked("u"), help=f"clusters of the largest class (default {default.u})")
    parser.add_argument("--lam", type=checked("lam"), help=f"lambda, weight of L1 (default {default.lam})")
    parser.add_argument("--alpha", type=checked("alpha"),
                        help=f"soft label of the own cluster, in (0, 1] (default {default.alpha})")
    parser.add_argument("--cluster", choices=STRATEGIES, help="class division (default random)")
    parser.add_argument("--kernel-size", type=checked("kernel_size"),
                        help=f"FBH kernel size (default {default.kernel_size})")
    parser.add_argument("--loss", choices=tuple(LOSSES), help="main head's loss (default ce)")
    parser.add_argument("--balancing", choices=BALANCING,
                        help="class balancing: none (default), reweight, drw, resample, drs")
    parser.add_argument("--augment", choices=AUGMENTATIONS,
                        help="none (default), mixup, or mixup_until_switch (Mixup until drw / drs switch on)")
    parser.add_argument("--mixup-alpha", type=checked("mixup_alpha"),
                        help=f"Mixup's Beta(alpha, alpha) (default {default.mixup_alpha})")
    parser.add_argument("--focal-gamma", type=checked("focal_gamma"), help=f"default {default.focal_gamma}")
    parser.add_argument("--focal-weighting", choices=FOCAL_WEIGHTINGS,
                        help="focal loss with class weights: cui (default; Cui et al.'s class-balanced focal loss, "
                             "the weight multiplies the focal term) or ldam_drw (LDAM-DRW's code: the weight inside "
                             "the exponent)")
    parser.add_argument("--la-tau", type=checked("la_tau"), help=f"logit-adjusted loss tau (default {default.la_tau})")
    parser.add_argument("--cb-beta", type=checked("cb_beta"),
                        help=f"class-balanced weights' beta (default {default.cb_beta})")
    parser.add_argument("--sampler", choices=SAMPLERS,
                        help="how resample / drs draw: class_balanced (default; every class 1/C) or "
                             "effective_number (as LDAM-DRW's ImbalancedDatasetSampler is written; their released "
                             "training script never uses it)")
    parser.add_argument("--deferred-epoch", type=checked("deferred_epoch"),
                        help="epoch (from 0) at which drw / drs switch on (default: the learning-rate decay "
                             "nearest 80 %% of the epochs)")
    parser.add_argument("--weight-l1", action=argparse.BooleanOptionalAction,
                        help="class weights apply to L1 as well as L2 (default yes)")
    parser.add_argument("--l2-weights", choices=L2_WEIGHTS,
                        help="with the class-division head and reweight / drw: weight L2 by each sample's class "
                             "(default) or by its cluster")
    parser.add_argument("--neck", choices=NECKS,
                        help="where D is not a multiple of C: shared (default: FBH adds a balanced neck both heads "
                             "read), always (the neck without FBH too: the control for its extra layer), fbh_only "
                             "(only FBH reads it)")


def method_from_args(args: argparse.Namespace, backbone: str) -> MethodConfig:
    """The run's MethodConfig on ``backbone``: the recipe's fields, then every method option given."""
    if args.recipe is None and args.method is None:
        raise ValueError("give --method or --recipe")
    fields = {k: getattr(args, k) for k in METHOD_OPTIONS if getattr(args, k) is not None}
    method = recipe(args.recipe, backbone, **fields) if args.recipe else MethodConfig(backbone=backbone, **fields)
    refuse_unused({'--no-weight-l1' if k == 'weight_l1' else '--' + k.replace('_', '-'): f"read only by {v}"
                   for k, v in method.unused(fields).items()})
    return method


def refuse_unused(unused: dict[str, str]) -> None:
    """Refuse the options a run would ignore, ``unused`` mapping each (as typed, ``--u``) to why it
    has no effect (options with one reason named together): it would change nothing but the record,
    and split the run from identical ones."""
    if unused:
        reasons = {why: [option for option, said in unused.items() if said == why] for why in unused.values()}
        named = "; ".join(f"{', '.join(options)} ({why})" for why, options in reasons.items())
        raise ValueError(f"options with no effect on this run: {named}; drop them")


NATURAL = "natural keeps every training image as counted"
BALANCED = "at ratio 1 every class keeps n_max images, whatever the profile"
LONG_TAIL_OPTIONS = {"n_max": "--n-max", "profile": "--profile", "subset_seed": "--subset-seed"}


def unused_long_tail_options(args: argparse.Namespace, ratios: list[float | None] | None) -> dict[str, str]:
    """For :func:`refuse_unused`: ``--n-max``, ``--profile`` and ``--subset-seed`` (those of them the
    command has and that were given: they default to None) when every training set is natural
    (ImageNet-LT, or each of the ``ratios`` asked None; ``ratios`` None: the command's defaults):
    kept as counted, it is no long-tailed subset, and they would only split its record from
    identical runs. ``--profile`` too when every ratio is 1: both profiles keep n_max images in every
    class (``--subset-seed`` still draws which images). ``--resume`` does not compare them either
    (:func:`~fbcd_lab.resume.unused_data_settings`), so a run saved with them before continues."""
    natural = args.dataset == "imagenet_lt" or (ratios is not None and all(r is None for r in ratios))
    unused = {option: NATURAL for name, option in LONG_TAIL_OPTIONS.items()
              if natural and getattr(args, name, None) is not None}
    balanced = not natural and ratios is not None and all(r == 1 for r in ratios)
    if balanced and getattr(args, "profile", None) is not None:
        unused["--profile"] = BALANCED
    return unused


def add_data_root(parser: argparse.ArgumentParser) -> None:
    """``--data-root``: where the data lie."""
    parser.add_argument("--data-root", type=path_arg, help="folder of the data (all but digits)")


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """The data source: ``--dataset``, ``--data-root`` and ``--download``."""
    parser.add_argument("--dataset", required=True, choices=SOURCES, help="data source")
    add_data_root(parser)
    parser.add_argument("--download", action="store_true", help="let torchvision download CIFAR into --data-root")


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device``: auto, cpu or cuda."""
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="auto (default): CUDA when present, else the CPU")


def add_selection_option(parser: argparse.ArgumentParser) -> None:
    """``--selection``: the epoch reported."""
    parser.add_argument("--selection", choices=("final", "best_val"), default="final",
                        help="report the final epoch (default) or the best epoch on the validation split")


def data_for(args: argparse.Namespace, spec: dict | None = None, image_size: int | None = None):
    """The run's data: by the data options, at ``image_size`` when given, or from a checkpoint's or
    record's data ``spec``."""
    if spec is not None:
        return data_from_spec(spec, args.data_root)
    ratio = None if args.dataset == "imagenet_lt" else args.imbalance_ratio
    subset = {k: v for k, v in (("profile", args.profile), ("seed", args.subset_seed)) if v is not None}
    return build_long_tailed(args.dataset, ratio, n_max=args.n_max, root=args.data_root, download=args.download,
                             image_size=image_size or args.image_size, val_per_class=args.val_per_class,
                             val_folder=args.val_folder, **subset)
