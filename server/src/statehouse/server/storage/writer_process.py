"""SQLite's writes in a process of their own: a second interpreter lock.

One interpreter runs the server's event loop and its SQLite writer thread in
turn (one GIL): the loop's work per call (grpc, validation, admission) and the
transaction's (the rules, the rows, SQLite's statements) cannot overlap, so a
second core helps little. With ``StoreOptions.sqlite_writer_process`` the
writer thread hands each batch (:class:`~.batch.Batch`) to a child process that
holds the file's writer connection: the child runs the writes' commands in one
transaction, commits, builds each write's answer (the response), and sends back
each answer or error, the events to publish and whether a timer was set. The
serving process publishes the events and answers the calls as before: the
store's queue, batches, traces and metrics do not know where a batch ran.

**What crosses.** A batch is pickled: each write's command (a module-level
function bound to plain values and protobuf messages with ``functools.partial``),
its task runs and its answer function. A batch that does not pickle (a closure)
runs on the writer thread here instead, taking turns at the file's write lock
with the child as another process would (``sqlite.WriterTurn``; the kept rows
see the other's commits by ``PRAGMA data_version``). Errors cross as their
type, arguments and attributes (:func:`freeze`), rebuilt without calling their
constructors; one that does not pickle arrives as a ``RuntimeError`` naming it.
A call's answer crosses encoded (``api/_base.encoded``): the serving process
neither decodes it nor encodes it again.
The child draws its times from its own clock: while a test has replaced the
serving process's (``clock.replaced()``), the batches run here.

**Supervision.** The child is started at the first batch that can
go to it. If it ends (killed, crashed), the batch in flight is answered
:class:`~.errors.StorageUnavailable` (it may or may not have committed, as with
a crash of the whole server: the caller's request_id settles it) and the next
batch starts a new child. One that ended before it had read the whole batch
(killed while idle: the batch finds its socket closed or reset) is replaced
and the batch sent to the new one, answered as usual. The child ends when the serving process closes its
pipe, and by itself when the serving process is gone (the pipe's end, or its
parent changed: checked every second). It ignores SIGINT and SIGTERM, which a
terminal or a service manager sends to the whole group: the server's shutdown
still writes, and closes the child last.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

import sqlalchemy as sa

from .. import clock
from ..telemetry._logs import JsonFormatter
from .batch import Batch, Write
from .errors import StorageUnavailable
from .options import StoreOptions

log = logging.getLogger("statehouse.storage")

#: ``module:function`` called with the child's backend before its first batch (the
#: bench's instruments: bench/bench_server.py).
HOOK_ENV = "STATEHOUSE_WRITER_PROCESS_HOOK"
#: How long the child may take to start (its imports, on a loaded machine), seconds.
START_TIMEOUT = 60.0
#: How often the child looks whether its serving process is still there (seconds).
ORPHAN_CHECK_INTERVAL = 1.0


class WriterProcess:
    """The serving process's end: :meth:`run` sends a batch and waits for its outcome.

    Called from one thread at a time (the backend's writer thread)."""

    def __init__(self, url: sa.URL, options: StoreOptions) -> None:
        self._url = url.render_as_string(hide_password=False)
        self._options = options
        self._process: Any = None
        self._conn: Connection | None = None
        #: Children started so far (a restart after a crash counts).
        self.started = 0

    @property
    def pid(self) -> int | None:
        """The child's process id, None before the first batch or after it ended."""
        return None if self._process is None else int(self._process.pid)

    def _start(self) -> Connection:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            process = subprocess.Popen(
                [sys.executable, "-c", _MAIN, str(theirs.fileno()), str(os.getpid())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                # What this process imports from, the child does (a test's path too).
                env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
            )
            conn = Connection(os.dup(ours.fileno()))
        root = logging.getLogger()
        json = any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
        try:
            conn.send_bytes(
                pickle.dumps((self._url, self._options, root.level, "json" if json else "text"))
            )
            if not conn.poll(START_TIMEOUT):
                process.kill()
            conn.recv_bytes()  # ready: its database open, its hook installed
        except (EOFError, OSError) as exc:
            conn.close()
            code = process.wait()
            raise StorageUnavailable(
                f"the SQLite writer process did not start (exit code {code})"
            ) from exc
        self._process, self._conn = process, conn
        self.started += 1
        log.debug("SQLite writer process %d started", process.pid)
        return conn

    def run(self, batch: Batch) -> list[Any] | None:
        """``batch`` run and committed in the child: each write's result (its answer)
        or error set, ``batch.armed`` set; the events. None when the batch does not
        pickle (nothing was sent)."""
        if clock.replaced():
            return None
        writes = batch.writes
        try:
            data = pickle.dumps(
                [(w.fn, w.task_runs, w.answer) for w in writes], pickle.HIGHEST_PROTOCOL
            )
        except Exception:  # a closure, a lock: written here
            return None
        if self._process is not None and self._process.poll() is not None:
            # It ended while idle (killed): no batch was lost, start another.
            log.warning(
                "SQLite writer process ended (exit code %s): starting another", self._reap()
            )
        for attempt in (1, 2):
            conn = self._conn or self._start()
            try:
                conn.send_bytes(data)
                reply = conn.recv_bytes()
                break
            except (BrokenPipeError, ConnectionResetError) as exc:
                # It ended before it had read the whole batch (a socket closed with
                # bytes unread resets its peer): nothing ran, another child runs it.
                code = self._reap()
                if attempt == 2:
                    raise StorageUnavailable(
                        f"the SQLite writer process ended (exit code {code}) twice"
                    ) from exc
                log.warning("SQLite writer process ended (exit code %s): starting another", code)
            except (EOFError, OSError) as exc:
                # It had read the batch: committed or not, as with a crash.
                code = self._reap()
                raise StorageUnavailable(
                    f"the SQLite writer process ended (exit code {code}) during a commit"
                ) from exc
        status, *rest = pickle.loads(reply)
        if status == "error":
            error = thaw(rest[0])
            assert error is not None
            raise error
        outcomes, appended, armed = rest
        for write, (result, error) in zip(writes, outcomes, strict=True):
            write.result, write.error = _thaw_parts(result), thaw(error)
            write.answer = None
        if armed and batch.armed is not None:
            batch.armed[0] = True
        return appended  # type: ignore[no-any-return]

    def _reap(self) -> int | None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is None:
            return None
        try:
            return process.wait(5)  # type: ignore[no-any-return]
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()  # type: ignore[no-any-return]

    def close(self) -> None:
        """End the child: it finishes the batch it runs, then sees the pipe close."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def serve(conn: Connection, parent: int) -> None:
    """The child: batches from ``conn`` run on one writer connection, until it closes."""
    from ..telemetry._logs import configure_logging
    from .sequencer import CounterRowSequencer
    from .sqlite import SqliteBackend

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    try:
        url, options, level, log_format = pickle.loads(conn.recv_bytes())
    except (EOFError, OSError):
        return
    configure_logging(logging.getLevelName(level), log_format, process=True)
    local = dataclasses.replace(options, sqlite_writer_process=False)
    backend = SqliteBackend(sa.make_url(url), local, CounterRowSequencer(), None)  # type: ignore[arg-type]
    hook = os.environ.get(HOOK_ENV)
    if hook:
        module, _, name = hook.partition(":")
        getattr(importlib.import_module(module), name)(backend)
    conn.send_bytes(b"ready")
    try:
        while True:
            try:
                data = conn.recv_bytes()
            except (EOFError, OSError):
                return
            conn.send_bytes(_run(backend, data))
    except OSError:  # the serving process is gone
        return
    finally:
        backend.close()


def _run(backend: Any, data: bytes) -> bytes:
    writes = [
        Write(fn, None, task_runs=task_runs, answer=answer)  # type: ignore[arg-type]
        for fn, task_runs, answer in pickle.loads(data)
    ]
    batch = Batch(writes, [False])
    try:
        appended = backend.run_write_here(batch, batch.answer)
    except BaseException as exc:
        return _dumps(("error", freeze(exc)))
    assert batch.armed is not None
    outcomes = [(_freeze_parts(w.result), freeze(w.error)) for w in writes]
    return _dumps(("ok", outcomes, appended, batch.armed[0]))


def _dumps(reply: tuple[Any, ...]) -> bytes:
    try:
        return pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        return pickle.dumps(("error", freeze(exc)), pickle.HIGHEST_PROTOCOL)


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_INTERVAL)
    os._exit(0)


# -- errors across the pipe ------------------------------------------------------


def freeze(exc: BaseException | None) -> Any:
    """``exc`` as (type, args, attributes), which pickle without its constructor;
    one that does not pickle as a RuntimeError naming it."""
    if exc is None:
        return None
    frozen = (type(exc), exc.args, dict(getattr(exc, "__dict__", {})))
    try:
        pickle.dumps(frozen, pickle.HIGHEST_PROTOCOL)
    except Exception:
        return (RuntimeError, (f"{type(exc).__name__}: {exc}",), {})
    return frozen


def thaw(frozen: Any) -> BaseException | None:
    """The error :func:`freeze` froze, rebuilt without calling its constructor."""
    if frozen is None:
        return None
    cls, args, state = frozen
    exc: BaseException = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class _Frozen(tuple):  # type: ignore[type-arg]
    """An error among a write of parts' results."""


def _freeze_parts(result: Any) -> Any:
    if type(result) is list:
        return [_Frozen(freeze(r)) if isinstance(r, BaseException) else r for r in result]
    return result


def _thaw_parts(result: Any) -> Any:
    if type(result) is list:
        return [thaw(r) if type(r) is _Frozen else r for r in result]
    return result


#: The child's program: its socket's descriptor and the serving process's pid follow.
_MAIN = (
    "import sys; from multiprocessing.connection import Connection; "
    f"from {__name__} import serve; serve(Connection(int(sys.argv[1])), int(sys.argv[2]))"
)
