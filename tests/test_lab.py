"""Notebook sizes from FBCD_PRESET, and `python -m fbcd_lab lab`: JupyterLab's command line, and the
headless runner that writes HTML whose figures need no network."""

import json
import os
from pathlib import Path
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from fbcd_lab import notebooks
from fbcd_lab.cli import main
from fbcd_lab.lab_preset import lab_preset
from fbcd_lab.notebooks import (NOTEBOOK_DIR, WORK_VAR, NotebookError, execute, notebook_sources, run_headless,
                                working_copies, write_html)


def test_preset_from_environment(monkeypatch):
    monkeypatch.delenv("FBCD_PRESET", raising=False)
    assert lab_preset().name == "full" and lab_preset(default="binder").name == "binder"
    monkeypatch.setenv("FBCD_PRESET", "binder")
    assert lab_preset().name == "binder" and lab_preset("ci").seeds == 2
    monkeypatch.setenv("FBCD_PRESET", "huge")
    with pytest.raises(ValueError, match="FBCD_PRESET must be one of"):
        lab_preset()


def test_notebook_precision_and_first_seed_from_environment(monkeypatch):
    """The notebooks train in fp32 unless FBCD_PRECISION says otherwise; FBCD_SEED moves their seeds."""
    for name in ("FBCD_PRECISION", "FBCD_SEED"):
        monkeypatch.delenv(name, raising=False)
    assert (lab_preset("ci").precision, lab_preset("ci").training_seeds) == ("fp32", [0, 1])
    monkeypatch.setenv("FBCD_PRECISION", "bf16")
    monkeypatch.setenv("FBCD_SEED", "4")
    assert (lab_preset("ci").precision, lab_preset("full").training_seeds) == ("bf16", [4, 5, 6, 7, 8])
    for name, value, message in (("FBCD_PRECISION", "fp16", "FBCD_PRECISION must be one of"),
                                 ("FBCD_RUN_CACHE", "maybe", "FBCD_RUN_CACHE must be 'on' or 'off', got 'maybe'"),
                                 ("FBCD_SEED", "-1", "FBCD_SEED must be an integer >= 0, got '-1'"),
                                 ("FBCD_SEED", str(2**32), r"FBCD_SEED must be an integer in \[0, 2\*\*32\)")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValueError, match=message):
            lab_preset("ci")
        monkeypatch.delenv(name)


def test_headless_execution_writes_html_that_works_offline(tmp_path):
    from nbconvert import HTMLExporter
    from plotly.offline import get_plotlyjs

    first = notebook_sources()[0]
    notebook = execute(first, "ci")
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("notebook preset: ci" in o.get("text", "") for o in outputs)
    assert all(isinstance(c.execution_count, int) for c in notebook.cells if c.cell_type == "code")
    checks = [c for c in notebook.cells if c.metadata.get("jupyter", {}).get("source_hidden")]
    every_input, _ = HTMLExporter().from_notebook_node(notebook)
    html = write_html(notebook, tmp_path / "nb.html").read_text()
    assert "Building imbalance" in html and "plotly-graph-div" in html
    assert checks and html.count("jp-InputArea-editor") == every_input.count("jp-InputArea-editor") - len(checks), \
        "the code of the collapsed check cells stays out of the page, as in JupyterLab"
    assert html.count(get_plotlyjs()[:200]) == 1, "plotly.js is embedded once"
    assert html.index(get_plotlyjs()[:200]) < html.index("require.min.js"), "before require.js"
    assert 'src="https://cdn.plot.ly' not in html and 'import "https://cdn.plot.ly' not in html, \
        "no figure loads plotly.js from the internet"


def test_headless_runner_reports_each_notebook_and_fails_in_one_line(tmp_path):
    quick, slow, failing = (tmp_path / f"{n}.py" for n in ("01_quick", "02_slow", "03_failing"))
    quick.write_text("# %%\nprint('hello')\n")
    slow.write_text("# %%\nimport time\ntime.sleep(30)\n")
    failing.write_text("# %%\n1 / 0\n")
    lines = []
    written = run_headless(tmp_path / "html", "binder", report=lines.append, sources=[quick])
    assert written == [tmp_path / "html" / "01_quick.html"] and written[0].is_file()
    assert lines[0].startswith("[1/1] 01_quick: executing (preset binder)") and "done in" in lines[1]
    with pytest.raises(NotebookError) as timed_out:
        run_headless(tmp_path / "html", "binder", timeout=2, report=lines.append, sources=[slow])
    assert str(timed_out.value) == ("02_slow: a cell ran longer than 2 s under preset binder; "
                                    "try --preset ci (seconds per notebook)")
    with pytest.raises(NotebookError) as failed:
        run_headless(tmp_path / "html", "ci", report=lines.append, sources=[failing])
    assert str(failed.value) == "03_failing: a cell failed: ZeroDivisionError: division by zero"


