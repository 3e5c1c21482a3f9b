"""Regenerate the committed notebooks from their paired .py files: execute each under
FBCD_PRESET=ci and write the .ipynb with outputs and execution counts, widget state stripped.
FBCD_RESULTS, FBCD_SEED, FBCD_PRECISION and FBCD_CLAIMS_LOG are removed first, so the user's own
runs and settings never land in a committed notebook (it is made in fp32 from training seed 0).

    python notebooks/regenerate.py [NAME ...]      # all notebooks, or only those named
"""

import os
import sys

import nbformat

from fbcd_lab.notebooks import execute, notebook_sources


def main(names: list[str]) -> None:
    for name in ("FBCD_RESULTS", "FBCD_SEED", "FBCD_PRECISION", "FBCD_CLAIMS_LOG"):
        os.environ.pop(name, None)
    for py in notebook_sources():
        if not names or py.stem in names or py.name in names:
            print(f"executing {py.name} ...", flush=True)
            nbformat.write(execute(py, "ci"), py.with_suffix(".ipynb"))
            print(f"wrote {py.with_suffix('.ipynb').name}")


if __name__ == "__main__":
    main(sys.argv[1:])
