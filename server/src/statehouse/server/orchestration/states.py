"""The nine states shared by executions, task runs and attempts."""

from __future__ import annotations

import enum


class State(enum.Enum):
    """A lifecycle state. Values are the names used in storage and errors."""

    CREATED = "CREATED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    FAILED = "FAILED"
    KILLING = "KILLING"
    KILLED = "KILLED"
    RESTARTED = "RESTARTED"

    # Members are singletons, equal only to themselves: hashed by identity, in C
    # (Enum's own hash runs Python for every set and dict lookup of a state).
    __hash__ = object.__hash__

    @property
    def is_terminal(self) -> bool:
        """SUCCESS, WARNING, FAILED and KILLED end a lifecycle (until a restart)."""
        return self in TERMINAL_STATES

    @property
    def is_active(self) -> bool:
        """Anything not terminal: the object still has work ahead of it."""
        return self not in TERMINAL_STATES


TERMINAL_STATES = frozenset({State.SUCCESS, State.WARNING, State.FAILED, State.KILLED})
#: Each state by its stored name: ``STATES[name]`` is ``State(name)`` without the
#: Enum machinery (a KeyError for an unknown name), for decoding rows.
STATES: dict[str, State] = {state.value: state for state in State}

#: States from which a task run entering RUNNING opens a new attempt.
STARTABLE_STATES = frozenset({State.CREATED, State.RESTARTED})
