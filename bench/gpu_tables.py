"""Turn what ``bench/gpu_check.py`` brought back from the GPU machine into a study folder and its table.

    python bench/gpu_tables.py FILES_AT [--out results/cifar10_lt_gpu] [--include-stopped] [--overwrite]

``FILES_AT`` is the folder the device reply names (holding records.json and gpu_check.json), or
records.json itself. Writes, as ``python -m fbcd_lab study table1`` lays them out (JSON only):

- ``<out>/table1/r100/<recipe>/seed<s>/results.json``: one results record per finished run;
- ``<out>/table1/table.md`` and ``table.json``: mean ± sample sd (n seeds) of top-1 accuracy per
  recipe, beside the paper's Table 1 (every record under ``<out>/table1``, earlier ones included);
- ``<out>/README.md``: where the numbers come from;

and prints gpu_check.json's speed figures as Markdown for BENCHMARKS.md's GPU section. Runs that
stopped at the deadline are left out unless ``--include-stopped`` (the table then shows them as
stopped); records of a ``--shrink`` rehearsal are refused unless ``--allow-rehearsal``. A record
already there with other content is refused unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fbcd_lab.records import RECORD_NAME, load_records, read_record, save_record  # noqa: E402
from fbcd_lab.studies import get_study  # noqa: E402
from fbcd_lab.studies.table import build_table, paper_reference, save_table, table_markdown  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RECORDS_FORMAT = "fbcd_lab gpu_check records, version 1"
STUDY, BACKBONE, SOURCE = "table1", "resnet32", "imagefolder"


def ratio_of(record: dict) -> float | None:
    return None if record["imbalance_ratio"] == "natural" else float(record["imbalance_ratio"])


def ratio_folder(ratio: float | None) -> str:
    return "natural" if ratio is None else f"r{ratio:g}"


def write_records(bundle: dict, folder: Path, include_stopped: bool, allow_rehearsal: bool, overwrite: bool) -> list[str]:
    """Each record of ``bundle`` into ``folder/<ratio>/<recipe>/seed<s>/results.json``; what was done, per run."""
    done = []
    for key, record in bundle["records"].items():
        if record["config"]["data_spec"].get("rehearsal_shrink") and not allow_rehearsal:
            raise SystemExit(f"{key} comes from a --shrink rehearsal (not the paper protocol); pass --allow-rehearsal "
                             f"and an --out outside results/ to convert it anyway")
        if record["status"] != "finished" and not include_stopped:
            done.append(f"{key}: left out ({record['status']} after {record['epochs_done']} of {record['epochs']} epochs)")
            continue
        path = folder / ratio_folder(ratio_of(record)) / record["recipe"] / f"seed{record['seed']}" / RECORD_NAME
        if path.is_file():
            if read_record(path) == record:
                done.append(f"{key}: already there")
                continue
            if not overwrite:
                raise SystemExit(f"{path} holds another record; pass --overwrite to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        save_record(record, path)
        done.append(f"{key}: wrote {path.relative_to(folder.parent)}")
    return done


def make_table(folder: Path) -> dict:
    """The table1 study's table from every record under ``folder`` (the runner's own functions)."""
    study = get_study(STUDY)
    records = load_records(folder)
    if not records:
        raise SystemExit(f"no records under {folder}")
    first = records[0]
    ratios = sorted({ratio_of(r) for r in records}, key=lambda r: (r is None, -(r or 0)))
    cells = study.select(BACKBONE, SOURCE)
    grouped = {(ratio, cell.label): [] for ratio in ratios for cell in cells}
    for record in records:
        grouped.setdefault((ratio_of(record), record["recipe"]), []).append(record)
    header = {"study": study.name, "description": study.description, "dataset": first["dataset"],
              "classes": len(first["classes"]), "subset_seed": first["subset_seed"], "backbones": [BACKBONE],
              "preset": "paper_cifar", "epochs": first["epochs"], "seeds": sorted({r["seed"] for r in records})}
    paper = paper_reference(study, SOURCE, len(first["classes"]))
    table = build_table(study, cells, ratios, grouped, header, paper)
    save_table(table, folder)
    return table


def speed_markdown(check: dict) -> str:
    """gpu_check.json's figures as Markdown lines for BENCHMARKS.md."""
    lines = [f"- machine: {check['device']}; torch {check['versions']['torch']}, torchvision "
             f"{check['versions']['torchvision']}, Python {check['versions']['python']}; {check['date']}; "
             f"{check.get('total_s', float('nan')):.0f} s in all"]
    lines.append(f"- data identical to the packed original: {check['data']['identical']} "
                 f"(decode and load {check['data']['load_s']:.1f} s)")
    for name, info in check["parts"].items():
        lines.append(f"- part {name}: {info['status']} ({info.get('wall_s', 0):.1f} s)")
    if "agreement" in check:
        a = check["agreement"]
        lines.append(f"- agreement (ok: {a['ok']}): max |logit diff| {a['max_abs_diff_cluster_logits']:.2e} (FBH "
                     f"{a['max_abs_diff_fbh_logits']:.2e}, eval {a['max_abs_diff_eval_logits']:.2e}), loss "
                     f"{a['loss_cpu']:.6f} vs {a['loss_gpu']:.6f}, gradient rel. diff {a['grad_rel_diff']:.2e}, bf16 "
                     f"loss rel. diff {a['bf16_loss_rel_diff']:.2e} (tolerance {a['tolerances']['bf16_loss_rel']}), "
                     f"augmentation identical: {a['augmentation_identical']}")
    if "profile" in check:
        p = check["profile"]
        busy, u = p.get("gpu_busy_ms_per_step"), p.get("unsynced")
        if u:
            lines.append(f"- training step (FBH + CDH, batch 128, {p['precision']}): {u['ms_per_step']:.2f} ms, host "
                         f"{u['host_ms_per_step']:.2f} ms" + ("" if busy is None else f", GPU busy {busy:.2f} ms"))
        if p.get("synced_phase_ms_per_step"):
            lines.append("- phases, synced (ms per step): " + ", ".join(
                f"{k} {v:.2f}" for k, v in p["synced_phase_ms_per_step"].items()))
        if p.get("profiled_phases_ms"):
            lines.append("- phases in the profile (host ms / device ms, all steps): " + ", ".join(
                f"{k} {v['cpu_ms']:.1f} / {v['device_ms']:.1f}" for k, v in p["profiled_phases_ms"].items()))
        if p.get("evaluation_ms"):
            lines.append(f"- one evaluation ({check['data']['num_test']} test images, all metrics): "
                         f"{p['evaluation_ms']['library']:.1f} ms as the library does it, "
                         f"{p['evaluation_ms']['test_set_on_device']:.1f} ms with the test set kept on the device")
        audit = p.get("sync_audit", {})
        if "syncs" in audit:
            lines.append(f"- host syncs in one epoch of fit ({audit['epoch_steps']} steps) and its evaluation: "
                         f"{audit['syncs']}; by line: " + ", ".join(f"{k} x{v}" for k, v in audit["by_line"].items()))
        if p.get("top_ops"):
            lines.append("- top ops by device time (ms): " + ", ".join(
                f"{o['op'][:40]} {o['self_device_ms']:.1f}" for o in p["top_ops"][:8]))
        if p.get("errors"):
            lines.append(f"- profile errors: {p['errors']}")
    if "reference" in check:
        r = check["reference"]
        lines.append(f"- reference PIL + DataLoader ({r['workers']} workers, fp32): {r['images_per_s']:.0f} images/s, "
                     f"{r['epochs']} epochs extrapolated {r['extrapolated_epochs_s']:.0f} s")
    if "full_run" in check:
        f = check["full_run"]
        lines.append(f"- full run: {f['epochs']} of {f['epochs_asked']} epochs ({f['status']}), {f['end_to_end_s']:.1f} s "
                     f"end to end with an evaluation every epoch ({f['images_per_s']:.0f} images/s, first epoch "
                     f"{f['first_epoch_s'] or float('nan'):.1f} s), mean recall {f.get('mean_recall_top_cluster', float('nan')):.4f}, "
                     f"accuracy {f.get('accuracy_top_cluster', float('nan')):.4f}")
    if "targets" in check:
        t = check["targets"]
        lines.append(f"- targets: full run <= {t['full_run_s_max']:.0f} s: {t['full_run_met']} ({t['full_run_s']:.1f} s); "
                     f">= {t['speedup_min']:.0f}x the reference: {t.get('speedup_met')} "
                     f"({t.get('speedup', float('nan')):.1f}x)")
    return "\n".join(lines)


