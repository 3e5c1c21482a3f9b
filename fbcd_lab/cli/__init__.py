"""Command line: ``python -m fbcd_lab {lab,demo,train,eval,weights,decompose,summarize,orderings,study,book}``.

``lab`` opens the notebooks in JupyterLab (``--headless DIR`` executes them and writes HTML);
``demo`` trains CE and FBH + CDH on the embedded digits and prints per-class recall side by side;
``train`` runs one experiment and writes ``results.json`` and ``checkpoint.pt`` to ``--out``;
``eval`` re-evaluates a checkpoint; ``weights`` writes a finished run's model-only weights beside
its record; ``decompose`` takes the gain of FBH + CDH over CE apart from saved runs;
``summarize`` tabulates a folder of results over seeds; ``orderings`` sets two study tables (or
one and the paper's numbers) side by side and names the pairs of recipes whose order changes;
``study`` runs a named study (cells x ratios x seeds) and tabulates it beside the paper's numbers;
``book`` builds the kit's book (notebooks, guides, studies, reference) as a static website.
Bad values exit with status 2 and a one-line message naming the option; no command lists the
commands and exits with status 2. ``python -m fbcd_lab COMMAND --help`` documents each command.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from fbcd_lab.cli import book, decompose, demo, eval, lab, orderings, study, summarize, train, weights
from fbcd_lab.distributed import is_main, lost_a_process, rank
from fbcd_lab.run_folder import CHECKPOINT_NAME

# in the order --help lists them
COMMANDS = (lab, demo, train, eval, weights, decompose, summarize, orderings, study, book)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m fbcd_lab``: one subparser per command, each added by its module's ``register``."""
    parser = OneLineParser(prog="python -m fbcd_lab", description=__doc__.replace("``", ""),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", title="commands")
    for command in COMMANDS:
        command.register(sub)
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
        message = _naming_the_option(lines[-1] if len(lines) > 1 else lines[0], parser, args)
        if is_main():  # under torchrun every process fails alike: one line is enough
            print(f"{parser.prog} {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog} {args.command}: interrupted", file=sys.stderr)
        return 130


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _naming_the_option(message: str, parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """A library error starts with the parameter's name (``n_max must be ...``); add the option that
    sets it (``n_max (--n-max) must be ...``) so the user knows what to change, and ``left out`` where
    the value refused is the default of an option not given. A command whose option is named otherwise
    than the parameter (``study --ratios``: imbalance_ratio) says so in its parser's ``parameter_options``."""
    name, _, rest = message.partition(" ")
    sub = next(a for a in parser._subparsers._group_actions if a.dest == "command").choices[args.command]
    options = {a.dest: a.option_strings[0] for a in sub._actions if a.option_strings}
    options.update(sub.get_default("parameter_options") or {})
    if name not in options or options[name] in message:
        return message
    left_out = ", left out" if name in vars(args) and getattr(args, name) is None else ""
    return f"{name} ({options[name]}{left_out}) {rest}"
