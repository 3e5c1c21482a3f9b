"""``python -m fbcd_lab demo``: CE and FBH + CDH trained on the embedded digits, per-class recall side
by side."""

from __future__ import annotations

import argparse

from fbcd_lab.cli.options import add_device_option, checked
from fbcd_lab.cli.report import recall_table
from fbcd_lab.config import PRESETS, MethodConfig
from fbcd_lab.data.datasets import build_long_tailed


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


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``demo`` to the subcommands ``sub``."""
    demo = sub.add_parser("demo", help="CE versus FBH + CDH on the embedded digits; per-class recall")
    demo.add_argument("--imbalance-ratio", type=checked("imbalance_ratio"), default=100.0, help="largest / smallest class (>= 1)")
    demo.add_argument("--u", type=checked("u"), default=10, help="clusters of the largest class (>= 1)")
    demo.add_argument("--lam", type=checked("lam"), default=1.5, help="weight lambda of the FBH loss (>= 0)")
    demo.add_argument("--seed", type=checked("seed"), default=0, help="training seed (division, initialisation, batches)")
    add_device_option(demo)
    demo.set_defaults(run=run_demo)
