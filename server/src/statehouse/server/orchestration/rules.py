"""The orchestration rules: small named decisions applied on every path.

Each rule says why it exists. They work on the domain's types only (no gRPC,
no SQLAlchemy) so each can be tested without a database. The commands
(``statehouse.server.commands``) load what a rule needs, call it, and store
the resulting :class:`ChangeSet`.
"""

from __future__ import annotations

import random
import uuid

from . import retry
from .changes import ChangeSet
from .errors import FailedPrecondition, InvalidArgument, InvalidTransition, RevisionMismatch
from .model import Execution, JsonObject, PauseAction, StateChange, TaskRun, Timer, TimerKind
from .states import STARTABLE_STATES, State
from .transitions import Kind, check_transition, is_allowed


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
        with changes.by_system():
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
    if outputs is not None:
        execution.outputs = outputs
    if execution.state is State.PAUSED:
        changes.cancel_timers(task_run_id="", kind=TimerKind.PAUSE)
    changes.move_execution(requested, reason)
    if requested.is_terminal:
        changes.cancel_timers()


def reject_start_before_retry_is_due(changes: ChangeSet, task_run: TaskRun) -> None:
    """A task run waiting for a retry cannot start before its next_attempt_time."""
    due = task_run.next_attempt_time_us
    if task_run.state is State.RESTARTED and due is not None and changes.now_us < due:
        raise FailedPrecondition(
            "RETRY_NOT_DUE",
            f"task run {task_run.id} may start its next attempt at {due} us, not before",
            metadata={"next_attempt_time_us": str(due)},
        )


def retry_failed_attempts(
    changes: ChangeSet, task_run: TaskRun, rng: random.Random
) -> retry.RetryDecision:
    """A failed attempt with a retry policy that allows another one: the task run
    goes FAILED then RESTARTED with its next_attempt_time, in the same change.

    Not while the execution is being killed: the kill wins.
    """
    if changes.execution.state is State.KILLING:
        return retry.RetryDecision(False)
    decision = retry.decide_retry(task_run, changes.now_us, rng)
    if decision.scheduled:
        task_run.next_attempt_time_us = decision.next_attempt_time_us
        with changes.by_system():
            changes.move_task_run(
                task_run, State.RESTARTED, f"retry: attempt {decision.next_attempt} scheduled"
            )
    return decision


def transition_task_run(
    changes: ChangeSet,
    task_run: TaskRun,
    requested: State,
    *,
    reason: str,
    worker_id: str = "",
    outputs: JsonObject | None = None,
    other_active_task_runs: int | None = None,
    rng: random.Random | None = None,
) -> retry.RetryDecision | None:
    """Move a task run by request, with its attempt and, if it starts, its execution.

    ``other_active_task_runs`` (the execution's active task runs besides this
    one) lets a KILLING execution finish when its last task run ends.
    Returns the retry decision when the task run failed with a retry policy.
    """
    execution = changes.execution
    check_transition(Kind.TASK_RUN, task_run.state, requested)
    reject_outputs_unless_terminal(requested, outputs)
    reject_work_in_finished_execution(execution)
    starting = requested is State.RUNNING and task_run.state in STARTABLE_STATES
    if starting:
        reject_start_unless_execution_runnable(execution, task_run)
        reject_start_before_retry_is_due(changes, task_run)
    if retry.succeeded_after_retries(task_run, requested):
        requested = State.WARNING
        reason = reason or f"succeeded after {len(task_run.attempts)} attempts"
    if outputs is not None:
        task_run.outputs = outputs
    leaving_pause = task_run.state is State.PAUSED
    attempt_follows_task_run(changes, task_run, requested, reason, worker_id)
    if leaving_pause:
        changes.cancel_timers(task_run_id=task_run.id, kind=TimerKind.PAUSE)
    if starting:
        start_execution_with_task_run(changes, task_run)
    decision = None
    if requested is State.FAILED and task_run.retry_policy:
        decision = retry_failed_attempts(changes, task_run, rng or random.Random())
    if task_run.state.is_terminal and other_active_task_runs is not None:
        finish_kill_when_no_task_run_active(changes, other_active_task_runs)
    return decision


def create_task_run(changes: ChangeSet, task_run: TaskRun) -> None:
    """Add a CREATED task run to a live execution."""
    reject_create_in_finished_execution(changes.execution)
    reason = task_run.history[0].reason
    task_run.history = [StateChange(State.CREATED, changes.now_us, reason, changes.actor)]
    changes.created_task_run(task_run)


# -- lifecycle: kill, restart, pause, resume, retries, completion ----------------


def _timer_id() -> str:
    return str(uuid.uuid4())


