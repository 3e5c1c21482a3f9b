"""Checkpoints: model, optimiser, schedule position, settings, class division, generator and history.

Written atomically (temporary file, then rename) with the mode the umask gives new files, Ctrl-C held
until the file is in place, and read with ``weights_only=True``. A file that is no usable checkpoint, or data whose class names, class
count, subset fingerprint or labels differ from the checkpoint's, raise a one-line CheckpointError.
"""

from __future__ import annotations

import errno
import os
import pickle
import re
import signal
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from fbcd_lab.checks import PARAMETERS, Rule, check, shown
from fbcd_lab.class_division import ClassDivision
from fbcd_lab.config import MethodConfig, OptimConfig
from fbcd_lab.data.datasets import LongTailData, spec_problem
from fbcd_lab.readers import NON_NEGATIVE, where_not_finite
from fbcd_lab.runtime import resolve_device, resolve_precision
from fbcd_lab.run import Run, model_and_optimizer

FORMAT = 1
DISK_FULL = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}
TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")  # what tempfile.mkstemp makes in atomic_write
KEYS = {"format": int, "method": dict, "optim": dict, "seed": int, "precision": str, "model": dict,
        "optimizer": dict, "generator": torch.Tensor, "device_type": str, "division": dict, "history": list,
        "wall_time_s": (int, float), "best": (dict, type(None)), "best_state": (dict, type(None)), "data": dict,
        "data_spec": dict}
DIVISION_KEYS = {"cluster_of_sample": torch.Tensor, "class_of_cluster": torch.Tensor, "strategy": str}
DATA_KEYS = {"counts": list, "seed": int, "convention": str, "indices_sha256": str, "num_train": int}
SHOWN = 10


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, not an fbcd_lab checkpoint, or made for other data."""


class DiskFullError(OSError, ValueError):
    """A write that ran out of space or quota (``errno`` says which); the previous file is kept."""


def atomic_write(path: str | Path, write: Callable) -> None:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it into place with
    the umask's mode. On a full disk raise DiskFullError; the old file is kept either way."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with interrupts_held():
            _write_then_replace(path, write)
    except Exception as err:
        code = _disk_full_errno(err)
        if code is None:
            raise
        kept = f"the previous {path.name} is kept" if path.exists() else f"{path.name} was not written"
        full = DiskFullError(f"{DISK_FULL[code]} writing {str(path)!r}; {kept}")
        full.errno = code
        raise full from None


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while a file is written, then deliver them: torch's zip writer turns
    an interrupt inside it into a RuntimeError, or aborts the process, instead of KeyboardInterrupt.
    Only the main thread handles signals; elsewhere (the training lab's thread) nothing changes."""
    names = (signal.SIGINT, signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread() or None in map(signal.getsignal, names):
        yield
        return
    caught = []
    previous = {name: signal.signal(name, lambda number, frame: caught.append(number)) for name in names}
    try:
        yield
    finally:
        for name, handler in previous.items():
            signal.signal(name, handler)
        for number in caught:
            signal.raise_signal(number)


def _write_then_replace(path: Path, write: Callable) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    # /proc reads it without setting it (another thread may create files meanwhile); elsewhere set and restore.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _disk_full_errno(err: BaseException | None) -> int | None:
    # torch.save may wrap the OSError of a full disk in a RuntimeError: look along the chain.
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError) and err.errno in DISK_FULL:
            return err.errno
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the ``.<name>.XXXXXXXX.tmp`` files that killed ``atomic_write`` calls left in ``folder``
    (nothing else) and return them; call it while nothing else writes there."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = sorted(p for p in folder.iterdir() if TEMPORARY.fullmatch(p.name) and p.is_file() and not p.is_symlink())
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def save_checkpoint(run: Run, data: LongTailData, path: str | Path) -> None:
    """Write ``run`` (after its last finished epoch) to ``path`` atomically."""
    state = checkpoint_state(run, data)
    atomic_write(path, lambda f: torch.save(state, f))


