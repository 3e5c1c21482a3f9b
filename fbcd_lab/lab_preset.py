"""How big the notebooks' experiments are, chosen by one environment variable.

``FBCD_PRESET=ci`` (CI and nbval: seconds per notebook), ``binder`` (Binder's small CPU
machines: every notebook in a few minutes on a laptop; the default of ``lab --headless``) or
``full`` (the default of a notebook opened on your own machine). Every notebook reads
:func:`lab_preset`; ``python -m fbcd_lab lab --preset NAME`` sets it for JupyterLab's kernels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

ENV_VAR = "FBCD_PRESET"


@dataclass(frozen=True)
class LabPreset:
    """Sizes of the notebooks' runs (all on the embedded digits)."""

    name: str
    epochs: int
    seeds: int
    u_values: tuple[int, ...]
    lab_epochs: int
    tsne: bool


LAB_PRESETS = {
    "ci": LabPreset("ci", epochs=30, seeds=2, u_values=(1, 2, 5, 10, 20), lab_epochs=15, tsne=False),
    "binder": LabPreset("binder", epochs=30, seeds=3, u_values=(1, 2, 3, 5, 10, 15, 20), lab_epochs=30, tsne=True),
    "full": LabPreset("full", epochs=60, seeds=5, u_values=(1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20), lab_epochs=30,
                      tsne=True),
}


DEFAULT = "full"
HEADLESS_DEFAULT = "binder"
SUMMARY = {"ci": "seconds per notebook", "binder": "small CPU machines", "full": "larger sweeps, more seeds"}


def lab_preset(name: str | None = None, default: str = DEFAULT) -> LabPreset:
    """The preset named by ``name``, else by $FBCD_PRESET, else ``default`` (``full``)."""
    name = name or os.environ.get(ENV_VAR) or default
    if name not in LAB_PRESETS:
        raise ValueError(f"{ENV_VAR} must be one of {tuple(LAB_PRESETS)}, got {name!r}")
    return LAB_PRESETS[name]
