"""The Store: the engine, its transactions, the threads they run on, migrations.

Each request's whole transaction runs as one function (one hop per request,
not one per statement).

**Group commit.** Writes are queued to one committer, which runs what has
queued up (at most ``StoreOptions.group_commit_max``) in one database
transaction: each write in its own savepoint, so that a write that is refused
(an illegal transition, a revision mismatch) is rolled back alone and answered
with its own error while the others commit; then one sequence allocation for
all their events, one COMMIT, and only then is any write acknowledged. Writes
run in arrival order, and a write sees the effects of those before it in its
batch. While a batch commits the next one queues up, so batches grow with the
load by themselves (no waiting window unless ``group_commit_window`` is set).

On a database server, statements go through the asyncio driver, so network
waits never block the event loop. On SQLite, whose transactions are short and
local, a batch runs on the event loop itself by default (see
``StoreOptions.sqlite_inline_writes``); reads run on the reader pool. After a
batch commits, its events are handed to the commit listeners (the event hub)
on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from .. import priority
from ..orchestration import Event
from .repository import EVENTS_CHANNEL, Tx
from .sequencer import CounterRowSequencer, Sequencer

if TYPE_CHECKING:
    # Imported at run time by the PostgreSQL backend only: it needs greenlet, which
    # the embedded SQLite default does without (a plain `pip install` has none).
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

#: The advisory lock key that serializes migrations of replicas on PostgreSQL.
MIGRATION_LOCK = 0x5747_4845


class StorageUnavailable(Exception):
    """The database cannot be reached (restarting, network): retry later."""


@contextlib.contextmanager
def _unavailable_on_disconnect() -> Iterator[None]:
    """Turn a lost or refused database connection into :class:`StorageUnavailable`.

    The pool's pre-ping replaces dead connections, so the next call after the
    database is back works without a restart of the server.
    """
    try:
        yield
    except sa.exc.DBAPIError as exc:
        if _is_unreachable(exc):
            raise StorageUnavailable(str(exc.orig)) from exc
        raise


#: What SQLite says when its file cannot be used for now (its other operational
#: errors, a statement it cannot run, are the server's fault, not the database's).
_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o", "readonly", "full")


def _is_unreachable(exc: sa.exc.DBAPIError) -> bool:
    if exc.connection_invalidated or isinstance(exc, sa.exc.InterfaceError):
        return True
    if not isinstance(exc, sa.exc.OperationalError):
        return False
    if type(exc.orig).__module__.startswith("sqlite3"):
        text = str(exc.orig).lower()
        return any(word in text for word in _SQLITE_UNAVAILABLE)
    return True


log = logging.getLogger("statehouse.storage")

CommitListener = Callable[[list[Event]], None]


@dataclass(frozen=True, slots=True)
class StoreOptions:
    """Tuning of the storage; the defaults suit the embedded SQLite file."""

    #: SQLite's synchronous pragma. NORMAL in WAL mode survives a crash of the
    #: process (kill -9); FULL also survives a power loss, at an fsync per commit.
    sqlite_synchronous: str = "NORMAL"
    #: How long a SQLite writer waits for another process's write lock.
    sqlite_busy_timeout_ms: int = 10_000
    #: Writer threads for databases with concurrent writers (not SQLite).
    writers: int = 4
    readers: int = 4
    #: Run SQLite write transactions on the event loop itself. A SQLite
    #: transaction takes a few hundred microseconds, less than handing it to a
    #: thread and back under the GIL (about 40% more writes/s measured); the
    #: cost is that the loop waits while another process holds the write lock.
    sqlite_inline_writes: bool = True
    #: Use psycopg's asyncio mode on PostgreSQL: statements are awaited on the
    #: event loop instead of blocking worker threads that fight over the GIL
    #: (the threaded path spent about 4 ms of CPU per transition).
    postgres_async: bool = True
    #: Group commit: the most writes one transaction carries.
    group_commit_max: int = 100
    #: How long the committer waits for more writes before a batch that is not
    #: full (seconds; 0: take what has queued up, the batches grow with the load).
    group_commit_window: float = 0.0
    #: Batches in flight at once on a database server (SQLite has one writer).
    group_commit_concurrency: int = 1


def _sqlite_file(url: sa.URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


class Store:
    """Transactions on one database, run on worker threads."""

    def __init__(self, url: str, options: StoreOptions | None = None) -> None:
        self.options = options or StoreOptions()
        self.url = sa.make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.is_postgresql = self.url.get_backend_name() == "postgresql"
        #: On a database server, requests use the asyncio driver (no thread per request).
        self.async_engine: AsyncEngine | None = None
        if self.is_sqlite:
            path = _sqlite_file(self.url)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self.engine = sa.create_engine(self.url, pool_size=8, max_overflow=8)
            self._install_sqlite_hooks()
            writers = 1
        else:
            self.engine = sa.create_engine(self.url, pool_size=2, pool_pre_ping=True)
            if self.is_postgresql and self.options.postgres_async:
                from sqlalchemy.ext.asyncio import create_async_engine

                self.async_engine = create_async_engine(
                    self.url,
                    pool_size=self.options.writers + self.options.readers,
                    max_overflow=self.options.writers + self.options.readers,
                    pool_pre_ping=True,
                )
            writers = self.options.writers
        self.sequencer: Sequencer = CounterRowSequencer()
        self._writer = ThreadPoolExecutor(writers, thread_name_prefix="statehouse-writer")
        self._reader = ThreadPoolExecutor(
            self.options.readers, thread_name_prefix="statehouse-reader"
        )
        #: The heavy lane: one thread for the CPU-heavy work of large requests and
        #: responses (decoding, validating, their transactions, encoding), so that
        #: however many arrive at once, one at a time competes with the event loop
        #: and the ordinary readers for the GIL.
        self._heavy = ThreadPoolExecutor(
            1, thread_name_prefix="statehouse-heavy", initializer=priority.mark_heavy_lane
        )
        self._listeners: list[CommitListener] = []
        self._listener: threading.Thread | None = None
        self._write_conn: sa.Connection | None = None
        self._closing = threading.Event()
        self._inline_writes = self.is_sqlite and self.options.sqlite_inline_writes
        # Group commit (see the module docstring).
        self._queue: list[_Write] = []
        self._wake: asyncio.Event | None = None
        self._committer: asyncio.Task[None] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        #: Batches run and the writes they carried (for the benchmark and tests).
        self.batches = 0
        self.batched_writes = 0

    def _install_sqlite_hooks(self) -> None:
        options = self.options

        @sa.event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event emit BEGIN itself (the pysqlite recipe),
            # so that writers take the write lock at once with BEGIN IMMEDIATE.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={options.sqlite_synchronous}")
            cursor.execute(f"PRAGMA busy_timeout={int(options.sqlite_busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @sa.event.listens_for(self.engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            write = conn.get_execution_options().get("statehouse_write", False)
            # Straight to the driver: this runs once per transaction, on the hot path.
            conn.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                "BEGIN IMMEDIATE" if write else "BEGIN"
            )

    # -- migrations -----------------------------------------------------------

    def _alembic_config(self, conn: sa.Connection) -> Config:
        config = Config()
        location = resources.files("statehouse.server.storage") / "migrations"
        config.set_main_option("script_location", str(location))
        config.attributes["connection"] = conn
        return config

    def migrate(self) -> None:
        """Bring the schema to the latest migration (safe to call on every start).

        On PostgreSQL, replicas starting together take turns: the upgrade runs
        under a session advisory lock, and whoever comes second finds nothing to do.
        """
        with self.engine.connect() as conn:
            if self.is_postgresql:
                conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
                conn.commit()
            try:
                config = self._alembic_config(conn)
                command.upgrade(config, "head")
                conn.commit()
            finally:
                if self.is_postgresql:
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
                    conn.commit()

    # -- transactions ---------------------------------------------------------

    def add_commit_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    def write_sync(self, fn: Callable[[Tx], T]) -> tuple[T, list[Event]]:
        """Run ``fn`` in a write transaction and commit; return its result and events.

        A unique-key conflict with a concurrent writer (two calls with one new
        request_id on two replicas) is retried once: the retry sees the winner's
        row and answers as a repeat.
        """
        for attempt in (1, 2):
            try:
                with (
                    _unavailable_on_disconnect(),
                    priority.holding_locks(),
                    self.engine.connect() as conn,
                ):
                    conn = conn.execution_options(statehouse_write=True)
                    with conn.begin():
                        tx = Tx(conn, self.sequencer)
                        result = fn(tx)
                        tx.flush_events()
                    return result, tx.appended
            except sa.exc.IntegrityError:
                if attempt == 2 or self.is_sqlite:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def read_sync(self, fn: Callable[[Tx], T]) -> T:
        with _unavailable_on_disconnect(), self.engine.connect() as conn, conn.begin():
            return fn(Tx(conn, self.sequencer))

    # -- group commit -----------------------------------------------------------

    def _commit_sync(self, writes: list[_Write]) -> list[Event]:
        """A batch on a pooled connection, on the calling thread."""
        for attempt in (1, 2):
            try:
                with (
                    _unavailable_on_disconnect(),
                    priority.holding_locks(),
                    self.engine.connect() as conn,
                ):
                    conn = conn.execution_options(statehouse_write=True)
                    with conn.begin():
                        return run_batch(conn, self.sequencer, writes, not self.is_sqlite)
            except sa.exc.IntegrityError:
                if attempt == 2 or self.is_sqlite or len(writes) > 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _commit_inline(self, writes: list[_Write]) -> list[Event]:
        """A batch on the event loop, on a connection kept for it (no pool round trip)."""
        conn = self._write_conn
        if conn is None or conn.closed or conn.invalidated:
            conn = self._write_conn = self.engine.connect().execution_options(statehouse_write=True)
        with _unavailable_on_disconnect(), conn.begin():
            return run_batch(conn, self.sequencer, writes, False)

    async def _commit_async(self, writes: list[_Write]) -> list[Event]:
        """A batch through the asyncio driver: the writes run unchanged (SQLAlchemy runs
        them in a greenlet), the network waits are awaited on the event loop.

        A single write that lost a request-id race is retried once (it then sees
        the winner's row). A batch that deadlocked with another replica's is run
        again one write per transaction.
        """
        assert self.async_engine is not None
        for attempt in (1, 2):
            try:
                with _unavailable_on_disconnect():
                    async with self.async_engine.connect() as conn, conn.begin():
                        return await conn.run_sync(_run_write_batch, self.sequencer, writes)
            except sa.exc.IntegrityError:
                if attempt == 2 or len(writes) > 1:
                    raise
            except sa.exc.DBAPIError as exc:
                if len(writes) == 1 or getattr(exc.orig, "sqlstate", "") not in _RETRY_ALONE:
                    raise
                appended: list[Event] = []
                for write in writes:
                    write.result = write.error = None
                    try:
                        appended += await self._commit_async([write])
                    except Exception as error:  # this write's own error
                        write.error = error
                return appended
        raise AssertionError("unreachable")  # pragma: no cover

    async def _commit(self, writes: list[_Write]) -> None:
        """Commit one batch, publish its events, then answer every write."""
        self.batches += 1
        self.batched_writes += len(writes)
        try:
            if self._inline_writes:
                appended = self._commit_inline(writes)
            elif self.async_engine is not None:
                appended = await self._commit_async(writes)
            else:
                loop = asyncio.get_running_loop()
                appended = await loop.run_in_executor(self._writer, self._commit_sync, writes)
        except BaseException as exc:
            for write in writes:
                if not write.future.done():
                    write.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            assert self._slots is not None
            self._slots.release()
        self._publish(appended)
        for write in writes:
            if write.future.done():
                continue  # the caller gave up (cancelled); the write stands
            if write.error is not None:
                write.future.set_exception(write.error)
            else:
                write.future.set_result(write.result)

    async def _commit_loop(self) -> None:
        assert self._wake is not None and self._slots is not None
        window = self.options.group_commit_window
        most = max(1, self.options.group_commit_max)
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await self._slots.acquire()
                if window > 0 and len(self._queue) < most:
                    await asyncio.sleep(window)
                batch = self._queue[:most]
                del self._queue[: len(batch)]
                if self._inline_writes:
                    await self._commit(batch)
                else:
                    task = asyncio.create_task(self._commit(batch))
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)

    def _publish(self, appended: list[Event]) -> None:
        if appended:
            for listener in self._listeners:
                listener(appended)

    async def run_heavy(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run CPU-heavy ``fn(*args)`` on the heavy lane (one thread, in order)."""

        def call() -> R:
            priority.step_aside()
            return fn(*args, **kwargs)

        priority.going_heavy()
        return await asyncio.get_running_loop().run_in_executor(self._heavy, call)

    async def write(self, fn: Callable[[Tx], T], *, heavy: bool = False) -> T:
        """Run ``fn`` in a write transaction (grouped with others: see the module
        docstring), and return its result once it has committed and its events
        are published.

        ``heavy`` (large payloads) runs its own transaction on the heavy lane even
        where writes are inline, so that the event loop is not held meanwhile.
        """
        if heavy and self.async_engine is None:
            result, appended = await self.run_heavy(self.write_sync, fn)
            self._publish(appended)
            return result
        if self._closing.is_set():
            raise StorageUnavailable("the store is closed")
        if self._committer is None:
            self._wake = asyncio.Event()
            concurrency = 1 if self.is_sqlite else self.options.group_commit_concurrency
            self._slots = asyncio.Semaphore(max(1, concurrency))
            self._committer = asyncio.create_task(self._commit_loop(), name="statehouse-commit")
        assert self._wake is not None
        write = _Write(fn, asyncio.get_running_loop().create_future())
        self._queue.append(write)
        self._wake.set()
        answer: T = await write.future
        return answer

    async def read(self, fn: Callable[[Tx], T], *, heavy: bool = False) -> T:
        """Run ``fn`` in a read transaction; ``heavy`` (a large page) on the heavy lane."""
        if heavy and self.async_engine is None:
            return await self.run_heavy(self.read_sync, fn)
        if self.async_engine is not None:
            with _unavailable_on_disconnect():
                async with self.async_engine.connect() as conn, conn.begin():
                    return await conn.run_sync(_run_read, self.sequencer, fn)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self.read_sync, fn)

    def listen_for_commits(self, wake: Callable[[int], object]) -> None:
        """Call ``wake(last_sequence)`` (from a thread) whenever any process commits
        events; ``wake(0)`` when what was committed is unknown (after a reconnect).

        PostgreSQL only (LISTEN/NOTIFY); elsewhere the hub's poll finds other
        processes' writes. The listener reconnects by itself.
        """
        if not self.is_postgresql or self._listener is not None:
            return
        self._listener = threading.Thread(
            target=self._listen, args=(wake,), name="statehouse-listen", daemon=True
        )
        self._listener.start()

    def _listen(self, wake: Callable[[int], object]) -> None:
        import psycopg

        dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._closing.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                    wake(0)  # anything committed while we were not listening
                    while not self._closing.is_set():
                        for notify in conn.notifies(timeout=0.5, stop_after=1):
                            wake(int(notify.payload or 0))
            except Exception:  # the database went away: try again shortly
                if self._closing.wait(1.0):
                    return
                log.warning("event listener reconnecting to the database")

    async def aclose(self) -> None:
        """Close everything, the asyncio pool included (call on the event loop)."""
        self._closing.set()
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
        # Batches under way finish (and give their connections back) first.
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        for write in self._queue:
            if not write.future.done():
                write.future.set_exception(StorageUnavailable("the store is closed"))
        self._queue.clear()
        if self.async_engine is not None:
            await self.async_engine.dispose()
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def close(self) -> None:
        self._closing.set()
        if self._write_conn is not None:
            self._write_conn.close()
        if self._listener is not None:
            self._listener.join(timeout=5)
        self._writer.shutdown(wait=True, cancel_futures=True)
        self._reader.shutdown(wait=True, cancel_futures=True)
        self._heavy.shutdown(wait=True, cancel_futures=True)
        self.engine.dispose()


