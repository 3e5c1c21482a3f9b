"""Command line: ``python -m fbcd_lab {lab,demo,train,eval,weights,decompose,summarize,orderings,study}``.

``lab`` opens the notebooks in JupyterLab (``--headless DIR`` executes them and writes HTML);
``demo`` trains CE and FBH + CDH on the embedded digits and prints per-class recall side by side;
``train`` runs one experiment and writes ``results.json`` and ``checkpoint.pt`` to ``--out``;
``eval`` re-evaluates a checkpoint; ``weights`` writes a finished run's model-only weights beside
its record; ``decompose`` takes the gain of FBH + CDH over CE apart from saved runs;
``summarize`` tabulates a folder of results over seeds; ``orderings`` sets two study tables (or
one and the paper's numbers) side by side and names the pairs of recipes whose order changes;
``study`` runs a named study (cells x ratios x seeds) and tabulates it beside the paper's numbers.
Bad values exit with status 2 and a one-line message naming the option; no command lists the
commands and exits with status 2. ``python -m fbcd_lab COMMAND --help`` documents each command.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from fbcd_lab.checks import PARAMETERS, check, shown
from fbcd_lab.class_division import STRATEGIES
from fbcd_lab.balancing import BALANCING, SAMPLERS
from fbcd_lab.config import (
    AUGMENTATIONS, L2_WEIGHTS, METHODS, PRESETS, SMALL_FOLDER_IMAGE_SIZE, SMALL_FOLDER_IMAGES, MethodConfig,
    preset, sized_protocol,
)
from fbcd_lab.data.datasets import LongTailData, build_long_tailed, data_from_spec, loader_workers
from fbcd_lab.data.long_tail import FEW_BELOW, MANY_ABOVE, PROFILES
from fbcd_lab.data.sources import SOURCES
from fbcd_lab.distributed import is_main, lost_a_process, rank
from fbcd_lab.losses import LOSSES
from fbcd_lab.losses.focal import WEIGHTINGS as FOCAL_WEIGHTINGS
from fbcd_lab.models.backbones import BACKBONES
from fbcd_lab.models.predict import RULES
from fbcd_lab.models.two_head import NECKS
from fbcd_lab.paper_results import PAPER_DATASETS
from fbcd_lab.recipes import RECIPES, describe_method, recipe
from fbcd_lab.run_folder import CHECKPOINT_NAME, RECORD_NAME, check_record_name, hold_folder
from fbcd_lab.runtime import PRECISIONS
from fbcd_lab.studies import STUDIES


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def text_arg(text: str) -> str:
    """An argparse type for text that must not be empty (or blank)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def path_arg(text: str) -> Path:
    """An argparse type for a path that must not be empty ('' would mean the current folder)."""
    return Path(text_arg(text))


def checked(name: str) -> Callable[[str], int | float]:
    """An argparse type that parses the text and checks it with the library's own rule for ``name``."""
    rule = PARAMETERS[name]

    def parse(text: str):
        try:
            value = rule.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule.describe()}, got {shown(text)}") from None
        try:
            return check(name, value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule.describe()}, got {shown(text)}") from None
    parse.__name__ = rule.kind.__name__
    return parse


def ratio_or_natural(text: str) -> float | None:
    """``--imbalance-ratio`` and ``--ratios``: ``natural`` (None: keep every training image as counted),
    else a number checked with the library's rule for imbalance_ratio."""
    if text == "natural":
        return None
    try:
        return checked("imbalance_ratio")(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be natural or {PARAMETERS['imbalance_ratio'].describe()}, "
                                         f"got {text!r}") from None


def recall_table(counts: Sequence[int], classes: Sequence[str], results: dict[str, dict]) -> str:
    """Per-class recall of several runs as a fixed-width text table, with summary rows. Column names
    are shown whole; a class name is shown printable (a newline as \\n) and cut to 24 characters."""
    names = list(results)
    width = {k: max(8, len(k)) for k in names}
    shown = [n if n.isprintable() else repr(n)[1:-1] for n in classes]
    shown = [n if len(n) <= 24 else n[:23] + "…" for n in shown]
    first = max(12, *(len(n) for n in shown))
    head = f"{'class':>{first}} {'n_train':>7} " + " ".join(f"{k:>{width[k]}}" for k in names)
    rows = [head, "-" * len(head)]
    for c, (name, n) in enumerate(zip(shown, counts)):
        cells = " ".join(f"{results[k]['per_class_recall'][c]:>{width[k]}.3f}" for k in names)
        rows.append(f"{name:>{first}} {n:>7} {cells}")
    rows.append("-" * len(head))
    rows.append(f"{'mean recall':>{first}} {sum(counts):>7} "
                + " ".join(f"{results[k]['mean_recall']:>{width[k]}.3f}" for k in names))
    for group in ("many", "medium", "few"):
        cells = [(k, results[k]["group_recall"][group]) for k in names]
        rows.append(f"{group:>{first}} {'':>7} "
                    + " ".join(f"{'empty':>{width[k]}}" if v is None else f"{v:>{width[k]}.3f}" for k, v in cells))
    rows.append(f"(many: over {MANY_ABOVE} training images, medium: {FEW_BELOW} to {MANY_ABOVE}, few: under "
                f"{FEW_BELOW}; empty: no class in the group)")
    return "\n".join(rows)


def run_demo(args: argparse.Namespace) -> int:
    from fbcd_lab.evaluation import evaluate
    from fbcd_lab.training import train

    data = build_long_tailed("digits", args.imbalance_ratio)
    print(f"digits, exponential profile, imbalance ratio {args.imbalance_ratio:g}: {len(data.train)} "
          f"training images {list(data.counts)}, {len(data.test)} balanced test images")
    results = {}
    for method in ("ce", "fbcd"):
        config = MethodConfig(method=method, backbone="small_cnn", u=args.u, lam=args.lam)
        run = train(data, config, PRESETS["digits"], seed=args.seed, device=args.device, progress=False)
        results[method] = evaluate(run.model, data, device=run.device)
        print(f"trained {method} for {run.epochs_done} epochs in {run.wall_time_s:.1f} s on {run.device}")
    print(recall_table(data.counts, data.classes, results))
    return 0


