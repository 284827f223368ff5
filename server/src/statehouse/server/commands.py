"""The commands: load what a rule needs, let the rules decide, store the change.

Each function runs inside one write transaction (a :class:`Tx`), often beside
other requests' in one group commit (storage/store.py). They speak the domain's types; the servicers convert protos to the
arguments and the results back to protos.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from .orchestration import (
    SYSTEM,
    ChangeSet,
    DomainError,
    Execution,
    FailedPrecondition,
    InvalidArgument,
    JsonObject,
    NotFound,
    State,
    StateChange,
    TaskRun,
    Timer,
    TimerKind,
    UnreadableRecord,
    rules,
)
from .orchestration.metrics import MetricEntry, combine
from .orchestration.retry import RetryDecision
from .storage import Tx


def now_us() -> int:
    """The server's clock, in microseconds since the epoch (UTC)."""
    return time.time_ns() // 1_000


def new_id() -> str:
    return str(uuid.uuid4())


def load_execution(tx: Tx, execution_id: str, *, for_update: bool = True) -> Execution:
    execution = tx.get_execution(execution_id, for_update=for_update)
    if execution is None:
        raise NotFound("execution", execution_id)
    return execution


@dataclass(slots=True)
class NewExecution:
    namespace: str
    flow_id: str
    flow_revision: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    inputs: JsonObject | None = None
    parent_execution_id: str = ""


def create_execution(tx: Tx, spec: NewExecution, *, actor: str = SYSTEM) -> Execution:
    if spec.parent_execution_id and tx.get_execution(spec.parent_execution_id) is None:
        raise NotFound("execution", spec.parent_execution_id)
    t = now_us()
    execution = Execution(
        id=new_id(),
        namespace=spec.namespace,
        flow_id=spec.flow_id,
        flow_revision=spec.flow_revision,
        labels=dict(spec.labels),
        inputs=spec.inputs,
        parent_execution_id=spec.parent_execution_id,
        state=State.CREATED,
        history=[StateChange(State.CREATED, t, "created", actor)],
        revision=0,
        create_time_us=t,
        update_time_us=t,
    )
    changes = ChangeSet(execution, t, actor)
    changes.created_execution()
    changes.seal()
    tx.save(changes, new_execution=True)
    return execution


def delete_execution(tx: Tx, execution_id: str, expected_revision: int | None) -> None:
    """Delete a terminal execution, or one whose stored record (or a task run's)
    cannot be read, in any state: nothing else can be done with it."""
    try:
        execution = load_execution(tx, execution_id)
        if not execution.state.is_terminal:
            tx.list_task_runs(execution_id)
    except UnreadableRecord:
        tx.delete_execution(execution_id)
        return
    rules.check_expected_revision(execution, expected_revision)
    if not execution.state.is_terminal:
        raise FailedPrecondition(
            "EXECUTION_ACTIVE",
            f"execution {execution_id} is {execution.state.value}: only a terminal execution "
            "can be deleted (kill it first)",
            metadata={"execution_state": execution.state.value},
        )
    tx.delete_execution(execution_id)


@dataclass(slots=True)
class NewTaskRun:
    execution_id: str
    task_id: str
    parent_task_run_id: str = ""
    value: str = ""
    retry_policy: JsonObject | None = None


def create_task_run(
    tx: Tx, spec: NewTaskRun, expected_revision: int | None, *, actor: str = SYSTEM
) -> tuple[TaskRun, Execution]:
    execution = load_execution(tx, spec.execution_id)
    rules.check_expected_revision(execution, expected_revision)
    if spec.parent_task_run_id:
        parent = tx.get_task_run(spec.parent_task_run_id)
        if parent is None or parent.execution_id != execution.id:
            raise NotFound("task run", spec.parent_task_run_id)
    t = now_us()
    changes = ChangeSet(execution, t, actor)
    task_run = TaskRun(
        id=new_id(),
        execution_id=execution.id,
        task_id=spec.task_id,
        parent_task_run_id=spec.parent_task_run_id,
        value=spec.value,
        retry_policy=spec.retry_policy,
        state=State.CREATED,
        history=[StateChange(State.CREATED, t, "created", actor)],
        create_time_us=changes.now_us,
        update_time_us=changes.now_us,
    )
    rules.create_task_run(changes, task_run)
    changes.seal()
    tx.save(changes)
    return task_run, execution


def transition_execution(
    tx: Tx,
    execution_id: str,
    state: State,
    *,
    reason: str,
    outputs: JsonObject | None,
    expected_revision: int | None,
    kill_deadline_us: int,
    actor: str = SYSTEM,
) -> Execution:
    execution = load_full(tx, execution_id)
    rules.check_expected_revision(execution, expected_revision)
    changes = ChangeSet(execution, now_us(), actor)
    rules.move_execution_on_request(
        changes,
        execution.task_runs,
        state,
        reason=reason,
        outputs=outputs,
        deadline_us=changes.now_us + kill_deadline_us,
    )
    _save(tx, changes)
    return execution


def transition_task_run(
    tx: Tx,
    task_run_id: str,
    state: State,
    *,
    reason: str,
    worker_id: str,
    outputs: JsonObject | None,
    expected_revision: int | None,
    actor: str = SYSTEM,
) -> tuple[TaskRun, Execution, RetryDecision | None]:
    both = tx.lock_task_run(task_run_id)
    if both is None:
        raise NotFound("task run", task_run_id)
    task_run, execution = both
    rules.check_expected_revision(execution, expected_revision)
    changes = ChangeSet(execution, now_us(), actor)
    others = None
    if execution.state is State.KILLING and state.is_terminal:
        others = tx.count_active_task_runs(execution.id) - (1 if task_run.state.is_active else 0)
    decision = rules.transition_task_run(
        changes,
        task_run,
        state,
        reason=reason,
        worker_id=worker_id,
        outputs=outputs,
        other_active_task_runs=others,
    )
    _save(tx, changes)
    return task_run, execution, decision


