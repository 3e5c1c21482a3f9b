"""Build the book: the guide pages of ``docs/pages/`` beside the pages generated from the repository
(the notebooks with their stored outputs, a page per committed study, the command-line and API
reference, BENCHMARKS.md), built by MkDocs with Material into a static site that needs no network,
with warnings as errors (a broken link or a missing page fails the build).

Nothing is written into the repository: the generated pages go to a temporary folder, the site to
the folder asked for. plotly.js and MathJax come from installed packages (plotly, jupyter-server-mathjax).
"""

from __future__ import annotations

import importlib.util
import logging
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
    """Build the book into the folder ``site`` (replaced if it holds a book already) with warnings as
    errors; returns the path of its front page. A failed build raises :class:`BookError`."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort, MkDocsException

    missing = missing_packages()
    if missing:
        raise BookError(f"the book needs {', '.join(missing)} (the [book] extra): {INSTALL_HINT}")
    if site.exists() and not (site / "index.html").is_file() and any(site.iterdir()):
        raise BookError(f"{site} is not empty and holds no book: give an empty or new folder")
    started = time.monotonic()
    handler, logger = _Warnings(report), logging.getLogger("mkdocs")
    logger.addHandler(handler)
    try:
        with tempfile.TemporaryDirectory(prefix="fbcd_book_") as staging:
            docs = Path(staging) / "docs"
            config = write_pages(docs)
            config.update(docs_dir=str(docs), site_dir=str(site.resolve()))
            shutil.copytree(SOURCES / "overrides", Path(staging) / "overrides")
            file = Path(staging) / "mkdocs.yml"
            file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
            build(load_config(str(file), strict=True))
    except (Abort, MkDocsException) as err:
        raise BookError(f"the book did not build: {err}") from None
    finally:
        logger.removeHandler(handler)
    report(f"built the book in {time.monotonic() - started:.0f} s: {site / 'index.html'}")
    return site / "index.html"