def _data_for(args: argparse.Namespace, spec: dict | None = None, image_size: int | None = None):
    if spec is not None:
        return data_from_spec(spec, args.data_root)
    ratio = None if args.dataset == "imagenet_lt" else args.imbalance_ratio
    return build_long_tailed(args.dataset, ratio, profile=args.profile, n_max=args.n_max, seed=args.subset_seed,
                             root=args.data_root, download=args.download, image_size=image_size or args.image_size,
                             val_per_class=args.val_per_class, val_folder=args.val_folder)


def _report(run, data, selection: str, out: Path, record_name: str) -> None:
    from fbcd_lab.records import evaluate_run, run_record, save_record

    metrics, protocol = evaluate_run(run, data, selection)
    save_record(run_record(run, data, metrics, protocol, selection), out / record_name)
    if metrics is None:
        kept = (f"{out / CHECKPOINT_NAME} keeps epoch {run.epochs_done}" if run.epochs_done else
                "no epoch finished, so no checkpoint was written")
        raise ValueError(f"training diverged: the loss became {run.diverged['loss']} in epoch "
                         f"{run.diverged['epoch']}; {kept}; {out / record_name} is marked diverged "
                         f"({_divergence_advice(run.method)})")
    print(recall_table(data.counts, data.classes, {r.replace("_", " "): metrics[r] for r in RULES}))
    print(f"protocol: {protocol}; top-1 {metrics['top_cluster']['accuracy']:.4f}; "
          f"{run.epochs_done} epoch{'' if run.epochs_done == 1 else 's'} in {run.wall_time_s:.1f} s on {run.device} "
          f"({run.precision}); "
          f"wrote {out / record_name}")


LOSS_SCALES = ("lam", "focal_gamma", "la_tau")  # method options that scale a loss term, whatever the rate


def _divergence_advice(method: MethodConfig) -> str:
    """What to lower after a divergence: ``--lr``, or a loss-scaling option the run reads that is set
    above its default (a lambda of 1e308 overflows at any learning rate)."""
    default = MethodConfig()
    raised = [f"--{name.replace('_', '-')} (it is {getattr(method, name):g})" for name in LOSS_SCALES
              if not method.unused([name]) and getattr(method, name) > getattr(default, name)]
    return f"try a lower {' or '.join(raised)} or a lower --lr" if raised else "try a lower --lr"


def run_train(args: argparse.Namespace) -> int:
    from fbcd_lab.run_folder import new_folder_removed_on_error, owned_run_folder

    with new_folder_removed_on_error(args.out), contextlib.ExitStack() as owned:
        # the folder is held by the main process (the others write nothing) until the run is reported
        return _train_into(args, lambda: owned.enter_context(owned_run_folder(args.out, args.resume, args.overwrite)))


def _train_into(args: argparse.Namespace, own_folder: Callable[[], list[Path]]) -> int:
    """``train``'s work once ``own_folder`` (called by the main process, after the settings are
    checked) holds the run folder."""
    from fbcd_lab import distributed
    from fbcd_lab.checkpoints import read_checkpoint
    from fbcd_lab.resume import resume_run
    from fbcd_lab.run_folder import clear_run
    from fbcd_lab.training import fit, start_run

    # Under torchrun (WORLD_SIZE > 1): join its process group and get this process's device
    # (cuda:LOCAL_RANK, else the CPU); only the main process prints, writes and reports.
    device = distributed.init(args.device)
    distributed.quiet_unless_main()
    if args.selection == "best_val" and not (args.val_per_class or args.val_folder):
        raise ValueError("--selection best_val needs --val-per-class > 0 or --val-folder")
    # first: a small image folder's default backbone, preset and image size follow its size
    backbone, preset_name, data = _sized_for(args, _data_for(args))
    method = method_from_args(args, backbone)
    workers = loader_workers(data, args.workers)
    checkpoint = args.out / CHECKPOINT_NAME
    saved_epochs = read_checkpoint(checkpoint)["optim"]["epochs"] if args.resume and checkpoint.is_file() else None
    epochs = saved_epochs if args.epochs is None else args.epochs  # a resumed run keeps its own length
    overrides = {k: v for k, v in (("epochs", epochs), ("batch_size", args.batch_size), ("lr", args.lr),
                                   ("weight_decay", args.weight_decay)) if v is not None}
    optim = preset(preset_name, **overrides)
    # the global batch, divisible by the processes; folder and resume checks: the main process
    # first, its one-line error ending the others quietly (exit status 2)
    distributed.main_first(lambda: distributed.check_global_batch(optim.batch_size))
    for stale in distributed.main_first(own_folder) or ():
        print(f"removed {stale}, left by an interrupted write")
    settings = {"seed": args.seed, "device": device, "precision": args.precision,
                "deterministic": args.deterministic}
    if args.resume:
        run = distributed.main_first(lambda: resume_run(checkpoint, data, method, optim, **settings),
                                     everyone=True)
        extended = "" if optim.epochs == saved_epochs else f", extended from {saved_epochs} to {optim.epochs} epochs"
        print(f"resuming {checkpoint} after epoch {run.epochs_done} of {saved_epochs}{extended}")
    else:
        run = start_run(data, method, optim, **settings)
    for removed in clear_run(args.out) if args.overwrite and not args.resume and distributed.is_main() else ():
        print(f"--overwrite: removed {removed}")
    switch = run.switch_epoch
    deferred = "" if switch is None else f"; {run.method.balancing} on from epoch {switch + 1} of {run.optim.epochs}"
    print(f"{data.name}: {len(data.train)} training images, counts {list(data.counts)}; {describe_method(run.method)}"
          f"{deferred}; K = {run.division.num_clusters}, imbalance after division {run.division.imbalance_after():.1f}")
    fit(run, data, checkpoint=checkpoint, progress=not args.no_progress, num_workers=workers, sync_bn=args.sync_bn,
        callbacks=[_time_estimate(run, data.image_size)] if distributed.is_main() else [])
    if distributed.is_main():
        _report(run, data, args.selection, args.out, RECORD_NAME)
    elif run.diverged is not None:
        return 2  # the main process reports it
    if run.stopped:
        if distributed.is_main():
            print(f"interrupted after epoch {run.epochs_done} of {run.optim.epochs}; to continue, run the same "
                  f"command with --resume", file=sys.stderr)
        return 130
    return 0


