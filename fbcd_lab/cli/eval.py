"""``python -m fbcd_lab eval``: a checkpoint re-evaluated on its test set, its record written beside it."""

from __future__ import annotations

import argparse

from fbcd_lab.cli.options import add_data_root, add_device_option, add_selection_option, data_for, path_arg
from fbcd_lab.cli.report import report
from fbcd_lab.run_folder import EVAL_NAME, check_new_file, check_record_name, hold_folder


def run_eval(args: argparse.Namespace) -> int:
    from fbcd_lab.checkpoints import load_checkpoint, read_checkpoint

    name = check_record_name(EVAL_NAME if args.record_name is None else args.record_name)
    check_new_file(args.checkpoint.parent / name, "--record-name", "eval", args.overwrite,
                   default=args.record_name is None)
    data = data_for(args, read_checkpoint(args.checkpoint)["data_spec"])
    with hold_folder(args.checkpoint.parent):  # not while a run trains there
        run = load_checkpoint(args.checkpoint, data, args.device)
        # the checkpoint read, for train --overwrite to know the record (run_folder.derived_records)
        mark = {"written_by": "eval", "checkpoint": str(args.checkpoint.resolve())}
        report(run, data, args.selection, args.checkpoint.parent, name, mark)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``eval`` to the subcommands ``sub``."""
    ev = sub.add_parser("eval", help="re-evaluate a checkpoint on its test set")
    ev.add_argument("--checkpoint", type=path_arg, required=True, help="checkpoint.pt written by train")
    add_data_root(ev)
    add_selection_option(ev)
    add_device_option(ev)
    ev.add_argument("--record-name",
                    help=f"record written beside the checkpoint, a new file (default {EVAL_NAME})")
    ev.add_argument("--overwrite", action="store_true",
                    help="replace the record of that name if eval wrote it (never another file)")
    ev.set_defaults(run=run_eval)