def end_task_run(changes: ChangeSet, task_run: TaskRun, target: State, reason: str) -> None:
    """End an active task run in ``target`` if the table allows it, else in KILLED.

    KILLED is reachable from every active state, so a cascade never has to
    break the transition table.
    """
    if task_run.state.is_terminal:
        return
    state = target if is_allowed(Kind.TASK_RUN, task_run.state, target) else State.KILLED
    attempt_follows_task_run(changes, task_run, state, reason, "")
    changes.cancel_timers(task_run_id=task_run.id)


def cascade_kill_to_task_runs(changes: ChangeSet, task_runs: list[TaskRun], reason: str) -> int:
    """A kill reaches every task run: those not running end KILLED at once, running
    ones go KILLING until their worker reports KILLED (or the deadline passes).

    Returns how many task runs are still being killed.
    """
    killing = 0
    with changes.by_system():
        for task_run in task_runs:
            if task_run.state in (State.CREATED, State.RESTARTED, State.PAUSED):
                end_task_run(changes, task_run, State.KILLED, reason)
            elif task_run.state is State.RUNNING:
                attempt_follows_task_run(changes, task_run, State.KILLING, reason, "")
                killing += 1
            elif task_run.state is State.KILLING:
                killing += 1
    return killing


def finish_kill_when_no_task_run_active(changes: ChangeSet, active_task_runs: int) -> None:
    """A KILLING execution becomes KILLED by itself once no task run is active.

    Without this an execution whose last task run reports KILLED would stay in
    KILLING forever (a known failure of orchestrators).
    """
    if changes.execution.state is State.KILLING and active_task_runs == 0:
        with changes.by_system():
            changes.move_execution(State.KILLED, "no task run left active")
        changes.cancel_timers()


def kill_execution(
    changes: ChangeSet, task_runs: list[TaskRun], *, reason: str, deadline_us: int
) -> bool:
    """Two-phase, cascading kill. Returns False when nothing changed (terminal or
    already being killed: killing twice is harmless)."""
    execution = changes.execution
    if execution.state.is_terminal or execution.state is State.KILLING:
        return False
    check_transition(Kind.EXECUTION, execution.state, State.KILLING)
    changes.move_execution(State.KILLING, reason)
    changes.cancel_timers(kind=TimerKind.PAUSE)
    killing = cascade_kill_to_task_runs(changes, task_runs, reason)
    if killing:
        changes.schedule(Timer(_timer_id(), execution.id, TimerKind.KILL_DEADLINE, deadline_us))
    finish_kill_when_no_task_run_active(changes, killing)
    return True


def force_kill_at_deadline(changes: ChangeSet, task_runs: list[TaskRun]) -> None:
    """When the kill deadline passes, task runs still running or being killed are
    forced to KILLED, and the execution with them: a kill always ends."""
    if changes.execution.state is not State.KILLING:
        return
    reason = "kill deadline passed: forced to KILLED"
    for task_run in task_runs:
        end_task_run(changes, task_run, State.KILLED, reason)
    finish_kill_when_no_task_run_active(changes, 0)


def restart_execution(changes: ChangeSet, task_runs: list[TaskRun], *, reason: str) -> None:
    """A FAILED or KILLED execution starts again: failed and killed task runs go
    RESTARTED (their next start opens attempt N+1), succeeded ones are kept."""
    execution = changes.execution
    check_transition(Kind.EXECUTION, execution.state, State.RESTARTED)
    execution.restart_count += 1
    changes.move_execution(State.RESTARTED, reason)
    with changes.by_system():
        for task_run in task_runs:
            if task_run.state in (State.FAILED, State.KILLED):
                task_run.next_attempt_time_us = None
                changes.move_task_run(task_run, State.RESTARTED, reason)


def pause(
    changes: ChangeSet,
    task_run: TaskRun | None,
    *,
    reason: str,
    delay_us: int | None,
    timeout_us: int | None,
    action: str,
) -> int | None:
    """Pause the execution (or one of its task runs), with an optional durable timer:
    a delay resumes by itself, a timeout applies ``action``. Returns when it fires."""
    execution = changes.execution
    if task_run is None:
        check_transition(Kind.EXECUTION, execution.state, State.PAUSED)
        changes.move_execution(State.PAUSED, reason)
    else:
        reject_work_in_finished_execution(execution)
        check_transition(Kind.TASK_RUN, task_run.state, State.PAUSED)
        attempt_follows_task_run(changes, task_run, State.PAUSED, reason, "")
    wait = delay_us if delay_us is not None else timeout_us
    if wait is None:
        return None
    due = changes.now_us + wait
    changes.schedule(
        Timer(
            _timer_id(),
            execution.id,
            TimerKind.PAUSE,
            due,
            action=PauseAction.DELAY if delay_us is not None else action,
            task_run_id=task_run.id if task_run else "",
        )
    )
    return due


