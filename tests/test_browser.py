"""The notebooks as a user meets them: JupyterLab driven by headless Chromium through Playwright; and
the book (``python -m fbcd_lab book``) read from its files with the network cut.

A JupyterLab server runs on a free port with a random token, on a copy of the repository's
``notebooks/`` folder (so that nothing a test does can save into the committed notebooks), its
kernels sized by ``FBCD_PRESET=ci``. Each test opens a notebook in a fresh browser page, clears
its outputs and runs all cells from the Run menu, as a user would, then reads the page.

Needs Playwright for Python (``pip install playwright``, in the ``[test]`` extra) and a Chromium:
Playwright's own browser download (``playwright install``) is not needed; the system's Chromium
is used through ``executable_path`` (Debian/Ubuntu: ``apt-get install chromium``), found as
``$FBCD_CHROMIUM``, else ``chromium``, ``chromium-browser`` or ``google-chrome`` on the PATH.
Without one of the two the tests skip, saying which is missing. Run them alone with
``python -m pytest -m browser tests/test_browser.py``; ``$FBCD_SCREENSHOTS`` chooses where the
training lab's screenshot goes (default: pytest's temporary folder); its path is printed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from fbcd_lab.notebooks import PLOTLY_MIME, markdown_tex, write_html

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SERVER_START_S = 120
RUN_ALL_S = 600
RUN_ALL_STARTS_S = 30  # a queued cell shows [*] at once: none after this, the click was missed
STOP_WITHIN_S = 10
# User settings for the test server: never autosave (the page is thrown away), every cell in the
# DOM (no virtual scrolling), no news or update pop-ups over the page.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}

# --- what the page shows, read in the notebook that is open --------------------------------------
NOTEBOOK = "document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)')"
# The prompts of the code cells whose source shows: a collapsed cell (the notebooks' checks) has an
# empty prompt; if its check fails, its error output and the unnumbered cells after it still tell.
PROMPTS_JS = f"""() => {{ const nb = {NOTEBOOK}; if (!nb) return null;
  return [...nb.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim())
    .filter(t => t !== ''); }}"""
KERNEL_IDLE_JS = f"""() => {{ const nb = {NOTEBOOK};
  const s = nb && nb.querySelector('.jp-Notebook-ExecutionIndicator');
  return !!s && s.getAttribute('data-status') === 'idle'; }}"""
# Run All is over when the kernel is idle and no cell is queued ([*]); a cell that failed leaves
# the cells after it unnumbered, which the test then reports.
RUN_ALL_DONE_JS = f"""() => {{ const p = ({PROMPTS_JS})(); return !!p && ({KERNEL_IDLE_JS})()
  && p.every(t => t !== '[*]:') && p.some(t => /^\\[\\d+\\]:$/.test(t)); }}"""
STDERR_JS = f"""() => [...{NOTEBOOK}.querySelectorAll(
  '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')].map(e => e.innerText)"""
NOTEBOOK_FIGURES = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output.js-plotly-plot, " \
                   ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output .js-plotly-plot"
# A plotly figure is drawn when its SVG is there and holds marks: traces, or a heatmap's image.
FIGURE_STATE_JS = """e => ({svg: e.querySelectorAll('svg.main-svg').length,
  marks: e.querySelectorAll('.trace, .hm image, .im image').length, traces: (e.data || []).length})"""
# In the training lab: points of each trace of the loss plot (subplot xy), and the run table.
LOSS_POINTS_JS = """panel => [...panel.querySelectorAll('.cartesianlayer .subplot.xy .scatterlayer .trace')]
  .map(t => t.querySelectorAll('.points path.point').length)"""
TABLE_JS = """panel => { const t = panel.querySelector('table.dataframe'); if (!t) return [];
  const head = [...t.querySelectorAll('thead th')].map(e => e.textContent.trim());
  return [...t.querySelectorAll('tbody tr')].map(r => Object.fromEntries(
    [...r.querySelectorAll('td')].map((c, i) => [head[i], c.textContent.trim()]))); }"""


# --- finding the tools -----------------------------------------------------------------------------
def find_chromium() -> str | None:
    """$FBCD_CHROMIUM, else the first Chromium on the PATH; None where there is none."""
    given = os.environ.get("FBCD_CHROMIUM")
    if given and Path(given).is_file():
        return given
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


@pytest.fixture(scope="module")
def chromium_path() -> str:
    pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed "
                        "(pip install playwright; it is in the [test] extra)")
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium for the browser tests: install one (Debian/Ubuntu: apt-get install chromium) "
                    "or point FBCD_CHROMIUM at its binary")
    return path


@pytest.fixture(scope="module")
def browser(chromium_path):
    """Headless Chromium, closed whatever happens."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    try:
        yield context.new_page()
    finally:
        context.close()


