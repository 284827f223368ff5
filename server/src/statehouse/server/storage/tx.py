"""The Tx: every query Statehouse makes, inside one transaction.

A :class:`Tx` wraps a SQLAlchemy connection whose transaction the
:class:`~statehouse.server.storage.store.Store` opens and commits. Commands
load domain objects through it, let the rules decide, and hand the resulting
:class:`~statehouse.server.orchestration.ChangeSet` to :meth:`Tx.save`, the one
write path for every state change: rows and events go into the same
transaction (the transactional outbox: docs/design.md, "Invariants").
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..orchestration import (
    TERMINAL_STATES,
    Attempt,
    ChangeSet,
    Event,
    Execution,
    RevisionMismatch,
    State,
    TaskRun,
    Timer,
    UnreadableRecord,
)
from ..orchestration.filters import EventFilter, ExecutionFilter, TaskRunFilter
from ..orchestration.leases import lease_timer_id
from ..orchestration.metrics import FIXED_US, Metric, MetricEntry
from . import codec, work
from .errors import BatchConflict, is_unreachable
from .hot import Hot
from .schema import (
    EVENT_SEQUENCE,
    counters,
    credentials,
    events,
    execution_labels,
    executions,
    metric_tags,
    metrics,
    requests,
    secrets,
    task_runs,
    timers,
)
from .sequencer import Sequencer

#: Lease timers read in one statement by :meth:`Tx.fill_lease_expiry`.
_LEASES_PER_READ = 500


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """An idempotency record: what a request_id was used for and what it returned."""

    method: str
    fingerprint: str
    response: bytes


@dataclass(frozen=True, slots=True)
class StoredTaskRun:
    """A task run as GetTaskRun reads it: with where its execution stands."""

    task_run: TaskRun
    #: The execution's namespace, revision and state, read with the task run.
    namespace: str
    execution_revision: int
    execution_state: State


#: The PostgreSQL channel on which commits of events are announced.
EVENTS_CHANNEL = "statehouse_events"

_ACTIVE = [s.value for s in State if s not in TERMINAL_STATES]
_TERMINAL = [s.value for s in TERMINAL_STATES]

# The statements of the hot paths, built once: building a statement costs more
# than executing it once it is in SQLAlchemy's compiled cache.
_SELECT_EXECUTION = sa.select(executions).where(executions.c.id == sa.bindparam("id"))
_SELECT_EXECUTION_FOR_UPDATE = _SELECT_EXECUTION.with_for_update()
_SELECT_TASK_RUN = sa.select(task_runs).where(task_runs.c.id == sa.bindparam("id"))
_SELECT_TASK_RUN_FOR_UPDATE = _SELECT_TASK_RUN.with_for_update()
#: A task run with its execution's namespace, revision and state (a read: no lock).
_SELECT_TASK_RUN_WITH_EXECUTION = (
    sa.select(
        task_runs,
        executions.c.namespace.label("e_namespace"),
        executions.c.revision.label("e_revision"),
        executions.c.state.label("e_state"),
    )
    .join_from(task_runs, executions, task_runs.c.execution_id == executions.c.id)
    .where(task_runs.c.id == sa.bindparam("id"))
)
_SELECT_TASK_RUNS_AND_EXECUTIONS = (
    sa.select(
        *(c.label(f"t_{c.name}") for c in task_runs.c),
        *(c.label(f"e_{c.name}") for c in executions.c),
    )
    .join_from(task_runs, executions, task_runs.c.execution_id == executions.c.id)
    .where(task_runs.c.id.in_(sa.bindparam("ids", expanding=True)))
    # One order for every writer: rows are locked as they are returned, so two
    # replicas' batches lock shared rows in the same order (no deadlock).
    .order_by(executions.c.id, task_runs.c.id)
)
#: Locks both rows of each pair (PostgreSQL).
_SELECT_TASK_RUNS_AND_EXECUTIONS_FOR_UPDATE = _SELECT_TASK_RUNS_AND_EXECUTIONS.with_for_update()
_INSERT_EXECUTION = sa.insert(executions)
_INSERT_LABELS = sa.insert(execution_labels)
_INSERT_TASK_RUNS = sa.insert(task_runs)
_INSERT_EVENTS = sa.insert(events)
#: The columns of an execution's update when only a task run moved, and when
#: the execution itself did (its history grew, its outputs may have changed).
_EXECUTION_LIGHT = ("_id", "_rev", "state", "revision", "update_time_us", "restart_count")
_EXECUTION_FULL = (*_EXECUTION_LIGHT, "outputs", "history")
_UPDATE_EXECUTION_LIGHT = (
    sa.update(executions)
    .where(executions.c.id == sa.bindparam("_id"), executions.c.revision == sa.bindparam("_rev"))
    .values({name: sa.bindparam(name) for name in _EXECUTION_LIGHT[2:]})
)
_UPDATE_EXECUTION = (
    sa.update(executions)
    .where(executions.c.id == sa.bindparam("_id"), executions.c.revision == sa.bindparam("_rev"))
    .values({name: sa.bindparam(name) for name in _EXECUTION_FULL[2:]})
)
_INSERT_TIMERS = sa.insert(timers)
#: What every state change runs, on the driver's cursor (``hot.py``).
_HOT_TASK_RUNS_AND_EXECUTIONS = Hot(_SELECT_TASK_RUNS_AND_EXECUTIONS, expanding="ids")
_HOT_TASK_RUNS_AND_EXECUTIONS_FOR_UPDATE = Hot(
    _SELECT_TASK_RUNS_AND_EXECUTIONS_FOR_UPDATE, expanding="ids"
)
_TASK_RUN_COLUMNS = tuple(c.name for c in task_runs.c)
_EXECUTION_COLUMNS = tuple(c.name for c in executions.c)
_HOT_UPDATE_EXECUTION_LIGHT = Hot(_UPDATE_EXECUTION_LIGHT)
_HOT_UPDATE_EXECUTION = Hot(_UPDATE_EXECUTION)
_HOT_INSERT_EVENTS = Hot(_INSERT_EVENTS)
_TASK_RUN_MUTABLE = (
    "state",
    "update_time_us",
    "next_attempt_time_us",
    "history",
    "attempts",
    "outputs",
    "retry_policy",
)
_UPDATE_TASK_RUN = (
    sa.update(task_runs)
    .where(task_runs.c.id == sa.bindparam("_id"))
    .values({name: sa.bindparam(name) for name in _TASK_RUN_MUTABLE})
)
_HOT_UPDATE_TASK_RUN = Hot(_UPDATE_TASK_RUN)
_NEXT_POSITION = sa.select(sa.func.coalesce(sa.func.max(task_runs.c.position), -1) + 1).where(
    task_runs.c.execution_id == sa.bindparam("execution_id")
)
_COUNT_ACTIVE = sa.select(sa.func.count()).where(
    task_runs.c.execution_id == sa.bindparam("execution_id"), task_runs.c.state.in_(_ACTIVE)
)
_SELECT_TASK_RUNS_OF = (
    sa.select(task_runs)
    .where(task_runs.c.execution_id == sa.bindparam("execution_id"))
    .order_by(task_runs.c.position)
)
_SELECT_REQUEST = sa.select(
    requests.c.method, requests.c.fingerprint, requests.c.response, requests.c.create_time_us
).where(
    requests.c.caller == sa.bindparam("caller"),
    requests.c.request_id == sa.bindparam("request_id"),
)
_SELECT_EXECUTION_NAMESPACE = sa.select(executions.c.namespace).where(
    executions.c.id == sa.bindparam("id")
)
_SELECT_TASK_RUN_NAMESPACE = (
    sa.select(executions.c.namespace)
    .select_from(task_runs.join(executions, task_runs.c.execution_id == executions.c.id))
    .where(task_runs.c.id == sa.bindparam("id"))
)
_INSERT_REQUEST = sa.insert(requests)
_DELETE_EXPIRED_REQUEST = sa.delete(requests).where(
    requests.c.caller == sa.bindparam("c"),
    requests.c.request_id == sa.bindparam("r"),
    requests.c.create_time_us < sa.bindparam("t"),
)
_SELECT_ATTEMPT_METRICS = sa.select(
    metrics.c.id, metrics.c.name, metrics.c.type, metrics.c.tags
).where(
    metrics.c.task_run_id == sa.bindparam("task_run_id"),
    metrics.c.attempt == sa.bindparam("attempt"),
)
_ADD_TO_METRIC = (
    sa.update(metrics)
    .where(metrics.c.id == sa.bindparam("_id"))
    .values(value=metrics.c.value + sa.bindparam("delta", type_=sa.Float))
)
_INSERT_METRIC_RETURNING = sa.insert(metrics).returning(metrics.c.id, sort_by_parameter_order=True)
_INSERT_METRIC_TAGS = sa.insert(metric_tags)
_SELECT_LAST_SEQUENCE = sa.select(counters.c.value).where(counters.c.name == EVENT_SEQUENCE)
_SELECT_NEWEST_EVENT = sa.select(sa.func.max(events.c.sequence))


_ABSENT = object()


def _copy_execution(ex: Execution) -> Execution:
    """A copy the rules may change (they append to histories) without changing
    the original: its lists and labels are its own; entries are never changed.
    Every other field is carried over as it is, a field added later included."""
    copied = copy.copy(ex)
    copied.history = list(ex.history)
    copied.labels = dict(ex.labels)
    copied.task_runs = []
    return copied


class Tx:
    """Queries and writes within one database transaction.

    **Write-behind.** The changes of :meth:`save` (and idempotency records) are
    not written at once: they are kept, merged per row, and written by
    :meth:`flush` with one statement per kind of row for the whole transaction
    (``executemany``), which the store calls once before commit. Reads of this
    class see the kept changes (an execution or task run loaded again in the same
    transaction comes from the latest row, kept or read), so that two writes of
    one group commit see each other's effects. Every other statement first
    flushes what is kept (:meth:`_immediate`), so that the database sees the
    changes in the order they were made.

    **One write of a batch.** The store runs each write of a group commit between
    :meth:`begin_write` and :meth:`end_write`: a write that fails has its kept
    changes and events undone (a journal), and the statements it ran itself (a
    delete, a metric) rolled back to a savepoint opened before its first one.

    Backends subclass it for what differs between databases (row locks, the
    notification of commits, an insert that ignores conflicts).
    """

    #: Whether reads for update lock rows (PostgreSQL); SQLite's write
    #: transaction holds the whole database instead.
    LOCKS_ROWS = False

    def __init__(self, conn: sa.Connection, sequencer: Sequencer) -> None:
        self.conn = conn
        self._sequencer = sequencer
        #: Events of this transaction waiting for their sequences (flush_events).
        self.pending: list[Event] = []
        #: Events appended in this transaction, with their sequences, for the
        #: live fan-out once the transaction has committed.
        self.appended: list[Event] = []
        # The latest row of each execution and task run this transaction has seen
        # (read, or changed and kept), and those it holds the lock of.
        self._executions: dict[str, Any] = {}
        self._task_runs: dict[str, Any] = {}
        self._locked: set[str] = set()
        #: History lengths of executions as read, to update only what changed.
        self._history_len: dict[str, int] = {}
        #: Each execution's latest row with what it decodes to: a batch that moves
        #: many task runs of one execution decodes it once (keyed by the row
        #: object itself, so a row replaced or restored is decoded again).
        self._decoded: dict[str, tuple[Any, Execution]] = {}
        # Kept changes, written by flush().
        self._new_executions: dict[str, dict[str, Any]] = {}
        self._new_labels: list[dict[str, Any]] = []
        self._execution_updates: dict[str, dict[str, Any]] = {}
        self._new_task_runs: dict[str, dict[str, Any]] = {}
        self._task_run_updates: dict[str, dict[str, Any]] = {}
        #: ("delete", (execution_id, task_run_id, kind)) or ("insert", row), in order.
        self._timer_ops: list[tuple[str, Any]] = []
        self._new_requests: dict[tuple[str, str], dict[str, Any]] = {}
        #: Expired records seen by get_request: a put_request of one replaces it.
        self._expired_requests: dict[tuple[str, str], int] = {}
        #: Whether several writes share this transaction (set by the store).
        self.shared = False
        self._journal: list[tuple[dict[Any, Any], Any, Any]] | None = None
        self._marks: tuple[int, ...] = ()
        self._savepoint: sa.NestedTransaction | None = None

    # -- a write of a batch ---------------------------------------------------

    def begin_write(self) -> None:
        """Start one write of a group commit."""
        self._journal = []
        self._marks = (len(self.pending), len(self._new_labels), len(self._timer_ops))
        self._savepoint = None

    @property
    def in_savepoint(self) -> bool:
        return self._savepoint is not None

    def end_write(self, ok: bool) -> None:
        """Keep the write's changes (``ok``) or undo them all."""
        savepoint, self._savepoint = self._savepoint, None
        journal, self._journal = self._journal, None
        if ok:
            if savepoint is not None:
                savepoint.commit()
            return
        if savepoint is not None:
            savepoint.rollback()
            # What was read inside the savepoint may be gone with it.
            self._forget_rows()
        for table, key, old in reversed(journal or []):
            if old is _ABSENT:
                table.pop(key, None)
            else:
                table[key] = old
        events, labels, timer_ops = self._marks
        del self.pending[events:]
        del self._new_labels[labels:]
        del self._timer_ops[timer_ops:]

    def _set(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        """``table[key] = value``, undone by end_write(False)."""
        if self._journal is not None:
            self._journal.append((table, key, table.get(key, _ABSENT)))
        table[key] = value

    def _forget_rows(self) -> None:
        self._executions.clear()
        self._decoded.clear()
        self._task_runs.clear()
        self._history_len.clear()
        self._locked.clear()

    def _immediate(self) -> None:
        """Before a statement that writes at once: flush what is kept, and open this
        write's savepoint if it shares the transaction with others."""
        self.flush()
        if self.shared and self._savepoint is None and self._journal is not None:
            self._savepoint = self.conn.begin_nested()

    # -- executions ---------------------------------------------------------

    def _remember_execution(self, row: Any, locked: bool) -> Execution:
        cached = self._decoded.get(row["id"])
        if cached is not None and cached[0] is row:
            execution = _copy_execution(cached[1])
        else:
            execution = codec.execution_from_row(row)
            self._decoded[execution.id] = (row, _copy_execution(execution))
        self._executions[execution.id] = row
        self._history_len[execution.id] = len(execution.history)
        if locked:
            self._locked.add(execution.id)
        return execution

    def _known(self, ids: dict[str, Any], key: str, for_update: bool) -> Any:
        """The latest row of ``key`` if this transaction may use it as it is."""
        row = ids.get(key)
        if row is None:
            return None
        if for_update and self.LOCKS_ROWS and key not in self._locked:
            return None
        return row

    def get_execution(self, execution_id: str, *, for_update: bool = False) -> Execution | None:
        lock = for_update and self.LOCKS_ROWS
        row = self._known(self._executions, execution_id, lock)
        if row is None:
            if execution_id in self._execution_updates:
                # Changed here, so locked already: the kept row is the latest.
                row = self._executions[execution_id]
            else:
                query = _SELECT_EXECUTION_FOR_UPDATE if lock else _SELECT_EXECUTION
                row = self.conn.execute(query, {"id": execution_id}).mappings().first()
                if row is None:
                    return None
        return self._remember_execution(row, lock)

    def get_execution_with_task_runs(
        self, execution_id: str, *, for_update: bool = False
    ) -> Execution | None:
        execution = self.get_execution(execution_id, for_update=for_update)
        if execution is not None:
            execution.task_runs = self.list_task_runs(execution_id)
            self.fill_lease_expiry(execution.task_runs)
        return execution

    def _insert_execution(self, execution: Execution) -> None:
        row = codec.execution_row(execution)
        self._set(self._new_executions, execution.id, row)
        self._set(self._executions, execution.id, row)
        self._set(self._history_len, execution.id, len(execution.history))
        self._locked.add(execution.id)
        self._new_labels.extend(
            {"execution_id": execution.id, "key": k, "value": v}
            for k, v in execution.labels.items()
        )

    def delete_execution(self, execution_id: str) -> None:
        self.delete_executions([execution_id])

    def delete_executions(self, execution_ids: Sequence[str]) -> None:
        """Delete executions with everything that is theirs: task runs (their
        attempts and outputs are columns of them), labels, timers, metrics and
        their tags. Their events stay (the log's own retention deletes them)."""
        self._immediate()
        self._forget_rows()
        ids = list(execution_ids)
        if not ids:
            return
        self.conn.execute(
            sa.delete(metric_tags).where(
                metric_tags.c.metric_id.in_(
                    sa.select(metrics.c.id).where(metrics.c.execution_id.in_(ids))
                )
            )
        )
        for table, column in (
            (metrics, metrics.c.execution_id),
            (timers, timers.c.execution_id),
            (execution_labels, execution_labels.c.execution_id),
            (task_runs, task_runs.c.execution_id),
            (executions, executions.c.id),
        ):
            self.conn.execute(sa.delete(table).where(column.in_(ids)))

    def delete_terminal_executions(self, *, changed_before_us: int, limit: int) -> list[str]:
        """Delete up to ``limit`` terminal executions last changed before
        ``changed_before_us`` (:meth:`delete_executions`); return their ids.

        Found through the (state, create_time_us) index: an execution last changed
        before the cutoff was created before it too. On PostgreSQL the rows are
        locked, skipping any a concurrent write holds (it may be restarting one);
        SQLite's write transaction holds the whole file.
        """
        self._immediate()
        query = (
            sa.select(executions.c.id)
            .where(
                executions.c.state.in_(_TERMINAL),
                executions.c.create_time_us < changed_before_us,
                executions.c.update_time_us < changed_before_us,
            )
            .order_by(executions.c.create_time_us)
            .limit(limit)
        )
        if self.LOCKS_ROWS:
            query = query.with_for_update(skip_locked=True)
        ids = [str(i) for i in self.conn.execute(query).scalars()]
        self.delete_executions(ids)
        return ids

    def list_executions(
        self,
        flt: ExecutionFilter,
        *,
        limit: int,
        before: tuple[int, str] | None = None,
    ) -> list[Execution | UnreadableRecord]:
        """Executions newest first; ``before`` is the (create_time_us, id) keyset cursor.

        A row that cannot be decoded is returned as its :class:`UnreadableRecord`
        (with ``create_time_us`` for the cursor), not raised: one bad row must not
        fail a list.
        """
        self.flush()
        query = _where_execution_matches(sa.select(executions), flt)
        if before is not None:
            query = query.where(
                sa.tuple_(executions.c.create_time_us, executions.c.id) < sa.tuple_(*before)
            )
        query = query.order_by(executions.c.create_time_us.desc(), executions.c.id.desc())
        rows = self.conn.execute(query.limit(limit)).mappings().all()
        return [codec.execution_or_unreadable(r) for r in rows]

    def count_executions(self, flt: ExecutionFilter) -> dict[State, int]:
        """How many executions ``flt`` selects, per state (states without any absent).

        One ``GROUP BY`` statement: the database counts, nothing is decoded.
        """
        self.flush()
        query = _where_execution_matches(
            sa.select(executions.c.state, sa.func.count()).select_from(executions), flt
        ).group_by(executions.c.state)
        known = {s.value: s for s in State}
        return {known[state]: int(n) for state, n in self.conn.execute(query) if state in known}

    # -- task runs ----------------------------------------------------------

    def _remember_task_run(self, row: Any, locked: bool) -> TaskRun:
        task_run = codec.task_run_from_row(row)
        self._task_runs[task_run.id] = row
        if locked:
            self._locked.add(task_run.id)
        return task_run

    def get_task_run(self, task_run_id: str, *, for_update: bool = False) -> TaskRun | None:
        lock = for_update and self.LOCKS_ROWS
        row = self._known(self._task_runs, task_run_id, lock)
        if row is None:
            if task_run_id in self._task_run_updates:
                row = self._task_runs[task_run_id]
            else:
                query = _SELECT_TASK_RUN_FOR_UPDATE if lock else _SELECT_TASK_RUN
                row = self.conn.execute(query, {"id": task_run_id}).mappings().first()
                if row is None:
                    return None
        return self._remember_task_run(row, lock)

    def prefetch_task_runs(self, task_run_ids: Sequence[str]) -> None:
        """Read (and on PostgreSQL lock) task runs and their executions in one
        statement, for the writes of a batch that will move them."""
        wanted = [
            i
            for i in dict.fromkeys(task_run_ids)
            if self._known(self._task_runs, i, True) is None and i not in self._task_run_updates
        ]
        if wanted:
            self._read_task_runs_with_executions(wanted)

    def _read_task_runs_with_executions(self, ids: list[str]) -> None:
        self.keep_task_runs_with_executions(self.task_runs_query().rows(self.conn, ids))

    @classmethod
    def task_runs_query(cls) -> Hot:
        """What :meth:`prefetch_task_runs` runs: task runs with their executions,
        locked where rows are locked (a backend may run it itself, then hand the
        rows to :meth:`keep_task_runs_with_executions`)."""
        if cls.LOCKS_ROWS:
            return _HOT_TASK_RUNS_AND_EXECUTIONS_FOR_UPDATE
        return _HOT_TASK_RUNS_AND_EXECUTIONS

    def keep_task_runs_with_executions(self, rows: Sequence[Sequence[Any]]) -> None:
        """Keep the rows of :meth:`task_runs_query` (read in this transaction)."""
        split = len(_TASK_RUN_COLUMNS)
        for found in rows:
            task_run = dict(zip(_TASK_RUN_COLUMNS, found[:split], strict=True))
            if task_run["id"] not in self._task_run_updates:
                self._task_runs[task_run["id"]] = task_run
                self._locked.add(task_run["id"])
            execution_id = task_run["execution_id"]
            if execution_id not in self._execution_updates:
                execution = dict(zip(_EXECUTION_COLUMNS, found[split:], strict=True))
                self._executions[execution_id] = execution
                self._history_len.pop(execution_id, None)
                self._locked.add(execution_id)

    def lock_task_run(self, task_run_id: str) -> tuple[TaskRun, Execution] | None:
        """A task run and its execution, both locked for this transaction (on
        SQLite the write transaction holds the database): every writer of a task
        run holds its execution's lock. One statement unless already read."""
        if self._known(self._task_runs, task_run_id, True) is None and (
            task_run_id not in self._task_run_updates
        ):
            self._read_task_runs_with_executions([task_run_id])
        row = self._task_runs.get(task_run_id)
        if row is None:
            return None
        task_run = codec.task_run_from_row(row)
        execution = self.get_execution(task_run.execution_id, for_update=True)
        if execution is None:  # pragma: no cover - a task run has its execution (a key)
            return None
        return task_run, execution

    def read_task_run(self, task_run_id: str) -> StoredTaskRun | None:
        """A task run (its attempts are columns of it) with its execution's
        namespace, revision and state: one statement, no lock. None if there is none."""
        self.flush()
        query = _SELECT_TASK_RUN_WITH_EXECUTION
        found = self.conn.execute(query, {"id": task_run_id}).mappings().first()
        if found is None:
            return None
        task_run = codec.task_run_from_row(found)
        self.fill_lease_expiry([task_run])
        return StoredTaskRun(
            task_run=task_run,
            namespace=str(found["e_namespace"]),
            execution_revision=int(found["e_revision"]),
            execution_state=State(found["e_state"]),
        )

    def fill_lease_expiry(self, task_runs: Sequence[TaskRun]) -> None:
        """Set the lease expiry of each open attempt that holds a lease: the due
        time of its ``LEASE`` timer, the one place it is kept (a heartbeat moves
        the timer, never the task run; design.md, "Workers"). One statement per
        500 such attempts; none without any."""
        wanted: dict[str, Attempt] = {}
        for task_run in task_runs:
            last = task_run.last_attempt
            if last is not None and last.state.is_active and last.lease_us is not None:
                wanted[lease_timer_id(task_run.id, last.number)] = last
        ids = sorted(wanted)
        for start in range(0, len(ids), _LEASES_PER_READ):
            query = sa.select(timers.c.id, timers.c.due_time_us).where(
                timers.c.id.in_(ids[start : start + _LEASES_PER_READ])
            )
            for timer_id, due_us in self.conn.execute(query):
                wanted[str(timer_id)].lease_expire_time_us = int(due_us)

    def list_task_runs(self, execution_id: str) -> list[TaskRun]:
        self.flush()
        rows = self.conn.execute(_SELECT_TASK_RUNS_OF, {"execution_id": execution_id}).mappings()
        return [
            self._remember_task_run(r, self.LOCKS_ROWS and execution_id in self._locked)
            for r in rows
        ]

    def list_task_runs_of(
        self, execution_ids: Sequence[str]
    ) -> dict[str, list[TaskRun] | UnreadableRecord]:
        """The task runs of each execution; an UnreadableRecord where one cannot be read."""
        self.flush()
        result: dict[str, list[TaskRun] | UnreadableRecord] = {i: [] for i in execution_ids}
        if not execution_ids:
            return result
        query = (
            sa.select(task_runs)
            .where(task_runs.c.execution_id.in_(list(execution_ids)))
            .order_by(task_runs.c.execution_id, task_runs.c.position)
        )
        for row in self.conn.execute(query).mappings():
            found = result[row["execution_id"]]
            if isinstance(found, list):
                try:
                    found.append(codec.task_run_from_row(row))
                except UnreadableRecord as error:
                    result[row["execution_id"]] = error
        self.fill_lease_expiry(
            [t for runs in result.values() if isinstance(runs, list) for t in runs]
        )
        return result

    def count_active_task_runs(self, execution_id: str) -> int:
        self.flush()
        return int(self.conn.execute(_COUNT_ACTIVE, {"execution_id": execution_id}).scalar_one())

    def _next_position(self, execution_id: str) -> int:
        kept = [
            r["position"] for r in self._new_task_runs.values() if r["execution_id"] == execution_id
        ]
        if kept:
            return int(max(kept)) + 1
        return int(self.conn.execute(_NEXT_POSITION, {"execution_id": execution_id}).scalar_one())

    # -- the one write path for changes --------------------------------------

    def save(self, changes: ChangeSet, *, new_execution: bool = False) -> list[Event]:
        """Keep a sealed change set: the execution, its touched task runs, its
        timers and events, written by :meth:`flush` before commit.

        An execution whose history did not grow (a task run moved) is updated
        without its history and outputs. The row is updated only if it still has
        the revision it was read with, so a concurrent writer can never be
        overwritten silently (checked by flush: it raises RevisionMismatch).
        """
        ex = changes.execution
        if new_execution:
            self._insert_execution(ex)
        else:
            self._update_execution(ex)
        if changes.created_task_runs:
            start = self._next_position(ex.id)
            for offset, tr in enumerate(changes.created_task_runs):
                row = codec.task_run_row(tr)
                row["position"] = start + offset
                self._set(self._new_task_runs, tr.id, row)
                self._set(self._task_runs, tr.id, row)
                self._locked.add(tr.id)
        created = {tr.id for tr in changes.created_task_runs}
        for tr in changes.changed_task_runs.values():
            if tr.id in created:
                continue
            row = codec.task_run_row(tr)
            params = {name: row[name] for name in _TASK_RUN_MUTABLE}
            new = self._new_task_runs.get(tr.id)
            if new is not None:
                self._set(self._new_task_runs, tr.id, {**new, **params})
            else:
                self._set(self._task_run_updates, tr.id, {"_id": tr.id, **params})
            self._set(self._task_runs, tr.id, {**self._task_runs.get(tr.id, row), **params})
        for task_run_id, kind in changes.cancelled_timers:
            self._timer_ops.append(("delete", (ex.id, task_run_id, kind)))
        for t in changes.new_timers:
            row = {
                "id": t.id,
                "execution_id": t.execution_id,
                "task_run_id": t.task_run_id,
                "kind": t.kind,
                "action": t.action,
                "due_time_us": t.due_time_us,
            }
            self._timer_ops.append(("insert", row))
        return self.append_events(changes.events)

    def _update_execution(self, ex: Execution) -> None:
        full = self._history_len.get(ex.id) != len(ex.history)
        params: dict[str, Any] = {
            "state": ex.state.value,
            "revision": ex.revision,
            "update_time_us": ex.update_time_us,
            "restart_count": ex.restart_count,
        }
        if full:
            params["outputs"] = None if ex.outputs is None else codec.dumps_document(ex.outputs)
            params["history"] = codec.dumps(codec.history_to_json(ex.history))
        old = self._executions.get(ex.id)
        if old is None:  # not read through this transaction: write it whole
            old = codec.execution_row(ex)
        new = self._new_executions.get(ex.id)
        if new is not None:
            self._set(self._new_executions, ex.id, {**new, **params})
        else:
            kept = self._execution_updates.get(ex.id)
            if kept is None:
                kept = {"_id": ex.id, "_rev": ex.revision - 1, "_full": False}
            merged = {**kept, **params, "_full": kept["_full"] or full}
            if merged["_full"] and "history" not in merged:
                merged["history"] = old["history"]
                merged["outputs"] = old["outputs"]
            self._set(self._execution_updates, ex.id, merged)
        row = {**old, **params}
        self._set(self._executions, ex.id, row)
        self._set(self._history_len, ex.id, len(ex.history))
        self._decoded[ex.id] = (row, _copy_execution(ex))

    def flush(self) -> None:
        """Write the kept changes, one statement per kind of row.

        In a batch (``shared``), a failure here is the batch's, not the current
        write's: it raises :class:`BatchConflict`, and the store runs the writes
        again one per transaction.
        """
        if not (
            self._new_executions
            or self._execution_updates
            or self._new_task_runs
            or self._task_run_updates
            or self._timer_ops
            or self._new_requests
        ):
            return
        if self.shared and self._journal:
            # The current write's own changes would be written outside its savepoint.
            raise BatchConflict("a write read back its own kept changes")
        try:
            self._write_kept()
        except Exception as exc:
            if self.shared and not (isinstance(exc, sa.exc.DBAPIError) and is_unreachable(exc)):
                raise BatchConflict(str(exc)) from exc
            raise

    def _write_kept(self) -> None:
        conn = self.conn
        new_executions, self._new_executions = list(self._new_executions.values()), {}
        labels, self._new_labels = self._new_labels, []
        updates, self._execution_updates = list(self._execution_updates.values()), {}
        new_task_runs, self._new_task_runs = list(self._new_task_runs.values()), {}
        task_run_updates, self._task_run_updates = list(self._task_run_updates.values()), {}
        timer_ops, self._timer_ops = self._timer_ops, []
        new_requests, self._new_requests = list(self._new_requests.values()), {}
        if new_executions:
            conn.execute(_INSERT_EXECUTION, new_executions)
        if labels:
            conn.execute(_INSERT_LABELS, labels)
        light = [{k: u[k] for k in _EXECUTION_LIGHT} for u in updates if not u["_full"]]
        full = [{k: u[k] for k in _EXECUTION_FULL} for u in updates if u["_full"]]
        for statement, rows in (
            (_HOT_UPDATE_EXECUTION_LIGHT, light),
            (_HOT_UPDATE_EXECUTION, full),
        ):
            if rows:
                changed = self._many(statement, rows)
                if conn.dialect.supports_sane_multi_rowcount and changed != len(rows):
                    self._revision_mismatch(rows)
        if new_task_runs:
            conn.execute(_INSERT_TASK_RUNS, new_task_runs)
        if task_run_updates:
            self._many(_HOT_UPDATE_TASK_RUN, task_run_updates)
        inserts: list[dict[str, Any]] = []
        for op, value in timer_ops:
            if op == "insert":
                inserts.append(value)
                continue
            if inserts:
                conn.execute(_INSERT_TIMERS, inserts)
                inserts = []
            conn.execute(_delete_timers(*value))
        if inserts:
            conn.execute(_INSERT_TIMERS, inserts)
        if new_requests:
            expired = self._expired_requests
            replaced = [
                {"c": r["caller"], "r": r["request_id"], "t": expired[r["caller"], r["request_id"]]}
                for r in new_requests
                if (r["caller"], r["request_id"]) in expired
            ]
            if replaced:
                # Only the expired record: never one another replica made meanwhile.
                conn.execute(_DELETE_EXPIRED_REQUEST, replaced)
            conn.execute(_INSERT_REQUEST, new_requests)

    def _many(self, statement: Hot, rows: list[dict[str, Any]]) -> int:
        """Run a hot statement once per row; the rows it changed."""
        return statement.many(self.conn, rows)

    def _revision_mismatch(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            current = self.conn.execute(
                sa.select(executions.c.revision).where(executions.c.id == row["_id"])
            ).scalar()
            if current != row["revision"]:
                raise RevisionMismatch(row["_rev"], -1 if current is None else int(current))
        raise RevisionMismatch(-1, -1)  # pragma: no cover - a row changed twice

    # -- metrics --------------------------------------------------------------

    def record_metrics(
        self,
        task_run: TaskRun,
        attempt: int,
        namespace: str,
        flow_id: str,
        entries: list[MetricEntry],
        now_us: int,
    ) -> None:
        """Add combined entries to the attempt's metrics (same name, type and tags add up).

        In bulk: one read of the attempt's existing metrics, one batched update,
        one batched insert (returning the new ids, in order) and one for their tags.
        """
        self._immediate()
        existing = {
            (row[1], row[2], row[3]): row[0]
            for row in self.conn.execute(
                _SELECT_ATTEMPT_METRICS, {"task_run_id": task_run.id, "attempt": attempt}
            )
        }
        updates: list[dict[str, Any]] = []
        inserts: list[dict[str, Any]] = []
        new_tags: list[dict[str, str]] = []
        for e in entries:
            tags = codec.dumps(dict(sorted(e.tags.items())))
            found = existing.get((e.name, e.type, tags))
            if found is not None:
                updates.append({"_id": found, "delta": e.value})
                continue
            inserts.append(
                {
                    "execution_id": task_run.execution_id,
                    "task_run_id": task_run.id,
                    "task_id": task_run.task_id,
                    "attempt": attempt,
                    "namespace": namespace,
                    "flow_id": flow_id,
                    "name": e.name,
                    "type": e.type,
                    "description": e.description,
                    "tags": tags,
                    "value": e.value,
                    "time_us": now_us,
                }
            )
            new_tags.append(e.tags)
        if updates:
            self.conn.execute(_ADD_TO_METRIC, updates)
        if inserts:
            ids = self.conn.execute(_INSERT_METRIC_RETURNING, inserts).scalars().all()
            tag_rows = [
                {"metric_id": metric_id, "key": k, "value": v}
                for metric_id, tags in zip(ids, new_tags, strict=True)
                for k, v in tags.items()
            ]
            if tag_rows:
                self.conn.execute(_INSERT_METRIC_TAGS, tag_rows)

    def list_metrics(
        self,
        *,
        execution_id: str,
        task_run_id: str,
        task_id: str,
        after_id: int,
        limit: int,
    ) -> list[Metric]:
        query = sa.select(metrics).where(metrics.c.id > after_id)
        if execution_id:
            query = query.where(metrics.c.execution_id == execution_id)
        if task_run_id:
            query = query.where(metrics.c.task_run_id == task_run_id)
        if task_id:
            query = query.where(metrics.c.task_id == task_id)
        rows = self.conn.execute(query.order_by(metrics.c.id).limit(limit)).mappings()
        return [
            Metric(
                id=r["id"],
                execution_id=r["execution_id"],
                task_run_id=r["task_run_id"],
                task_id=r["task_id"],
                attempt=r["attempt"],
                namespace=r["namespace"],
                flow_id=r["flow_id"],
                name=r["name"],
                type=r["type"],
                description=r["description"],
                tags=codec.loads(r["tags"]),
                value=r["value"],
                time_us=r["time_us"],
            )
            for r in rows
        ]

    def aggregate_metrics(
        self,
        *,
        namespace: str,
        name: str,
        type: str,
        flow_id: str,
        task_id: str,
        starts: list[int],
        end_us: int,
        width: str,
        group_by_tag: str,
    ) -> list[tuple[str, int, float, float, float, int]]:
        """(group, bucket index, sum, min, max, count) for the non-empty buckets."""
        t = metrics.c.time_us
        if width in FIXED_US:
            size = FIXED_US[width]
            bucket: sa.ColumnElement[int] = (t - starts[0]) // size
        elif len(starts) == 1:
            # One calendar bucket: a CASE needs at least one WHEN.
            bucket = sa.literal(0, sa.Integer)
        else:
            bucket = sa.case(
                *((t < boundary, i) for i, boundary in enumerate(starts[1:])),
                else_=len(starts) - 1,
            )
        group: sa.ColumnElement[str] = sa.literal("")
        source: sa.FromClause = metrics
        if group_by_tag:
            source = metrics.outerjoin(
                metric_tags,
                sa.and_(metric_tags.c.metric_id == metrics.c.id, metric_tags.c.key == group_by_tag),
            )
            group = sa.func.coalesce(metric_tags.c.value, "")
        b = bucket.label("b")
        g = group.label("g")
        query = (
            sa.select(
                g,
                b,
                sa.func.sum(metrics.c.value),
                sa.func.min(metrics.c.value),
                sa.func.max(metrics.c.value),
                sa.func.count(),
            )
            .select_from(source)
            .where(
                metrics.c.namespace == namespace,
                metrics.c.name == name,
                metrics.c.type == type,
                t >= starts[0],
                t < end_us,
            )
            .group_by(g, b)
        )
        if flow_id:
            query = query.where(metrics.c.flow_id == flow_id)
        if task_id:
            query = query.where(metrics.c.task_id == task_id)
        return [
            (str(r[0]), int(r[1]), float(r[2]), float(r[3]), float(r[4]), int(r[5]))
            for r in self.conn.execute(query)
        ]

    # -- timers ---------------------------------------------------------------

    def due_timers(self, now_us: int, limit: int) -> list[Timer]:
        rows = self.conn.execute(
            sa.select(timers)
            .where(timers.c.due_time_us <= now_us)
            .order_by(timers.c.due_time_us)
            .limit(limit)
        ).mappings()
        return [_timer(r) for r in rows]

    def next_timer_due(self) -> int | None:
        value = self.conn.execute(sa.select(sa.func.min(timers.c.due_time_us))).scalar_one()
        return None if value is None else int(value)

    def count_timers(self) -> dict[str, int]:
        """Timers waiting to fire, by kind (the metrics' scrape)."""
        query = sa.select(timers.c.kind, sa.func.count()).group_by(timers.c.kind)
        return {str(kind): int(count) for kind, count in self.conn.execute(query)}

    def add_execution_labels(self, execution_id: str, labels: dict[str, str]) -> None:
        """Add (or overwrite) labels of a stored execution, written at once: an
        expired deadline's mark (``orchestration/deadlines.py``). The caller has
        the execution locked and set the labels on it."""
        self._immediate()
        row = self.conn.execute(
            sa.select(executions.c.labels).where(executions.c.id == execution_id)
        ).scalar_one()
        merged = {**codec.loads(row), **labels}
        text = codec.dumps_document(merged)
        self.conn.execute(
            sa.update(executions).where(executions.c.id == execution_id).values(labels=text)
        )
        self.conn.execute(
            sa.delete(execution_labels).where(
                execution_labels.c.execution_id == execution_id,
                execution_labels.c.key.in_(sorted(labels)),
            )
        )
        self.conn.execute(
            _INSERT_LABELS,
            [{"execution_id": execution_id, "key": k, "value": v} for k, v in labels.items()],
        )
        old = self._executions.get(execution_id)
        if old is not None:
            self._set(self._executions, execution_id, {**old, "labels": text})

    def take_timer(self, timer_id: str, *, due_by_us: int | None = None) -> bool:
        """Delete a timer that is about to fire; False if it is gone (cancelled, or
        fired by another process): the delete is what makes a timer fire once.
        With ``due_by_us``, only if it is still due by then (a heartbeat may have
        moved a lease's timer later since it was read)."""
        self._immediate()
        query = sa.delete(timers).where(timers.c.id == timer_id)
        if due_by_us is not None:
            query = query.where(timers.c.due_time_us <= due_by_us)
        result = self.conn.execute(query)
        return result.rowcount == 1

    # -- workers: claims and leases (the statements are storage/work.py's) ------

    def ready_task_runs(self, flt: TaskRunFilter, *, now_us: int, limit: int) -> list[str]:
        """Ids of up to ``limit`` ready task runs, oldest ready first; on
        PostgreSQL locked with their executions, skipping rows others hold."""
        self._immediate()
        query = work.ready_query(flt, now_us=now_us, limit=limit, lock=self.LOCKS_ROWS)
        return [str(i) for i in self.conn.execute(query).scalars()]

    def next_ready_time(self, flt: TaskRunFilter, *, now_us: int) -> int | None:
        """When a task run ``flt`` selects next becomes ready by the clock (a retry)."""
        value = self.conn.execute(work.next_ready_query(flt, now_us=now_us)).scalar()
        return None if value is None else int(value)

    def task_runs_by_id(self, task_run_ids: Sequence[str]) -> dict[str, TaskRun]:
        """Task runs by id, in one statement and without a lock (absent ones left out)."""
        self._immediate()
        ids = sorted(set(task_run_ids))
        rows = self.conn.execute(sa.select(task_runs).where(task_runs.c.id.in_(ids))).mappings()
        return {str(r["id"]): codec.task_run_from_row(r) for r in rows}

    def extend_leases(self, timer_ids: Sequence[str], *, due_us: int, now_us: int) -> set[str]:
        """Move lease timers not yet expired at ``now_us`` to ``due_us``; the ids moved."""
        self._immediate()
        if not timer_ids:
            return set()
        statement = work.extend_leases_statement(list(timer_ids), due_us=due_us, now_us=now_us)
        return {str(i) for i in self.conn.execute(statement).scalars()}

    def append_events(self, new_events: list[Event]) -> list[Event]:
        """Queue events for the log: :meth:`flush_events`, just before commit,
        gives every event of the transaction its sequence at once."""
        self.pending.extend(new_events)
        return new_events

    def finish(self) -> list[Event]:
        """The end of a write transaction: write what is kept, then the events
        (:meth:`flush_events`); return the transaction's events, in the list
        :attr:`appended`. A backend may send these statements with its COMMIT
        instead (PostgreSQL's pipeline: ``postgres.py``); the events then get their
        sequences, in the same list, once it has committed."""
        self.flush()
        self.flush_events()
        return self.appended

    def flush_events(self) -> list[Event]:
        """Give the queued events their sequences and store them (last thing
        before commit: the sequence row stays locked until then); return them."""
        new_events, self.pending = self.pending, []
        if not new_events:
            return []
        first = self._sequencer.allocate(self.conn, len(new_events))
        for offset, event in enumerate(new_events):
            event.sequence = first + offset
        _HOT_INSERT_EVENTS.many(self.conn, [codec.event_row(e) for e in new_events])
        self._announce(new_events[-1].sequence)
        self.appended.extend(new_events)
        return new_events

    # -- what differs between databases ---------------------------------------

    def _announce(self, last_sequence: int) -> None:
        """Tell other processes that events up to ``last_sequence`` commit with
        this transaction (where the database can: PostgreSQL's NOTIFY)."""

    def _insert_ignoring_conflicts(self, table: sa.Table, **values: Any) -> Any:
        raise NotImplementedError

    # -- the event log --------------------------------------------------------

    def read_events(
        self,
        after: int,
        *,
        limit: int,
        upto: int | None = None,
        flt: EventFilter | None = None,
    ) -> list[Event]:
        """Events with ``after < sequence <= upto`` matching ``flt``, in order."""
        query = sa.select(events).where(events.c.sequence > after)
        if upto is not None:
            query = query.where(events.c.sequence <= upto)
        if flt is not None:
            if flt.scope:
                query = query.where(in_scope(events.c.namespace, flt.scope))
            if flt.namespace:
                query = query.where(events.c.namespace == flt.namespace)
            if flt.flow_id:
                query = query.where(events.c.flow_id == flt.flow_id)
            if flt.execution_ids:
                query = query.where(events.c.execution_id.in_(sorted(flt.execution_ids)))
            if flt.states:
                query = query.where(events.c.state.in_(sorted(s.value for s in flt.states)))
        query = query.order_by(events.c.sequence).limit(limit)
        return [codec.event_from_row(r) for r in self.conn.execute(query).mappings()]

    def first_available_sequence(self) -> int:
        """The oldest sequence still in the log (or the next one, if the log is empty)."""
        first = self.conn.execute(sa.select(sa.func.min(events.c.sequence))).scalar_one()
        return int(first) if first is not None else self.last_sequence() + 1

    def read_events_page(
        self,
        after: int,
        *,
        limit: int,
        upto: int | None = None,
        flt: EventFilter | None = None,
    ) -> tuple[list[Event], int]:
        """A page of :meth:`read_events`, then the first available sequence.

        Read in this order so that a compaction between the two statements can
        only make the caller see a compacted cursor, never miss events silently.
        """
        page = self.read_events(after, limit=limit, upto=upto, flt=flt)
        return page, self.first_available_sequence()

    def compact_events(self, *, keep_last: int, older_than_us: int | None) -> int:
        """Delete the oldest events beyond the retention; return the last deleted sequence.

        Only a prefix of the log is ever deleted (by sequence), so retention by age
        cannot leave holes where commit times and sequences disagree slightly.
        On PostgreSQL the partitions below the cutoff are dropped before, in a
        transaction of their own (``partitions.drop_expired``): what is left to
        delete here is the boundary partition's rows.
        """
        self._immediate()
        cutoff = self.compaction_cutoff(keep_last=keep_last, older_than_us=older_than_us)
        if cutoff > 0:
            self.conn.execute(sa.delete(events).where(events.c.sequence <= cutoff))
        return cutoff

    def compaction_cutoff(self, *, keep_last: int, older_than_us: int | None) -> int:
        """The last sequence the retention deletes (0: none): all but the newest
        ``keep_last``, and the longest prefix of events older than ``older_than_us``.

        The prefix ends before the oldest event that is not old: found from the
        oldest event on, it reads what is to be deleted, not the whole log kept,
        and never deletes an event younger than the limit (commit times of two
        replicas may disagree slightly with the order of their sequences).
        """
        last = self.last_sequence()
        cutoff = 0
        if keep_last > 0:
            cutoff = max(cutoff, last - keep_last)
        oldest = None if older_than_us is None else self._oldest_sequence()
        if oldest is not None:
            young = self.conn.execute(
                sa.select(events.c.sequence)
                .where(events.c.time_us >= older_than_us)
                .order_by(events.c.sequence)
                .limit(1)
            ).scalar()
            if young is None:  # every event is old
                young = int(self.conn.execute(_SELECT_NEWEST_EVENT).scalar_one()) + 1
            if young > oldest:
                cutoff = max(cutoff, int(young) - 1)
        return min(cutoff, last)

    def _oldest_sequence(self) -> int | None:
        oldest = self.conn.execute(sa.select(sa.func.min(events.c.sequence))).scalar()
        return None if oldest is None else int(oldest)

    def expire_requests(self, *, created_before_us: int, limit: int) -> int:
        """Delete up to ``limit`` request-id records made before ``created_before_us``
        (oldest first, by the index of migration 0007); return how many."""
        self._immediate()
        oldest = (
            sa.select(requests.c.caller, requests.c.request_id)
            .where(requests.c.create_time_us < created_before_us)
            .order_by(requests.c.create_time_us)
            .limit(limit)
        )
        keys = [tuple(row) for row in self.conn.execute(oldest)]
        if not keys:
            return 0
        result = self.conn.execute(
            sa.delete(requests).where(
                sa.tuple_(requests.c.caller, requests.c.request_id).in_(keys),
                requests.c.create_time_us < created_before_us,
            )
        )
        return int(result.rowcount)

    def last_sequence(self) -> int:
        """The newest committed sequence (the counter: it survives compaction)."""
        return int(self.conn.execute(_SELECT_LAST_SEQUENCE).scalar_one())

    # -- idempotency ----------------------------------------------------------

    def get_request(
        self, caller: str, request_id: str, *, not_before_us: int = 0
    ) -> StoredRequest | None:
        """The record of ``request_id``; None if there is none, or if it was made
        before ``not_before_us`` (expired: the sweep has not deleted it yet, and a
        :meth:`put_request` of the same id replaces it)."""
        kept = self._new_requests.get((caller, request_id))
        if kept is not None:
            return StoredRequest(kept["method"], kept["fingerprint"], kept["response"])
        row = self.conn.execute(
            _SELECT_REQUEST, {"caller": caller, "request_id": request_id}
        ).first()
        if row is None:
            return None
        if int(row[3]) < not_before_us:
            self._expired_requests[(caller, request_id)] = not_before_us
            return None
        return StoredRequest(row[0], row[1], bytes(row[2]))

    def put_request(
        self,
        caller: str,
        request_id: str,
        method: str,
        fingerprint: str,
        response: bytes,
        now_us: int,
    ) -> None:
        self._set(
            self._new_requests,
            (caller, request_id),
            {
                "caller": caller,
                "request_id": request_id,
                "method": method,
                "fingerprint": fingerprint,
                "response": response,
                "create_time_us": now_us,
            },
        )

    # -- access ---------------------------------------------------------------------

    def namespace_of(self, kind: str, resource_id: str) -> str | None:
        """The namespace of an execution or a task run (``kind``), None if it does not exist."""
        query = _SELECT_EXECUTION_NAMESPACE if kind == "execution" else _SELECT_TASK_RUN_NAMESPACE
        value = self.conn.execute(query, {"id": resource_id}).scalar()
        return None if value is None else str(value)

    def insert_credential(self, row: dict[str, Any]) -> bool:
        """Store a new credential; False if its name (or subject) is taken."""
        self._immediate()
        same = credentials.c.name == row["name"]
        if row["certificate_subject"]:
            same = sa.or_(same, credentials.c.certificate_subject == row["certificate_subject"])
        taken = self.conn.execute(sa.select(credentials.c.name).where(same)).first()
        if taken is not None:
            return False
        self.conn.execute(sa.insert(credentials), row)
        return True

    def list_credentials(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(sa.select(credentials).order_by(credentials.c.name)).mappings()
        return [dict(r) for r in rows]

    def revoke_credential(self, name: str, now_us: int) -> dict[str, Any] | None:
        """Revoke ``name`` (once: a second revocation keeps the first time)."""
        self._immediate()
        self.conn.execute(
            sa.update(credentials)
            .where(credentials.c.name == name, credentials.c.revoke_time_us.is_(None))
            .values(revoke_time_us=now_us)
        )
        row = self.conn.execute(sa.select(credentials).where(credentials.c.name == name)).first()
        return None if row is None else dict(row._mapping)

    # -- secrets ----------------------------------------------------------------

    def server_secret(self, name: str, candidate: str) -> str:
        """The secret ``name`` that every replica shares: ``candidate`` if none was made yet."""
        self._immediate()
        self.conn.execute(self._insert_ignoring_conflicts(secrets, name=name, value=candidate))
        value = self.conn.execute(sa.select(secrets.c.value).where(secrets.c.name == name))
        return str(value.scalar_one())


def _delete_timers(execution_id: str, task_run_id: str | None, kind: str | None) -> Any:
    query = sa.delete(timers).where(timers.c.execution_id == execution_id)
    if task_run_id is not None:
        query = query.where(timers.c.task_run_id == task_run_id)
    if kind is not None:
        query = query.where(timers.c.kind == kind)
    return query


def _timer(row: Any) -> Timer:
    return Timer(
        id=row["id"],
        execution_id=row["execution_id"],
        task_run_id=row["task_run_id"],
        kind=row["kind"],
        action=row["action"],
        due_time_us=row["due_time_us"],
    )


def _where_execution_matches(query: Any, flt: ExecutionFilter) -> Any:
    """``query`` narrowed to the executions ``flt`` selects (ListExecutions, CountExecutions)."""
    if flt.scope:
        query = query.where(in_scope(executions.c.namespace, flt.scope))
    if flt.namespace:
        query = query.where(executions.c.namespace == flt.namespace)
    if flt.flow_id:
        query = query.where(executions.c.flow_id == flt.flow_id)
    if flt.states:
        query = query.where(executions.c.state.in_([s.value for s in flt.states]))
    for i, (key, value) in enumerate(flt.labels):
        if i == 0:
            # The first label drives the query through the (key, value) index:
            # its cost follows that label's matches, not the number of executions;
            # the others are primary-key lookups on each match.
            query = query.where(
                executions.c.id.in_(
                    sa.select(execution_labels.c.execution_id).where(
                        execution_labels.c.key == key, execution_labels.c.value == value
                    )
                )
            )
        else:
            query = query.where(
                sa.exists().where(
                    execution_labels.c.execution_id == executions.c.id,
                    execution_labels.c.key == key,
                    execution_labels.c.value == value,
                )
            )
    return query


def in_scope(column: Any, patterns: tuple[str, ...]) -> Any:
    """SQL for "``column`` is covered by one of ``patterns``" (orchestration/filters.py ``matches``)."""
    clauses = []
    for pattern in patterns:
        if pattern == "*":
            return sa.true()
        if pattern.endswith(".*"):
            prefix = pattern[:-2]
            clauses.append(column == prefix)
            clauses.append(column.startswith(prefix + ".", autoescape=True))
        else:
            clauses.append(column == pattern)
    return sa.or_(*clauses) if clauses else sa.false()
