"""Deadlines as rules, without a database (orchestration/deadlines.py)."""

from __future__ import annotations

import pytest

from statehouse.server.orchestration import (
    SYSTEM,
    ChangeSet,
    DeadlineAction,
    Execution,
    State,
    StateChange,
    TaskRun,
    Timer,
    TimerKind,
    deadlines,
    lifecycle,
)
from statehouse.server.orchestration.retry import RetryKind, RetryPolicy

S = State


def execution(state: State = S.CREATED) -> Execution:
    return Execution("ex", "ns", "f", state, [StateChange(state, 1_000_000, "")], 1, 1_000_000, 1)


def task_run(state: State = S.CREATED) -> TaskRun:
    return TaskRun("tr", "ex", "t", state, [StateChange(state, 1_000_000, "")], 1, 1)


def timers_of(ex: Execution, **deadline_kwargs: deadlines.Deadline) -> list[Timer]:
    changes = ChangeSet(ex, 1_000_000)
    deadlines.set_execution_deadlines(
        changes,
        max_duration=deadline_kwargs.get("max_duration"),
        max_created_duration=deadline_kwargs.get("max_created_duration"),
    )
    return changes.new_timers


def test_deadlines_are_timers_due_from_the_creation() -> None:
    ex = execution()
    [run, created] = timers_of(
        ex,
        max_duration=deadlines.Deadline(60_000_000, DeadlineAction.KILL),
        max_created_duration=deadlines.Deadline(5_000_000),
    )
    assert (run.kind, run.due_time_us, run.action) == (
        TimerKind.MAX_DURATION,
        61_000_000,
        DeadlineAction.KILL,
    )
    assert (created.kind, created.due_time_us, created.action) == (
        TimerKind.MAX_CREATED_DURATION,
        6_000_000,
        DeadlineAction.FAIL,
    )
    assert len(run.id) <= 64 and run.id != created.id
    assert not timers_of(ex)


def fire(ex: Execution, kind: TimerKind, action: DeadlineAction, trs: list[TaskRun]) -> ChangeSet:
    changes = ChangeSet(ex, 100_000_000)
    [timer] = timers_of(ex, **{_NAMES[kind]: deadlines.Deadline(60_000_000, action)})
    labels = deadlines.fire_execution_deadline(changes, timer, trs, kill_deadline_us=200_000_000)
    changes.labels = labels  # type: ignore[attr-defined]
    return changes


_NAMES = {
    TimerKind.MAX_DURATION: "max_duration",
    TimerKind.MAX_CREATED_DURATION: "max_created_duration",
}


def test_fail_ends_the_task_runs_and_the_execution_by_the_system() -> None:
    ex = execution(S.RUNNING)
    running = task_run()
    lifecycle.move_task_run(ChangeSet(ex, 2_000_000), running, S.RUNNING, reason="go")
    changes = fire(ex, TimerKind.MAX_DURATION, DeadlineAction.FAIL, [running])
    assert ex.state is S.FAILED and running.state is S.FAILED
    assert running.attempts[0].state is S.FAILED
    assert {(e.actor, e.reason) for e in changes.events} == {
        (SYSTEM, "deadline max_duration of 60s passed")
    }
    assert (None, None) in changes.cancelled_timers


def test_kill_kills_and_mark_labels_without_a_move() -> None:
    ex = execution(S.RUNNING)
    running = task_run(S.RUNNING)
    fire(ex, TimerKind.MAX_DURATION, DeadlineAction.KILL, [running])
    assert ex.state is S.KILLING and running.state is S.KILLING

    ex = execution(S.RUNNING)
    changes = fire(ex, TimerKind.MAX_DURATION, DeadlineAction.MARK, [])
    assert ex.state is S.RUNNING and not changes.events
    assert changes.labels == {"deadline-missed/max_duration": "60s"}  # type: ignore[attr-defined]
    assert ex.labels == changes.labels  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        (S.SUCCESS, TimerKind.MAX_DURATION),
        (S.KILLED, TimerKind.MAX_CREATED_DURATION),
        (S.RUNNING, TimerKind.MAX_CREATED_DURATION),
        (S.PAUSED, TimerKind.MAX_CREATED_DURATION),
    ],
    ids=lambda v: getattr(v, "value", v),
)
def test_a_deadline_past_its_span_does_nothing(state: State, kind: TimerKind) -> None:
    ex = execution(state)
    changes = fire(ex, kind, DeadlineAction.FAIL, [])
    assert ex.state is state and not changes.events


def test_an_attempt_timeout_is_timed_with_each_attempt_and_ends_it_like_a_lost_lease() -> None:
    tr = task_run()
    tr.attempt_timeout_us = 10_000_000
    tr.retry_policy = RetryPolicy(RetryKind.CONSTANT, max_attempts=2, interval_us=1_000_000)
    ex = execution(S.RUNNING)
    start = ChangeSet(ex, 2_000_000)
    lifecycle.move_task_run(start, tr, S.RUNNING, reason="go", worker_id="w")
    [timer] = start.new_timers
    assert (timer.kind, timer.task_run_id, timer.due_time_us) == (
        TimerKind.ATTEMPT_TIMEOUT,
        "tr",
        12_000_000,
    )
    changes = ChangeSet(ex, 12_000_000)
    decision = deadlines.expire_attempt_timeout(changes, tr, 1, other_active_task_runs=0)
    assert decision is not None and decision.scheduled and tr.state is S.RESTARTED
    ended = tr.attempts[0].history[-1]
    assert (ended.state, ended.actor) == (S.FAILED, SYSTEM)
    assert ended.reason == "attempt timeout: attempt 1 ran longer than 10s"
    # The attempt's end cancelled its timer; a second firing does nothing.
    assert ("tr", TimerKind.ATTEMPT_TIMEOUT) in changes.cancelled_timers
    assert (
        deadlines.expire_attempt_timeout(ChangeSet(ex, 13_000_000), tr, 1, other_active_task_runs=0)
        is None
    )
