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
greenlet, which the embedded SQLite default does without). Why one file of
about 600 lines: the backend, its Tx and the pipelines that send a write's
last statements with its COMMIT are one protocol on one connection (what the
Tx keeps is what the pipeline sends); the listener is the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine

from ..orchestration import Event
from ..orchestration.filters import TaskRunFilter
from ..telemetry import OutageLog
from . import codec, work
from .errors import (
    BatchConflict,
    CommitOutcomeUnknown,
    StorageUnavailable,
    is_unreachable,
    unavailable_on_disconnect,
)
from .hot import Hot
from .options import StoreOptions
from .schema import EVENT_SEQUENCE, counters, events
from .sequencer import Sequencer
from .tx import EVENTS_CHANNEL, Tx

T = TypeVar("T")

log = logging.getLogger("statehouse.storage")

#: The advisory lock key that serializes migrations of replicas.
MIGRATION_LOCK = 0x5747_4845
#: A pooled connection idle this long (seconds) is pinged before it is used.
PING_IDLE = 1.0


def _columns(table: sa.Table, names: Sequence[str], renamed: dict[str, str]) -> str:
    """A column definition list for ``json_to_recordset``: each name with its type."""
    dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
    return ", ".join(
        f'"{n}" {table.c[renamed.get(n, n)].type.compile(dialect=dialect)}' for n in names
    )


def _append_events_sql() -> str:
    """One statement that takes the next sequences from the counter row, inserts
    the events with them and announces the last one (NOTIFY at commit).

    The events come as one JSON array (``json_to_recordset``; ``k`` is each one's
    place in the transaction), so the client dumps one parameter with the
    standard library's C encoder instead of one per value. The sequences are
    computed by the server, so the counter row is locked only from this
    statement to the COMMIT sent right behind it, never while the client thinks
    (docs/design.md, "Storage")."""
    names = ", ".join(f'"{c}"' for c in _EVENT_COLUMNS)
    definitions = _columns(events, _EVENT_COLUMNS, {}) + ', "k" bigint'
    return (
        f"WITH counter AS (UPDATE {counters.name} SET value = value + %(count)s::bigint "
        "WHERE name = %(counter)s RETURNING value), "
        f"appended AS (INSERT INTO {events.name} (sequence, {names}) "
        f"SELECT counter.value - %(count)s::bigint + 1 + e.k, {names} "
        f"FROM counter, json_to_recordset(%(rows)s::json) AS e({definitions})) "
        "SELECT value, pg_notify(%(channel)s, value::text || %(announce)s) FROM counter"
    )


#: The longest NOTIFY payload PostgreSQL takes is 8,000 bytes: a commit's events go in
#: theirs up to this many bytes of JSON (with the last sequence before them).
ANNOUNCED_BYTES = 7_900


def announced_events(payload: str) -> tuple[int, list[Event] | None]:
    """A NOTIFY of the events channel: the last sequence of the commit it announces,
    and that commit's events if it carried them (``"LAST ROWS"``: the rows of
    :data:`_APPEND_EVENTS`, each with its place ``k``), else None. A payload that
    cannot be read carries nothing (the hub then reads the log)."""
    last_text, _, body = payload.partition(" ")
    try:
        last = int(last_text or 0)
    except ValueError:
        return 0, None
    if not body:
        return last, None
    try:
        rows = json.loads(body)
        first = last - len(rows) + 1
        announced = []
        for row in rows:
            row["sequence"] = first + row.pop("k")
            announced.append(codec.event_from_row(row))
    except (ValueError, KeyError, TypeError, AttributeError):
        return last, None
    return last, announced


_EVENT_COLUMNS = tuple(c.name for c in events.c if c.name != "sequence")
_APPEND_EVENTS = _append_events_sql()

#: The key columns of the hot updates' rows (``tx/core.py``): ``_id`` the row, ``_rev``
#: the revision it must still have; every other key is a column set.
_KEYS = {"_id": "id", "_rev": "revision"}
_UPDATES: dict[tuple[str, tuple[str, ...]], str] = {}


