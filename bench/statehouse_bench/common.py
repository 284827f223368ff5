"""Shared by every phase: the server subprocesses (on the one launcher,
``statehouse.server.testing``; Statehouse always through ``bench/bench_server.py``,
whose counters are read here; ``--processes N`` too),
CPU quotas for client processes (cgroup v1), timing, percentiles, CPU and memory
from /proc, tables, and the environment."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import math
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from statehouse.server import testing as launcher

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
ECHO_METHOD = "/bench.Echo/Echo"
NAMESPACE = "bench"
SENTINEL_FLOW = "bench-end"
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: What a Statehouse server's log says once it serves (checked, never waited for).
STATEHOUSE_READY = r"statehouse serving on 127\.0\.0\.1:(\d+)"
#: Counters summed over the processes of ``--processes N`` (one dump each).
SUMMED_COUNTERS = (
    "statements",
    "executemany",
    "commits",
    "write_commits",
    "events",
    "commit_batches",
)
SQLITE_DURABILITY = "SQLite in WAL mode, synchronous=NORMAL (the server's default)"


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_loop(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run on uvloop where installed (like both servers), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def loop_kind() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    return f"uvloop {getattr(uvloop, '__version__', '?')}"


# -- servers -------------------------------------------------------------------------


#: What the command line of SQLite's writer process names.
WRITER_PROCESS = b"statehouse.server.storage.writer_process"


def _proc_stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


class ServerProcess(launcher.ServerProcess):
    """A server subprocess on the one launcher (``statehouse.server.testing``: ready
    when it writes its ``--ready-file``), its output in a log file, and the bench's
    extras on top: CPU seconds, and the counters of ``bench/bench_server.py``.

    Started through ``bench/bench_server.py`` (``statehouse_server``), it also
    answers ``counters()``: its statements, commits, events and commit times.
    With ``--processes N`` the subprocess is the supervising parent: the ready file
    names the server processes (``child_pids``), whose CPU time and counters
    (each process dumps its own, ``<counters>.<i>``) are summed here."""

    def __init__(
        self,
        name: str,
        program: list[str],
        log_path: Path,
        options: list[str] | None = None,
        *,
        pythonpath: str | None = None,
        counters_path: Path | None = None,
        ready_line: str | None = None,
    ) -> None:
        env = None
        if pythonpath:
            path = os.pathsep.join(x for x in (pythonpath, os.environ.get("PYTHONPATH")) if x)
            env = dict(os.environ, PYTHONPATH=path)
        # A session of its own: Ctrl-C reaches only us, and we stop it cleanly.
        super().__init__(
            options or [], log_path=log_path, program=program, env=env, cwd=ROOT, new_session=True
        )
        self.name = name
        self.counters_path = counters_path
        #: The text its log must show once it serves (a check of the line, not the wait).
        self.ready_line = re.compile(ready_line) if ready_line else None
        self._dumps = 0
        #: The server processes of ``--processes N`` (in their order, 1 to N); [] for one.
        self.child_pids: list[int] = []
        self._child_dumps: dict[int, int] = {}

    def start(self, timeout: float = 30.0) -> int:  # type: ignore[override]
        """Start it (a new log) and wait until it serves; its gRPC port."""
        self._dumps = 0
        self.child_pids = []
        self._child_dumps = {}
        self.log_path.write_bytes(b"")
        try:
            super().start(timeout)
        except launcher.ServerExited as exc:
            raise RuntimeError(f"{self.name}: {exc}") from None
        assert self.proc is not None
        if self.pids != [self.proc.pid]:
            self.child_pids = self.pids
        if self.ready_line is not None and not self.ready_line.search(self.logs()):
            self.kill()
            raise RuntimeError(f"{self.name}: no {self.ready_line.pattern!r}:\n{self.tail()}")
        return self.port

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        """The first match of ``pattern`` in its log (something it logs while serving)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            match = pattern.search(self.logs())
            if match:
                return match
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no {pattern.pattern!r} in {timeout} s")
            time.sleep(0.02)

    def log(self) -> str:
        return self.logs()

    def cpu_seconds(self) -> float:
        """user + system CPU time of the process so far (all its threads), and of the
        server processes of ``--processes N``."""
        try:
            ticks = 0
            for pid in (self.pid, *self.child_pids, *self.writer_pids()):
                fields = _proc_stat(pid)
                ticks += int(fields[11]) + int(fields[12])
        except (OSError, AssertionError):
            return math.nan
        return ticks / CLK_TCK

    def writer_pids(self) -> list[int]:
        """SQLite's writer processes of its server processes (``storage/writer_process.py``):
        their CPU time is the server's too. (One that ended takes its time with it.)"""
        parents = {self.pid, *self.child_pids}
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if int(_proc_stat(int(entry.name))[1]) not in parents:
                    continue
                if WRITER_PROCESS in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
        return found

    def counters(self, timeout: float = 10.0) -> dict[str, Any]:
        """The bench server's counters now (SIGUSR1, then its JSON file); {} without.
        With ``--processes N``: every server process's, merged (``merge_counters``)."""
        if self.counters_path is None or self.proc is None or self.proc.poll() is not None:
            return {}
        if self.child_pids:
            return self._children_counters(self.counters_path, timeout)
        self._dumps += 1
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                data: dict[str, Any] = json.loads(self.counters_path.read_text())
                if data.get("dump", 0) >= self._dumps:
                    self._dumps = data["dump"]
                    return data
            time.sleep(0.01)
        progress(f"{self.name}: no counters in {timeout} s")
        return {}

    def _children_counters(self, path: Path, timeout: float) -> dict[str, Any]:
        """SIGUSR1 to each server process of ``--processes N`` (the parent has no store
        and ignores it), then each one's file, ``<counters>.<i>``."""
        wanted: dict[int, int] = {}
        for pid in self.child_pids:
            wanted[pid] = self._child_dumps.get(pid, 0) + 1
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)
        dumps: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while len(dumps) < len(wanted) and time.monotonic() < deadline:
            for index, pid in enumerate(self.child_pids, 1):
                if pid in dumps:
                    continue
                with contextlib.suppress(OSError, ValueError):
                    data: dict[str, Any] = json.loads(child_path(path, index).read_text())
                    if data.get("pid") == pid and data.get("dump", 0) >= wanted[pid]:
                        self._child_dumps[pid] = data["dump"]
                        dumps[pid] = data
            time.sleep(0.01)
        if len(dumps) < len(wanted):
            progress(
                f"{self.name}: counters of {len(dumps)} of {len(wanted)} processes in {timeout} s"
            )
            return {}
        return merge_counters(list(dumps.values()))

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> int | None:  # type: ignore[override]
        """SIGTERM and wait; killed (and said so) if it takes longer than ``timeout``."""
        if not self.running:
            return None
        try:
            return super().stop(timeout)
        except subprocess.TimeoutExpired:
            progress(f"{self.name} did not stop in {timeout} s: killed")
            return None


