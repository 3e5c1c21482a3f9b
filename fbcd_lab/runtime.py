"""Device and numeric precision choices, and the library versions a results record names."""

from __future__ import annotations

import platform
from pathlib import Path

import torch

PRECISIONS = ("auto", "bf16", "fp32")


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


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto``: bf16 autocast on CUDA and on CPUs with AMX bf16, else fp32. Weights stay fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    return "bf16" if device.type == "cuda" or cpu_has_amx_bf16() else "fp32"


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that decide the numbers of a run."""
    import numpy
    import sklearn
    import torchvision

    from fbcd_lab import __version__

    return {"fbcd_lab": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": numpy.__version__, "scikit-learn": sklearn.__version__}
