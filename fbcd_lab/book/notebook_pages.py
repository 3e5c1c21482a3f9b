"""The notebook pages: copies of the committed notebooks with their stored outputs (nothing is
executed) whose plotly figures need no network: each figure's HTML without plotly's CDN loader (the
book's pages load the plotly.js that the installed plotly ships), and the code of the collapsed check
cells left out, as JupyterLab hides it. mkdocs-jupyter renders them; MathJax typesets their TeX."""

from __future__ import annotations

from pathlib import Path

import nbformat

from fbcd_lab.notebooks import hide_collapsed_code, offline_figures


def title(notebook) -> str:
    """The notebook's title: its first markdown heading of level 1."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise ValueError("the notebook has no level-1 heading to title its page")


def write_notebook_pages(notebooks: Path, docs: Path) -> list[dict[str, str]]:
    """Write an offline copy of every committed notebook (``notebooks/NN_name.ipynb``) under
    ``docs/notebooks/``; return their navigation entries. A notebook without outputs is an error:
    the book shows the stored ones and runs nothing."""
    sources = sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no notebooks under {notebooks}: build the book from a clone of the repository")
    target = docs / "notebooks"
    target.mkdir(parents=True, exist_ok=True)
    nav = []
    for path in sources:
        try:
            notebook = nbformat.read(path, as_version=4)
        except (OSError, ValueError) as err:  # nbformat's NotJSONError is a ValueError
            raise ValueError(f"{path} is not a readable notebook ({err}): restore the committed one with "
                             f"git checkout -- {path.name}") from err
        if not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"):
            raise ValueError(f"{path} has no stored outputs: run python notebooks/regenerate.py {path.stem}")
        notebook, _ = offline_figures(notebook)
        hide_collapsed_code(notebook)
        nbformat.write(notebook, target / path.name)
        try:
            heading = title(notebook)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from err
        nav.append({f"{path.stem[:2]}. {heading}": f"notebooks/{path.name}"})
    return nav
