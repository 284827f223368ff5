"""Guards as data: which guards each move has, the order they run in, and the
subject a refusal names (down to the PreconditionFailure a client gets)."""

from __future__ import annotations

from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2
from pytest import raises

from statehouse.server.api.errors import status_for
from statehouse.server.orchestration import (
    ChangeSet,
    DomainError,
    Execution,
    FailedPrecondition,
    InvalidArgument,
    InvalidTransition,
    State,
    StateChange,
    TaskRun,
    lifecycle,
)
from statehouse.server.orchestration.errors import iso_time
from statehouse.server.orchestration.guards import (
    GUARDS,
    POLICY,
    Guard,
    GuardKind,
    Move,
    Proposal,
    apply_guards,
    guards_of,
    in_policy_order,
    task_run_move,
)

S = State


def execution(state: State = S.RUNNING) -> Execution:
    return Execution("ex1", "ns", "f", state, [StateChange(state, 1, "")], 1, 1, 1)


def task_run(state: State = S.CREATED) -> TaskRun:
    return TaskRun("tr1", "ex1", "t", state, [StateChange(state, 1, "")], 1, 1)


#: The table, transcribed: a guard added to or dropped from a move shows here.
EXPECTED = {
    Move.CREATE_TASK_RUN: ["execution_not_finished", "execution_takes_new_task_runs"],
    Move.START_TASK_RUN: [
        "legal_move",
        "outputs_only_at_the_end",
        "execution_not_finished",
        "execution_runnable",
        "retry_due",
    ],
    Move.MOVE_TASK_RUN: ["legal_move", "outputs_only_at_the_end", "execution_not_finished"],
    Move.RESUME_TASK_RUN: [
        "resuming_from_pause",
        "legal_move",
        "outputs_only_at_the_end",
        "execution_not_finished",
    ],
    Move.PAUSE_IN_EXECUTION: ["execution_not_finished"],
    Move.PAUSE_TASK_RUN: ["legal_move"],
    Move.MOVE_EXECUTION: [
        "legal_move",
        "outputs_only_at_the_end",
        "no_active_task_runs_at_the_end",
    ],
    Move.END_EXECUTION: [
        "end_state_requested",
        "legal_end",
        "outputs_only_at_the_end",
        "no_active_task_runs_at_the_end",
    ],
    Move.KILL_EXECUTION: ["legal_move"],
    Move.RESTART_EXECUTION: ["legal_move"],
    Move.PAUSE_EXECUTION: ["legal_move"],
    Move.RESUME_EXECUTION: ["resuming_from_pause"],
}


def test_every_move_declares_its_guards() -> None:
    assert set(GUARDS) == set(Move)
    assert {move: [g.name for g in guards_of(move)] for move in Move} == EXPECTED


def test_the_policy_orders_every_kind_once() -> None:
    assert sorted(POLICY, key=lambda k: k.value) == sorted(GuardKind, key=lambda k: k.value)
    assert len(set(POLICY)) == len(POLICY)


def test_every_move_runs_its_guards_in_policy_order() -> None:
    for move in Move:
        ranks = [POLICY.index(g.kind) for g in guards_of(move)]
        assert ranks == sorted(ranks), move


def _spy(kind: GuardKind, name: str, ran: list[str], *, refuse: bool = False) -> Guard:
    def check(_: Proposal) -> None:
        ran.append(name)
        if refuse:
            raise DomainError(name)

    check.__name__ = name
    return Guard(kind, check)


def test_guards_run_in_policy_order_whatever_the_declared_order() -> None:
    ran: list[str] = []
    declared = (
        _spy(GuardKind.TIMING, "timing", ran),
        _spy(GuardKind.EXECUTION, "execution 1", ran),
        _spy(GuardKind.ARGUMENTS, "arguments", ran),
        _spy(GuardKind.EXECUTION, "execution 2", ran),
        _spy(GuardKind.TRANSITION, "transition", ran),
    )
    apply_guards(
        Move.MOVE_TASK_RUN, Proposal(execution(), S.SUCCESS), table={Move.MOVE_TASK_RUN: declared}
    )
    # Kinds in policy order; one kind keeps its declared order.
    assert ran == ["arguments", "transition", "execution 1", "execution 2", "timing"]
    assert [g.name for g in in_policy_order(declared)] == ran


