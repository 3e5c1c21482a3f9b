"""Where one ``fit`` of the training lab's default run spends its time, by operator (torch.profiler).

The lab's default run (digits ratio 100 with its validation split, FBH + CDH, 30 epochs, one thread,
fp32), trained once to warm up, then once under the profiler: prints the ``fit`` time, the operator
time profiled, the share of the convolutions (forward and backward) and the top operators, and writes
them as JSON. It bounds the retrain from below: no cut outside the model goes under the convolutions'
time. Run it on an idle machine.

    python bench/lab_profile.py [--out bench/results/lab_profile.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from torch.profiler import ProfilerActivity, profile

from fbcd_lab.config import DEFAULT_BACKBONE, MethodConfig
from fbcd_lab.config import preset as optim_preset
from fbcd_lab.runtime import cpu_has_amx_bf16, cpu_model, library_versions
from fbcd_lab.training import fit, start_run
from lab_backbones import LAB, lab_data  # bench/, on the path when run as a script

ROOT = Path(__file__).resolve().parents[1]
CONVOLUTIONS = ("aten::mkldnn_convolution", "aten::convolution_backward")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "lab_profile.json")
    args = parser.parse_args()
    data = lab_data()
    config, optim = MethodConfig(method="fbcd", backbone=DEFAULT_BACKBONE[LAB]), optim_preset(LAB)
    fit(start_run(data, config, optim, seed=0, precision="fp32"), data, progress=False, threads=1)  # warm-up
    run = start_run(data, config, optim, seed=0, precision="fp32")
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fit(run, data, progress=False, threads=1)
    fit_s = time.perf_counter() - start
    ops = sorted(((e.key, e.self_cpu_time_total / 1e6, e.count) for e in prof.key_averages()),
                 key=lambda op: -op[1])
    total = sum(seconds for _, seconds, _ in ops)
    convolutions = sum(seconds for name, seconds, _ in ops if name in CONVOLUTIONS)
    print(f"fit {fit_s:.2f} s under the profiler; operators {total:.2f} s, of which convolutions {convolutions:.2f} s")
    print(f"{'operator':<48} {'self s':>7} {'calls':>6}")
    for name, seconds, calls in ops[:12]:
        print(f"{name[:48]:<48} {seconds:>7.3f} {calls:>6}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cpu": cpu_model(), "amx_bf16": cpu_has_amx_bf16(), "date": time.strftime("%Y-%m-%d"),
                                    "versions": library_versions(), "fit_s": fit_s, "operators_s": total,
                                    "convolutions_s": convolutions,
                                    "top": [{"operator": n, "self_s": s, "calls": c} for n, s, c in ops[:20]]}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
