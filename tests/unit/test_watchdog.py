"""A test that pytest-timeout cannot stop ends its worker with a report of its
threads and tasks (tests/watchdog.py)."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

pytest_plugins = ("pytester",)

ROOT = Path(__file__).resolve().parents[2]

STUCK = """
import asyncio
import time

async def stubborn_wait():
    await asyncio.Event().wait()

def test_stuck():
    loop = asyncio.new_event_loop()
    task = loop.create_task(stubborn_wait())  # noqa: F841  (a task nobody holds is collected)
    loop.run_until_complete(asyncio.sleep(0))
    while True:
        try:
            time.sleep(3600)
        except BaseException:  # what an event loop does to pytest-timeout's failure
            pass
"""


@pytest.fixture
def pytester_env(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("STATEHOUSE_WATCHDOG_GRACE", "1")
    pytester.makeini("[pytest]\ntimeout = 1\n")
    return pytester


def test_a_test_that_swallows_its_timeout_ends_with_the_stacks_of_its_tasks(
    pytester_env: pytest.Pytester,
) -> None:
    pytester_env.makeconftest("from tests.conftest import pytest_runtest_protocol\n")
    pytester_env.makepyfile(STUCK)
    result = pytester_env.runpytest_subprocess("-p", "no:asyncio", "-p", "no:xdist", timeout=60)
    assert result.ret == 70
    err = result.stderr.str()
    assert "watchdog: test_a_test_that_swallows_its_timeout" in err
    assert "test_stuck still running after 2 s" in err
    assert "1 unfinished asyncio task(s)" in err
    assert "stubborn_wait" in err
    assert "time.sleep(3600)" in err


def make_test_flags(workers: int) -> list[str]:
    """The options ``make test`` gives pytest with ``TEST_WORKERS=workers`` (the Makefile's ``PYTEST``)."""
    printed = subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "--eval",
            "flags: ; @echo $(PYTEST)",
            "flags",
            f"TEST_WORKERS={workers}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return printed.stdout.split()[1:]  # after the pytest program


@pytest.mark.timeout(150)
def test_a_worker_the_watchdog_ends_fails_a_parallel_run_instead_of_hanging_it(
    pytester_env: pytest.Pytester,
) -> None:
    """``make test`` runs the tests on pytest-xdist's workers, grouped (``--dist
    loadgroup``). A worker that the watchdog ends is replaced, and pytest-xdist
    3.8 then waits forever for the work the replacement never gets (its issues
    1323 and 1327): the run hung where the watchdog meant it to fail. With the
    Makefile's options it fails at once, naming the test."""
    flags = make_test_flags(2)
    assert "loadgroup" in flags
    pytester_env.makeconftest("from tests.conftest import pytest_runtest_protocol\n")
    pytester_env.makepyfile(
        STUCK + "".join(f"\n\ndef test_after_{i}():\n    pass\n" for i in range(4))
    )
    result = pytester_env.runpytest_subprocess("-p", "no:asyncio", *flags, timeout=90)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "crashed while running 'test_a_worker_the_watchdog_ends" in result.stdout.str()


def test_a_passing_test_is_left_alone(pytester_env: pytest.Pytester) -> None:
    pytester_env.makeconftest("from tests.conftest import pytest_runtest_protocol\n")
    pytester_env.makepyfile("import time\n\ndef test_quick():\n    time.sleep(1.5)\n")
    # 1.5 s is past pytest-timeout's second but short of the watchdog's two:
    # pytest-timeout's own failure, not the watchdog, ends it.
    result = pytester_env.runpytest_subprocess("-p", "no:asyncio", "-p", "no:xdist", timeout=60)
    result.assert_outcomes(failed=1)
    assert "watchdog" not in result.stderr.str()


SLOW_REPORT = """
import time

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    if call.when == "call":
        time.sleep(2)  # a failure's report, slow to make on a loaded machine
    yield
"""


def test_the_alarm_times_the_test_alone_not_the_making_of_its_report(
    pytester: pytest.Pytester,
) -> None:
    """pytest-timeout's alarm raises wherever the main thread is when it comes:
    inside the making of a failure's report (Python parsing the test's source,
    ``ast.parse``), CPython 3.11 turns it into a SystemError that ends the whole
    run (INTERNALERROR). This repository's configuration times the test function
    alone (``timeout_func_only``); the watchdog bounds its fixtures."""
    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    func_only = str(ini.get("timeout_func_only", False)).lower()  # the repository's setting
    pytester.makeini(f"[pytest]\ntimeout = 1\ntimeout_func_only = {func_only}\n")
    pytester.makeconftest(SLOW_REPORT)
    pytester.makepyfile("def test_fails():\n    assert 1 == 2\n")
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "-p", "no:xdist", timeout=60)
    result.assert_outcomes(failed=1)
    assert "assert 1 == 2" in result.stdout.str()
    assert "Timeout" not in result.stdout.str()
