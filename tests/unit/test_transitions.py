"""Every pair of states, for executions and task runs, against the contract's table."""

from __future__ import annotations

import itertools

import pytest

from statehouse.server.orchestration import (
    InvalidTransition,
    Kind,
    State,
    check_transition,
    is_allowed,
)
from statehouse.server.orchestration.transitions import markdown_table
from tests.doc_blocks import ROOT, section

S = State

# The contract's table of legal moves, transcribed independently of the module under test.
EXPECTED = {
    Kind.EXECUTION: {
        "CREATED": "RUNNING KILLING FAILED",
        "RUNNING": "PAUSED SUCCESS WARNING FAILED KILLING",
        "PAUSED": "RUNNING SUCCESS WARNING FAILED KILLING",
        "KILLING": "KILLED",
        "FAILED": "RESTARTED",
        "KILLED": "RESTARTED",
        "RESTARTED": "RUNNING KILLING",
        "SUCCESS": "",
        "WARNING": "",
    },
    Kind.TASK_RUN: {
        "CREATED": "RUNNING KILLED FAILED",
        "RUNNING": "PAUSED SUCCESS WARNING FAILED KILLING KILLED",
        "PAUSED": "RUNNING SUCCESS WARNING FAILED KILLING KILLED",
        "KILLING": "KILLED",
        "FAILED": "RESTARTED",
        "KILLED": "RESTARTED",
        "RESTARTED": "RUNNING KILLED",
        "SUCCESS": "",
        "WARNING": "",
    },
}

PAIRS = [
    (kind, a, b, b.value in EXPECTED[kind][a.value].split())
    for kind in Kind
    for a, b in itertools.product(State, State)
]


def _id(case: tuple[Kind, State, State, bool]) -> str:
    kind, a, b, ok = case
    return f"{kind.name.lower()}: {a.value} -> {b.value} ({'allowed' if ok else 'forbidden'})"


@pytest.mark.parametrize("case", PAIRS, ids=[_id(c) for c in PAIRS])
def test_every_pair_of_states(case: tuple[Kind, State, State, bool]) -> None:
    kind, current, requested, allowed = case
    assert is_allowed(kind, current, requested) is allowed
    if allowed:
        check_transition(kind, current, requested, subject="executions/x")
    else:
        with pytest.raises(InvalidTransition) as info:
            check_transition(kind, current, requested, subject="executions/x")
        assert info.value.reason == "INVALID_TRANSITION"
        assert info.value.subject == "executions/x"
        assert info.value.metadata == {
            "current_state": current.value,
            "requested_state": requested.value,
        }


def test_pair_count_is_complete() -> None:
    assert len(PAIRS) == 2 * 9 * 9
    assert sum(1 for *_, ok in PAIRS if ok) == 18 + 20


def test_terminal_states_have_no_exit_but_restart() -> None:
    for kind in Kind:
        for state in (S.SUCCESS, S.WARNING):
            assert not any(is_allowed(kind, state, other) for other in State)
        for state in (S.FAILED, S.KILLED):
            assert [o for o in State if is_allowed(kind, state, o)] == [S.RESTARTED]


def test_the_documented_table_is_generated_from_the_data() -> None:
    documented = section(ROOT / "docs" / "concepts.md", "States and transitions")
    assert markdown_table() in documented, (
        "docs/concepts.md's transition table is stale: paste the output of "
        "`python -m statehouse.server.orchestration.transitions`"
    )
