"""Build a long-tailed training set by name: the one entry point to every data source."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fbcd_lab.checks import Rule, check, check_choice, check_optional
from fbcd_lab.data.augment import AugmentSpec, channel_stats
from fbcd_lab.data.images import FileImages, ImageSet, TensorImages, check_decodable
from fbcd_lab.data.long_tail import CONVENTIONS, PROFILES, SubsetFingerprint, long_tail_counts, long_tail_indices
from fbcd_lab.data.sources import SOURCES, imagenet_stats, load_source
from fbcd_lab.runtime import available_cpus

IN_MEMORY_MAX_SIZE = 64
MAX_STREAM_WORKERS = 8
SPEC_KEYS = ("name", "imbalance_ratio", "profile", "n_max", "seed", "convention", "image_size", "val_per_class",
             "val_folder")  # what LongTailData.spec holds: the arguments of build_long_tailed that rebuild it


@dataclass(frozen=True, eq=False)
class LongTailData:
    """A long-tailed training set, the untouched test set, and what is needed to use them.

    ``spare`` holds the training images that neither the long-tailed subset nor ``val`` use;
    ``val`` is a validation split (None unless asked): class-balanced and carved from the unused
    images, or the source's own. ``imbalance_ratio`` None (profile ``natural``) is a training set
    kept as it came; :attr:`measured_ratio` is the ratio of its counts either way. ``spec`` holds the
    arguments that rebuild the same data with :func:`build_long_tailed` (data_root aside).
    """

    name: str
    classes: tuple[str, ...]
    train: ImageSet
    test: ImageSet
    spare: ImageSet
    counts: tuple[int, ...]
    fingerprint: SubsetFingerprint
    augment: AugmentSpec
    in_channels: int
    image_size: int
    imbalance_ratio: float | None
    profile: str
    spec: dict
    val: ImageSet | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def measured_ratio(self) -> float:
        """Largest over smallest training class count, as the subset holds them."""
        return max(self.counts) / min(self.counts)

    def record(self) -> dict:
        """JSON-ready description of the subset, for results records (``imbalance_ratio`` says
        ``natural`` for a training set kept as it came)."""
        ratio = "natural" if self.imbalance_ratio is None else self.imbalance_ratio
        return {"dataset": self.name, "imbalance_ratio": ratio, "measured_imbalance_ratio": self.measured_ratio,
                "profile": self.profile, "num_train": len(self.train), "num_test": len(self.test),
                "num_val": None if self.val is None else len(self.val), "image_size": self.image_size,
                "in_channels": self.in_channels, **self.fingerprint.to_dict()}


def decoded_by_default(image_size: int, natural: bool) -> bool:
    """Whether image files are decoded into memory when ``in_memory`` is not given: up to
    IN_MEMORY_MAX_SIZE px a side, and never for a training set kept as counted (ImageNet-LT)."""
    return image_size <= IN_MEMORY_MAX_SIZE and not natural


def build_long_tailed(
    name: str,
    imbalance_ratio: float | None = 100,
    *,
    profile: str = "exp",
    n_max: int | None = None,
    seed: int = 0,
    convention: str = "ldam",
    root: str | Path | None = None,
    download: bool = False,
    image_size: int | None = None,
    in_memory: bool | None = None,
    val_per_class: int = 0,
    val_folder: bool = False,
    check_files: bool = True,
) -> LongTailData:
    """Load dataset ``name`` and subsample its training set to a long-tailed profile.

    ``n_max`` defaults to the smallest class size. ``imbalance_ratio`` None keeps the training
    set as it is, every image as counted (``natural``: required for ImageNet-LT, long-tailed
    already; ``n_max`` and ``profile`` then do not apply). The test set is never touched.
    ``in_memory`` None decodes file sets of images up to 64 px and streams larger ones and
    ImageNet-LT. Normalisation statistics come from the source, else from the decoded training
    images, else ImageNet's. ``val_per_class`` > 0 carves a balanced, seeded validation split of
    that many images per class from the training images the long tail left unused, so the
    training subset is the same with or without it. CIFAR-LT's head class uses all its images at
    the default n_max: lower n_max to leave some (an error says by how much). ``val_folder`` takes
    the source's own validation split instead: an image folder's ``val/<class>/`` folders,
    ImageNet-LT's ``ImageNet_LT_val.txt``. A bad image file
    raises :class:`~fbcd_lab.data.images.BadImageFile` naming it: decoded sets when built, streamed
    test and validation files here too (``check_files``, a reduced-scale decode of each), streamed
    training files when a batch reads them.
    """
    seed, image_size = check("seed", seed), check_optional("image_size", image_size)
    n_max, val_per_class = check_optional("n_max", n_max), check("val_per_class", val_per_class)
    imbalance_ratio = check_optional("imbalance_ratio", imbalance_ratio)
    if val_folder and val_per_class:
        raise ValueError("give val_per_class (a split carved from unused training images) or val_folder (the "
                         "data's own validation split), not both")
    if imbalance_ratio is None and val_per_class:
        raise ValueError(f"val_per_class {val_per_class} needs training images the long tail leaves unused, and "
                         f"imbalance_ratio None (natural) uses them all: give the data's own validation split "
                         f"(val_folder) or a ratio")
    spec = {"name": name, "imbalance_ratio": imbalance_ratio, "profile": profile, "n_max": n_max,
            "seed": seed, "convention": convention, "image_size": image_size, "val_per_class": val_per_class,
            **({"val_folder": True} if val_folder else {})}  # absent when unused: older runs' specs still match
    source = load_source(name, root, download, image_size, val_folder)
    labels = source.train.labels
    num_classes = len(source.classes)
    class_sizes = np.bincount(labels, minlength=num_classes)
    if source.natural and imbalance_ratio is not None:
        raise ValueError(f"imbalance_ratio must be None for {name!r}: it is long-tailed already")
    if imbalance_ratio is None:
        counts = [int(n) for n in class_sizes]
        if min(counts) == 0:
            raise ValueError(f"{name}: class(es) {np.flatnonzero(class_sizes == 0).tolist()} have no training image")
        indices, fingerprint = long_tail_indices(labels, counts, seed, "first")
    else:
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
        n_max = int(class_sizes.min()) if n_max is None else n_max
        if n_max > class_sizes.min():
            raise ValueError(f"n_max must be <= {class_sizes.min()} (smallest class of {name}), got {n_max}")
        counts = long_tail_counts(n_max, num_classes, imbalance_ratio, profile)
        indices, fingerprint = long_tail_indices(labels, counts, seed, convention)
    unused = np.setdiff1d(np.arange(len(labels)), indices)
    val_idx = validation_indices(labels, unused, num_classes, val_per_class, seed) if val_per_class else None
    spare_idx = unused if val_idx is None else np.setdiff1d(unused, val_idx)
    train, test = source.train.subset(indices), source.test
    val = source.train.subset(val_idx) if val_idx is not None else source.val
    if in_memory is None:
        in_memory = decoded_by_default(source.image_size, source.natural)
    if in_memory and isinstance(train, FileImages):
        train, test = (part.decode(image_size, source.in_channels) for part in (train, test))
        val = val.decode(image_size, source.in_channels) if val is not None else None
    elif check_files:
        for what, images in (("test", test), ("validation", val)):
            if isinstance(images, FileImages):
                check_decodable(images, what)
    if source.mean is not None:
        mean, std = source.mean, source.std
    elif isinstance(train, TensorImages):
        mean, std = channel_stats(train.images)
    else:
        mean, std = imagenet_stats(source.in_channels)
    spare = source.train.subset(spare_idx)
    return LongTailData(
        name=source.name, classes=source.classes, train=train, test=test, spare=spare,
        counts=tuple(counts), fingerprint=fingerprint,
        augment=AugmentSpec(mean, std, source.crop_padding, source.hflip),
        in_channels=source.in_channels, image_size=image_size or source.image_size,
        imbalance_ratio=imbalance_ratio, profile="natural" if imbalance_ratio is None else profile, spec=spec,
        val=val,
    )


def spec_problem(spec) -> str | None:
    """What keeps a saved ``spec`` (:attr:`LongTailData.spec`) from rebuilding its data with
    :func:`build_long_tailed` (a hand edit, another version's file), or None: its keys, and each
    value by the check :func:`build_long_tailed` makes of it (those that need no data), so a bad
    value names the file it came from, not only the parameter."""
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or "imbalance_ratio" not in spec:
        return "it needs a name and an imbalance_ratio"
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        return f"it holds {', '.join(map(repr, unknown))}, which no data takes"
    try:
        check_choice("dataset", spec["name"], SOURCES)
        for name in ("imbalance_ratio", "n_max", "image_size"):
            check_optional(name, spec.get(name))
        check("seed", spec.get("seed", 0))
        check("val_per_class", spec.get("val_per_class", 0))
        check_choice("convention", spec.get("convention", "ldam"), CONVENTIONS)
        if spec["imbalance_ratio"] is not None:
            check_choice("profile", spec.get("profile", "exp"), PROFILES)
    except ValueError as err:
        return str(err)
    return None


def data_from_spec(spec: dict, root: str | Path | None = None) -> LongTailData:
    """The data a saved ``spec`` (:func:`spec_problem` finds nothing wrong with it) describes, read from ``root``."""
    spec = dict(spec)
    return build_long_tailed(spec.pop("name"), spec.pop("imbalance_ratio"), root=root, **spec)


def loader_workers(data: LongTailData, workers: int | None = None) -> int:
    """DataLoader processes that decode ``data``'s training images: ``workers`` (checked), by default
    :func:`default_workers`; workers for images held in memory, which no loader reads, are refused."""
    if workers is None:
        return default_workers(data)
    workers = check("workers", workers)
    if workers and not isinstance(data.train, FileImages):
        raise ValueError(f"workers {workers}: the training images of {data.name} are held in memory, where "
                         f"batches are indexed and no worker process decodes them; leave it out")
    return workers


def default_workers(data: LongTailData) -> int:
    """DataLoader processes that decode ``data``'s training images: min(8, the CPUs this process may
    use) when they stream from files, 0 when they are in memory (batches are indexed, no loader)."""
    return min(MAX_STREAM_WORKERS, available_cpus()) if isinstance(data.train, FileImages) else 0


def validation_indices(labels: np.ndarray, unused: np.ndarray, num_classes: int, per_class: int,
                       seed: int) -> np.ndarray:
    """``per_class`` seeded indices of every class among the ``unused`` training images."""
    per_class = check("val_per_class", per_class, Rule(int, 1))
    available = np.bincount(labels[unused], minlength=num_classes)
    if available.min() < per_class:
        short = int(np.argmin(available))
        raise ValueError(f"val_per_class {per_class} needs that many unused training images of every class, but "
                         f"class {short} has {available[short]} left over by the long tail; lower val_per_class "
                         f"or n_max (by at least {per_class - int(available[short])})")
    rng = np.random.RandomState(seed + 1)
    return np.sort(np.concatenate([rng.permutation(unused[labels[unused] == c])[:per_class]
                                   for c in range(num_classes)]))
