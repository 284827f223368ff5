"""The seam that gives events their global sequence, in commit order.

The invariant: once any reader has seen sequence N, no event below N can
become visible later. :class:`CounterRowSequencer` keeps it on every database
by taking the next numbers from a counter row with ``UPDATE ... RETURNING``:
the update locks the row until the transaction ends (a row lock on
PostgreSQL, the database write lock on SQLite), so a transaction holding
sequence N commits before any transaction can take N+1. Commands call it last,
just before commit, so the lock is held as briefly as possible. Another
strategy (transaction ids and ``pg_snapshot_xmin``, a single sequencer) would
replace this class and nothing above it (docs/design.md, "Storage").
"""

from __future__ import annotations

from typing import Protocol

import sqlalchemy as sa

from .hot import Hot
from .schema import EVENT_SEQUENCE, counters


class Sequencer(Protocol):
    def allocate(self, conn: sa.Connection, count: int) -> int:
        """Reserve ``count`` consecutive sequences; return the first."""


class CounterRowSequencer:
    """Sequences from a locked counter row (see the module docstring)."""

    #: Run on the driver's cursor (``hot.py``): every write transaction runs it.
    _statement = Hot(
        sa.update(counters)
        .where(counters.c.name == EVENT_SEQUENCE)
        .values(value=counters.c.value + sa.bindparam("count"))
        .returning(counters.c.value)
    )

    def allocate(self, conn: sa.Connection, count: int) -> int:
        row = self._statement.one(conn, {"count": count})
        if row is None:
            raise RuntimeError(f"no {EVENT_SEQUENCE!r} counter row: the database is not migrated")
        return int(row[0]) - count + 1