# -- lifecycle -------------------------------------------------------------------


def load_full(tx: Tx, execution_id: str) -> Execution:
    """The execution, locked, with its task runs (what a cascade needs)."""
    execution = load_execution(tx, execution_id)
    execution.task_runs = tx.list_task_runs(execution_id)
    return execution


def _save(tx: Tx, changes: ChangeSet) -> None:
    if changes.changed:
        changes.seal()
        tx.save(changes)


def kill_execution(
    tx: Tx,
    execution_id: str,
    *,
    reason: str,
    expected_revision: int | None,
    deadline_us: int,
    actor: str = SYSTEM,
) -> tuple[Execution, bool]:
    execution = load_full(tx, execution_id)
    rules.check_expected_revision(execution, expected_revision)
    changes = ChangeSet(execution, now_us(), actor)
    changed = rules.kill_execution(
        changes,
        execution.task_runs,
        reason=reason or "killed on request",
        deadline_us=changes.now_us + deadline_us,
    )
    _save(tx, changes)
    return execution, changed


def restart_execution(
    tx: Tx,
    execution_id: str,
    *,
    reason: str,
    expected_revision: int | None,
    actor: str = SYSTEM,
) -> Execution:
    execution = load_full(tx, execution_id)
    rules.check_expected_revision(execution, expected_revision)
    changes = ChangeSet(execution, now_us(), actor)
    rules.restart_execution(changes, execution.task_runs, reason=reason or "restarted on request")
    _save(tx, changes)
    return execution


def pause_execution(
    tx: Tx,
    execution_id: str,
    *,
    task_run_id: str,
    reason: str,
    delay_us: int | None,
    timeout_us: int | None,
    action: str,
    expected_revision: int | None,
    actor: str = SYSTEM,
) -> tuple[Execution, int | None]:
    execution = load_full(tx, execution_id)
    rules.check_expected_revision(execution, expected_revision)
    task_run = _task_run_of(execution, task_run_id)
    changes = ChangeSet(execution, now_us(), actor)
    due = rules.pause(
        changes,
        task_run,
        reason=reason or "paused on request",
        delay_us=delay_us,
        timeout_us=timeout_us,
        action=action,
    )
    _save(tx, changes)
    return execution, due


def resume_execution(
    tx: Tx,
    execution_id: str,
    *,
    task_run_id: str,
    reason: str,
    expected_revision: int | None,
    actor: str = SYSTEM,
) -> Execution:
    execution = load_full(tx, execution_id)
    rules.check_expected_revision(execution, expected_revision)
    task_run = _task_run_of(execution, task_run_id)
    changes = ChangeSet(execution, now_us(), actor)
    rules.resume(changes, task_run, reason=reason or "resumed on request")
    _save(tx, changes)
    return execution


def complete_execution(
    tx: Tx,
    execution_id: str,
    *,
    state: State | None,
    outputs: JsonObject | None,
    reason: str,
    expected_revision: int | None,
    actor: str = SYSTEM,
) -> Execution:
    execution = load_full(tx, execution_id)
    rules.check_expected_revision(execution, expected_revision)
    changes = ChangeSet(execution, now_us(), actor)
    rules.complete_execution(
        changes, execution.task_runs, state=state, reason=reason or "completed", outputs=outputs
    )
    _save(tx, changes)
    return execution


def fire_timer(tx: Tx, timer: Timer, *, kill_deadline_us: int) -> bool:
    """Fire a due timer once: its deletion and its effect commit together."""
    if not tx.take_timer(timer.id):
        return False
    execution = load_full(tx, timer.execution_id)
    changes = ChangeSet(execution, now_us())
    try:
        if timer.kind == TimerKind.KILL_DEADLINE:
            rules.force_kill_at_deadline(changes, execution.task_runs)
        else:
            rules.fire_pause_timer(
                changes,
                timer,
                execution.task_runs,
                kill_deadline_us=changes.now_us + kill_deadline_us,
            )
    except DomainError:
        # The execution moved on in a way the timer cannot apply to: the timer is
        # spent (its deletion commits), nothing else changes.
        return True
    _save(tx, changes)
    return True


def _task_run_of(execution: Execution, task_run_id: str) -> TaskRun | None:
    if not task_run_id:
        return None
    for task_run in execution.task_runs:
        if task_run.id == task_run_id:
            return task_run
    raise NotFound("task run", task_run_id)


# -- metrics -----------------------------------------------------------------------


def record_metrics(tx: Tx, task_run_id: str, attempt: int, entries: list[MetricEntry]) -> int:
    """Store an attempt's metrics; entries with the same name, type and tags add up."""
    task_run = tx.get_task_run(task_run_id)
    if task_run is None:
        raise NotFound("task run", task_run_id)
    if not task_run.attempts:
        raise FailedPrecondition(
            "NO_ATTEMPT",
            f"task run {task_run_id} has not run yet: metrics belong to an attempt",
            metadata={"task_run_state": task_run.state.value},
        )
    if attempt > len(task_run.attempts):
        raise InvalidArgument(
            [("attempt", f"task run {task_run_id} has {len(task_run.attempts)} attempt(s)")]
        )
    execution = load_execution(tx, task_run.execution_id, for_update=False)
    combined = combine(entries)
    tx.record_metrics(
        task_run,
        attempt or task_run.attempts[-1].number,
        execution.namespace,
        execution.flow_id,
        combined,
        now_us(),
    )
    return len(entries)