def test_the_first_guard_in_policy_order_that_refuses_wins_and_the_rest_do_not_run() -> None:
    ran: list[str] = []
    table = {
        Move.MOVE_TASK_RUN: (
            _spy(GuardKind.TASK_RUNS, "task runs", ran, refuse=True),
            _spy(GuardKind.PAYLOAD, "payload", ran, refuse=True),
            _spy(GuardKind.TRANSITION, "transition", ran),
        ),
        Move.START_TASK_RUN: (_spy(GuardKind.TIMING, "another move's", ran, refuse=True),),
    }
    with raises(DomainError) as info:
        apply_guards(Move.MOVE_TASK_RUN, Proposal(execution(), S.SUCCESS), table=table)
    assert str(info.value) == "payload"
    assert ran == ["transition", "payload"]


def test_a_guard_not_declared_for_a_move_does_not_run() -> None:
    # A paused execution: its running task run may end (MOVE_TASK_RUN has no
    # execution_runnable), a created one may not start (START_TASK_RUN has it).
    paused, running, created = execution(S.PAUSED), task_run(S.RUNNING), task_run(S.CREATED)
    apply_guards(Move.MOVE_TASK_RUN, Proposal(paused, S.SUCCESS, running))
    with raises(FailedPrecondition) as info:
        apply_guards(Move.START_TASK_RUN, Proposal(paused, S.RUNNING, created))
    assert info.value.reason == "EXECUTION_PAUSED"
    # A task run waiting for its retry may be killed (retry_due is a start's guard).
    waiting = task_run(S.RESTARTED)
    waiting.next_attempt_time_us = 10_000
    apply_guards(Move.MOVE_TASK_RUN, Proposal(execution(), S.KILLED, waiting, now_us=5))
    with raises(FailedPrecondition) as info:
        apply_guards(Move.START_TASK_RUN, Proposal(execution(), S.RUNNING, waiting, now_us=5))
    assert info.value.reason == "RETRY_NOT_DUE"
    # Creating a task run does not ask the transition table (it has no state yet).
    apply_guards(Move.CREATE_TASK_RUN, Proposal(execution(), S.SUCCESS, task_run(S.SUCCESS)))


def test_which_move_a_task_run_request_is() -> None:
    assert task_run_move(task_run(S.CREATED), S.RUNNING) is Move.START_TASK_RUN
    assert task_run_move(task_run(S.RESTARTED), S.RUNNING) is Move.START_TASK_RUN
    assert task_run_move(task_run(S.PAUSED), S.RUNNING) is Move.MOVE_TASK_RUN
    assert task_run_move(task_run(S.CREATED), S.FAILED) is Move.MOVE_TASK_RUN


def test_the_policy_decides_which_refusal_wins() -> None:
    # Outputs on a start in a paused execution: the payload is refused first.
    with raises(InvalidArgument):
        lifecycle.move_task_run(
            ChangeSet(execution(S.PAUSED), 10), task_run(), S.RUNNING, reason="", outputs={"a": 1}
        )
    # Completing in a non-terminal state an execution that has ended: the argument first.
    with raises(InvalidArgument):
        lifecycle.end_execution(
            ChangeSet(execution(S.SUCCESS), 10), [], state=S.RUNNING, reason="", outputs=None
        )
    # An illegal move of a task run in a finished execution: the table first ...
    with raises(InvalidTransition):
        lifecycle.move_task_run(
            ChangeSet(execution(S.SUCCESS), 10), task_run(S.SUCCESS), S.RUNNING, reason=""
        )
    # ... but a pause asks the execution it names first, then the task run.
    with raises(FailedPrecondition) as info:
        lifecycle.pause(
            ChangeSet(execution(S.SUCCESS), 10), task_run(S.SUCCESS), reason="",
            delay_us=None, timeout_us=None, action=lifecycle.PauseAction.RESUME,
        )  # fmt: skip
    assert info.value.reason == "EXECUTION_TERMINAL"