def checkpoint_state(run: Run, data: LongTailData) -> dict:
    """What a checkpoint of ``run`` (after its last finished epoch) on ``data`` holds: tensors and plain values."""
    return {
        "format": FORMAT,
        "method": run.method.to_dict(),
        "optim": run.optim.to_dict(),
        "balancing_switch_epoch": run.switch_epoch,
        "seed": run.seed,
        "precision": run.precision,
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "generator": run.generator.get_state(),
        "device_type": run.device.type,
        "division": {"cluster_of_sample": torch.as_tensor(run.division.cluster_of_sample),
                     "class_of_cluster": torch.as_tensor(run.division.class_of_cluster),
                     "strategy": run.division.strategy},
        "history": run.history,
        "wall_time_s": run.wall_time_s,
        "best": run.best,
        "best_state": run.best_state,
        "deterministic": run.deterministic,
        "world_size": run.world_size,
        "extensions": run.extensions,
        "classes": list(data.classes),
        "data": data.record(),
        "data_spec": data.spec,
    }


def read_checkpoint(path: str | Path) -> dict:
    """The raw checkpoint dictionary, loaded safely (tensors and plain Python values only), with its
    keys and their types checked; a file that is no fbcd_lab checkpoint raises CheckpointError."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    if not path.is_file():
        raise _error(path, "is a directory, not a checkpoint file" if path.is_dir() else "is not a regular file")
    state = safe_load(path)
    check_checkpoint_state(path, state)
    return state


def check_checkpoint_state(path: Path, state) -> None:
    """Raise CheckpointError naming ``path`` unless ``state`` has the keys and types of an fbcd_lab checkpoint."""
    if not isinstance(state, dict):
        kind = "tensor" if torch.is_tensor(state) else type(state).__name__
        raise _error(path, f"holds {'an' if kind[0] in 'aeiou' else 'a'} {kind}, not an fbcd_lab checkpoint")
    if "format" not in state:
        raise _error(path, f"holds a dict without the keys of an fbcd_lab checkpoint (its keys: "
                           f"{_preview(sorted(map(str, state)))})")
    if type(state["format"]) is not int or state["format"] != FORMAT:
        raise _error(path, f"has format {shown(state['format'])}, expected {FORMAT}")
    _check_types(path, state, KEYS, "")
    _check_types(path, state["division"], DIVISION_KEYS, "division.")
    _check_types(path, state["data"], DATA_KEYS, "data.")
    problem = spec_problem(state["data_spec"])
    if problem:
        raise _error(path, f"has a data_spec that rebuilds no data ({problem})")
    _check_progress(path, state)
    classes = state.get("classes")
    if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)
                                    and len(classes) == len(state["data"]["counts"])):
        raise _error(path, "has classes that are not a list of one name per class")


def _check_progress(path: Path, state: dict) -> None:
    """Refuse what the record of the run would carry and the record readers (:mod:`fbcd_lab.readers`)
    refuse, by their rules: a seed or process count out of range, a history longer than the run's
    epochs or empty (a checkpoint is written after each finished epoch), and a NaN or infinity in its
    history, best epoch or wall time, so ``eval`` never writes a record the library cannot read."""
    try:
        check("seed", state["seed"])
        check("world_size", state.get("world_size", 1), PARAMETERS["processes"])
        epochs = check("epochs", state["optim"].get("epochs"))
        check("epochs_done (its history's length)", len(state["history"]), Rule(int, 1, epochs))
        check("wall_time_s", state["wall_time_s"], NON_NEGATIVE)
        where = where_not_finite({name: state.get(name) for name in ("history", "best", "extensions")})
        if where is not None:
            raise ValueError(f"{where} is not a finite number")
    except ValueError as err:
        raise _error(path, f"has invalid settings ({err})") from None


def _error(path: Path, reason: str, kind: str = "checkpoint") -> CheckpointError:
    return CheckpointError(f"{kind} {str(path)!r} {reason}".replace("\r", " ").replace("\n", " "))


def safe_load(path: Path, kind: str = "checkpoint"):
    """``torch.load`` of tensors and plain Python values only; bad bytes raise CheckpointError naming the
    file as ``kind`` (a checkpoint, a model-weights file)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. pickle-protocol warnings about files that are not ours
            return torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as err:  # torch.load raises many kinds on bad bytes; its message suggests an unsafe load
        refused = re.search(r"GLOBAL (\S+)", str(err)) if isinstance(err, pickle.UnpicklingError) else None
        reason = (f"holds Python objects ({refused.group(1)}) that a safe load refuses: not an fbcd_lab {kind}"
                  if refused else f"is truncated or not a {kind} ({path.stat().st_size} bytes)")
        raise _error(path, reason, kind) from None


