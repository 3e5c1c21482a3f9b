"""``python -m fbcd_lab study``: a named study (cells x ratios x seeds) run and tabulated beside the
paper's numbers."""

from __future__ import annotations

import argparse
import sys

from fbcd_lab.cli.options import (
    add_device_option, add_source_options, checked, path_arg, ratio_or_natural, refuse_unused,
    unused_long_tail_options,
)
from fbcd_lab.config import PRESETS
from fbcd_lab.models.backbones import BACKBONES
from fbcd_lab.paper_results import PAPER_DATASETS
from fbcd_lab.runtime import PRECISIONS
from fbcd_lab.studies import STUDIES


def run_study(args: argparse.Namespace) -> int:
    from fbcd_lab.studies.runner import run_study as run

    refuse_unused(unused_long_tail_options(args, args.ratios))
    try:
        run(args.name, args.dataset, args.out, ratios=args.ratios, seeds=args.seeds, cells=args.cells,
            preset_name=args.preset, epochs=args.epochs, backbone=args.backbone, data_root=args.data_root,
            download=args.download, n_max=args.n_max, image_size=args.image_size, device=args.device,
            paper_column=args.paper_column, progress=not args.no_progress, workers=args.workers,
            precision=args.precision, table_only=args.table_only, u=args.u)
    except KeyboardInterrupt:
        print("python -m fbcd_lab study: interrupted; the finished runs and the current run's last checkpoint "
              "are kept: run the same command again to continue", file=sys.stderr)
        return 130
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``study`` to the subcommands ``sub``."""
    st = sub.add_parser("study", help="run a named study over ratios and seeds; its table beside the paper's")
    st.add_argument("name", choices=tuple(STUDIES),
                    help="; ".join(f"{name}: {study.description}" for name, study in STUDIES.items()))
    add_source_options(st)
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
    st.add_argument("--u", type=checked("u"),
                    help="clusters of the largest class in every cell that divides its classes (default: the "
                         "paper's 10; at most the largest class's training images); fig4 sets u per cell")
    st.add_argument("--n-max", type=checked("n_max"),
                    help="images of the largest class (default: the smallest class size)")
    st.add_argument("--image-size", type=checked("image_size"),
                    help="resize images to this square size (image folders: needed when sizes differ)")
    st.add_argument("--paper-column", choices=tuple(PAPER_DATASETS),
                    help="paper dataset to compare with (default: CIFAR and ImageNet-LT by name, an image "
                         "folder by its class count: 10, 100, 200 = tiny_imagenet)")
    add_device_option(st)
    st.add_argument("--workers", type=checked("workers"),
                    help="DataLoader processes decoding streamed images (default as for train)")
    st.add_argument("--precision", default="auto", choices=PRECISIONS,
                    help="auto (default): bf16 autocast on CUDA and AMX CPUs, else fp32; resolved once, named in "
                         "the table's header and part of the study's protocol: runs trained in another precision "
                         "are not continued")
    st.add_argument("--no-progress", action="store_true", help="no progress bar")
    st.add_argument("--table-only", action="store_true",
                    help="train nothing: the table of the runs already finished with these settings, (n) per cell; "
                         "an --out holding none is refused")
    st.set_defaults(run=run_study, parameter_options={"imbalance_ratio": "--ratios"})  # named in its errors