def _time_estimate(run, image_size: int) -> Callable[[dict], None]:
    """An epoch callback that says, after the first epoch this command trains, how long the run will
    take in all and how to shorten it (fewer epochs; smaller images when they are large), when that
    is over a minute."""
    first = run.epochs_done + 1
    start = run.wall_time_s

    def estimate(record: dict) -> None:
        if record["epoch"] != first or run.optim.epochs == first:
            return
        took = record["time_s"] - start
        left = took * (run.optim.epochs - first)
        if left > 60:
            short = PRESETS["cpu_short"].epochs
            options = ["--epochs N", *([f"--preset cpu_short ({short} epochs)"] if run.optim.epochs > short else []),
                       *([f"--image-size {SMALL_FOLDER_IMAGE_SIZE} (the images are {image_size} px)"]
                         if image_size > SMALL_FOLDER_IMAGE_SIZE else [])]
            print(f"epoch {first} of {run.optim.epochs} took {took:.1f} s: about {left / 60:.0f} min to go; "
                  f"{' or '.join(options)} makes the run shorter", flush=True)
    return estimate


def run_eval(args: argparse.Namespace) -> int:
    from fbcd_lab.checkpoints import load_checkpoint, read_checkpoint

    check_record_name(args.record_name)
    data = _data_for(args, read_checkpoint(args.checkpoint)["data_spec"])
    with hold_folder(args.checkpoint.parent):  # not while a run trains there
        run = load_checkpoint(args.checkpoint, data, args.device)
        _report(run, data, args.selection, args.checkpoint.parent, args.record_name)
    return 0


def run_lab(args: argparse.Namespace) -> int:
    """JupyterLab on the notebooks (unknown options passed on to it), or ``--headless`` HTML."""
    import os

    from fbcd_lab.lab_preset import HEADLESS_DEFAULT, lab_preset
    from fbcd_lab.notebooks import INSTALL_HINT, NotebookError, missing_packages, open_lab, run_headless

    headless = args.headless is not None
    options = list(getattr(args, "jupyter_options", ()))
    if headless and options:
        raise ValueError(f"{' '.join(options)}: JupyterLab options do nothing with --headless")
    missing = missing_packages(headless)
    if missing:
        raise ValueError(f"the notebooks need {', '.join(missing)} (the [lab] extra): {INSTALL_HINT}")
    if not headless:
        if hasattr(os, "geteuid") and os.geteuid() == 0 and not any(o.split("=")[0] in LAB_ROOT_OPTIONS
                                                                       for o in options):
            options.append("--allow-root")
            print("running as root (as in a container): passing --allow-root to JupyterLab", file=sys.stderr)
        if args.preset:
            print(f"FBCD_PRESET={lab_preset(args.preset).name} for this JupyterLab's kernels", file=sys.stderr)
        return open_lab(options, args.preset)
    preset = lab_preset(args.preset, default=HEADLESS_DEFAULT).name
    print(f"executing the notebooks under preset {preset} into {args.headless}/ "
          f"(--preset ci: seconds per notebook)", flush=True)
    try:
        run_headless(args.headless, preset)
    except NotebookError as err:
        print(f"python -m fbcd_lab lab: error: {err}", file=sys.stderr)
        return 1
    return 0


LAB_ROOT_OPTIONS = ("--allow-root", "--ServerApp.allow_root")
LAB_EPILOG = """\
Any other option is passed on to JupyterLab, e.g.:
  --no-browser          print the URL instead of opening a browser
  --ip 0.0.0.0          listen on every interface (in a container, to open it from the host)
  --port 8890           the port (default 8888, else the next free one)
  --ServerApp.token=T   a fixed token instead of a random one
As root (as in a container) --allow-root is added, unless --ServerApp.allow_root=False is given.
In a container: python -m fbcd_lab lab --ip 0.0.0.0 --no-browser (and publish the port)."""


def run_weights(args: argparse.Namespace) -> int:
    from fbcd_lab.weights import export_weights

    for folder in args.folders:
        path = export_weights(folder)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


