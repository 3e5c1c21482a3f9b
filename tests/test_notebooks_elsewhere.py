"""The notebook checks hold on other machines, not only on the one that made the committed outputs.

nbval runs every notebook twice more, in two other numeric environments:
- another CPU: ATen and oneDNN held to AVX2 kernels, as on a CPU without AVX-512 or AMX (float
  results then differ in their last bits, and training amplifies them into visible digits);
- bf16: ``FBCD_PRECISION=bf16``, what ``precision="auto"`` picks on a CPU with AMX.
The first also runs as in a clone with no ``shared/`` beside it (``FBCD_CIFAR10_JPEG`` names a
folder that does not exist), so no stored output can come to depend on the CIFAR-10 images.
Training outputs are not compared (``nbval-ignore-output``); the claims asserted in their place
must hold. The two are apart because together they make oneDNN's bf16 convolutions 5x slower
(4.0 s against 0.6-0.8 s for a 5-epoch digits run, ``bench/precision_kernels.py``), past CI's time
budget; ``bench/notebook_claims.py`` measures the claims under both at once.

The notebooks' small models train on one thread, so a run of the suite in one process leaves a core
idle: when the test is selected, ``tests/conftest.py`` starts both runs as the session starts (at
low priority, beside the rest of the suite) and runs the test last, when it only waits for them.
Under pytest-xdist (the default, ``-n auto``) it moves this file first instead: one worker starts
the runs and waits while the others take the rest of the suite. The runs themselves use one
process each (``-n 0``), as measured. Each run has a
run cache of its own (:mod:`fbcd_lab.run_cache`), empty at the start; their keys differ anyway (the
kernels, the precision).
"""

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fbcd_lab.data.sources import CIFAR10_JPEG_VAR
from fbcd_lab.run_cache import DIR_VAR
from fbcd_lab.runtime import AVX2_KERNELS

ROOT = Path(__file__).resolve().parents[1]
NO_DATA = {CIFAR10_JPEG_VAR: str(ROOT / "no-such-folder" / "cifar10-jpeg")}
ENVIRONMENTS = {"another CPU": {**AVX2_KERNELS, **NO_DATA}, "bf16": {"FBCD_PRECISION": "bf16"}}
TEST_NAME = "test_notebook_checks_pass_on_another_cpu_and_in_bf16"
NOT_X86 = platform.machine() not in ("x86_64", "AMD64")
_running: dict[str, tuple[subprocess.Popen, Path, Path]] = {}

pytestmark = pytest.mark.skipif(NOT_X86, reason="the AVX2 kernels stand for another x86 CPU; this is not an x86 "
                                                "machine")


def start_runs() -> None:
    """Start nbval over the notebooks in each environment, niced, output to a temporary file (once)."""
    if _running or NOT_X86:
        return
    command = [sys.executable, "-m", "pytest", "notebooks", "-q", "--no-header", "-p", "no:cacheprovider", "-n", "0"]
    for name, variables in ENVIRONMENTS.items():
        log = Path(tempfile.mkstemp(prefix="fbcd-nbval-", suffix=".log")[1])
        env = run_environment(variables)
        with log.open("w") as out:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       preexec_fn=lambda: os.nice(5))
        _running[name] = (process, log, Path(env[DIR_VAR]))


def run_environment(variables: dict[str, str]) -> dict[str, str]:
    """The environment of one run: this process's, ``variables``, and a fresh, empty run cache of its own."""
    return {**os.environ, **variables, DIR_VAR: tempfile.mkdtemp(prefix="fbcd-run-cache-")}


def stop_runs() -> None:
    """Kill runs still going (an interrupted or failed session) and remove their logs."""
    for process, log, cache in _running.values():
        if process.poll() is None:
            process.kill()
            process.wait()
        log.unlink(missing_ok=True)
        shutil.rmtree(cache, ignore_errors=True)
    _running.clear()


def test_the_variables_change_the_kernels_and_the_precision():
    seen = {}
    for name, variables in ENVIRONMENTS.items():
        seen[name] = subprocess.run(
            [sys.executable, "-c", "import torch; from fbcd_lab.lab_preset import lab_preset; "
             "print(torch.backends.cpu.get_cpu_capability(), lab_preset('ci').precision)"],
            env={**os.environ, **variables}, capture_output=True, text=True, check=True).stdout.split()
    assert seen["another CPU"] == ["AVX2", "fp32"] and seen["bf16"][1] == "bf16"


def test_each_run_starts_with_an_empty_run_cache_of_its_own():
    caches = [Path(run_environment(variables)[DIR_VAR]) for variables in ENVIRONMENTS.values()]
    try:
        assert len(set(caches)) == len(ENVIRONMENTS) and all(c.is_dir() and not any(c.iterdir()) for c in caches)
        assert str(os.environ.get(DIR_VAR)) not in map(str, caches)
    finally:
        for cache in caches:
            shutil.rmtree(cache, ignore_errors=True)


@pytest.mark.slow
def test_notebook_checks_pass_on_another_cpu_and_in_bf16():
    start_runs()  # already started with the session when the whole suite runs in one process
    failed = {}
    for name, (process, log, _) in _running.items():
        process.wait(timeout=3600)  # a hang detector: CI itself stops at 90 minutes
        if process.returncode != 0:
            failed[name] = f"nbval with {ENVIRONMENTS[name]} (status {process.returncode}):\n{log.read_text()[-6000:]}"
    assert not failed, "\n\n".join(failed.values())
