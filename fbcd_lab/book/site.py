"""Build the book: the guide pages of ``docs/pages/`` beside the pages generated from the repository
(the notebooks with their stored outputs, a page per committed study, the command-line and API
reference, BENCHMARKS.md), built by MkDocs with Material into a static site that needs no network,
with warnings as errors (a broken link or a missing page fails the build).

Nothing is written into the repository: the pages are generated, and the site built, in a hidden
folder beside the one asked for, whose entries the finished site's then replace (the folder itself is
kept, so a shell or web server in it sees the new book); only an empty folder or a book this command
built (:data:`MARKER`) with no file added or edited is replaced, so nothing else is deleted.
plotly.js and MathJax come from installed packages (plotly, jupyter-server-mathjax).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from fbcd_lab.book.api_reference import write_api_pages
from fbcd_lab.book.command_reference import command_reference
from fbcd_lab.book.notebook_pages import write_notebook_pages
from fbcd_lab.book.study_pages import write_study_pages
from fbcd_lab.checkpoints import interrupts_held

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "docs"
# import name -> distribution name, of what the build needs (the [book] extra)
BOOK_PACKAGES = {"mkdocs": "mkdocs", "material": "mkdocs-material", "mkdocs_jupyter": "mkdocs-jupyter",
                 "mkdocstrings_handlers.python": "mkdocstrings-python",
                 "jupyter_server_mathjax": "jupyter-server-mathjax"}
INSTALL_HINT = 'pip install -c constraints.txt -e ".[book]"'
MATHJAX = "assets/mathjax"
# MathJax 2 (what nbconvert's template configures), relative to the notebook pages in notebooks/.
MATHJAX_URL = f"../{MATHJAX}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
# Written last into every site build_book makes, listing its files and their SHA-256: a rebuild replaces
# a folder only if it holds such a book, unedited, and nothing else.
MARKER = ".fbcd_book.json"
WRITTEN_BY = "python -m fbcd_lab book"


class BookError(RuntimeError):
    """The book did not build; the message says why in one line."""


def missing_packages() -> list[str]:
    """The distributions that building the book needs and this environment lacks."""
    found = []
    for module, dist in BOOK_PACKAGES.items():
        try:
            found.append(None if importlib.util.find_spec(module) else dist)
        except ModuleNotFoundError:  # the parent package of a dotted name is absent
            found.append(dist)
    return [dist for dist in found if dist]


def _copy_assets(docs: Path) -> None:
    """plotly.js from the installed plotly, and MathJax from jupyter-server-mathjax, into the pages."""
    import jupyter_server_mathjax
    import plotly

    scripts = docs / "assets" / "javascripts"
    scripts.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", scripts / "plotly.min.js")
    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", docs / MATHJAX)


def write_pages(docs: Path) -> dict:
    """Write every page of the book under ``docs`` (the guides copied, the rest generated) and return
    the MkDocs configuration that builds them, navigation included."""
    from fbcd_lab.cli import build_parser

    shutil.copytree(SOURCES / "pages", docs)
    shutil.copy(ROOT / "BENCHMARKS.md", docs / "guides" / "benchmarks.md")
    (docs / "reference").mkdir()
    (docs / "reference" / "commands.md").write_text(command_reference(build_parser()), encoding="utf-8")
    _copy_assets(docs)
    config = yaml.safe_load((SOURCES / "mkdocs.yml").read_text(encoding="utf-8"))
    config["nav"] += [{"Notebooks": write_notebook_pages(ROOT / "notebooks", docs)},
                      {"Studies": write_study_pages(ROOT, docs)},
                      {"Reference": [{"Command line": "reference/commands.md"},
                                     {"API": write_api_pages(ROOT / "fbcd_lab", docs)}]}]
    for extension in config["markdown_extensions"]:
        if isinstance(extension, dict) and "pymdownx.snippets" in extension:
            extension["pymdownx.snippets"]["base_path"] = [str(ROOT)]
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "mkdocs-jupyter" in plugin:
            plugin["mkdocs-jupyter"]["custom_mathjax_url"] = MATHJAX_URL
        if isinstance(plugin, dict) and "mkdocstrings" in plugin:
            plugin["mkdocstrings"]["handlers"]["python"]["paths"] = [str(ROOT)]
    return config


class _Warnings(logging.Handler):
    """MkDocs' warnings and errors, one line each, passed to ``report``."""

    def __init__(self, report: Callable[[str], None]):
        super().__init__(logging.WARNING)
        self.report = report

    def emit(self, record: logging.LogRecord) -> None:
        self.report(f"{record.levelname.lower()}: {record.getMessage()}")


