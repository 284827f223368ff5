"""The commands: load what a rule needs, let the rules decide, store the change.

Each function runs inside one write transaction (a :class:`Tx`), often beside
other requests' in one group commit (storage/store.py). They speak the
domain's types; the servicers convert protos to the arguments and the results
back to protos. The commands keep the RPCs' names; the orchestration's
procedures they call have the domain's (``lifecycle.move_task_run`` for
TransitionTaskRun...). They draw the time, the ids and the randomness a rule
needs (``clock``) and pass them in with the change set.

Why one file of about 570 lines: every command is the same three steps on the
same few loaders (``load_execution``, ``load_full``, ``_save``), one function
per RPC that writes, read side by side; the rules themselves are in
``orchestration/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import clock
from .orchestration import (
    STARTABLE_STATES,
    SYSTEM,
    ChangeSet,
    DomainError,
    Execution,
    FailedPrecondition,
    InvalidArgument,
    JsonObject,
    NotFound,
    PauseAction,
    RetryDecision,
    RetryPolicy,
    State,
    StateChange,
    TaskRun,
    Timer,
    TimerKind,
    UnreadableRecord,
    deadlines,
    execution_subject,
    guards,
    leases,
    lifecycle,
    task_run_subject,
)
from .orchestration.filters import TaskRunFilter
from .orchestration.metrics import MetricEntry, combine
from .orchestration.model import DEADLINE_KINDS
from .storage import Tx


def _changes(execution: Execution, actor: str = SYSTEM) -> ChangeSet:
    """A change to ``execution`` now, with the server's ids and randomness."""
    return ChangeSet(execution, clock.now_us(), actor, new_id=clock.new_id, rng=clock.RNG)


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
    max_duration: deadlines.Deadline | None = None
    max_created_duration: deadlines.Deadline | None = None


