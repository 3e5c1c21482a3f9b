"""Run the notebook sequence: open it in JupyterLab, or execute it headless and write HTML.

The notebooks live in the repository's ``notebooks/`` folder as Jupytext pairs (``.py`` percent
format and ``.ipynb``); the ``.py`` is the source executed here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def notebook_sources(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered notebooks' .py sources, in order; an error if the folder is not there."""
    sources = sorted(folder.glob("[0-9][0-9]_*.py"))
    if not sources:
        raise FileNotFoundError(f"no notebooks under {folder}: run from a clone of the fbcd_lab repository")
    return sources


def execute(py: Path, preset: str, timeout: int = 900):
    """Execute the notebook paired with ``py`` under ``FBCD_PRESET=preset``; returns the notebook
    with outputs and execution counts, widget state stripped."""
    import jupytext
    from nbclient import NotebookClient

    notebook = jupytext.read(py)
    notebook.metadata["kernelspec"] = KERNELSPEC
    saved = {k: os.environ.get(k) for k in ("FBCD_PRESET", "TQDM_DISABLE")}
    os.environ.update({"FBCD_PRESET": preset, "TQDM_DISABLE": "1"})
    try:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(py.parent)}}).execute()
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.update({key: value})
    notebook.metadata.pop("widgets", None)
    notebook.metadata["jupytext"] = {"formats": "ipynb,py:percent"}
    return notebook


def write_html(notebook, target: Path) -> Path:
    """A static HTML export of an executed notebook (plots load plotly.js from its CDN)."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(notebook)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    return target


def run_headless(html_dir: Path, preset: str) -> list[Path]:
    """Execute every notebook and write one HTML file each into ``html_dir``."""
    return [write_html(execute(py, preset), html_dir / f"{py.stem}.html") for py in notebook_sources()]


def open_lab() -> int:
    """Start JupyterLab on notebook 1 (blocks until JupyterLab is stopped)."""
    first = notebook_sources()[0].with_suffix(".ipynb")
    return subprocess.call([sys.executable, "-m", "jupyterlab", str(first.relative_to(NOTEBOOK_DIR.parent))],
                           cwd=NOTEBOOK_DIR.parent)
