"""The lifecycle procedures: what moves, and what else moves with it.

Each procedure first applies the guards of its move (``guards.py``: which
ones, and in which order, is declared there as data), then records the moves
in the :class:`ChangeSet`: attempts following their task run, an execution
starting with its first task run, the kill cascade, restart, pause and its
timers, retries, completion. They work on the domain's types only (no gRPC,
no SQLAlchemy) and draw no time, ids or randomness of their own: those come
with the change set (``docs/design.md`` §"Orchestration"). The commands
(``statehouse.server.commands``) load what a procedure needs, call it, and
store the resulting change.

Why one file of about 500 lines: the procedures call one another (a task run's
move may start its execution, end it, retry it or finish a kill), so the
lifecycle reads as one piece; the guards, the retry policies, the leases and
the deadlines are modules of their own.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from .changes import ChangeSet
from .errors import DomainError
from .guards import Move, Proposal, apply_guards, task_run_move
from .model import Execution, JsonObject, PauseAction, StateChange, TaskRun, Timer, TimerKind
from .retry import interval_us
from .states import STARTABLE_STATES, State
from .transitions import Kind, is_allowed

# -- task runs -----------------------------------------------------------------------


def add_task_run(changes: ChangeSet, task_run: TaskRun) -> None:
    """Add a CREATED task run to a live execution."""
    apply_guards(Move.CREATE_TASK_RUN, Proposal(changes.execution, State.CREATED, task_run))
    reason = task_run.history[0].reason
    task_run.history = [StateChange(State.CREATED, changes.now_us, reason, changes.actor)]
    changes.created_task_run(task_run)


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
        if task_run.attempt_timeout_us is not None:
            time_attempt(changes, task_run, opened.number)
        return
    last = task_run.last_attempt
    if last is None or not last.state.is_active:
        changes.move_task_run(task_run, requested, reason)
    else:
        follows = requested is not State.KILLING
        changes.move_task_run(task_run, requested, reason, last, attempt_follows=follows)
        if follows and requested.is_terminal and last.lease_us is not None:
            # An ended attempt holds no lease: its timer must never fire.
            changes.cancel_timers(task_run_id=task_run.id, kind=TimerKind.LEASE)
            last.lease_expire_time_us = None
        if follows and requested.is_terminal and task_run.attempt_timeout_us is not None:
            changes.cancel_timers(task_run_id=task_run.id, kind=TimerKind.ATTEMPT_TIMEOUT)


def attempt_timeout_timer_id(task_run_id: str, attempt: int) -> str:
    """The id of the timeout timer of one attempt (``deadlines.py``)."""
    return f"timeout:{task_run_id}:{attempt}"


def time_attempt(changes: ChangeSet, task_run: TaskRun, attempt: int) -> None:
    """The attempt just opened must end within its task run's attempt timeout:
    a timer, cancelled when the attempt ends (``deadlines.expire_attempt_timeout``)."""
    assert task_run.attempt_timeout_us is not None
    changes.schedule(
        Timer(
            attempt_timeout_timer_id(task_run.id, attempt),
            changes.execution.id,
            TimerKind.ATTEMPT_TIMEOUT,
            changes.now_us + task_run.attempt_timeout_us,
            task_run_id=task_run.id,
        )
    )


# -- retries: what follows a failed attempt, given its task run's policy ---------------


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What the server decided for a failed attempt."""

    scheduled: bool
    next_attempt: int = 0
    next_attempt_time_us: int = 0


def decide_retry(task_run: TaskRun, now_us: int, rng: random.Random) -> RetryDecision:
    """Whether the task run's latest failed attempt gets another one, and when.

    No retry past ``max_attempts`` attempts, nor when the next attempt would
    start more than ``max_duration`` after the first one started.
    """
    policy = task_run.retry_policy
    if policy is None or not task_run.attempts:
        return RetryDecision(False)
    done = len(task_run.attempts)
    if done >= policy.max_attempts:
        return RetryDecision(False)
    due = now_us + interval_us(policy, done, rng)
    limit = policy.max_duration_us
    first_start = task_run.attempts[0].history[0].time_us
    if limit and due - first_start > limit:
        return RetryDecision(False)
    return RetryDecision(True, done + 1, due)


def succeeded_after_retries(task_run: TaskRun, requested: State) -> bool:
    """A success after one or more retries ends in WARNING if the policy says so."""
    policy = task_run.retry_policy
    return (
        requested is State.SUCCESS
        and policy is not None
        and policy.warning_on_retry
        and len(task_run.attempts) > 1
    )


