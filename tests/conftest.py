"""What the whole run shares, parallel workers included: a directory where the
first worker that needs the PostgreSQL cluster records it (tests/pgcluster.py),
made by the run's controller, which stops the cluster at the end."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.pgcluster import PostgresCluster

SHARED = "STATEHOUSE_TEST_SHARED_DIR"


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")  # a pytest-xdist worker


def pytest_configure(config: pytest.Config) -> None:
    if not _is_worker(config):
        # Set before the workers start: they inherit it.
        os.environ[SHARED] = tempfile.mkdtemp(prefix="statehouse-tests-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _is_worker(config) or SHARED not in os.environ:
        return
    directory = Path(os.environ.pop(SHARED))
    try:
        PostgresCluster.stop_shared(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def shared_directory() -> Path:
    return Path(os.environ[SHARED])