def run_orderings(args: argparse.Namespace) -> int:
    from fbcd_lab.studies import orderings as od

    first = od.read_table(args.first)
    second = od.read_table(args.second) if args.second else None
    ratio = first["ratios"][0] if args.ratio is None else args.ratio
    for table, path in ((first, args.first), (second, args.second)):
        if table is not None and ratio not in table["ratios"]:
            raise ValueError(f"ratio (--ratio) {ratio} is not in the table of {path} (its ratios: "
                             f"{' '.join(table['ratios'])})")
    if second is not None and first.get("ranked_by") != second.get("ranked_by"):
        raise ValueError(f"the tables rank by different measures ({args.first}: {first.get('ranked_by')}, "
                         f"{args.second}: {second.get('ranked_by')}): their orderings do not compare")
    names = (_table_label(first), _table_label(second) if second else "paper")
    if names[0] == names[1]:
        names = ("first", "second")
    scores = (od.table_means(first, ratio),
              od.paper_means(first, ratio) if second is None else od.table_means(second, ratio))
    spreads = (od.table_spreads(first, ratio), {} if second is None else od.table_spreads(second, ratio))
    by_seed = [od.table_seed_scores(t, ratio) for t in (first, second) if t is not None]
    rows = od.side_by_side(*scores, names)
    if not rows:
        print(f"no recipe is finished in both orderings at ratio {ratio}")
        return 1
    print(f"ratio {ratio}; {first.get('measure', 'score')}")
    print(f"  {names[0]}: {args.first} ({_table_description(first)})")
    paper = (first.get("paper") or {}).get("text", "the paper")
    print(f"  {names[1]}: " + (f"{args.second} ({_table_description(second)})" if second else paper))
    width = max(len("recipe"), *(len(row["recipe"]) for row in rows))
    print(f"{'recipe':<{width}}", *(f"{name:>{max(len(name), 15)}} rank" for name in names), "moves")
    for row in rows:
        cells = []
        for name, spread in zip(names, spreads):
            sd = spread.get(row["recipe"])
            text = f"{row[name]:.2f}" + (f" ± {sd:.2f}" if sd is not None else "")
            cells.append(f"{text:>{max(len(name), 15)}} {row[f'rank ({name})']:>4}")
        print(f"{row['recipe']:<{width}}", *cells, f"{row['moves']:+5d}")
    order = [row["recipe"] for row in rows]
    gaps = [od.pair_gaps(scores, order) for scores in by_seed]
    flips = od.flipped_pairs(*scores)
    print(f"{len(flips)} of the {len(rows) * (len(rows) - 1) // 2} pairs change order" + (":" if flips else "."))
    for a, b in flips:
        verdicts = [f" ({g[a, b].verdict})" for g in gaps] + [""] * (2 - len(gaps))
        print(f"  {a} over {b} by {scores[0][a] - scores[0][b]:.2f} in {names[0]}{verdicts[0]}, under it by "
              f"{scores[1][b] - scores[1][a]:.2f} in {names[1]}{verdicts[1]}")
    if len(gaps) == 2:
        both = sum(all(g[pair].verdict == od.CALLED for g in gaps) for pair in flips)
        print(f"{both} of the {len(flips)} changes {'is' if both == 1 else 'are'} called in both orderings.")
    _print_pair_verdicts(order, gaps, names, by_seed)
    return 0


def _print_pair_verdicts(order: list[str], gaps: list[dict], names: tuple[str, str], by_seed: list[dict]) -> None:
    """Every pair's paired gap and verdict in each study table, and the noise floor beside them."""
    from fbcd_lab.studies.orderings import CALLED, NOISE_PAIR, noise_floor

    print(f"Every pair, the first over the second in the order of {names[0]}: the paired gap (points) ± its sd over "
          f"the seeds both trained (n), {CALLED} where every seed's gap has one sign and the mean exceeds twice "
          f"the sd:")
    width = max(len(f"{a} - {b}") for a, b in gaps[0])
    columns = [max(len(f"{names[i]}"), *(len(g[p].text()) for p in g)) for i, g in enumerate(gaps)]
    print(" ".join([f"{'pair':<{width}}", *(f"{names[i]:<{w}}" for i, w in enumerate(columns))]).rstrip())
    for a, b in gaps[0]:
        print(" ".join([f"{a + ' - ' + b:<{width}}", *(f"{g[a, b].text():<{w}}" for g, w in zip(gaps, columns))]).rstrip())
    floors = []
    for name, scores in zip(names, by_seed):
        floor = noise_floor(scores)
        floors.append(f"{name} {floor.text()}" if floor else f"{name} not measured (not both trained)")
    print(f"noise floor, {NOISE_PAIR[0]} - {NOISE_PAIR[1]} (one objective, so their gap is run-to-run noise): "
          + "; ".join(floors))


def _table_label(table: dict) -> str:
    """A study table's column name: its epochs."""
    return f"{table.get('epochs')} epochs"


def _table_description(table: dict) -> str:
    """A study table in a few words: study, dataset, backbones, preset and seeds."""
    seeds = " ".join(str(s) for s in table.get("seeds", []))
    return (f"{table.get('study')} on {table.get('dataset')}, {' '.join(table.get('backbones', []))}, "
            f"{table.get('preset')}, seeds {seeds}")


def run_decompose(args: argparse.Namespace) -> int:
    from fbcd_lab.analysis import decompose_saved, signed_points, waterfall_rows
    from fbcd_lab.records import read_record, save_record

    if args.out is not None and args.out.exists():
        raise ValueError(f"--out {args.out} exists: name a new file (nothing is overwritten)")
    first = read_record(args.ce[0] / RECORD_NAME, needs=("data.dataset",))
    data = _data_for(args, first["config"]["data_spec"])
    out = decompose_saved(args.ce, args.fbcd, data)
    seeds = out["seeds"]
    print(f"the gain of FBH + CDH over CE on {first['data']['dataset']}, mean-recall points, training seed"
          f"{'s' if len(seeds) > 1 else ''} {' '.join(map(str, seeds))}{' (mean ± sd)' if len(seeds) > 1 else ''}; "
          f"logit adjustment at tau {out['tau']:g}")
    rows = [*waterfall_rows(out), ("FBH + CDH (logit_adjusted)", out["levels"]["fbcd_logit_adjusted"], False)]
    for name, stats, step in rows:
        print(f"{name:>26} {signed_points(stats, step)}")
    if args.out is not None:
        save_record(out, args.out)
        print(f"wrote {args.out}")
    return 0


