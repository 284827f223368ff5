"""Executions and task runs as a transaction reads them.

Each row read is kept with the transaction (the core's ``_executions`` and
``_task_runs``), so that the writes of one batch see each other's effects; an
execution is decoded once per row and handed out as a copy (``_decoded``: the
rules append to its lists). Reads for update lock their rows on PostgreSQL
(``LOCKS_ROWS``); how they are locked and written is ``changes.py``'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import sqlalchemy as sa

from ...orchestration import (
    TERMINAL_STATES,
    Attempt,
    Execution,
    State,
    TaskRun,
    UnreadableRecord,
)
from ...orchestration.filters import ExecutionFilter
from ...orchestration.leases import lease_timer_id
from .. import codec
from ..schema import execution_labels, executions, task_runs, timers
from ..scope import in_scope
from .core import TxCore

#: Lease timers read in one statement by :meth:`ExecutionReads.fill_lease_expiry`.
_LEASES_PER_READ = 500


@dataclass(frozen=True, slots=True)
class StoredTaskRun:
    """A task run as GetTaskRun reads it: with where its execution stands."""

    task_run: TaskRun
    #: The execution's namespace, revision and state, read with the task run.
    namespace: str
    execution_revision: int
    execution_state: State


ACTIVE = [s.value for s in State if s not in TERMINAL_STATES]
TERMINAL = [s.value for s in TERMINAL_STATES]

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
_COUNT_ACTIVE = sa.select(sa.func.count()).where(
    task_runs.c.execution_id == sa.bindparam("execution_id"), task_runs.c.state.in_(ACTIVE)
)
_SELECT_TASK_RUNS_OF = (
    sa.select(task_runs)
    .where(task_runs.c.execution_id == sa.bindparam("execution_id"))
    .order_by(task_runs.c.position)
)


#: Every field of an Execution, in the order of its constructor's arguments.
_EXECUTION_FIELDS = attrgetter(*(f.name for f in dataclasses.fields(Execution)))
assert all(f.init and not f.kw_only for f in dataclasses.fields(Execution))


def copy_execution(ex: Execution) -> Execution:
    """A copy the rules may change (they append to histories) without changing
    the original: its lists and labels are its own; entries are never changed.
    Every other field is carried over as it is, a field added later included
    (read all at once, then passed in order: ``copy.copy`` of a slotted
    dataclass sets its fields one by one, a sixth of a batch's writer time)."""
    copied = Execution(*_EXECUTION_FIELDS(ex))
    copied.history = list(ex.history)
    copied.labels = dict(ex.labels)
    copied.task_runs = []
    return copied


_TASK_RUN_FIELDS = attrgetter(*(f.name for f in dataclasses.fields(TaskRun)))
assert all(f.init and not f.kw_only for f in dataclasses.fields(TaskRun))


def copy_task_run(tr: TaskRun) -> TaskRun:
    """A copy the rules may change (they append to histories, move the last
    attempt) without changing the original: its lists and attempts are its own.
    An attempt's lease expiry is left out, as a row decodes without it (it is
    the lease timer's: ``fill_lease_expiry``)."""
    copied = TaskRun(*_TASK_RUN_FIELDS(tr))
    copied.history = list(tr.history)
    copied.attempts = [
        Attempt(a.number, a.state, list(a.history), a.worker_id, a.lease_us) for a in tr.attempts
    ]
    return copied


class ExecutionReads(TxCore):
    """Reads of executions and task runs, through what this transaction has seen."""

    def _remember_execution(self, row: Any, locked: bool) -> Execution:
        cached = self._decoded.get(row["id"])
        if cached is not None and cached[0] is row:
            execution = copy_execution(cached[1])
        else:
            execution = codec.execution_from_row(row)
            self._decoded[execution.id] = (row, copy_execution(execution))
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

    def _task_run_of(self, row: Any) -> TaskRun:
        """What ``row`` decodes to, as a copy of its own: a row seen before is
        not decoded again."""
        cached = self._decoded_task_runs.get(row["id"])
        if cached is not None and cached[0] is row:
            return copy_task_run(cached[1])
        task_run = codec.task_run_from_row(row)
        self._decoded_task_runs[task_run.id] = (row, copy_task_run(task_run))
        return task_run

    def _remember_task_run(self, row: Any, locked: bool) -> TaskRun:
        task_run = self._task_run_of(row)
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