class FakeServer:
    """Stands in for subprocess.Popen in fbcd_lab.notebooks: records the command and environment."""

    calls: list = []

    def __init__(self, command, cwd=None, env=None):
        FakeServer.calls.append((command, env))

    def wait(self):
        return 0


@pytest.fixture
def fake_lab(monkeypatch, tmp_path):
    FakeServer.calls = []
    monkeypatch.setattr(notebooks.subprocess, "Popen", FakeServer)
    monkeypatch.delenv("FBCD_PRESET", raising=False)
    monkeypatch.setenv(notebooks.WORK_VAR, str(tmp_path / "my_notebooks"))
    return FakeServer.calls


def test_lab_passes_jupyterlab_options_on_and_sets_the_preset(fake_lab, monkeypatch, capsys):
    monkeypatch.setattr("os.geteuid", lambda: 1000, raising=False)
    assert main(["lab", "--no-browser", "--port", "8890", "--ip=0.0.0.0", "--preset", "ci",
                 "--ServerApp.token=abc"]) == 0
    (command, env), = fake_lab
    assert command[1:4] == ["-m", "jupyterlab", "my_notebooks/01_building_imbalance.ipynb"]
    assert command[4:] == ["--no-browser", "--port", "8890", "--ip=0.0.0.0", "--ServerApp.token=abc"]
    assert env["FBCD_PRESET"] == "ci" and "FBCD_PRESET=ci" in capsys.readouterr().err


def test_lab_lists_each_notebook_once_opens_every_one_and_asks_no_news(tmp_path):
    """The real JupyterLab of ``python -m fbcd_lab lab``: the file browser lists each notebook once (its
    paired .py hidden), every notebook opens although its .ipynb is newer than its .py (as after a
    pull of regenerated outputs: Jupytext reads its config beside the notebooks, so the inputs
    compare equal), and the news and update pop-ups are off by default; SIGTERM stops it."""
    for notebook in NOTEBOOK_DIR.glob("*.ipynb"):
        os.utime(notebook)  # newer than its .py
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"), WORK_VAR: str(tmp_path / "copies")}
    server = subprocess.Popen([sys.executable, "-m", "fbcd_lab", "lab", "--no-browser", f"--port={port}",
                               "--ServerApp.port_retries=0", "--IdentityProvider.token=t"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def get(path):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}?token=t", timeout=30) as response:
            return json.load(response)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                get("api/status")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.5)
        names = sorted(item["name"] for item in get("api/contents/")["content"])
        notebooks = [p.with_suffix(".ipynb").name for p in notebook_sources()]
        assert [n for n in names if n[:2].isdigit()] == notebooks
        assert not {"conftest.py", "regenerate.py", "jupytext.toml"} & set(names)
        for name in notebooks:
            assert get(f"api/contents/{name}")["type"] == "notebook"
        notification = get("lab/api/settings/@jupyterlab/apputils-extension:notification")["schema"]["properties"]
        assert notification["fetchNews"]["default"] == "false" and notification["checkForUpdates"]["default"] is False
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 130


def test_lab_as_root_adds_allow_root(fake_lab, monkeypatch, capsys):
    monkeypatch.setattr("os.geteuid", lambda: 0, raising=False)
    assert main(["lab"]) == 0 and main(["lab", "--ServerApp.allow_root=False"]) == 0
    assert fake_lab[0][0][-1] == "--allow-root" and "FBCD_PRESET" not in fake_lab[0][1]
    assert "--allow-root" not in fake_lab[1][0]
    assert "running as root" in capsys.readouterr().err


def test_lab_headless_defaults_to_binder_and_refuses_jupyterlab_options(monkeypatch, tmp_path, capsys):
    seen = []
    monkeypatch.setattr(notebooks, "run_headless",
                        lambda folder, preset, overwrite: seen.append((folder, preset)) or [])
    monkeypatch.delenv("FBCD_PRESET", raising=False)
    assert main(["lab", "--headless", str(tmp_path)]) == 0 and seen == [(tmp_path, "binder")]
    monkeypatch.setenv("FBCD_PRESET", "ci")
    assert main(["lab", "--headless", str(tmp_path)]) == 0 and seen[-1] == (tmp_path, "ci")
    assert main(["lab", "--headless", str(tmp_path), "--preset", "full"]) == 0 and seen[-1] == (tmp_path, "full")
    capsys.readouterr()
    assert main(["lab", "--headless", str(tmp_path), "--port", "1"]) == 2
    assert "--port 1: JupyterLab options do nothing with --headless" in capsys.readouterr().err