def run_summarize(args: argparse.Namespace) -> int:
    from fbcd_lab.records import SHOWN_KEYS, load_records, summarize, tested_imbalance, varying_columns

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = load_records(args.folder)
        imbalance = tested_imbalance(records, args.rule)
        metric = args.metric
        beside = {"mean_recall": ("accuracy",), "accuracy": ("mean_recall",)}.get(metric, ()) if imbalance else ()
        rows = summarize(records, metric, args.rule, also=beside)
    left_out = [str(warning.message) for warning in caught]
    if not rows:  # one line: nothing to show, and why
        raise ValueError(f"no usable results.json under {args.folder}: {'; '.join(left_out)}" if left_out else
                         f"no results.json under {args.folder}")
    for message in left_out:
        print(f"warning: {message}", file=sys.stderr)
    cols = [*SHOWN_KEYS[:3], "recipe", *SHOWN_KEYS[3:], *varying_columns(rows), "code", "status", "n"]
    rows.sort(key=lambda row: [(0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v)) for v in
                               (row[c] for c in cols)])  # numbers in numeric order: ratio 10 before 100
    cells = [{c: "-" if c in _UNUSED_BY.get(row["method"], ()) else _cell(row[c]) for c in cols} for row in rows]
    shown = (metric, *beside)
    numbers = [[text for name in shown for text in _mean_sd_text(row, name)] for row in rows]
    width = {c: max(len(c), *(len(cell[c]) for cell in cells)) for c in cols}
    print(f"{' and '.join(shown)} (%) under the {args.rule} rule: mean and sample sd over training seeds "
          f"(u, lam and cluster '-' where the method has no head that reads them)")
    if imbalance is None:
        print("the test sets are balanced (there top-1 accuracy equals mean recall)")
    else:
        print(f"the test sets are imbalanced ({imbalance[0]:,} to {imbalance[1]:,} images a class): rank by "
              f"mean recall; top-1 accuracy counts every class by its test images and hides the tail")
    names = [f"{label:>{12 if i % 2 == 0 else 8}}" for name in shown
             for i, label in enumerate((SHORT_METRIC.get(name, name), "sd"))]
    print(" ".join(f"{c:>{width[c]}}" for c in cols), *names, " seeds")
    for cell, texts, row in zip(cells, numbers, rows):
        values = [f"{t:>{12 if i % 2 == 0 else 8}}" for i, t in enumerate(texts)]
        print(" ".join(f"{cell[c]:>{width[c]}}" for c in cols), *values, f" {row['seeds']}")
    return 0


SHORT_METRIC = {"mean_recall": "mean recall", "accuracy": "top-1", "ece": "ECE"}
_UNUSED_BY = {"ce": ("u", "lam", "cluster"), "fbh": ("u", "cluster"), "cdh": ("lam",)}  # by the row's head


def _mean_sd_text(row: dict, metric: str) -> tuple[str, str]:
    """A summary row's mean and sd of ``metric`` in %, to two places as ``study`` prints them ('-'
    where there is none)."""
    if row[f"{metric}_mean"] is None:
        return "-", "-"
    return f"{100 * row[f'{metric}_mean']:.2f}", f"{100 * row[f'{metric}_std']:.2f}" if row["n"] > 1 else "-"


def _cell(value) -> str:
    """A table cell: '-' for nothing, numbers without trailing zeros, the rest as text."""
    if value is None or value == () or value == "[]":
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def run_study(args: argparse.Namespace) -> int:
    from fbcd_lab.studies.runner import run_study as run

    try:
        run(args.name, args.dataset, args.out, ratios=args.ratios, seeds=args.seeds, cells=args.cells,
            preset_name=args.preset, epochs=args.epochs, backbone=args.backbone, data_root=args.data_root,
            download=args.download, n_max=args.n_max, image_size=args.image_size, device=args.device,
            paper_column=args.paper_column, progress=not args.no_progress, workers=args.workers,
            precision=args.precision, table_only=args.table_only)
    except KeyboardInterrupt:
        print("python -m fbcd_lab study: interrupted; the finished runs and the current run's last checkpoint "
              "are kept: run the same command again to continue", file=sys.stderr)
        return 130
    return 0


METHOD_OPTIONS = ("method", "u", "lam", "alpha", "cluster", "kernel_size", "loss", "balancing", "augment",
                  "mixup_alpha", "focal_gamma", "la_tau", "cb_beta", "deferred_epoch", "weight_l1", "l2_weights",
                  "neck", "focal_weighting", "sampler")


