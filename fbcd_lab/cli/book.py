"""``python -m fbcd_lab book``: the kit as a static website (notebooks with their stored outputs, guides,
studies, command and API reference), built offline with warnings as errors."""

from __future__ import annotations

import argparse
import sys

from fbcd_lab.cli.options import path_arg


def run_book(args: argparse.Namespace) -> int:
    from fbcd_lab.book.site import BookError, build_book

    try:
        build_book(args.out, report=lambda line: print(line, file=sys.stderr))
    except BookError as err:
        print(f"python -m fbcd_lab book: error: {err}", file=sys.stderr)
        return 1
    print(f"open {args.out / 'index.html'} in a browser (every page works from the files, search included), "
          f"or serve it: python -m http.server -d {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``book`` to the subcommands ``sub``."""
    bo = sub.add_parser("book", help="build the book: the notebooks with their outputs, guides, studies, command "
                                     "and API reference, as a static website that needs no network",
                        description="Build the kit's book into OUT: the committed notebooks with their stored "
                                    "outputs (nothing is executed), the guides, a page per committed study, the "
                                    "command-line and API reference, with search. Needs the [book] extra; a "
                                    "warning (a broken link, a missing page) fails the build.")
    bo.add_argument("out", type=path_arg, metavar="OUT",
                    help="folder to write the site into (its index.html is the front page): new, empty or a book "
                         "this command built, whose files are replaced once the new one is complete (the folder "
                         "itself is kept); any other folder, or a book with files added or edited, is refused")
    bo.set_defaults(run=run_book)