@dataclass(slots=True)
class _Write:
    """One queued write: its function, then its result or its own error."""

    fn: Callable[[Tx], Any]
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = None


#: PostgreSQL's deadlock and serialization failures: the batch is run again
#: one write per transaction.
_RETRY_ALONE = ("40P01", "40001")


def run_batch(
    conn: sa.Connection, sequencer: Sequencer, writes: list[_Write], retry_races: bool
) -> list[Event]:
    """Run ``writes`` in the transaction open on ``conn``; return the events to commit.

    A lone write runs as is: its error rolls the transaction back. In a batch,
    each write runs in a savepoint: its error (a domain error, a constraint) rolls
    back that write alone and becomes its answer. ``retry_races``: a write that
    lost a unique-key race with another replica runs once more (and then sees the
    winner's row). The events of all the writes get their sequences at the end.
    """
    tx = Tx(conn, sequencer)
    if len(writes) == 1:
        writes[0].result = writes[0].fn(tx)
    else:
        for write in writes:
            for attempt in (1, 2):
                mark = len(tx.pending)
                try:
                    with conn.begin_nested():
                        write.result = write.fn(tx)
                    break
                except sa.exc.IntegrityError as exc:
                    del tx.pending[mark:]
                    write.error = exc
                    if attempt == 2 or not retry_races:
                        break
                    write.error = None
                except Exception as exc:
                    del tx.pending[mark:]
                    write.error = exc
                    break
    tx.flush_events()
    return tx.appended


def _run_write_batch(
    conn: sa.Connection, sequencer: Sequencer, writes: list[_Write]
) -> list[Event]:
    return run_batch(conn.execution_options(statehouse_write=True), sequencer, writes, True)


def _run_read(conn: sa.Connection, sequencer: Sequencer, fn: Callable[[Tx], T]) -> T:
    return fn(Tx(conn, sequencer))
