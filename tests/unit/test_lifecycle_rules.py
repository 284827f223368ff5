"""The lifecycle rules (kill, restart, pause timers, retries, completion) without a database."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from statehouse.server.orchestration import (
    ChangeSet,
    Execution,
    FailedPrecondition,
    InvalidTransition,
    PauseAction,
    State,
    StateChange,
    TaskRun,
    Timer,
    TimerKind,
    lifecycle,
)
from statehouse.server.orchestration.lifecycle import decide_retry
from statehouse.server.orchestration.retry import RetryKind, RetryPolicy, interval_us

S = State


def execution(state: State = S.RUNNING) -> Execution:
    return Execution("ex", "ns", "f", state, [StateChange(state, 1, "")], 1, 1, 1)


def task_run(name: str, state: State, attempts: int = 0) -> TaskRun:
    tr = TaskRun(name, "ex", name, S.CREATED, [StateChange(S.CREATED, 1, "")], 1, 1)
    changes = ChangeSet(execution(), 2)
    for _ in range(attempts):
        if tr.state is not S.CREATED and tr.state is not S.RESTARTED:
            lifecycle.move_task_run(changes, tr, S.FAILED, reason="")
            lifecycle.move_task_run(changes, tr, S.RESTARTED, reason="")
        lifecycle.move_task_run(changes, tr, S.RUNNING, reason="")
    if state not in (tr.state, S.CREATED):
        lifecycle.move_task_run(changes, tr, state, reason="")
    assert tr.state is state
    return tr


def test_cascade_kill_ends_idle_task_runs_and_marks_running_ones_killing() -> None:
    runs = [
        task_run("c", S.CREATED),
        task_run("r", S.RUNNING, 1),
        task_run("p", S.PAUSED, 1),
        task_run("s", S.SUCCESS, 1),
    ]
    changes = ChangeSet(execution(), 10)
    assert lifecycle.start_kill(changes, runs, reason="stop", deadline_us=99) is True
    assert [t.state for t in runs] == [S.KILLED, S.KILLING, S.KILLED, S.SUCCESS]
    assert changes.execution.state is S.KILLING
    assert [(t.kind, t.due_time_us) for t in changes.new_timers] == [(TimerKind.KILL_DEADLINE, 99)]


def test_kill_with_nothing_running_ends_killed_at_once_without_a_deadline() -> None:
    changes = ChangeSet(execution(), 10)
    lifecycle.start_kill(changes, [task_run("c", S.CREATED)], reason="", deadline_us=99)
    assert [h.state for h in changes.execution.history][-2:] == [S.KILLING, S.KILLED]
    assert changes.new_timers == []


def test_kill_is_harmless_twice_and_on_terminal_executions() -> None:
    for state in (S.KILLING, S.SUCCESS, S.FAILED, S.KILLED):
        changes = ChangeSet(execution(state), 10)
        assert lifecycle.start_kill(changes, [], reason="", deadline_us=1) is False
        assert not changes.changed


def test_last_task_run_reporting_killed_finishes_the_kill() -> None:
    ex = execution(S.KILLING)
    tr = task_run("r", S.KILLING, 1)
    changes = ChangeSet(ex, 10)
    lifecycle.move_task_run(changes, tr, S.KILLED, reason="", other_active_task_runs=0)
    assert ex.state is S.KILLED
    assert (None, None) in changes.cancelled_timers


def test_a_task_run_ending_while_others_are_active_leaves_the_execution_killing() -> None:
    ex = execution(S.KILLING)
    changes = ChangeSet(ex, 10)
    lifecycle.move_task_run(
        changes, task_run("r", S.KILLING, 1), S.KILLED, reason="", other_active_task_runs=1
    )
    assert ex.state is S.KILLING


def test_kill_deadline_forces_everything_to_killed() -> None:
    ex = execution(S.KILLING)
    runs = [task_run("r", S.KILLING, 1), task_run("s", S.SUCCESS, 1)]
    changes = ChangeSet(ex, 10)
    lifecycle.force_kill_at_deadline(changes, runs)
    assert [t.state for t in runs] == [S.KILLED, S.SUCCESS]
    assert runs[0].attempts[-1].state is S.KILLED
    assert ex.state is S.KILLED


def test_restart_keeps_successes_and_restarts_failures() -> None:
    ex = execution(S.FAILED)
    runs = [task_run("ok", S.SUCCESS, 1), task_run("bad", S.FAILED, 1), task_run("k", S.KILLED)]
    lifecycle.restart(ChangeSet(ex, 10), runs, reason="again")
    assert [t.state for t in runs] == [S.SUCCESS, S.RESTARTED, S.RESTARTED]
    assert ex.state is S.RESTARTED and ex.restart_count == 1
    with pytest.raises(InvalidTransition):
        lifecycle.restart(ChangeSet(execution(S.SUCCESS), 10), [], reason="")


def test_pause_sets_a_timer_and_resume_cancels_it() -> None:
    ex = execution()
    changes = ChangeSet(ex, 1_000)
    due = lifecycle.pause(
        changes, None, reason="", delay_us=500, timeout_us=None, action=PauseAction.RESUME
    )
    assert due == 1_500
    assert [(t.kind, t.action, t.due_time_us) for t in changes.new_timers] == [
        (TimerKind.PAUSE, PauseAction.DELAY, 1_500)
    ]
    resumed = ChangeSet(ex, 1_100)
    lifecycle.resume(resumed, None, reason="")
    assert ex.state is S.RUNNING
    assert resumed.cancelled_timers == [("", TimerKind.PAUSE)]


def test_a_pause_timer_does_nothing_once_the_pause_is_over() -> None:
    ex = execution()  # RUNNING: resumed by hand before the timer fired
    timer = Timer("t", "ex", TimerKind.PAUSE, 5, action=PauseAction.FAIL)
    changes = ChangeSet(ex, 10)
    lifecycle.fire_pause_timer(changes, timer, [], kill_deadline_us=99)
    assert not changes.changed


@pytest.mark.parametrize(
    ("action", "state"),
    [
        (PauseAction.RESUME, S.RUNNING),
        (PauseAction.WARN, S.WARNING),
        (PauseAction.FAIL, S.FAILED),
        (PauseAction.KILL, S.KILLING),
    ],
)
def test_execution_pause_timeouts(action: str, state: State) -> None:
    ex = execution(S.PAUSED)
    runs = [task_run("r", S.RUNNING, 1), task_run("c", S.CREATED)]
    lifecycle.fire_pause_timer(
        ChangeSet(ex, 10), Timer("t", "ex", TimerKind.PAUSE, 5, action=action), runs,
        kill_deadline_us=99,
    )  # fmt: skip
    assert ex.state is state
    if state.is_terminal:
        assert all(t.state.is_terminal for t in runs)


def test_derived_final_state_precedence() -> None:
    def derive(*states: State) -> State:
        return lifecycle.derive_final_state([task_run(str(i), s, 1) for i, s in enumerate(states)])

    assert lifecycle.derive_final_state([]) is S.SUCCESS
    assert derive(S.SUCCESS, S.WARNING) is S.WARNING
    assert derive(S.WARNING, S.FAILED, S.SUCCESS) is S.FAILED
    assert derive(S.FAILED, S.KILLED) is S.KILLED


def test_retry_intervals() -> None:
    rng = random.Random(7)
    constant = RetryPolicy(RetryKind.CONSTANT, max_attempts=1, interval_us=100)
    assert [interval_us(constant, n, rng) for n in (1, 2, 3)] == [100, 100, 100]
    exponential = RetryPolicy(
        RetryKind.EXPONENTIAL, max_attempts=1, interval_us=100, max_interval_us=350, factor=2
    )
    assert [interval_us(exponential, n, rng) for n in (1, 2, 3, 4)] == [100, 200, 350, 350]
    rand = RetryPolicy(RetryKind.RANDOM, max_attempts=1, min_interval_us=10, max_interval_us=20)
    assert all(10 <= interval_us(rand, 1, rng) <= 20 for _ in range(50))


def test_retry_decision_counts_attempts_and_duration() -> None:
    tr = task_run("t", S.FAILED, 1)
    tr.retry_policy = RetryPolicy(RetryKind.CONSTANT, max_attempts=2, interval_us=100)
    decision = decide_retry(tr, 1_000, random.Random())
    assert (decision.scheduled, decision.next_attempt, decision.next_attempt_time_us) == (
        True,
        2,
        1_100,
    )
    tr.retry_policy = replace(tr.retry_policy, max_attempts=1)
    assert not decide_retry(tr, 1_000, random.Random()).scheduled
    tr.retry_policy = replace(tr.retry_policy, max_attempts=5, max_duration_us=50)
    assert not decide_retry(tr, 1_000, random.Random()).scheduled


def test_a_task_run_being_killed_cannot_report_failed() -> None:
    """So a kill never meets a retry: the table refuses the failure first."""
    ex = execution(S.KILLING)
    tr = task_run("t", S.KILLING, 1)
    tr.retry_policy = RetryPolicy(RetryKind.CONSTANT, max_attempts=3, interval_us=1)
    # KILLING -> FAILED is not allowed; a failure reported before the kill is.
    with pytest.raises(InvalidTransition):
        lifecycle.move_task_run(ChangeSet(ex, 10), tr, S.FAILED, reason="")


def test_restarted_task_run_waits_for_its_retry_time() -> None:
    ex = execution()
    tr = task_run("t", S.RUNNING, 1)
    tr.retry_policy = RetryPolicy(RetryKind.CONSTANT, max_attempts=3, interval_us=1_000)
    changes = ChangeSet(ex, 10, rng=random.Random())
    decision = lifecycle.move_task_run(changes, tr, S.FAILED, reason="")
    assert decision is not None and decision.scheduled
    assert tr.state is S.RESTARTED and tr.next_attempt_time_us == 1_010
    with pytest.raises(FailedPrecondition) as info:
        lifecycle.move_task_run(ChangeSet(ex, 500), tr, S.RUNNING, reason="")
    assert info.value.reason == "RETRY_NOT_DUE"
    lifecycle.move_task_run(ChangeSet(ex, 2_000), tr, S.RUNNING, reason="")
    assert [a.number for a in tr.attempts] == [1, 2]