def _check_types(path: Path, mapping: dict, expected: dict, prefix: str) -> None:
    missing = [prefix + k for k in expected if k not in mapping]
    if missing:
        raise _error(path, f"lacks {', '.join(missing)}: not a complete fbcd_lab checkpoint")
    for key, kind in expected.items():
        if not isinstance(mapping[key], kind):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise _error(path, f"has {prefix}{key} of type {type(mapping[key]).__name__}, expected {names}")


def _preview(names: list) -> str:
    text = ", ".join(repr(n) for n in names[:SHOWN])
    return f"[{text}, ... {len(names)} in all]" if len(names) > SHOWN else f"[{text}]"


def load_checkpoint(path: str | Path, data: LongTailData, device: str | torch.device = "auto") -> Run:
    """Rebuild the run saved at ``path`` for ``data``; refuse (CheckpointError) data it was not trained
    on and checkpoints it cannot use. The global random state is left as it was."""
    path = Path(path)
    return restore_run(path, read_checkpoint(path), data, device)


def at_last_checkpoint(run: Run, data: LongTailData, path: str | Path) -> Run:
    """``run`` as its checkpoint ``path`` holds it (its last finished epoch, marked stopped) when it was
    stopped inside an epoch, else ``run`` itself: a stopped run's record then scores the weights its
    checkpoint resumes, not ones partway through the next epoch. Stopped in its first epoch (no
    checkpoint of it yet) it stays as it is."""
    path = Path(path)
    if not run.mid_epoch or not path.is_file():
        return run
    saved = load_checkpoint(path, data, run.device)
    if len(saved.history) != len(run.history):  # not this run's last epoch: never swap in another run
        return run
    saved.stopped, saved.threads = True, run.threads
    return saved


def restore_run(path: Path, state: dict, data: LongTailData, device: str | torch.device = "auto") -> Run:
    """The run a checked checkpoint ``state`` (read from ``path``, which errors name) holds, for ``data``;
    CheckpointError for data it was not trained on or a state it cannot use."""
    _check_data(path, state, data)
    division = ClassDivision(state["division"]["cluster_of_sample"].numpy(),
                             state["division"]["class_of_cluster"].numpy(), state["division"]["strategy"])
    method, optim = _settings(path, state)
    dev = resolve_device(device)
    with torch.random.fork_rng(devices=[]):  # building the model draws its initial weights
        model, optimizer = model_and_optimizer(data, method, optim, division, dev)
    check_weights(path, "model weights", model.state_dict(), state["model"])
    if state["best_state"] is not None:
        check_weights(path, "best-epoch weights", model.state_dict(), state["best_state"])
    _restore(path, "model weights", model.load_state_dict, state["model"])
    _restore(path, "optimiser state", optimizer.load_state_dict, state["optimizer"])
    generator = torch.Generator()
    _restore(path, "random generator state", generator.set_state, state["generator"])
    precision = _restore(path, "precision", lambda p: resolve_precision(p, dev),
                         state["precision"] if dev.type == state["device_type"] else "auto")
    return Run(method, optim, state["seed"], dev, precision, model, division, optimizer, generator,
               history=list(state["history"]), wall_time_s=state["wall_time_s"], best=state["best"],
               best_state=state["best_state"], deterministic=bool(state.get("deterministic", False)),
               extensions=list(state.get("extensions", [])))