def _update_from_json(table: sa.Table, keys: tuple[str, ...]) -> str:
    """One UPDATE for many rows, given as one JSON array (``json_to_recordset``):
    the server runs one statement instead of one per row, and the client dumps
    one parameter."""
    found = _UPDATES.get((table.name, keys))
    if found is None:
        sets = ", ".join(f'"{k}" = v."{k}"' for k in keys if k not in _KEYS)
        where = " AND ".join(f't."{_KEYS[k]}" = v."{k}"' for k in keys if k in _KEYS)
        found = _UPDATES[(table.name, keys)] = (
            f"UPDATE {table.name} AS t SET {sets} FROM json_to_recordset(%(rows)s::json) "
            f"AS v({_columns(table, keys, _KEYS)}) WHERE {where}"
        )
    return found


def _json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, separators=(",", ":"), ensure_ascii=False)


class PostgresTx(Tx):
    """A PostgreSQL transaction: reads for update lock their rows.

    **Sent with the COMMIT.** Where the backend sets :attr:`deferred`,
    :meth:`finish` runs no statement of its own: the updates of rows this
    transaction has locked (their revision cannot have moved since they were
    read, so no row count needs checking) and the events (:data:`_APPEND_EVENTS`)
    are kept, and the backend sends them and the COMMIT in one pipeline. Anything
    else that is kept (inserts, timers, request ids) is written at once, as usual.
    """

    LOCKS_ROWS = True

    def __init__(self, conn: sa.Connection, sequencer: Sequencer) -> None:
        super().__init__(conn, sequencer)
        #: (SQL, a list of parameter sets) to send with the COMMIT; None: run at once.
        self.deferred: list[tuple[str, Any]] | None = None
        #: The events sent with the COMMIT, waiting for their sequences.
        self.unsequenced: list[Event] = []
        self._deferring = False

    def finish(self) -> list[Event]:
        if self.deferred is None:
            return super().finish()
        self._deferring = all(u["_id"] in self._locked for u in self._execution_updates.values())
        try:
            self.flush()
        finally:
            self._deferring = False
        self.unsequenced, self.pending = self.pending, []
        return self.appended

    def _many(self, statement: Hot, rows: list[dict[str, Any]]) -> int:
        if self._deferring and self.deferred is not None:
            table = statement.statement.table  # type: ignore[attr-defined]
            sql = _update_from_json(table, tuple(rows[0]))
            self.deferred.append((sql, {"rows": _json(rows)}))
            return len(rows)
        return super()._many(statement, rows)

    def events_parameters(self) -> dict[str, Any]:
        """The parameters of :data:`_APPEND_EVENTS` for :attr:`unsequenced`."""
        rows = []
        for k, event in enumerate(self.unsequenced):
            row = codec.event_row(event)
            row["k"] = k
            rows.append(row)
        encoded = _json(rows)
        # The events ride in the NOTIFY when they fit: the other replicas then need
        # not read them back from the log (and the database not serve that read).
        fits = len(encoded) <= ANNOUNCED_BYTES and len(encoded.encode()) <= ANNOUNCED_BYTES
        return {
            "rows": encoded,
            "announce": f" {encoded}" if fits else "",
            "count": len(rows),
            "counter": EVENT_SEQUENCE,
            "channel": EVENTS_CHANNEL,
        }

    def sequenced(self, last: int) -> None:
        """The events sent with the COMMIT committed with sequences up to ``last``."""
        first = last - len(self.unsequenced) + 1
        for offset, event in enumerate(self.unsequenced):
            event.sequence = first + offset
        self.appended.extend(self.unsequenced)
        self.unsequenced = []

    def _announce(self, last_sequence: int) -> None:
        # Delivered at commit to every replica's listener: the log is the truth,
        # this only wakes readers up. The payload is the last sequence, so a
        # replica that already has it (its own commit, dispatched locally) skips
        # the read.
        self.conn.exec_driver_sql(f"NOTIFY {EVENTS_CHANNEL}, '{int(last_sequence)}'")

    def _insert_ignoring_conflicts(self, table: sa.Table, **values: Any) -> Any:
        return postgresql.insert(table).values(**values).on_conflict_do_nothing()

    def ready_task_runs(self, flt: TaskRunFilter, *, now_us: int, limit: int) -> list[str]:
        # The claim walks the partial index of ready task runs in its order
        # whatever the statistics say (storage/work.py): sorts are off for that
        # one statement, in this transaction only.
        self._immediate()
        self.conn.exec_driver_sql(work.NO_SORT)
        found = super().ready_task_runs(flt, now_us=now_us, limit=limit)
        self.conn.exec_driver_sql(work.SORT_AGAIN)
        return found