def create_execution(tx: Tx, spec: NewExecution, *, actor: str = SYSTEM) -> Execution:
    if spec.parent_execution_id and tx.get_execution(spec.parent_execution_id) is None:
        raise NotFound("execution", spec.parent_execution_id)
    t = clock.now_us()
    execution = Execution(
        id=clock.new_id(),
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
    deadlines.set_execution_deadlines(
        changes, max_duration=spec.max_duration, max_created_duration=spec.max_created_duration
    )
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
    guards.check_expected_revision(execution, expected_revision)
    if not execution.state.is_terminal:
        raise FailedPrecondition(
            "EXECUTION_ACTIVE",
            f"execution {execution_id} is {execution.state.value}: only a terminal execution "
            "can be deleted (kill it first)",
            subject=execution_subject(execution_id),
            metadata={"execution_state": execution.state.value},
        )
    tx.delete_execution(execution_id)


@dataclass(slots=True)
class NewTaskRun:
    execution_id: str
    task_id: str
    parent_task_run_id: str = ""
    value: str = ""
    retry_policy: RetryPolicy | None = None
    attempt_timeout_us: int | None = None


def create_task_run(
    tx: Tx, spec: NewTaskRun, expected_revision: int | None, *, actor: str = SYSTEM
) -> tuple[TaskRun, Execution]:
    execution = load_execution(tx, spec.execution_id)
    guards.check_expected_revision(execution, expected_revision)
    if spec.parent_task_run_id:
        parent = tx.get_task_run(spec.parent_task_run_id)
        if parent is None or parent.execution_id != execution.id:
            raise NotFound("task run", spec.parent_task_run_id)
    t = clock.now_us()
    changes = ChangeSet(execution, t, actor, new_id=clock.new_id, rng=clock.RNG)
    task_run = TaskRun(
        id=clock.new_id(),
        execution_id=execution.id,
        task_id=spec.task_id,
        parent_task_run_id=spec.parent_task_run_id,
        value=spec.value,
        retry_policy=spec.retry_policy,
        attempt_timeout_us=spec.attempt_timeout_us,
        state=State.CREATED,
        history=[StateChange(State.CREATED, t, "created", actor)],
        create_time_us=changes.now_us,
        update_time_us=changes.now_us,
    )
    lifecycle.add_task_run(changes, task_run)
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
    guards.check_expected_revision(execution, expected_revision)
    changes = _changes(execution, actor)
    lifecycle.move_execution(
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
    attempt: int = 0,
    lease_us: int | None = None,
) -> tuple[TaskRun, Execution, RetryDecision | None]:
    both = tx.lock_task_run(task_run_id)
    if both is None:
        raise NotFound("task run", task_run_id)
    task_run, execution = both
    guards.check_expected_revision(execution, expected_revision)
    leases.check_reported_attempt(task_run, state, attempt)
    starting = state is State.RUNNING and task_run.state in STARTABLE_STATES
    changes = _changes(execution, actor)
    others = None
    if execution.state is State.KILLING and state.is_terminal:
        others = tx.count_active_task_runs(execution.id) - (1 if task_run.state.is_active else 0)
    decision = lifecycle.move_task_run(
        changes,
        task_run,
        state,
        reason=reason,
        worker_id=worker_id,
        outputs=outputs,
        other_active_task_runs=others,
    )
    if starting and lease_us is not None:
        leases.grant_lease(changes, task_run, lease_us)
    _save(tx, changes)
    return task_run, execution, decision


# -- workers: claims and heartbeats -------------------------------------------------


@dataclass(slots=True)
class Claimed:
    """A task run a claim started, with its execution after the change."""

    task_run: TaskRun
    execution: Execution
    attempt: int
    lease_expire_time_us: int | None


@dataclass(slots=True)
class ClaimResult:
    claimed: list[Claimed]
    #: With nothing claimed: when a task run of the filter becomes ready by the
    #: clock alone (a retry's next attempt), if one will.
    next_ready_us: int | None = None


def claim_task_runs(
    tx: Tx,
    flt: TaskRunFilter,
    *,
    limit: int,
    worker_id: str,
    lease_us: int | None,
    reason: str,
    actor: str = SYSTEM,
) -> ClaimResult:
    """Start up to ``limit`` ready task runs for ``worker_id``, oldest ready first.

    The storage finds (and on PostgreSQL locks, skipping what others hold) the
    candidates; each is then started exactly as TransitionTaskRun to RUNNING
    would start it (``lifecycle.move_task_run``: the same guards, the execution
    started with its first task run), and one that its guards refuse is left
    alone. Each start is its own change set (its own revision), all in this
    one transaction.
    """
    now = clock.now_us()
    ids = tx.ready_task_runs(flt, now_us=now, limit=limit)
    tx.prefetch_task_runs(ids)
    claimed: list[Claimed] = []
    for task_run_id in ids:
        both = tx.lock_task_run(task_run_id)
        if both is None:  # pragma: no cover - locked rows do not vanish
            continue
        task_run, execution = both
        changes = _changes(execution, actor)
        try:
            lifecycle.move_task_run(
                changes, task_run, State.RUNNING, reason=reason, worker_id=worker_id
            )
        except DomainError:
            continue
        due = leases.grant_lease(changes, task_run, lease_us) if lease_us is not None else None
        _save(tx, changes)
        number = task_run.attempts[-1].number
        claimed.append(Claimed(task_run, execution, number, due))
    if claimed:
        return ClaimResult(claimed)
    return ClaimResult([], tx.next_ready_time(flt, now_us=now))


@dataclass(slots=True)
class Beat:
    """The outcome of one heartbeat item: the new expiry, or why it was refused."""

    task_run_state: State | None = None
    lease_expire_time_us: int | None = None
    error: DomainError | None = None


def heartbeat(tx: Tx, items: list[tuple[str, int]]) -> list[Beat]:
    """Extend the leases of the attempts ``items`` names ((task run id, attempt)).

    One read of the task runs, then one statement per distinct lease duration
    moving the timers (only those not yet expired: a lease that expired is lost
    even before the scheduler acts on it). Each item is refused on its own.
    """
    now = clock.now_us()
    found = tx.task_runs_by_id([task_run_id for task_run_id, _ in items])
    beats: list[Beat] = []
    wanted: dict[int, list[str]] = {}
    for task_run_id, number in items:
        task_run = found.get(task_run_id)
        if task_run is None:
            beats.append(Beat(error=NotFound("task run", task_run_id)))
            continue
        try:
            attempt = leases.open_attempt_named(task_run, number)
        except DomainError as error:
            beats.append(Beat(task_run.state, error=error))
            continue
        if attempt.lease_us is None:
            beats.append(Beat(task_run.state, error=_lease_refused(task_run, number, "NO_LEASE")))
            continue
        wanted.setdefault(attempt.lease_us, []).append(leases.lease_timer_id(task_run_id, number))
        beats.append(Beat(task_run.state, now + attempt.lease_us))
    extended: set[str] = set()
    for lease_us, timer_ids in wanted.items():
        extended |= tx.extend_leases(timer_ids, due_us=now + lease_us, now_us=now)
    for beat, (task_run_id, number) in zip(beats, items, strict=True):
        if beat.error is None and leases.lease_timer_id(task_run_id, number) not in extended:
            beat.lease_expire_time_us = None
            beat.error = _lease_refused(found[task_run_id], number, "LEASE_EXPIRED")
    return beats


def _lease_refused(task_run: TaskRun, attempt: int, reason: str) -> FailedPrecondition:
    subject, metadata = task_run_subject(task_run.id), {"attempt": str(attempt)}
    what = f"attempt {attempt} of task run {task_run.id}"
    if reason == "NO_LEASE":
        return FailedPrecondition(
            "NO_LEASE",
            f"{what} was started without a lease",
            subject=subject,
            metadata=metadata,
        )
    return FailedPrecondition(
        "LEASE_EXPIRED",
        f"{what}: its lease has expired, the attempt is lost",
        subject=subject,
        metadata=metadata,
    )


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
    guards.check_expected_revision(execution, expected_revision)
    changes = _changes(execution, actor)
    changed = lifecycle.start_kill(
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
    guards.check_expected_revision(execution, expected_revision)
    changes = _changes(execution, actor)
    lifecycle.restart(changes, execution.task_runs, reason=reason or "restarted on request")
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
    action: PauseAction,
    expected_revision: int | None,
    actor: str = SYSTEM,
) -> tuple[Execution, int | None]:
    execution = load_full(tx, execution_id)
    guards.check_expected_revision(execution, expected_revision)
    task_run = _task_run_of(execution, task_run_id)
    changes = _changes(execution, actor)
    due = lifecycle.pause(
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
    guards.check_expected_revision(execution, expected_revision)
    task_run = _task_run_of(execution, task_run_id)
    changes = _changes(execution, actor)
    lifecycle.resume(changes, task_run, reason=reason or "resumed on request")
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
    guards.check_expected_revision(execution, expected_revision)
    changes = _changes(execution, actor)
    lifecycle.end_execution(
        changes, execution.task_runs, state=state, reason=reason or "completed", outputs=outputs
    )
    _save(tx, changes)
    return execution


def fire_timer(tx: Tx, timer: Timer, *, kill_deadline_us: int) -> bool:
    """Fire a due timer once: its deletion and its effect commit together."""
    lease = timer.kind is TimerKind.LEASE
    # A lease's timer fires only if no heartbeat moved it since it was read.
    if not tx.take_timer(timer.id, due_by_us=clock.now_us() if lease else None):
        return False
    execution = load_full(tx, timer.execution_id)
    changes = _changes(execution)
    labels: dict[str, str] = {}
    try:
        if lease or timer.kind is TimerKind.ATTEMPT_TIMEOUT:
            task_run = _task_run_of(execution, timer.task_run_id)
            assert task_run is not None
            active = sum(1 for t in execution.task_runs if t.state.is_active)
            others = active - (1 if task_run.state.is_active else 0)
            number = timer.attempt
            if lease:
                leases.expire_lease(changes, task_run, number, other_active_task_runs=others)
            else:
                deadlines.expire_attempt_timeout(
                    changes, task_run, number, other_active_task_runs=others
                )
        elif timer.kind is TimerKind.KILL_DEADLINE:
            lifecycle.force_kill_at_deadline(changes, execution.task_runs)
        elif timer.kind in DEADLINE_KINDS:
            labels = deadlines.fire_execution_deadline(
                changes,
                timer,
                execution.task_runs,
                kill_deadline_us=changes.now_us + kill_deadline_us,
            )
        else:
            lifecycle.fire_pause_timer(
                changes,
                timer,
                execution.task_runs,
                kill_deadline_us=changes.now_us + kill_deadline_us,
            )
    except DomainError:
        # The execution moved on in a way the timer cannot apply to: the timer is
        # spent (its deletion commits), nothing else changes.
        return True
    if labels:
        # A marked deadline changes no state: a new revision, no event.
        tx.add_execution_labels(execution.id, labels)
        changes.seal()
        tx.save(changes)
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
            subject=task_run_subject(task_run_id),
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
        clock.now_us(),
    )
    return len(entries)
