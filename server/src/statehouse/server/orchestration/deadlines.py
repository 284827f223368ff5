"""Deadlines: how long an execution, or one attempt of a task run, may take.

An execution created with ``max_duration`` (from its creation to its end) or
``max_created_duration`` (its time in CREATED) gets one durable timer for each,
stored with its creation (:func:`set_execution_deadlines`; the timer's action is
the deadline's :class:`DeadlineAction`). An execution that ends cancels every
timer of its own (``lifecycle``), so a deadline never fires after the end; a
``max_created_duration`` that falls due once the execution has left CREATED
is spent without effect. When one fires, :func:`fire_execution_deadline`
fails the execution, kills it, or marks it with a label and lets it go on,
with actor ``system`` and a reason naming the deadline.

A task run created with an ``attempt_timeout`` gets a timer with each attempt
it opens (``lifecycle.attempt_follows_task_run``: ``ATTEMPT_TIMEOUT``, id
``timeout:<task run>:<n>``), cancelled when the attempt ends; when it fires,
:func:`expire_attempt_timeout` ends the attempt as a lost lease would
(``leases.end_lost_attempt``): FAILED, and the retry policy decides.

Pure rules: no database, no gRPC; the time comes with the change set.
"""

from __future__ import annotations

from dataclasses import dataclass

from .changes import ChangeSet
from .leases import end_lost_attempt
from .lifecycle import RetryDecision, end_task_run, start_kill
from .model import DeadlineAction, TaskRun, Timer, TimerKind
from .states import State

#: The name of each execution deadline, as the API spells it.
DEADLINE_NAMES = {
    TimerKind.MAX_DURATION: "max_duration",
    TimerKind.MAX_CREATED_DURATION: "max_created_duration",
}
#: The prefix of the label an expired deadline with the MARK action sets.
MARK_LABEL_PREFIX = "deadline-missed/"


@dataclass(frozen=True, slots=True)
class Deadline:
    """A deadline of an execution: how long, and what happens when it passes."""

    timeout_us: int
    action: DeadlineAction = DeadlineAction.FAIL


def deadline_timer_id(execution_id: str, kind: TimerKind) -> str:
    """At most one timer per deadline of an execution (ids fit the 64 characters
    of the timers' key)."""
    short = "created" if kind is TimerKind.MAX_CREATED_DURATION else "duration"
    return f"deadline:{execution_id}:{short}"


def set_execution_deadlines(
    changes: ChangeSet, *, max_duration: Deadline | None, max_created_duration: Deadline | None
) -> None:
    """A new execution's deadlines, each a timer due from its creation."""
    execution = changes.execution
    for kind, deadline in (
        (TimerKind.MAX_DURATION, max_duration),
        (TimerKind.MAX_CREATED_DURATION, max_created_duration),
    ):
        if deadline is None:
            continue
        changes.schedule(
            Timer(
                deadline_timer_id(execution.id, kind),
                execution.id,
                kind,
                execution.create_time_us + deadline.timeout_us,
                action=deadline.action,
            )
        )


def _seconds(us: int) -> str:
    return f"{us / 1_000_000:g}s"


def fire_execution_deadline(
    changes: ChangeSet, timer: Timer, task_runs: list[TaskRun], *, kill_deadline_us: int
) -> dict[str, str]:
    """An execution's deadline passed: apply its action, by ``system``.

    FAIL ends the active task runs FAILED (KILLED where the table allows
    nothing else) and then the execution; KILL starts a kill (nothing if one is
    under way); MARK changes no state and returns the label to add. A deadline
    of an execution that ended, or a ``max_created_duration`` of one that left
    CREATED, does nothing. Returns the labels to add (MARK only).
    """
    execution = changes.execution
    if execution.state.is_terminal:
        return {}
    if timer.kind is TimerKind.MAX_CREATED_DURATION and execution.state is not State.CREATED:
        return {}
    name = DEADLINE_NAMES[timer.kind]
    timeout = _seconds(timer.due_time_us - execution.create_time_us)
    reason = f"deadline {name} of {timeout} passed"
    if timer.action is DeadlineAction.MARK:
        labels = {MARK_LABEL_PREFIX + name: timeout}
        execution.labels.update(labels)
        return labels
    with changes.by_system():
        if timer.action is DeadlineAction.KILL:
            start_kill(changes, task_runs, reason=reason, deadline_us=kill_deadline_us)
        elif execution.state is not State.KILLING:
            for task_run in task_runs:
                end_task_run(changes, task_run, State.FAILED, reason)
            changes.move_execution(State.FAILED, reason)
            changes.cancel_timers()
    return {}


def expire_attempt_timeout(
    changes: ChangeSet, task_run: TaskRun, attempt: int, *, other_active_task_runs: int
) -> RetryDecision | None:
    """An attempt ran past its task run's ``attempt_timeout``: it ends as one
    whose lease was lost (FAILED, and the retry policy decides; KILLED if it
    was being killed). An attempt that ended meanwhile is left alone."""
    seconds = _seconds(task_run.attempt_timeout_us or 0)
    reason = f"attempt timeout: attempt {attempt} ran longer than {seconds}"
    return end_lost_attempt(
        changes, task_run, attempt, reason=reason, other_active_task_runs=other_active_task_runs
    )
