"""A Griffe extension for the API pages: the docstrings' Sphinx roles (``:func:``, ``:class:`` and
the like, with their ``~``) become links to the object's entry on its API page, as Sphinx renders them;
mkdocstrings reads docstrings as Markdown, where the roles would show as literal text. A role whose
object has no entry in the book (private, undocumented, the command line's, or outside ``fbcd_lab``)
becomes plain code."""

from __future__ import annotations

import re
from typing import Any

from griffe import Alias, Extension, Object

from fbcd_lab.book.api_reference import LEFT_OUT, PACKAGE

ROLE = re.compile(r":(?:py:)?(func|meth|class|mod|attr|data):`(~?)([\w.]+)`")
CALLABLE_ROLES = {"func", "meth"}


def _find(obj: Object, target: str) -> Object | None:
    """The object that ``target`` names, seen from ``obj``'s docstring: a full ``fbcd_lab`` path, or a
    name in its scope (followed by attributes); None where nothing loaded has that name."""
    first, _, rest = target.partition(".")
    try:
        path = target if first == PACKAGE else f"{obj.resolve(first)}.{rest}".rstrip(".")
        found = obj.modules_collection[path]
    except Exception:  # griffe raises NameResolutionError, KeyError or AliasResolutionError here
        return None
    if isinstance(found, Alias):
        try:
            return found.final_target
        except Exception:  # an alias to something not loaded (another package)
            return None
    return found


def has_entry(obj: Object) -> bool:
    """Whether the API pages render ``obj`` with a heading (the options of docs/mkdocs.yml: public
    members with a docstring, of the modules that :func:`~fbcd_lab.book.api_reference.library_modules`
    puts on pages)."""
    parts = obj.path.split(".")
    if parts[0] != PACKAGE or any(part.startswith("_") for part in parts[1:]):
        return False
    if ".".join(parts[:2]) in LEFT_OUT:
        return False
    if obj.is_module:
        return True
    return bool(obj.docstring) and obj.parent is not None and has_entry(obj.parent)


def rewrite(text: str, obj: Object) -> str:
    """``text`` with each Sphinx role replaced by an autorefs link, or by code where it has no entry."""

    def replace(match: re.Match) -> str:
        role, short, target = match.groups()
        shown = (target.rsplit(".", 1)[-1] if short else target) + ("()" if role in CALLABLE_ROLES else "")
        found = _find(obj, target)
        return f"[`{shown}`][{found.path}]" if found is not None and has_entry(found) else f"`{shown}`"

    return ROLE.sub(replace, text)


class SphinxRoles(Extension):
    """Rewrites every loaded docstring once the package is loaded (names resolve across modules then)."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value, obj)
