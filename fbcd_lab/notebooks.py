"""Run the notebook sequence: open it in JupyterLab, or execute it headless and write HTML.

The notebooks live in the repository's ``notebooks/`` folder as Jupytext pairs (``.py`` percent
format and ``.ipynb``); the ``.py`` is the source executed here. JupyterLab opens working copies
(:func:`working_copies`), so what a learner runs and saves never changes the committed outputs that
``pytest --nbval`` compares with. Both need the ``[lab]`` extra
(JupyterLab, ipykernel, Jupytext, nbclient, nbconvert): :func:`missing_packages` says what is absent.

The HTML export works offline: every plotly figure is re-rendered without its CDN script tag and
plotly.js is embedded once at the top of the page (about 5 MB per file).
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from fbcd_lab.checkpoints import atomic_write, interrupts_held
from fbcd_lab.run_folder import check_outside_runs

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
# The learner's copies: $FBCD_NOTEBOOKS, else my_notebooks/ beside notebooks/ (at the same depth, so the
# notebooks' ../results paths resolve); git ignores it.
WORK_VAR = "FBCD_NOTEBOOKS"
WORK_DIR = NOTEBOOK_DIR.parent / "my_notebooks"
# Defaults for the JupyterLab that ``lab`` starts (a user's own settings still win): no news or update
# pop-up, and the notebooks' paired .py files (NN_name.py, for review and editing) and test and build
# files hidden from the file browser, so a learner sees each notebook once, as its .ipynb.
JUPYTER_CONFIG = Path(__file__).resolve().parent / "jupyter_config"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
PLOTLY_MIME = "application/vnd.plotly.v1+json"
CELL_TIMEOUT_S = 900
# import name -> distribution name, of what each way of running the notebooks needs (the [lab] extra)
LAB_PACKAGES = {"jupyterlab": "jupyterlab", "ipykernel": "ipykernel", "ipywidgets": "ipywidgets",
                "anywidget": "anywidget", "jupytext": "jupytext"}
HEADLESS_PACKAGES = {"ipykernel": "ipykernel", "ipywidgets": "ipywidgets", "anywidget": "anywidget",
                     "jupytext": "jupytext", "nbclient": "nbclient", "nbconvert": "nbconvert",
                     "latex2mathml": "latex2mathml"}
INSTALL_HINT = 'pip install -c constraints.txt -e ".[lab]"'
# Markdown's code (fenced blocks, code spans), and its TeX: $$display$$ or $inline$ (not \$).
MARKDOWN_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)
MARKDOWN_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$([^$\n]+?)\$", re.S)


class NotebookError(RuntimeError):
    """A notebook that could not be executed headless; the message is one line naming it."""


class HeadlessInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) stopped :func:`run_headless`; ``written`` lists the HTML files it completed."""

    def __init__(self, written: list[Path]):
        super().__init__()
        self.written = written


def missing_packages(headless: bool) -> list[str]:
    """The distributions that ``lab`` (``headless`` or not) needs and this environment lacks."""
    needed = HEADLESS_PACKAGES if headless else LAB_PACKAGES
    return [dist for module, dist in needed.items() if importlib.util.find_spec(module) is None]


