"""nbval settings for the notebooks: the CI preset, no progress bars, and plotly payloads skipped.

The kernel that nbval starts inherits this process's environment, so the variables set here size
every notebook. Plotly figures carry random trace uids in their JSON and HTML, so those two
payloads are not compared (their text/plain stand-ins and every other output still are).
"""

import os

os.environ.setdefault("FBCD_PRESET", "ci")
os.environ.setdefault("TQDM_DISABLE", "1")

PLOTLY_PAYLOADS = ("application/vnd.plotly.v1+json", "text/html")


def pytest_collection_modifyitems(items):
    for item in items:
        notebook = item.parent
        if hasattr(notebook, "skip_compare") and PLOTLY_PAYLOADS[0] not in notebook.skip_compare:
            notebook.skip_compare = notebook.skip_compare + PLOTLY_PAYLOADS
