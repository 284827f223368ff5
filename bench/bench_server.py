"""The Statehouse server as the bench runs it: ``statehouse.server.app.serve``
itself (the same options, settings, switch interval and event loop), with
instruments the bench reads, installed by its ``on_server`` hook:

- SQLAlchemy event listeners on the store's engines count SQL statements
  (``before_cursor_execute``: an ``executemany`` counts as one, by first keyword
  too) and database commits (``commit``; ``write_commits`` those of transactions
  that ran an INSERT, UPDATE or DELETE, the ones that flush the log);
- a commit listener (``store.add_commit_listener``) counts committed events and
  records ``time.time_ns()`` right after each commit, for the last sequence of the
  batch (a bounded ring): the fan-out latency is measured from there;
- SIGUSR1 writes all of it as JSON to ``--counters-out`` (atomically; ``dump``
  counts the writes, so a reader waits for the number it asked for), with the CPU
  time each kind of thread has used so far (``threads``: :func:`thread_cpu`);
- SIGUSR2 starts cProfile (each thread's own CPU time, not the wall clock: waits and
  other processes do not count) on the loop thread and on every thread of the store's
  pools, the next SIGUSR2 stops it and writes the profiles (pstats) to
  ``--profile-out`` (all threads merged) and ``--profile-out`` plus ``.loop`` and
  the name of each of the store's thread pools (``.heavy``; ``.writer`` and
  ``.reader`` on SQLite); then logs ``profile written``.

SIGTERM/SIGINT stop the server gracefully, like the real one. Every option of
``statehouse serve`` is accepted, ``--processes N`` too: then this process is
``app.supervise`` itself (the parent: no store, SIGUSR1 and SIGUSR2 ignored) and
each server process it spawns runs ``app.serve`` with the instruments, its files
suffixed with its number (``--counters-out X`` -> ``X.1`` .. ``X.N``): the bench
signals each process named by the ready file (``pids``) and merges them.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import cProfile
import json
import logging
import os
import pstats
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from statehouse.server import app
from statehouse.server.options import add_serve_arguments, settings_from_args

log = logging.getLogger("statehouse.bench.server")

#: Commit times kept (the last sequence of each batch): about 200k batches.
COMMIT_RING = 200_000
#: Set by the parent of ``--processes N`` for its server processes: the files, as JSON.
CHILD_ENV = "STATEHOUSE_BENCH_SERVER_FILES"
WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})
#: SQLite's writer process: the hook it calls with its backend, and its files (JSON).
WRITER_HOOK_ENV = "STATEHOUSE_WRITER_PROCESS_HOOK"
WRITER_ENV = "STATEHOUSE_BENCH_WRITER_FILES"
#: How long the serving process waits for the writer process's files (seconds).
WRITER_WAIT = 5.0


class Counters:
    """Statements, commits and committed events, counted in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.statements = 0
        self.executemany = 0
        self.commits = 0
        #: Commits of transactions that wrote (INSERT, UPDATE, DELETE): the ones that flush.
        self.write_commits = 0
        self._dirty: set[int] = set()
        self.by_keyword: collections.Counter[str] = collections.Counter()
        self.events = 0
        self.batches = 0
        #: (last sequence of a committed batch, time.time_ns() right after the commit).
        self.commit_times: collections.deque[tuple[int, int]] = collections.deque(
            maxlen=COMMIT_RING
        )
        self.engines: list[str] = []
        self.dumps = 0

    def install(self, store: Any) -> None:
        import sqlalchemy as sa

        engines = []
        if callable(getattr(store, "engines", None)):
            engines = list(store.engines())
        else:
            if getattr(store, "engine", None) is not None:
                engines.append(store.engine)
            if getattr(store, "async_engine", None) is not None:
                engines.append(store.async_engine.sync_engine)
        seen: set[int] = set()
        for engine in engines:
            engine = getattr(engine, "sync_engine", engine)
            if id(engine) in seen:
                continue
            seen.add(id(engine))
            sa.event.listen(engine, "before_cursor_execute", self._statement)
            sa.event.listen(engine, "commit", self._commit)
            sa.event.listen(engine, "rollback", self._rollback)
            self.engines.append(str(engine.url.render_as_string(hide_password=True)))
        if callable(getattr(store, "add_commit_listener", None)):
            store.add_commit_listener(self._committed)

    def _statement(
        self,
        conn: Any,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        _context: Any,
        executemany: bool,
    ) -> None:
        keyword = statement.lstrip()[:10].split(None, 1)[0].upper() if statement else "?"
        with self._lock:
            self.statements += 1
            self.executemany += executemany
            self.by_keyword[keyword] += 1
            if keyword in WRITES:
                self._dirty.add(id(conn))

    def _commit(self, conn: Any) -> None:
        with self._lock:
            self.commits += 1
            if id(conn) in self._dirty:
                self._dirty.discard(id(conn))
                self.write_commits += 1

    def _rollback(self, conn: Any) -> None:
        with self._lock:
            self._dirty.discard(id(conn))

    def _committed(self, events: list[Any]) -> None:
        now = time.time_ns()
        if not events:
            return
        self.events += len(events)
        self.batches += 1
        self.commit_times.append((int(events[-1].sequence), now))

    def dump(self, path: Path, writer: dict[str, Any] | None = None) -> None:
        """Write the counters to ``path``; ``writer``: the writer process's dump
        (SQLite's, ``storage/writer_process.py``), whose statements and commits
        are this server's too, and whose CPU time is its ``writer`` thread's."""
        with self._lock:
            self.dumps += 1
            data = {
                "dump": self.dumps,
                "pid": os.getpid(),
                "statements": self.statements,
                "executemany": self.executemany,
                "commits": self.commits,
                "write_commits": self.write_commits,
                "by_keyword": dict(self.by_keyword),
                "events": self.events,
                "commit_batches": self.batches,
                "engines": self.engines,
                "commit_times": list(self.commit_times),
                "threads": thread_cpu(),
            }
        if writer:
            for key in ("statements", "executemany", "commits", "write_commits"):
                data[key] += writer.get(key, 0)
            for keyword, count in writer.get("by_keyword", {}).items():
                data["by_keyword"][keyword] = data["by_keyword"].get(keyword, 0) + count
            threads = data["threads"]
            threads["writer"] = threads.get("writer", 0.0) + sum(writer.get("threads", {}).values())
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)


