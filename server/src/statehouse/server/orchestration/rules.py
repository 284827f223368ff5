"""The orchestration rules: small named decisions applied on every path.

Each rule says why it exists. They work on the domain's types only (no gRPC,
no SQLAlchemy) so each can be tested without a database. The commands
(``statehouse.server.commands``) load what a rule needs, call it, and store
the resulting :class:`ChangeSet`.
"""

from __future__ import annotations

from .changes import ChangeSet
from .errors import FailedPrecondition, InvalidArgument, RevisionMismatch
from .model import Execution, JsonObject, StateChange, TaskRun
from .states import STARTABLE_STATES, State
from .transitions import Kind, check_transition


def check_expected_revision(execution: Execution, expected: int | None) -> None:
    """Optimistic concurrency (AIP-154): the caller saw this revision, or nothing."""
    if expected is not None and expected != execution.revision:
        raise RevisionMismatch(expected, execution.revision)


def reject_terminal_while_task_runs_active(
    execution: Execution, requested: State, active_task_runs: int
) -> None:
    """Invariant 2: a terminal execution never has a non-terminal task run.

    An execution may only end once every task run has ended.
    """
    if requested.is_terminal and active_task_runs > 0:
        raise FailedPrecondition(
            "TASK_RUNS_ACTIVE",
            f"execution {execution.id} has {active_task_runs} active task run(s); "
            f"it cannot go to {requested.value} before they end",
            metadata={"active_task_runs": str(active_task_runs)},
        )


def reject_work_in_finished_execution(execution: Execution) -> None:
    """Task runs belong to a live execution.

    Creating or moving a task run of a terminal execution would break invariant
    2 (a restart goes through RestartExecution instead); an execution being
    killed accepts no new work.
    """
    if execution.state.is_terminal:
        raise FailedPrecondition(
            "EXECUTION_TERMINAL",
            f"execution {execution.id} is {execution.state.value}: its task runs cannot change",
            metadata={"execution_state": execution.state.value},
        )


def reject_start_unless_execution_runnable(execution: Execution, task_run: TaskRun) -> None:
    """No task run may start while its execution is paused or being killed.

    Resuming a paused task run is not a start, so it is allowed.
    """
    if execution.state is State.PAUSED:
        raise FailedPrecondition(
            "EXECUTION_PAUSED",
            f"execution {execution.id} is PAUSED: task run {task_run.id} cannot start",
            metadata={"execution_state": execution.state.value},
        )
    if execution.state is State.KILLING:
        raise FailedPrecondition(
            "EXECUTION_KILLING",
            f"execution {execution.id} is being killed: task run {task_run.id} cannot start",
            metadata={"execution_state": execution.state.value},
        )


def reject_outputs_unless_terminal(requested: State, outputs: JsonObject | None) -> None:
    """Outputs are written with the transition that ends the object, and only then."""
    if outputs is not None and not requested.is_terminal:
        raise InvalidArgument([("outputs", "are accepted only with a terminal state")])


def reject_create_in_finished_execution(execution: Execution) -> None:
    """New task runs join only an execution that can still run them."""
    reject_work_in_finished_execution(execution)
    if execution.state is State.KILLING:
        raise FailedPrecondition(
            "EXECUTION_KILLING",
            f"execution {execution.id} is being killed: it accepts no new task run",
            metadata={"execution_state": execution.state.value},
        )


def start_execution_with_task_run(changes: ChangeSet, task_run: TaskRun) -> None:
    """A task run entering RUNNING moves a CREATED or RESTARTED execution to RUNNING.

    Workers start task runs; the execution is running as soon as one of them
    is, in the same transaction, so no reader sees a running task run in an
    execution that has not started.
    """
    if changes.execution.state in STARTABLE_STATES:
        changes.move_execution(State.RUNNING, f"task run {task_run.task_id} started")


def attempt_follows_task_run(
    changes: ChangeSet, task_run: TaskRun, requested: State, reason: str, worker_id: str
) -> None:
    """Attempts mirror their task run (invariant 3).

    Entering RUNNING from CREATED or RESTARTED opens attempt N+1; PAUSED and
    back to RUNNING continue the same attempt; SUCCESS, WARNING, FAILED and
    KILLED close it. KILLING leaves the attempt RUNNING until the worker
    reports the kill. A task run that never ran (CREATED -> FAILED) has no
    attempt to move.
    """
    if requested is State.RUNNING and task_run.state in STARTABLE_STATES:
        opened = changes.open_attempt(task_run, worker_id)
        task_run.next_attempt_time_us = None
        changes.move_task_run(task_run, requested, reason, opened)
        return
    last = task_run.last_attempt
    if last is None or not last.state.is_active:
        changes.move_task_run(task_run, requested, reason)
    else:
        follows = requested is not State.KILLING
        changes.move_task_run(task_run, requested, reason, last, attempt_follows=follows)


def transition_execution(
    changes: ChangeSet,
    requested: State,
    *,
    reason: str,
    active_task_runs: int,
    outputs: JsonObject | None = None,
) -> None:
    """Move an execution by request, with the checks every such move needs."""
    execution = changes.execution
    check_transition(Kind.EXECUTION, execution.state, requested)
    reject_outputs_unless_terminal(requested, outputs)
    reject_terminal_while_task_runs_active(execution, requested, active_task_runs)
    if requested is State.RESTARTED:
        execution.restart_count += 1
    if outputs is not None:
        execution.outputs = outputs
    changes.move_execution(requested, reason)


def transition_task_run(
    changes: ChangeSet,
    task_run: TaskRun,
    requested: State,
    *,
    reason: str,
    worker_id: str = "",
    outputs: JsonObject | None = None,
) -> None:
    """Move a task run by request, with its attempt and, if it starts, its execution."""
    execution = changes.execution
    check_transition(Kind.TASK_RUN, task_run.state, requested)
    reject_outputs_unless_terminal(requested, outputs)
    reject_work_in_finished_execution(execution)
    starting = requested is State.RUNNING and task_run.state in STARTABLE_STATES
    if starting:
        reject_start_unless_execution_runnable(execution, task_run)
    if outputs is not None:
        task_run.outputs = outputs
    attempt_follows_task_run(changes, task_run, requested, reason, worker_id)
    if starting:
        start_execution_with_task_run(changes, task_run)


def create_task_run(changes: ChangeSet, task_run: TaskRun) -> None:
    """Add a CREATED task run to a live execution."""
    reject_create_in_finished_execution(changes.execution)
    task_run.history = [StateChange(State.CREATED, changes.now_us, task_run.history[0].reason)]
    changes.created_task_run(task_run)
