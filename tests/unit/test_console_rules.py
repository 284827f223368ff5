"""The lifecycle requests an execution accepts in each state
(``lifecycle.execution_requests``: the web console's buttons) are what the
lifecycle procedures do accept, over every state and request; and the
console's copy, console/src/rules.gen.ts, is generated from them and fresh."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from statehouse.server.orchestration import (
    ChangeSet,
    DomainError,
    Execution,
    PauseAction,
    State,
    StateChange,
    lifecycle,
)
from statehouse.server.orchestration.guards import Move
from tests.tools import load_tool

ROOT = Path(__file__).resolve().parents[2]


def gen_console_rules() -> ModuleType:
    return load_tool("gen_console_rules")


#: Each request as its procedure makes it (no task runs, no timers).
PROCEDURES: dict[Move, Callable[[ChangeSet], object]] = {
    Move.PAUSE_EXECUTION: lambda c: lifecycle.pause(
        c, None, reason="", delay_us=None, timeout_us=None, action=PauseAction.RESUME
    ),
    Move.RESUME_EXECUTION: lambda c: lifecycle.resume(c, None, reason=""),
    Move.KILL_EXECUTION: lambda c: lifecycle.start_kill(c, [], reason="", deadline_us=1),
    Move.RESTART_EXECUTION: lambda c: lifecycle.restart(c, [], reason=""),
}


def test_every_request_has_its_procedure() -> None:
    assert set(PROCEDURES) == set(lifecycle.EXECUTION_REQUESTS)


@pytest.mark.parametrize("move", list(PROCEDURES), ids=lambda m: m.name)
@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
def test_a_request_is_offered_exactly_when_its_procedure_moves_the_execution(
    state: State, move: Move
) -> None:
    execution = Execution("ex", "ns", "f", state, [StateChange(state, 1, "")], 1, 1, 1)
    changes = ChangeSet(execution, 10)
    try:
        PROCEDURES[move](changes)
        moved = changes.changed
    except DomainError:
        moved = False
    assert (move in lifecycle.execution_requests(state)) is moved


def test_resume_is_offered_only_for_paused_and_restart_only_for_failed_or_killed() -> None:
    offered = {s: lifecycle.execution_requests(s) for s in State}
    assert [s for s, moves in offered.items() if Move.RESUME_EXECUTION in moves] == [State.PAUSED]
    restartable = [s for s, moves in offered.items() if Move.RESTART_EXECUTION in moves]
    assert restartable == [State.FAILED, State.KILLED]
    assert offered[State.RUNNING] == (Move.PAUSE_EXECUTION, Move.KILL_EXECUTION)


def test_the_console_s_rules_are_not_stale() -> None:
    text = gen_console_rules().generate()
    committed = (ROOT / "console" / "src" / "rules.gen.ts").read_text()
    assert committed == text, "console/src/rules.gen.ts is stale: run `make console`"
