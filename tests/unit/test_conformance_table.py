"""The conformance suite's list, verdicts and documented table, without servers
(``tests/integration/test_conformance.py`` runs the drivers)."""

from __future__ import annotations

import pytest

from tests.conformance import suite as conformance
from tests.doc_blocks import section

SUITE = conformance.load()
LIFECYCLE = SUITE.scenario("lifecycle")


def ran(observed: dict[str, str]) -> dict[str, object]:
    return {"scenario": "lifecycle", "status": "ran", "observed": observed}


def test_the_documented_table_is_generated_from_the_list() -> None:
    """The table of docs/clients.md, in its section, is the list's."""
    expected = conformance.readme_section(SUITE, SUITE.declared())
    documented = section(conformance.DOCUMENT, conformance.SECTION)
    assert conformance.current_section(documented) == expected, (
        "docs/clients.md's conformance table is stale: run `python -m tests.conformance.suite`"
    )


def test_the_list_is_consistent() -> None:
    clients = {c.name for c in SUITE.clients}
    scenarios = {s.name for s in SUITE.scenarios}
    assert len(clients) == len(SUITE.clients) and len(scenarios) == len(SUITE.scenarios)
    for client, scenario in [*SUITE.exceptions, *SUITE.notes]:
        assert client in clients and scenario in scenarios, (client, scenario)
    assert all(why.strip() for why in SUITE.exceptions.values()), "an exception says why"
    assert {s.server for s in SUITE.scenarios} <= {"plain", "restart", "auth"}
    assert all(s.expected and all(isinstance(v, str) for v in s.expected.values())
               for s in SUITE.scenarios)  # fmt: skip


@pytest.mark.parametrize("client", [c.name for c in SUITE.clients])
def test_every_driver_names_every_scenario(client: str) -> None:
    """A cheap guard before the integration test: each driver has each scenario."""
    source = (conformance.ROOT / SUITE.client(client).driver).read_text()
    missing = [s.name for s in SUITE.scenarios if s.name not in source]
    assert missing == [], f"{SUITE.client(client).driver} lacks {missing}"


def test_exact_observations_pass() -> None:
    verdict = conformance.verdict(LIFECYCLE, ran(dict(LIFECYCLE.expected)))
    assert verdict == conformance.Verdict(conformance.PASS)


def test_a_differing_missing_or_extra_observation_fails() -> None:
    wrong = {**LIFECYCLE.expected, "execution_final": "STATE_FAILED"}
    assert conformance.verdict(LIFECYCLE, ran(wrong)).outcome == conformance.FAIL
    missing = {k: v for k, v in LIFECYCLE.expected.items() if k != "execution_final"}
    assert conformance.verdict(LIFECYCLE, ran(missing)).outcome == conformance.FAIL
    extra = {**LIFECYCLE.expected, "surprise": "1"}
    verdict = conformance.verdict(LIFECYCLE, ran(extra))
    assert verdict.outcome == conformance.FAIL and "surprise" in verdict.detail


def test_not_supported_must_say_why_and_silence_fails() -> None:
    line = {"scenario": "lifecycle", "status": "not-supported", "why": "no streams"}
    assert conformance.verdict(LIFECYCLE, line) == conformance.Verdict(
        conformance.NOT_SUPPORTED, "no streams"
    )
    line["why"] = ""
    assert conformance.verdict(LIFECYCLE, line).outcome == conformance.FAIL
    assert conformance.verdict(LIFECYCLE, None).outcome == conformance.FAIL
    failed = {"scenario": "lifecycle", "status": "fail", "why": "boom"}
    assert conformance.verdict(LIFECYCLE, failed) == conformance.Verdict(conformance.FAIL, "boom")


def test_driver_lines_are_found_among_other_output() -> None:
    text = 'log line\n{"restart": "ns"}\n{"scenario": "lifecycle", "status": "ran"}\nnot json {\n'
    assert list(conformance.parse_lines(text)) == ["lifecycle"]


def test_the_table_marks_failures_exceptions_and_notes() -> None:
    suite = conformance.Suite(
        clients=(conformance.ClientSpec("a", "A", ""), conformance.ClientSpec("b", "B", "")),
        scenarios=(conformance.Scenario("s", "S", "plain", "", {"k": "v"}),),
        exceptions={("b", "s"): "b has no streams"},
        notes={("a", "s"): "by hand"},
    )
    table = conformance.table(suite, {("a", "s"): conformance.FAIL, ("b", "s"): "not-supported"})
    assert table == (
        "| scenario | A | B |\n|---|---|---|\n"
        "| S (`s`) | **FAIL** (1) | not supported (2) |\n\n"
        "1. A, S: by hand.\n2. B, S: b has no streams.\n"
    )