# --- the JupyterLab server ----------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc; elsewhere none): the server's kernels, which run in
    sessions of their own and so outlive a kill of the server's process group."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class LabServer:
    """A JupyterLab server started by :func:`lab_server`; ``url(path)`` carries the token."""

    def __init__(self, process: subprocess.Popen, port: int, token: str, root: Path, log: Path) -> None:
        self.process, self.port, self.token, self.root, self.log = process, port, token, root, log
        self.base = f"http://127.0.0.1:{port}/"

    def url(self, path: str) -> str:
        return f"{self.base}{path}?token={self.token}"

    def api(self, path: str, method: str = "GET", timeout: float = 10):
        request = urllib.request.Request(self.url(f"api/{path}"), method=method)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.is_file() else ""

    def shut_down_kernels(self) -> None:
        """End every notebook session's kernel (between tests: a finished notebook keeps no CPU or memory)."""
        try:
            for session in self.api("sessions"):
                self.api(f"sessions/{session['id']}", method="DELETE")
        except (OSError, ValueError):
            pass

    def stop(self) -> None:
        """Shut the server and its kernels down; kill the process group and any kernel left over."""
        kernels = descendants(self.process.pid)
        if self.process.poll() is None:
            try:
                self.api("shutdown", method="POST", timeout=5)
                self.process.wait(timeout=20)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            if self.process.poll() is not None:
                break
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(timeout=wait)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        for pid in kernels:  # kernels lead process groups of their own (start_new_session)
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


