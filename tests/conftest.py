"""Shared fixtures: digits, a tiny ImageNet-LT tree, the path to the real CIFAR-10 JPEG copy, and the
book built once (``python -m fbcd_lab book``), SIGINT as in a foreground process; the notebooks'
runs in other numeric environments started early (``test_notebooks_elsewhere``)."""

import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fbcd_lab.data import build_long_tailed
from fbcd_lab.data.sources import CIFAR10_JPEG_VAR, cifar10_jpeg_root
from fbcd_lab.run_cache import ENABLED_VAR


def pytest_collection_modifyitems(config, items):
    """When the notebooks' runs in other numeric environments are selected, start them beside the
    rest of the suite. In one process: start them now and move their test to the end, where it
    waits for them. Under pytest-xdist (every worker collects every test): move the test's file to
    the front (``--no-loadscope-reorder`` keeps that order), so that a worker starts the runs in
    that test first while the others go on."""
    import test_notebooks_elsewhere as elsewhere

    chosen = [item for item in items if item.name == elsewhere.TEST_NAME]
    if not chosen:
        return
    if hasattr(config, "workerinput"):
        first = [item for item in items if item.path == chosen[0].path]
        items[:] = first + [item for item in items if item.path != chosen[0].path]
        return
    items.remove(chosen[0])
    items.append(chosen[0])
    if not config.option.collectonly:
        elsewhere.start_runs()


def pytest_sessionfinish():
    import test_notebooks_elsewhere as elsewhere

    elsewhere.stop_runs()


@pytest.fixture(scope="session")
def book_site(tmp_path_factory) -> Path:
    """The book, built once per session with ``python -m fbcd_lab book`` (warnings as errors)."""
    from fbcd_lab.cli import main

    site = tmp_path_factory.mktemp("book") / "site"
    assert main(["book", str(site)]) == 0, "the book did not build: its warnings are printed above"
    return site


@pytest.fixture(autouse=True)
def no_run_cache(monkeypatch):
    """Every test trains what it asks for: the run cache is off (tests/test_run_cache.py turns it on)."""
    monkeypatch.setenv(ENABLED_VAR, "off")


@pytest.fixture(scope="session")
def digits_lt():
    """Digits, exponential profile, imbalance ratio 10, seed 0."""
    return build_long_tailed("digits", 10)


@pytest.fixture(scope="session")
def cifar10_jpeg() -> Path:
    root = cifar10_jpeg_root()
    if not (root / "train").is_dir():
        pytest.skip(f"real CIFAR-10 JPEG folders not found at {root} (shared data is absent in a plain checkout; "
                    f"{CIFAR10_JPEG_VAR} names another place)")
    return root


@pytest.fixture
def imagenet_lt_tree(tmp_path) -> Path:
    """A tiny ImageNet root with ImageNet-LT split lists: 3 classes, 6/3/1 train, 2 test and 2 validation
    (``ImageNet_LT_val.txt``) images each."""
    rng = np.random.RandomState(0)
    lines = {"train": [], "test": [], "val": []}
    for split, per_class in (("train", [6, 3, 1]), ("test", [2, 2, 2]), ("val", [2, 2, 2])):
        for c, n in enumerate(per_class):
            wnid = f"n0000000{c}"
            (tmp_path / split / wnid).mkdir(parents=True)
            for i in range(n):
                rel = f"{split}/{wnid}/{wnid}_{i}.JPEG"
                Image.fromarray(rng.randint(0, 256, (40, 50, 3), dtype=np.uint8)).save(tmp_path / rel, "JPEG")
                lines[split].append(f"{rel} {c}")
    for split, rows in lines.items():
        (tmp_path / f"ImageNet_LT_{split}.txt").write_text("\n".join(rows) + "\n")
    return tmp_path


@pytest.fixture
def ctrl_c_raises():
    """SIGINT raising KeyboardInterrupt, as in a foreground process: one started in the background
    (`pytest &`, nohup) inherits SIGINT ignored, where no Ctrl-C reaches it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
