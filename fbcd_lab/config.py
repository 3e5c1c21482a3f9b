"""Run configuration: the method (which heads, u, lambda, alpha, clustering) and the optimisation.

Every value is checked when the object is made, so bad input fails before any work starts.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from fbcd_lab.balancing import BALANCING, DEFERRED, RESAMPLED, SAMPLERS, WEIGHTED
from fbcd_lab.checks import Rule, check, check_choice, check_optional
from fbcd_lab.class_division import STRATEGIES
from fbcd_lab.losses import LOSSES
from fbcd_lab.losses.focal import WEIGHTINGS as FOCAL_WEIGHTINGS
from fbcd_lab.models.backbones import BACKBONES
from fbcd_lab.models.two_head import NECKS

METHODS = ("ce", "fbh", "cdh", "fbcd")
AUGMENTATIONS = ("none", "mixup", "mixup_until_switch")
L2_WEIGHTS = ("class", "cluster")
SCHEDULES = ("step", "cosine")


@dataclass(frozen=True)
class MethodConfig:
    """A run's method: four independent choices, head x loss x class balancing x augmentation.

    Head (``method``): ``ce`` plain classifier; ``fbh`` + feature-balancing head; ``cdh`` K-cluster
    main head; ``fbcd`` both (the paper's "Ours"). u, alpha and the clustering only matter with
    CDH; lambda and the kernel only with FBH. Paper defaults: u = 10, lambda = 1.5, random division.
    ``loss``: the main head's loss (:data:`fbcd_lab.losses.LOSSES`); ``balancing`` (see
    :mod:`fbcd_lab.balancing`) with ``cb_beta`` and ``deferred_epoch`` (None: the learning-rate
    decay nearest 80 % of the epochs, :func:`fbcd_lab.balancing.deferred_epoch`);
    ``augment``: ``none``, ``mixup`` (Beta(``mixup_alpha``, ``mixup_alpha``)) or ``mixup_until_switch``
    (Mixup until a deferred rule, drw or drs, switches on; then none: a two-stage run as MiSLAS's).
    ``focal_weighting``: how class weights enter the focal loss, ``cui`` (Cui et al.'s class-balanced
    focal loss) or ``ldam_drw`` (LDAM-DRW's code; see :mod:`fbcd_lab.losses.focal`). ``sampler``: how
    the re-sampling rules (resample, drs) draw, ``class_balanced`` (every class 1/C) or
    ``effective_number`` (as LDAM-DRW's ``ImbalancedDatasetSampler`` is written; see :mod:`fbcd_lab.balancing`).
    ``weight_l1``: class weights apply to L1 as well as to L2. ``l2_weights``: with CDH and a
    weighted rule, the main head's samples are weighted by their ``class``'s effective number or
    by their ``cluster``'s. ``neck``: which heads read the balanced neck where D is not a multiple
    of C (see :class:`fbcd_lab.models.TwoHeadModel`).
    """

    method: str = "fbcd"
    backbone: str = "resnet32"
    u: int = 10
    lam: float = 1.5
    alpha: float = 0.5
    cluster: str = "random"
    kernel_size: int = 3
    channels_per_class: int | None = None
    cluster_pca: int = 50
    loss: str = "ce"
    balancing: str = "none"
    augment: str = "none"
    mixup_alpha: float = 1.0
    focal_gamma: float = 1.0
    la_tau: float = 1.0
    ldam_max_margin: float = 0.5
    ldam_scale: float = 30.0
    cb_beta: float = 0.9999
    deferred_epoch: int | None = None
    focal_weighting: str = "cui"
    sampler: str = "class_balanced"
    weight_l1: bool = True
    l2_weights: str = "class"
    neck: str = "shared"

    def __post_init__(self) -> None:
        check_choice("method", self.method, METHODS)
        check_choice("backbone", self.backbone, BACKBONES)
        check_choice("cluster", self.cluster, STRATEGIES)
        check_choice("loss", self.loss, LOSSES)
        check_choice("balancing", self.balancing, BALANCING)
        check_choice("augment", self.augment, AUGMENTATIONS)
        check_choice("neck", self.neck, NECKS)
        check_choice("l2_weights", self.l2_weights, L2_WEIGHTS)
        check_choice("focal_weighting", self.focal_weighting, FOCAL_WEIGHTINGS)
        check_choice("sampler", self.sampler, SAMPLERS)
        if self.augment == "mixup_until_switch" and self.balancing not in DEFERRED:
            raise ValueError(f"augment 'mixup_until_switch' stops Mixup when a deferred rule switches on: it needs "
                             f"balancing {' or '.join(map(repr, DEFERRED))}, got {self.balancing!r}")
        for name in ("u", "lam", "alpha", "kernel_size", "cluster_pca", "mixup_alpha", "focal_gamma", "la_tau",
                     "ldam_max_margin", "ldam_scale", "cb_beta"):
            object.__setattr__(self, name, check(name, getattr(self, name)))
        for name in ("channels_per_class", "deferred_epoch"):
            object.__setattr__(self, name, check_optional(name, getattr(self, name)))
        check_choice("weight_l1", self.weight_l1, (True, False))
        if self.uses_cdh and not LOSSES[self.loss].any_head:
            raise ValueError(f"loss {self.loss!r} with method {self.method!r} is not supported: that loss needs "
                             f"the plain C-way head (method 'ce' or 'fbh'); the class-division head trains "
                             f"on soft cluster labels with loss 'ce'")

    @property
    def uses_normalized_classifier(self) -> bool:
        return LOSSES[self.loss].normalized_classifier

    @property
    def uses_mixup(self) -> bool:
        return self.augment in ("mixup", "mixup_until_switch")

    @property
    def uses_fbh(self) -> bool:
        return self.method in ("fbh", "fbcd")

    @property
    def uses_cdh(self) -> bool:
        return self.method in ("cdh", "fbcd")

    def to_dict(self) -> dict:
        return asdict(self)

    def unused(self, names) -> dict[str, str]:
        """Of the fields ``names``, those this configuration never reads, each with what would read
        it in words (``u``: ``the class-division head: method cdh or fbcd``)."""
        return {name: USED_BY[name][0] for name in names if name in USED_BY and not USED_BY[name][1](self)}


_CDH = ("the class-division head: method cdh or fbcd", lambda m: m.uses_cdh)
_FBH = ("the feature-balancing head: method fbh or fbcd", lambda m: m.uses_fbh)
USED_BY = {  # field: (what reads it, in words; whether a configuration does)
    "u": _CDH, "alpha": _CDH, "cluster": _CDH, "cluster_pca": _CDH,
    "lam": _FBH, "kernel_size": _FBH, "channels_per_class": _FBH,
    "focal_gamma": ("loss focal", lambda m: m.loss == "focal"),
    "la_tau": ("loss la", lambda m: m.loss == "la"),
    "ldam_max_margin": ("loss ldam", lambda m: m.loss == "ldam"),
    "ldam_scale": ("loss ldam", lambda m: m.loss == "ldam"),
    "mixup_alpha": ("augment mixup or mixup_until_switch", lambda m: m.uses_mixup),
    "cb_beta": ("balancing reweight or drw, or sampler effective_number",
                lambda m: m.balancing in WEIGHTED or (m.balancing in RESAMPLED and m.sampler == "effective_number")),
    "focal_weighting": ("loss focal with balancing reweight or drw",
                        lambda m: m.loss == "focal" and m.balancing in WEIGHTED),
    "sampler": ("balancing resample or drs", lambda m: m.balancing in RESAMPLED),
    "deferred_epoch": ("balancing drw or drs", lambda m: m.balancing in DEFERRED),
    "weight_l1": ("the feature-balancing head with balancing reweight or drw",
                  lambda m: m.uses_fbh and m.balancing in WEIGHTED),
    "l2_weights": ("the class-division head with balancing reweight or drw",
                   lambda m: m.uses_cdh and m.balancing in WEIGHTED),
}


@dataclass(frozen=True)
class OptimConfig:
    """SGD with momentum, a linear warm-up, then step or cosine decay of the learning rate.

    ``step``: from epoch ``milestones[i]`` on (counted from 0) the lr is ``lr * factors[i]``.
    ``cosine``: from the end of warm-up down to 0 at the last epoch. The defaults are our reading
    of the paper's CIFAR protocol (see :data:`PRESETS`).
    """

    epochs: int = 200
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 2e-4
    warmup_epochs: int = 5
    schedule: str = "step"
    milestones: tuple[int, ...] = (120, 160)
    factors: tuple[float, ...] = (0.1, 0.01)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "lr", "momentum", "weight_decay", "warmup_epochs"):
            object.__setattr__(self, name, check(name, getattr(self, name)))
        check_choice("schedule", self.schedule, SCHEDULES)
        if self.warmup_epochs > self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) must not exceed epochs ({self.epochs}); "
                             f"preset(name, epochs=...) scales the warm-up with the run")
        milestones = tuple(check("milestones", m, Rule(int, 0, self.epochs, high_open=True)) for m in self.milestones)
        if list(milestones) != sorted(milestones):
            raise ValueError(f"milestones must be increasing, got {self.milestones!r}")
        factors = tuple(check("factors", f, Rule(float, 0, 1, low_open=True)) for f in self.factors)
        if len(factors) != len(milestones):
            raise ValueError(f"factors must hold one value per milestone ({len(milestones)}), got {self.factors!r}")
        object.__setattr__(self, "milestones", milestones)
        object.__setattr__(self, "factors", factors)

    def lr_factor(self, epoch: int, progress: float = 1.0) -> float:
        """Multiplier of ``lr`` for a step ``progress`` (in (0, 1], this step included) through
        ``epoch`` (from 0): linear warm-up as in LDAM-DRW, then step decay per epoch, or cosine."""
        if epoch < self.warmup_epochs:
            return (epoch + progress) / self.warmup_epochs
        if self.schedule == "cosine":
            span = max(self.epochs - self.warmup_epochs, 1)
            return 0.5 * (1 + math.cos(math.pi * (epoch + progress - self.warmup_epochs) / span))
        passed = [f for m, f in zip(self.milestones, self.factors) if epoch >= m]
        return passed[-1] if passed else 1.0

    def to_dict(self) -> dict:
        return asdict(self)


# The paper: "initial learning rate 0.1, decayed by 0.01 at the 120th and 160th epoch". We read
# this as the usual x0.1 at each milestone, so the rate *is* 0.01 after epoch 120 (and 0.001 after
# 160); LDAM-DRW's schedule (x0.01 after 160, x0.0001 after 180) is offered beside it.
# DRW and DRS switch on at a decay, as in LDAM-DRW (the rate drops and the re-weighting starts at
# epoch 160 of 200): the milestone nearest 80 % of the epochs, the later one on a tie, so at 160 in
# paper_cifar, ldam_cifar and paper_tiny_imagenet, at 25 of 30 in cpu_short and digits, and at the
# scaled milestone when epochs are changed; without milestones (paper_imagenet_lt's cosine) at
# round(0.8 x epochs), 72 of 90 (:func:`fbcd_lab.balancing.deferred_epoch`).
PRESETS: dict[str, OptimConfig] = {
    "paper_cifar": OptimConfig(),
    "ldam_cifar": OptimConfig(milestones=(160, 180), factors=(0.01, 0.0001)),
    "paper_tiny_imagenet": OptimConfig(),
    "paper_imagenet_lt": OptimConfig(epochs=90, batch_size=512, lr=0.2, weight_decay=5e-4, schedule="cosine",
                                     milestones=(), factors=()),
    "cpu_short": OptimConfig(epochs=30, warmup_epochs=2, milestones=(20, 25)),
    "digits": OptimConfig(epochs=30, batch_size=64, lr=0.05, warmup_epochs=2, milestones=(20, 25)),
}
DEFAULT_PRESET = {"digits": "digits", "cifar10": "paper_cifar", "cifar100": "paper_cifar",
                  "imagefolder": "paper_tiny_imagenet", "tiny_imagenet": "paper_tiny_imagenet",
                  "imagenet_lt": "paper_imagenet_lt"}
DEFAULT_BACKBONE = {"digits": "small_cnn", "cifar10": "resnet32", "cifar100": "resnet32",
                    "imagefolder": "resnet18", "tiny_imagenet": "resnet18", "imagenet_lt": "resnext50"}
# A user's own folder is often small: below this many training images ``train`` defaults to the CPU
# protocol (ResNet-8, cpu_short: 30 epochs) and to images of at most 64 px (a phone's photos would
# otherwise train at their full size), so a first run of ~60 images ends in a minute or two, not
# the 10 minutes of ResNet-18 for 200 epochs; the paper's Tiny-ImageNet defaults are options away.
SMALL_FOLDER_IMAGES = 5000
SMALL_FOLDER_DEFAULTS = ("resnet8", "cpu_short")
SMALL_FOLDER_IMAGE_SIZE = 64


def default_backbone_and_preset(dataset: str, train_images: int | None = None) -> tuple[str, str]:
    """The backbone and preset a run of ``dataset`` gets when none is given: the paper's for its
    source, except an image folder of fewer than SMALL_FOLDER_IMAGES training images."""
    check_choice("dataset", dataset, DEFAULT_BACKBONE)
    if dataset == "imagefolder" and train_images is not None and train_images < SMALL_FOLDER_IMAGES:
        return SMALL_FOLDER_DEFAULTS
    return DEFAULT_BACKBONE[dataset], DEFAULT_PRESET[dataset]


def default_image_size(dataset: str, train_images: int, image_size: int) -> int | None:
    """The square size a run of ``dataset`` resizes its ``image_size``-px images to when none is given:
    SMALL_FOLDER_IMAGE_SIZE for a small image folder of larger images, else None (kept as they are)."""
    small = default_backbone_and_preset(dataset, train_images) == SMALL_FOLDER_DEFAULTS
    return SMALL_FOLDER_IMAGE_SIZE if small and image_size > SMALL_FOLDER_IMAGE_SIZE else None


@dataclass(frozen=True)
class SizedProtocol:
    """A run's or a study's backbone (None: the study's cells name theirs), preset and resize (None:
    images kept as they are), and the line that says so where they are not the paper's for its source
    (None otherwise)."""

    backbone: str | None
    preset: str
    image_size: int | None
    note: str | None


def sized_protocol(dataset: str, train_images: int, image_size: int, backbone: str | None = None,
                   preset_name: str | None = None, size_given: bool = False,
                   cells_name_backbones: bool = False, epochs: int | None = None) -> SizedProtocol:
    """What ``train`` and ``study`` use on ``dataset`` with ``train_images`` training images of
    ``image_size`` px: the backbone and preset given, else the defaults for that data (a small image
    folder: the CPU protocol, images of at most 64 px unless a size was given), one rule for both.
    ``cells_name_backbones``: a study whose cells train on backbones of their own (Table 5's three)
    keeps them; only its preset and image size are sized. ``epochs``: the run's, where given in place
    of the preset's (the line names the count that will train)."""
    sized = default_backbone_and_preset(dataset, train_images)
    paper = default_backbone_and_preset(dataset)
    size = None if size_given else default_image_size(dataset, train_images, image_size)
    defaults = []
    if backbone is None and not cells_name_backbones and sized[0] != paper[0]:
        defaults.append(sized[0])
    if preset_name is None and sized[1] != paper[1]:
        count = epochs or PRESETS[sized[1]].epochs
        defaults.append(f"preset {sized[1]} ({count} epoch{'s' * (count != 1)})")
    chosen = [" and ".join(defaults)] if defaults else []
    if size is not None:
        chosen.append(f"images resized to {size} px (they are {image_size} px; --image-size N sets another size)")
    paper_options = ("" if cells_name_backbones else f"--backbone {paper[0]} ") + f"--preset {paper[1]}"
    note = (f"a small folder ({train_images} training images, under {SMALL_FOLDER_IMAGES:,}): by default "
            f"{'; '.join(chosen)}; {paper_options} train the paper's setup for this source") if chosen else None
    return SizedProtocol(backbone or (None if cells_name_backbones else sized[0]), preset_name or sized[1], size, note)


def with_defaults(config: type, saved: dict) -> dict:
    """A saved configuration with the fields added to ``config`` since it was saved, at the values
    that keep the behaviour it trained with (their defaults, or :func:`_legacy_values`), so older
    runs compare and pool with new ones."""
    return {**{f.name: f.default for f in fields(config)}, **_legacy_values(config, saved), **saved}


def _legacy_values(config: type, saved: dict) -> dict:
    """Fields whose default differs from what runs saved before the field existed did: weighted focal
    was LDAM-DRW's form until ``focal_weighting`` came (December 2026)."""
    if config is MethodConfig and saved.get("loss") == "focal" and saved.get("balancing") in WEIGHTED:
        return {"focal_weighting": "ldam_drw"}
    return {}


def preset(name: str, **overrides) -> OptimConfig:
    """A named optimisation preset, with any field replaced by ``overrides``.

    Changing ``epochs`` alone scales the warm-up and the milestones with it, so a shortened run
    keeps the schedule's shape (a 10-epoch paper_cifar run decays at epochs 6 and 8); a milestone
    that lands on or after the last epoch, where it could never apply, is dropped.
    """
    check_choice("preset", name, PRESETS)
    base = PRESETS[name]
    if "epochs" in overrides:
        epochs = check("epochs", overrides["epochs"])
        scale = epochs / base.epochs
        kept = [(m, f) for m, f in zip(base.milestones, base.factors) if round(m * scale) < epochs]
        overrides.setdefault("milestones", tuple(round(m * scale) for m, _ in kept))
        overrides.setdefault("factors", tuple(f for _, f in kept))
        overrides.setdefault("warmup_epochs", round(base.warmup_epochs * scale))
    return replace(base, **overrides)
