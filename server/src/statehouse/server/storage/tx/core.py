"""What every part of the Tx shares: the connection, the rows seen, the kept
changes with their journal, and the write-back that writes them.

**Write-behind.** The changes of ``save`` (and idempotency records) are not
written at once: they are kept, merged per row, and written by
:meth:`TxCore.flush` with one statement per kind of row for the whole
transaction (``executemany``), which the store calls once before commit. Reads
see the kept changes (an execution or task run loaded again in the same
transaction comes from the latest row, kept or read), so that two writes of one
group commit see each other's effects. Every other statement first flushes what
is kept (:meth:`TxCore._immediate`), so that the database sees the changes in
the order they were made.

**One write of a batch.** The store runs each write of a group commit between
:meth:`TxCore.begin_write` and :meth:`TxCore.end_write`: a write that fails has
its kept changes and events undone (a journal), and the statements it ran
itself (a delete, a metric) rolled back to a savepoint opened before its first
one.

The statements here are the hot path's (docs/design.md, "Storage"): built
once, the updates run on the driver's cursor (``hot.py``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ...orchestration import Event, Execution, RevisionMismatch, TaskRun
from ..codec import TASK_RUN_MUTABLE
from ..errors import BatchConflict, is_unreachable
from ..hot import Hot
from ..schema import execution_labels, executions, requests, task_runs, timers
from ..sequencer import Sequencer

# The statements of the write-back, built once: building a statement costs more
# than executing it once it is in SQLAlchemy's compiled cache.
_INSERT_EXECUTION = sa.insert(executions)
INSERT_LABELS = sa.insert(execution_labels)
_INSERT_TASK_RUNS = sa.insert(task_runs)
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
_HOT_UPDATE_EXECUTION_LIGHT = Hot(_UPDATE_EXECUTION_LIGHT)
_HOT_UPDATE_EXECUTION = Hot(_UPDATE_EXECUTION)
_UPDATE_TASK_RUN = (
    sa.update(task_runs)
    .where(task_runs.c.id == sa.bindparam("_id"))
    .values({name: sa.bindparam(name) for name in TASK_RUN_MUTABLE})
)
_HOT_UPDATE_TASK_RUN = Hot(_UPDATE_TASK_RUN)
_INSERT_REQUEST = sa.insert(requests)
_DELETE_EXPIRED_REQUEST = sa.delete(requests).where(
    requests.c.caller == sa.bindparam("c"),
    requests.c.request_id == sa.bindparam("r"),
    requests.c.create_time_us < sa.bindparam("t"),
)

_ABSENT = object()


class SeenRows:
    """The latest row of each execution and task run a transaction has seen (read,
    or changed and kept), with what they decode to.

    A transaction makes its own, unless it is handed the rows an earlier
    transaction on the same connection left: the SQLite writer does so while no
    other connection has committed since (``sqlite.py``, ``KeptRows``), and the
    next state change of a task run then neither reads nor decodes it again.
    """

    __slots__ = (
        "decoded",
        "decoded_task_runs",
        "executions",
        "history_len",
        "saved_executions",
        "saved_task_runs",
        "task_runs",
    )

    def __init__(self) -> None:
        self.executions: dict[str, Any] = {}
        self.task_runs: dict[str, Any] = {}
        #: History lengths of executions as read, to update only what changed.
        self.history_len: dict[str, int] = {}
        #: Each execution's latest row with what it decodes to: a batch that moves
        #: many task runs of one execution decodes it once (keyed by the row
        #: object itself, so a row replaced or restored is decoded again).
        self.decoded: dict[str, tuple[Any, Execution]] = {}
        #: The same for task runs. Only copies of these objects are handed out.
        self.decoded_task_runs: dict[str, tuple[Any, TaskRun]] = {}
        #: Those whose object is a write's own (``changes.settle``).
        self.saved_task_runs: set[str] = set()
        self.saved_executions: set[str] = set()

    def clear(self) -> None:
        self.executions.clear()
        self.task_runs.clear()
        self.history_len.clear()
        self.decoded.clear()
        self.decoded_task_runs.clear()
        self.saved_task_runs.clear()
        self.saved_executions.clear()


class TxCore:
    """A transaction's state, its journal and its write-back (the module's docstring).

    Backends subclass :class:`~.Tx` for what differs between databases (row
    locks, the notification of commits, an insert that ignores conflicts).
    """

    #: Whether reads for update lock rows (PostgreSQL); SQLite's write
    #: transaction holds the whole database instead.
    LOCKS_ROWS = False

    def __init__(
        self, conn: sa.Connection, sequencer: Sequencer, seen: SeenRows | None = None
    ) -> None:
        self.conn = conn
        self._sequencer = sequencer
        #: Events of this transaction waiting for their sequences (flush_events).
        self.pending: list[Event] = []
        #: Events appended in this transaction, with their sequences, for the
        #: live fan-out once the transaction has committed.
        self.appended: list[Event] = []
        # The latest row of each execution and task run this transaction has seen
        # (read, or changed and kept), and those it holds the lock of.
        self.seen = seen if seen is not None else SeenRows()
        self._executions = self.seen.executions
        self._task_runs = self.seen.task_runs
        self._locked: set[str] = set()
        self._history_len = self.seen.history_len
        self._decoded = self.seen.decoded
        self._decoded_task_runs = self.seen.decoded_task_runs
        # Kept changes, written by flush().
        self._new_executions: dict[str, dict[str, Any]] = {}
        self._new_labels: list[dict[str, Any]] = []
        self._execution_updates: dict[str, dict[str, Any]] = {}
        self._new_task_runs: dict[str, dict[str, Any]] = {}
        self._task_run_updates: dict[str, dict[str, Any]] = {}
        #: ("delete", (execution_id, task_run_id, kind)) or ("insert", row), in order.
        self._timer_ops: list[tuple[str, Any]] = []
        #: Whether this transaction set a timer (the store then wakes the scheduler
        #: once it has committed: the new timer may be due before it looks again).
        self.timers_armed = False
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
        self.seen.clear()
        self._locked.clear()

    def _immediate(self) -> None:
        """Before a statement that writes at once: flush what is kept, and open this
        write's savepoint if it shares the transaction with others."""
        self.flush()
        if self.shared and self._savepoint is None and self._journal is not None:
            self._savepoint = self.conn.begin_nested()

    def append_events(self, new_events: list[Event]) -> list[Event]:
        """Queue events for the log: ``flush_events``, just before commit,
        gives every event of the transaction its sequence at once."""
        self.pending.extend(new_events)
        return new_events

    # -- the write-back -------------------------------------------------------

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
        if not self.timers_armed:
            self.timers_armed = any(op == "insert" for op, _ in timer_ops)
        new_requests, self._new_requests = list(self._new_requests.values()), {}
        if new_executions:
            conn.execute(_INSERT_EXECUTION, new_executions)
        if labels:
            conn.execute(INSERT_LABELS, labels)
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

    # -- what differs between databases ---------------------------------------

    def _insert_ignoring_conflicts(self, table: sa.Table, **values: Any) -> Any:
        raise NotImplementedError


def _delete_timers(execution_id: str, task_run_id: str | None, kind: str | None) -> Any:
    query = sa.delete(timers).where(timers.c.execution_id == execution_id)
    if task_run_id is not None:
        query = query.where(timers.c.task_run_id == task_run_id)
    if kind is not None:
        query = query.where(timers.c.kind == kind)
    return query
