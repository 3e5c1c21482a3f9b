"""The training protocol behind a set of results in one line: backbone, epochs, optimiser and
schedule, batch, augmentation and seeds, read from trained runs or from their results records, so
that a notebook states under what its numbers were made where it reads them."""

from __future__ import annotations

from collections.abc import Sequence

from fbcd_lab.config import MethodConfig, OptimConfig, with_defaults
from fbcd_lab.data.datasets import LongTailData, decoded_by_default
from fbcd_lab.data.sources import train_augmentation
from fbcd_lab.run import Run


def protocol_line(runs: Sequence[Run | dict], data: LongTailData | None = None) -> str:
    """One line naming the protocol of ``runs``: trained :class:`~fbcd_lab.run.Run` objects (with the
    ``data`` they trained on) or results records. They must agree in everything but the training
    seed and the method; a ValueError names the first field where they do not."""
    if not runs:
        raise ValueError("runs must hold at least one run or record")
    described = [_describe(run, data) for run in runs]
    for name in described[0][0]:
        values = {d[0][name] for d in described}
        if len(values) > 1:
            raise ValueError(f"the runs differ in {name} ({' / '.join(sorted(values))}): one line describes one "
                             f"protocol; give the runs of each protocol apart")
    parts = described[0][0]
    seeds = sorted({d[1] for d in described})
    return (f"{parts['backbone']}, {parts['epochs']}, {parts['optimiser']}, {parts['schedule']}, "
            f"{parts['batch']}, {parts['augmentation']}, training seed{'s' if len(seeds) > 1 else ''} "
            f"{', '.join(map(str, seeds))}")


def _describe(run: Run | dict, data: LongTailData | None) -> tuple[dict[str, str], int]:
    """The protocol's parts of one run or record, in words, and its training seed."""
    if isinstance(run, Run):
        if data is None:
            raise ValueError("data must be given with trained runs: it names the images and their augmentation")
        method, optim, seed = run.method, run.optim, run.seed
        kind, size = data.spec["name"], data.image_size
    elif isinstance(run, dict) and "config" in run:
        config = run["config"]
        method = MethodConfig(**with_defaults(MethodConfig, config["method"]))
        optim = OptimConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in config["optim"].items()})
        seed, kind, size = run["seed"], config["data_spec"]["name"], run["data"]["image_size"]
    else:
        raise ValueError(f"runs must hold trained runs or results records, got a {type(run).__name__}")
    return {"backbone": method.backbone, "epochs": f"{optim.epochs} epoch{'' if optim.epochs == 1 else 's'}",
            "optimiser": f"SGD (momentum {optim.momentum:g}, weight decay {optim.weight_decay:g})",
            "schedule": _schedule(optim), "batch": f"batch {optim.batch_size}",
            "augmentation": _augmentation(kind, size, method)}, seed


def _schedule(optim: OptimConfig) -> str:
    """The learning rate over the epochs, in words (epochs counted from 0, as the trainer does)."""
    first = "the first epoch" if optim.warmup_epochs == 1 else f"the first {optim.warmup_epochs} epochs"
    warmup = f" (linear warm-up over {first})" if optim.warmup_epochs else ""
    if optim.schedule == "cosine":
        return f"lr {optim.lr:g}{warmup}, cosine to 0"
    steps = " and ".join(f"{optim.lr * f:g} from epoch {m}" for m, f in zip(optim.milestones, optim.factors))
    return f"lr {optim.lr:g}{warmup}" + (f", {steps}" if steps else ", constant")


def _augmentation(kind: str, size: int, method: MethodConfig) -> str:
    """The training images' augmentation in words: the source's crop and flip (a random resized crop
    where the images stream by default), and Mixup where the method uses it."""
    padding, flip = train_augmentation(kind, size)
    if not decoded_by_default(size, natural=kind == "imagenet_lt"):  # the one source kept as counted
        crop = "random resized crop"
    else:
        crop = f"random {size}-px crop with {padding}-px padding"
    mixup = {"mixup": ", Mixup", "mixup_until_switch": ", Mixup until the deferred switch"}.get(method.augment, "")
    return f"{crop}{' + horizontal flip' if flip else ', no flip'}{mixup}"