#: The kinds of thread :func:`thread_cpu` reports, by the start of a Python thread's
#: name: the event loop, SQLite's writer, the readers, the heavy lane.
THREAD_KINDS = (
    ("MainThread", "loop"),
    ("statehouse-writer", "writer"),
    ("statehouse-reader", "readers"),
    ("statehouse-heavy", "heavy"),
)


def thread_kind(name: str | None) -> str:
    """The kind of a thread of this process by its Python name: None (a thread
    Python did not start: grpc's core) and grpc.aio's poller are ``grpc``; the
    store's pools and the loop as :data:`THREAD_KINDS`; any other is ``other``."""
    if name is None or name.endswith("(_poll_wrapper)"):
        return "grpc"
    for prefix, kind in THREAD_KINDS:
        if name.startswith(prefix):
            return kind
    return "other"


def thread_cpu(task_dir: Path = Path("/proc/self/task")) -> dict[str, float]:
    """User and system CPU seconds of this process's live threads, summed by
    :func:`thread_kind` ({} without /proc). A thread that ended takes its time
    with it: the bench diffs two reads while the same threads run."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    clock = os.sysconf("SC_CLK_TCK")
    kinds: dict[str, float] = {}
    try:
        tasks = list(task_dir.iterdir())
    except OSError:
        return {}
    for task in tasks:
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        kind = thread_kind(names.get(int(task.name)))
        kinds[kind] = kinds.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / clock
    return kinds


class ThreadProfiles:
    """cProfile profilers for the loop thread and every thread of some named pools."""

    def __init__(self, pools: dict[str, tuple[ThreadPoolExecutor, int]]) -> None:
        self.pools = pools
        self.profiles: dict[str, list[cProfile.Profile]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._main: cProfile.Profile | None = None

    def _each_thread(
        self, pool: tuple[ThreadPoolExecutor, int], fn: Callable[[], None]
    ) -> list[asyncio.Future[None]]:
        # Occupy every thread of the pool at once (a barrier), so each runs fn once.
        executor, size = pool
        barrier = threading.Barrier(size)

        def job() -> None:
            fn()
            barrier.wait(timeout=10)

        loop = asyncio.get_running_loop()
        return [loop.run_in_executor(executor, job) for _ in range(size)]

    def _enabler(self, group: str) -> Callable[[], None]:
        def enable_here() -> None:
            profile = cProfile.Profile(time.thread_time)
            self._local.profile = profile
            with self._lock:
                self.profiles.setdefault(group, []).append(profile)
            profile.enable()

        return enable_here

    def _disable_here(self) -> None:
        profile = getattr(self._local, "profile", None)
        if profile is not None:
            profile.disable()
            self._local.profile = None

    @property
    def running(self) -> bool:
        return self._main is not None

    async def start(self) -> None:
        if self._main is not None:
            return
        self.profiles = {}
        jobs = [
            job
            for name, pool in self.pools.items()
            for job in self._each_thread(pool, self._enabler(name))
        ]
        await asyncio.gather(*jobs)
        self._main = cProfile.Profile(time.thread_time)
        self.profiles["loop"] = [self._main]
        self._main.enable()
        log.info("profiling started (%d threads)", sum(map(len, self.profiles.values())))

    async def stop(self, path: Path, extra: dict[str, Path] | None = None) -> None:
        """Write ``path`` (all threads merged) and ``path.<group>`` for each thread group;
        ``extra``: profiles of other processes (group: file) merged into their group."""
        if self._main is None:
            return
        self._main.disable()
        self._main = None
        jobs = [
            job
            for pool in self.pools.values()
            for job in self._each_thread(pool, self._disable_here)
        ]
        await asyncio.gather(*jobs)
        merged: pstats.Stats | None = None
        for group, file in (extra or {}).items():
            self.profiles.setdefault(group, []).append(pstats.Stats(str(file)))  # type: ignore[arg-type]
        for group, profiles in self.profiles.items():
            stats = pstats.Stats(profiles[0])
            for profile in profiles[1:]:
                stats.add(profile)
            stats.dump_stats(f"{path}.{group}")
            if merged is None:
                merged = pstats.Stats(profiles[0])
                for profile in profiles[1:]:
                    merged.add(profile)
            else:
                for profile in profiles:
                    merged.add(profile)
        assert merged is not None
        merged.dump_stats(str(path))
        log.info("profile written to %s (groups: %s)", path, ", ".join(self.profiles))


def instrumenter(
    counters_out: Path | None, profile_out: Path | None
) -> Callable[[app.Server], None]:
    """``app.serve``'s ``on_server`` hook: counters on SIGUSR1, profiles on SIGUSR2."""
    counters = Counters()

    def instrument(server: app.Server) -> None:
        counters.install(server.store)
        profiles = ThreadProfiles(server.store.thread_pools())
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Future[None]] = set()
        # SQLite's writer process (started at the first write) instruments itself.
        writer = WriterInstruments(server.store, counters_out, profile_out)

        def spawn(coro: Any) -> None:
            task = asyncio.ensure_future(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        async def dump() -> None:
            if counters_out is not None:
                counters.dump(counters_out, await writer.counters())

        async def stop_profile(path: Path) -> None:
            await profiles.stop(path, await writer.stop_profile())

        def toggle_profile() -> None:
            if profile_out is None:
                log.warning("SIGUSR2 without --profile-out: no profile")
            elif profiles.running:
                spawn(stop_profile(profile_out))
            else:
                writer.start_profile()
                spawn(profiles.start())

        loop.add_signal_handler(signal.SIGUSR1, lambda: spawn(dump()))
        loop.add_signal_handler(signal.SIGUSR2, toggle_profile)

    return instrument


class WriterInstruments:
    """The serving process's side of the writer process's instruments: SIGUSR1 and
    SIGUSR2 sent on, its files read back (``<file>.writer``)."""

    def __init__(self, store: Any, counters_out: Path | None, profile_out: Path | None) -> None:
        self.store = store
        self.counters_out = counters_out and counters_out.with_name(f"{counters_out.name}.writer")
        self.profile_out = profile_out and profile_out.with_name(f"{profile_out.name}.writer")
        self._dumps: dict[int, int] = {}
        self._profiling: int | None = None

    @staticmethod
    def environ(counters_out: Path | None, profile_out: Path | None) -> None:
        """Set, before the server starts (its first write starts the writer process),
        what the writer process reads: the hook, and where its files go."""
        files = {"counters": counters_out, "profile": profile_out}
        os.environ[WRITER_ENV] = json.dumps(
            {k: str(v.with_name(f"{v.name}.writer")) if v else "" for k, v in files.items()}
        )
        # By this file's name: it runs as __main__ (or __mp_main__) here.
        os.environ[WRITER_HOOK_ENV] = "bench_server:instrument_writer"

    def _pid(self) -> int | None:
        writer = getattr(self.store.backend, "writer_process", None)
        return None if writer is None else writer.pid

    async def _file(self, path: Path, ready: Callable[[Any], bool]) -> Any:
        deadline = time.monotonic() + WRITER_WAIT
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                value = ready(path)
                if value:
                    return value
            await asyncio.sleep(0.01)
        log.warning("the writer process wrote no %s in %s s", path, WRITER_WAIT)
        return None

    async def counters(self) -> dict[str, Any] | None:
        pid = self._pid()
        if pid is None or self.counters_out is None:
            return None
        wanted = self._dumps.get(pid, 0) + 1
        try:
            os.kill(pid, signal.SIGUSR1)
        except ProcessLookupError:
            return None
        path = self.counters_out

        def ready(path: Path) -> Any:
            data = json.loads(path.read_text())
            return data if data.get("pid") == pid and data.get("dump", 0) >= wanted else None

        data: dict[str, Any] | None = await self._file(path, ready)
        if data is not None:
            self._dumps[pid] = data["dump"]
        return data

    def start_profile(self) -> None:
        pid = self._pid()
        if pid is not None and self.profile_out is not None:
            with contextlib.suppress(FileNotFoundError):
                self.profile_out.unlink()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR2)
                self._profiling = pid

    async def stop_profile(self) -> dict[str, Path]:
        pid, self._profiling = self._profiling, None
        if pid is None or self.profile_out is None:
            return {}
        try:
            os.kill(pid, signal.SIGUSR2)
        except ProcessLookupError:
            return {}
        found = await self._file(self.profile_out, lambda path: path.exists())
        return {"writer": self.profile_out} if found else {}


