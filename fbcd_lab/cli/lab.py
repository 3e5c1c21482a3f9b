"""``python -m fbcd_lab lab``: the notebooks in JupyterLab (unknown options passed on to it), or
executed with ``--headless`` into HTML."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def run_lab(args: argparse.Namespace) -> int:
    """JupyterLab on the notebooks (unknown options passed on to it), or ``--headless`` HTML."""
    from fbcd_lab.lab_preset import DEFAULT, HEADLESS_DEFAULT, lab_preset
    from fbcd_lab.notebooks import (INSTALL_HINT, HeadlessInterrupted, NotebookError, check_html_dir,
                                    missing_packages, notebook_sources, open_lab, run_headless)
    from fbcd_lab.run_folder import new_folder_removed_on_error

    headless = args.headless is not None
    options = list(getattr(args, "jupyter_options", ()))
    if headless and options:
        raise ValueError(f"{' '.join(options)}: JupyterLab options do nothing with --headless")
    if args.overwrite and not headless:
        raise ValueError("--overwrite replaces --headless's HTML files: it does nothing without --headless")
    preset = lab_preset(args.preset, default=HEADLESS_DEFAULT if headless else DEFAULT).name  # the variables too
    missing = missing_packages(headless)
    if missing:
        raise ValueError(f"the notebooks need {', '.join(missing)} (the [lab] extra): {INSTALL_HINT}")
    if not headless:
        if hasattr(os, "geteuid") and os.geteuid() == 0 and not any(o.split("=")[0] in LAB_ROOT_OPTIONS
                                                                       for o in options):
            options.append("--allow-root")
            print("running as root (as in a container): passing --allow-root to JupyterLab", file=sys.stderr)
        if args.preset:
            print(f"FBCD_PRESET={preset} for this JupyterLab's kernels", file=sys.stderr)
        return open_lab(options, args.preset)
    try:
        # a run stopped before any HTML leaves no folder it made
        with new_folder_removed_on_error(args.headless) as made:
            check_html_dir(args.headless, notebook_sources(), args.overwrite)  # before the first line is printed
            print(f"executing the notebooks under preset {preset} into {args.headless}/ "
                  f"(--preset ci: seconds per notebook)", flush=True)
            run_headless(args.headless, preset, overwrite=args.overwrite)
    except NotebookError as err:
        print(f"python -m fbcd_lab lab: error: {err}", file=sys.stderr)
        return 1
    except HeadlessInterrupted as stop:
        names = ", ".join(path.name for path in stop.written)
        done = (f"HTML complete in {args.headless}: {names}; no other file was written" if names else
                f"no HTML was written into {args.headless}" if args.headless.exists() else
                f"no HTML was written, and the folder {made[-1]} this run made is removed")
        print(f"python -m fbcd_lab lab: interrupted; {done}", file=sys.stderr)
        return 130
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``lab`` to the subcommands ``sub``."""
    from fbcd_lab.lab_preset import HEADLESS_DEFAULT, LAB_PRESETS, SUMMARY

    lab = sub.add_parser("lab", help="open the notebooks in JupyterLab, or execute them headless into HTML",
                         description="Open the notebooks in JupyterLab (notebook 1 first), or with --headless\n"
                                     "execute them all and write one HTML file each (figures work offline).",
                         epilog=LAB_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                         allow_abbrev=False)
    lab.add_argument("--headless", type=Path, metavar="HTML_DIR",
                     help="execute every notebook and write HTML_DIR/<notebook>.html instead, printing each "
                          "notebook with its time")
    lab.add_argument("--overwrite", action="store_true",
                     help="with --headless: replace the notebooks' HTML files already in HTML_DIR (without it "
                          "they are refused, before any notebook runs)")
    lab.add_argument("--preset", choices=tuple(LAB_PRESETS),
                     help="size of the notebooks' runs: " + ", ".join(f"{k} ({v})" for k, v in SUMMARY.items())
                          + "; sets FBCD_PRESET for JupyterLab's kernels (default: $FBCD_PRESET, else full; "
                          f"with --headless, else {HEADLESS_DEFAULT})")
    lab.set_defaults(run=run_lab, jupyter_options=[])