def add_method_options(parser: argparse.ArgumentParser) -> None:
    """The method's options: a recipe and/or the four choices (head, loss, balancing, augmentation)
    with their parameters; an option left out takes the recipe's value, else the paper's default."""
    default = MethodConfig()
    parser.add_argument("--recipe", choices=tuple(RECIPES),
                        help="a row of the paper's Table 1 (or la_loss, balanced_softmax); options below override it")
    parser.add_argument("--method", choices=METHODS, help="head: ce, fbh, cdh or fbcd (FBH + CDH); "
                                                          "required without --recipe")
    parser.add_argument("--u", type=checked("u"), help=f"clusters of the largest class (default {default.u})")
    parser.add_argument("--lam", type=checked("lam"), help=f"lambda, weight of L1 (default {default.lam})")
    parser.add_argument("--alpha", type=checked("alpha"),
                        help=f"soft label of the own cluster, in (0, 1] (default {default.alpha})")
    parser.add_argument("--cluster", choices=STRATEGIES, help="class division (default random)")
    parser.add_argument("--kernel-size", type=checked("kernel_size"),
                        help=f"FBH kernel size (default {default.kernel_size})")
    parser.add_argument("--loss", choices=tuple(LOSSES), help="main head's loss (default ce)")
    parser.add_argument("--balancing", choices=BALANCING,
                        help="class balancing: none (default), reweight, drw, resample, drs")
    parser.add_argument("--augment", choices=AUGMENTATIONS,
                        help="none (default), mixup, or mixup_until_switch (Mixup until drw / drs switch on)")
    parser.add_argument("--mixup-alpha", type=checked("mixup_alpha"),
                        help=f"Mixup's Beta(alpha, alpha) (default {default.mixup_alpha})")
    parser.add_argument("--focal-gamma", type=checked("focal_gamma"), help=f"default {default.focal_gamma}")
    parser.add_argument("--focal-weighting", choices=FOCAL_WEIGHTINGS,
                        help="focal loss with class weights: cui (default; Cui et al.'s class-balanced focal loss, "
                             "the weight multiplies the focal term) or ldam_drw (LDAM-DRW's code: the weight inside "
                             "the exponent)")
    parser.add_argument("--la-tau", type=checked("la_tau"), help=f"logit-adjusted loss tau (default {default.la_tau})")
    parser.add_argument("--cb-beta", type=checked("cb_beta"),
                        help=f"class-balanced weights' beta (default {default.cb_beta})")
    parser.add_argument("--sampler", choices=SAMPLERS,
                        help="how resample / drs draw: class_balanced (default; every class 1/C) or "
                             "effective_number (LDAM-DRW's ImbalancedDatasetSampler)")
    parser.add_argument("--deferred-epoch", type=checked("deferred_epoch"),
                        help="epoch (from 0) at which drw / drs switch on (default: the learning-rate decay "
                             "nearest 80 %% of the epochs)")
    parser.add_argument("--weight-l1", action=argparse.BooleanOptionalAction,
                        help="class weights apply to L1 as well as L2 (default yes)")
    parser.add_argument("--l2-weights", choices=L2_WEIGHTS,
                        help="with the class-division head and reweight / drw: weight L2 by each sample's class "
                             "(default) or by its cluster")
    parser.add_argument("--neck", choices=NECKS,
                        help="where D is not a multiple of C: shared (default: FBH adds a balanced neck both heads "
                             "read), always (the neck without FBH too: the control for its extra layer), fbh_only "
                             "(only FBH reads it)")


def _sized_for(args: argparse.Namespace, data: LongTailData) -> tuple[str, str, LongTailData]:
    """The run's backbone, preset name and data by :func:`~fbcd_lab.config.sized_protocol` (the rule
    ``study`` follows too), said in a line when they differ from the paper's."""
    sized = sized_protocol(args.dataset, len(data.train), data.image_size, args.backbone, args.preset,
                           bool(args.image_size))
    if sized.image_size is not None:
        data = _data_for(args, image_size=sized.image_size)
    if sized.note:
        print(sized.note)
    return sized.backbone, sized.preset, data


def method_from_args(args: argparse.Namespace, backbone: str) -> MethodConfig:
    """The run's MethodConfig on ``backbone``: the recipe's fields, then every method option given."""
    if args.recipe is None and args.method is None:
        raise ValueError("give --method or --recipe")
    fields = {k: getattr(args, k) for k in METHOD_OPTIONS if getattr(args, k) is not None}
    method = recipe(args.recipe, backbone, **fields) if args.recipe else MethodConfig(backbone=backbone, **fields)
    unused = method.unused(fields)
    if unused:  # it would change nothing but the record, and split the run from its recipe's pool
        named = "; ".join(f"{'--no-weight-l1' if k == 'weight_l1' else '--' + k.replace('_', '-')} (read only by {v})"
                          for k, v in unused.items())
        raise ValueError(f"options with no effect on this run: {named}; drop them")
    return method


