"""What a test measured (the ``measured`` fixture) is printed in the run's summary."""

from __future__ import annotations

import pytest

pytest_plugins = ("pytester",)


def test_a_passed_tests_measurement_is_printed_and_a_failed_ones_is_not(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest("from tests.conftest import measured, pytest_terminal_summary\n")
    pytester.makepyfile(
        """
        def test_recovers(measured):
            measured("recovered in 0.10 s")

        def test_breaks(measured):
            measured("should not be printed")
            assert False
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:asyncio", "-p", "no:xdist")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*measured by the tests*", "*test_recovers: recovered in 0.10 s"])
    assert "should not be printed" not in result.stdout.str().split("measured by the tests")[-1]


def test_no_section_without_measurements(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("from tests.conftest import measured, pytest_terminal_summary\n")
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:asyncio", "-p", "no:xdist")
    result.assert_outcomes(passed=1)
    assert "measured by the tests" not in result.stdout.str()
