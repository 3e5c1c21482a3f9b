"""The margins of the notebooks' claims over seeds, precisions and CPU instruction sets.

The notebooks assert what their text says about trained models (``fbcd_lab.claims.claim``) instead
of comparing training digits, which differ between machines. A bound is only as good as the spread
it was chosen from: this executes the training notebooks under every configuration asked for
(first training seed x precision x instruction set: ``native``, or ``avx2``, which sets
``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2`` so that ATen and oneDNN pick AVX2 kernels, as
on an older CPU), logs every claim's value (``FBCD_CLAIMS_LOG``) and prints, per claim, its bound,
the values' range and the smallest margin. Failing claims are logged, not raised, so every claim
of every configuration is measured. JSON is written after every notebook; configurations already
in it are skipped, so an interrupted run continues.

    python bench/notebook_claims.py [--seeds 0 2 4] [--precisions fp32 bf16] [--isas native avx2]
        [--notebooks 02 04 ...] [--out bench/results/notebook_claims.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from fbcd_lab.claims import LOG_VAR
from fbcd_lab.lab_preset import PRECISION_VAR, SEED_VAR
from fbcd_lab.notebooks import execute, notebook_sources
from fbcd_lab.runtime import AVX2_KERNELS, cpu_has_amx_bf16, cpu_model, library_versions

ROOT = Path(__file__).resolve().parents[1]
ISAS = {"native": {}, "avx2": AVX2_KERNELS}
TRAINING_NOTEBOOKS = ("02", "04", "05", "06", "07", "08", "09", "10")


def measure(notebook: Path, seed: int, precision: str, isa: str) -> dict:
    """Execute ``notebook`` under the CI preset with this configuration; its claims and wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "claims.jsonl"
        start = time.perf_counter()
        execute(notebook, "ci", env={**ISAS[isa], PRECISION_VAR: precision, SEED_VAR: str(seed), LOG_VAR: str(log)})
        claims = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    return {"seconds": round(time.perf_counter() - start, 1), "claims": claims}


def margin(entry: dict) -> float:
    """How far the value lies inside its bounds (negative: outside)."""
    sides = [entry["value"] - entry["above"]] if entry["above"] is not None else []
    sides += [entry["below"] - entry["value"]] if entry["below"] is not None else []
    return min(sides)


def summary(results: dict) -> list[dict]:
    """Per notebook and claim: its bounds, the range of its values and the smallest margin over configurations."""
    rows: dict = {}
    for config, notebooks in results.items():
        for name, measured in notebooks.items():
            for entry in measured["claims"]:
                row = rows.setdefault((name, entry["claim"]), {"notebook": name, "claim": entry["claim"],
                                                               "above": entry["above"], "below": entry["below"],
                                                               "values": {}})
                row["values"][config] = entry["value"]
    for row in rows.values():
        values = list(row["values"].values())
        row.update(min=min(values), max=max(values), configs=len(values),
                   min_margin=min(margin({**row, "value": v}) for v in values),
                   failed=sorted(c for c, v in row["values"].items() if margin({**row, "value": v}) <= 0))
    return list(rows.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--precisions", nargs="+", choices=("fp32", "bf16"), default=["fp32", "bf16"])
    parser.add_argument("--isas", nargs="+", choices=tuple(ISAS), default=list(ISAS))
    parser.add_argument("--notebooks", nargs="+", default=list(TRAINING_NOTEBOOKS), help="number prefixes")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "notebook_claims.json")
    args = parser.parse_args()
    saved = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results = saved.get("results", {})
    sources = [p for p in notebook_sources() if p.name[:2] in args.notebooks]
    for seed in args.seeds:
        for precision in args.precisions:
            for isa in args.isas:
                config = f"seed {seed}, {precision}, {isa}"
                for notebook in sources:
                    if notebook.stem in results.get(config, {}):
                        continue
                    print(f"{config}: {notebook.stem} ...", flush=True)
                    results.setdefault(config, {})[notebook.stem] = measure(notebook, seed, precision, isa)
                    rows = summary(results)
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    args.out.write_text(json.dumps({
                        "machine": {"cpu": cpu_model(), "amx_bf16": cpu_has_amx_bf16(), "cpus": os.cpu_count()},
                        "versions": library_versions(), "date": time.strftime("%Y-%m-%d"),
                        "results": results, "summary": rows}, indent=1) + "\n")
    print(f"{'notebook':<32} {'claim':<66} {'bound':>12} {'min':>8} {'max':>8} {'margin':>8} {'n':>3}  failed in")
    for row in summary(results):
        bound = " ".join(f"{w}{b:g}" for w, b in ((">", row["above"]), ("<", row["below"])) if b is not None)
        print(f"{row['notebook']:<32} {row['claim'][:66]:<66} {bound:>12} {row['min']:>8.3f} {row['max']:>8.3f} "
              f"{row['min_margin']:>8.3f} {row['configs']:>3}  {'; '.join(row['failed']) or '-'}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