def build_parser() -> argparse.ArgumentParser:
    from fbcd_lab.lab_preset import HEADLESS_DEFAULT, LAB_PRESETS, SUMMARY

    parser = OneLineParser(prog="python -m fbcd_lab", description=__doc__.replace("``", ""),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", title="commands")

    lab = sub.add_parser("lab", help="open the notebooks in JupyterLab, or execute them headless into HTML",
                         description="Open the notebooks in JupyterLab (notebook 1 first), or with --headless\n"
                                     "execute them all and write one HTML file each (figures work offline).",
                         epilog=LAB_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                         allow_abbrev=False)
    lab.add_argument("--headless", type=Path, metavar="HTML_DIR",
                     help="execute every notebook and write HTML_DIR/<notebook>.html instead, printing each "
                          "notebook with its time")
    lab.add_argument("--preset", choices=tuple(LAB_PRESETS),
                     help="size of the notebooks' runs: " + ", ".join(f"{k} ({v})" for k, v in SUMMARY.items())
                          + "; sets FBCD_PRESET for JupyterLab's kernels (default: $FBCD_PRESET, else full; "
                          f"with --headless, else {HEADLESS_DEFAULT})")
    lab.set_defaults(run=run_lab, jupyter_options=[])

    demo = sub.add_parser("demo", help="CE versus FBH + CDH on the embedded digits; per-class recall")
    demo.add_argument("--imbalance-ratio", type=checked("imbalance_ratio"), default=100.0, help="largest / smallest class (>= 1)")
    demo.add_argument("--u", type=checked("u"), default=10, help="clusters of the largest class (>= 1)")
    demo.add_argument("--lam", type=checked("lam"), default=1.5, help="weight lambda of the FBH loss (>= 0)")
    demo.add_argument("--seed", type=checked("seed"), default=0, help="training seed (division, initialisation, batches)")
    demo.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                    help="auto (default): CUDA when present, else the CPU")
    demo.set_defaults(run=run_demo)

    tr = sub.add_parser("train", help="train one method; writes OUT/results.json and OUT/checkpoint.pt")
    tr.add_argument("--dataset", required=True, choices=SOURCES, help="data source")
    tr.add_argument("--data-root", type=path_arg, help="folder of the data (all but digits)")
    tr.add_argument("--download", action="store_true", help="let torchvision download CIFAR into --data-root")
    tr.add_argument("--imbalance-ratio", type=ratio_or_natural, default=100.0,
                    help="largest / smallest class, >= 1, or natural: keep every training image as counted, the "
                         "record giving the measured ratio (default 100; imagenet_lt is always natural)")
    tr.add_argument("--profile", choices=PROFILES, default="exp", help="long-tail profile (default exp)")
    tr.add_argument("--n-max", type=checked("n_max"), help="images of the largest class (default: the smallest class size)")
    add_method_options(tr)
    tr.add_argument("--backbone", choices=BACKBONES, help="default: small_cnn (digits), resnet32 (CIFAR), "
                                                          "resnet18 (imagefolder, tiny_imagenet), "
                                                          "resnext50 (imagenet_lt); resnet8 for an "
                                                          f"imagefolder under {SMALL_FOLDER_IMAGES:,} "
                                                          "training images")
    tr.add_argument("--preset", choices=tuple(PRESETS),
                    help="optimisation preset (default by dataset: paper_cifar, paper_tiny_imagenet, ...; "
                         f"cpu_short for an imagefolder under {SMALL_FOLDER_IMAGES:,} training images)")
    tr.add_argument("--epochs", type=checked("epochs"), help="override the preset's epochs (>= 1)")
    tr.add_argument("--batch-size", type=checked("batch_size"), help="override the preset's batch size (>= 1)")
    tr.add_argument("--lr", type=checked("lr"), help="override the initial learning rate (> 0)")
    tr.add_argument("--weight-decay", type=checked("weight_decay"), help="override the weight decay (>= 0)")
    tr.add_argument("--val-per-class", type=checked("val_per_class"), default=0,
                    help="validation images per class, from those the long tail leaves unused (default 0)")
    tr.add_argument("--val-folder", action="store_true",
                    help="validate on the data's own split instead: an image folder's val/<class>/ folders, "
                         "ImageNet-LT's ImageNet_LT_val.txt")
    tr.add_argument("--selection", choices=("final", "best_val"), default="final",
                    help="report the final epoch (default) or the best epoch on the validation split")
    tr.add_argument("--seed", type=checked("seed"), default=0,
                    help="training seed: division, initialisation, batch order, augmentation (default 0)")
    tr.add_argument("--subset-seed", type=checked("subset_seed"), default=0,
                    help="seed of the long-tailed subset (default 0, fixed as in LDAM-DRW, so a spread over "
                         "--seed is training variance)")
    tr.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                    help="auto (default): CUDA when present, else the CPU")
    tr.add_argument("--workers", type=checked("workers"),
                    help="DataLoader processes decoding streamed images (default: min(8, CPUs) for streamed "
                         "sets, 0 for sets held in memory, which need none)")
    tr.add_argument("--precision", default="auto", choices=PRECISIONS,
                    help="auto: bf16 autocast on CUDA and AMX CPUs, else fp32")
    tr.add_argument("--image-size", type=checked("image_size"),
                    help="resize images to this square size (image folders: needed when sizes differ)")
    tr.add_argument("--deterministic", action="store_true",
                    help="deterministic kernels on CUDA (torch.use_deterministic_algorithms; slower)")
    tr.add_argument("--sync-bn", action="store_true",
                    help="with several processes (torchrun): BatchNorm statistics of the whole global batch "
                         "(SyncBatchNorm) instead of each process's part; no effect in one process")
    tr.add_argument("--resume", action="store_true",
                    help="continue the run in OUT with the same options (a larger --epochs extends it)")
    tr.add_argument("--overwrite", action="store_true", help="replace the run already in OUT")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    tr.add_argument("--out", type=path_arg, required=True, help="output folder")
    tr.set_defaults(run=run_train)

    ev = sub.add_parser("eval", help="re-evaluate a checkpoint on its test set")
    ev.add_argument("--checkpoint", type=path_arg, required=True, help="checkpoint.pt written by train")
    ev.add_argument("--data-root", type=path_arg, help="folder of the data (all but digits)")
    ev.add_argument("--selection", choices=("final", "best_val"), default="final",
                    help="report the final epoch (default) or the best epoch on the validation split")
    ev.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                    help="auto (default): CUDA when present, else the CPU")
    ev.add_argument("--record-name", default="eval.json", help="record written beside the checkpoint")
    ev.set_defaults(run=run_eval)

    we = sub.add_parser("weights", help="write the model-only weights (model.pt, ~0.3 MB for ResNet-8) of finished "
                                        "runs beside their results.json, from their checkpoints")
    we.add_argument("folders", nargs="+", type=path_arg, help="run folders holding results.json and checkpoint.pt")
    we.set_defaults(run=run_weights)
    de = sub.add_parser("decompose", help="take the gain of FBH + CDH over CE apart (prior correction, better "
                                          "features, the rest) from saved runs: records and model-only weights")
    de.add_argument("--ce", nargs="+", type=path_arg, required=True,
                    help="CE run folders (results.json and model.pt), one per training seed")
    de.add_argument("--fbcd", nargs="+", type=path_arg, required=True,
                    help="FBH + CDH run folders of the same training seeds and data")
    de.add_argument("--data-root", type=path_arg, help="folder of the data the runs trained on (all but digits)")
    de.add_argument("--out", type=path_arg, help="also write the decomposition as JSON to this new file")
    de.set_defaults(run=run_decompose)
    su = sub.add_parser("summarize", help="mean and spread over seeds of a folder of results.json")
    su.add_argument("folder", type=path_arg, help="folder searched for results.json files (recursively)")
    su.add_argument("--metric", default="mean_recall", choices=("mean_recall", "accuracy", "ece"),
                    help="the number tabulated (default mean_recall; where the test sets are imbalanced, top-1 "
                         "accuracy is shown beside mean recall)")
    su.add_argument("--rule", default="top_cluster", choices=RULES, help="prediction rule (default top_cluster)")
    su.set_defaults(run=run_summarize)

    od = sub.add_parser("orderings", help="two study tables (or one and the paper) side by side: ranks, and the "
                                         "pairs of recipes whose order changes")
    od.add_argument("first", type=path_arg, help="a study's table.json, or the study folder holding it")
    od.add_argument("second", type=path_arg, nargs="?",
                    help="another study's table.json or folder (default: the paper's numbers for the first)")
    od.add_argument("--ratio", type=text_arg, help="imbalance ratio to compare (default: the first table's first)")
    od.set_defaults(run=run_orderings)

    st = sub.add_parser("study", help="run a named study over ratios and seeds; its table beside the paper's")
    st.add_argument("name", choices=tuple(STUDIES),
                    help="; ".join(f"{name}: {study.description}" for name, study in STUDIES.items()))
    st.add_argument("--dataset", required=True, choices=SOURCES, help="data source")
    st.add_argument("--data-root", type=path_arg, help="folder of the data (all but digits)")
    st.add_argument("--download", action="store_true", help="let torchvision download CIFAR into --data-root")
    st.add_argument("--out", type=path_arg, required=True,
                    help="runs go to OUT/NAME/r<ratio>/<cell>/seed<seed>/, the table to OUT/NAME/table.md and .json")
    st.add_argument("--ratios", nargs="+", type=ratio_or_natural,
                    help="imbalance ratios, natural for the training set as counted (default: the study's, "
                         "100 50 10; table5: 100; imagenet_lt is always natural)")
    st.add_argument("--seeds", nargs="+", type=checked("seed"),
                    help="training seeds (default 0 1 2); the long-tailed subset keeps seed 0")
    st.add_argument("--cells", nargs="+", metavar="CELL",
                    help="run only these cells (default all): table1 recipe names, table4 ce fbh cdh fbcd, "
                         "fig4 cdh-u<u> and fbcd-<division>, table5 <recipe>-<backbone>")
    st.add_argument("--backbone", choices=BACKBONES,
                    help="default by dataset as for train; table5: only that one of its three backbones")
    st.add_argument("--preset", choices=tuple(PRESETS), help="optimisation preset (default by dataset)")
    st.add_argument("--epochs", type=checked("epochs"), help="override the preset's epochs (>= 1)")
    st.add_argument("--n-max", type=checked("n_max"),
                    help="images of the largest class (default: the smallest class size)")
    st.add_argument("--image-size", type=checked("image_size"),
                    help="resize images to this square size (image folders: needed when sizes differ)")
    st.add_argument("--paper-column", choices=tuple(PAPER_DATASETS),
                    help="paper dataset to compare with (default: CIFAR and ImageNet-LT by name, an image "
                         "folder by its class count: 10, 100, 200 = tiny_imagenet)")
    st.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                    help="auto (default): CUDA when present, else the CPU")
    st.add_argument("--workers", type=checked("workers"),
                    help="DataLoader processes decoding streamed images (default as for train)")
    st.add_argument("--precision", default="auto", choices=PRECISIONS,
                    help="auto (default): bf16 autocast on CUDA and AMX CPUs, else fp32; resolved once, named in "
                         "the table's header and part of the study's protocol: runs trained in another precision "
                         "are not continued")
    st.add_argument("--no-progress", action="store_true", help="no progress bar")
    st.add_argument("--table-only", action="store_true",
                    help="train nothing: the table of the runs already finished with these settings, (n) per cell")
    st.set_defaults(run=run_study)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; bad values and files exit 2 with a one-line message, and no
    command prints the help (the list of commands) to stderr and returns 2."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.command is None:  # no command: the list of commands, as a usage error
        parser.print_help(sys.stderr)
        return 2
    if args.command == "lab":  # lab alone passes what it does not know on to JupyterLab
        args.jupyter_options = unknown
    elif unknown:
        parser.exit(2, f"{parser.prog} {args.command}: error: unrecognized arguments: {' '.join(unknown)} "
                       f"({parser.prog} {args.command} --help lists what it takes)\n")
    signal.signal(signal.SIGTERM, _interrupt)  # a job scheduler's stop ends a run as Ctrl-C does: recorded
    with warnings.catch_warnings():  # a warning is one line, as an error is (restored on return)
        warnings.showwarning = lambda message, *_: print(f"{parser.prog} {args.command}: warning: {message}",
                                                         file=sys.stderr)
        return _run_command(parser, args)