def instrument_writer(backend: Any) -> None:
    """In SQLite's writer process (``STATEHOUSE_WRITER_PROCESS_HOOK``): its statements
    and commits counted, SIGUSR1 dumps them (its whole CPU time as ``threads``),
    SIGUSR2 starts and stops cProfile on its one working thread."""
    files = json.loads(os.environ.get(WRITER_ENV, "{}"))
    counters = Counters()
    counters.install(backend)
    running: list[cProfile.Profile] = []

    def dump(*_: Any) -> None:
        if files.get("counters"):
            counters.dump(Path(files["counters"]))

    def toggle(*_: Any) -> None:
        if running:
            done = running.pop()
            done.disable()
            # Written whole, then renamed: the serving process waits for the name.
            tmp = f"{files['profile']}.tmp"
            done.dump_stats(tmp)
            os.replace(tmp, files["profile"])
        elif files.get("profile"):
            started = cProfile.Profile(time.thread_time)
            running.append(started)
            started.enable()

    signal.signal(signal.SIGUSR1, dump)
    signal.signal(signal.SIGUSR2, toggle)


def child_path(path: Path, index: int) -> Path:
    """The file of server process ``index`` (1 to N) of ``--processes N``
    (bench/statehouse_bench/common.py reads it there)."""
    return path.with_name(f"{path.name}.{index}")


