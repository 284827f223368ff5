"""The PostgreSQL backend: replicas share one database server.

Statements go through psycopg's asyncio mode (SQLAlchemy runs the same
synchronous transaction code in a greenlet), so network waits never block the
event loop and no thread per request fights over the GIL. Reads for update
lock rows; commits of events are announced with NOTIFY, and every replica
LISTENs on a thread of its own, reconnecting by itself. Migrations of replicas
starting together take turns under an advisory lock.

This module is the only one that imports SQLAlchemy's asyncio engine (it needs
greenlet, which the embedded SQLite default does without).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine

from .errors import unavailable_on_disconnect
from .sequencer import Sequencer
from .tx import EVENTS_CHANNEL, Tx

if TYPE_CHECKING:
    from .store import StoreOptions

T = TypeVar("T")

log = logging.getLogger("statehouse.storage")

#: The advisory lock key that serializes migrations of replicas.
MIGRATION_LOCK = 0x5747_4845


class PostgresTx(Tx):
    """A PostgreSQL transaction: reads for update lock their rows."""

    LOCKS_ROWS = True

    def _announce(self, last_sequence: int) -> None:
        # Delivered at commit to every replica's listener: the log is the truth,
        # this only wakes readers up. The payload is the last sequence, so a
        # replica that already has it (its own commit, dispatched locally) skips
        # the read.
        self.conn.exec_driver_sql(f"NOTIFY {EVENTS_CHANNEL}, '{int(last_sequence)}'")

    def _insert_ignoring_conflicts(self, table: sa.Table, **values: Any) -> Any:
        return postgresql.insert(table).values(**values).on_conflict_do_nothing()


def _run(conn: sa.Connection, sequencer: Sequencer, fn: Callable[[Tx], T]) -> T:
    return fn(PostgresTx(conn, sequencer))


class PostgresBackend:
    def __init__(self, url: sa.URL, options: StoreOptions, sequencer: Sequencer) -> None:
        self.url = url
        self._sequencer = sequencer
        #: For migrations and the offline tools.
        self.engine = sa.create_engine(url, pool_size=2, pool_pre_ping=True)
        size = options.writers + options.readers
        self.async_engine = create_async_engine(
            url, pool_size=size, max_overflow=size, pool_pre_ping=True
        )
        self._listener: threading.Thread | None = None

    def engines(self) -> list[sa.Engine]:
        return [self.engine, self.async_engine.sync_engine]

    def thread_pools(self) -> dict[str, tuple[ThreadPoolExecutor, int]]:
        return {}  # statements run on the event loop (psycopg's asyncio mode)

    def connection_pools(self) -> dict[str, sa.Pool]:
        # "postgresql": every transaction of the server; "postgresql_sync": migrations.
        return {
            "postgresql": self.async_engine.sync_engine.pool,
            "postgresql_sync": self.engine.pool,
        }

    @contextlib.contextmanager
    def migration_lock(self, conn: sa.Connection) -> Iterator[None]:
        """Replicas starting together take turns; whoever comes second finds nothing to do."""
        conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
        conn.commit()
        try:
            yield
        finally:
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
            conn.commit()

    def run_sync(self, fn: Callable[[Tx], T], *, write: bool) -> T:
        """``fn`` in a transaction on the synchronous engine, on the calling thread."""
        with unavailable_on_disconnect(), self.engine.connect() as conn, conn.begin():
            return _run(conn, self._sequencer, fn)

    async def transaction(self, fn: Callable[[Tx], T], *, write: bool, heavy: bool) -> T:
        with unavailable_on_disconnect():
            async with self.async_engine.connect() as conn, conn.begin():
                return await conn.run_sync(_run, self._sequencer, fn)

    def listen_for_commits(self, wake: Callable[[int], object], closing: threading.Event) -> None:
        """Call ``wake(last_sequence)`` (from a thread) on every NOTIFY of any
        replica, ``wake(0)`` after a reconnect (what was committed is unknown)."""
        if self._listener is not None:
            return
        self._listener = threading.Thread(
            target=self._listen, args=(wake, closing), name="statehouse-listen", daemon=True
        )
        self._listener.start()

    def _listen(self, wake: Callable[[int], object], closing: threading.Event) -> None:
        import psycopg

        dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not closing.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                    wake(0)  # anything committed while we were not listening
                    while not closing.is_set():
                        for notify in conn.notifies(timeout=0.5, stop_after=1):
                            wake(int(notify.payload or 0))
            except Exception:  # the database went away: try again shortly
                if closing.wait(1.0):
                    return
                log.warning("event listener reconnecting to the database")

    async def aclose(self) -> None:
        await self.async_engine.dispose()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.join(timeout=5)
        self.engine.dispose()