@pytest.fixture(scope="module")
def lab_server(chromium_path, tmp_path_factory):
    """JupyterLab on a copy of notebooks/ beside results/ (``--no-browser``, a free port, a token, ``--allow-root``
    when root), stopped with its kernels whatever happens."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    (root / "results").symlink_to(ROOT / "results")  # the committed records and weights notebooks read
    settings = tmp_path_factory.mktemp("lab-settings")
    for name, values in LAB_SETTINGS.items():
        target = settings / f"{name}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    env = {**os.environ, "FBCD_PRESET": "ci", "TQDM_DISABLE": "1", "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path_factory.mktemp("lab-workspaces"))}
    env.pop("FBCD_RESULTS", None)
    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = root / "jupyterlab.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = LabServer(process, port, token, root, log)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with status {process.returncode}:\n{server.log_tail()}")
            try:
                server.api("status", timeout=2)
                break
            except (OSError, ValueError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within {SERVER_START_S} s:\n{server.log_tail()}")
                time.sleep(0.5)
        yield server
    finally:
        server.stop()


# --- driving JupyterLab --------------------------------------------------------------------------
def menu(page, top: str, command: str) -> None:
    """Click ``top`` in the menu bar, then the entry that runs ``command``."""
    page.locator(".lm-MenuBar-item", has_text=top).click()
    page.locator(f".lm-Menu-item[data-command='{command}']").click()


def wait_until(page, script: str, seconds: float, what: str, arg=None, shots: Path | None = None) -> None:
    """Wait for ``script`` to be true; else fail saying ``what`` with the cells' prompts, and save a
    screenshot of the page into ``shots``."""
    try:
        page.wait_for_function(script, arg=arg, timeout=seconds * 1000, polling=250)
    except Exception as err:  # Playwright's TimeoutError
        where = ""
        if shots is not None:
            shot = shots / f"failed-{re.sub(r'[^a-z0-9]+', '-', what.lower()).strip('-')}.png"
            page.screenshot(path=str(shot), full_page=True)
            where = f"; screenshot {shot}"
        raise AssertionError(f"{what}: not within {seconds:g} s; prompts {page.evaluate(PROMPTS_JS)}{where}") from err


def run_all_cells(page, server: LabServer, name: str, shots: Path | None = None) -> None:
    """Open ``notebooks/<name>.ipynb``, wait for its kernel, clear the outputs and Run ▸ Run All
    Cells; returns when every cell has run, failing with the cells that did not."""
    page.goto(server.url(f"lab/tree/notebooks/{name}.ipynb") + "&reset")
    wait_until(page, KERNEL_IDLE_JS, SERVER_START_S, f"{name}: kernel idle", shots=shots)
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").click(position={"x": 5, "y": 5})
    for attempt in range(3):  # a menu clicked while the page still settles can miss: try again
        menu(page, "Edit", "editmenu:clear-all")
        try:
            page.wait_for_function(f"() => ({PROMPTS_JS})().every(t => t === '[ ]:')", timeout=10_000)
            break
        except Exception:
            page.keyboard.press("Escape")
    wait_until(page, f"() => ({PROMPTS_JS})().every(t => t === '[ ]:')", 1, f"{name}: outputs cleared", shots=shots)
    for attempt in range(3):  # the same for Run All: under load a missed click left every cell unrun
        menu(page, "Run", "runmenu:run-all")
        try:
            page.wait_for_function(f"() => ({PROMPTS_JS})().some(t => t !== '[ ]:')", timeout=RUN_ALL_STARTS_S * 1000)
            break
        except Exception:
            page.keyboard.press("Escape")
    wait_until(page, RUN_ALL_DONE_JS, RUN_ALL_S, f"{name}: run all cells", shots=shots)
    prompts = page.evaluate(PROMPTS_JS)
    errors = page.evaluate(STDERR_JS)
    assert not errors, f"{name}: error output in the page:\n" + "\n---\n".join(e[-1500:] for e in errors)
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), f"{name}: cells that did not run: {prompts}"


def plotly_outputs(name: str) -> int:
    """The plotly figures in the committed notebook (executed under the same preset)."""
    notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    return sum(PLOTLY_MIME in o.get("data", {}) for c in notebook.cells if c.cell_type == "code"
               for o in c.get("outputs", []))


def tex_snippets(name: str) -> int:
    """The TeX snippets ($...$, $$...$$, outside code) in the committed notebook's markdown."""
    notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    return sum(len(markdown_tex(c.source)) for c in notebook.cells if c.cell_type == "markdown")


# How many elements of a selector (typeset equations) the page draws with a width.
EQUATIONS_JS = "s => [...document.querySelectorAll(s)].filter(e => e.getBoundingClientRect().width > 0).length"


def wait_for_figures(page, expected: int, selector: str = NOTEBOOK_FIGURES) -> list[dict]:
    """Wait until at least ``expected`` plotly figures (``selector``) are drawn with data; their
    states (also when the wait fails, in the error)."""
    states_js = f"() => [...document.querySelectorAll({json.dumps(selector)})].map({FIGURE_STATE_JS})"
    ready_js = f"() => {{ const f = ({states_js})(); return f.length >= {expected}" \
               " && f.every(s => s.svg > 0 && s.marks > 0 && s.traces > 0); }"
    try:
        page.wait_for_function(ready_js, timeout=60_000)
    except Exception as err:
        raise AssertionError(f"expected {expected} drawn figures, found {page.evaluate(states_js)}") from err
    return page.evaluate(states_js)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where screenshots go: $FBCD_SCREENSHOTS, else a pytest temporary folder."""
    folder = Path(os.environ.get("FBCD_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def lab_page(page, lab_server):
    """A page on the server; the notebook's kernel is shut down after the test."""
    try:
        yield page
    finally:
        lab_server.shut_down_kernels()


# --- the tests -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["01_building_imbalance", "03_class_division", "05_per_class_analysis"])
def test_notebook_runs_and_draws_its_figures(lab_page, lab_server, shots, name):
    run_all_cells(lab_page, lab_server, name, shots)
    expected = plotly_outputs(name)
    assert expected > 0
    states = wait_for_figures(lab_page, expected)
    assert len(states) >= expected and all(s["svg"] and s["marks"] and s["traces"] for s in states), states
    # every equation typeset by JupyterLab's MathJax (mjx-container), none left as TeX
    equations = tex_snippets(name)
    assert equations > 0
    selector = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell mjx-container"
    wait_until(lab_page, f"([s, n]) => ({EQUATIONS_JS})(s) >= n", 30, f"{name}: {equations} equations typeset",
               arg=[selector, equations], shots=shots)
    assert lab_page.evaluate(EQUATIONS_JS, selector) == equations