def _check_data(path: Path, state: dict, data: LongTailData) -> None:
    # Class count, class names (checkpoints before they were saved skip that), subset and labels.
    saved = state["data"]
    if len(saved["counts"]) != data.num_classes:
        raise _error(path, f"has {len(saved['counts'])} classes, the data {data.num_classes}")
    classes = state.get("classes")
    ours = list(data.classes)
    if classes is not None and classes != ours:
        first = next(i for i, (a, b) in enumerate(zip(classes, ours)) if a != b)
        raise _error(path, f"has classes {_preview(classes)} that differ from the data's {_preview(ours)} "
                           f"(class {first}: {classes[first]!r} vs {ours[first]!r})")
    differences = _subset_differences(saved, data)
    if differences:
        raise _error(path, "was trained on a different training subset than the data given: " + "; ".join(differences))
    _check_division(path, state["division"], data)


def _subset_differences(saved: dict, data: LongTailData) -> list[str]:
    ours = data.fingerprint
    differences = []
    if saved["counts"] != list(data.counts):
        differences.append(f"counts {_preview(saved['counts'])} vs {_preview(list(data.counts))}")
    if saved["num_train"] != len(data.train):
        differences.append(f"{saved['num_train']} vs {len(data.train)} training images")
    if saved["indices_sha256"] != ours.indices_sha256:
        differences.append(f"indices SHA-256 {saved['indices_sha256'][:12]}... vs {ours.indices_sha256[:12]}... "
                           f"(seed {saved['seed']} vs {ours.seed}, convention {saved['convention']!r} vs "
                           f"{ours.convention!r})")
    return differences


def _check_division(path: Path, saved: dict, data: LongTailData) -> None:
    samples, clusters = saved["cluster_of_sample"], saved["class_of_cluster"]
    if any(t.dtype != torch.int64 or t.dim() != 1 or t.numel() == 0 for t in (samples, clusters)) or not (
            0 <= int(samples.min()) and int(samples.max()) < len(clusters)
            and 0 <= int(clusters.min()) and int(clusters.max()) < data.num_classes):
        raise _error(path, "has a malformed class division (not int64 vectors of valid cluster and class ids)")
    if len(samples) != len(data.train):
        raise _error(path, f"has a class division of {len(samples)} images, the data has {len(data.train)}")
    wrong = int((clusters[samples] != torch.as_tensor(data.train.labels)).sum())
    if wrong:
        raise _error(path, f"has a class division whose labels differ from the data's for {wrong} of "
                           f"{len(samples)} training images")


def _settings(path: Path, state: dict) -> tuple[MethodConfig, OptimConfig]:
    try:
        method = MethodConfig(**state["method"])
        optim = OptimConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in state["optim"].items()})
    except (TypeError, ValueError) as err:
        raise _error(path, f"has invalid settings ({err})") from None
    return method, optim


def check_weights(path: Path, what: str, expected: dict, saved: dict, kind: str = "checkpoint") -> None:
    """Refuse (CheckpointError naming the file at ``path``, a ``kind``) ``saved`` weights that do not fit
    the ``expected`` state dict (keys, tensor shapes) or that are not finite."""
    missing = sorted(expected.keys() - saved.keys())
    unexpected = sorted(saved.keys() - expected.keys(), key=str)
    misfit = [k for k in expected
              if k in saved and not (torch.is_tensor(saved[k]) and saved[k].shape == expected[k].shape)]
    problems = [f"{label} {_preview(keys)}" for label, keys in
                (("missing", missing), ("unexpected", unexpected), ("wrong shape or type", misfit)) if keys]
    if problems:
        raise _error(path, f"has {what} that do not fit the model its settings build ({'; '.join(problems)})", kind)
    not_finite = [k for k, v in saved.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if not_finite:
        raise _error(path, f"has {what} that are not finite (NaN or infinite values in {_preview(not_finite)}): "
                           f"not weights of a trained model", kind)


def _restore(path: Path, what: str, load: Callable, saved):
    try:
        return load(saved)
    except (RuntimeError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise _error(path, f"has an invalid {what}") from None
