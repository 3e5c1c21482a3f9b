"""The book (``python -m fbcd_lab book DIR``): built offline with warnings as errors, it holds a page per
notebook with its stored outputs, the guides, a page per committed study, every command in the
command reference and the API reference, and no page loads anything from the network."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from fbcd_lab.book import site as book
from fbcd_lab.book.command_reference import subcommands
from fbcd_lab.cli import build_parser, main
from fbcd_lab.notebooks import PLOTLY_MIME, markdown_tex

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
STUDIES = sorted(path.parent for path in (ROOT / "results").glob("*/*/table.json"))
GUIDES = ["install", "notebooks", "command_line", "comparison", "own_data", "gpus", "reliability", "library",
          "results", "benchmarks"]
# What makes a page fetch: a script's src, a stylesheet's, icon's or preload's href, an image's src.
FETCHES = re.compile(r"<(?:script|img|iframe)[^>]*\ssrc=\"([^\"]*)\"|<link(?![^>]*rel=\"canonical\")[^>]*"
                     r"\shref=\"([^\"]*)\"")


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_every_page_loads_only_files_of_the_book(book_site):
    outside = {}
    for page in pages(book_site):
        for match in FETCHES.finditer(page.read_text(encoding="utf-8")):
            url = match.group(1) or match.group(2)
            if re.match(r"^[a-z]+:|^//", url) and not url.startswith("data:"):
                outside.setdefault(str(page.relative_to(book_site)), []).append(url)
            elif url and not url.startswith("data:") and page.name != "404.html":  # that one: from the site's URL
                target = (page.parent / url.split("?")[0].split("#")[0]).resolve()
                assert target.exists(), f"{page.relative_to(book_site)} loads {url}, which the book lacks"
    assert not outside, outside


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_has_a_page_with_its_stored_figures_and_equations(book_site, notebook):
    stored = nbformat.read(notebook, as_version=4)
    figures = sum(PLOTLY_MIME in o.get("data", {}) for c in stored.cells if c.cell_type == "code"
                  for o in c.get("outputs", []))
    page = (book_site / "notebooks" / f"{notebook.stem}.html").read_text(encoding="utf-8")
    assert page.count('class="plotly-graph-div"') == figures
    assert 'src="../assets/javascripts/plotly.min.js"' in page and "cdn.plot.ly" not in page
    if any(markdown_tex(c.source) for c in stored.cells if c.cell_type == "markdown"):
        assert 'src="../assets/mathjax/MathJax.js?' in page
    streams = [o.text for c in stored.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if o.output_type == "stream" and o.text.strip()]
    assert streams, f"{notebook.name} has no printed output"
    first = streams[0].strip().splitlines()[0]
    assert first.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;") in page \
        or first in page, f"{notebook.name}'s first printed line is not on its page"
    hidden = [c for c in stored.cells if c.cell_type == "code" and c.metadata.get("jupyter", {}).get("source_hidden")]
    for cell in hidden:  # a collapsed check's code stays out of the page, as JupyterLab hides it
        assert cell.source.strip().splitlines()[-1].strip() not in page


def test_every_command_and_its_options_are_in_the_command_reference(book_site):
    page = (book_site / "reference" / "commands.html").read_text(encoding="utf-8")
    commands = subcommands(build_parser())
    assert {"lab", "train", "eval", "study", "orderings", "book"} <= set(commands)
    for name, parser in commands.items():
        assert f'<h2 id="{name}">' in page, name
        section = page.split(f'<h2 id="{name}">', 1)[1].split("<h2 ", 1)[0]
        for action in parser._actions:
            for option in action.option_strings:
                assert option in section, f"{name} {option}"


def test_the_api_reference_is_written_from_the_docstrings(book_site):
    api = book_site / "api"
    assert {p.stem for p in api.glob("*.html")} >= {"fbcd_lab", "fbcd_lab.class_division", "fbcd_lab.training",
                                                    "fbcd_lab.data", "fbcd_lab.analysis", "fbcd_lab.studies"}
    page = (api / "fbcd_lab.class_division.html").read_text(encoding="utf-8")
    from fbcd_lab.class_division import clusters_per_class

    assert 'id="fbcd_lab.class_division.clusters_per_class"' in page
    records = (api / "fbcd_lab.records.html").read_text(encoding="utf-8")
    signature = records.split('id="fbcd_lab.records.evaluate_run"', 1)[1].split("doc-signature", 1)[1]
    lines = re.sub("<[^>]+>", "", signature.split("</code>", 1)[0]).splitlines()
    assert [line.split(":")[0].strip() for line in lines[1:5]] == ["run", "data", "selection", "tau"], \
        "a long signature is formatted a parameter a line (ruff)"
    assert " ".join(clusters_per_class.__doc__.split()[:6]) in " ".join(re.sub("<[^>]+>", "", page).split())


def test_the_docstrings_sphinx_roles_become_links_not_literal_text(book_site):
    pages = {p.stem: p.read_text(encoding="utf-8") for p in (book_site / "api").glob("*.html")}
    literal = {name for name, page in pages.items() if re.search(r":(func|meth|class|mod|attr|data):", page)}
    assert not literal, f"API pages that show a Sphinx role as text: {sorted(literal)}"
    # in fbcd_lab/records.py's docstrings: :func:`train_and_record` (a name of the same module) and
    # :func:`~fbcd_lab.readers.check_record` (on another page)
    records = pages["fbcd_lab.records"]
    assert 'href="#fbcd_lab.records.train_and_record"><code>train_and_record()</code>' in records
    assert 'href="fbcd_lab.readers.html#fbcd_lab.readers.check_record"><code>check_record()</code>' in records


def test_a_role_without_an_entry_in_the_book_becomes_plain_code():
    import griffe

    from fbcd_lab.book.sphinx_roles import rewrite

    package = griffe.load("fbcd_lab", search_paths=[str(ROOT)])
    summarize, config = package["records.summarize"], package["config.with_defaults"]
    assert rewrite(":func:`~fbcd_lab.readers.check_record`", summarize) == \
        "[`check_record()`][fbcd_lab.readers.check_record]"
    assert rewrite(":mod:`fbcd_lab.config`", summarize) == "[`fbcd_lab.config`][fbcd_lab.config]"
    assert rewrite(":func:`_legacy_values`", config) == "`_legacy_values()`"  # private: no entry
    assert rewrite(":data:`SHOWN_KEYS`", summarize) == "`SHOWN_KEYS`"  # no docstring: no entry
    assert rewrite(":mod:`fbcd_lab.cli`", summarize) == "`fbcd_lab.cli`"  # the command line's own page
    assert rewrite(":class:`no_such_name`", summarize) == "`no_such_name`"


@pytest.mark.parametrize("study", STUDIES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_committed_study_has_a_page_with_its_table_and_figure(book_site, study):
    page = (book_site / "studies" / study.parent.name / f"{study.name}.html").read_text(encoding="utf-8")
    assert page.count('class="plotly-graph-div"') == 1
    table = json.loads((study / "table.json").read_text(encoding="utf-8"))
    for cell in [row["cell"] for row in table["rows"] if row["cell"]]:  # the paper-only rows have none
        assert f"<td>{cell}</td>" in page, cell


def test_the_guides_the_benchmarks_and_the_search_index_are_built(book_site):
    for guide in GUIDES:
        assert (book_site / "guides" / f"{guide}.html").is_file(), guide
    index = (book_site / "search" / "search_index.js").read_text(encoding="utf-8")
    assert index.startswith("var __index = ") and "notebooks/04_training_lab.html" in index
    results = (book_site / "guides" / "results.html").read_text(encoding="utf-8")
    assert "<td>this kit</td>" in results, "the README's results table is included in the results guide"


def test_a_broken_link_fails_the_build(tmp_path, monkeypatch, capsys):
    sources = tmp_path / "docs"
    shutil.copytree(book.SOURCES, sources)
    with (sources / "pages" / "guides" / "install.md").open("a", encoding="utf-8") as page:
        page.write("\nSee [a page that is not there](no_such_page.md).\n")
    monkeypatch.setattr(book, "SOURCES", sources)
    assert main(["book", str(tmp_path / "site")]) == 1
    err = capsys.readouterr().err
    assert "no_such_page.md" in err and "did not build" in err


def test_a_corrupt_notebook_fails_the_build_naming_it(tmp_path, monkeypatch, capsys):
    from fbcd_lab.book import notebook_pages, site

    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks, ignore=shutil.ignore_patterns("*.py", "*.cfg", "*.toml"))
    (notebooks / "03_class_division.ipynb").write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(site, "write_notebook_pages",
                        lambda _, docs: notebook_pages.write_notebook_pages(notebooks, docs))
    assert main(["book", str(tmp_path / "site")]) == 2  # a bad input file, as every command says it
    err = capsys.readouterr().err
    assert "03_class_division.ipynb is not a readable notebook" in err and "git checkout" in err
    assert not (tmp_path / "site").exists()


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its content: to see that nothing was touched."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def tiny_book(monkeypatch):
    """The book reduced to one page titled ``title`` (``broken``: with a broken link), so that a test
    builds it in a second."""
    def pages(docs: Path, broken: bool, title: str) -> dict:
        docs.mkdir()
        (docs / "index.md").write_text(f"# {title}\n" + ("[gone](no_such_page.md)\n" if broken else ""))
        return {"site_name": "tiny", "theme": {"name": "mkdocs"}}

    def use(broken: bool = False, title: str = "Tiny") -> None:
        monkeypatch.setattr(book, "write_pages", lambda docs: pages(docs, broken, title))
    use()
    return use


@pytest.mark.parametrize("foreign", [{"notes.txt": "mine"}, {"index.html": "<html>my homepage</html>",
                                                            "sub/data.csv": "x"}], ids=["notes", "a_homepage"])
def test_a_folder_that_holds_something_else_is_refused_untouched(tmp_path, capsys, foreign):
    for name, text in foreign.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    before = tree(tmp_path)
    assert main(["book", str(tmp_path)]) == 2  # a bad OUT, as every command says it
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"OUT {tmp_path} is not empty and holds no book this command built" in err
    assert tree(tmp_path) == before, "nothing deleted or changed"


def test_out_that_is_a_file_or_cannot_be_made_is_one_line_naming_it(tmp_path, capsys):
    (tmp_path / "results.json").write_text("{}")
    for out, why in ((tmp_path / "results.json", "is a file, not a folder"),
                     (tmp_path / "results.json" / "site", f"lies under {tmp_path / 'results.json'}, which is a file"),
                     (Path("/proc/no_such_book"), "cannot be written")):
        assert main(["book", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"OUT {out}" in err and why in err and "Errno" not in err, err
    assert tree(tmp_path) == {"results.json": b"{}"}


def test_a_rebuild_replaces_only_a_book_this_command_built(tmp_path, tiny_book, capsys):
    site = tmp_path / "site"
    site.mkdir()  # an empty folder is taken
    assert main(["book", str(site)]) == 0
    marker = json.loads((site / book.MARKER).read_text())
    assert marker["written_by"] == book.WRITTEN_BY and "index.html" in marker["files"]
    assert marker["sha256"]["index.html"] == hashlib.sha256((site / "index.html").read_bytes()).hexdigest()
    assert main(["book", str(site)]) == 0, "our own book is rebuilt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"], "the build's workspace is gone"
    (site / "notes.txt").write_text("mine")
    (site / "search" / "mine.js").write_text("mine")
    before = tree(site)
    capsys.readouterr()
    assert main(["book", str(site)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds files the book did not write (notes.txt, search/mine.js)" in err
    assert tree(site) == before


def test_a_failed_rebuild_leaves_the_old_book_as_it_was(tmp_path, tiny_book, capsys):
    site = tmp_path / "site"
    assert main(["book", str(site)]) == 0
    before = tree(site)
    tiny_book(broken=True)
    assert main(["book", str(site)]) == 1
    assert "no_such_page.md" in capsys.readouterr().err
    assert tree(site) == before and sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_rebuild_keeps_out_s_own_folder_so_a_shell_or_server_in_it_sees_the_new_book(tmp_path, tiny_book,
                                                                                      monkeypatch):
    site = tmp_path / "site"
    assert main(["book", str(site)]) == 0
    inode, handle = os.stat(site).st_ino, os.open(site, os.O_RDONLY)  # as `http.server -d site` holds it
    monkeypatch.chdir(site)  # `cd site && python -m fbcd_lab book .`
    tiny_book(title="Rebuilt")
    try:
        assert main(["book", "."]) == 0
        with os.fdopen(os.open("index.html", os.O_RDONLY, dir_fd=handle)) as page:
            assert "Rebuilt" in page.read()
    finally:
        os.close(handle)
    assert os.stat(site).st_ino == inode and "Rebuilt" in Path("index.html").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"], "the build's workspace is gone"


def moving_in(site: Path, action) -> Callable:
    """os.rename, calling ``action(moved)`` (``moved``: what of the new book was moved into ``site``
    from the build's workspace so far) before more of it moves in, and going on unless it raises."""
    rename, moved = os.rename, []

    def renaming(source, target) -> None:
        new = ".building-" in str(source) and Path(source).parent.name != "old"  # not the old book moved back
        if new and site in (Path(target), Path(target).parent):
            action(moved)
            moved.append(Path(target).name)
        rename(source, target)
    return renaming


def fail_when_moved_in(count: int) -> Callable:
    """An ``action`` for :func:`moving_in`: a disk error once ``count`` entries of the new book moved in."""
    def fail(moved: list[str]) -> None:
        if len(moved) == count:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
    return fail


def test_a_failure_in_the_middle_of_the_swap_puts_the_old_book_back(tmp_path, tiny_book, monkeypatch, capsys):
    site = tmp_path / "site"
    assert main(["book", str(site)]) == 0
    before = tree(site)
    monkeypatch.setattr(os, "rename", moving_in(site, fail_when_moved_in(2)))
    tiny_book(title="Rebuilt")
    capsys.readouterr()
    assert main(["book", str(site)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"OUT {site} could not be replaced (Input/output error); the old book is " \
                                    f"kept as it was" in err, err
    assert tree(site) == before and sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_swap_that_cannot_be_undone_keeps_the_old_book_and_names_where(tmp_path, tiny_book, monkeypatch, capsys):
    site = tmp_path / "site"
    assert main(["book", str(site)]) == 0
    before, swap = tree(site), moving_in(site, fail_when_moved_in(2))

    def failing(source, target) -> None:  # and the disk fails to move the new book's entries back out
        if Path(source).parent == site and ".building-" in str(target) and Path(target).parent.name == "site":
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        swap(source, target)
    monkeypatch.setattr(os, "rename", failing)
    tiny_book(title="Rebuilt")
    capsys.readouterr()
    assert main(["book", str(site)]) == 1
    err = capsys.readouterr().err
    kept = [p for p in tmp_path.iterdir() if p.name != "site"]
    assert len(kept) == 1 and err.count("\n") == 1, err
    assert f"OUT {site} is half replaced (Input/output error): the old book is in {kept[0] / 'old'}" in err, err
    assert tree(kept[0] / "old") == before, "the old book is kept whole"


@pytest.mark.parametrize("during", ["swap", "cleanup"])
def test_an_interrupt_once_the_new_book_moves_in_completes_the_rebuild(tmp_path, tiny_book, monkeypatch, capsys,
                                                                       during, ctrl_c_raises):
    site = tmp_path / "site"
    assert main(["book", str(site)]) == 0
    sent, rmtree = [], shutil.rmtree

    def ctrl_c(*_) -> None:
        if not sent:
            sent.append(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)

    def removing(path, *args, **kwargs) -> None:
        if ".building-" in str(path):
            ctrl_c()
        rmtree(path, *args, **kwargs)
    if during == "swap":
        monkeypatch.setattr(os, "rename", moving_in(site, ctrl_c))
    else:
        monkeypatch.setattr(shutil, "rmtree", removing)
    tiny_book(title="Rebuilt")
    capsys.readouterr()
    assert main(["book", str(site)]) == 0
    assert sent and "interrupted" not in capsys.readouterr().err
    assert "Rebuilt" in (site / "index.html").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"], "no staging folder is left behind"


def test_a_rebuild_over_an_edited_file_of_the_book_is_refused_untouched(tmp_path, tiny_book, capsys):
    site = tmp_path / "site"
    assert main(["book", str(site)]) == 0
    with (site / "index.html").open("a") as page:
        page.write("my edit")
    (site / "css" / "base.css").write_text("mine")
    before = tree(site)
    capsys.readouterr()
    assert main(["book", str(site)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"OUT {site} holds files of the book edited since it was built (css/base.css, " \
                                    f"index.html): move them out or give another folder; nothing was touched" in err
    assert tree(site) == before
    for edited in ("index.html", "css/base.css"):  # what the message asks for: the edits taken out
        (site / edited).rename(tmp_path / Path(edited).name)
    assert main(["book", str(site)]) == 0 and "my edit" not in (site / "index.html").read_text()


def test_a_book_whose_marker_lists_names_only_written_before_digests_is_still_replaced(tmp_path, tiny_book):
    site = tmp_path / "site"
    assert main(["book", str(site)]) == 0
    marker = json.loads((site / book.MARKER).read_text())
    (site / book.MARKER).write_text(json.dumps({"written_by": marker["written_by"], "files": marker["files"]}))
    (site / "index.html").write_text("unverifiable")
    tiny_book(title="Rebuilt")
    assert main(["book", str(site)]) == 0
    assert "Rebuilt" in (site / "index.html").read_text() and "sha256" in json.loads((site / book.MARKER).read_text())


def test_the_pages_workflow_builds_the_book_with_the_kit_command_and_deploys_it():
    """.github/workflows/book.yml (GitHub's runners; it cannot run here) builds with the book command."""
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text(encoding="utf-8"))
    build, deploy = workflow["jobs"]["build"]["steps"], workflow["jobs"]["deploy"]["steps"]
    runs = [step.get("run", "") for step in build]
    assert 'pip install -c constraints.txt -e ".[book]"' in runs and "python -m fbcd_lab book site" in runs
    assert any(step.get("with", {}).get("path") == "site" for step in build if "upload-pages" in step.get("uses", ""))
    assert any("deploy-pages" in step.get("uses", "") for step in deploy)
