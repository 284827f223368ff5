"""The SQLite backend: the embedded default, one file, one writer at a time.

A write transaction starts with ``BEGIN IMMEDIATE`` (it takes the database's
write lock at once, so two processes on one file queue instead of deadlocking)
and runs on a writer thread of its own, on a connection kept for it: while a
batch commits (SQLite releases the GIL in its statements and its commit), the
event loop goes on taking calls, which queue up for the next batch. A large
(heavy) request's transaction runs on the heavy lane instead, and reads run on
a small thread pool. SQLite has no notifications: other processes' commits
are found by a thread that watches the file's change counter
(``PRAGMA data_version``) and, when it moves, reads the event sequence, so
that the event loop hears only of sequences it does not have.

**The writers' turn.** Processes on one file (``serve --processes N``) take
turns at its write lock through a lock file beside it (:class:`WriterTurn`)
before ``BEGIN IMMEDIATE``: SQLite's own wait sleeps and looks again, and
often left its lock free while the next writer slept.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from .. import priority
from ..orchestration import Event
from .batch import Batch
from .errors import unavailable_on_disconnect
from .options import StoreOptions
from .schema import EVENT_SEQUENCE
from .sequencer import Sequencer
from .tx import Tx
from .tx.changes import settle
from .tx.core import SeenRows
from .writer_process import WriterProcess

T = TypeVar("T")
log = logging.getLogger("statehouse.storage")


class SqliteTx(Tx):
    """A SQLite transaction: a write transaction holds the whole database."""

    LOCKS_ROWS = False

    def _insert_ignoring_conflicts(self, table: sa.Table, **values: Any) -> Any:
        return sqlite.insert(table).values(**values).on_conflict_do_nothing()


class WriterTurn:
    """The turn of a database file's writers: an exclusive ``flock`` on
    ``<database>-turn``, taken by a process's writer thread before
    ``BEGIN IMMEDIATE`` and given back after its COMMIT.

    SQLite's busy handler makes a writer that finds the lock taken sleep and
    look again, 1, 2, 5, 10... up to 100 ms later: with the writers of two
    processes each holding the lock for a batch of a few milliseconds, the lock
    often stayed free while the other slept (``docs/performance.md``).
    The kernel wakes a ``flock`` waiter as soon as the holder gives the lock back.

    The turn only orders the writers: SQLite's lock still keeps their writes
    apart, and a writer that waited ``timeout`` seconds for its turn goes on to
    ``BEGIN IMMEDIATE`` without it (a holder stopped mid-write cannot hold the
    others for longer than SQLite's busy timeout would). A process's turn is
    given back by the kernel when it dies. A slow wait runs on a daemon thread
    of its own, so that the writer can stop waiting; a wait given up closes its
    file descriptor (its lock with it) once it comes.
    """

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = Path(f"{path}-turn")
        self._timeout = timeout
        #: Opened at the first write (a process that only reads makes no file);
        #: -1 where it cannot be made (a read-only directory): no turns then.
        self._fd: int | None = None
        self._waits: queue.SimpleQueue[tuple[int, Future[None]] | None] = queue.SimpleQueue()
        self._waiter: threading.Thread | None = None

    def _open(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    @contextlib.contextmanager
    def held(self) -> Iterator[bool]:
        """Hold the turn (True), or go on without it after the timeout (False)."""
        fd = self._take()
        try:
            yield fd is not None
        finally:
            if fd is None:
                pass
            elif fd == self._fd:
                fcntl.flock(fd, fcntl.LOCK_UN)
            else:
                os.close(fd)

    def _take(self) -> int | None:
        if self._fd is None:
            try:
                self._fd = self._open()
            except OSError as exc:
                self._fd = -1
                log.warning("no writers' turn (%s): %s", self.path, exc)
        if self._fd < 0:
            return None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return self._fd
        except BlockingIOError:
            pass
        # Another process has the turn. The wait takes a descriptor of its own: a
        # wait given up may still get the lock later, and must then not be
        # mistaken for (or give back) a later turn of this process.
        try:
            fd = self._open()
        except OSError as exc:  # out of descriptors: SQLite's own wait still orders writes
            log.warning("no writers' turn (%s): %s", self.path, exc)
            return None
        waited: Future[None] = Future()
        if self._waiter is None:
            self._waiter = threading.Thread(
                target=self._wait_loop, name="statehouse-sqlite-turn", daemon=True
            )
            self._waiter.start()
        self._waits.put((fd, waited))
        try:
            waited.result(self._timeout)
        except BaseException as exc:
            # Closed once the wait ends (at once if it has): never while the
            # waiter may still lock it, whose number could then be another file's.
            waited.add_done_callback(lambda _: os.close(fd))
            if not isinstance(exc, TimeoutError):
                raise
            log.warning(
                "waited %.1fs for the writers' turn (%s): writing without it",
                self._timeout,
                self.path,
            )
            return None
        return fd

    def _wait_loop(self) -> None:
        while (item := self._waits.get()) is not None:
            fd, waited = item
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException as exc:  # that wait's failure (a closed descriptor)
                waited.set_exception(exc)
            else:
                waited.set_result(None)

    def close(self) -> None:
        """Stop the waiter once it is idle (a waiter stuck on a stopped holder is a
        daemon thread: it does not keep the process alive)."""
        self._waits.put(None)
        if self._fd is not None and self._fd >= 0:
            os.close(self._fd)
            self._fd = None


#: How many task runs, and how many executions, the writer keeps between its
#: transactions (``KeptRows``): a finished task run with small outputs takes
#: about 3 KB (its row and what it decodes to), so about 25 MB when all are kept.
KEPT_ROWS = 8192


class KeptRows:
    """The rows the writer's transactions have seen, handed from each to the next
    while no other connection has committed to the file.

    A state change reads its task run and execution and decodes them; the next
    change of the same task run, a batch later, would read and decode them
    again. Rows a transaction read or wrote are the file's own while nobody else
    writes: SQLite's ``PRAGMA data_version`` on the writer's connection moves
    when another connection (another process, the heavy lane, a hand-made
    change) commits to the file, and never for its own commits. Each write
    transaction reads it once it holds the write lock (nobody can commit until
    it has committed): unmoved, it goes on with the rows the last one left
    (``SeenRows``), else with none. A transaction that fails leaves none (what
    it kept may be unwritten), and so does a statement that writes these
    tables at once (``Tx.delete_executions``: it forgets the rows).

    The rows of the :data:`KEPT_ROWS` task runs and executions seen last are kept.
    """

    def __init__(self, limit: int) -> None:
        self.rows = SeenRows()
        self._limit = limit
        self._connection: Any = None
        self._version: int | None = None

    def take(self, connection: Any) -> SeenRows:
        """The rows a write transaction of ``connection`` (a driver connection,
        in a write transaction) goes on with."""
        version = connection.execute("PRAGMA data_version").fetchone()[0]
        if connection is not self._connection or version != self._version:
            self.rows.clear()
            self._connection, self._version = connection, version
        return self.rows

    def committed(self) -> None:
        """The transaction committed: keep its rows, the latest ``limit`` of each kind."""
        rows = self.rows
        settle(rows)
        for table in (
            rows.task_runs,
            rows.decoded_task_runs,
            rows.executions,
            rows.decoded,
            rows.history_len,
        ):
            excess = len(table) - self._limit
            if excess > 0:
                # The oldest seen first (a dict keeps the order keys came in); a
                # quarter more than the excess, so that this runs now and then.
                for key in list(itertools.islice(table, excess + self._limit // 4)):
                    del table[key]

    def forget(self) -> None:
        self.rows.clear()
        self._version = None


def _sqlite_file(url: sa.URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


class SqliteBackend:
    def __init__(
        self,
        url: sa.URL,
        options: StoreOptions,
        sequencer: Sequencer,
        run_heavy: Callable[..., Awaitable[Any]],
    ) -> None:
        path = _sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(url, pool_size=8, max_overflow=8)
        self._options = options
        self._sequencer = sequencer
        self._run_heavy = run_heavy
        self._readers = max(1, options.readers)
        self._reader = ThreadPoolExecutor(self._readers, thread_name_prefix="statehouse-reader")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="statehouse-writer")
        self._write_conn: sa.Connection | None = None
        self._kept = KeptRows(KEPT_ROWS)
        self._path = path
        self._turn = (
            None if path is None else WriterTurn(path, options.sqlite_busy_timeout_ms / 1000)
        )
        self._watcher: threading.Thread | None = None
        #: Where the batches are written (None: on the writer thread, here).
        self.writer_process = (
            WriterProcess(url, options)
            if options.sqlite_writer_process and path is not None and options.sqlite_write_thread
            else None
        )
        self._install_hooks()

    def _install_hooks(self) -> None:
        options = self._options

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

    def engines(self) -> list[sa.Engine]:
        return [self.engine]

    def thread_pools(self) -> dict[str, tuple[ThreadPoolExecutor, int]]:
        return {"writer": (self._writer, 1), "reader": (self._reader, self._readers)}

    def connection_pools(self) -> dict[str, sa.Pool]:
        return {"sqlite": self.engine.pool}

    @contextlib.contextmanager
    def migration_lock(self, conn: sa.Connection) -> Iterator[None]:
        """SQLite's own write lock serializes migrations of processes on one file."""
        yield

    def run_sync(self, fn: Callable[[Tx], T], *, write: bool) -> T:
        """``fn`` in a transaction on a pooled connection, on the calling thread."""
        with unavailable_on_disconnect(), self.engine.connect() as conn:
            if write:
                conn = conn.execution_options(statehouse_write=True)
            with conn.begin():
                return fn(SqliteTx(conn, self._sequencer))

    def _run_heavy_write(self, fn: Callable[[Tx], T], after: Callable[[], object] | None) -> T:
        with priority.holding_locks():
            result = self.run_sync(fn, write=True)
        if after is not None:
            after()
        return result

    def _run_heavy_read(self, fn: Callable[[Tx], T], after: Callable[[], object] | None) -> T:
        return self._run_read(fn, after)

    async def transaction(
        self,
        fn: Callable[[Tx], T],
        *,
        write: bool,
        heavy: bool,
        bound: float | None = None,
        prefetch: Sequence[str] = (),
        shared: bool = False,
        after: Callable[[], object] | None = None,
    ) -> T:
        # ``bound``: none here (a SQLite commit waits only for another process's
        # write lock, itself bounded by busy_timeout). ``prefetch``: the batch reads
        # its task runs itself (run_batch), on the writer thread.
        if heavy:
            work = self._run_heavy_write if write else self._run_heavy_read
            result: T = await self._run_heavy(work, fn, after)
            return result
        if not write:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._reader, self._run_read, fn, after)
        if self._options.sqlite_write_thread:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._writer, self._run_write, fn, after)
        return self._run_write(fn, after)

    def _run_read(self, fn: Callable[[Tx], T], after: Callable[[], object] | None) -> T:
        result = self.run_sync(fn, write=False)
        if after is not None:
            after()
        return result

    def _run_write(self, fn: Callable[[Tx], T], after: Callable[[], object] | None = None) -> T:
        child = self.writer_process
        if child is not None and isinstance(fn, Batch):
            appended = child.run(fn)
            if appended is not None:  # else it does not pickle: written here
                return appended  # type: ignore[return-value]
        return self.run_write_here(fn, after)

    def run_write_here(self, fn: Callable[[Tx], T], after: Callable[[], object] | None = None) -> T:
        """``fn`` in a write transaction on this process's writer connection."""
        conn = self._write_conn
        if conn is None or conn.closed or conn.invalidated:
            conn = self._write_conn = self.engine.connect().execution_options(statehouse_write=True)
        turn = self._turn.held() if self._turn is not None else contextlib.nullcontext()
        kept = self._kept
        try:
            with turn, unavailable_on_disconnect(), conn.begin():
                seen = kept.take(conn.connection.dbapi_connection)
                result = fn(SqliteTx(conn, self._sequencer, seen))
        except BaseException:
            kept.forget()
            raise
        kept.committed()
        if after is not None:
            after()
        return result

    def listen_for_commits(
        self,
        wake: Callable[[int, list[Event] | None], object],
        closing: threading.Event,
        wants_events: Callable[[], bool],
    ) -> None:
        """Call ``wake(last_sequence, None)`` (from a thread) soon after any connection
        commits to the file: every ``sqlite_change_poll_interval`` seconds the thread
        reads ``PRAGMA data_version`` (a few microseconds), and the sequence when it
        moved. Off the event loop; nothing for an in-memory database."""
        interval = self._options.sqlite_change_poll_interval
        if self._path is None or interval <= 0 or self._watcher is not None:
            return
        uri = self._path.resolve().as_uri() + "?mode=ro"
        self._watcher = threading.Thread(
            target=self._watch,
            args=(uri, interval, wake, closing),
            name="statehouse-sqlite-watch",
            daemon=True,
        )
        self._watcher.start()

    @staticmethod
    def _watch(
        uri: str,
        interval: float,
        wake: Callable[[int, list[Event] | None], object],
        closing: threading.Event,
    ) -> None:
        conn: sqlite3.Connection | None = None
        version = None
        try:
            while not closing.wait(interval):
                try:
                    if conn is None:
                        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=0)
                    now = conn.execute("PRAGMA data_version").fetchone()[0]
                    if now == version:
                        continue
                    version = now
                    row = conn.execute(
                        "SELECT value FROM counters WHERE name = ?", (EVENT_SEQUENCE,)
                    ).fetchone()
                except sqlite3.Error:  # busy or gone for a moment: look again (the poll goes on)
                    version = None
                    if conn is not None:
                        conn.close()
                        conn = None
                    continue
                wake(int(row[0]) if row else 0, None)
        except Exception:  # pragma: no cover - the hub's poll still finds commits
            log.exception("watching the SQLite file for commits failed")
        finally:
            if conn is not None:
                conn.close()

    async def aclose(self) -> None:
        pass

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        if self._write_conn is not None:
            self._write_conn.close()
        self._reader.shutdown(wait=True, cancel_futures=True)
        self._writer.shutdown(wait=True, cancel_futures=True)
        if self.writer_process is not None:
            self.writer_process.close()  # after the writer thread: no batch under way
        if self._turn is not None:
            self._turn.close()
        self.engine.dispose()
