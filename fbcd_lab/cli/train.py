"""``python -m fbcd_lab train``: one experiment, written as ``results.json`` and ``checkpoint.pt`` to
``--out`` (also under torchrun), with a time estimate after its first epoch."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

from fbcd_lab.cli.options import (
    add_device_option, add_method_options, add_selection_option, add_source_options, checked, data_for,
    method_from_args, path_arg, ratio_or_natural, refuse_unused, unused_long_tail_options,
)
from fbcd_lab.cli.report import report
from fbcd_lab.config import PRESETS, SMALL_FOLDER_IMAGE_SIZE, SMALL_FOLDER_IMAGES, preset, sized_protocol
from fbcd_lab.data.datasets import LongTailData, loader_workers
from fbcd_lab.data.long_tail import PROFILES
from fbcd_lab.models.backbones import BACKBONES
from fbcd_lab.recipes import describe_method
from fbcd_lab.run_folder import CHECKPOINT_NAME, RECORD_NAME
from fbcd_lab.runtime import PRECISIONS, resolve_device


def run_train(args: argparse.Namespace) -> int:
    from fbcd_lab.run_folder import new_folder_removed_on_error, owned_run_folder

    with new_folder_removed_on_error(args.out), contextlib.ExitStack() as owned:
        # the folder is held by the main process (the others write nothing) until the run is reported
        return _train_into(args, lambda: owned.enter_context(owned_run_folder(args.out, args.resume, args.overwrite)))


def _train_into(args: argparse.Namespace, own_folder: Callable[[], list[Path]]) -> int:
    """``train``'s work once ``own_folder`` (called by the main process, after the settings are
    checked) holds the run folder."""
    from fbcd_lab import distributed
    from fbcd_lab.checkpoints import at_last_checkpoint, read_checkpoint
    from fbcd_lab.resume import resume_run
    from fbcd_lab.run_folder import clear_run
    from fbcd_lab.training import check_division, fit, start_run

    # Under torchrun (WORLD_SIZE > 1): join its process group and get this process's device
    # (cuda:LOCAL_RANK, else the CPU); only the main process prints, writes and reports.
    device = distributed.init(args.device)
    distributed.quiet_unless_main()
    if args.selection == "best_val" and not (args.val_per_class or args.val_folder):
        raise ValueError("--selection best_val needs --val-per-class > 0 or --val-folder")
    refuse_unused({**unused_long_tail_options(args, [args.imbalance_ratio]),
                   **_unused_runtime_options(args, distributed.world_size(), resolve_device(device).type)})
    # first: a small image folder's default backbone, preset and image size follow its size
    backbone, preset_name, data = _sized_for(args, data_for(args))
    method = method_from_args(args, backbone)
    if not args.resume:  # before the folder is held; a resumed run keeps its saved division
        check_division(data, method)
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
    removed = clear_run(args.out) if args.overwrite and not args.resume and distributed.is_main() else []
    if removed:
        print(f"--overwrite: removed {', '.join(p.name for p in removed)} from {args.out} (the replaced run and the "
              f"records derived from it; other files are kept)")
    switch = run.switch_epoch
    deferred = "" if switch is None else f"; {run.method.balancing} on from epoch {switch + 1} of {run.optim.epochs}"
    print(f"{data.name}: {len(data.train)} training images, counts {list(data.counts)}; {describe_method(run.method)}"
          f"{deferred}; K = {run.division.num_clusters}, imbalance after division {run.division.imbalance_after():.1f}")
    try:
        fit(run, data, checkpoint=checkpoint, progress=not args.no_progress, num_workers=workers,
            sync_bn=args.sync_bn, callbacks=[_time_estimate(run, data.image_size)] if distributed.is_main() else [])
    except (ValueError, OSError) as err:  # an unreadable image, a full disk: say what is kept
        kept = continue_hint(checkpoint, "once the cause is fixed, ") if distributed.is_main() else None
        if kept is None:
            raise
        raise ValueError(f"{err}; {kept}") from None
    if distributed.is_main():
        run = at_last_checkpoint(run, data, checkpoint)
        report(run, data, args.selection, args.out, RECORD_NAME)
    elif run.diverged is not None:
        return 2  # the main process reports it
    if run.stopped:
        if distributed.is_main():
            kept = continue_hint(checkpoint) or ("no epoch finished, so no checkpoint was written: run the same "
                                                 "command with --overwrite to start again")
            print(f"interrupted; {kept}", file=sys.stderr)
        return 130
    return 0


def continue_hint(checkpoint: Path, when: str = "") -> str | None:
    """How to continue a run that stopped early (Ctrl-C, SIGTERM, an error in training) from its
    ``checkpoint``, the epoch it keeps read from the file: one wording however the run stopped; None
    when no epoch finished (no checkpoint, nothing to continue)."""
    from fbcd_lab.checkpoints import read_checkpoint

    if not checkpoint.is_file():
        return None
    state = read_checkpoint(checkpoint)
    return (f"{checkpoint} keeps epoch {len(state['history'])} of {state['optim']['epochs']}: {when}run the same "
            f"command with --resume to continue")


def _unused_runtime_options(args: argparse.Namespace, processes: int, device_type: str) -> dict[str, str]:
    """``--sync-bn`` in one of ``processes`` and ``--deterministic`` off CUDA, with why they have no
    effect there; ``--deterministic`` is left to ``--resume``, which compares it with the saved run's
    (a run saved with it before this check must be able to continue)."""
    unused = {}
    if args.sync_bn and processes == 1:
        unused["--sync-bn"] = "read only with several processes, under torchrun"
    if args.deterministic and device_type != "cuda" and not args.resume:
        unused["--deterministic"] = "read only on CUDA: the CPU's kernels are deterministic already"
    return unused


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


def _sized_for(args: argparse.Namespace, data: LongTailData) -> tuple[str, str, LongTailData]:
    """The run's backbone, preset name and data by :func:`~fbcd_lab.config.sized_protocol` (the rule
    ``study`` follows too), said in a line when they differ from the paper's."""
    sized = sized_protocol(args.dataset, len(data.train), data.image_size, args.backbone, args.preset,
                           bool(args.image_size), epochs=args.epochs)
    if sized.image_size is not None:
        data = data_for(args, image_size=sized.image_size)
    if sized.note:
        print(sized.note)
    return sized.backbone, sized.preset, data


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``train`` to the subcommands ``sub``."""
    tr = sub.add_parser("train", help="train one method; writes OUT/results.json and OUT/checkpoint.pt")
    add_source_options(tr)
    tr.add_argument("--imbalance-ratio", type=ratio_or_natural, default=100.0,
                    help="largest / smallest class, >= 1, or natural: keep every training image as counted, the "
                         "record giving the measured ratio (default 100; imagenet_lt is always natural)")
    tr.add_argument("--profile", choices=PROFILES,
                    help="long-tail profile (default exp; not with natural, nor at ratio 1, where every class "
                         "keeps n_max images)")
    tr.add_argument("--n-max", type=checked("n_max"),
                    help="images of the largest class (default: the smallest class size; not with natural)")
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
    add_selection_option(tr)
    tr.add_argument("--seed", type=checked("seed"), default=0,
                    help="training seed: division, initialisation, batch order, augmentation (default 0)")
    tr.add_argument("--subset-seed", type=checked("subset_seed"),
                    help="seed of the long-tailed subset (default 0, fixed as in LDAM-DRW, so a spread over "
                         "--seed is training variance; not with natural)")
    add_device_option(tr)
    tr.add_argument("--workers", type=checked("workers"),
                    help="DataLoader processes decoding streamed images (default: min(8, CPUs) for streamed "
                         "sets, 0 for sets held in memory, which need none)")
    tr.add_argument("--precision", default="auto", choices=PRECISIONS,
                    help="auto: bf16 autocast on CUDA and AMX CPUs, else fp32")
    tr.add_argument("--image-size", type=checked("image_size"),
                    help="resize images to this square size (image folders: needed when sizes differ)")
    tr.add_argument("--deterministic", action="store_true",
                    help="deterministic kernels on CUDA (torch.use_deterministic_algorithms; slower); refused "
                         "on the CPU, whose kernels are deterministic already")
    tr.add_argument("--sync-bn", action="store_true",
                    help="with several processes (torchrun): BatchNorm statistics of the whole global batch "
                         "(SyncBatchNorm) instead of each process's part; refused in one process, where it has "
                         "no effect")
    tr.add_argument("--resume", action="store_true",
                    help="continue the run in OUT with the same options (a larger --epochs extends it)")
    tr.add_argument("--overwrite", action="store_true",
                    help="replace the run already in OUT: removes its checkpoint.pt, results.json and model.pt, "
                         "the records eval wrote of that checkpoint (known by the run's history they hold) and "
                         "the decompose outputs in OUT that name OUT; every other file is kept")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    tr.add_argument("--out", type=path_arg, required=True, help="output folder")
    tr.set_defaults(run=run_train)