def notebook_sources(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered notebooks' .py sources, in order; an error if the folder is not there."""
    sources = sorted(folder.glob("[0-9][0-9]_*.py"))
    if not sources:
        raise FileNotFoundError(f"no notebooks under {folder}: run from a clone of the fbcd_lab repository")
    return sources


def execute(py: Path, preset: str, timeout: int = CELL_TIMEOUT_S, env: dict[str, str] | None = None):
    """Execute the notebook paired with ``py`` under ``FBCD_PRESET=preset`` and the variables ``env``,
    each cell within ``timeout`` seconds; returns the notebook with outputs and execution counts,
    widget state left out. A failing cell raises nbclient's error (:func:`run_headless` turns it
    into one line); Ctrl-C or SIGTERM a KeyboardInterrupt, the kernel stopped (:func:`_execute_cells`)."""
    import jupytext
    from nbclient import NotebookClient

    notebook = jupytext.read(py)
    notebook.metadata["kernelspec"] = KERNELSPEC
    settings = {**(env or {}), "FBCD_PRESET": preset, "TQDM_DISABLE": "1"}
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    try:
        # the kernel's own log at ERROR: its "running over TCP without encryption" warning (a local
        # kernel on the loopback) was printed once per notebook
        _execute_cells(NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                      extra_arguments=["--IPKernelApp.log_level=ERROR"],
                                      resources={"metadata": {"path": str(py.parent)}}))
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.update({key: value})
    notebook.metadata["jupytext"] = {"formats": "ipynb,py:percent"}
    return notebook


def _execute_cells(client) -> None:
    """Execute every cell of ``client``'s notebook in a kernel of its own, as ``client.execute()``
    does, less its SIGINT and SIGTERM handlers: they shut the kernel down under the running cell,
    which ended in nbclient's own traceback, and left SIGTERM at its default afterwards. Here an
    interrupt is a KeyboardInterrupt; it is held while the kernel starts and while it is shut down
    (the kernel runs in a session of its own: either cut short would leave it running)."""
    kernel = client.setup_kernel()
    with interrupts_held():
        kernel.__enter__()
    try:
        reply = client.wait_for_reply(client.kc.kernel_info())
        if reply is not None:
            client.nb.metadata["language_info"] = reply["content"]["language_info"]
        for index, cell in enumerate(client.nb.cells):
            client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
    except KeyboardInterrupt:
        client.shutdown_kernel = "immediate"  # asked to stop in a cell, the kernel logged a traceback of its own
        raise
    finally:
        with interrupts_held():
            kernel.__exit__(None, None, None)


def _is_plotly_loader(output) -> bool:
    """The output plotly's ``notebook_connected`` renderer displays once: a script that fetches plotly.js."""
    data = output.get("data", {})
    page = str(data.get("text/html", ""))
    return set(data) <= {"text/html", "text/plain"} and "cdn.plot.ly" in page and "plotly-graph-div" not in page


def offline_figures(notebook):
    """A copy of ``notebook`` whose plotly figures are HTML that needs no network (plotly.js itself
    is added to the page by :func:`write_html`), and the number of figures."""
    import plotly.io as pio

    notebook, figures = copy.deepcopy(notebook), 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if _is_plotly_loader(output):
                continue
            data = output.get("data", {})
            if PLOTLY_MIME in data:
                data["text/html"] = pio.to_html(dict(data[PLOTLY_MIME]), include_plotlyjs=False, full_html=False,
                                                include_mathjax=False, validate=False)
                figures += 1
            kept.append(output)
        cell.outputs = kept
    return notebook, figures


def markdown_tex(source: str) -> list[re.Match]:
    """The TeX of a markdown cell (``$...$``, ``$$...$$``), none inside code: what
    :func:`mathml_markdown` converts."""
    parts = MARKDOWN_CODE.split(source)
    return [m for part in parts[::2] for m in MARKDOWN_MATH.finditer(part)]


def mathml_markdown(source: str) -> str:
    """Markdown with its TeX (``$...$``, ``$$...$$``; none inside code) turned into MathML, which
    browsers draw themselves: the equations of an exported page need no MathJax, so no network."""
    from latex2mathml.converter import convert

    def one(match: re.Match) -> str:
        display, inline = match.groups()
        return convert(" ".join(display.split()), display="block") if display is not None else convert(inline)

    parts = MARKDOWN_CODE.split(source)
    return "".join(part if i % 2 else MARKDOWN_MATH.sub(one, part) for i, part in enumerate(parts))


