"""Run a study: every cell x ratio x seed into ``out/<study>/r<ratio>/<cell>/seed<seed>/``, then its table.

A stopped study continues where it stopped: runs already finished with the same settings are
skipped, unfinished ones resume from their checkpoint, the rest start. One progress bar counts the
epochs still to do. The long-tailed subset keeps seed 0, so the spread over seeds is training variance.
The precision is resolved once per study and is part of its protocol: its table names it, and a run
folder trained in another precision is refused (``auto`` resolves differently on other machines).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from fbcd_lab import distributed, run_cache
from fbcd_lab.checkpoints import at_last_checkpoint, read_checkpoint, save_checkpoint
from fbcd_lab.checks import check, check_distinct, check_optional
from fbcd_lab.config import DEFAULT_PRESET, OptimConfig, preset, sized_protocol
from fbcd_lab.data.datasets import LongTailData, build_long_tailed, loader_workers
from fbcd_lab.records import evaluate_run, read_record, run_record, save_record
from fbcd_lab.resume import resume_run, setting_differences
from fbcd_lab.run_folder import CHECKPOINT_NAME, RECORD_NAME, check_outside_runs, clear_run, owned_run_folder
from fbcd_lab.runtime import resolve_device, resolve_precision
from fbcd_lab.studies import get_study
from fbcd_lab.studies.study import Cell
from fbcd_lab.studies.table import build_table, paper_reference, ratio_name, save_table, table_markdown
from fbcd_lab.training import EpochCallback, check_division, fit, start_run

DEFAULT_SEEDS = (0, 1, 2)
TERMINAL = ("finished", "diverged")  # statuses that training the same settings again would not change


@dataclass(frozen=True)
class PlannedRun:
    """One run of a study and what is left of it: ``done``, ``resume`` or ``start``, and its epochs to train."""

    ratio: float | None
    cell: Cell
    seed: int
    folder: Path
    action: str
    epochs_left: int


def run_study(
    name: str, dataset: str, out: str | Path, *, ratios: Sequence[float] | None = None,
    seeds: Sequence[int] | None = None, cells: Sequence[str] | None = None, preset_name: str | None = None,
    epochs: int | None = None, backbone: str | None = None, data_root: str | Path | None = None,
    download: bool = False, n_max: int | None = None, image_size: int | None = None, device: str = "auto",
    paper_column: str | None = None, progress: bool = True, callbacks: Sequence[EpochCallback] = (),
    workers: int | None = None, precision: str = "auto", table_only: bool = False, u: int | None = None,
) -> dict:
    """Run study ``name`` on ``dataset`` at ``ratios`` (default: the study's; None: the training set as
    counted, ``natural``) x ``seeds`` (default 0 1 2) for the ``cells`` named (default all), print its
    table and save it as ``out/<name>/table.md`` and ``table.json``. ``workers`` DataLoader processes
    decode streamed images (default and checks: :func:`~fbcd_lab.data.datasets.loader_workers`). ``precision``
    (``auto``, ``bf16``, ``fp32``; see :func:`~fbcd_lab.runtime.resolve_precision`) is resolved once,
    used for every run and named in the table's header; so is ``u``, given to every cell that divides
    its classes in place of the paper's 10 (small data: a class cannot have more clusters than images).
    A backbone, preset or image size not given follows :func:`~fbcd_lab.config.sized_protocol`, the
    rule ``train`` follows (a small image folder: ResNet-8, cpu_short, at most 64 px), said in the same line.

    Settings are checked and every run folder inspected before any training; a folder holding a run of
    other settings (another precision included) is refused, and so is an unreadable record (it may be
    a finished run's only copy: it is never replaced). ``table_only`` trains nothing: the table is made
    from the runs already finished with these settings, each cell's (n) saying how many (a study under
    way, or one continued elsewhere); a folder it would have to leave out (other settings, an
    unreadable record) is refused as training would, so a table is never rewritten without runs it had,
    and so is an ``out`` holding no run of the study finished with these settings (nothing is written).
    ``callbacks`` get every epoch's record. A KeyboardInterrupt keeps the finished runs and the current
    run's last checkpoint (its record marked stopped) and propagates.
    """
    check_outside_runs(out)
    study = get_study(name)
    study.with_u(study.select(backbone, dataset, cells), u)  # unknown cells, a useless u: refused before reading
    run_cache.check_settings()  # not once a run it would resume has trained
    if table_only:
        _check_runs_to_count(out, study.name)  # a mistyped --out refused before any data is read
    ratios = [None] if dataset == "imagenet_lt" else check_distinct(
        "ratios", [check_optional("imbalance_ratio", r) for r in ratios or study.ratios])
    seeds = check_distinct("seeds", [check("seed", s) for s in seeds or DEFAULT_SEEDS])
    workers = check_optional("workers", workers)
    preset(preset_name or DEFAULT_PRESET[dataset], **({} if epochs is None else {"epochs": epochs}))  # checked early
    dev = resolve_device(device)
    resolved = resolve_precision(precision, dev)
    data = {r: build_long_tailed(dataset, r, n_max=n_max, root=data_root, download=download, image_size=image_size)
            for r in ratios}
    sized = sized_protocol(dataset, max(len(d.train) for d in data.values()), data[ratios[0]].image_size, backbone,
                           preset_name, image_size is not None, study.names_backbones, epochs)
    if sized.image_size is not None:
        data = {r: build_long_tailed(dataset, r, n_max=n_max, root=data_root, image_size=sized.image_size)
                for r in ratios}
    if sized.note:
        tqdm.write(sized.note)
    backbone, preset_name = sized.backbone, sized.preset
    chosen = study.with_u(study.select(backbone, dataset, cells), u)
    optim = preset(preset_name, **({} if epochs is None else {"epochs": epochs}))
    loaders = {r: loader_workers(data[r], workers) for r in ratios}
    paper = paper_reference(study, dataset, data[ratios[0]].num_classes, paper_column)
    folder = Path(out) / study.name
    if table_only:
        records = {(r, cell.label): _found_records(r, cell, seeds, folder, data[r], optim, precision, resolved,
                                                   strict=True)
                   for r in ratios for cell in chosen}
        _check_runs_to_count(out, study.name, records)
        return _save_table(study, chosen, ratios, seeds, records, data, preset_name, optim, resolved, paper, folder,
                           u)
    plan = [_plan_run(r, cell, s, folder / _ratio_folder(r) / cell.label / f"seed{s}", data[r], optim, precision,
                      resolved)
            for s in seeds for r in ratios for cell in chosen]  # seed-major: a first table of every cell soonest
    _check_divisions(plan, data)
    counts = {a: sum(p.action == a for p in plan) for a in ("done", "resume", "start")}
    tqdm.write(f"study {study.name} on {dataset}: {len(plan)} runs ({len(chosen)} cells x {len(ratios)} ratios x "
               f"{len(seeds)} seeds): {counts['done']} done, {counts['resume']} to resume, {counts['start']} to start")
    bar = tqdm(total=sum(p.epochs_left for p in plan), disable=not progress, desc=study.name, unit="epoch")
    try:
        for planned in plan:
            if planned.action != "done":
                bar.set_postfix_str(f"ratio {ratio_name(planned.ratio)} {planned.cell.label} seed {planned.seed}")
                _train(planned, data[planned.ratio], optim, dev, precision, resolved,
                       [lambda _: bar.update(1), *callbacks], loaders[planned.ratio])
    finally:
        bar.close()
    # the cells run now and (--cells ran part of the study) every other cell whose runs of these ratios
    # and seeds are all finished with these settings, so a partial rerun never drops rows from the table
    every = study.with_u(study.select(backbone, dataset), u)
    records = {(r, cell.label): _found_records(r, cell, seeds, folder, data[r], optim, precision, resolved)
               for r in ratios for cell in every}
    labels = {c.label for c in chosen}
    shown = [c for c in every
             if c.label in labels or all(len(records[r, c.label]) == len(seeds) for r in ratios)]
    return _save_table(study, shown, ratios, seeds, records, data, preset_name, optim, resolved, paper, folder, u)


def _check_divisions(plan: Sequence[PlannedRun], data: dict) -> None:
    """Refuse, before any run folder is made, the runs to start whose class division their data cannot
    hold (:func:`~fbcd_lab.training.check_division`: u above the largest class's images, say), naming
    each such cell and ratio and the first reason; runs already trained keep their saved division."""
    refused: dict[str, str] = {}  # "cell (ratio r)": why
    for planned in plan:
        if planned.action == "start":
            try:
                check_division(data[planned.ratio], planned.cell.method)
            except ValueError as error:
                refused[f"{planned.cell.label} (ratio {ratio_name(planned.ratio)})"] = str(error)
    if refused:
        raise ValueError(f"{len(refused)} cell(s) cannot divide their classes on this data: {', '.join(refused)}; "
                         f"the first: {next(iter(refused.values()))}; leave them out (--cells), or give the cells "
                         f"that divide their classes a smaller u (--u)")


def _save_table(study, cells: Sequence[Cell], ratios: Sequence[float | None], seeds: Sequence[int], records: dict,
                data: dict, preset_name: str, optim: OptimConfig, precision: str, paper: dict, folder: Path,
                u: int | None) -> dict:
    """Build, print and save the study's table from ``records[ratio, label]``."""
    first = data[ratios[0]]
    header = {"study": study.name, "description": study.description, "dataset": first.name,
              "classes": first.num_classes, "subset_seed": first.fingerprint.seed,
              "backbones": list(dict.fromkeys(c.method.backbone for c in cells)),
              "preset": preset_name, "epochs": optim.epochs, "seeds": list(seeds), "precision": precision,
              **({} if u is None else {"u": u})}
    table = build_table(study, cells, ratios, records, header, paper)
    print(table_markdown(table))
    for path in save_table(table, folder):
        print(f"wrote {path}")
    return table


def _check_runs_to_count(out: str | Path, study: str, records: dict[tuple, list[dict]] | None = None) -> None:
    """Refuse ``--table-only`` where ``out`` holds no folder of ``study`` or (once ``records`` are found)
    no run of it finished with these settings: the table would be all dashes, written over a table
    of runs or into folders made for it, and a mistyped ``--out`` would pass unnoticed."""
    folder = Path(out) / study
    if not folder.is_dir():
        raise ValueError(f"--out {out} holds no runs of study {study} (no folder {folder}): nothing to make a "
                         f"table of, and nothing was written")
    if records is not None and not any(records.values()):
        raise ValueError(f"--out {out} holds no runs of study {study} finished with these settings, ratios, seeds "
                         f"and cells: nothing to make a table of, and nothing was written")


def _found_records(ratio: float | None, cell: Cell, seeds: Sequence[int], folder: Path, data: LongTailData,
                   optim: OptimConfig, asked_precision: str, precision: str, strict: bool = False) -> list[dict]:
    """The records of ``cell``'s runs already finished with these settings. A folder that cannot count
    (a run of other settings, an unreadable record) is refused with ``strict``, else left out of the
    table with the reason."""
    found = []
    for seed in seeds:
        run_folder = folder / _ratio_folder(ratio) / cell.label / f"seed{seed}"
        try:
            planned = _plan_run(ratio, cell, seed, run_folder, data, optim, asked_precision, precision)
        except ValueError as error:
            if strict:
                raise
            tqdm.write(f"left out of the table: {error}")
            continue
        if planned.action == "done":
            found.append(read_record(run_folder / RECORD_NAME))
    return found


def _ratio_folder(ratio: float | None) -> str:
    return "natural" if ratio is None else f"r{ratio:g}"


def _plan_run(ratio: float | None, cell: Cell, seed: int, folder: Path, data: LongTailData, optim: OptimConfig,
              asked_precision: str, precision: str) -> PlannedRun:
    """What is left of the run in ``folder``: nothing if its record is final, else the epochs after its
    checkpoint, else all; a run of other settings (a longer one included) is refused, one that differs
    only in ``precision`` (resolved from ``--precision asked_precision``) with the option that continues it."""
    optim = cell.optim(optim)
    record, checkpoint = _final_record(folder / RECORD_NAME), folder / CHECKPOINT_NAME

    def refuse_other_settings(saved: dict) -> None:
        differences = setting_differences(saved, data, cell.method, optim, seed, precision, False,
                                          distributed.world_size())
        if optim.epochs > saved["optim"]["epochs"]:  # resume_run would extend the run; a study keeps its settings
            differences.insert(0, f"optim.epochs: saved {saved['optim']['epochs']}, asked {optim.epochs}")
        if len(differences) == 1 and saved["precision"] != precision:  # the precision alone differs
            raise ValueError(_other_precision(folder, saved["precision"], asked_precision, precision))
        trained_u = saved["method"].get("u")
        if len(differences) == 1 and trained_u != cell.method.u:  # u alone: --u given or not
            raise ValueError(f"{folder} was trained with u {trained_u}, this study asks u {cell.method.u}: pass "
                             f"--u {trained_u} to continue it (or choose another --out)")
        if differences:
            raise ValueError(f"{folder} holds a run with other settings ({'; '.join(differences)}); choose "
                             f"another --out or move that folder away")

    if record is not None:
        refuse_other_settings(record["config"])
        return PlannedRun(ratio, cell, seed, folder, "done", 0)
    if checkpoint.is_file():
        state = read_checkpoint(checkpoint)
        refuse_other_settings(state)
        return PlannedRun(ratio, cell, seed, folder, "resume", optim.epochs - len(state["history"]))
    return PlannedRun(ratio, cell, seed, folder, "start", optim.epochs)


def _other_precision(folder: Path, trained: str, asked: str, resolved: str) -> str:
    """Why ``folder``, trained in ``trained``, is not continued in ``resolved`` (from ``--precision asked``),
    and the option that continues it: the precision is part of a study's protocol."""
    now = (f"--precision auto resolves to {resolved} on this machine" if asked == "auto" else
           f"--precision {asked} was given")
    return (f"{folder} was trained in {trained} but {now}: pass --precision {trained} to continue this study "
            f"(or choose another --out)")


def _final_record(path: Path) -> dict | None:
    """The record at ``path`` if it is final (finished or diverged), else None (none yet, or a run's
    under way). An unreadable one is refused, not replaced: it may be a finished run's only copy."""
    if not path.is_file():
        return None
    try:
        record = read_record(path)
    except ValueError as error:
        raise ValueError(f"{error}: nothing was trained or written; restore it (`git checkout` if it is "
                         f"committed) or move it away to train that run again") from None
    return record if record["status"] in TERMINAL else None


def _train(planned: PlannedRun, data: LongTailData, optim: OptimConfig, device: torch.device, asked_precision: str,
           precision: str, callbacks: Sequence[EpochCallback], workers: int) -> None:
    """Start or resume one planned run, train it to the end and write its record (as ``train`` does);
    a run stopped by KeyboardInterrupt is recorded as stopped and the interrupt raised again. The
    run folder is held while it trains, and planned again once held: another process of the same
    study may have trained it, or part of it, since the study planned it."""
    with owned_run_folder(planned.folder, overwrite=True) as stale:  # the plan decides what to keep
        for path in stale:
            tqdm.write(f"removed {path}, left by an interrupted write")
        planned = _plan_run(planned.ratio, planned.cell, planned.seed, planned.folder, data, optim, asked_precision,
                            precision)
        if planned.action == "done":
            tqdm.write(f"{planned.folder}: finished by another process meanwhile; kept")
            return
        _train_held(planned, data, optim, device, precision, callbacks, workers)


def _train_held(planned: PlannedRun, data: LongTailData, optim: OptimConfig, device: torch.device, precision: str,
                callbacks: Sequence[EpochCallback], workers: int) -> None:
    folder, method, seed = planned.folder, planned.cell.method, planned.seed
    optim = planned.cell.optim(optim)
    key = cached = None  # a resumed run is never looked up
    if planned.action == "resume":
        run = resume_run(folder / CHECKPOINT_NAME, data, method, optim, seed=seed, device=device, precision=precision)
        tqdm.write(f"resuming {folder} after epoch {run.epochs_done} of {optim.epochs}")
    else:
        key, cached = run_cache.lookup(data, method, optim, seed, device, precision, {"num_workers": workers})
        run = cached if cached is not None else start_run(data, method, optim, seed=seed, device=device,
                                                          precision=precision)
        for removed in clear_run(folder):
            tqdm.write(f"removed {removed}: no checkpoint to continue it from")
    if cached is not None:  # the run training would make: its checkpoint, and its epochs' records to the callbacks
        save_checkpoint(run, data, folder / CHECKPOINT_NAME)
        for record in run.history:
            for callback in callbacks:
                callback(record)
    else:
        fit(run, data, checkpoint=folder / CHECKPOINT_NAME, callbacks=callbacks, progress=False, num_workers=workers)
        if key is not None:
            run_cache.store(key, run, data)
        run = at_last_checkpoint(run, data, folder / CHECKPOINT_NAME)
    metrics, protocol = evaluate_run(run, data)
    save_record(run_record(run, data, metrics, protocol), folder / RECORD_NAME)
    if run.status == "diverged":
        tqdm.write(f"{folder}: diverged in epoch {run.diverged['epoch']}; recorded as diverged")
    if run.stopped:
        raise KeyboardInterrupt
