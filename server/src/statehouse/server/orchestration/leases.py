"""Leases: a worker holds its attempt only while it reports or heartbeats.

An attempt started with a lease (by a claim, or by a move to RUNNING that
carries one) records the lease's duration, and its expiry is a durable timer
(``TimerKind.LEASE``, one per attempt, named by :func:`lease_timer_id`):
stored with the start, moved later by each heartbeat, cancelled when the
attempt ends (``lifecycle.attempt_follows_task_run``), fired once by the
scheduler. When it fires, :func:`expire_lease` fails the attempt as a
reported failure would (the retry policy decides what follows), with actor
``system`` and a reason that names the lost lease. A report that names an
attempt which is no longer open is refused by :func:`check_reported_attempt`.

Pure rules: no database, no gRPC; the time comes with the change set.
"""

from __future__ import annotations

from .changes import ChangeSet
from .errors import FailedPrecondition, InvalidArgument, task_run_subject
from .lifecycle import RetryDecision, move_task_run
from .model import Attempt, TaskRun, Timer, TimerKind
from .states import STARTABLE_STATES, State

_PREFIX = "lease:"


def lease_timer_id(task_run_id: str, attempt: int) -> str:
    """The id of the lease timer of one attempt: at most one per attempt, found
    by heartbeats without a lookup."""
    return f"{_PREFIX}{task_run_id}:{attempt}"


def grant_lease(changes: ChangeSet, task_run: TaskRun, lease_us: int) -> int:
    """The attempt just opened holds a lease of ``lease_us``: record it on the
    attempt and set its timer. Returns when it expires."""
    attempt = task_run.last_attempt
    assert attempt is not None and attempt.state is State.RUNNING
    attempt.lease_us = lease_us
    due = changes.now_us + lease_us
    attempt.lease_expire_time_us = due
    changes.schedule(
        Timer(
            lease_timer_id(task_run.id, attempt.number),
            changes.execution.id,
            TimerKind.LEASE,
            due,
            task_run_id=task_run.id,
        )
    )
    return due


def _not_open(task_run: TaskRun, attempt: int, why: str) -> FailedPrecondition:
    last = task_run.last_attempt
    metadata = {
        "attempt": str(attempt),
        "open_attempt": str(last.number if last and last.state.is_active else 0),
        "task_run_state": task_run.state.value,
    }
    return FailedPrecondition(
        "ATTEMPT_NOT_OPEN",
        f"attempt {attempt} of task run {task_run.id} is not open: {why}",
        subject=task_run_subject(task_run.id),
        metadata=metadata,
    )


def _ended(attempt: Attempt) -> str:
    last = attempt.history[-1] if attempt.history else None
    said = f" ({last.reason})" if last is not None and last.reason else ""
    return f"it ended {attempt.state.value}{said}"


def open_attempt_named(task_run: TaskRun, attempt: int) -> Attempt:
    """The task run's open attempt, which the caller names ``attempt``; refused
    (ATTEMPT_NOT_OPEN) when that attempt ended or is not the open one."""
    if attempt < 1 or attempt > len(task_run.attempts):
        raise _not_open(task_run, attempt, f"the task run has {len(task_run.attempts)} attempt(s)")
    named = task_run.attempts[attempt - 1]
    last = task_run.attempts[-1]
    if named is not last:
        raise _not_open(task_run, attempt, f"{_ended(named)}; attempt {last.number} came after")
    if not named.state.is_active:
        raise _not_open(task_run, attempt, _ended(named))
    return named


def check_reported_attempt(task_run: TaskRun, requested: State, attempt: int) -> None:
    """A report naming ``attempt`` is for the task run's open attempt (0 names
    none: not checked). A move to RUNNING that opens an attempt may name the
    number it opens. A worker whose lease expired learns here that its attempt
    is gone, and why."""
    if attempt == 0:
        return
    if requested is State.RUNNING and task_run.state in STARTABLE_STATES:
        opens = len(task_run.attempts) + 1
        if attempt != opens:
            raise InvalidArgument([("attempt", f"this start opens attempt {opens}")])
        return
    open_attempt_named(task_run, attempt)


def expire_lease(
    changes: ChangeSet,
    task_run: TaskRun,
    attempt: int,
    *,
    other_active_task_runs: int,
) -> RetryDecision | None:
    """An attempt's lease expired: its worker neither reported nor heartbeat in
    time. See :func:`end_lost_attempt`."""
    last = task_run.last_attempt
    if last is None or last.number != attempt:
        return None
    worker = f" by worker {last.worker_id}" if last.worker_id else ""
    seconds = (last.lease_us or 0) / 1_000_000
    reason = (
        f"lease lost: attempt {attempt}{worker} was not reported or heartbeat within {seconds:g} s"
    )
    return end_lost_attempt(
        changes, task_run, attempt, reason=reason, other_active_task_runs=other_active_task_runs
    )


def end_lost_attempt(
    changes: ChangeSet,
    task_run: TaskRun,
    attempt: int,
    *,
    reason: str,
    other_active_task_runs: int,
) -> RetryDecision | None:
    """An attempt nobody will report (its lease expired, or its timeout passed).
    A RUNNING attempt ends FAILED, and the retry policy decides as for a
    reported failure; one being killed ends KILLED (nobody is left to report
    it), which may end the kill. An attempt that ended (or a task run that
    paused) meanwhile is left alone: the timer is spent."""
    last = task_run.last_attempt
    if last is None or last.number != attempt or not last.state.is_active:
        return None
    if task_run.state not in (State.RUNNING, State.KILLING):
        return None
    target = State.FAILED if task_run.state is State.RUNNING else State.KILLED
    with changes.by_system():
        return move_task_run(
            changes,
            task_run,
            target,
            reason=reason,
            other_active_task_runs=other_active_task_runs,
        )