def hide_collapsed_code(notebook) -> None:
    """Mark the code of cells collapsed in JupyterLab (the checks, ``jupyter.source_hidden``) to be
    left out of an export, as it is hidden there; their outputs stay."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.metadata.get("jupyter", {}).get("source_hidden"):
            cell.metadata["transient"] = {**cell.metadata.get("transient", {}), "remove_source": True}


def write_html(notebook, target: Path) -> Path:
    """A static HTML export of an executed notebook that shows its figures and equations offline:
    plotly.js is embedded once, first in the page (before require.js, so that it defines
    ``window.Plotly``), the markdown's TeX is MathML (:func:`mathml_markdown`), and the code of
    cells collapsed in JupyterLab (the checks, ``jupyter.source_hidden``) is left out, as there.
    Written atomically: an interrupt leaves the file whole or absent."""
    from nbconvert import HTMLExporter
    from plotly.offline import get_plotlyjs

    notebook, figures = offline_figures(notebook)
    hide_collapsed_code(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = mathml_markdown(cell.source)
    body, _ = HTMLExporter().from_notebook_node(notebook)
    if figures:
        head = body.index("<head>") + len("<head>")
        body = f'{body[:head]}\n<script type="text/javascript">{get_plotlyjs()}</script>{body[head:]}'
    atomic_write(target, lambda file: file.write(body.encode("utf-8")))  # never a half-written page
    return target


def check_html_dir(html_dir: Path, sources: Sequence[Path], overwrite: bool = False) -> None:
    """Refuse (ValueError, one line naming ``--headless``) an ``html_dir`` that is a file, a run folder
    or inside one, or that cannot be made, and one already holding HTML files of the notebooks'
    names unless ``overwrite``: checked before any notebook runs, so that nothing is replaced unasked."""
    check_outside_runs(html_dir, "--headless")
    taken = [f"{py.stem}.html" for py in sources if (html_dir / f"{py.stem}.html").exists()]
    if taken and not overwrite:
        raise ValueError(f"--headless {html_dir} already holds {', '.join(taken)}: pass --overwrite to replace "
                         f"them, or choose another folder")
    try:
        html_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"--headless {html_dir} cannot be written ({err.strerror or err})") from None


def run_headless(html_dir: Path, preset: str, timeout: int = CELL_TIMEOUT_S,
                 report: Callable[[str], None] | None = None, sources: Sequence[Path] | None = None,
                 overwrite: bool = False) -> list[Path]:
    """Execute every notebook (or ``sources``) and write one HTML file each into ``html_dir``,
    reporting each notebook as it starts and as it finishes, with its time. ``html_dir`` is checked
    first (:func:`check_html_dir`; ``overwrite`` replaces the notebooks' HTML files already there).
    A cell that fails or runs past ``timeout`` seconds raises :class:`NotebookError`, one line naming
    the notebook; Ctrl-C (or SIGTERM) raises :class:`HeadlessInterrupted`, which lists the files
    written (each whole: the running notebook's kernel is stopped and its file never started)."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    report = report or (lambda line: print(line, flush=True))
    sources = list(sources or notebook_sources())
    check_html_dir(html_dir, sources, overwrite)
    written, start = [], time.perf_counter()
    try:
        for i, py in enumerate(sources, 1):
            report(f"[{i}/{len(sources)}] {py.stem}: executing (preset {preset}) ...")
            began = time.perf_counter()
            try:
                notebook = execute(py, preset, timeout)
            except CellTimeoutError:
                smaller = "; try --preset ci (seconds per notebook)" if preset != "ci" else ""
                raise NotebookError(f"{py.stem}: a cell ran longer than {timeout} s under preset {preset}"
                                    f"{smaller}") from None
            except CellExecutionError as err:
                raise NotebookError(f"{py.stem}: a cell failed: {err.ename}: {err.evalue}") from None
            except DeadKernelError as err:
                raise NotebookError(f"{py.stem}: the kernel died ({err}); try --preset ci if memory ran out") from None
            written.append(write_html(notebook, html_dir / f"{py.stem}.html"))
            report(f"[{i}/{len(sources)}] {py.stem}: done in {time.perf_counter() - began:.0f} s, "
                   f"wrote {written[-1]}")
    except KeyboardInterrupt:
        raise HeadlessInterrupted(written) from None
    report(f"{len(written)} notebooks in {time.perf_counter() - start:.0f} s")
    return written


def working_folder() -> Path:
    """Where ``lab`` opens the notebooks: ``$FBCD_NOTEBOOKS``, else ``my_notebooks/`` beside ``notebooks/``;
    the committed notebooks' own folder is refused (saving there would change what nbval compares with)."""
    folder = Path(os.environ.get(WORK_VAR) or WORK_DIR)
    if folder.resolve() == NOTEBOOK_DIR.resolve():
        raise ValueError(f"{WORK_VAR}={os.environ[WORK_VAR]} names the committed notebooks' folder: the lab opens "
                         f"copies, so that saving never changes the outputs nbval compares with; name another "
                         f"folder in the repository root, beside results/")
    return folder


def working_copies(folder: Path) -> list[Path]:
    """Copy each committed notebook (its .ipynb and paired .py) and the Jupytext configuration into
    ``folder`` where it has no copy yet; a copy already there is the learner's and is never
    overwritten. Returns the notebooks copied (delete a copy to get the committed one back)."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for py in notebook_sources():
        ipynb = py.with_suffix(".ipynb")
        if not (folder / ipynb.name).exists():
            copied.append(folder / ipynb.name)
            for source in (py, ipynb):
                shutil.copy2(source, folder / source.name)
    for name in ("jupytext.toml",):
        if not (folder / name).exists():
            shutil.copy2(NOTEBOOK_DIR / name, folder / name)
    return copied


def lab_command(options: Sequence[str] = (), folder: Path = WORK_DIR) -> list[str]:
    """The JupyterLab command line that :func:`open_lab` runs from ``folder``'s parent: the copy of
    notebook 1 in ``folder``, then ``options``."""
    first = folder / notebook_sources()[0].with_suffix(".ipynb").name
    return [sys.executable, "-m", "jupyterlab", str(first.relative_to(folder.parent)), *options]


def open_lab(options: Sequence[str] = (), preset: str | None = None, stop_within_s: float = 30) -> int:
    """Start JupyterLab on the working copy of notebook 1 (:func:`working_copies`, made first) with
    ``options`` passed on (``--no-browser``, ``--port`` ...), its kernels sized by ``preset``
    (``FBCD_PRESET``) when given; blocks until JupyterLab is stopped.

    Ctrl+C (or SIGTERM, which the command line turns into the same KeyboardInterrupt) stops
    JupyterLab with SIGTERM, on which it shuts its kernels down; killing it would leave them
    running. Only if it has not stopped within ``stop_within_s`` is it killed. Returns its status,
    130 after an interrupt."""
    env = dict(os.environ, **({"FBCD_PRESET": preset} if preset else {}), JUPYTER_CONFIG_PATH=os.pathsep.join(
        [str(JUPYTER_CONFIG), *filter(None, [os.environ.get("JUPYTER_CONFIG_PATH")])]))
    folder = working_folder()
    copied = working_copies(folder)
    print(f"JupyterLab opens your copies of the notebooks in {folder}{f' ({len(copied)} copied now)' if copied else ''}: "
          f"what you run and save there leaves the committed ones in {NOTEBOOK_DIR} as they are (pytest --nbval "
          f"checks those); delete a copy to get the committed notebook back", file=sys.stderr)
    server = subprocess.Popen(lab_command(options, folder), cwd=folder.parent, env=env)
    try:
        return server.wait()
    except KeyboardInterrupt:
        pass
    server.terminate()
    deadline = time.monotonic() + stop_within_s
    while True:
        try:
            server.wait(timeout=max(0.0, deadline - time.monotonic()))
            return 130
        except KeyboardInterrupt:
            continue
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            return 130
