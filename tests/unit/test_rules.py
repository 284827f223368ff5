"""The orchestration's guards and task-run moves, without a database."""

from __future__ import annotations

import pytest

from statehouse.server.orchestration import (
    ChangeSet,
    Execution,
    FailedPrecondition,
    InvalidArgument,
    InvalidTransition,
    RevisionMismatch,
    State,
    StateChange,
    TaskRun,
    guards,
    lifecycle,
)

S = State


def make_execution(state: State = S.CREATED, t: int = 1_000) -> Execution:
    return Execution(
        id="ex1",
        namespace="ns",
        flow_id="flow",
        state=state,
        history=[StateChange(state, t, "")],
        revision=1,
        create_time_us=t,
        update_time_us=t,
    )


def make_task_run(state: State = S.CREATED, t: int = 1_000) -> TaskRun:
    return TaskRun(
        id="tr1",
        execution_id="ex1",
        task_id="task",
        state=state,
        history=[StateChange(state, t, "")],
        create_time_us=t,
        update_time_us=t,
    )


def run_task(
    ex: Execution, tr: TaskRun, to: State, now: int = 2_000, worker: str = ""
) -> ChangeSet:
    changes = ChangeSet(ex, now)
    lifecycle.move_task_run(changes, tr, to, reason="r", worker_id=worker)
    changes.seal()
    return changes


def test_starting_a_task_run_opens_attempt_1_and_starts_the_execution() -> None:
    ex, tr = make_execution(), make_task_run()
    changes = run_task(ex, tr, S.RUNNING, worker="w1")
    assert tr.state is S.RUNNING
    assert [(a.number, a.state, a.worker_id) for a in tr.attempts] == [(1, S.RUNNING, "w1")]
    assert ex.state is S.RUNNING
    assert [(e.task_run_id, e.previous_state, e.state, e.attempt) for e in changes.events] == [
        ("tr1", S.CREATED, S.RUNNING, 1),
        ("", S.CREATED, S.RUNNING, 0),
    ]
    assert ex.revision == 2
    assert all(e.execution_revision == 2 for e in changes.events)


def test_restarted_task_run_opens_the_next_attempt_and_keeps_earlier_ones() -> None:
    ex, tr = make_execution(S.RUNNING), make_task_run()
    run_task(ex, tr, S.RUNNING)
    run_task(ex, tr, S.FAILED, now=3_000)
    run_task(ex, tr, S.RESTARTED, now=4_000)
    first = [(h.state, h.time_us) for h in tr.attempts[0].history]
    run_task(ex, tr, S.RUNNING, now=5_000)
    assert [(a.number, a.state) for a in tr.attempts] == [(1, S.FAILED), (2, S.RUNNING)]
    assert [(h.state, h.time_us) for h in tr.attempts[0].history] == first


def test_pause_and_resume_continue_the_same_attempt() -> None:
    ex, tr = make_execution(S.RUNNING), make_task_run()
    run_task(ex, tr, S.RUNNING)
    run_task(ex, tr, S.PAUSED)
    assert tr.attempts[-1].state is S.PAUSED
    run_task(ex, tr, S.RUNNING)
    run_task(ex, tr, S.SUCCESS)
    assert len(tr.attempts) == 1
    assert [h.state for h in tr.attempts[0].history] == [S.RUNNING, S.PAUSED, S.RUNNING, S.SUCCESS]


def test_killing_leaves_the_attempt_running_until_killed() -> None:
    ex, tr = make_execution(S.RUNNING), make_task_run()
    run_task(ex, tr, S.RUNNING)
    changes = run_task(ex, tr, S.KILLING)
    assert tr.attempts[-1].state is S.RUNNING
    assert changes.events[0].attempt == 1
    run_task(ex, tr, S.KILLED)
    assert tr.attempts[-1].state is S.KILLED


def test_a_task_run_that_never_ran_has_no_attempt() -> None:
    ex, tr = make_execution(), make_task_run()
    changes = run_task(ex, tr, S.FAILED)
    assert tr.attempts == []
    assert changes.events[0].attempt == 0
    assert ex.state is S.CREATED


