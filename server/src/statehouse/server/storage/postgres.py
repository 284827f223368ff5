"""The PostgreSQL backend: replicas share one database server.

Statements go through psycopg's asyncio mode (SQLAlchemy runs the same
synchronous transaction code in a greenlet), so network waits never block the
event loop and no thread per request fights over the GIL. Reads for update
lock rows; commits of events are announced with NOTIFY, and every replica
LISTENs on a thread of its own, reconnecting by itself. Migrations of replicas
starting together take turns under an advisory lock.

Every connection, the listener's included, is opened from the one URL through
the dialect's connection arguments, so several hosts (``url.py``) mean the
same to all of them: the host that is the primary now. A write transaction has
``StoreOptions.commit_timeout`` to finish (docs/design.md, "Storage"); when it
is cut short, or its connection lost, after COMMIT was sent, its outcome is
unknown and it says so (:class:`CommitOutcomeUnknown`).

This module is the only one that imports SQLAlchemy's asyncio engine (it needs
greenlet, which the embedded SQLite default does without).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine

from ..telemetry import OutageLog
from .errors import (
    CommitOutcomeUnknown,
    StorageUnavailable,
    is_unreachable,
    unavailable_on_disconnect,
)
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


def _shut(conn: Any) -> None:
    """Shut ``conn``'s socket under whatever waits on it (no cancel request)."""
    with contextlib.suppress(Exception):
        fd = conn.sync_connection.connection.driver_connection.pgconn.socket
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)


async def _discard(conn: Any) -> None:
    """Close ``conn`` without a rollback: its state is unknown."""
    if conn is not None:
        with contextlib.suppress(Exception):
            await conn.invalidate()
        with contextlib.suppress(Exception):
            await conn.close()


class PostgresBackend:
    def __init__(
        self, url: sa.URL, options: StoreOptions, sequencer: Sequencer, outage: OutageLog
    ) -> None:
        self.url = url
        self._sequencer = sequencer
        self._outage = outage
        #: For migrations and the offline tools.
        self.engine = sa.create_engine(url, pool_size=2, pool_pre_ping=True)
        size = options.writers + options.readers
        self.async_engine = create_async_engine(
            url, pool_size=size, max_overflow=size, pool_pre_ping=True
        )
        self._listener: threading.Thread | None = None
        #: Commits past their bound, finishing by themselves, with their connections.
        self._late: dict[asyncio.Task[None], Any] = {}

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

    async def transaction(
        self, fn: Callable[[Tx], T], *, write: bool, heavy: bool, bound: float | None = None
    ) -> T:
        if bound is None:
            with unavailable_on_disconnect():
                async with self.async_engine.connect() as conn, conn.begin():
                    return await conn.run_sync(_run, self._sequencer, fn)
        return await self._bounded(fn, bound)

    async def _bounded(self, fn: Callable[[Tx], T], bound: float) -> T:
        """``fn`` in a transaction that has ``bound`` seconds to commit.

        Cut short before COMMIT was sent, its statement is cancelled and nothing
        is stored (StorageUnavailable). Once COMMIT is sent it is never
        cancelled: a primary waiting for its synchronous standby would then make
        the change visible without the standby having it, and a retry would find
        it and acknowledge it. Past the bound the commit is left to finish on
        its own connection (its outcome unknown: CommitOutcomeUnknown), and its
        locks keep other writes out until it does, which then fail within their
        own bound with nothing stored.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + bound
        conn = None
        try:
            async with asyncio.timeout_at(deadline):
                conn = await self.async_engine.connect()
                trans = await conn.begin()
                result = await conn.run_sync(_run, self._sequencer, fn)
        except TimeoutError:
            await _discard(conn)
            raise StorageUnavailable(
                f"the transaction did not finish within {bound:.1f} s (--commit-timeout); "
                "nothing was stored"
            ) from None
        except sa.exc.DBAPIError as exc:
            if not is_unreachable(exc):
                if conn is not None:
                    await conn.close()
                raise
            await _discard(conn)
            raise StorageUnavailable(str(exc.orig)) from exc
        except BaseException:
            if conn is not None:
                await conn.close()
            raise
        commit = asyncio.ensure_future(trans.commit())
        try:
            done, _ = await asyncio.wait({commit}, timeout=max(0.0, deadline - loop.time()))
        except BaseException:  # cancelled while committing (a shutdown)
            self._leave(commit, conn)
            raise
        if not done:
            self._leave(commit, conn)
            raise CommitOutcomeUnknown(
                f"the commit did not finish within {bound:.1f} s (--commit-timeout): "
                "it may or may not be stored"
            )
        try:
            commit.result()
        except sa.exc.DBAPIError as exc:
            await _discard(conn)
            if is_unreachable(exc):
                raise CommitOutcomeUnknown(
                    f"the connection was lost during the commit ({exc.orig}): "
                    "it may or may not be stored"
                ) from exc
            raise
        except BaseException:
            await _discard(conn)
            raise
        await conn.close()
        return result

    def _leave(self, commit: asyncio.Future[None], conn: Any) -> None:
        """Let a commit past its bound finish by itself, then close its connection."""

        async def finish() -> None:
            with contextlib.suppress(BaseException):
                await commit
            await _discard(conn)

        task = asyncio.get_running_loop().create_task(finish(), name="statehouse-late-commit")
        self._late[task] = conn
        task.add_done_callback(lambda t: self._late.pop(t, None))

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

        # The arguments the engine's own connections get: every host of the URL,
        # target_session_attrs, connect_timeout (a rendered URL would lose them).
        _, params = self.engine.dialect.create_connect_args(self.url)
        params = {k: v for k, v in params.items() if k != "context"}
        retry = 0.2
        while not closing.is_set():
            try:
                with psycopg.connect(**params, autocommit=True) as conn:
                    conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                    self._outage.ok("event listener")
                    retry = 0.2
                    wake(0)  # anything committed while we were not listening
                    while not closing.is_set():
                        for notify in conn.notifies(timeout=0.5, stop_after=1):
                            wake(int(notify.payload or 0))
            except Exception as exc:  # the database went away: try again shortly
                self._outage.failed("event listener", exc)
                if closing.wait(retry):
                    return
                retry = min(1.0, retry * 2)

    async def aclose(self) -> None:
        if self._late:
            # Commits still waiting (for a synchronous standby): their connections
            # are shut, not cancelled, so that the server keeps the commit waiting
            # for the standby rather than making it visible without it.
            for conn in list(self._late.values()):
                _shut(conn)
            await asyncio.gather(*self._late, return_exceptions=True)
        await self.async_engine.dispose()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.join(timeout=5)
        self.engine.dispose()
