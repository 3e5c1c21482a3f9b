"""Device and numeric precision choices, and the library versions a results record names."""

from __future__ import annotations

import functools
import math
import os
import platform
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from fbcd_lab.checks import check_choice

PRECISIONS = ("auto", "bf16", "fp32")
# Environment variables that make ATen and oneDNN pick AVX2 kernels, as on an x86 CPU without
# AVX-512 or AMX: how the notebook checks and their benchmarks stand in for another CPU.
AVX2_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; asking for absent CUDA is an error."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).split(":")[0] not in ("cpu", "cuda"):
        raise ValueError(f"device must be one of auto, cpu, cuda; got {str(device)!r}")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available; use 'cpu' or 'auto'")
    return device


def cpu_has_amx_bf16() -> bool:
    """Whether this CPU has AMX bf16 tiles (Linux only), where bf16 convolutions are ~2x faster."""
    try:
        return "amx_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def cpu_model() -> str:
    """The CPU's model name (Linux), else the platform's processor string: benchmarks name their machine."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_identity() -> dict:
    """What decides a CPU run's last digits besides threads: torch's kernel capability (AVX2,
    AVX512, ...; ``ATEN_CPU_CAPABILITY`` lowers it), the CPU's model and its AMX."""
    return {"capability": torch.backends.cpu.get_cpu_capability(), "cpu": cpu_model(), "amx_bf16": cpu_has_amx_bf16()}


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast pays on ``device``: a GPU with native bf16 (Ampere and newer), or a
    CPU with AMX bf16 tiles."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return cpu_has_amx_bf16()


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto``: bf16 autocast where :func:`bf16_supported`, else fp32. Weights stay fp32.

    An explicit ``bf16`` on a GPU without native bf16 is refused (it would be emulated, slowly)."""
    check_choice("precision", precision, PRECISIONS)
    if precision == "bf16" and device.type == "cuda" and not bf16_supported(device):
        raise ValueError(f"precision 'bf16' is not supported natively by {torch.cuda.get_device_name(device)}; "
                         f"use 'fp32' or 'auto'")
    if precision != "auto":
        return precision
    return "bf16" if bf16_supported(device) else "fp32"


@contextmanager
def deterministic_mode(deterministic: bool, device: torch.device) -> Iterator[None]:
    """Within the block: deterministic kernels (``torch.use_deterministic_algorithms``, no cuDNN
    autotuning) when asked, else cuDNN picks the fastest convolution per shape on CUDA. The
    previous global settings come back afterwards. The CPU is deterministic either way."""
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
              torch.backends.cudnn.deterministic)
    if deterministic and device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = device.type == "cuda" and not deterministic
    torch.backends.cudnn.deterministic = deterministic
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = before[1:]


SOURCE_ROOT = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=None)
def code_version(root: Path = SOURCE_ROOT) -> dict:
    """The code that made a run: the package version, the git commit of ``root`` (None outside a
    git checkout, e.g. an installed wheel) and whether tracked files differed from it (None when
    unknown), so a record says which code trained it."""
    from fbcd_lab import __version__

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD") if (root / ".git").exists() else None
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"fbcd_lab": __version__, "commit": commit, "modified": None if status is None else bool(status)}


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that decide the numbers of a run."""
    import numpy
    import sklearn
    import torchvision

    from fbcd_lab import __version__

    return {"fbcd_lab": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": numpy.__version__, "scikit-learn": sklearn.__version__}


def available_cpus() -> int:
    """CPUs this process may really use: its affinity, capped by a cgroup CPU quota (containers and
    Binder see the host's cores but get a share of them)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cpus


# Below this many floating-point operations per training step (about a small CNN on 8x8 digits at
# batch 64), a second thread gains little on an idle machine and loses several-fold when other
# processes compete for the cores (OpenMP threads wait on each other); see BENCHMARKS.md.
SMALL_STEP_FLOPS = 2e9
DEFAULT_THREADS = torch.get_num_threads()


def step_flops(model: torch.nn.Module, sample: torch.Tensor, batch_size: int) -> float:
    """Floating-point operations of one training step (forward and backward, about 3x the forward)
    of ``batch_size`` inputs like ``sample`` (C, H, W), counted by PyTorch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(sample[None])
    finally:
        model.train(was_training)
    return 3.0 * counter.get_total_flops() * batch_size


def cpu_threads_for(flops_per_step: float) -> int:
    """Threads for CPU work of this size: one for small steps, else PyTorch's default capped by the
    CPUs this process may use."""
    if flops_per_step < SMALL_STEP_FLOPS:
        return 1
    return max(1, min(DEFAULT_THREADS, available_cpus()))


@contextmanager
def cpu_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads, then restore the previous setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