def test_training_lab_as_a_user(lab_page, lab_server, shots, capsys):
    page = lab_page
    run_all_cells(page, lab_server, "04_training_lab", shots)
    panel = page.locator(".jp-OutputArea-output .widget-vbox", has=page.get_by_role("button", name="Train")).first
    panel.wait_for()
    handle = panel.element_handle()
    # the widget's figure draws after the cells have run: under load its traces come later than the table
    wait_until(page, f"p => ({LOSS_POINTS_JS})(p).length === 2", 60, "the loss plot's two traces", arg=handle,
               shots=shots)
    rows_before = panel.evaluate(TABLE_JS)
    traces_before = panel.evaluate(LOSS_POINTS_JS)
    # notebook 4 trains FBH + CDH and CE from code first: two rows, two loss traces
    assert len(rows_before) == 2 and traces_before == [int(r["epochs_done"]) for r in rows_before], \
        (rows_before, traces_before)

    def slider(label: str):
        return panel.locator(".widget-slider", has=page.locator(".widget-label", has_text=label))

    def set_slider(label: str, value: int) -> None:
        """Type ``value`` into the slider's readout, as a user can, and check the handle moved."""
        readout = slider(label).locator(".widget-readout")
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(str(value))
        page.keyboard.press("Enter")
        handle_ = slider(label).get_by_role("slider")
        page.wait_for_function("([h, v]) => Number(h.getAttribute('aria-valuenow')) === v",
                               arg=[handle_.element_handle(), value])

    def method(name: str) -> None:
        button = panel.locator(f".widget-toggle-buttons button[data-value='{name}']", has_text=name)
        button.click()
        page.wait_for_function("b => b.classList.contains('mod-active')", arg=button.element_handle())

    train, stop = panel.get_by_role("button", name="Train"), panel.get_by_role("button", name="Stop")

    # A short run with settings chosen on the controls.
    method("cdh")
    set_slider("u (clusters)", 5)
    set_slider("epochs", 5)
    train.click()
    wait_until(page, f"p => {{ const pts = ({LOSS_POINTS_JS})(p), rows = ({TABLE_JS})(p);"
                     f" return pts.length === 3 && pts[2] === 5 && rows.length === 3; }}",
               120, "5 loss points and a new row after Train", arg=handle, shots=shots)
    row = panel.evaluate(TABLE_JS)[-1]
    assert {k: row[k] for k in ("run", "method", "u", "epochs", "epochs_done", "stopped")} == \
        {"run": "3", "method": "cdh", "u": "5", "epochs": "5", "epochs_done": "5", "stopped": "False"}, row

    # A long run, stopped: the row says so within a few seconds.
    set_slider("epochs", 100)
    train.click()
    wait_until(page, f"p => {{ const pts = ({LOSS_POINTS_JS})(p); return pts.length === 4 && pts[3] >= 1; }}",
               120, "the long run's first loss point", arg=handle, shots=shots)
    assert stop.is_enabled() and train.is_disabled()
    clicked = time.monotonic()
    stop.click()
    wait_until(page, f"p => ({TABLE_JS})(p).length === 4", STOP_WITHIN_S, "the stopped run's row", arg=handle,
               shots=shots)
    took = time.monotonic() - clicked
    row = panel.evaluate(TABLE_JS)[-1]
    assert row["stopped"] == "True" and int(row["epochs_done"]) < 100 and row["epochs"] == "100", row
    assert took < STOP_WITHIN_S
    wait_until(page, "b => !b.disabled", 10, "Train enabled again", arg=train.element_handle(), shots=shots)

    # Nothing went wrong anywhere: no error in the panel, no error output in any cell.
    assert panel.locator(".fbcd-lab-error .widget-html-content").inner_text().strip() == ""
    errors = page.evaluate(STDERR_JS)
    assert not errors, "error output in the page:\n" + "\n---\n".join(errors)

    shot = shots / "04_training_lab_panel.png"
    panel.screenshot(path=str(shot))
    with capsys.disabled():
        print(f"\ntraining lab screenshot: {shot} (stop took {took:.1f} s)")


