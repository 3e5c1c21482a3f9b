"""Checkpoints: model, optimiser, schedule position, settings, class division, RNG and history.

Written atomically (temporary file, then rename) and read with ``weights_only=True``; a
checkpoint is refused for data whose classes, size or subset fingerprint differ from its own.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from fbcd_lab.class_division import ClassDivision
from fbcd_lab.config import MethodConfig, OptimConfig
from fbcd_lab.data.datasets import LongTailData
from fbcd_lab.runtime import resolve_device, resolve_precision
from fbcd_lab.run import Run, model_and_optimizer

FORMAT = 1


def atomic_write(path: str | Path, write) -> None:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(run: Run, data: LongTailData, path: str | Path) -> None:
    """Write ``run`` (after its last finished epoch) to ``path`` atomically."""
    state = {
        "format": FORMAT,
        "method": run.method.to_dict(),
        "optim": run.optim.to_dict(),
        "seed": run.seed,
        "precision": run.precision,
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "generator": run.generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "device_type": run.device.type,
        "division": {"cluster_of_sample": torch.as_tensor(run.division.cluster_of_sample),
                     "class_of_cluster": torch.as_tensor(run.division.class_of_cluster),
                     "strategy": run.division.strategy},
        "history": run.history,
        "wall_time_s": run.wall_time_s,
        "best": run.best,
        "best_state": run.best_state,
        "data": data.record(),
        "data_spec": data.spec,
    }
    atomic_write(path, lambda f: torch.save(state, f))


def read_checkpoint(path: str | Path) -> dict:
    """The raw checkpoint dictionary, loaded safely (tensors and plain Python values only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("format") != FORMAT:
        raise ValueError(f"checkpoint {str(path)!r} has format {state.get('format')!r}, expected {FORMAT}")
    return state


def load_checkpoint(path: str | Path, data: LongTailData, device: str | torch.device = "auto") -> Run:
    """Rebuild the run saved at ``path`` for ``data``; refuse data it was not trained on."""
    state = read_checkpoint(path)
    division = ClassDivision(state["division"]["cluster_of_sample"].numpy(),
                             state["division"]["class_of_cluster"].numpy(), state["division"]["strategy"])
    saved = state["data"]
    if division.num_classes != data.num_classes:
        raise ValueError(f"checkpoint has {division.num_classes} classes, the data {data.num_classes}")
    if saved["dataset"] != data.name:
        raise ValueError(f"checkpoint was trained on dataset {saved['dataset']!r}, not {data.name!r}")
    if saved["indices_sha256"] != data.fingerprint.indices_sha256 or saved["num_train"] != len(data.train):
        raise ValueError(f"checkpoint's class division was made for a different training subset "
                         f"(counts {saved['counts']}, seed {saved['seed']}, {saved['num_train']} images) "
                         f"than the data given (counts {list(data.counts)}, seed {data.fingerprint.seed})")
    if len(division.cluster_of_sample) != len(data.train) or not (
            division.class_of_cluster[division.cluster_of_sample] == data.train.labels).all():
        raise ValueError("checkpoint's class division does not match the labels of the data given")
    method = MethodConfig(**state["method"])
    optim = OptimConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in state["optim"].items()})
    dev = resolve_device(device)
    model, optimizer = model_and_optimizer(data, method, optim, division, dev)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator = torch.Generator()
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    precision = state["precision"] if dev.type == state["device_type"] else resolve_precision("auto", dev)
    return Run(method, optim, state["seed"], dev, precision, model, division, optimizer, generator,
               history=list(state["history"]), wall_time_s=state["wall_time_s"], best=state["best"],
               best_state=state["best_state"])
