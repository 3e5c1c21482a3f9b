"""Command line: ``python -m fbcd_lab {lab,demo,train,eval,summarize}``.

``lab`` opens the notebooks in JupyterLab (``--headless DIR`` executes them and writes HTML);
``demo`` trains CE and FBH + CDH on the embedded digits and prints per-class recall side by side;
``train`` runs one experiment and writes ``results.json`` and ``checkpoint.pt`` to ``--out``;
``eval`` re-evaluates a checkpoint; ``summarize`` tabulates a folder of results over seeds.
Bad values exit with status 2 and a one-line message naming the option.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from fbcd_lab.class_division import STRATEGIES
from fbcd_lab.config import DEFAULT_BACKBONE, DEFAULT_PRESET, METHODS, PRESETS, MethodConfig, preset
from fbcd_lab.data.datasets import build_long_tailed
from fbcd_lab.data.long_tail import PROFILES
from fbcd_lab.data.sources import SOURCES
from fbcd_lab.models.backbones import BACKBONES
from fbcd_lab.models.predict import RULES
from fbcd_lab.runtime import PRECISIONS

CHECKPOINT_NAME = "checkpoint.pt"


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def ranged(kind: type, low: float, high: float | None = None, low_open: bool = False) -> Callable[[str], float]:
    """An argparse type that parses ``kind`` and checks it lies in [low, high] (or (low, high])."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None
        too_low = value <= low if low_open else value < low
        if too_low or (high is not None and value > high):
            bracket = "(" if low_open else "["
            upper = f"{high}]" if high is not None else "inf)"
            raise argparse.ArgumentTypeError(f"must be in {bracket}{low}, {upper}, got {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def recall_table(counts: Sequence[int], classes: Sequence[str], results: dict[str, dict]) -> str:
    """Per-class recall of several runs as a fixed-width text table, with summary rows."""
    names = list(results)
    head = f"{'class':>12} {'n_train':>7} " + " ".join(f"{n:>8}" for n in names)
    rows = [head, "-" * len(head)]
    for c, (name, n) in enumerate(zip(classes, counts)):
        cells = " ".join(f"{results[k]['per_class_recall'][c]:>8.3f}" for k in names)
        rows.append(f"{name[:12]:>12} {n:>7} {cells}")
    rows.append("-" * len(head))
    rows.append(f"{'mean recall':>12} {sum(counts):>7} " + " ".join(f"{results[k]['mean_recall']:>8.3f}" for k in names))
    for group in ("many", "medium", "few"):
        cells = [results[k]["group_recall"][group] for k in names]
        rows.append(f"{group:>12} {'':>7} " + " ".join(f"{'empty':>8}" if v is None else f"{v:>8.3f}" for v in cells))
    return "\n".join(rows)


def run_demo(args: argparse.Namespace) -> int:
    from fbcd_lab.evaluation import evaluate
    from fbcd_lab.training import train

    data = build_long_tailed("digits", args.imbalance_ratio, seed=args.seed)
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


def _data_for(args: argparse.Namespace, spec: dict | None = None):
    if spec is not None:
        return build_long_tailed(spec.pop("name"), spec.pop("imbalance_ratio"), root=args.data_root, **spec)
    ratio = None if args.dataset == "imagenet_lt" else args.imbalance_ratio
    return build_long_tailed(args.dataset, ratio, profile=args.profile, n_max=args.n_max, seed=args.seed,
                             root=args.data_root, download=args.download, val_per_class=args.val_per_class)


def _report(run, data, selection: str, out: Path, record_name: str) -> None:
    from fbcd_lab.records import evaluate_run, run_record, save_record

    metrics, protocol = evaluate_run(run, data, selection)
    save_record(run_record(run, data, metrics, protocol), out / record_name)
    print(recall_table(data.counts, data.classes, {r.replace("_", " ")[:8]: metrics[r] for r in RULES}))
    print(f"protocol: {protocol}; top-1 {metrics['top_cluster']['accuracy']:.4f}; "
          f"{run.epochs_done} epochs in {run.wall_time_s:.1f} s on {run.device} ({run.precision}); "
          f"wrote {out / record_name}")


def run_train(args: argparse.Namespace) -> int:
    from fbcd_lab.checkpoints import load_checkpoint
    from fbcd_lab.training import fit, start_run

    data = _data_for(args)
    method = MethodConfig(method=args.method, backbone=args.backbone or DEFAULT_BACKBONE[args.dataset],
                          u=args.u, lam=args.lam, alpha=args.alpha, cluster=args.cluster,
                          kernel_size=args.kernel_size)
    overrides = {k: v for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size), ("lr", args.lr),
                                   ("weight_decay", args.weight_decay)) if v is not None}
    optim = preset(args.preset or DEFAULT_PRESET[args.dataset], **overrides)
    if args.selection == "best_val" and not args.val_per_class:
        raise ValueError("--selection best_val needs --val-per-class > 0")
    checkpoint = args.out / CHECKPOINT_NAME
    if args.resume and checkpoint.is_file():
        run = load_checkpoint(checkpoint, data, args.device)
        print(f"resuming from {checkpoint} after epoch {run.epochs_done} (its saved settings are used)")
    else:
        run = start_run(data, method, optim, seed=args.seed, device=args.device, precision=args.precision)
    print(f"{data.name}: {len(data.train)} training images, counts {list(data.counts)}; method {run.method.method}, "
          f"K = {run.division.num_clusters}, imbalance after division {run.division.imbalance_after():.1f}")
    fit(run, data, checkpoint=checkpoint, progress=not args.no_progress, num_workers=args.workers)
    _report(run, data, args.selection, args.out, "results.json")
    return 0 if not run.stopped else 130