def write_ready_file(path: Path, port: int, pids: list[int]) -> None:
    """What ``serve --ready-file`` writes, whole: for a server from before that option."""
    body = {"grpc_port": port, "http_port": None, "metrics_port": None, "pids": pids}
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(body) + "\n")
    os.replace(partial, path)


class _ReadyFromSupervisor(logging.Handler):
    """``--ready-file`` for the supervisor of a server from before that option (an
    older commit's ``--server-src``), whose ready line alone names its processes."""

    LINE = re.compile(r"statehouse serving on \S+?:(\d+) .*processes: pids ([\d, ]+)\)")

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        match = self.LINE.search(record.getMessage())
        if match:
            pids = [int(p) for p in match[2].replace(",", " ").split()]
            write_ready_file(self.path, int(match[1]), pids)


def serve(
    settings: Any,
    counters_out: Path | None,
    profile_out: Path | None,
    log_level: str = "INFO",
    log_format: str = "text",
    ready_file: Path | None = None,
) -> int:
    """``app.serve`` itself, with the instruments installed on the server it builds;
    with ``--processes N``, ``app.supervise`` (each process instruments itself). The
    exit status. ``ready_file``: written here, for a server without ``--ready-file``."""
    if settings.processes > 1:
        files = {"counters_out": counters_out, "profile_out": profile_out}
        os.environ[CHILD_ENV] = json.dumps({k: str(v) if v else "" for k, v in files.items()})
        # The parent has no store: the bench signals the server processes themselves.
        # (Ignored here, the signals stay ignored in the processes until their loop
        # installs the handlers: one sent early does not kill them.)
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        if ready_file is not None:
            logging.getLogger().addHandler(_ReadyFromSupervisor(ready_file))
        return app.supervise(settings, log_level, log_format)
    on_ready = None
    if ready_file is not None:
        path = ready_file

        def on_ready(port: int) -> None:
            write_ready_file(path, port, [os.getpid()])

    WriterInstruments.environ(counters_out, profile_out)
    app.run(
        app.serve(settings, on_ready=on_ready, on_server=instrumenter(counters_out, profile_out))
    )
    return 0


