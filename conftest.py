"""Every test session, whatever paths it names: pytest-xdist's ``-n auto`` (``pyproject.toml``)
starts one worker per CPU this process may really use (a container's CPU quota included), each
running whole files, so the notebooks run side by side (BENCHMARKS.md: nbval 230 s in one process,
128 s in two workers on two idle cores)."""

from fbcd_lab.runtime import available_cpus


def pytest_xdist_auto_num_workers(config) -> int:
    return available_cpus()