def resume(changes: ChangeSet, task_run: TaskRun | None, *, reason: str) -> None:
    """Resume a paused execution (or task run) and cancel its timer, so that a timer
    never fires after a manual resume."""
    execution = changes.execution
    if task_run is None:
        if execution.state is not State.PAUSED:
            raise InvalidTransition(Kind.EXECUTION.value, execution.state, State.RUNNING)
        changes.move_execution(State.RUNNING, reason)
        changes.cancel_timers(task_run_id="", kind=TimerKind.PAUSE)
    else:
        if task_run.state is not State.PAUSED:
            raise InvalidTransition(Kind.TASK_RUN.value, task_run.state, State.RUNNING)
        transition_task_run(changes, task_run, State.RUNNING, reason=reason)


def fire_pause_timer(
    changes: ChangeSet, timer: Timer, task_runs: list[TaskRun], *, kill_deadline_us: int
) -> None:
    """A pause's delay or timeout has passed: apply its action.

    On a task run: RESUME, WARN, FAIL and KILL move it to RUNNING, WARNING,
    FAILED and KILLED. On the execution: RESUME runs it again, KILL kills it,
    WARN and FAIL end its active task runs (in that state where the table
    allows, else KILLED) and then the execution itself.
    """
    execution = changes.execution
    reason = f"pause {'delay' if timer.action == PauseAction.DELAY else 'timeout'} elapsed"
    targets = {
        PauseAction.DELAY: State.RUNNING,
        PauseAction.RESUME: State.RUNNING,
        PauseAction.WARN: State.WARNING,
        PauseAction.FAIL: State.FAILED,
        PauseAction.KILL: State.KILLED,
    }
    if timer.task_run_id:
        task_run = next((t for t in task_runs if t.id == timer.task_run_id), None)
        if task_run is None or task_run.state is not State.PAUSED:
            return
        transition_task_run(changes, task_run, targets[timer.action], reason=reason)
        return
    if execution.state is not State.PAUSED:
        return
    if targets[timer.action] is State.RUNNING:
        resume(changes, None, reason=reason)
    elif timer.action == PauseAction.KILL:
        kill_execution(changes, task_runs, reason=reason, deadline_us=kill_deadline_us)
    else:
        target = targets[timer.action]
        with changes.by_system():
            for task_run in task_runs:
                end_task_run(changes, task_run, target, reason)
        changes.move_execution(target, reason)
        changes.cancel_timers()


def derive_final_state(task_runs: list[TaskRun]) -> State:
    """KILLED over FAILED over WARNING over SUCCESS; SUCCESS with no task run."""
    states = {t.state for t in task_runs}
    for state in (State.KILLED, State.FAILED, State.WARNING):
        if state in states:
            return state
    return State.SUCCESS


def complete_execution(
    changes: ChangeSet,
    task_runs: list[TaskRun],
    *,
    state: State | None,
    reason: str,
    outputs: JsonObject | None,
) -> None:
    """End an execution whose task runs have all ended, in ``state`` or the state
    derived from them. An execution reaches KILLED only through KILLING, so a
    derived KILLED records both steps."""
    execution = changes.execution
    target = state or derive_final_state(task_runs)
    if not target.is_terminal:
        raise InvalidArgument([("state", "must be a terminal state (or unset to derive it)")])
    active = sum(1 for t in task_runs if t.state.is_active)
    if target is State.KILLED and execution.state is not State.KILLING:
        check_transition(Kind.EXECUTION, execution.state, State.KILLING)
        reject_terminal_while_task_runs_active(execution, target, active)
        changes.move_execution(State.KILLING, reason)
    transition_execution(changes, target, reason=reason, active_task_runs=active, outputs=outputs)
    changes.cancel_timers()


def move_execution_on_request(
    changes: ChangeSet,
    task_runs: list[TaskRun],
    requested: State,
    *,
    reason: str,
    outputs: JsonObject | None,
    deadline_us: int,
) -> None:
    """TransitionExecution: a plain move, except where a state has a lifecycle
    behind it. Entering KILLING kills (with the cascade), RESTARTED restarts,
    RUNNING from PAUSED resumes (cancelling the pause's timer): one path per
    meaning, whichever RPC asks for it."""
    execution = changes.execution
    check_transition(Kind.EXECUTION, execution.state, requested)
    reject_outputs_unless_terminal(requested, outputs)
    if requested is State.KILLING:
        kill_execution(changes, task_runs, reason=reason, deadline_us=deadline_us)
    elif requested is State.RESTARTED:
        restart_execution(changes, task_runs, reason=reason)
    elif requested is State.RUNNING and execution.state is State.PAUSED:
        resume(changes, None, reason=reason)
    else:
        active = sum(1 for t in task_runs if t.state.is_active)
        transition_execution(
            changes, requested, reason=reason, active_task_runs=active, outputs=outputs
        )
