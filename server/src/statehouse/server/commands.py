"""The commands: load what a rule needs, let the rules decide, store the change.

Each function runs inside one write transaction (a :class:`Tx`) on a storage
thread. They speak the domain's types; the servicers convert protos to the
arguments and the results back to protos.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from .orchestration import (
    ChangeSet,
    Execution,
    FailedPrecondition,
    JsonObject,
    NotFound,
    State,
    StateChange,
    TaskRun,
    rules,
)
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


def create_execution(tx: Tx, spec: NewExecution) -> Execution:
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
        history=[StateChange(State.CREATED, t, "created")],
        revision=0,
        create_time_us=t,
        update_time_us=t,
    )
    changes = ChangeSet(execution, t)
    changes.created_execution()
    changes.seal()
    tx.save(changes, new_execution=True)
    return execution


def delete_execution(tx: Tx, execution_id: str, expected_revision: int | None) -> None:
    execution = load_execution(tx, execution_id)
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
    tx: Tx, spec: NewTaskRun, expected_revision: int | None
) -> tuple[TaskRun, Execution]:
    execution = load_execution(tx, spec.execution_id)
    rules.check_expected_revision(execution, expected_revision)
    if spec.parent_task_run_id:
        parent = tx.get_task_run(spec.parent_task_run_id)
        if parent is None or parent.execution_id != execution.id:
            raise NotFound("task run", spec.parent_task_run_id)
    t = now_us()
    changes = ChangeSet(execution, t)
    task_run = TaskRun(
        id=new_id(),
        execution_id=execution.id,
        task_id=spec.task_id,
        parent_task_run_id=spec.parent_task_run_id,
        value=spec.value,
        retry_policy=spec.retry_policy,
        state=State.CREATED,
        history=[StateChange(State.CREATED, t, "created")],
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
) -> Execution:
    execution = load_execution(tx, execution_id)
    rules.check_expected_revision(execution, expected_revision)
    changes = ChangeSet(execution, now_us())
    active = tx.count_active_task_runs(execution_id) if state.is_terminal else 0
    rules.transition_execution(
        changes, state, reason=reason, active_task_runs=active, outputs=outputs
    )
    changes.seal()
    tx.save(changes)
    execution.task_runs = tx.list_task_runs(execution_id)
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
) -> tuple[TaskRun, Execution]:
    found = tx.get_task_run(task_run_id)
    if found is None:
        raise NotFound("task run", task_run_id)
    # Lock the execution first, then read the task run again under that lock:
    # every writer of a task run holds its execution's lock.
    execution = load_execution(tx, found.execution_id)
    task_run = tx.get_task_run(task_run_id, for_update=True) if tx.locks_rows else found
    if task_run is None:
        raise NotFound("task run", task_run_id)
    rules.check_expected_revision(execution, expected_revision)
    changes = ChangeSet(execution, now_us())
    rules.transition_task_run(
        changes, task_run, state, reason=reason, worker_id=worker_id, outputs=outputs
    )
    changes.seal()
    tx.save(changes)
    return task_run, execution