def build_book(site: Path, report: Callable[[str], None] = print) -> Path:
    """Build the book into the folder ``site`` with warnings as errors; returns the path of its front
    page. The book is built in a folder beside ``site`` and moved in only once it is complete, over
    a book this function built there before (:func:`check_site` refuses anything else, before any
    work), so a failed or interrupted build leaves ``site`` as it was. A failed build raises
    :class:`BookError`; a ``site`` refused, or a place that cannot be written, a ValueError."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort, MkDocsException

    missing = missing_packages()
    if missing:
        raise BookError(f"the book needs {', '.join(missing)} (the [book] extra): {INSTALL_HINT}")
    site = site.resolve()  # a symlink's target is replaced, not the link
    check_site(site)
    started = time.monotonic()
    handler, logger = _Warnings(report), logging.getLogger("mkdocs")
    logger.addHandler(handler)
    work = _workspace(site)
    try:
        config = write_pages(work / "docs")
        config.update(docs_dir=str(work / "docs"), site_dir=str(work / "site"))
        shutil.copytree(SOURCES / "overrides", work / "overrides")
        (work / "mkdocs.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        build(load_config(str(work / "mkdocs.yml"), strict=True))
        _write_marker(work / "site")
        _replace(site, work)
    except (Abort, MkDocsException) as err:
        raise BookError(f"the book did not build: {err}") from None
    finally:
        logger.removeHandler(handler)
        with interrupts_held():  # a Ctrl-C here would leave the staging folder behind
            _remove_workspace(work)
    report(f"built the book in {time.monotonic() - started:.0f} s: {site / 'index.html'}")
    return site / "index.html"


def check_site(site: Path) -> None:
    """Refuse (ValueError, one line naming OUT; nothing is touched) a ``site`` that a new book cannot
    replace without losing something: a file (or a path under one), a folder that is not empty and holds no book this
    command built (its :data:`MARKER` lists every file the build wrote, with its SHA-256), or such a
    book to which files were added since, or whose files were edited. A new or empty folder, or an
    untouched book, passes (a file of the book deleted since loses nothing)."""
    blocker = next((path for path in (site, *site.parents) if path.exists() and not path.is_dir()), None)
    if blocker is not None:
        where = "" if blocker == site else f" lies under {blocker}, which"
        raise ValueError(f"OUT {site}{where} is a file, not a folder: give a new or empty folder, or a book this "
                         f"command built")
    if not site.is_dir() or not any(site.iterdir()):
        return
    marker = _book_marker(site)
    if marker is None:
        raise ValueError(f"OUT {site} is not empty and holds no book this command built (no {MARKER}): give a "
                         f"new or empty folder; nothing was touched")
    written, digests = marker
    for found, what in ((_entries(site) - written - {MARKER}, "files the book did not write"),
                        (_edited(site, digests), "files of the book edited since it was built")):
        if found:
            found = sorted(found)
            more = f" and {len(found) - 3} more" if len(found) > 3 else ""
            raise ValueError(f"OUT {site} holds {what} ({', '.join(found[:3])}{more}): move them out or give "
                             f"another folder; nothing was touched")


def _entries(folder: Path) -> set[str]:
    """Every file and folder under ``folder`` (symlinks not followed), as paths relative to it."""
    return {(Path(root) / name).relative_to(folder).as_posix()
            for root, folders, files in os.walk(folder) for name in folders + files}


def _book_marker(site: Path) -> tuple[set[str], dict[str, str]] | None:
    """What the book in ``site`` wrote, as its :data:`MARKER` lists it: every file and folder, and
    each file's SHA-256; None where the marker is absent or not one this command wrote.

    A marker written before the digests were recorded lists names only: it is still taken as a
    book this command built, with no digest to check (its files are replaced unverified, as they
    were then), so that a book built by an earlier version can be rebuilt without deleting it by
    hand; the rebuild writes digests for the next one."""
    try:
        marker = json.loads((site / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("written_by") != WRITTEN_BY:
        return None
    files, digests = marker.get("files"), marker.get("sha256", {})
    if not (isinstance(files, list) and all(isinstance(f, str) for f in files) and isinstance(digests, dict)
            and all(isinstance(d, str) for d in digests.values())):
        return None
    return set(files), digests


def _digest(path: Path) -> str:
    """The SHA-256 of the file at ``path`` (hex)."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _edited(site: Path, digests: dict[str, str]) -> list[str]:
    """The files of the book in ``site`` whose content is no longer what :data:`MARKER` recorded
    (``digests``); one replaced by a link or a folder counts as edited, a deleted one does not."""
    edited = []
    for name, digest in digests.items():
        path = site / name
        if path.is_symlink() or (path.exists() and (not path.is_file() or _digest(path) != digest)):
            edited.append(name)
    return edited


