"""Execution time of every notebook, per preset, with the run cache off, empty and warm.

Executes the notebooks in order (as nbval and ``lab --headless`` do), per preset in up to three
passes: ``off`` (``FBCD_RUN_CACHE=off``: every run trained), ``cold`` (a fresh, empty run cache:
what a first run in a fresh clone costs; later notebooks still load the runs earlier ones trained)
and ``warm`` (again, with the cache the cold pass filled). A time includes starting the kernel.
Prints a table per preset and writes JSON naming the CPU (model, AVX-512 and AMX flags), the cores
this process may use and the load average before and after.

    python bench/notebook_times.py [--presets ci binder] [--passes off cold warm] [--notebooks 05 06 ...]
        [--out bench/results/notebook_times.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from fbcd_lab.notebooks import execute, notebook_sources
from fbcd_lab.run_cache import DIR_VAR, ENABLED_VAR
from fbcd_lab.runtime import available_cpus, cpu_model, library_versions

ROOT = Path(__file__).resolve().parents[1]
PASSES = ("off", "cold", "warm")
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_kind() -> dict:
    """The CPU's model, which of :data:`FLAGS` it has, and the cores this process may use."""
    try:
        flags = next(line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("flags"))
    except (OSError, StopIteration):
        flags = []
    return {"model": cpu_model(), "flags": [f for f in FLAGS if f in flags], "cpus": available_cpus()}


def time_notebooks(sources: list[Path], preset: str, cache: Path, on: bool) -> dict[str, float]:
    """Seconds to execute each notebook of ``sources`` in order under ``preset``, sharing the run
    cache ``cache`` (``on``) or with the cache off."""
    times = {}
    for py in sources:
        start = time.perf_counter()
        execute(py, preset, env={DIR_VAR: str(cache), ENABLED_VAR: "on" if on else "off"})
        times[py.stem] = time.perf_counter() - start
        print(f"  {preset} {py.stem}: {times[py.stem]:.1f} s", flush=True)
    return times


def table(preset: str, passes: dict[str, dict[str, float]]) -> str:
    """The markdown table of one preset's times, a column per pass."""
    lines = [f"| notebook ({preset}) |" + "".join(f" cache {p} (s) |" for p in passes),
             "| --- |" + " ---: |" * len(passes)]
    for name in next(iter(passes.values())):
        lines.append(f"| {name} |" + "".join(f" {times[name]:.1f} |" for times in passes.values()))
    lines.append("| **total** |" + "".join(f" **{sum(times.values()):.1f}** |" for times in passes.values()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["ci", "binder"], choices=["ci", "binder", "full"])
    parser.add_argument("--notebooks", nargs="+", help="numbers or names of the notebooks to time (default: all)")
    parser.add_argument("--passes", nargs="+", default=["cold", "warm"], choices=PASSES,
                        help="off: cache off; cold: a fresh cache; warm: the cache the cold pass filled")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "notebook_times.json")
    args = parser.parse_args()
    sources = [py for py in notebook_sources()
               if not args.notebooks or any(py.stem.startswith(n) or py.stem == n for n in args.notebooks)]
    if not sources:
        parser.error(f"--notebooks {' '.join(args.notebooks)} names no notebook")
    for name in ("FBCD_RESULTS", "FBCD_SEED", "FBCD_PRECISION", "FBCD_CLAIMS_LOG"):
        os.environ.pop(name, None)
    result = {"cpu": cpu_kind(), "load_average_before": os.getloadavg(), "versions": library_versions(),
              "date": time.strftime("%Y-%m-%d"), "presets": {}}
    for preset in args.presets:
        passes = {}
        with tempfile.TemporaryDirectory(prefix="fbcd-run-cache-") as cache:
            for name in (p for p in PASSES if p in args.passes):  # warm after cold
                print(f"{preset}, run cache {name}:", flush=True)
                passes[name] = time_notebooks(sources, preset, Path(cache), on=name != "off")
        result["presets"][preset] = {f"{name}_s": times for name, times in passes.items()}
        print(table(preset, passes), flush=True)
    result["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"CPU: {result['cpu']}; load average before {result['load_average_before']}, "
          f"after {result['load_average_after']}\nwrote {args.out}")


if __name__ == "__main__":
    main()
