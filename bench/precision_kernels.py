"""How long the notebooks' typical run takes in fp32 and bf16 under the native and AVX2-held kernels.

Why: CI checks the notebooks on "another CPU" (``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2``)
and in bf16. Held to AVX2, oneDNN has no native bf16 convolution; this measures what that costs,
which decides whether CI can check both perturbations in one run. Each cell is a fresh process
(the variables act when torch loads) training FBH + CDH on the digits (ratio 100, small CNN,
``--epochs`` epochs, seed 0). Prints a table and writes JSON. Run it on an otherwise idle machine.

    python bench/precision_kernels.py [--epochs 5] [--repeats 3] [--out bench/results/precision_kernels.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from fbcd_lab.runtime import AVX2_KERNELS, cpu_has_amx_bf16, cpu_model, library_versions

ROOT = Path(__file__).resolve().parents[1]
KERNELS = {"native": {}, "ATen AVX2": {"ATEN_CPU_CAPABILITY": "avx2"}, "oneDNN AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
           "both AVX2": AVX2_KERNELS}
ONE_RUN = """
import json, sys, time, torch
from fbcd_lab.config import MethodConfig, preset
from fbcd_lab.data import build_long_tailed
from fbcd_lab.training import train
data = build_long_tailed("digits", 100)
start = time.perf_counter()
train(data, MethodConfig(method="fbcd", backbone="small_cnn"), preset("digits", epochs=int(sys.argv[1])), seed=0,
      precision=sys.argv[2], progress=False)
print(json.dumps({"seconds": time.perf_counter() - start, "capability": torch.backends.cpu.get_cpu_capability()}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "precision_kernels.json")
    args = parser.parse_args()
    rows = []
    for kernels, variables in KERNELS.items():
        for precision in ("fp32", "bf16"):
            runs = [json.loads(subprocess.run([sys.executable, "-c", ONE_RUN, str(args.epochs), precision],
                                              env={**os.environ, **variables}, capture_output=True, text=True,
                                              check=True).stdout) for _ in range(args.repeats)]
            rows.append({"kernels": kernels, "variables": variables, "precision": precision,
                         "capability": runs[0]["capability"], "seconds": sorted(r["seconds"] for r in runs)})
            print(f"{kernels:<12} {precision:<5} ATen {rows[-1]['capability']:<7} median "
                  f"{rows[-1]['seconds'][len(runs) // 2]:.2f} s over {args.repeats} runs of {args.epochs} epochs",
                  flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpu": cpu_model(), "amx_bf16": cpu_has_amx_bf16()}
    args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "machine": machine, "versions": library_versions(),
                                    "epochs": args.epochs, "rows": rows}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