# -- subjects --------------------------------------------------------------------------


def _refusal(call: object) -> FailedPrecondition:
    assert callable(call)
    with raises(FailedPrecondition) as info:
        call()
    return info.value


def _sent_subject(error: FailedPrecondition) -> tuple[str, str]:
    """(type, subject) of the PreconditionFailure the client gets for ``error``."""
    status = status_for(error)
    (failure,) = [
        d for d in status.details if d.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR)
    ]
    unpacked = error_details_pb2.PreconditionFailure()
    failure.Unpack(unpacked)
    (violation,) = unpacked.violations
    return violation.type, violation.subject


def test_every_refusal_names_its_subject_in_the_precondition_failure() -> None:
    waiting = task_run(S.RESTARTED)
    waiting.next_attempt_time_us = 10_000
    cases = [
        (lambda: lifecycle.move_task_run(ChangeSet(execution(S.PAUSED), 10), task_run(), S.RUNNING, reason=""),
         ("EXECUTION_PAUSED", "executions/ex1")),
        (lambda: lifecycle.move_task_run(ChangeSet(execution(S.KILLING), 10), task_run(), S.RUNNING, reason=""),
         ("EXECUTION_KILLING", "executions/ex1")),
        (lambda: lifecycle.move_task_run(ChangeSet(execution(S.FAILED), 10), task_run(S.FAILED), S.RESTARTED, reason=""),
         ("EXECUTION_TERMINAL", "executions/ex1")),
        (lambda: lifecycle.move_task_run(ChangeSet(execution(), 10), task_run(), S.SUCCESS, reason=""),
         ("INVALID_TRANSITION", "taskRuns/tr1")),
        (lambda: lifecycle.move_task_run(ChangeSet(execution(), 5), waiting, S.RUNNING, reason=""),
         ("RETRY_NOT_DUE", "taskRuns/tr1")),
        (lambda: lifecycle.add_task_run(ChangeSet(execution(S.KILLING), 10), task_run()),
         ("EXECUTION_KILLING", "executions/ex1")),
        (lambda: lifecycle.change_execution_state(ChangeSet(execution(), 10), S.SUCCESS, reason="", active_task_runs=2),
         ("TASK_RUNS_ACTIVE", "executions/ex1")),
        (lambda: lifecycle.restart(ChangeSet(execution(), 10), [], reason=""),
         ("INVALID_TRANSITION", "executions/ex1")),
        (lambda: lifecycle.resume(ChangeSet(execution(), 10), None, reason=""),
         ("INVALID_TRANSITION", "executions/ex1")),
        (lambda: lifecycle.resume(ChangeSet(execution(), 10), task_run(S.RUNNING), reason=""),
         ("INVALID_TRANSITION", "taskRuns/tr1")),
    ]  # fmt: skip
    for call, expected in cases:
        error = _refusal(call)
        assert (error.reason, error.subject) == expected
        assert _sent_subject(error) == expected


def test_times_in_error_messages_are_iso_8601_utc() -> None:
    waiting = task_run(S.RESTARTED)
    waiting.next_attempt_time_us = 1_796_158_964_105_700
    with raises(FailedPrecondition) as info:
        apply_guards(Move.START_TASK_RUN, Proposal(execution(), S.RUNNING, waiting, now_us=5))
    assert str(info.value) == (
        f"task run {waiting.id} may start its next attempt at 2026-12-01T21:02:44.105700Z, "
        "not before"
    )
    assert info.value.metadata == {"next_attempt_time_us": "1796158964105700"}
    # The text protobuf's JSON gives the same instant as a Timestamp.
    for micros in (0, 1, 999, 1_000, 123_456_000, 1_796_158_964_105_000, 1_796_158_964_000_000):
        stamp = timestamp_pb2.Timestamp()
        stamp.FromMicroseconds(micros)
        assert iso_time(micros) == stamp.ToJsonString(), micros
    assert iso_time(1_796_158_964_123_000) == "2026-12-01T21:02:44.123Z"
