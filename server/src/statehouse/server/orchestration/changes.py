"""Bookkeeping of a change: histories, timestamps, revisions and events.

The guards (``guards.py``) say whether a move is allowed and the lifecycle
procedures (``lifecycle.py``) decide what moves; a :class:`ChangeSet` records
the moves the same way every time: it appends to histories with
non-decreasing times, makes one event per state change, and bumps the
execution's revision once per change set (one revision per committed
request). It also carries what the rules may not draw for themselves: the
time of the change, a factory of new ids and a random source.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

from .context import IdFactory, seeded_rng, sequential_ids
from .model import SYSTEM, Attempt, Event, Execution, StateChange, TaskRun, Timer, TimerKind
from .states import State


def next_time(history: list[StateChange], now_us: int) -> int:
    """``now_us``, or the last time of ``history`` if the clock went backwards."""
    if history and history[-1].time_us > now_us:
        return history[-1].time_us
    return now_us


class ChangeSet:
    """The changes one request makes to one execution and its task runs."""

    def __init__(
        self,
        execution: Execution,
        now_us: int,
        actor: str = SYSTEM,
        *,
        new_id: IdFactory | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.execution = execution
        #: Who the changes are made by: the caller, or ``SYSTEM`` in a cascade.
        self.actor = actor
        #: The time of the change (never before the execution's last history entry).
        self.now_us = next_time(execution.history, now_us)
        #: Where new ids (of timers) come from; by default ``<execution id>/1``, ``/2``...
        self.new_id: IdFactory = new_id or sequential_ids(f"{execution.id}/")
        #: Where chance comes from (a random retry interval); by default seeded.
        self.rng: random.Random = rng or seeded_rng()
        self.events: list[Event] = []
        self.changed_task_runs: dict[str, TaskRun] = {}
        self.created_task_runs: list[TaskRun] = []
        #: Timers to store with the change.
        self.new_timers: list[Timer] = []
        #: Timers to delete with the change: (task_run_id or None for all, kind or None).
        self.cancelled_timers: list[tuple[str | None, TimerKind | None]] = []

    def _event(
        self,
        previous: State | None,
        state: State,
        reason: str,
        time_us: int,
        task_run: TaskRun | None = None,
        attempt: int = 0,
    ) -> None:
        ex = self.execution
        self.events.append(
            Event(
                namespace=ex.namespace,
                flow_id=ex.flow_id,
                execution_id=ex.id,
                task_run_id=task_run.id if task_run else "",
                task_id=task_run.task_id if task_run else "",
                attempt=attempt,
                previous_state=previous,
                state=state,
                reason=reason,
                time_us=time_us,
                actor=self.actor,
            )
        )

    @contextmanager
    def by_system(self) -> Iterator[None]:
        """The changes made inside are the server's own (a cascade, a retry)."""
        actor, self.actor = self.actor, SYSTEM
        try:
            yield
        finally:
            self.actor = actor

    def created_execution(self) -> None:
        """Record the creation of the execution (its first history entry)."""
        ex = self.execution
        self._event(None, ex.state, ex.history[-1].reason, ex.history[-1].time_us)

    def created_task_run(self, task_run: TaskRun) -> None:
        """Record the creation of a task run."""
        self.created_task_runs.append(task_run)
        self._event(
            None,
            task_run.state,
            task_run.history[-1].reason,
            task_run.history[-1].time_us,
            task_run,
        )

    def move_execution(self, state: State, reason: str) -> None:
        """Move the execution to ``state`` (already decided legal)."""
        ex = self.execution
        time_us = next_time(ex.history, self.now_us)
        previous = ex.state
        ex.state = state
        ex.history.append(StateChange(state, time_us, reason, self.actor))
        self._event(previous, state, reason, time_us)

    def move_task_run(
        self,
        task_run: TaskRun,
        state: State,
        reason: str,
        attempt: Attempt | None = None,
        *,
        attempt_follows: bool = True,
    ) -> None:
        """Move a task run; ``attempt``, if given, is named in the event and,
        unless ``attempt_follows`` is false, moves to the same state."""
        time_us = next_time(task_run.history, self.now_us)
        previous = task_run.state
        task_run.state = state
        task_run.history.append(StateChange(state, time_us, reason, self.actor))
        task_run.update_time_us = time_us
        if attempt is not None and attempt_follows:
            attempt.state = state
            attempt.history.append(
                StateChange(state, next_time(attempt.history, time_us), reason, self.actor)
            )
        self.changed_task_runs[task_run.id] = task_run
        self._event(previous, state, reason, time_us, task_run, attempt.number if attempt else 0)

    def open_attempt(self, task_run: TaskRun, worker_id: str) -> Attempt:
        """Open the task run's next attempt (numbers start at 1)."""
        number = task_run.attempts[-1].number + 1 if task_run.attempts else 1
        attempt = Attempt(number=number, state=State.CREATED, history=[], worker_id=worker_id)
        task_run.attempts.append(attempt)
        return attempt

    def schedule(self, timer: Timer) -> None:
        """Store ``timer`` with this change."""
        self.new_timers.append(timer)

    def cancel_timers(
        self, *, task_run_id: str | None = None, kind: TimerKind | None = None
    ) -> None:
        """Delete the execution's timers (of one task run, ``""`` for the execution's own,
        ``None`` for all) with this change."""
        self.cancelled_timers.append((task_run_id, kind))

    @property
    def changed(self) -> bool:
        return bool(self.events)

    def seal(self) -> list[Event]:
        """Bump the revision once and stamp it on every event; return the events."""
        ex = self.execution
        ex.revision += 1
        ex.update_time_us = max(ex.update_time_us, self.now_us)
        for event in self.events:
            event.execution_revision = ex.revision
        return self.events
