"""The API reference pages: one page per module or subpackage of ``fbcd_lab`` (the command line
aside, which has its own reference), each a mkdocstrings directive per module, so that mkdocstrings
writes the public functions and classes from their signatures and docstrings when the book is built."""

from __future__ import annotations

import pkgutil
from pathlib import Path

PACKAGE = "fbcd_lab"
# Not library API: the command line (its own reference page), ``python -m``, and the book's builder.
LEFT_OUT = {"fbcd_lab.cli", "fbcd_lab.__main__", "fbcd_lab.book"}


def _public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split(".")[1:])


def library_modules(root: Path) -> dict[str, list[str]]:
    """The public modules under the package folder ``root``, grouped by page: a top-level module is
    a page of its own, a subpackage one page with its ``__init__`` and each of its modules."""
    pages: dict[str, list[str]] = {PACKAGE: [PACKAGE]}
    for info in pkgutil.walk_packages([str(root)], prefix=f"{PACKAGE}."):
        name = info.name
        top = ".".join(name.split(".")[:2])
        if not _public(name) or top in LEFT_OUT:
            continue
        pages.setdefault(top, []).append(name)
    return pages


def api_page(title: str, modules: list[str]) -> str:
    """The markdown of one API page: a heading and a mkdocstrings directive per module."""
    lines = [f"# `{title}`", ""]
    for module in modules:
        lines += [f"::: {module}", "    options:", f"      heading_level: {2 if module == title else 3}", ""]
        if module == title and len(modules) > 1:
            lines += ["## Modules", ""]
    return "\n".join(lines)


def write_api_pages(root: Path, docs: Path) -> list[dict[str, str]]:
    """Write the API pages under ``docs/api/`` and return their navigation entries, in name order."""
    folder = docs / "api"
    folder.mkdir(parents=True, exist_ok=True)
    nav = []
    for title, modules in sorted(library_modules(root).items()):
        (folder / f"{title}.md").write_text(api_page(title, modules), encoding="utf-8")
        nav.append({title: f"api/{title}.md"})
    return nav