def test_lab_headless_failure_is_one_line(monkeypatch, tmp_path, capsys):
    def fail(folder, preset, overwrite):
        raise NotebookError("08_the_prior_the_classifier_learnt: a cell ran longer than 900 s under preset full; "
                            "try --preset ci (seconds per notebook)")
    monkeypatch.setattr(notebooks, "run_headless", fail)
    assert main(["lab", "--headless", str(tmp_path), "--preset", "full"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "08_the_prior_the_classifier_learnt" in err and "--preset ci" in err


@pytest.fixture
def quick_notebooks(monkeypatch, tmp_path):
    """``lab --headless`` on two one-cell notebooks (``02_slow`` writes its kernel's pid, then sleeps)
    instead of the ten; gives their folder."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "01_quick.py").write_text("# %%\nprint('hello')\n")
    (folder / "02_slow.py").write_text(f"# %%\nimport os, time\nopen({str(tmp_path / 'kernel.pid')!r}, 'w')"
                                       f".write(str(os.getpid()))\ntime.sleep(120)\n")
    monkeypatch.setattr(notebooks, "notebook_sources", lambda: sorted(folder.glob("*.py")))
    return folder


def test_lab_headless_refuses_the_notebooks_html_names_and_run_folders_before_running(
        quick_notebooks, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(notebooks, "execute", lambda *a, **k: pytest.fail("a notebook ran"))
    html = tmp_path / "html"
    html.mkdir()
    (html / "02_slow.html").write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text("{}")
    (run / "checkpoint.pt").write_text("x")
    for folder, message in ((html, f"--headless {html} already holds 02_slow.html: pass --overwrite"),
                            (run, f"--headless {run} lies in the run folder {run} (it holds checkpoint.pt, results"),
                            (run / "html", f"--headless {run / 'html'} lies in the run folder {run}")):
        assert main(["lab", "--headless", str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert (html / "02_slow.html").read_text() == "precious" and sorted(p.name for p in run.iterdir()) == [
        "checkpoint.pt", "results.json"]
    assert main(["lab", "--overwrite"]) == 2
    assert "--overwrite replaces --headless's HTML files" in capsys.readouterr().err


def test_lab_headless_overwrite_replaces_the_notebooks_html(quick_notebooks, monkeypatch, tmp_path):
    import nbformat

    monkeypatch.setattr(notebooks, "execute", lambda py, preset, timeout: nbformat.v4.new_notebook())
    (tmp_path / "html").mkdir()
    (tmp_path / "html" / "01_quick.html").write_text("old")
    assert main(["lab", "--headless", str(tmp_path / "html"), "--overwrite"]) == 0
    assert sorted(p.name for p in (tmp_path / "html").iterdir()) == ["01_quick.html", "02_slow.html"]
    assert (tmp_path / "html" / "01_quick.html").read_text().rstrip().endswith("</html>")


@pytest.mark.parametrize("variable, value, message", [
    ("FBCD_RUN_CACHE", "maybe", "FBCD_RUN_CACHE must be 'on' or 'off', got 'maybe'"),
    ("FBCD_RUN_CACHE_MB", "abc", "FBCD_RUN_CACHE_MB must be a number of MiB in [0, 2**40], got 'abc'"),
    ("FBCD_RUN_CACHE_MB", "-5", "FBCD_RUN_CACHE_MB must be a number of MiB in [0, 2**40], got '-5'"),
    ("FBCD_RUN_CACHE_MB", "inf", "FBCD_RUN_CACHE_MB must be a number of MiB in [0, 2**40], got 'inf'"),
], ids=["cache maybe", "budget abc", "budget -5", "budget inf"])
def test_lab_refuses_a_bad_run_cache_variable_before_any_notebook_runs(quick_notebooks, fake_lab, monkeypatch,
                                                                       tmp_path, capsys, variable, value, message):
    """A bad FBCD_RUN_CACHE_MB was met only inside a notebook's kernel (and inf, an OverflowError)."""
    monkeypatch.setattr(notebooks, "execute", lambda *a, **k: pytest.fail("a notebook ran"))
    monkeypatch.delenv("FBCD_RUN_CACHE", raising=False)
    monkeypatch.setenv(variable, value)
    for argv in (["lab", "--headless", str(tmp_path / "html")], ["lab"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err == f"python -m fbcd_lab lab: error: {message}\n"
    assert not fake_lab and not (tmp_path / "html").exists()


def test_lab_headless_interrupted_before_any_html_removes_the_folder_it_made(quick_notebooks, monkeypatch,
                                                                            tmp_path, capsys):
    """Ctrl-C in notebook 1 left the empty folder the run had just made (then its parent made with
    it); a folder that was there before stays, and the one line says which happened."""
    def interrupted(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(notebooks, "execute", interrupted)
    made, kept = tmp_path / "new" / "html", tmp_path / "kept"
    kept.mkdir()
    for folder, said in ((made, f"no HTML was written, and the folder {made.parent} this run made is removed"),
                         (kept, f"no HTML was written into {kept}"),
                         (kept / "html", f"no HTML was written, and the folder {kept / 'html'} this run made is "
                                         f"removed")):
        assert main(["lab", "--headless", str(folder), "--preset", "ci"]) == 130
        assert capsys.readouterr().err == f"python -m fbcd_lab lab: interrupted; {said}\n"
    assert not made.parent.exists() and kept.is_dir() and not any(kept.iterdir())


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupting_lab_headless_ends_in_one_line_naming_the_complete_html(quick_notebooks, tmp_path, signum):
    """Ctrl-C (or SIGTERM) while notebook 2 runs: status 130, one line naming notebook 1's HTML, which is
    complete, no other file, no traceback, and notebook 2's kernel stopped."""
    html, pid_file = tmp_path / "html", tmp_path / "kernel.pid"
    driver = ("import sys\nfrom pathlib import Path\nfrom fbcd_lab import notebooks\n"
              f"notebooks.notebook_sources = lambda: sorted(Path({str(quick_notebooks)!r}).glob('*.py'))\n"
              "from fbcd_lab.cli import main\n"
              f"sys.exit(main(['lab', '--headless', {str(html)!r}, '--preset', 'ci']))\n")
    lab = subprocess.Popen([sys.executable, "-c", driver], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 180
    while not (pid_file.is_file() and pid_file.read_text()):
        assert lab.poll() is None and time.monotonic() < deadline, "notebook 2 did not start"
        time.sleep(0.2)
    lab.send_signal(signum)
    out, err = lab.communicate(timeout=120)
    assert lab.returncode == 130, err
    assert err == (f"python -m fbcd_lab lab: interrupted; HTML complete in {html}: 01_quick.html; no other file "
                   f"was written\n"), err
    assert [p.name for p in html.iterdir()] == ["01_quick.html"]
    assert (html / "01_quick.html").read_text().rstrip().endswith("</html>")
    kernel, deadline = int(pid_file.read_text()), time.monotonic() + 30
    while running(kernel):
        assert time.monotonic() < deadline, f"the kernel (process {kernel}) is still running"
        time.sleep(0.2)


def running(pid: int) -> bool:
    """Whether process ``pid`` exists and is no zombie."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def test_no_command_lists_the_commands_and_help_has_no_markup(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert all(name in err for name in ("lab", "demo", "train", "eval", "summarize", "study"))
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and "``" not in out and "lab opens the notebooks" in out


def test_other_commands_still_refuse_unknown_options(capsys):
    with pytest.raises(SystemExit) as refused:
        main(["demo", "--no-browser"])
    assert refused.value.code == 2 and "unrecognized arguments: --no-browser" in capsys.readouterr().err


def test_python_m_fbcd_lab_without_a_command_exits_2():
    done = subprocess.run([notebooks.sys.executable, "-m", "fbcd_lab"], capture_output=True, text=True)
    assert done.returncode == 2 and "commands:" in done.stderr


def test_lab_opens_copies_so_a_saved_notebook_leaves_the_committed_one_alone(fake_lab, capsys):
    """What a learner saves in JupyterLab lands in the copy: the committed .ipynb (what nbval compares)
    is untouched, a second start keeps the learner's copy, and deleting a copy brings the committed one back."""
    folder = Path(os.environ[notebooks.WORK_VAR])
    committed = {p.name: p.read_bytes() for p in NOTEBOOK_DIR.glob("*.ipynb")}
    assert main(["lab"]) == 0
    assert "opens your copies of the notebooks in" in capsys.readouterr().err
    copies = sorted(p.name for p in folder.glob("*.ipynb"))
    assert copies == sorted(committed) and (folder / "jupytext.toml").is_file()
    assert [p.name for p in notebook_sources(folder)] == [p.name for p in notebook_sources()]
    saved = folder / "04_training_lab.ipynb"
    saved.write_text('{"the learner": "saved this"}')
    assert main(["lab"]) == 0
    assert saved.read_text() == '{"the learner": "saved this"}'
    assert {p.name: p.read_bytes() for p in NOTEBOOK_DIR.glob("*.ipynb")} == committed
    saved.unlink()
    assert working_copies(folder) == [saved] and saved.read_bytes() == committed[saved.name]


def test_lab_refuses_to_open_the_committed_notebooks_folder_as_its_copies(fake_lab, monkeypatch, capsys):
    monkeypatch.setenv(WORK_VAR, str(NOTEBOOK_DIR / ".." / "notebooks"))
    assert main(["lab"]) == 2 and not fake_lab
    assert "names the committed notebooks' folder: the lab opens copies" in capsys.readouterr().err
