"""nbval settings for the notebooks: the CI preset, no progress bars, no user results or seeds, and
plotly payloads skipped.

The kernel that nbval starts inherits this process's environment, so the variables set here size
every notebook, whatever the user's shell says: the committed outputs are those of the CI preset
and the first training seed 0, and notebook 6 must not read the user's own runs (``FBCD_RESULTS``).
``FBCD_PRECISION`` is left as it is: CI sets it to check the notebooks in bf16 too, and training
outputs are not compared (cells tagged ``nbval-ignore-output``; collapsed cells assert the claims
instead, :mod:`fbcd_lab.claims`). Plotly figures carry random trace uids in their JSON and HTML,
so those two payloads are not compared; the rounded summary that :func:`fbcd_lab.plots.show`
gives each figure as its plain-text alternative, and every other output, still is.
"""

import os

os.environ.update({"FBCD_PRESET": "ci", "TQDM_DISABLE": "1"})
for name in ("FBCD_RESULTS", "FBCD_SEED", "FBCD_CLAIMS_LOG"):
    os.environ.pop(name, None)

PLOTLY_PAYLOADS = ("application/vnd.plotly.v1+json", "text/html")


def pytest_collection_modifyitems(items):
    for item in items:
        notebook = item.parent
        if hasattr(notebook, "skip_compare") and PLOTLY_PAYLOADS[0] not in notebook.skip_compare:
            notebook.skip_compare = notebook.skip_compare + PLOTLY_PAYLOADS
