"""Repository consistency: notebook pairs agree in code, and the three dependency lists agree."""

import tomllib
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
# PyPI name -> conda-forge name, where they differ; the Binder file uses the CPU-only build.
CONDA_NAMES = {"torch": "pytorch", "nbconvert": "nbconvert-core", "playwright": "playwright-python"}
BINDER_NAMES = {**CONDA_NAMES, "torch": "pytorch-cpu"}


def code_cells(notebook) -> list[str]:
    return [c.source.strip() for c in notebook.cells if c.cell_type == "code"]


def test_the_notebooks_are_numbered_in_sequence():
    assert [p.stem[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(1, len(NOTEBOOKS) + 1)]
    assert len(NOTEBOOKS) >= 6


@pytest.mark.parametrize("py", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_pair_agrees_in_code_and_has_outputs(py):
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} missing: run python notebooks/regenerate.py"
    committed = nbformat.read(ipynb, as_version=4)
    assert code_cells(committed) == code_cells(jupytext.read(py)), \
        f"{py.name} and {ipynb.name} differ in code: run python notebooks/regenerate.py {py.stem}"
    counts = [c.execution_count for c in committed.cells if c.cell_type == "code"]
    assert all(isinstance(n, int) for n in counts), "committed notebook lacks execution counts"
    assert "widgets" not in committed.metadata, "widget state must be stripped"


def names(requirements) -> set[str]:
    out = set()
    for req in requirements:
        if isinstance(req, str):
            name = req.split(";")[0]
            for sep in "<>=!~ [":
                name = name.split(sep)[0]
            out.add(name.strip().lower())
    return out


def project_requirements(extras: tuple[str, ...]) -> set[str]:
    """The names of the project's dependencies and of ``extras``, an extra's own extras
    (``fbcd_lab[lab]``) unfolded."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out, todo = names(project["dependencies"]), list(extras)
    while todo:
        for req in project["optional-dependencies"][todo.pop()]:
            if req.lower().startswith(project["name"].lower() + "["):
                todo.extend(e.strip() for e in req.split("[", 1)[1].rstrip("]").split(","))
            else:
                out |= names([req])
    return out


def test_dependency_lists_agree():
    """environment.yml is everything `pip install -e ".[test]"` installs; Binder's is the library and
    the notebooks (`.[lab]`), with the CPU-only PyTorch."""
    def conda(path: Path) -> set[str]:
        return names(yaml.safe_load(path.read_text())["dependencies"]) - {"python", "pip"}

    local, binder = conda(ROOT / "environment.yml"), conda(ROOT / "binder" / "environment.yml")
    assert local == {CONDA_NAMES.get(n, n) for n in project_requirements(("test",))}
    assert binder == {BINDER_NAMES.get(n, n) for n in project_requirements(("lab",))}


def test_packages_the_code_imports_are_declared():
    """What the library imports is a dependency; what the notebook runner imports is in [lab]."""
    core, lab = project_requirements(()), project_requirements(("lab",))
    assert {"torch", "torchvision", "numpy", "scipy", "scikit-learn", "pillow", "tqdm", "plotly", "pandas"} <= core
    assert {"jupyterlab", "ipykernel", "jupytext", "nbclient", "nbconvert", "nbval", "ipywidgets", "anywidget"} <= lab
    assert not {"jupyterlab", "jupytext", "nbval"} & core, "the notebook packages belong in the [lab] extra"
    assert {"pytest", "playwright", "pyyaml"} <= project_requirements(("test",))
    notebooks_py = (ROOT / "fbcd_lab" / "notebooks.py").read_text()
    assert "from nbclient import" in notebooks_py and "from nbconvert import" in notebooks_py


def test_binder_start_sizes_the_notebooks_small():
    assert "FBCD_PRESET=binder" in (ROOT / "binder" / "start").read_text()


def test_committed_weights_are_small_and_beside_their_records():
    """Model-only weights are the one binary the results may hold (checkpoints are ignored by git):
    3 MB in all at most, each beside the record of the run it comes from."""
    weights = sorted((ROOT / "results").rglob("model.pt"))
    assert sum(p.stat().st_size for p in weights) <= 3_000_000
    assert all(p.with_name("results.json").is_file() for p in weights)
