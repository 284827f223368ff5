"""Leases and claims as rules, without a database (orchestration/leases.py, filters.py)."""

from __future__ import annotations

import pytest

from statehouse.server.orchestration import (
    SYSTEM,
    ChangeSet,
    Event,
    Execution,
    FailedPrecondition,
    InvalidArgument,
    State,
    StateChange,
    TaskRun,
    Timer,
    TimerKind,
    leases,
    lifecycle,
)
from statehouse.server.orchestration.filters import TaskRunFilter
from statehouse.server.orchestration.retry import RetryKind, RetryPolicy

S = State


def execution(state: State = S.RUNNING) -> Execution:
    return Execution("ex", "ns", "f", state, [StateChange(state, 1, "")], 1, 1, 1)


def started(
    policy: RetryPolicy | None = None, lease_us: int = 5_000_000
) -> tuple[TaskRun, ChangeSet]:
    tr = TaskRun("tr", "ex", "t", S.CREATED, [StateChange(S.CREATED, 1, "")], 1, 1)
    tr.retry_policy = policy
    changes = ChangeSet(execution(), 10, "worker-token")
    lifecycle.move_task_run(changes, tr, S.RUNNING, reason="claimed", worker_id="w1")
    due = leases.grant_lease(changes, tr, lease_us)
    assert due == 10 + lease_us
    [timer] = changes.new_timers
    assert (timer.kind, timer.task_run_id, timer.due_time_us) == (TimerKind.LEASE, "tr", due)
    assert timer.attempt == 1
    assert tr.attempts[0].lease_us == lease_us
    assert tr.attempts[0].lease_expire_time_us == due
    return tr, changes


def test_an_expired_lease_fails_the_attempt_as_the_system_and_the_policy_retries() -> None:
    policy = RetryPolicy(RetryKind.CONSTANT, max_attempts=2, interval_us=1_000_000)
    tr, _ = started(policy)
    changes = ChangeSet(execution(), 5_000_100)
    decision = leases.expire_lease(changes, tr, 1, other_active_task_runs=0)
    assert decision is not None and decision.scheduled
    assert tr.state is S.RESTARTED
    assert tr.attempts[0].state is S.FAILED
    last = tr.attempts[0].history[-1]
    assert last.actor == SYSTEM and "lease lost" in last.reason and "w1" in last.reason


def test_a_lease_of_an_attempt_that_ended_does_nothing() -> None:
    tr, _ = started()
    changes = ChangeSet(execution(), 20)
    lifecycle.move_task_run(changes, tr, S.SUCCESS, reason="done")
    # The end cancels the lease's timer with the change.
    assert (tr.id, TimerKind.LEASE) in changes.cancelled_timers
    assert tr.attempts[0].lease_expire_time_us is None  # an ended attempt holds none
    later = ChangeSet(execution(), 9_000_000)
    assert leases.expire_lease(later, tr, 1, other_active_task_runs=0) is None
    assert not later.changed and tr.state is S.SUCCESS


def test_a_lost_lease_of_a_task_run_being_killed_ends_it_killed_and_the_kill() -> None:
    tr, _ = started()
    changes = ChangeSet(execution(), 20)
    lifecycle.start_kill(changes, [tr], reason="stop", deadline_us=10**9)
    assert tr.state is S.KILLING
    expiry = ChangeSet(changes.execution, 6_000_000)
    leases.expire_lease(expiry, tr, 1, other_active_task_runs=0)
    assert tr.state is S.KILLED and expiry.execution.state is S.KILLED


def test_a_report_must_name_the_open_attempt() -> None:
    tr, _ = started()
    leases.check_reported_attempt(tr, S.SUCCESS, 1)
    leases.check_reported_attempt(tr, S.SUCCESS, 0)  # not checked
    with pytest.raises(FailedPrecondition) as refused:
        leases.check_reported_attempt(tr, S.SUCCESS, 2)
    assert refused.value.reason == "ATTEMPT_NOT_OPEN"
    leases.expire_lease(ChangeSet(execution(), 6_000_000), tr, 1, other_active_task_runs=0)
    with pytest.raises(FailedPrecondition) as refused:
        leases.check_reported_attempt(tr, S.SUCCESS, 1)
    assert "ended FAILED (lease lost" in str(refused.value)
    assert refused.value.metadata == {
        "attempt": "1",
        "open_attempt": "0",
        "task_run_state": "FAILED",
    }
    fresh = TaskRun("n", "ex", "t", S.CREATED, [StateChange(S.CREATED, 1, "")], 1, 1)
    leases.check_reported_attempt(fresh, S.RUNNING, 1)
    with pytest.raises(InvalidArgument):
        leases.check_reported_attempt(fresh, S.RUNNING, 2)


def event(state: State, task_run_id: str = "tr", previous: State | None = None) -> Event:
    return Event("ns.a", "f", "ex", state, 1, previous, task_run_id, "t")


def test_what_wakes_a_waiting_claim() -> None:
    flt = TaskRunFilter(namespace="ns.a", task_ids=("t",))
    assert flt.may_make_ready(event(S.CREATED))
    assert flt.may_make_ready(event(S.RESTARTED))
    assert not flt.may_make_ready(event(S.RUNNING))
    assert flt.may_make_ready(event(S.RUNNING, "", S.PAUSED))  # an execution resumed
    assert not flt.may_make_ready(event(S.RUNNING, "", S.CREATED))  # started by a claim
    assert not TaskRunFilter(namespace="ns.b").may_make_ready(event(S.CREATED))
    assert not TaskRunFilter(task_ids=("u",)).may_make_ready(event(S.CREATED))
    assert TaskRunFilter(scope=("ns.*",)).may_make_ready(event(S.CREATED))
    assert not TaskRunFilter(scope=("other",)).may_make_ready(event(S.CREATED))


def test_a_timer_of_an_attempt_names_its_attempt_and_others_refuse() -> None:
    lease = Timer(leases.lease_timer_id("tr", 3), "ex", TimerKind.LEASE, 1, task_run_id="tr")
    timeout = Timer(
        lifecycle.attempt_timeout_timer_id("tr", 12), "ex", TimerKind.ATTEMPT_TIMEOUT, 1
    )
    assert (lease.attempt, timeout.attempt) == (3, 12)
    with pytest.raises(ValueError, match="no attempt"):
        _ = Timer("kill:ex", "ex", TimerKind.KILL_DEADLINE, 1).attempt
