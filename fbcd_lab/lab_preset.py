"""How big the notebooks' experiments are, chosen by one environment variable.

``FBCD_PRESET=ci`` (CI and nbval: seconds per notebook), ``binder`` (Binder's small CPU
machines: every notebook in a few minutes on a laptop; the default of ``lab --headless``) or
``full`` (the default of a notebook opened on your own machine). Every notebook reads
:func:`lab_preset`; ``python -m fbcd_lab lab --preset NAME`` sets it for JupyterLab's kernels.

Two more variables change every notebook's runs: ``FBCD_PRECISION`` (default ``fp32``: the
notebooks' models are tiny, and bf16 autocast changes their numbers while buying little; ``bf16``
or ``auto`` as for ``train --precision``) and ``FBCD_SEED``, the first training seed (default 0),
to see the same notebook under other seeds. ``FBCD_RUN_CACHE`` (``on`` or ``off``,
:mod:`fbcd_lab.run_cache`) and its ``FBCD_RUN_CACHE_MB`` are checked with them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from fbcd_lab import run_cache
from fbcd_lab.checks import PARAMETERS, check, check_choice
from fbcd_lab.runtime import PRECISIONS, available_cpus

ENV_VAR = "FBCD_PRESET"
PRECISION_VAR = "FBCD_PRECISION"
SEED_VAR = "FBCD_SEED"


@dataclass(frozen=True)
class LabPreset:
    """Sizes of the notebooks' runs (all on the embedded digits), their precision and first seed."""

    name: str
    epochs: int
    seeds: int
    u_values: tuple[int, ...]
    lab_epochs: int
    tsne: bool
    processes: int = 1
    precision: str = "fp32"
    first_seed: int = 0

    @property
    def training_seeds(self) -> list[int]:
        """The ``seeds`` training seeds from ``first_seed`` on."""
        return list(range(self.first_seed, self.first_seed + self.seeds))


LAB_PRESETS = {
    # ci: notebook 6's sweeps of one-thread runs in two processes where two CPUs are free to use
    "ci": LabPreset("ci", epochs=30, seeds=2, u_values=(1, 2, 5, 10, 20), lab_epochs=15, tsne=False,
                    processes=min(2, available_cpus())),
    "binder": LabPreset("binder", epochs=30, seeds=2, u_values=(1, 2, 5, 10, 20), lab_epochs=30, tsne=True,
                        processes=2),
    "full": LabPreset("full", epochs=60, seeds=5, u_values=(1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20), lab_epochs=30,
                      tsne=True, processes=max(1, min(4, os.cpu_count() or 1))),
}


DEFAULT = "full"
HEADLESS_DEFAULT = "binder"
SUMMARY = {"ci": "seconds per notebook", "binder": "small CPU machines", "full": "larger sweeps, more seeds"}


def lab_preset(name: str | None = None, default: str = DEFAULT) -> LabPreset:
    """The preset named by ``name``, else by $FBCD_PRESET, else ``default`` (``full``), with the
    precision of $FBCD_PRECISION (default fp32) and the first seed of $FBCD_SEED (default 0).
    $FBCD_RUN_CACHE and its $FBCD_RUN_CACHE_MB are checked here too (``run_cache.check_settings``),
    so that ``lab`` refuses a bad value before any notebook runs rather than inside one."""
    name = check_choice(ENV_VAR, name or os.environ.get(ENV_VAR) or default, tuple(LAB_PRESETS))
    run_cache.check_settings()
    precision = check_choice(PRECISION_VAR, os.environ.get(PRECISION_VAR) or "fp32", PRECISIONS)
    seed = os.environ.get(SEED_VAR) or "0"
    if not seed.isdigit():
        raise ValueError(f"{SEED_VAR} must be an integer >= 0, got {seed!r}")
    return replace(LAB_PRESETS[name], precision=precision, first_seed=check(SEED_VAR, int(seed), PARAMETERS["seed"]))