def run_eval(args: argparse.Namespace) -> int:
    from fbcd_lab.checkpoints import load_checkpoint, read_checkpoint

    data = _data_for(args, dict(read_checkpoint(args.checkpoint)["data_spec"]))
    run = load_checkpoint(args.checkpoint, data, args.device)
    _report(run, data, args.selection, args.checkpoint.parent, args.record_name)
    return 0


def run_lab(args: argparse.Namespace) -> int:
    from fbcd_lab.lab_preset import lab_preset
    from fbcd_lab.notebooks import open_lab, run_headless

    if args.headless is None:
        return open_lab()
    for path in run_headless(args.headless, lab_preset(args.preset).name):
        print(f"wrote {path}")
    return 0


def run_summarize(args: argparse.Namespace) -> int:
    from fbcd_lab.records import load_records, summarize

    rows = summarize(load_records(args.folder), args.metric, args.rule)
    if not rows:
        print(f"no results.json under {args.folder}")
        return 1
    cols = ["dataset", "imbalance_ratio", "method", "backbone", "u", "lam", "epochs", "selection", "n"]
    print(" ".join(f"{c:>15}" for c in cols + ["mean", "std"]))
    for row in rows:
        print(" ".join(f"{str(row[c]):>15}" for c in cols),
              f"{row[f'{args.metric}_mean']:>15.4f} {row[f'{args.metric}_std']:>15.4f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m fbcd_lab", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    lab = sub.add_parser("lab", help="open the notebooks in JupyterLab, or execute them headless into HTML")
    lab.add_argument("--headless", type=Path, metavar="HTML_DIR",
                     help="execute every notebook and write HTML_DIR/<notebook>.html instead")
    lab.add_argument("--preset", choices=("ci", "binder", "full"),
                     help="size of the notebooks' runs (default: $FBCD_PRESET, else full)")
    lab.set_defaults(run=run_lab)

    demo = sub.add_parser("demo", help="CE versus FBH + CDH on the embedded digits; per-class recall")
    demo.add_argument("--imbalance-ratio", type=ranged(float, 1), default=100.0, help="largest / smallest class (>= 1)")
    demo.add_argument("--u", type=ranged(int, 1), default=10, help="clusters of the largest class (>= 1)")
    demo.add_argument("--lam", type=ranged(float, 0), default=1.5, help="weight lambda of the FBH loss (>= 0)")
    demo.add_argument("--seed", type=ranged(int, 0), default=0, help="seed of the subset, division and training")
    demo.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    demo.set_defaults(run=run_demo)

    tr = sub.add_parser("train", help="train one method; writes OUT/results.json and OUT/checkpoint.pt")
    tr.add_argument("--dataset", required=True, choices=SOURCES, help="data source")
    tr.add_argument("--data-root", type=Path, help="folder of the data (all but digits)")
    tr.add_argument("--download", action="store_true", help="let torchvision download CIFAR into --data-root")
    tr.add_argument("--imbalance-ratio", type=ranged(float, 1), default=100.0,
                    help="largest / smallest class, >= 1 (default 100; ignored for imagenet_lt)")
    tr.add_argument("--profile", choices=PROFILES, default="exp", help="long-tail profile (default exp)")
    tr.add_argument("--n-max", type=ranged(int, 1), help="images of the largest class (default: the smallest class size)")
    tr.add_argument("--method", required=True, choices=METHODS, help="ce, fbh, cdh or fbcd (FBH + CDH)")
    tr.add_argument("--u", type=ranged(int, 1), default=10, help="clusters of the largest class, >= 1 (default 10)")
    tr.add_argument("--lam", type=ranged(float, 0), default=1.5, help="lambda, weight of L1, >= 0 (default 1.5)")
    tr.add_argument("--alpha", type=ranged(float, 0, 1, low_open=True), default=0.5,
                    help="soft label of the own cluster, in (0, 1] (default 0.5)")
    tr.add_argument("--cluster", choices=STRATEGIES, default="random", help="class division (default random)")
    tr.add_argument("--kernel-size", type=ranged(int, 1), default=3, help="FBH kernel size, >= 1 (default 3)")
    tr.add_argument("--backbone", choices=BACKBONES, help="default: small_cnn (digits), resnet32 (CIFAR), "
                                                          "resnet18 (imagefolder), resnext50 (imagenet_lt)")
    tr.add_argument("--preset", choices=tuple(PRESETS), help="optimisation preset (default by dataset)")
    tr.add_argument("--epochs", type=ranged(int, 1), help="override the preset's epochs (>= 1)")
    tr.add_argument("--batch-size", type=ranged(int, 1), help="override the preset's batch size (>= 1)")
    tr.add_argument("--lr", type=ranged(float, 0, low_open=True), help="override the initial learning rate (> 0)")
    tr.add_argument("--weight-decay", type=ranged(float, 0), help="override the weight decay (>= 0)")
    tr.add_argument("--val-per-class", type=ranged(int, 0), default=0,
                    help="validation images per class, from those the long tail leaves unused (default 0)")
    tr.add_argument("--selection", choices=("final", "best_val"), default="final",
                    help="report the final epoch (default) or the best epoch on the validation split")
    tr.add_argument("--seed", type=ranged(int, 0), default=0, help="seed of the subset, division and training (>= 0)")
    tr.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    tr.add_argument("--workers", type=ranged(int, 0), default=0,
                    help="DataLoader processes decoding streamed images (ImageNet-LT; default 0)")
    tr.add_argument("--precision", default="auto", choices=PRECISIONS,
                    help="auto: bf16 autocast on CUDA and AMX CPUs, else fp32")
    tr.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt if it exists")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    tr.add_argument("--out", type=Path, required=True, help="output folder")
    tr.set_defaults(run=run_train)

    ev = sub.add_parser("eval", help="re-evaluate a checkpoint on its test set")
    ev.add_argument("--checkpoint", type=Path, required=True, help="checkpoint.pt written by train")
    ev.add_argument("--data-root", type=Path, help="folder of the data (all but digits)")
    ev.add_argument("--selection", choices=("final", "best_val"), default="final")
    ev.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ev.add_argument("--record-name", default="eval.json", help="record written beside the checkpoint")
    ev.set_defaults(run=run_eval)

    su = sub.add_parser("summarize", help="mean and spread over seeds of a folder of results.json")
    su.add_argument("folder", type=Path)
    su.add_argument("--metric", default="mean_recall", choices=("mean_recall", "accuracy", "ece"))
    su.add_argument("--rule", default="top_cluster", choices=RULES)
    su.set_defaults(run=run_summarize)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; bad values exit 2 with a one-line message."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"{parser.prog} {args.command}: error: {err}", file=sys.stderr)
        return 2