@pytest.fixture
def offline_page(browser):
    """A page with the network cut: every request other than a file's is aborted, and listed."""
    context = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    blocked: list[str] = []

    def only_files(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    try:
        page = context.new_page()
        page.route("**/*", only_files)
        page.blocked = blocked
        yield page
    finally:
        context.close()


@pytest.mark.parametrize("name", ["01_building_imbalance", "02_why_ce_fails_and_fbh", "04_training_lab"])
def test_exported_html_draws_its_figures_and_equations_offline(offline_page, tmp_path, name):
    """The HTML of ``lab --headless`` (from the committed notebook's outputs) with the network cut:
    every figure is drawn, notebook 4's static copy of the plot and the run table included, and
    every equation, with no TeX left in the text."""
    notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    html = write_html(notebook, tmp_path / f"{name}.html")
    page = offline_page
    page.goto(html.as_uri())
    expected = plotly_outputs(name)
    states = wait_for_figures(page, expected, ".js-plotly-plot")
    assert len(states) == expected, (states, page.blocked)
    if name == "04_training_lab":
        assert page.locator("table.dataframe tbody tr").count() >= 1
    # the equations as MathML, drawn by the browser itself (MathJax's CDN is blocked here)
    assert page.evaluate(EQUATIONS_JS, "math") == tex_snippets(name)
    text = page.inner_text("body")
    assert not any(tex in text for tex in ("\\math", "\\frac", "\\lambda", "$\\")), text[:2000]
    assert not [u for u in page.blocked if "plot.ly" in u or "plotly" in u], page.blocked


# --- the book (python -m fbcd_lab book), opened from its files with the network cut -------------
BOOK_NOTEBOOKS = ["02_why_ce_fails_and_fbh", "04_training_lab"]
# Material's search box says "Type to start searching" once its index is loaded (from file://: the
# offline plugin's search_index.js, run by the iframe-worker shim).
SEARCH_READY_JS = """() => { const m = document.querySelector('.md-search-result__meta');
  return !!m && /type to start/i.test(m.textContent); }"""


def test_the_book_reads_offline(offline_page, book_site):
    """The built book from its files: the navigation leads from the front page to a guide and a
    notebook, search finds a guide's word, each notebook page draws its figures and typesets its
    equations (MathJax, the book's own copy), and the command reference lists every command."""
    from fbcd_lab.book.command_reference import subcommands
    from fbcd_lab.cli import build_parser

    page = offline_page
    page.goto((book_site / "index.html").as_uri())
    page.locator(".md-nav__link", has_text="More than one GPU").first.click()
    page.wait_for_url("**/guides/gpus.html")
    assert page.locator("article h1").inner_text().startswith("More than one GPU")
    page.locator(".md-nav__link", has_text="Training lab").first.click()
    page.wait_for_url("**/notebooks/04_training_lab.html")

    page.locator(".md-search__input").click()
    page.wait_for_function(SEARCH_READY_JS)
    page.keyboard.type("torchrun", delay=20)
    page.wait_for_function("() => document.querySelectorAll('.md-search-result__item').length > 0")
    links = page.eval_on_selector_all(".md-search-result__item a", "es => es.map(e => e.href)")
    assert any("/guides/gpus.html" in link for link in links), links

    for name in BOOK_NOTEBOOKS:
        page.goto((book_site / "notebooks" / f"{name}.html").as_uri())
        states = wait_for_figures(page, plotly_outputs(name), ".js-plotly-plot")
        assert len(states) == plotly_outputs(name), states
        equations = tex_snippets(name)
        wait_until(page, f"() => ({EQUATIONS_JS})('span.MathJax') >= {equations}", 60,
                   f"{name}: {equations} equations typeset")
        assert page.evaluate(EQUATIONS_JS, "span.MathJax") == equations
        text = page.locator("article").inner_text()
        assert not any(tex in text for tex in ("\\frac", "\\lambda", "\\mathcal", "$\\")), text[:2000]

    page.goto((book_site / "reference" / "commands.html").as_uri())
    headings = [h.replace("¶", "").strip() for h in page.locator("article h2").all_inner_texts()]
    assert headings == list(subcommands(build_parser())), headings
    assert not page.blocked, page.blocked