def retry_failed_attempt(changes: ChangeSet, task_run: TaskRun) -> RetryDecision:
    """A failed attempt with a retry policy that allows another one: the task run
    goes FAILED then RESTARTED with its next_attempt_time, in the same change.

    A kill never meets a retry: a task run of a KILLING execution is KILLING or
    ended, and neither may go to FAILED (the transition table refuses it first).
    """
    decision = decide_retry(task_run, changes.now_us, changes.rng)
    if decision.scheduled:
        task_run.next_attempt_time_us = decision.next_attempt_time_us
        with changes.by_system():
            changes.move_task_run(
                task_run, State.RESTARTED, f"retry: attempt {decision.next_attempt} scheduled"
            )
    return decision


def move_task_run(
    changes: ChangeSet,
    task_run: TaskRun,
    requested: State,
    *,
    reason: str,
    worker_id: str = "",
    outputs: JsonObject | None = None,
    other_active_task_runs: int | None = None,
    move: Move | None = None,
) -> RetryDecision | None:
    """Move a task run by request, with its attempt and, if it starts, its execution.

    ``move`` names whose guards apply (default: :func:`task_run_move` tells);
    ``other_active_task_runs`` (the execution's active task runs besides this
    one) lets a KILLING execution finish when its last task run ends.
    Returns the retry decision when the task run failed with a retry policy.
    """
    proposal = Proposal(changes.execution, requested, task_run, outputs, now_us=changes.now_us)
    apply_guards(move or task_run_move(task_run, requested), proposal)
    starting = requested is State.RUNNING and task_run.state in STARTABLE_STATES
    if succeeded_after_retries(task_run, requested):
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
    if requested is State.FAILED and task_run.retry_policy is not None:
        decision = retry_failed_attempt(changes, task_run)
    if task_run.state.is_terminal and other_active_task_runs is not None:
        finish_kill_when_no_task_run_active(changes, other_active_task_runs)
    return decision


# -- executions ----------------------------------------------------------------------


def _active(task_runs: list[TaskRun]) -> int:
    return sum(1 for t in task_runs if t.state.is_active)


def change_execution_state(
    changes: ChangeSet,
    requested: State,
    *,
    reason: str,
    active_task_runs: int,
    outputs: JsonObject | None = None,
) -> None:
    """A plain move of the execution (no lifecycle behind it), with its guards."""
    proposal = Proposal(
        changes.execution, requested, outputs=outputs, active_task_runs=active_task_runs
    )
    apply_guards(Move.MOVE_EXECUTION, proposal)
    _record_execution_move(changes, requested, reason, outputs)


def _record_execution_move(
    changes: ChangeSet, requested: State, reason: str, outputs: JsonObject | None
) -> None:
    execution = changes.execution
    if outputs is not None:
        execution.outputs = outputs
    if execution.state is State.PAUSED:
        changes.cancel_timers(task_run_id="", kind=TimerKind.PAUSE)
    changes.move_execution(requested, reason)
    if requested.is_terminal:
        changes.cancel_timers()


