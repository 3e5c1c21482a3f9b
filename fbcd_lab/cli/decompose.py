"""``python -m fbcd_lab decompose``: the gain of FBH + CDH over CE taken apart from saved runs."""

from __future__ import annotations

import argparse

from fbcd_lab.cli.options import data_for, path_arg
from fbcd_lab.run_folder import RECORD_NAME, check_new_file, check_record_name


def run_decompose(args: argparse.Namespace) -> int:
    from fbcd_lab.analysis import decompose_saved, signed_points, waterfall_rows
    from fbcd_lab.records import read_record, save_record

    if args.out is not None:
        check_record_name(args.out.name, "--out's file name")
        check_new_file(args.out, "--out")
    first = read_record(args.ce[0] / RECORD_NAME, needs=("data.dataset",))
    data = data_for(args, first["config"]["data_spec"])
    out = decompose_saved(args.ce, args.fbcd, data)
    seeds = out["seeds"]
    print(f"the gain of FBH + CDH over CE on {first['data']['dataset']}, mean-recall points, training seed"
          f"{'s' if len(seeds) > 1 else ''} {' '.join(map(str, seeds))}{' (mean ± sd)' if len(seeds) > 1 else ''}; "
          f"logit adjustment at tau {out['tau']:g}")
    rows = [*waterfall_rows(out), ("FBH + CDH (logit_adjusted)", out["levels"]["fbcd_logit_adjusted"], False)]
    for name, stats, step in rows:
        print(f"{name:>26} {signed_points(stats, step)}")
    if args.out is not None:
        save_record({**out, "written_by": "decompose"}, args.out)
        print(f"wrote {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``decompose`` to the subcommands ``sub``."""
    de = sub.add_parser("decompose", help="take the gain of FBH + CDH over CE apart (prior correction, better "
                                          "features, the rest) from saved runs: records and model-only weights")
    de.add_argument("--ce", nargs="+", type=path_arg, required=True,
                    help="CE run folders (results.json and model.pt), one per training seed")
    de.add_argument("--fbcd", nargs="+", type=path_arg, required=True,
                    help="FBH + CDH run folders of the same training seeds and data")
    de.add_argument("--data-root", type=path_arg, help="folder of the data the runs trained on (all but digits)")
    de.add_argument("--out", type=path_arg, help="also write the decomposition as JSON to this new file")
    de.set_defaults(run=run_decompose)
