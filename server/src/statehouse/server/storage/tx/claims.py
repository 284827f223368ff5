"""Workers' claims and leases as a transaction runs them (the statements are
``storage/work.py``'s; docs/design.md, "Workers")."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from ...orchestration import TaskRun
from ...orchestration.filters import TaskRunFilter
from .. import codec, work
from ..schema import task_runs
from .core import TxCore


class ClaimWrites(TxCore):
    """Finding ready task runs and extending leases, in a write transaction."""

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
