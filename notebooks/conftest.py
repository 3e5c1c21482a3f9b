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

The notebooks share a run cache (:mod:`fbcd_lab.run_cache`): a fresh, empty folder for the session
unless ``FBCD_RUN_CACHE_DIR`` names one, so a later notebook loads the runs an earlier one trained,
and a check never starts from runs another session left.
"""

import atexit
import os
import shutil
import tempfile

from fbcd_lab.run_cache import DIR_VAR

os.environ.update({"FBCD_PRESET": "ci", "TQDM_DISABLE": "1"})
if not os.environ.get(DIR_VAR):
    os.environ[DIR_VAR] = tempfile.mkdtemp(prefix="fbcd-run-cache-")
    atexit.register(shutil.rmtree, os.environ[DIR_VAR], ignore_errors=True)
for name in ("FBCD_RESULTS", "FBCD_SEED", "FBCD_CLAIMS_LOG"):
    os.environ.pop(name, None)

PLOTLY_PAYLOADS = ("application/vnd.plotly.v1+json", "text/html")


def pytest_collection_modifyitems(items):
    for item in items:
        notebook = item.parent
        if hasattr(notebook, "skip_compare") and PLOTLY_PAYLOADS[0] not in notebook.skip_compare:
            notebook.skip_compare = notebook.skip_compare + PLOTLY_PAYLOADS