def child_path(path: Path, index: int) -> Path:
    """Where server process ``index`` (1 to N) of ``--processes N`` dumps its counters
    (bench/bench_server.py writes there)."""
    return path.with_name(f"{path.name}.{index}")


def sum_by_key(dicts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The values of several dicts summed key by key."""
    total: dict[str, Any] = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + v
    return total


def merge_counters(dumps: list[dict[str, Any]]) -> dict[str, Any]:
    """The counters of several server processes as one: sums, statements by keyword
    summed, commit times of all (sequences are global: each process records those
    it committed)."""
    merged: dict[str, Any] = {k: sum(int(d.get(k, 0)) for d in dumps) for k in SUMMED_COUNTERS}
    merged["by_keyword"] = sum_by_key(d.get("by_keyword", {}) for d in dumps)
    merged["commit_times"] = [pair for d in dumps for pair in d.get("commit_times", [])]
    merged["threads"] = sum_by_key(d.get("threads", {}) for d in dumps)
    merged["engines"] = [e for d in dumps for e in d.get("engines", [])]
    merged["pids"] = [d.get("pid") for d in dumps]
    merged["processes"] = len(dumps)
    return merged


def statehouse_server(
    name: str,
    database: str,
    work: Path,
    *,
    key: str,
    server_src: Path | None = None,
    extra: list[str] | None = None,
    ready: str = STATEHOUSE_READY,
    profile_out: Path | None = None,
) -> ServerProcess:
    """A Statehouse server through bench/bench_server.py (counters on SIGUSR1)."""
    counters = work / f"{key}.counters.json"
    options = ["--database", database, "--counters-out", str(counters), *(extra or [])]
    if profile_out is not None:
        options += ["--profile-out", str(profile_out.resolve())]
    return ServerProcess(
        name,
        [str(BENCH / "bench_server.py")],
        work / f"{key}.log",
        options,
        pythonpath=_source_path(server_src),
        counters_path=counters,
        ready_line=ready,
    )


def _source_path(server_src: Path | None) -> str | None:
    """PYTHONPATH for another commit's server: its ``server/src`` and, where the
    export has one beside it, its ``client/src`` (the stubs the server was built
    with: a newer contract's RPCs would have no rules in an older server)."""
    if server_src is None:
        return None
    root = server_src.resolve()
    client = root.parent.parent / "client" / "src"
    return os.pathsep.join(str(p) for p in (root, client) if p.is_dir())


def echo_server(work: Path) -> ServerProcess:
    return ServerProcess("echo server", [str(BENCH / "echo_server.py")], work / "echo.log")


@dataclass
class Cost:
    """What the servers (and a database) spent between two points, per state change."""

    state_changes: int
    statements: int
    commits: int
    write_commits: int
    events: int
    server_cpu_s: float
    database_cpu_s: float | None = None
    by_keyword: dict[str, int] | None = None
    #: The share of the machine's CPU (all cores) left idle meanwhile (None: unknown).
    machine_idle: float | None = None
    #: The servers' CPU seconds by kind of thread (the bench server's ``threads``:
    #: loop, writer, readers, heavy, grpc, other); None where not reported.
    threads_s: dict[str, float] | None = None

    def per_change(self) -> dict[str, Any]:
        n = max(self.state_changes, 1)
        if not self.state_changes:  # nothing to divide by: no per-change figures
            return {"state_changes": 0, "statements": self.statements, "commits": self.commits}
        out: dict[str, Any] = {
            "state_changes": self.state_changes,
            "statements": self.statements,
            "commits": self.commits,
            "write_commits": self.write_commits,
            "events_committed": self.events,
            "statements_per_change": round(self.statements / n, 2),
            # Commits of transactions that wrote; read-only ones (no flush) beside.
            "commits_per_change": round(self.write_commits / n, 4),
            "all_commits_per_change": round(self.commits / n, 4),
            "server_cpu_us_per_change": round(1e6 * self.server_cpu_s / n, 1),
            "statements_by_keyword_per_change": {
                k: round(v / n, 2) for k, v in sorted((self.by_keyword or {}).items())
            },
        }
        if self.database_cpu_s is not None:
            out["database_cpu_us_per_change"] = round(1e6 * self.database_cpu_s / n, 1)
        if self.machine_idle is not None:
            out["machine_idle_pct"] = round(100 * self.machine_idle, 1)
        if self.threads_s:
            # Where the server CPU went: the layer budget by thread, without a profiler.
            out["server_cpu_us_per_change_by_thread"] = {
                k: round(1e6 * v / n, 1)
                for k, v in sorted(self.threads_s.items(), key=lambda kv: -kv[1])
                if v > 0
            }
        return out


def machine_cpu_ticks() -> tuple[int, int] | None:
    """(idle, total) ticks of all the machine's cores since boot (/proc/stat's ``cpu``
    line; idle counts iowait), or None where there is no /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    ticks = [int(x) for x in fields[1:9]]  # user nice system idle iowait irq softirq steal
    return ticks[3] + ticks[4], sum(ticks)


def idle_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of the machine's CPU left idle between two :func:`machine_cpu_ticks`."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


class CostMeter:
    """Counters and CPU of some servers (replicas of one service) and a database."""

    def __init__(self, servers: list[ServerProcess], database: ProcessTreeCPU | None = None):
        self.servers = servers
        self.database = database
        self._start: list[dict[str, Any]] = []
        self._cpu0 = 0.0
        self._db0 = 0.0
        self._machine0: tuple[int, int] | None = None

    def start(self) -> None:
        self._machine0 = machine_cpu_ticks()
        self._start = [s.counters() for s in self.servers]
        self._cpu0 = sum(s.cpu_seconds() for s in self.servers)
        self._db0 = self.database.cpu_seconds() if self.database else 0.0

    def stop(self, state_changes: int) -> Cost:
        idle = idle_share(self._machine0, machine_cpu_ticks())
        cpu = sum(s.cpu_seconds() for s in self.servers) - self._cpu0
        db = self.database.cpu_seconds() - self._db0 if self.database else None
        end = [s.counters() for s in self.servers]
        total = {"statements": 0, "commits": 0, "write_commits": 0, "events": 0}
        keywords: dict[str, int] = {}
        threads: dict[str, float] = {}
        for before, after in zip(self._start, end, strict=True):
            for k in total:
                total[k] += int(after.get(k, 0)) - int(before.get(k, 0))
            for k, v in after.get("by_keyword", {}).items():
                keywords[k] = keywords.get(k, 0) + v - before.get("by_keyword", {}).get(k, 0)
            for k, v in after.get("threads", {}).items():
                threads[k] = threads.get(k, 0.0) + v - before.get("threads", {}).get(k, 0.0)
        return Cost(
            state_changes=state_changes,
            statements=total["statements"],
            commits=total["commits"],
            write_commits=total["write_commits"],
            events=total["events"],
            server_cpu_s=cpu,
            database_cpu_s=db,
            by_keyword={k: v for k, v in keywords.items() if v},
            machine_idle=idle,
            threads_s=threads or None,
        )


class CommitTimes:
    """Commit time (ns) of any sequence: that of the first batch whose last sequence is
    at or above it (from the bench server's ring)."""

    def __init__(self, pairs: list[list[int]] | list[tuple[int, int]]) -> None:
        ordered = sorted((int(a), int(b)) for a, b in pairs)
        self.last = [a for a, _ in ordered]
        self.times = [b for _, b in ordered]

    def at(self, sequence: int) -> int | None:
        i = bisect.bisect_left(self.last, sequence)
        if i == len(self.last):
            return None
        return self.times[i]


# -- CPU quotas (cgroup v1) ------------------------------------------------------------

CGROUP_CPU = Path("/sys/fs/cgroup/cpu")
CFS_PERIOD_US = 100_000


def quota_us(cores: float, period_us: int = CFS_PERIOD_US) -> int:
    """cpu.cfs_quota_us for ``cores`` of CPU per period (the kernel's least is 1 ms)."""
    return max(1000, round(cores * period_us))


def cgroup_of(proc_cgroup: str, controller: str = "cpu") -> str:
    """The path of ``controller``'s group in the text of /proc/PID/cgroup (v1 lines
    such as ``4:cpu,cpuacct:/a/b``); "/" when it has none."""
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and controller in parts[1].split(","):
            return parts[2] or "/"
    return "/"


class CpuQuota:
    """A cgroup v1 ``cpu`` group holding the processes added to it to ``cores`` of CPU
    (``cpu.cfs_quota_us`` per ``cpu.cfs_period_us``): a context manager that creates
    the group on entry, beside the bench's own, and removes it on exit (moving what
    is still in it back first). A stand-in for a small machine: the process gets
    that share of a core however idle the others are.

    Where /sys/fs/cgroup/cpu is absent or not writable (not root, cgroup v2 only, a
    container), or ``cores`` is 0, it holds nothing: ``applied`` is False and
    ``note`` says why, for the report and the progress line."""

    def __init__(
        self, name: str, cores: float, root: Path = CGROUP_CPU, *, shares: int = 0
    ) -> None:
        self.cores = cores
        #: cpu.shares (0: the kernel's 1024): the group's weight against its siblings,
        #: every process of the parent group among them. A group that must get its
        #: quota on a machine others load too needs more than one process's weight.
        self.shares = shares
        self.root = root
        self.name = f"statehouse-bench-{os.getpid()}-{name}"
        self.path: Path | None = None
        self.parent = root
        self.applied = False
        self.note = ""
        self.pids: list[int] = []

    def __enter__(self) -> CpuQuota:
        if self.cores <= 0:
            self.note = "no CPU quota (none asked)"
            return self
        if not (self.root / "cgroup.procs").exists():
            self.note = f"no CPU quota: {self.root} is absent (the cgroup v1 cpu controller)"
            return self
        try:
            own = cgroup_of(Path("/proc/self/cgroup").read_text())
        except OSError:
            own = "/"
        parent = self.root / own.lstrip("/")
        self.parent = parent if parent.is_dir() else self.root
        path = self.parent / self.name
        try:
            path.mkdir()
        except OSError as exc:
            self.note = f"no CPU quota: {self.root} is not writable ({exc.strerror or exc})"
            return self
        self.path = path
        try:
            (path / "cpu.cfs_period_us").write_text(f"{CFS_PERIOD_US}\n")
            (path / "cpu.cfs_quota_us").write_text(f"{quota_us(self.cores)}\n")
            if self.shares:
                (path / "cpu.shares").write_text(f"{self.shares}\n")
        except OSError as exc:
            self._remove()
            self.note = f"no CPU quota: cannot set it in {path} ({exc.strerror or exc})"
            return self
        self.applied = True
        self.note = (
            f"cgroup v1 cpu quota of {self.cores:.2f} core ({quota_us(self.cores)} us per "
            f"{CFS_PERIOD_US} us)"
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._remove()

    def add(self, pid: int) -> bool:
        """Hold process ``pid`` (every thread of it) to the quota; False without one."""
        if not self.applied or self.path is None:
            return False
        try:
            (self.path / "cgroup.procs").write_text(f"{pid}\n")
        except OSError as exc:
            progress(f"CPU quota: cannot move process {pid} into {self.path}: {exc}")
            return False
        self.pids.append(pid)
        return True

    def throttled_seconds(self) -> float:
        """How long the group's processes waited for the next period (cpu.stat)."""
        if self.path is None:
            return 0.0
        try:
            for line in (self.path / "cpu.stat").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "throttled_time":
                    return int(value) / 1e9
        except (OSError, ValueError):
            pass
        return 0.0

    def _remove(self) -> None:
        if self.path is None:
            return
        for _ in range(50):
            with contextlib.suppress(OSError):
                for pid in (self.path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        (self.parent / "cgroup.procs").write_text(f"{pid}\n")
            try:
                self.path.rmdir()
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)
                continue
            break
        else:
            progress(f"CPU quota: could not remove {self.path} (rmdir it when its tasks end)")
        self.path = None


# -- /proc -----------------------------------------------------------------------


class ProcessTreeCPU:
    """CPU time of a process and its children: the postmaster and its backends (a backend
    that has exited counts in the postmaster's cutime once reaped)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def cpu_seconds(self) -> float:
        ticks = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(stat.parent.name) == self.pid:
                ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
            elif int(fields[1]) == self.pid:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / CLK_TCK


def proc_status_kb(pid: int, key: str) -> int:
    """A field of /proc/PID/status in KB (VmRSS, VmHWM), 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid: int) -> int:
    """VmRSS of a process, in KB."""
    value = proc_status_kb(pid, "VmRSS")
    if not value:
        raise RuntimeError(f"no VmRSS for process {pid}")
    return value


# -- timing and figures ------------------------------------------------------------


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def passed(self) -> bool:
        return time.monotonic() >= self.at


def rounds_of(runs: list[dict[str, Any]]) -> int:
    """How many rounds a phase's rows were chosen among (JSON from before rounds: one)."""
    return max((len(r.get("rounds") or []) for r in runs), default=0)


def pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


def ms(value: float) -> float:
    return round(value * 1000, 2) if not math.isnan(value) else math.nan


def latency_summary(latencies: list[float]) -> dict[str, float]:
    """p50/p90/p99/max in ms of latencies in seconds."""
    ordered = sorted(latencies)
    return {
        "p50_ms": ms(pct(ordered, 0.50)),
        "p90_ms": ms(pct(ordered, 0.90)),
        "p99_ms": ms(pct(ordered, 0.99)),
        "max_ms": ms(ordered[-1] if ordered else math.nan),
    }


def events_per_message(histogram: Mapping[int, int]) -> dict[str, float]:
    """Messages that carried events, the events, and events per message (mean, p50,
    p99, max) from ``{events in a message: how many such messages}``."""
    messages = sum(histogram.values())
    events = sum(size * n for size, n in histogram.items())
    if not messages:
        nan = math.nan
        return {"messages": 0, "events": 0, "mean": nan, "p50": nan, "p99": nan, "max": nan}
    ordered = sorted(histogram.items())

    def quantile(q: float) -> float:
        rank = min(messages, max(1, math.ceil(q * messages)))  # as pct(): the ceil-th value
        seen = 0
        for size, n in ordered:
            seen += n
            if seen >= rank:
                return float(size)
        return float(ordered[-1][0])

    return {
        "messages": messages,
        "events": events,
        "mean": round(events / messages, 2),
        "p50": quantile(0.50),
        "p99": quantile(0.99),
        "max": float(ordered[-1][0]),
    }


def sdk_counter(subscription: Any, name: str) -> int | None:
    """A counter of the SDK's subscription object (``duplicates_dropped``, ``reconnects``)
    when this SDK version has it, else None."""
    value = getattr(subscription, name, None)
    return value if isinstance(value, int) else None


def add_counter(total: int | None, value: int | None) -> int | None:
    if value is None:
        return total
    return value + (total or 0)


def capped(errors: list[str], limit: int = 20) -> list[str]:
    return errors[:limit] + ([f"... {len(errors) - limit} more"] if len(errors) > limit else [])


def table(rows: list[list[str]], header: list[str], text_last: bool = False) -> str:
    """Aligned columns: the first (and with ``text_last`` the last) to the left."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    left = {0, len(header) - 1} if text_last else {0}

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(row) for row in rows)])


# -- environment -------------------------------------------------------------------


def journal_mode(database: Path) -> str:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            return str(db.execute("PRAGMA journal_mode").fetchone()[0])
    except sqlite3.Error as exc:
        return f"? ({exc})"


def server_synchronous() -> str:
    try:
        from statehouse.server.settings import Settings

        return str(getattr(Settings(), "sqlite_synchronous", "NORMAL"))
    except Exception:
        return "NORMAL"


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done (raised as KeyboardInterrupt then):
    a cluster half started is one that nobody stops."""
    caught: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, _frame: caught.append(signum))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            raise KeyboardInterrupt


def terminated(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def git_describe() -> str:
    """The commit of the working tree, with ``-dirty`` when it has changes."""
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version as _version

    try:
        return _version(distribution)
    except PackageNotFoundError:
        return "?"