def readme(bundle: dict, check: dict | None, done: list[str]) -> str:
    device = check["device"] if check else bundle["device"]
    when = check["date"] if check else "unknown date"
    first = next(iter(bundle["records"].values()), None)
    precision = first["config"]["precision"] if first else "?"
    num_test = first["data"]["num_test"] if first else "?"
    optim = json.dumps(first["config"]["optim"]) if first else "?"
    return "\n".join([
        f"# CIFAR-10-LT ratio 100, the recipes of Table 1, on a GPU ({device})", "",
        f"Made on {when} by `bench/gpu_check.py` in one device call (see BENCHMARKS.md, GPU section), from the",
        "packed data of `bench/pack_gpu_data.py`, and converted here by `bench/gpu_tables.py`.", "",
        f"Protocol: the paper's (`preset(\"paper_cifar\")`, optimiser settings {optim}; DRW and DRS switch on at "
        "80 % of the epochs), ResNet-32, "
        f"long-tailed subset seed 0, training seeds as listed, precision {precision} (the trainer's default on that "
        f"device), final epoch reported on the balanced {num_test}-image test set. Runs were started in order of importance "
        "until the command's deadline; the ones that did not fit were skipped, not run.", "",
        "`table1/table.md` and `table1/table.json`: the table beside the paper's Table 1. Runs:", "",
        *[f"- {line}" for line in done],
        *[f"- {key}: skipped ({why})" for key, why in bundle.get("skipped", {}).items()], ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", type=Path, nargs="+",
                        help="the reply's files_at folder, or its records.json (several: one per device call)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "cifar10_lt_gpu")
    parser.add_argument("--include-stopped", action="store_true")
    parser.add_argument("--allow-rehearsal", action="store_true")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    folder = args.out / STUDY
    bundle: dict = {"records": {}, "skipped": {}}
    checks, done = [], []
    for given in args.files:
        path = given / "records.json" if given.is_dir() else given
        part = json.loads(path.read_text())
        if part.get("format") != RECORDS_FORMAT:
            raise SystemExit(f"{path} is not a records.json of bench/gpu_check.py")
        done += write_records(part, folder, args.include_stopped, args.allow_rehearsal, args.overwrite)
        bundle["records"].update(part["records"])
        bundle["skipped"].update(part.get("skipped", {}))
        bundle["device"], bundle["epochs"] = part["device"], part["epochs"]
        check_path = path.with_name("gpu_check.json")
        if check_path.is_file():
            checks.append(json.loads(check_path.read_text()))
    for key in bundle["records"]:  # skipped in one call, run in another
        bundle["skipped"].pop(key, None)
    for line in done:
        print(line)
    for key, why in bundle["skipped"].items():
        print(f"{key}: skipped on the GPU ({why})")
    table = make_table(folder)
    (args.out / "README.md").write_text(readme(bundle, checks[0] if checks else None, done))
    print(table_markdown(table))
    print(f"wrote {folder / 'table.md'}, {folder / 'table.json'}, {args.out / 'README.md'}")
    for check in checks:
        if "full_run" in check or "agreement" in check:
            print("\nFor BENCHMARKS.md (GPU section):\n")
            print(speed_markdown(check))


if __name__ == "__main__":
    main()