def _write_marker(built: Path) -> None:
    """Mark the finished site ``built`` as this command's, with every file and folder it holds and
    each file's SHA-256 (about 0.1 s for the whole book, 30 MB)."""
    entries = sorted(_entries(built))
    digests = {name: _digest(built / name) for name in entries if (built / name).is_file()}
    marker = {"written_by": WRITTEN_BY, "files": entries, "sha256": digests}
    (built / MARKER).write_text(json.dumps(marker, indent=0), encoding="utf-8")


def _workspace(site: Path) -> Path:
    """A new hidden folder beside ``site`` (on its file system, so the finished book moves in by a
    rename) for the pages, the configuration and the site being built; a ValueError naming OUT
    where it cannot be made."""
    try:
        site.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=site.parent, prefix=f".{site.name}.building-"))
    except OSError as err:
        raise ValueError(f"OUT {site} cannot be written ({err.strerror or err})") from None


def _replace(site: Path, work: Path) -> None:
    """Put the finished book ``work``/site in place of ``site`` (checked again: a file added to or
    edited in the old book during the build is not lost with it), then delete the staging folder
    ``work`` with the old book in it, Ctrl-C and SIGTERM held throughout. An interrupt caught once
    the new book is in place is dropped: the command is done, so there is nothing left to stop, and
    "interrupted" would be untrue."""
    swapped = False
    try:
        with interrupts_held():
            check_site(site)
            _swap_in(work / "site", site, work / "old")
            swapped = True
            shutil.rmtree(work, ignore_errors=True)
    except KeyboardInterrupt:
        if not swapped:
            raise


def _swap_in(built: Path, site: Path, old: Path) -> None:
    """Move the finished site ``built`` into ``site``: renamed there where ``site`` does not exist;
    otherwise ``site``'s own folder is kept (a shell or web server in it sees the new book) and its
    entries are moved to ``old``, then ``built``'s into it, the marker moved out first and in last, so
    that ``site`` counts as a book only when whole. If a move fails, the moves made are undone, which
    puts the old book back as it was (a BookError); if undoing fails too, the old book is left in
    ``old``, which the error names."""
    if not site.exists():
        os.rename(built, site)
        return
    old.mkdir()
    moves = [(site / name, old / name) for name in sorted(os.listdir(site), key=lambda name: name != MARKER)]
    moves += [(built / name, site / name) for name in sorted(os.listdir(built), key=lambda name: name == MARKER)]
    done: list[tuple[Path, Path]] = []
    try:
        for source, target in moves:
            os.rename(source, target)
            done.append((source, target))
    except OSError as err:
        why = err.strerror or str(err)
        try:
            for source, target in reversed(done):
                os.rename(target, source)
        except OSError as undo:
            raise BookError(f"OUT {site} is half replaced ({undo.strerror or undo}): the old book is in {old}; "
                            f"move it back by hand") from None
        raise BookError(f"OUT {site} could not be replaced ({why}); the old book is kept as it was") from None


def _remove_workspace(work: Path) -> None:
    """Delete the staging folder ``work``, unless it holds files of the old book that a failed swap
    could not put back (its error names them)."""
    old = work / "old"
    if work.exists() and not (old.is_dir() and any(old.iterdir())):
        shutil.rmtree(work, ignore_errors=True)
