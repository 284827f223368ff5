"""The Store: one database behind a backend, group commit, the heavy lane, migrations.

A backend per database (``sqlite.py``, ``postgres.py``) owns its engine, its
transactions, row locking and notifications; the :class:`~.tx.Tx` it hands to
commands is the one protocol they are written against. Everything else is
written once, here.

**Group commit.** Writes are queued to one committer, which runs what has
queued up (at most ``StoreOptions.group_commit_max``) in one database
transaction: each write's changes are kept by the Tx and written together at
the end (one statement per kind of row), a write that is refused (an illegal
transition, a revision mismatch) is undone alone and answered with its own
error while the others commit; then one sequence allocation for all their
events, one COMMIT, and only then is any write acknowledged. Writes run in
arrival order, and a write sees the effects of those before it in its batch.
While a batch commits the next one queues up, so batches grow with the load by
themselves (no waiting window unless ``group_commit_window`` is set). When the
writes of a batch cannot share their transaction (a deadlock with another
replica, a request id that another replica took meanwhile), they run again one
per transaction; a lone write that lost a request-id race runs once more and
then sees the winner's row. After a batch commits, its events are handed to the
commit listeners (the event hub) on the event loop.

**Bounded writes** (on PostgreSQL). A write is answered within about
``StoreOptions.commit_timeout`` of its arrival: one that waited that long in
the queue is answered UNAVAILABLE without running, and a batch's transaction
has what is left of its oldest write's time (at least a quarter of the bound).
A transaction cut short before COMMIT stored nothing; after COMMIT was sent
(or with the connection lost during COMMIT) its outcome is unknown, and its
writes are answered :class:`~.errors.CommitOutcomeUnknown`. Failures of the
store's transactions are reported to the one outage log
(``telemetry.OutageLog``), not logged one by one. The whole path of a write:
docs/design.md, "The life of one request"; the seam: docs/design.md, "Storage".

Why one file of about 600 lines: the queue, the committer, its batches and
their retries are one mechanism, each part reading the others' state (the
queue's deadlines, the batches in flight, the bound); the backends, the Tx,
the options and the sequencer are modules of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import typing
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any, ParamSpec, Protocol, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from .. import priority
from ..loops import cancel_and_wait
from ..orchestration import Event
from ..telemetry import Metrics, OutageLog, Tracing
from .batch import Batch, Parts, Write, size_of
from .errors import BatchConflict, StorageUnavailable, unavailable_on_disconnect
from .options import StoreOptions
from .schema import EVENT_SEQUENCE, counters
from .sequencer import CounterRowSequencer, Sequencer
from .sqlite import SqliteBackend
from .tx import ReadTx, Tx
from .url import parse_database_url

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

CommitListener = Callable[[list[Event]], None]

log = logging.getLogger("statehouse.storage")


class Backend(Protocol):
    """What differs between databases (see sqlite.py and postgres.py)."""

    #: A synchronous engine: migrations, the offline tools.
    engine: sa.Engine

    def engines(self) -> list[sa.Engine]: ...

    def thread_pools(self) -> dict[str, tuple[ThreadPoolExecutor, int]]:
        """Its thread pools by name, each with its number of threads."""
        ...

    def connection_pools(self) -> dict[str, sa.Pool]:
        """Its connection pools by name (for the metrics)."""
        ...

    def migration_lock(self, conn: sa.Connection) -> contextlib.AbstractContextManager[None]: ...

    def run_sync(self, fn: Callable[[Tx], T], *, write: bool) -> T: ...

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
        """``fn`` in a transaction; ``bound``: a write's time limit, seconds (where
        the backend has one). ``prefetch``: task runs ``fn`` will lock, which the
        backend may read (and lock) before it runs ``fn`` (``Tx.prefetch_task_runs``);
        ``shared``: ``fn`` is a batch of several writes (an error of the database
        that is no write's own is then a :class:`BatchConflict`). ``after()``
        runs once the transaction has committed, on the thread that committed
        it (the store builds its writes' answers there: off the event loop
        where a writer thread commits); never when it did not commit."""
        ...

    def listen_for_commits(
        self,
        wake: Callable[[int, list[Event] | None], object],
        closing: threading.Event,
        wants_events: Callable[[], bool],
    ) -> None: ...

    async def aclose(self) -> None: ...

    def close(self) -> None: ...


class Store:
    """Transactions on one database (see the module docstring)."""

    def __init__(
        self,
        url: str,
        options: StoreOptions | None = None,
        *,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.options = options or StoreOptions()
        #: The server's metrics: the store counts its transactions there, and the
        #: parts built on the store (the hub, the timers, the transports) theirs.
        self.metrics = metrics or Metrics()
        #: The server's traces (off by default): the store's spans, the hub's and the
        #: transports' (docs/design.md, "Observability").
        self.tracing = tracing or Tracing()
        #: DatabaseUrlError (one line) for a URL that cannot be used.
        self.url = parse_database_url(url)
        #: The one log of the database's outages (``telemetry.OutageLog``): the
        #: store's transactions, the hub, the timers, the sweeps, the listener.
        self.outage = OutageLog(log)
        self.sequencer: Sequencer = CounterRowSequencer()
        #: The heavy lane: one thread for the CPU-heavy work of large requests and
        #: responses (decoding, validating, their transactions, encoding), so that
        #: however many arrive at once, one at a time competes with the event loop
        #: and the ordinary readers for the GIL.
        self._heavy = ThreadPoolExecutor(
            1, thread_name_prefix="statehouse-heavy", initializer=priority.mark_heavy_lane
        )
        name = self.url.get_backend_name()
        #: The database backend: ``sqlite`` or ``postgresql``.
        self.database_backend = name
        self.tracing.set_database(name)
        self.backend: Backend
        #: A write's bound (seconds; None: none): PostgreSQL's commit_timeout.
        bound = 0.0
        if name == "sqlite":
            self.backend = SqliteBackend(self.url, self.options, self.sequencer, self.run_heavy)
            concurrency = 1
        elif name == "postgresql":
            from .postgres import PostgresBackend

            self.backend = PostgresBackend(self.url, self.options, self.sequencer, self.outage)
            concurrency = self.options.group_commit_concurrency
            bound = self.options.commit_timeout
        else:  # pragma: no cover - parse_database_url refuses anything else
            raise ValueError(f"unsupported database {name!r}")
        self.engine = self.backend.engine
        self._concurrency = max(1, concurrency)
        self._bound = bound if bound > 0 else None
        self._listeners: list[CommitListener] = []
        #: Called on the loop after a commit that set a timer (the scheduler's wake).
        self._timer_listeners: list[Callable[[], None]] = []
        self._unavailable_listeners: list[Callable[[], None]] = []
        self._closing = threading.Event()
        # Group commit (see the module docstring).
        self._queue: list[Write] = []
        self._wake: asyncio.Event | None = None
        self._committer: asyncio.Task[None] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        #: Batches run and the writes they carried (for the benchmark and tests).
        self.batches = 0
        self.batched_writes = 0
        self.metrics.set_gauge("statehouse_db_connections", self._connections)
        self.metrics.set_gauge("statehouse_db_connections_max", self._connections_max)
        self.metrics.set_gauge("statehouse_thread_pool_threads", self._threads)
        self.metrics.set_gauge("statehouse_thread_pool_queued", self._queued)

    def engines(self) -> list[sa.Engine]:
        """Every engine of the store (for instrumentation: the benchmark counts statements)."""
        return self.backend.engines()

    def thread_pools(self) -> dict[str, tuple[ThreadPoolExecutor, int]]:
        """Every thread pool of the store by name, with its number of threads (for
        instrumentation: the benchmark profiles each thread)."""
        return {"heavy": (self._heavy, 1), **self.backend.thread_pools()}

    # -- gauges, read at scrape time ---------------------------------------------

    def _connections(self) -> dict[tuple[str, ...], float]:
        out: dict[tuple[str, ...], float] = {}
        for name, pool in self.backend.connection_pools().items():
            in_use = pool.checkedout() if isinstance(pool, sa.QueuePool) else 0
            idle = pool.checkedin() if isinstance(pool, sa.QueuePool) else 0
            out[(name, "in_use")] = in_use
            out[(name, "idle")] = idle
        return out

    def _connections_max(self) -> dict[tuple[str, ...], float]:
        return {
            (name,): pool.size() + max(0, pool._max_overflow)
            for name, pool in self.backend.connection_pools().items()
            if isinstance(pool, sa.QueuePool)
        }

    def _threads(self) -> dict[tuple[str, ...], float]:
        return {(name,): threads for name, (_, threads) in self.thread_pools().items()}

    def _queued(self) -> dict[tuple[str, ...], float]:
        return {
            (name,): pool._work_queue.qsize() for name, (pool, _) in self.thread_pools().items()
        }

    # -- migrations -----------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the latest migration (safe to call on every start,
        and from several processes at once)."""
        with (
            unavailable_on_disconnect(),
            self.engine.connect() as conn,
            self.backend.migration_lock(conn),
        ):
            config = Config()
            location = resources.files("statehouse.server.storage") / "migrations"
            config.set_main_option("script_location", str(location))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            conn.commit()

    def schema_is_current(self) -> bool:
        """Whether the database's schema is at the latest migration (readiness:
        with ``migrate=False`` another process may still be migrating)."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        location = resources.files("statehouse.server.storage") / "migrations"
        config.set_main_option("script_location", str(location))
        heads = set(ScriptDirectory.from_config(config).get_heads())
        with self.engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads()) == heads

    # -- transactions ---------------------------------------------------------

    def add_commit_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    def add_timer_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` on the loop after each commit that set a timer."""
        self._timer_listeners.append(listener)

    def add_unavailable_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (on the event loop) when a write finds the database
        unreachable (health turns NOT_SERVING at once, not at the next probe)."""
        self._unavailable_listeners.append(listener)

    @typing.overload
    async def write(
        self, fn: Callable[[Tx], T], *, heavy: bool = ..., task_runs: Sequence[str] = ...
    ) -> T: ...

    @typing.overload
    async def write(
        self,
        fn: Callable[[Tx], T],
        *,
        heavy: bool = ...,
        task_runs: Sequence[str] = ...,
        answer: Callable[[T], R],
    ) -> R: ...

    async def write(
        self,
        fn: Callable[[Tx], Any],
        *,
        heavy: bool = False,
        task_runs: Sequence[str] = (),
        answer: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Run ``fn`` in a write transaction (grouped with others: see the module
        docstring), and return its result once it has committed and its events
        are published; with ``answer``, ``answer(result)`` instead, built once
        the transaction has committed, where it committed (SQLite's writer
        thread: the response of a call is built off the event loop). An error
        of ``answer`` is the write's answer; the change stands.

        ``heavy`` (large payloads): its transaction runs alone, on the heavy lane
        where the backend runs statements on threads. ``task_runs``: the task runs
        ``fn`` will move, read for the whole batch at once.
        """
        return await self._enqueue(fn, heavy, task_runs, answer)

    def _enqueue(
        self,
        fn: Callable[[Tx], Any],
        heavy: bool,
        task_runs: Sequence[str],
        answer: Callable[[Any], Any] | None = None,
    ) -> asyncio.Future[Any]:
        if self._closing.is_set():
            raise StorageUnavailable("the store is closed")
        if self._committer is None:
            self._wake = asyncio.Event()
            self._slots = asyncio.Semaphore(self._concurrency)
            self._committer = asyncio.create_task(self._commit_loop(), name="statehouse-commit")
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        write = Write(fn, loop.create_future(), heavy, tuple(task_runs), answer=answer)
        if self._bound is not None:
            write.deadline = loop.time() + self._bound
        if self.tracing.enabled:
            write.trace = self.tracing.write_parent()
        self._queue.append(write)
        self._wake.set()
        return write.future

    @typing.overload
    async def write_many(
        self, writes: Sequence[tuple[Callable[[Tx], Any], Sequence[str]]], *, heavy: bool = ...
    ) -> list[Any]: ...

    @typing.overload
    async def write_many(
        self,
        writes: Sequence[tuple[Callable[[Tx], Any], Sequence[str]]],
        *,
        heavy: bool = ...,
        answer: Callable[[list[Any]], R],
    ) -> R: ...

    async def write_many(
        self,
        writes: Sequence[tuple[Callable[[Tx], Any], Sequence[str]]],
        *,
        heavy: bool = False,
        answer: Callable[[list[Any]], Any] | None = None,
    ) -> Any:
        """Several writes as one queued write of parts (each ``(fn, task_runs)`` as
        :meth:`write`), run in order in one transaction, each part undone alone when
        it fails; return the list of each part's result, or the exception it
        raised (with ``answer``, ``answer`` of that list, built as :meth:`write`
        builds its own)."""
        if not writes:
            return [] if answer is None else answer([])
        task_runs = tuple(dict.fromkeys(i for _, ids in writes for i in ids))
        return await self._enqueue(Parts([fn for fn, _ in writes]), heavy, task_runs, answer)

    async def read(self, fn: Callable[[ReadTx], T], *, heavy: bool = False) -> T:
        """Run ``fn`` in a read transaction; ``heavy`` (a large page) on the heavy lane."""
        started = time.perf_counter()
        span = self.tracing.start_read() if self.tracing.enabled else None
        try:
            result = await self.backend.transaction(fn, write=False, heavy=heavy)
        except StorageUnavailable as exc:
            self.outage.failed("reads", exc)
            raise
        else:
            self.outage.ok("reads")
            return result
        finally:
            self.metrics.read(time.perf_counter() - started)
            if span is not None:
                span.end()

    async def run_heavy(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run CPU-heavy ``fn(*args)`` on the heavy lane (one thread, in order)."""

        def call() -> R:
            priority.step_aside()
            return fn(*args, **kwargs)

        priority.going_heavy()
        return await asyncio.get_running_loop().run_in_executor(self._heavy, call)

    # -- group commit -----------------------------------------------------------

    async def _commit_loop(self) -> None:
        assert self._wake is not None and self._slots is not None
        window = self.options.group_commit_window
        most = max(1, self.options.group_commit_max)
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                if not await self._acquire_slot():
                    continue
                if window > 0 and len(self._queue) < most:
                    await asyncio.sleep(window)
                self._expire()
                if not self._queue:
                    self._slots.release()
                    break
                batch = self._take(most)
                task = asyncio.create_task(self._commit(batch))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)

    async def _acquire_slot(self) -> bool:
        """A slot for the next batch; False if the queue's oldest write ran out of
        time meanwhile (it is answered: see :meth:`_expire`)."""
        assert self._slots is not None
        deadline = self._queue[0].deadline
        if deadline is None or not self._slots.locked():
            await self._slots.acquire()
            return True
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError:
            self._expire()
            return False
        return True

    def _expire(self) -> None:
        """Answer the queued writes whose time ran out: UNAVAILABLE, nothing done."""
        queue = self._queue
        if not queue or queue[0].deadline is None:
            return
        now = asyncio.get_running_loop().time()
        count = 0
        while count < len(queue) and (queue[count].deadline or now) < now:
            count += 1
        if not count:
            return
        expired = queue[:count]
        del queue[:count]
        error = StorageUnavailable(
            f"no commit within {self._bound:.1f} s (--commit-timeout): the write waited in "
            "the queue and was not run"
        )
        self.outage.failed("writes", error)
        self._tell_unavailable()
        for write in expired:
            if not write.future.done():
                write.future.set_exception(error)

    def _tell_unavailable(self) -> None:
        for on_unavailable in self._unavailable_listeners:
            on_unavailable()

    def _take(self, most: int) -> list[Write]:
        """The next batch: writes in arrival order, up to ``most`` of them (a write
        of parts counts its parts), at least one; a heavy one alone."""
        queue = self._queue
        count = 1
        if not queue[0].heavy:
            size = size_of(queue[0])
            while count < len(queue) and not queue[count].heavy:
                size += size_of(queue[count])
                if size > most:
                    break
                count += 1
        batch = queue[:count]
        del queue[:count]
        return batch

    async def _commit(self, writes: list[Write]) -> None:
        """Commit one batch, publish its events, then answer every write."""
        self.batches += 1
        self.batched_writes += len(writes)
        started = time.perf_counter()
        # Traces on: a batch serving at least one traced request has its spans.
        traced = (
            self.tracing.start_batch([w.trace for w in writes])
            if self.tracing.enabled and any(w.trace is not None for w in writes)
            else None
        )
        armed = [False]  # set when a transaction of the batch set a timer
        try:
            appended = await self._run(writes, armed)
        except BaseException as exc:
            if traced is not None:
                traced.failed(exc)
            if isinstance(exc, StorageUnavailable):
                self.outage.failed("writes", exc)
                self._tell_unavailable()
            for write in writes:
                if not write.future.done():
                    write.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            assert self._slots is not None
            self._slots.release()
        if appended or any(w.fn is _touch_counter for w in writes):
            # A commit that wrote (a batch of repeats writes nothing, and commits
            # even while the database cannot make a change durable).
            self.outage.ok("writes")
        self.metrics.committed(
            len(writes),
            time.perf_counter() - started,
            [(bool(e.task_run_id), e.state._value_) for e in appended],
        )
        if traced is not None:
            traced.committed(len(appended))
            if appended:
                # Listeners see the batch's span as current (the hub links its fan-out to it).
                with traced.current():
                    for listener in self._listeners:
                        listener(appended)
        elif appended:
            for listener in self._listeners:
                listener(appended)
        if armed[0]:
            for on_timer in self._timer_listeners:
                on_timer()
        for index, write in enumerate(writes):
            if traced is not None:
                traced.answered(index, write.error)
            if write.future.done():
                continue  # the caller gave up (cancelled); the write stands
            if write.error is not None:
                write.future.set_exception(write.error)
            else:
                write.future.set_result(write.result)

    async def _run(self, writes: list[Write], armed: list[bool]) -> list[Event]:
        """One transaction for ``writes``; if they cannot share it, one each.
        ``armed[0]`` becomes True when one of them set a timer."""
        run = Batch(writes, armed)
        after = run.answer
        heavy = writes[0].heavy
        timeout = self._timeout(writes)
        prefetch = list(dict.fromkeys(i for write in writes for i in write.task_runs))
        # Several writes, or the parts of one, share the transaction.
        shared = len(writes) > 1 or isinstance(writes[0].fn, Parts)
        try:
            return await self.backend.transaction(
                run,
                write=True,
                heavy=heavy,
                bound=timeout,
                prefetch=prefetch,
                shared=shared,
                after=after,
            )
        except BatchConflict:
            appended: list[Event] = []
            for write in writes:
                write.result = write.error = None
                if isinstance(write.fn, Parts):
                    # Each part in a transaction of its own, as separate writes would be.
                    results = []
                    for part in write.fn.parts:
                        alone = Write(part, write.future, write.heavy, write.task_runs)
                        appended += await self._run_alone(alone, armed)
                        results.append(alone.result if alone.error is None else alone.error)
                    write.result = results
                    Batch([write]).answer()
                    continue
                appended += await self._run_alone(write, armed)
            return appended
        except sa.exc.IntegrityError:
            if shared:
                raise
            # A request id that another replica stored meanwhile: once more, and
            # the write then sees the winner's row and answers as a repeat.
            writes[0].result = None
            return await self.backend.transaction(
                run, write=True, heavy=heavy, bound=self._timeout(writes), after=after
            )

    async def _run_alone(self, write: Write, armed: list[bool]) -> list[Event]:
        """``write`` in a transaction of its own; its error becomes its answer."""
        try:
            return await self._run([write], armed)
        except StorageUnavailable as error:  # this write's, but the database's too
            write.error = error
            self.outage.failed("writes", error)
            self._tell_unavailable()
        except Exception as error:  # this write's own error
            write.error = error
        return []

    def _timeout(self, writes: list[Write]) -> float | None:
        """A batch's bound: what is left of its oldest write's, at least a quarter."""
        if self._bound is None:
            return None
        deadline = min(w.deadline or 0.0 for w in writes)
        left = deadline - asyncio.get_running_loop().time()
        return max(left, self._bound / 4)

    async def probe_write(self) -> None:
        """A write that must reach the disk and, on PostgreSQL with a synchronous
        standby, the standby (health's write probe): it rewrites the event
        counter's row as it is, through the queue and the bound of every write."""
        await self.write(_touch_counter)

    # -- notifications and shutdown ---------------------------------------------

    def listen_for_commits(
        self,
        wake: Callable[[int, list[Event] | None], object],
        wants_events: Callable[[], bool] = lambda: True,
    ) -> None:
        """Call ``wake(last_sequence, events)`` (from a thread) whenever any process
        commits events: ``events`` are those events when the announcement carried
        them (PostgreSQL, a commit's events that fit in its NOTIFY), else None (they
        are in the log); ``wake(0, None)`` when what was committed is unknown (after
        a reconnect). While ``wants_events()`` is False an announcement's events are
        not decoded (``wake`` gets None).

        Where the database can announce commits (PostgreSQL's LISTEN/NOTIFY);
        elsewhere the hub's poll finds other processes' writes.
        """
        self.backend.listen_for_commits(wake, self._closing, wants_events)

    async def aclose(self) -> None:
        """Close everything, the asyncio pool included (call on the event loop)."""
        self._closing.set()
        try:
            await cancel_and_wait(self._committer)
        finally:  # closed all the same when the caller is cancelled meanwhile
            # Batches under way finish (and give their connections back) first.
            if self._inflight:
                await asyncio.gather(*self._inflight, return_exceptions=True)
            for write in self._queue:
                if not write.future.done():
                    write.future.set_exception(StorageUnavailable("the store is closed"))
            self._queue.clear()
            await self.backend.aclose()
            await asyncio.get_running_loop().run_in_executor(None, self.close)

    def close(self) -> None:
        self._closing.set()
        self.backend.close()
        self._heavy.shutdown(wait=True, cancel_futures=True)


def display_url(url: str) -> str:
    """``url`` fit for a log line: its password hidden (as the server uses it)."""
    return parse_database_url(url).render_as_string(hide_password=True)


def _touch_counter(tx: Tx) -> None:
    tx.conn.execute(
        sa.update(counters).where(counters.c.name == EVENT_SEQUENCE).values(value=counters.c.value)
    )