def _run_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the parsed command; its errors as one line (status 2), an interrupt as status 130."""
    try:
        status = args.run(args)
        sys.stdout.flush()  # a closed pipe (`... | head`) shows here, not in the interpreter's last flush
        return status
    except BrokenPipeError:  # the reader stopped reading: end quietly, as a command killed by SIGPIPE does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except RuntimeError as err:
        if not lost_a_process(err):
            raise
        reason = str(err).splitlines()[0].split("] ", 1)[-1].split(". ")[0]
        print(f"{parser.prog} {args.command}: error: process {rank()} stops: another process of this torchrun job "
              f"ended ({reason}); {Path(args.out) / CHECKPOINT_NAME} keeps the last finished epoch: run the same "
              f"torchrun command with --resume", file=sys.stderr)
        return 1
    except (ValueError, OSError) as err:
        lines = [line for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
        message = _naming_the_option(lines[-1] if len(lines) > 1 else lines[0], parser, args.command)
        if is_main():  # under torchrun every process fails alike: one line is enough
            print(f"{parser.prog} {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog} {args.command}: interrupted", file=sys.stderr)
        return 130


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _naming_the_option(message: str, parser: argparse.ArgumentParser, command: str) -> str:
    """A library error starts with the parameter's name (``n_max must be ...``); add the option that
    sets it (``n_max (--n-max) must be ...``) so the user knows what to change."""
    name, _, rest = message.partition(" ")
    sub = next(a for a in parser._subparsers._group_actions if a.dest == "command").choices[command]
    options = {a.dest: a.option_strings[0] for a in sub._actions if a.option_strings}
    return f"{name} ({options[name]}) {rest}" if name in options and options[name] not in message else message
