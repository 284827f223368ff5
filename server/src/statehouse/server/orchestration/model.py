"""The domain's own types: executions, task runs, attempts, histories, events.

Plain dataclasses with times in integer microseconds since the Unix epoch (UTC).
The storage loads and saves them; the rules decide on them; the API converts
them to and from protos.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal

from .retry import RetryPolicy
from .states import State

JsonObject = dict[str, Any]

#: The actor of the changes the server makes by itself: timers, retries, cascades.
SYSTEM = "system"
#: The actor of a caller when authentication is off and it showed no certificate.
ANONYMOUS = "anonymous"


@dataclass(slots=True)
class StateChange:
    """One entry of a history."""

    state: State
    time_us: int
    reason: str = ""
    #: Who made the change (``SYSTEM`` for the server itself).
    actor: str = ""


@dataclass(slots=True)
class Attempt:
    """One try at running a task run."""

    number: int
    state: State
    history: list[StateChange] = field(default_factory=list)
    worker_id: str = ""
    #: The lease the attempt was started with (microseconds), None without one:
    #: its expiry is the due time of its ``LEASE`` timer (``leases.py``).
    lease_us: int | None = None
    #: That expiry, while the attempt is open: not stored with the attempt (a
    #: heartbeat moves the timer alone), set by ``leases.grant_lease`` and by
    #: the reads from the timer (``Tx.fill_lease_expiry``), None once it ended.
    lease_expire_time_us: int | None = None


@dataclass(slots=True)
class TaskRun:
    """One run of a task within an execution."""

    id: str
    execution_id: str
    task_id: str
    state: State
    history: list[StateChange]
    create_time_us: int
    update_time_us: int
    parent_task_run_id: str = ""
    value: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    outputs: JsonObject | None = None
    retry_policy: RetryPolicy | None = None
    next_attempt_time_us: int | None = None
    #: The longest each attempt may run (microseconds), None for no limit: its
    #: end is the due time of the attempt's ``ATTEMPT_TIMEOUT`` timer (``deadlines.py``).
    attempt_timeout_us: int | None = None

    @property
    def last_attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


@dataclass(slots=True)
class Execution:
    """One run of a flow. ``task_runs`` is filled only when loaded in full."""

    id: str
    namespace: str
    flow_id: str
    state: State
    history: list[StateChange]
    revision: int
    create_time_us: int
    update_time_us: int
    flow_revision: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    inputs: JsonObject | None = None
    outputs: JsonObject | None = None
    parent_execution_id: str = ""
    restart_count: int = 0
    task_runs: list[TaskRun] = field(default_factory=list)


@dataclass(slots=True)
class Event:
    """A state change to be appended to the event log (``sequence`` 0 until stored)."""

    namespace: str
    flow_id: str
    execution_id: str
    state: State
    time_us: int
    previous_state: State | None = None
    task_run_id: str = ""
    task_id: str = ""
    attempt: int = 0
    reason: str = ""
    execution_revision: int = 0
    sequence: int = 0
    actor: str = ""


class TimerKind(enum.StrEnum):
    """What a durable timer is for (the value is the stored string)."""

    #: A pause's delay or timeout; ``action`` says what happens when it fires.
    PAUSE = "PAUSE"
    #: The end of a kill's grace period: active task runs are forced to KILLED.
    KILL_DEADLINE = "KILL_DEADLINE"
    #: The expiry of an attempt's lease (moved later by heartbeats): the attempt
    #: ends FAILED unless it ended first (``leases.py``).
    LEASE = "LEASE"
    #: The end of an attempt's start-to-end timeout: the attempt ends as for a
    #: lost lease (``deadlines.py``).
    ATTEMPT_TIMEOUT = "ATTEMPT_TIMEOUT"
    #: An execution's ``max_duration`` from its creation; ``action`` is a
    #: :class:`DeadlineAction` (``deadlines.py``).
    MAX_DURATION = "MAX_DURATION"
    #: An execution's ``max_created_duration``: applies only while it is CREATED.
    MAX_CREATED_DURATION = "MAX_CREATED_DURATION"


#: The timers of an execution's deadlines, whose action is a DeadlineAction.
DEADLINE_KINDS = frozenset({TimerKind.MAX_DURATION, TimerKind.MAX_CREATED_DURATION})


class PauseAction(enum.StrEnum):
    """What a pause timer does when it fires (the value is the stored string)."""

    #: The end of a pause's delay: resume.
    DELAY = "DELAY"
    RESUME = "RESUME"
    WARN = "WARN"
    FAIL = "FAIL"
    KILL = "KILL"


class DeadlineAction(enum.StrEnum):
    """What an execution's deadline does when it passes (the stored string)."""

    FAIL = "FAIL"
    KILL = "KILL"
    #: Keep going, with a label saying the deadline was missed.
    MARK = "MARK"


@dataclass(slots=True)
class Timer:
    """A durable timer: stored with the change that sets it, fired once.

    ``kind`` and ``action`` may be given as their stored strings (a timer read
    back from the database): they are turned into the enums here. A kill
    deadline, a lease and an attempt timeout have no action (stored as ``""``);
    an execution's deadline has a :class:`DeadlineAction`.
    """

    id: str
    execution_id: str
    kind: TimerKind
    due_time_us: int
    action: PauseAction | DeadlineAction | Literal[""] = ""
    task_run_id: str = ""

    def __post_init__(self) -> None:
        self.kind = TimerKind(self.kind)
        if not self.action:
            self.action = ""
        elif self.kind in DEADLINE_KINDS:
            self.action = DeadlineAction(self.action)
        else:
            self.action = PauseAction(self.action)

    @property
    def attempt(self) -> int:
        """The attempt a LEASE or ATTEMPT_TIMEOUT timer is for: the last part of
        its id (``leases.lease_timer_id``, ``lifecycle.attempt_timeout_timer_id``)."""
        if self.kind not in (TimerKind.LEASE, TimerKind.ATTEMPT_TIMEOUT):
            raise ValueError(f"a {self.kind} timer is for no attempt")
        return int(self.id.rsplit(":", 1)[1])
