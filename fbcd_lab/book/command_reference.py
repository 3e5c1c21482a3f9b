"""The command-line reference page, written from the argument parsers themselves: every command of
``python -m fbcd_lab``, its usage and each of its arguments, so that the reference is never written twice."""

from __future__ import annotations

import argparse
import html
import os

WIDTH = 100
MARKDOWN_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]|#"})


def markdown_text(text: str) -> str:
    """``text`` shown as written in markdown: HTML and markdown's special characters escaped."""
    return html.escape(text, quote=False).translate(MARKDOWN_SPECIAL)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subparsers of ``parser`` by command name, in the order its help lists them."""
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not actions:
        raise ValueError(f"parser {parser.prog!r} has no subcommands")
    return dict(actions[0].choices)


def _argument_rows(parser: argparse.ArgumentParser) -> list[str]:
    """One markdown table row per argument of ``parser``: how it is written, and its help with
    ``%(default)s`` and the like filled in, as ``--help`` shows it."""
    formatter = parser._get_formatter()
    rows = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        invocation = formatter._format_action_invocation(action)
        helped = formatter._expand_help(action) if action.help else ""
        if action.choices and not isinstance(action, argparse._SubParsersAction) and "{" not in invocation:
            helped += f" (one of: {', '.join(map(str, action.choices))})"
        rows.append(f"| `{invocation.replace('|', '&#124;')}` | {markdown_text(' '.join(helped.split()))} |")
    return rows


def command_section(name: str, parser: argparse.ArgumentParser) -> str:
    """The reference of one command: what it does, its usage and a table of its arguments."""
    lines = [f"## {name}", ""]
    if parser.description:
        lines += [markdown_text(" ".join(parser.description.split())), ""]
    lines += ["```text", parser.format_usage().strip(), "```", "",
              "| argument | what it does |", "| --- | --- |", *_argument_rows(parser), ""]
    if parser.epilog:
        lines += ["```text", parser.epilog.strip(), "```", ""]
    return "\n".join(lines)


def command_reference(parser: argparse.ArgumentParser) -> str:
    """The markdown page of every command of ``parser``, each a section named after it (usage lines
    wrapped at :data:`WIDTH` columns, whatever the terminal)."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(WIDTH)
    try:
        return _reference(parser)
    finally:
        os.environ.pop("COLUMNS") if saved is None else os.environ.update(COLUMNS=saved)


def _reference(parser: argparse.ArgumentParser) -> str:
    commands = subcommands(parser)
    helps = {a.dest: a.help for a in parser._actions if isinstance(a, argparse._SubParsersAction)
             for a in a._choices_actions}
    lines = ["# Command-line reference", "",
             f"Written from the argument parsers of `{parser.prog}` when the book is built (the same text as "
             f"`{parser.prog} COMMAND --help`). Bad values exit with status 2 and a one-line message naming "
             "the option.", "", "| command | what it does |", "| --- | --- |"]
    lines += [f"| [{name}](#{name}) | {markdown_text(' '.join((helps.get(name) or '').split()))} |"
              for name in commands]
    lines.append("")
    return "\n".join(lines + [command_section(name, sub) for name, sub in commands.items()])
