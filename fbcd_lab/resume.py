"""Continuing a saved run: the settings asked for must be the saved ones, except a longer run.

``--resume`` used to ignore the command line; now every setting given is compared with the
checkpoint's, a difference is refused with the list of what differs, and a larger ``epochs``
extends the run: the remaining epochs follow the schedule a run of that length has (warm-up and
decay epochs scaled as :func:`fbcd_lab.config.preset` scales them), and the run records the
extension so it is never pooled with runs trained on that schedule from the start.
"""

from __future__ import annotations

from pathlib import Path

import torch

from fbcd_lab import distributed
from fbcd_lab.balancing import saved_switch_epoch, switch_epoch
from fbcd_lab.checkpoints import load_checkpoint, read_checkpoint
from fbcd_lab.config import MethodConfig, OptimConfig, with_defaults
from fbcd_lab.data.datasets import LongTailData
from fbcd_lab.run import Run
from fbcd_lab.runtime import resolve_device, resolve_precision

# The optimiser settings that a longer run may change: its length and what is scaled with it.
SCHEDULED_BY_EPOCHS = ("epochs", "warmup_epochs", "milestones", "factors")


def unused_data_settings(imbalance_ratio: float | None) -> tuple[str, ...]:
    """The data spec's settings that do not change the data at ``imbalance_ratio``: the long-tail
    ones on natural data (every training image as counted), the profile at ratio 1 (every class
    n_max). Not compared on resuming: runs saved before the command line refused them hold them."""
    if imbalance_ratio is None:
        return "profile", "n_max", "seed"
    return ("profile",) if imbalance_ratio == 1 else ()


def setting_differences(state: dict, data: LongTailData, method: MethodConfig, optim: OptimConfig, seed: int,
                        precision: str, deterministic: bool, world_size: int = 1) -> list[str]:
    """``name: saved -> asked`` for every setting in which a checkpoint's run differs from the one
    asked for; epochs (and what scales with them) may only grow. ``world_size``: the processes that
    would continue it (torchrun's), which must be the run's own (runs saved before the process count
    was saved count as one process's)."""
    saved_optim = {k: tuple(v) if isinstance(v, list) else v for k, v in state["optim"].items()}
    saved_method = with_defaults(MethodConfig, state["method"])
    asked_optim = optim.to_dict()
    extending = asked_optim["epochs"] > saved_optim["epochs"]
    pairs = [(f"method.{k}", v, saved_method.get(k)) for k, v in method.to_dict().items()]
    pairs += [(f"optim.{k}", v, saved_optim.get(k)) for k, v in asked_optim.items()
              if not (extending and k in SCHEDULED_BY_EPOCHS)]
    if not extending:
        pairs.append(("balancing_switch_epoch", switch_epoch(method.balancing, optim, method.deferred_epoch),
                      saved_switch_epoch(state)))
    pairs += [("seed", seed, state["seed"]), ("precision", precision, state["precision"]),
              ("world_size", world_size, state.get("world_size", 1)),
              ("deterministic", deterministic, state.get("deterministic", False))]
    pairs += [(f"data.{k}", v, state["data_spec"].get(k)) for k, v in data.spec.items()
              if k not in unused_data_settings(data.spec["imbalance_ratio"])]
    return [f"{name}: saved {saved!r}, asked {asked!r}" for name, asked, saved in pairs if asked != saved]


def resume_run(path: str | Path, data: LongTailData, method: MethodConfig, optim: OptimConfig, *, seed: int,
               device: str | torch.device = "auto", precision: str = "auto", deterministic: bool = False) -> Run:
    """The run saved at ``path``, ready to continue with exactly these settings (a larger
    ``optim.epochs`` extends it); a ValueError lists every other setting that differs."""
    state = read_checkpoint(path)
    if optim.epochs < state["optim"]["epochs"]:
        raise ValueError(f"epochs {optim.epochs} would shorten the run in {path} ({state['optim']['epochs']} epochs): "
                         f"a run can be extended, not shortened")
    dev = resolve_device(device)
    differences = setting_differences(state, data, method, optim, seed, resolve_precision(precision, dev),
                                      deterministic, distributed.world_size())
    if differences:
        raise ValueError(f"--resume: the command line differs from the run saved in {path}: "
                         f"{'; '.join(differences)} (repeat the run's own options, or train into a new --out)")
    run = load_checkpoint(path, data, dev)
    if optim.epochs < run.epochs_done:
        raise ValueError(f"epochs {optim.epochs} is fewer than the {run.epochs_done} the run in {path} has done")
    if optim.epochs != run.optim.epochs:
        run.extensions.append({"at_epoch": run.epochs_done, "from_epochs": run.optim.epochs,
                               "to_epochs": optim.epochs})
        run.optim = optim
    return run
