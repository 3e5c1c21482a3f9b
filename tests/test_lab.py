"""Notebook sizes from FBCD_PRESET, and the headless notebook runner behind `python -m fbcd_lab lab`."""

import pytest

from fbcd_lab.lab_preset import lab_preset
from fbcd_lab.notebooks import execute, notebook_sources, write_html


def test_preset_from_environment(monkeypatch):
    monkeypatch.delenv("FBCD_PRESET", raising=False)
    assert lab_preset().name == "full"
    monkeypatch.setenv("FBCD_PRESET", "binder")
    assert lab_preset().name == "binder" and lab_preset("ci").seeds == 2
    monkeypatch.setenv("FBCD_PRESET", "huge")
    with pytest.raises(ValueError, match="FBCD_PRESET must be one of"):
        lab_preset()


def test_headless_execution_writes_html(tmp_path):
    first = notebook_sources()[0]
    notebook = execute(first, "ci")
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("notebook preset: ci" in o.get("text", "") for o in outputs)
    assert all(isinstance(c.execution_count, int) for c in notebook.cells if c.cell_type == "code")
    html = write_html(notebook, tmp_path / "nb.html").read_text()
    assert "Building imbalance" in html and "plotly" in html
