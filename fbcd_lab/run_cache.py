"""A cache on disk of finished training runs, so that a notebook loads the model an earlier one trained.

An entry is keyed by everything that decides a trained model: the method and optimiser settings,
the seed, the resolved device and precision, the fit options that change training, a digest of the
data (every image, label, class count and augmentation setting of the training, test and
validation sets), the CPU kernels PyTorch and oneDNN use (torch's detected capability, the CPU,
``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA`` and kin), the library versions and a digest of
fbcd_lab's own source files. A lookup of any other setting misses; nothing stale is returned.
Only runs on images held in memory and in one process are cached; an entry that cannot be read is
a miss with a warning (and is removed), never an error.

Three environment variables: ``FBCD_RUN_CACHE`` (``on``, the default, or ``off``),
``FBCD_RUN_CACHE_DIR`` (default ``$XDG_CACHE_HOME/fbcd_lab/runs``, else ``~/.cache/fbcd_lab/runs``)
and ``FBCD_RUN_CACHE_MB`` (its size budget, default 512: the least recently used entries go first).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
import warnings
import weakref
from pathlib import Path

import torch

from fbcd_lab.checkpoints import (
    CheckpointError, TEMPORARY, atomic_write, check_checkpoint_state, checkpoint_state, restore_run, safe_load,
)
from fbcd_lab.config import MethodConfig, OptimConfig
from fbcd_lab.data.datasets import LongTailData, spec_problem
from fbcd_lab.data.images import TensorImages
from fbcd_lab.run import Run
from fbcd_lab.runtime import (
    DEFAULT_THREADS, SOURCE_ROOT, available_cpus, cpu_identity, library_versions,
)

ENABLED_VAR, DIR_VAR, BUDGET_VAR = "FBCD_RUN_CACHE", "FBCD_RUN_CACHE_DIR", "FBCD_RUN_CACHE_MB"
DEFAULT_BUDGET_MB = 512
MAX_BUDGET_MB = 2**40  # an exbibyte: any disk's size, far below where MiB to bytes overflows
FORMAT = 1
SUFFIX = ".pt"
KERNEL_VARS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ONEDNN_DEFAULT_FPMATH_MODE",
               "MKL_CBWR")
TRAINING_OPTIONS = {"eval_every": 0, "num_workers": 0, "threads": None, "sync_bn": False}  # fit's, with its defaults
STALE_TEMPORARY_S = 3600
_ON, _OFF = ("on", "1", "yes", "true"), ("off", "0", "no", "false")
_data_digests: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def enabled() -> bool:
    """Whether ``FBCD_RUN_CACHE`` leaves the cache on (the default); another value than on/off is an error."""
    value = os.environ.get(ENABLED_VAR, "on").strip().lower()
    if value not in _ON + _OFF:
        raise ValueError(f"{ENABLED_VAR} must be 'on' or 'off', got {os.environ[ENABLED_VAR]!r}")
    return value in _ON


def check_settings() -> bool:
    """Whether the cache is on, ``FBCD_RUN_CACHE`` and (with it on) ``FBCD_RUN_CACHE_MB`` checked: a
    bad value is a ValueError naming its variable, which ``lab`` and ``study`` raise before any work."""
    on = enabled()
    if on:
        budget_bytes()
    return on


def cache_dir() -> Path:
    """Where entries live: ``FBCD_RUN_CACHE_DIR``, else the user's cache folder."""
    if os.environ.get(DIR_VAR):
        return Path(os.environ[DIR_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fbcd_lab" / "runs"


def budget_bytes() -> int:
    """The cache's size budget from ``FBCD_RUN_CACHE_MB`` (MiB, default 512); another value than a
    number in [0, :data:`MAX_BUDGET_MB`] is an error (``inf`` and ``1e308`` have no size in bytes)."""
    text = os.environ.get(BUDGET_VAR) or str(DEFAULT_BUDGET_MB)
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = -1.0
    if not 0 <= megabytes <= MAX_BUDGET_MB:
        raise ValueError(f"{BUDGET_VAR} must be a number of MiB in [0, 2**40], got {text!r}")
    return int(megabytes * 2**20)


def run_key(data: LongTailData, method: MethodConfig, optim: OptimConfig, seed: int, device: torch.device,
            precision: str, options: dict) -> dict | None:
    """The key of a run of these settings (``device`` and ``precision`` resolved; ``options``: fit's
    keyword arguments), or None where the cache is off or does not apply: callbacks, a stop flag or a
    checkpoint (they act while training), streamed images, several processes, data without a spec."""
    from fbcd_lab import distributed

    if (not enabled() or any(options.get(k) for k in ("callbacks", "should_stop", "checkpoint"))
            or distributed.world_size() > 1 or spec_problem(data.spec) is not None
            or not all(isinstance(s, TensorImages) for s in (data.train, data.test, *([data.val] * bool(data.val))))):
        return None
    return {"method": method.to_dict(), "optim": optim.to_dict(), "seed": seed, "device": device_identity(device),
            "precision": precision, "options": {k: options.get(k, default) for k, default in TRAINING_OPTIONS.items()},
            "auto_threads": [DEFAULT_THREADS, available_cpus()],
            "data": data_digest(data), "kernels": kernel_identity(), "versions": library_versions(),
            "source": source_digest()}


def lookup(data: LongTailData, method: MethodConfig, optim: OptimConfig, seed: int, device: torch.device,
           precision: str, options: dict) -> tuple[dict | None, Run | None]:
    """:func:`run_key` of these settings and the run :func:`load` finds under it (None where the cache
    does not apply or holds no such run). A bad ``FBCD_RUN_CACHE_MB`` is refused here, before the
    run trains, not warned about once it is done."""
    key = run_key(data, method, optim, seed, device, precision, options)
    if key is not None:
        budget_bytes()
    return key, None if key is None else load(key, data, device)


def device_identity(device: torch.device) -> dict:
    """The device as it decides numbers: its type, and for CUDA the card and the CUDA and cuDNN versions."""
    if device.type != "cuda":
        return {"type": device.type}
    return {"type": "cuda", "name": torch.cuda.get_device_name(device), "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version()}


def kernel_identity() -> dict:
    """The CPU kernels in use (:func:`~fbcd_lab.runtime.cpu_identity`), the variables that steer ATen,
    oneDNN and MKL, and the global numeric settings."""
    return {**cpu_identity(), "variables": {name: os.environ.get(name) for name in KERNEL_VARS},
            "mkldnn": torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
            "matmul_precision": torch.get_float32_matmul_precision(), "dtype": str(torch.get_default_dtype())}


def data_digest(data: LongTailData) -> str:
    """SHA-256 of everything in ``data`` that training or its records read (computed once per object)."""
    if data not in _data_digests:
        h = hashlib.sha256(json.dumps({"name": data.name, "classes": list(data.classes), "counts": list(data.counts),
                                       "augment": repr(data.augment), "in_channels": data.in_channels,
                                       "image_size": data.image_size, "ratio": data.imbalance_ratio,
                                       "profile": data.profile, "spec": data.spec,
                                       "fingerprint": data.fingerprint.to_dict()}, sort_keys=True).encode())
        for part in (data.train, data.test, data.val):
            if part is not None:
                h.update(str((tuple(part.images.shape), str(part.images.dtype), part.labels.dtype.str)).encode())
                h.update(part.images.contiguous().numpy().tobytes())
                h.update(part.labels.tobytes())
        _data_digests[data] = h.hexdigest()
    return _data_digests[data]


@functools.lru_cache(maxsize=None)
def source_digest(root: Path = SOURCE_ROOT / "fbcd_lab") -> str:
    """SHA-256 of the library's source files under ``root`` (paths and contents), once per process."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".json") and "__pycache__" not in p.parts):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def entry_path(key: dict) -> Path:
    """The file that holds the run of ``key``."""
    name = hashlib.sha256(json.dumps(_plain(key), sort_keys=True).encode()).hexdigest()
    return cache_dir() / f"{name}{SUFFIX}"


def load(key: dict, data: LongTailData, device: torch.device) -> Run | None:
    """The finished run stored under ``key`` on ``data`` (its weights, optimiser, generator and history;
    torch's global random state set as training left it), or None. An unreadable entry is removed
    with a warning."""
    path = entry_path(key)
    try:
        entry = safe_load(path, "run cache entry")
        if not (isinstance(entry, dict) and entry.get("format") == FORMAT and isinstance(entry.get("rng"), torch.Tensor)
                and isinstance(entry.get("threads"), int)):
            raise CheckpointError(f"run cache entry {str(path)!r} is not an entry of this format")
        if entry.get("key") != _plain(key):
            raise CheckpointError(f"run cache entry {str(path)!r} holds another key")
        check_checkpoint_state(path, entry["run"])
        run = restore_run(path, entry["run"], data, device)
        torch.set_rng_state(entry["rng"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RuntimeError, TypeError, KeyError) as err:
        warnings.warn(f"run cache: {err}; training instead", stacklevel=3)
        path.unlink(missing_ok=True)
        return None
    run.threads = entry["threads"]
    _touch(path)
    return run


def store(key: dict, run: Run, data: LongTailData) -> None:
    """Keep a finished ``run`` under ``key`` (a stopped or diverged one is not kept), then evict the least
    recently used entries beyond the budget. A write that fails warns and keeps nothing."""
    if run.status != "finished":
        return
    entry = {"format": FORMAT, "key": _plain(key), "run": checkpoint_state(run, data),
             "rng": torch.get_rng_state(), "threads": run.threads or torch.get_num_threads()}
    try:
        atomic_write(entry_path(key), lambda f: torch.save(entry, f))
        evict(budget_bytes())
    except (OSError, RuntimeError, ValueError) as err:
        warnings.warn(f"run cache: could not keep the run ({err})", stacklevel=3)


def evict(budget: int, folder: Path | None = None) -> list[Path]:
    """Remove the least recently used entries of ``folder`` (default: the cache) until they fit in
    ``budget`` bytes, and temporaries that killed writes left an hour ago or more; the removed entries."""
    folder = folder or cache_dir()
    entries, now = [], time.time()
    for path in folder.iterdir() if folder.is_dir() else ():
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        if path.suffix == SUFFIX:
            entries.append((stat.st_mtime, stat.st_size, path))
        elif TEMPORARY.fullmatch(path.name) and now - stat.st_mtime > STALE_TEMPORARY_S:
            path.unlink(missing_ok=True)
    total, removed = sum(size for _, size, _ in entries), []
    for _, size, path in sorted(entries):
        if total <= budget:
            break
        path.unlink(missing_ok=True)
        total -= size
        removed.append(path)
    return removed


def _plain(key: dict) -> dict:
    """``key`` as JSON reads it back (values JSON cannot hold as text): what an entry stores and is hashed by."""
    return json.loads(json.dumps(key, default=str))


def _touch(path: Path) -> None:
    """Mark ``path`` as just used (the LRU order is by modification time)."""
    try:
        os.utime(path)
    except OSError:
        pass
