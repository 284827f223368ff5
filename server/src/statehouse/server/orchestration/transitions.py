"""The transition table: which state may follow which, as data.

This module is the single source of the legal moves (docs/design.md, "Invariants"). The
table of docs/concepts.md is generated from it (``python -m statehouse.server.orchestration.transitions``)
and the unit tests check every pair of states against it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from .errors import InvalidTransition
from .states import State

S = State


class Kind(enum.Enum):
    """What a transition applies to."""

    EXECUTION = "execution"
    TASK_RUN = "task run"


EXECUTION_TRANSITIONS: Mapping[State, frozenset[State]] = {
    S.CREATED: frozenset({S.RUNNING, S.KILLING, S.FAILED}),
    S.RUNNING: frozenset({S.PAUSED, S.SUCCESS, S.WARNING, S.FAILED, S.KILLING}),
    S.PAUSED: frozenset({S.RUNNING, S.SUCCESS, S.WARNING, S.FAILED, S.KILLING}),
    S.KILLING: frozenset({S.KILLED}),
    S.FAILED: frozenset({S.RESTARTED}),
    S.KILLED: frozenset({S.RESTARTED}),
    S.RESTARTED: frozenset({S.RUNNING, S.KILLING}),
    S.SUCCESS: frozenset(),
    S.WARNING: frozenset(),
}

TASK_RUN_TRANSITIONS: Mapping[State, frozenset[State]] = {
    S.CREATED: frozenset({S.RUNNING, S.KILLED, S.FAILED}),
    S.RUNNING: frozenset({S.PAUSED, S.SUCCESS, S.WARNING, S.FAILED, S.KILLING, S.KILLED}),
    S.PAUSED: frozenset({S.RUNNING, S.SUCCESS, S.WARNING, S.FAILED, S.KILLING, S.KILLED}),
    S.KILLING: frozenset({S.KILLED}),
    S.FAILED: frozenset({S.RESTARTED}),
    S.KILLED: frozenset({S.RESTARTED}),
    S.RESTARTED: frozenset({S.RUNNING, S.KILLED}),
    S.SUCCESS: frozenset(),
    S.WARNING: frozenset(),
}

TABLES: Mapping[Kind, Mapping[State, frozenset[State]]] = {
    Kind.EXECUTION: EXECUTION_TRANSITIONS,
    Kind.TASK_RUN: TASK_RUN_TRANSITIONS,
}


def is_allowed(kind: Kind, current: State, requested: State) -> bool:
    """Whether ``current -> requested`` is a legal move for ``kind``."""
    return requested in TABLES[kind][current]


def check_transition(kind: Kind, current: State, requested: State, *, subject: str) -> None:
    """Raise :class:`InvalidTransition` (about ``subject``) unless ``current -> requested``
    is legal."""
    if not is_allowed(kind, current, requested):
        raise InvalidTransition(kind.value, current, requested, subject=subject)


def markdown_table() -> str:
    """docs/concepts.md's table of allowed transitions, generated from the data above."""
    order = [S.CREATED, S.RUNNING, S.PAUSED, S.KILLING, S.FAILED, S.KILLED, S.RESTARTED]
    lines = [
        "| from | execution may go to | task run may go to |",
        "|---|---|---|",
    ]

    def cell(targets: frozenset[State]) -> str:
        names = [s.value for s in State if s in targets]
        return ", ".join(names) if names else "(none)"

    for state in order:
        lines.append(
            f"| {state.value} | {cell(EXECUTION_TRANSITIONS[state])} "
            f"| {cell(TASK_RUN_TRANSITIONS[state])} |"
        )
    lines.append("| SUCCESS, WARNING | (none) | (none) |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