def test_no_task_run_starts_while_the_execution_is_paused() -> None:
    ex, tr = make_execution(S.PAUSED), make_task_run()
    with pytest.raises(FailedPrecondition) as info:
        run_task(ex, tr, S.RUNNING)
    assert info.value.reason == "EXECUTION_PAUSED"
    assert tr.state is S.CREATED and tr.attempts == []


def test_a_paused_task_run_may_resume_while_the_execution_is_paused() -> None:
    ex, tr = make_execution(S.RUNNING), make_task_run()
    run_task(ex, tr, S.RUNNING)
    run_task(ex, tr, S.PAUSED)
    ex.state = S.PAUSED
    run_task(ex, tr, S.RUNNING)
    assert tr.state is S.RUNNING


def test_no_task_run_starts_while_the_execution_is_killing() -> None:
    ex, tr = make_execution(S.KILLING), make_task_run()
    with pytest.raises(FailedPrecondition) as info:
        run_task(ex, tr, S.RUNNING)
    assert info.value.reason == "EXECUTION_KILLING"


def test_task_runs_of_a_terminal_execution_do_not_change() -> None:
    ex, tr = make_execution(S.FAILED), make_task_run(S.FAILED)
    with pytest.raises(FailedPrecondition) as info:
        run_task(ex, tr, S.RESTARTED)
    assert info.value.reason == "EXECUTION_TERMINAL"


def test_illegal_task_run_move_is_rejected_before_any_change() -> None:
    ex, tr = make_execution(), make_task_run()
    with pytest.raises(InvalidTransition):
        run_task(ex, tr, S.SUCCESS)
    assert (tr.state, ex.state, ex.revision, len(tr.history)) == (S.CREATED, S.CREATED, 1, 1)


@pytest.mark.parametrize("terminal", [S.SUCCESS, S.WARNING, S.FAILED])
def test_execution_cannot_end_while_task_runs_are_active(terminal: State) -> None:
    ex = make_execution(S.RUNNING)
    with pytest.raises(FailedPrecondition) as info:
        lifecycle.change_execution_state(
            ChangeSet(ex, 2_000), terminal, reason="", active_task_runs=1
        )
    assert info.value.reason == "TASK_RUNS_ACTIVE"
    changes = ChangeSet(ex, 2_000)
    lifecycle.change_execution_state(changes, terminal, reason="done", active_task_runs=0)
    assert ex.state is terminal


def test_non_terminal_execution_moves_ignore_active_task_runs() -> None:
    ex = make_execution(S.RUNNING)
    lifecycle.change_execution_state(ChangeSet(ex, 2_000), S.PAUSED, reason="", active_task_runs=3)
    assert ex.state is S.PAUSED


def test_outputs_only_with_a_terminal_state() -> None:
    ex = make_execution(S.RUNNING)
    with pytest.raises(InvalidArgument) as info:
        lifecycle.change_execution_state(
            ChangeSet(ex, 2_000), S.PAUSED, reason="", active_task_runs=0, outputs={"a": 1}
        )
    assert info.value.violations[0][0] == "outputs"
    lifecycle.change_execution_state(
        ChangeSet(ex, 2_000), S.SUCCESS, reason="", active_task_runs=0, outputs={"a": 1}
    )
    assert ex.outputs == {"a": 1}


def test_history_times_never_decrease_when_the_clock_goes_back() -> None:
    ex = make_execution(S.CREATED, t=10_000)
    changes = ChangeSet(ex, 5_000)
    lifecycle.change_execution_state(changes, S.RUNNING, reason="", active_task_runs=0)
    assert ex.history[-1].time_us == 10_000


def test_expected_revision() -> None:
    ex = make_execution()
    guards.check_expected_revision(ex, None)
    guards.check_expected_revision(ex, 1)
    with pytest.raises(RevisionMismatch) as info:
        guards.check_expected_revision(ex, 7)
    assert info.value.metadata == {"expected_revision": "7", "current_revision": "1"}


def test_new_task_runs_only_join_a_live_execution() -> None:
    for state, reason in [(S.SUCCESS, "EXECUTION_TERMINAL"), (S.KILLING, "EXECUTION_KILLING")]:
        with pytest.raises(FailedPrecondition) as info:
            lifecycle.add_task_run(ChangeSet(make_execution(state), 2_000), make_task_run())
        assert info.value.reason == reason
