"""``python -m fbcd_lab weights``: finished runs' model-only weights written beside their records."""

from __future__ import annotations

import argparse
from pathlib import Path

from fbcd_lab.cli.options import path_arg


def run_weights(args: argparse.Namespace) -> int:
    from fbcd_lab.checks import check_distinct
    from fbcd_lab.weights import export_weights

    check_distinct("folders", [str(Path(folder).resolve()) for folder in args.folders])
    for folder in args.folders:
        path = export_weights(folder)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``weights`` to the subcommands ``sub``."""
    we = sub.add_parser("weights", help="write the model-only weights (model.pt, ~0.3 MB for ResNet-8) of finished "
                                        "runs beside their results.json, from their checkpoints")
    we.add_argument("folders", nargs="+", type=path_arg, help="run folders holding results.json and checkpoint.pt")
    we.set_defaults(run=run_weights)
