"""Shared fixtures: the embedded digits set and the path to the real CIFAR-10 JPEG copy."""

from pathlib import Path

import pytest

from fbcd_lab.data import build_long_tailed

CIFAR10_JPEG = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpeg"


@pytest.fixture(scope="session")
def digits_lt():
    """Digits, exponential profile, imbalance ratio 10, seed 0."""
    return build_long_tailed("digits", 10)


@pytest.fixture(scope="session")
def cifar10_jpeg() -> Path:
    if not (CIFAR10_JPEG / "train").is_dir():
        pytest.skip(f"real CIFAR-10 JPEG folders not found at {CIFAR10_JPEG} (shared data is absent "
                    "in a plain checkout)")
    return CIFAR10_JPEG