def move_execution(
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
    proposal = Proposal(execution, requested, outputs=outputs, active_task_runs=_active(task_runs))
    apply_guards(Move.MOVE_EXECUTION, proposal)
    if requested is State.KILLING:
        start_kill(changes, task_runs, reason=reason, deadline_us=deadline_us)
    elif requested is State.RESTARTED:
        restart(changes, task_runs, reason=reason)
    elif requested is State.RUNNING and execution.state is State.PAUSED:
        resume(changes, None, reason=reason)
    else:
        _record_execution_move(changes, requested, reason, outputs)


def derive_final_state(task_runs: list[TaskRun]) -> State:
    """KILLED over FAILED over WARNING over SUCCESS; SUCCESS with no task run."""
    states = {t.state for t in task_runs}
    for state in (State.KILLED, State.FAILED, State.WARNING):
        if state in states:
            return state
    return State.SUCCESS


def end_execution(
    changes: ChangeSet,
    task_runs: list[TaskRun],
    *,
    state: State | None,
    reason: str,
    outputs: JsonObject | None,
) -> None:
    """CompleteExecution: end an execution whose task runs have all ended, in
    ``state`` or the state derived from them. An execution reaches KILLED only
    through KILLING, so a derived KILLED records both steps."""
    execution = changes.execution
    target = state or derive_final_state(task_runs)
    proposal = Proposal(execution, target, outputs=outputs, active_task_runs=_active(task_runs))
    apply_guards(Move.END_EXECUTION, proposal)
    if target is State.KILLED and execution.state is not State.KILLING:
        changes.move_execution(State.KILLING, reason)
    _record_execution_move(changes, target, reason, outputs)
    changes.cancel_timers()


# -- kill, restart, pause, resume, timers ------------------------------------------------


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


def start_kill(
    changes: ChangeSet, task_runs: list[TaskRun], *, reason: str, deadline_us: int
) -> bool:
    """Two-phase, cascading kill: the execution goes KILLING, its task runs with it,
    and a deadline is set for those still running. Returns False when nothing
    changed (terminal or already being killed: killing twice is harmless)."""
    execution = changes.execution
    if execution.state.is_terminal or execution.state is State.KILLING:
        return False
    apply_guards(Move.KILL_EXECUTION, Proposal(execution, State.KILLING))
    changes.move_execution(State.KILLING, reason)
    changes.cancel_timers(kind=TimerKind.PAUSE)
    killing = cascade_kill_to_task_runs(changes, task_runs, reason)
    if killing:
        changes.schedule(
            Timer(changes.new_id(), execution.id, TimerKind.KILL_DEADLINE, deadline_us)
        )
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


def restart(changes: ChangeSet, task_runs: list[TaskRun], *, reason: str) -> None:
    """A FAILED or KILLED execution starts again: failed and killed task runs go
    RESTARTED (their next start opens attempt N+1), succeeded ones are kept."""
    execution = changes.execution
    apply_guards(Move.RESTART_EXECUTION, Proposal(execution, State.RESTARTED))
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
    action: PauseAction,
) -> int | None:
    """Pause the execution (or one of its task runs), with an optional durable timer:
    a delay resumes by itself, a timeout applies ``action``. Returns when it fires.

    A pause names its execution: for a task run, the execution is asked first
    (``Move.PAUSE_IN_EXECUTION``), then the task run (``Move.PAUSE_TASK_RUN``).
    """
    execution = changes.execution
    if task_run is None:
        apply_guards(Move.PAUSE_EXECUTION, Proposal(execution, State.PAUSED))
        changes.move_execution(State.PAUSED, reason)
    else:
        proposal = Proposal(execution, State.PAUSED, task_run)
        apply_guards(Move.PAUSE_IN_EXECUTION, proposal)
        apply_guards(Move.PAUSE_TASK_RUN, proposal)
        attempt_follows_task_run(changes, task_run, State.PAUSED, reason, "")
    wait = delay_us if delay_us is not None else timeout_us
    if wait is None:
        return None
    due = changes.now_us + wait
    changes.schedule(
        Timer(
            changes.new_id(),
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
        apply_guards(Move.RESUME_EXECUTION, Proposal(execution, State.RUNNING))
        changes.move_execution(State.RUNNING, reason)
        changes.cancel_timers(task_run_id="", kind=TimerKind.PAUSE)
    else:
        move_task_run(changes, task_run, State.RUNNING, reason=reason, move=Move.RESUME_TASK_RUN)


#: The requests an operator makes of a whole execution (PauseExecution,
#: ResumeExecution, KillExecution, RestartExecution; the procedures above), and
#: the state each asks for.
EXECUTION_REQUESTS: Mapping[Move, State] = {
    Move.PAUSE_EXECUTION: State.PAUSED,
    Move.RESUME_EXECUTION: State.RUNNING,
    Move.KILL_EXECUTION: State.KILLING,
    Move.RESTART_EXECUTION: State.RESTARTED,
}


def execution_requests(state: State) -> tuple[Move, ...]:
    """The requests of :data:`EXECUTION_REQUESTS` that move an execution in
    ``state``, by the guards of each (the transition table; only what is PAUSED
    resumes): the buttons the web console offers. A kill of an execution being
    killed or ended changes nothing, so it is not among them. The console's copy
    is generated from this (``tools/gen_console_moves.py``)."""
    probe = Execution("", "", "", state, [], 0, 0, 0)
    allowed = []
    for move, requested in EXECUTION_REQUESTS.items():
        try:
            apply_guards(move, Proposal(probe, requested))
        except DomainError:
            continue
        allowed.append(move)
    return tuple(allowed)


#: Where a pause timer's action takes what it paused.
_PAUSE_TARGETS = {
    PauseAction.DELAY: State.RUNNING,
    PauseAction.RESUME: State.RUNNING,
    PauseAction.WARN: State.WARNING,
    PauseAction.FAIL: State.FAILED,
    PauseAction.KILL: State.KILLED,
}


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
    reason = f"pause {'delay' if timer.action is PauseAction.DELAY else 'timeout'} elapsed"
    if timer.task_run_id:
        task_run = next((t for t in task_runs if t.id == timer.task_run_id), None)
        if task_run is None or task_run.state is not State.PAUSED:
            return
        move_task_run(changes, task_run, _PAUSE_TARGETS[PauseAction(timer.action)], reason=reason)
        return
    if execution.state is not State.PAUSED:
        return
    target = _PAUSE_TARGETS[PauseAction(timer.action)]
    if target is State.RUNNING:
        resume(changes, None, reason=reason)
    elif timer.action is PauseAction.KILL:
        start_kill(changes, task_runs, reason=reason, deadline_us=kill_deadline_us)
    else:
        with changes.by_system():
            for task_run in task_runs:
                end_task_run(changes, task_run, target, reason)
        changes.move_execution(target, reason)
        changes.cancel_timers()