def _run(conn: sa.Connection, sequencer: Sequencer, fn: Callable[[Tx], T]) -> T:
    return fn(PostgresTx(conn, sequencer))


def _run_deferring(
    conn: sa.Connection, sequencer: Sequencer, fn: Callable[[Tx], T], rows: Any
) -> tuple[T, PostgresTx]:
    """``fn`` on a Tx that keeps its last statements for the COMMIT's pipeline,
    with the rows the backend prefetched."""
    tx = PostgresTx(conn, sequencer)
    tx.deferred = []
    if rows:
        tx.keep_task_runs_with_executions(rows)
    return fn(tx), tx


def _heard(conn: sa.Connection, sql: str, params: Any, many: bool) -> None:
    """Tell the engine's ``before_cursor_execute`` listeners of a statement run on
    the driver's connection (the bench counts statements with one)."""
    listeners = conn.dispatch.before_cursor_execute
    if listeners:
        for listener in listeners:
            listener(conn, None, sql, params, None, many)


def _as_sqlalchemy(exc: Exception, sql: str, params: Any, driver: Any) -> sa.exc.DBAPIError:
    """The driver's error as SQLAlchemy's (``storage/errors.py`` tells a lost
    connection from a refused statement)."""
    import psycopg

    # The session ended (a FATAL: a connection exception, or the server shutting
    # it down): whatever of the pipeline ran, the COMMIT may have been among it.
    state = getattr(exc, "sqlstate", None) or ""
    lost = bool(driver.closed or driver.broken or state.startswith(("08", "57P")))
    error = sa.exc.DBAPIError.instance(sql, params, exc, psycopg.Error, connection_invalidated=lost)
    assert isinstance(error, sa.exc.DBAPIError)  # exc is the driver's: never a StatementError
    return error


