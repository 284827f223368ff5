"""The statements of workers' calls: finding ready task runs, extending leases.

A task run is *ready* when it is CREATED, or RESTARTED with its next attempt
due (no ``next_attempt_time_us``, or one that has passed), in an execution
that lets a task run start (CREATED, RUNNING or RESTARTED: not PAUSED, not
KILLING, not ended). The rules decide again on each row found
(``guards.START_TASK_RUN``, as for TransitionTaskRun); this only finds them.

Claims take the oldest ready first: by the time each became ready,
``COALESCE(next_attempt_time_us, update_time_us)`` (a CREATED or RESTARTED
task run last changed when it entered that state; a retry is ready at its
next attempt time), then by id. The partial index of migration 0009 holds
exactly the task runs in those two states, so the search reads ready
candidates, never the finished ones.

On PostgreSQL the rows found (task run and execution) are locked ``FOR UPDATE
SKIP LOCKED``: concurrent claims on several replicas each take rows nobody
else holds, and a claim never waits for a lock, so it cannot deadlock with
writers that lock an execution before its task runs. SQLite's one writer
serializes claims.

Callers: :class:`~statehouse.server.storage.tx.Tx` only.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.selectable import Join

from ..orchestration import State
from ..orchestration.filters import TaskRunFilter
from .schema import execution_labels, executions, task_runs, timers
from .scope import in_scope

#: Task run states a claim may start (the partial index holds these rows).
READY_TASK_RUN_STATES = (State.CREATED.value, State.RESTARTED.value)
#: Execution states in which a task run may start.
_RUNNABLE_EXECUTION_STATES = (State.CREATED.value, State.RUNNING.value, State.RESTARTED.value)


def _literal_in(column: Any, values: tuple[str, ...]) -> Any:
    """``column IN ('A', 'B')`` with the values written into the statement, not
    bound: a planner can use a partial index only when it can prove the
    query's WHERE implies the index's, which it cannot with parameters (SQLite
    never; PostgreSQL not in the generic plan psycopg settles on after five
    executions of a prepared statement). The values are this module's
    constants, never a caller's."""
    return column.in_([sa.literal_column(f"'{v}'") for v in values])


class _ReadyFirst(Join):
    """``task_runs JOIN executions``, written ``CROSS JOIN`` on SQLite: there
    the left table of a CROSS JOIN is always the outer loop, so the claim walks
    the partial index of ready task runs in its order and stops at the limit,
    instead of reading every execution of the filter's namespace and flow
    (SQLite's guess for an equality on an index, with no statistics) and
    sorting all their ready task runs. PostgreSQL plans it as a join."""

    inherit_cache = True


@compiles(_ReadyFirst, "sqlite")
def _cross_join_on_sqlite(element: _ReadyFirst, compiler: Any, **kw: Any) -> str:
    text: str = compiler.visit_join(element, **kw)
    return text.replace(" JOIN ", " CROSS JOIN ", 1)


#: When a ready task run became ready.
READY_TIME = sa.func.coalesce(task_runs.c.next_attempt_time_us, task_runs.c.update_time_us)


def _selected(query: Any, flt: TaskRunFilter) -> Any:
    query = query.select_from(
        _ReadyFirst(task_runs, executions, task_runs.c.execution_id == executions.c.id)
    )
    query = query.where(
        _literal_in(task_runs.c.state, READY_TASK_RUN_STATES),
        _literal_in(executions.c.state, _RUNNABLE_EXECUTION_STATES),
    )
    if flt.scope:
        query = query.where(in_scope(executions.c.namespace, flt.scope))
    if flt.namespace:
        query = query.where(executions.c.namespace == flt.namespace)
    if flt.flow_id:
        query = query.where(executions.c.flow_id == flt.flow_id)
    if flt.task_ids:
        query = query.where(task_runs.c.task_id.in_(sorted(flt.task_ids)))
    for key, value in flt.labels:
        query = query.where(
            sa.exists().where(
                execution_labels.c.execution_id == executions.c.id,
                execution_labels.c.key == key,
                execution_labels.c.value == value,
            )
        )
    return query


#: PostgreSQL: around the claim's statement, in its transaction only. Without
#: statistics (a table filled faster than autovacuum analyzes it: 20,000 task
#: runs made in half a minute) the planner guesses that a namespace and flow
#: select one execution, reads every ready task run of the filter's executions
#: (ANDing the whole partial index into each) and sorts them: half a second
#: per claim. Without a sort the one plan left walks the partial index in
#: order and stops at the limit, as SQLite's CROSS JOIN does (:class:`_ReadyFirst`).
NO_SORT = "SET LOCAL enable_sort = off"
SORT_AGAIN = "SET LOCAL enable_sort TO DEFAULT"


def ready_query(flt: TaskRunFilter, *, now_us: int, limit: int, lock: bool) -> Any:
    """Ids of up to ``limit`` ready task runs, oldest ready first (locked,
    skipping what others hold, with ``lock``)."""
    query = _selected(sa.select(task_runs.c.id), flt).where(
        sa.or_(
            task_runs.c.next_attempt_time_us.is_(None),
            task_runs.c.next_attempt_time_us <= now_us,
        )
    )
    query = query.order_by(READY_TIME, task_runs.c.id).limit(limit)
    if lock:
        query = query.with_for_update(skip_locked=True)
    return query


def next_ready_query(flt: TaskRunFilter, *, now_us: int) -> Any:
    """The earliest time a task run ``flt`` selects becomes ready by the clock
    alone (a retry's next attempt time still ahead), or NULL."""
    return _selected(sa.select(sa.func.min(task_runs.c.next_attempt_time_us)), flt).where(
        task_runs.c.next_attempt_time_us > now_us
    )


def extend_leases_statement(ids: list[str], *, due_us: int, now_us: int) -> Any:
    """Move the lease timers ``ids`` to ``due_us``, those not yet expired at
    ``now_us`` only (an expired lease is lost, fired or not), returning the ids
    moved."""
    return (
        sa.update(timers)
        .where(timers.c.id.in_(ids), timers.c.due_time_us > now_us)
        .values(due_time_us=due_us)
        .returning(timers.c.id)
    )
