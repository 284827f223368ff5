"""What the whole run shares, parallel workers included: a directory where the
first worker that needs the PostgreSQL cluster records it (tests/pgcluster.py),
made by the run's controller, which stops the cluster at the end; and the
summary of what tests measured (the ``measured`` fixture, such as the failover
tests' time to recover), printed at the end of the run."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.pgcluster import PostgresCluster
from tests.watchdog import GRACE, Watchdog

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


def _watchdog(config: pytest.Config) -> Watchdog:
    if not hasattr(config, "_statehouse_watchdog"):
        config._statehouse_watchdog = Watchdog(  # type: ignore[attr-defined]
            config.pluginmanager.getplugin("capturemanager")
        )
    return config._statehouse_watchdog  # type: ignore[attr-defined, no-any-return]


def _timeout(item: pytest.Item) -> float:
    """pytest-timeout's limit for ``item``: its marker, else --timeout, else the ini's."""
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    given = item.config.getoption("timeout", None)
    return float(given if given is not None else item.config.getini("timeout") or 0)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """Past pytest-timeout's limit and a grace, a stuck test ends its worker with
    the stacks of its threads and tasks (tests/watchdog.py says why)."""
    limit = _timeout(item)
    watchdog = _watchdog(item.config)
    if limit > 0 and not item.config.option.usepdb:
        watchdog.arm(f"{item.nodeid} still running after {limit + GRACE:.0f} s", limit + GRACE)
    try:
        yield
    finally:
        watchdog.disarm()


#: Fixtures that start or use PostgreSQL: a test asking for one is marked ``postgres``.
_POSTGRES_FIXTURES = {"pg_cluster", "private_pg_cluster", "pg_template"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark what ``make test-fast`` leaves out: ``browser`` (tests/browser), ``postgres``
    (a PostgreSQL backend parameter or fixture; modules that are PostgreSQL's alone say
    so with ``pytestmark``). ``slow`` is marked by hand."""
    for item in items:
        if "browser" in item.path.parts:
            item.add_marker(pytest.mark.browser)
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and "postgresql" in map(str, callspec.params.values())
        if on_postgres or _POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


#: The ``record_property`` name whose lines the run's summary prints.
MEASURED = "measured"


@pytest.fixture
def measured(record_property: Callable[[str, object], None]) -> Callable[[str], None]:
    """``measured(line)``: a line for the run's summary (see pytest_terminal_summary)."""
    return lambda line: record_property(MEASURED, line)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what the passed tests measured (a record_property travels from the
    xdist workers with each test's report)."""
    lines = [
        f"{report.nodeid}: {value}"
        for report in terminalreporter.stats.get("passed", [])
        if report.when == "call"
        for name, value in report.user_properties
        if name == MEASURED
    ]
    if lines:
        terminalreporter.section("measured by the tests")
        for line in lines:
            terminalreporter.write_line(line)


def shared_directory() -> Path:
    return Path(os.environ[SHARED])