class _Refused(Exception):
    """The server refused a statement of the COMMIT's pipeline: the COMMIT did not run."""

    def __init__(self, error: sa.exc.DBAPIError) -> None:
        super().__init__(str(error))
        self.error = error


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
        # No pre-ping of every checkout (a round trip per transaction): a
        # connection idle for PING_IDLE is pinged before use (:meth:`_checkout`),
        # one in use goes on; a lost one fails its transaction (UNAVAILABLE), and
        # every connection returned before then is pinged at its next checkout.
        self.async_engine = create_async_engine(url, pool_size=size, max_overflow=size)
        self._listener: threading.Thread | None = None
        #: The server process ids of this replica's own connections: their NOTIFYs
        #: are of commits the store hands to the hub itself (see :meth:`_listen`).
        #: Replaced whole, never changed in place (the listener's thread reads it).
        self._own_pids: frozenset[int] = frozenset()
        pool_events = self.async_engine.sync_engine
        sa.event.listen(pool_events, "connect", self._connected)
        sa.event.listen(pool_events, "close", self._gone)
        sa.event.listen(pool_events, "invalidate", self._gone)
        sa.event.listen(pool_events, "checkout", self._checkout)
        #: When a connection was last found lost (:meth:`_lost`).
        self._lost_at = 0.0
        sa.event.listen(pool_events, "checkin", self._checkin)
        #: Commits past their bound, finishing by themselves, with their connections.
        self._late: dict[asyncio.Task[None], Any] = {}

    def _connected(self, dbapi_connection: Any, record: Any) -> None:
        with contextlib.suppress(Exception):
            pid = int(dbapi_connection.driver_connection.info.backend_pid)
            record.info["statehouse_pid"] = pid
            self._own_pids = self._own_pids | {pid}

    def _gone(self, dbapi_connection: Any, record: Any, *_: Any) -> None:
        pid = record.info.pop("statehouse_pid", None)
        if pid is not None:
            self._own_pids = self._own_pids - {pid}

    def _checkout(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        """Ping a connection that has been idle a while (the pool's pre-ping, but
        not for the connections of a busy server, used again within PING_IDLE)."""
        used = record.info.get("statehouse_used", 0.0)
        if used > self._lost_at and time.monotonic() - used < PING_IDLE:
            return
        try:
            alive = self.async_engine.sync_engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa.exc.DisconnectionError(str(exc)) from exc
        if not alive:  # pragma: no cover - psycopg's ping raises instead
            raise sa.exc.DisconnectionError("the connection did not answer a ping")

    def _lost(self) -> None:
        """A connection was found lost on psycopg's own path (SQLAlchemy's own
        statements invalidate the whole pool themselves): every connection
        returned before now is pinged at its next checkout."""
        self._lost_at = time.monotonic()

    def _checkin(self, dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["statehouse_used"] = time.monotonic()

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
        # ``after`` on the event loop, where this backend commits.
        if not write:
            with unavailable_on_disconnect():
                async with self.async_engine.connect() as conn, conn.begin():
                    result: T = await conn.run_sync(_run, self._sequencer, fn)
        else:
            result = await self._write(fn, bound, prefetch, shared)
        if after is not None:
            after()
        return result

    async def _write(
        self, fn: Callable[[Tx], T], bound: float | None, prefetch: Sequence[str], shared: bool
    ) -> T:
        """``fn`` in a transaction that has ``bound`` seconds to commit (None: no bound).

        **The hot path on psycopg's own connection.** The batch's task runs and
        executions are read and locked first (``prefetch``: BEGIN and the SELECT in
        one round trip, psycopg's pipeline mode), then ``fn`` runs (in SQLAlchemy's
        greenlet, which finds what it reads already there and so makes no round
        trip), and the statements its :meth:`PostgresTx.finish` kept go out with
        the COMMIT in one pipeline (:meth:`_send`). A batch of transitions is two
        round trips, and the event counter's row is locked only from its statement,
        already at the server, to the COMMIT right behind it.

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
        deadline = None if bound is None else loop.time() + bound
        conn = None
        try:
            async with asyncio.timeout_at(deadline):
                conn = await self.async_engine.connect()
                trans = await conn.begin()
                driver = (await conn.get_raw_connection()).driver_connection
                rows = await self._prefetch(conn, driver, prefetch) if prefetch else None
                result, tx = await conn.run_sync(_run_deferring, self._sequencer, fn, rows)
        except TimeoutError:
            await _discard(conn)
            raise StorageUnavailable(
                f"the transaction did not finish within {bound or 0:.1f} s (--commit-timeout); "
                "nothing was stored"
            ) from None
        except sa.exc.DBAPIError as exc:
            if not is_unreachable(exc):
                if conn is not None:
                    await conn.close()
                if shared:
                    raise BatchConflict(str(exc)) from exc
                raise
            self._lost()
            await _discard(conn)
            raise StorageUnavailable(str(exc.orig)) from exc
        except BaseException:
            if conn is not None:
                await conn.close()
            raise
        commit: asyncio.Future[None]
        if tx.deferred or tx.unsequenced:
            commit = asyncio.ensure_future(self._send(conn, trans, driver, tx, deadline))
        else:
            commit = asyncio.ensure_future(trans.commit())
        try:
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            done, _ = await asyncio.wait({commit}, timeout=timeout)
        except BaseException:  # cancelled while committing (a shutdown)
            self._leave(commit, conn)
            raise
        if not done:
            self._leave(commit, conn)
            raise CommitOutcomeUnknown(
                f"the commit did not finish within {bound or 0:.1f} s (--commit-timeout): "
                "it may or may not be stored"
            )
        try:
            commit.result()
        except _Refused as refused:
            # A statement before the COMMIT failed, so the pipeline stopped there:
            # nothing is stored, and the connection is fine (rolled back on close),
            # unless it was lost since (the primary killed): then it is discarded.
            try:
                await conn.close()
            except sa.exc.DBAPIError:
                await _discard(conn)
            error = refused.error
            if is_unreachable(error):  # a lock wait past the bound, a read-only server
                raise StorageUnavailable(f"{error.orig} (nothing was stored)") from error
            if shared:
                raise BatchConflict(str(error)) from error
            raise error from None
        except sa.exc.DBAPIError as exc:
            await _discard(conn)
            if is_unreachable(exc):
                self._lost()
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

    async def _prefetch(self, conn: Any, driver: Any, ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """The task runs ``ids`` with their executions, locked: BEGIN and the SELECT
        in one round trip, on psycopg's connection."""
        import psycopg

        sql, params = PostgresTx.task_runs_query().prepared_rows(conn.dialect, ids)
        _heard(conn.sync_connection, sql, params, False)
        try:
            async with driver.pipeline():
                cursor = driver.cursor()
                await cursor.execute(sql, params)
            rows: list[tuple[Any, ...]] = await cursor.fetchall()
        except psycopg.Error as exc:
            raise _as_sqlalchemy(exc, sql, params, driver) from exc
        return rows

    async def _send(
        self, conn: Any, trans: Any, driver: Any, tx: PostgresTx, deadline: float | None
    ) -> None:
        """``tx``'s kept statements, its events and the COMMIT, in one pipeline.

        Lock waits are bounded by the write's deadline (``lock_timeout``, set for
        the transaction: a wait past it is refused, and nothing is stored), never
        the COMMIT (see :meth:`_write`). A statement the server refuses stops the
        pipeline before the COMMIT (:class:`_Refused`); a connection lost meanwhile
        leaves the outcome unknown (the caller says so).
        """
        import psycopg

        sync = conn.sync_connection
        statements: list[tuple[str, Any, bool]] = [(sql, p, False) for sql, p in tx.deferred or ()]
        if deadline is not None:
            left = deadline - asyncio.get_running_loop().time()
            # Refused a little before the deadline, so that only a COMMIT can outlast it.
            timeout = f"{max(1, int(left * 800))}ms"
            statements.insert(0, ("SELECT set_config('lock_timeout', %s, true)", (timeout,), False))
        if tx.unsequenced:
            statements.append((_APPEND_EVENTS, tx.events_parameters(), False))
        appended = None
        sql, params = "", None
        try:
            async with driver.pipeline():
                cursor = driver.cursor()
                for sql, params, many in statements:
                    _heard(sync, sql, params, many)
                    if many:
                        await cursor.executemany(sql, params)
                    elif sql is _APPEND_EVENTS:
                        appended = driver.cursor()
                        await appended.execute(sql, params)
                    else:
                        await cursor.execute(sql, params)
                sql, params = "COMMIT", None
                await cursor.execute(sql)
        except psycopg.Error as exc:
            error = _as_sqlalchemy(exc, sql, params, driver)
            if error.connection_invalidated:
                raise error from exc  # lost: the outcome is unknown
            raise _Refused(error) from exc
        if appended is not None:
            row = await appended.fetchone()
            if row is None:  # pragma: no cover - the counter row is made by a migration
                raise RuntimeError("the event counter row is missing")
            tx.sequenced(int(row[0]))
        # SQLAlchemy's bookkeeping (its commit event); psycopg has nothing left to send.
        await trans.commit()

    def _leave(self, commit: asyncio.Future[None], conn: Any) -> None:
        """Let a commit past its bound finish by itself, then close its connection."""

        async def finish() -> None:
            with contextlib.suppress(BaseException):
                await commit
            await _discard(conn)

        task = asyncio.get_running_loop().create_task(finish(), name="statehouse-late-commit")
        self._late[task] = conn
        task.add_done_callback(lambda t: self._late.pop(t, None))

    def listen_for_commits(
        self,
        wake: Callable[[int, list[Event] | None], object],
        closing: threading.Event,
        wants_events: Callable[[], bool],
    ) -> None:
        """Call ``wake(last_sequence, events)`` (from a thread) on every NOTIFY of
        any other replica (``events``: the commit's, when they fit in its payload),
        ``wake(0, None)`` after a reconnect (what was committed is unknown)."""
        if self._listener is not None:
            return
        self._listener = threading.Thread(
            target=self._listen,
            args=(wake, closing, wants_events),
            name="statehouse-listen",
            daemon=True,
        )
        self._listener.start()

    def _listen(
        self,
        wake: Callable[[int, list[Event] | None], object],
        closing: threading.Event,
        wants_events: Callable[[], bool],
    ) -> None:
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
                    wake(0, None)  # anything committed while we were not listening
                    while not closing.is_set():
                        for notify in conn.notifies(timeout=0.5, stop_after=1):
                            # A commit of this replica's own is handed to the hub by
                            # the store once it has committed (its commit listeners):
                            # woken for it, the hub, often still short of it, would
                            # read it back from the log. (One that ends without an
                            # answer, its outcome unknown, is found by the hub's poll
                            # or at the next gap.)
                            if notify.pid not in self._own_pids:
                                payload = notify.payload or "0"
                                if wants_events():
                                    wake(*announced_events(payload))
                                else:  # nobody to give them to: the sequence is enough
                                    wake(announced_events(payload.partition(" ")[0])[0], None)
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
