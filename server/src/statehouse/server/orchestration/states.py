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

    @property
    def is_terminal(self) -> bool:
        """SUCCESS, WARNING, FAILED and KILLED end a lifecycle (until a restart)."""
        return self in TERMINAL_STATES

    @property
    def is_active(self) -> bool:
        """Anything not terminal: the object still has work ahead of it."""
        return self not in TERMINAL_STATES


TERMINAL_STATES = frozenset({State.SUCCESS, State.WARNING, State.FAILED, State.KILLED})

#: States from which a task run entering RUNNING opens a new attempt.
STARTABLE_STATES = frozenset({State.CREATED, State.RESTARTED})