def _instrument_server_processes() -> None:
    """In a server process of ``--processes N`` (spawned: multiprocessing runs this
    file again as ``__mp_main__`` before it calls ``app.supervisor._child_main``, which calls
    ``app.serve``): ``app.serve`` with the instruments, each process its own files."""
    files = json.loads(os.environ[CHILD_ENV])
    original = app.serve

    async def serve_instrumented(
        settings: Any,
        *,
        on_ready: Callable[[int], None] | None = None,
        process: tuple[int, int] | None = None,
        on_server: Callable[[app.Server], None] | None = None,
    ) -> None:
        index = process[0] if process is not None else 0
        counters_out, profile_out = (
            child_path(Path(files[k]), index) if files[k] else None
            for k in ("counters_out", "profile_out")
        )
        WriterInstruments.environ(counters_out, profile_out)
        await original(
            settings,
            on_ready=on_ready,
            process=process,
            on_server=on_server or instrumenter(counters_out, profile_out),
        )

    app.serve = serve_instrumented


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_serve_arguments(parser)
    # A server from before `serve --ready-file` (--server-src of an older commit): the
    # file is written here, so that the bench starts every server the same way.
    own_ready_file = not any(action.dest == "ready_file" for action in parser._actions)
    if own_ready_file:
        parser.add_argument("--ready-file", type=Path, help="once serving, the ports as JSON")
    parser.add_argument("--counters-out", type=Path, help="SIGUSR1 writes the counters here")
    parser.add_argument("--profile-out", type=Path, help="SIGUSR2 profiles into this file")
    args = parser.parse_args()
    logging.basicConfig(
        level=str(args.log_level).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    status = serve(
        settings_from_args(args),
        args.counters_out,
        args.profile_out,
        str(args.log_level),
        getattr(args, "log_format", "text"),
        args.ready_file if own_ready_file else None,
    )
    if status:
        raise SystemExit(status)


if __name__ == "__mp_main__" and os.environ.get(CHILD_ENV):
    _instrument_server_processes()

if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
