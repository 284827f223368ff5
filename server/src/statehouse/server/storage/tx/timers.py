"""Timers as a transaction sees them: the due ones, the next one, taking one.

A timer is written with the change that sets it (the core's write-back keeps
its insert or its deletion); the scheduler reads the due ones and takes each
before it fires: the delete is what makes a timer fire once (docs/design.md,
"Timers").
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ...orchestration import Timer
from ..schema import timers
from .core import TxCore


class TimerReads(TxCore):
    """What the scheduler and the metrics read of the timers."""

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


class TimerWrites(TimerReads):
    """Taking a timer that is about to fire."""

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


def _timer(row: Any) -> Timer:
    return Timer(
        id=row["id"],
        execution_id=row["execution_id"],
        task_run_id=row["task_run_id"],
        kind=row["kind"],
        action=row["action"],
        due_time_us=row["due_time_us"],
    )
