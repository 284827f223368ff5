"""``make bench``: Statehouse measured side by side with a plain grpc.aio echo server.

One run starts both servers as subprocesses on 127.0.0.1, port 0 (Statehouse
on a fresh temporary SQLite file), drives them from client processes with the
same concurrency, and stops everything at the end (also on errors and Ctrl-C).

Measured:

1. unary calls/s of the echo server (``bench/echo_server.py``);
2. Statehouse through the SDK (``AsyncClient``): creates/s (executions and task
   runs, set up first), then transitions/s (each task run CREATED -> RUNNING ->
   SUCCESS; only transitions are counted), and the ratio transitions/echo;
   both with 1 and with 2 client processes at the same total concurrency;
3. events: 1 and 100 subscribers (``subscribe(from_latest=True)``), a writer in
   another process producing a fixed number of transitions; deliveries/s and
   publish-to-receipt latency (event ``time``, the server clock, to
   ``time.time()`` on arrival), checking that every subscriber gets every event
   once, in order.

Every phase is bounded in count and in time. ``--quick`` is a short run,
``--json PATH`` writes the results, ``--profile`` runs the server under
cProfile during the (1-process) transitions phase and prints the top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import platform
import pstats
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
ECHO_METHOD = "/bench.Echo/Echo"
NAMESPACE = "bench"
SENTINEL_FLOW = "bench-end"
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: Where idle pool threads wait for work (left out of the profile summary).
IDLE_FUNCTIONS = {
    "<method 'get' of '_queue.SimpleQueue' objects>",
    "<method 'acquire' of '_thread.lock' objects>",
}


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
    return f"uvloop {uvloop.__version__}"


# -- sizes ----------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How much each phase does: a count and a time limit, whichever comes first."""

    concurrency: int = 64
    echo_calls: int = 40_000
    echo_seconds: float = 8.0
    task_runs_per_execution: int = 4
    transitions: int = 8_000
    create_seconds: float = 15.0
    transition_seconds: float = 15.0
    event_transitions_1: int = 3_000
    event_transitions_100: int = 1_000
    event_writer_concurrency: int = 8
    event_seconds: float = 20.0

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            echo_calls=6_000,
            echo_seconds=2.0,
            transitions=1_600,
            create_seconds=4.0,
            transition_seconds=3.0,
            event_transitions_1=400,
            event_transitions_100=200,
            event_seconds=6.0,
        )


# -- subprocesses: the two servers -------------------------------------------------


class ServerProcess:
    """A server subprocess whose stderr goes to a log file; ready when a line appears."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        ready: str,
        log_path: Path,
        pythonpath: str | None = None,
    ) -> None:
        self.pythonpath = pythonpath
        self.name = name
        self.argv = argv
        self.ready = re.compile(ready)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, timeout: float = 30.0) -> int:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if self.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(
                x for x in (self.pythonpath, env.get("PYTHONPATH")) if x
            )
        with self.log_path.open("wb") as log:
            # A session of its own: Ctrl-C reaches only us, and we stop it cleanly.
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        match = self.wait_for(self.ready, timeout)
        self.port = int(match.group(1))
        return self.port

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            match = pattern.search(self.log())
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
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_seconds(self) -> float:
        """user + system CPU time of the process so far (all its threads)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, AssertionError):
            return math.nan
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            progress(f"{self.name} did not stop in {timeout} s: killing it")
            self.proc.kill()
            self.proc.wait()


# -- client processes --------------------------------------------------------------


@dataclass
class PhaseResult:
    """What one client process did in one phase."""

    ops: int = 0
    creates: int = 0
    errors: int = 0
    first_error: str = ""
    start: float = 0.0
    end: float = 0.0
    cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class ClientSpec:
    """What a client process runs (picklable: it crosses to spawned processes)."""

    kind: str  # "echo" or "statehouse"
    target: str
    concurrency: int
    phases: tuple[str, ...]
    max_ops: int  # per process: calls (echo) or transitions (statehouse)
    seconds: dict[str, float]
    task_runs_per_execution: int = 4
    sentinel: bool = False
    tag: str = ""


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def passed(self) -> bool:
        return time.monotonic() >= self.at


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


def _record_error(result: PhaseResult, exc: BaseException) -> None:
    result.errors += 1
    if not result.first_error:
        result.first_error = f"{type(exc).__name__}: {exc}"


async def _echo_phase(spec: ClientSpec, channel: Any, result: PhaseResult) -> None:
    call = channel.unary_unary(ECHO_METHOD)
    payload = os.urandom(64)
    deadline = _Deadline(spec.seconds["echo"])
    remaining = [spec.max_ops]

    async def worker() -> None:
        while remaining[0] > 0 and not deadline.passed():
            remaining[0] -= 1
            t0 = time.perf_counter()
            try:
                await call(payload, timeout=30)
            except Exception as exc:
                _record_error(result, exc)
                continue
            result.latencies.append(time.perf_counter() - t0)
            result.ops += 1

    await asyncio.gather(*(worker() for _ in range(spec.concurrency)))


class _Workload:
    """Per-worker executions and task runs created by the create phase."""

    def __init__(self, spec: ClientSpec) -> None:
        self.spec = spec
        self.task_runs: list[list[str]] = [[] for _ in range(spec.concurrency)]


async def _create_phase(
    spec: ClientSpec, client: Any, work: _Workload, result: PhaseResult
) -> None:
    per = spec.task_runs_per_execution
    task_runs_wanted = math.ceil(spec.max_ops / 2)
    executions = math.ceil(task_runs_wanted / per)
    deadline = _Deadline(spec.seconds["create"])

    async def worker(index: int) -> None:
        for n in range(index, executions, spec.concurrency):
            if deadline.passed():
                return
            t0 = time.perf_counter()
            try:
                execution = await client.create_execution(
                    namespace=NAMESPACE, flow_id=f"flow-{spec.tag}", labels={"bench": spec.tag}
                )
            except Exception as exc:
                _record_error(result, exc)
                continue
            result.latencies.append(time.perf_counter() - t0)
            result.creates += 1
            for i in range(per):
                t0 = time.perf_counter()
                try:
                    response = await client.create_task_run(
                        execution_id=execution.id, task_id=f"task-{n}-{i}"
                    )
                except Exception as exc:
                    _record_error(result, exc)
                    continue
                result.latencies.append(time.perf_counter() - t0)
                result.creates += 1
                work.task_runs[index].append(response.task_run.id)

    await asyncio.gather(*(worker(i) for i in range(spec.concurrency)))


async def _transition_phase(
    spec: ClientSpec, client: Any, work: _Workload, result: PhaseResult
) -> None:
    from statehouse.client import State

    deadline = _Deadline(spec.seconds["transition"])
    remaining = [spec.max_ops]

    async def worker(index: int) -> None:
        for task_run_id in work.task_runs[index]:
            for state in (State.RUNNING, State.SUCCESS):
                if remaining[0] <= 0 or deadline.passed():
                    return
                remaining[0] -= 1
                t0 = time.perf_counter()
                try:
                    await client.transition_task_run(
                        task_run_id, state=state, worker_id=f"w{index}"
                    )
                except Exception as exc:
                    _record_error(result, exc)
                    break
                result.latencies.append(time.perf_counter() - t0)
                result.ops += 1

    await asyncio.gather(*(worker(i) for i in range(spec.concurrency)))
    if spec.sentinel:
        # Tells subscribers that the writer is done (their stop signal, not counted).
        await client.create_execution(namespace=NAMESPACE, flow_id=SENTINEL_FLOW)


async def _client_async(spec: ClientSpec, index: int, go: list[Any], out: Any) -> None:
    import grpc

    loop = asyncio.get_running_loop()
    channel: Any = None
    client: Any = None
    if spec.kind == "echo":
        channel = grpc.aio.insecure_channel(spec.target)
    else:
        from statehouse.client import AsyncClient

        client = AsyncClient.connect(spec.target)
    try:
        if client is not None:
            await client.wait_for_ready(10)
        else:
            await asyncio.wait_for(channel.channel_ready(), 10)
        if spec.kind == "echo":  # warm up the connection and the code paths
            call = channel.unary_unary(ECHO_METHOD)
            await asyncio.gather(*(call(b"warm-up") for _ in range(spec.concurrency)))
        work = _Workload(spec)
        for number, phase in enumerate(spec.phases):
            out.put(("ready", index, phase, None))
            await loop.run_in_executor(None, go[number].wait)
            result = PhaseResult()
            cpu0 = time.process_time()
            result.start = time.time()
            if phase == "echo":
                await _echo_phase(spec, channel, result)
            elif phase == "create":
                await _create_phase(spec, client, work, result)
            elif phase == "transition":
                await _transition_phase(spec, client, work, result)
            else:
                raise ValueError(phase)
            result.end = time.time()
            result.cpu = time.process_time() - cpu0
            out.put(("done", index, phase, result))
    finally:
        if client is not None:
            await client.close()
        else:
            await channel.close()


def client_process_main(spec: ClientSpec, index: int, go: list[Any], out: Any) -> None:
    """Entry point of a spawned client process."""
    try:
        run_loop(_client_async(spec, index, go, out))
    except KeyboardInterrupt:
        pass
    except BaseException:
        out.put(("error", index, "", traceback.format_exc()))


@dataclass
class PhaseSummary:
    """One phase, all client processes together."""

    name: str
    processes: int
    concurrency: int
    ops: int
    creates: int
    errors: int
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    client_cpu_pct: float
    server_cpu_pct: float
    first_error: str = ""


class ClientGroup:
    """N spawned client processes that run the same phases in lockstep."""

    def __init__(self, spec: ClientSpec, processes: int, servers: list[ServerProcess]) -> None:
        self.ctx = mp.get_context("spawn")
        self.spec = spec
        self.servers = servers
        self.out = self.ctx.Queue()
        self.go = [self.ctx.Event() for _ in spec.phases]
        self.procs = [
            self.ctx.Process(
                target=client_process_main,
                args=(spec, i, self.go, self.out),
                name=f"bench-client-{spec.kind}-{i}",
                daemon=True,
            )
            for i in range(processes)
        ]
        self.phase_index = 0
        self.early: list[Any] = []

    def __enter__(self) -> ClientGroup:
        for proc in self.procs:
            proc.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)

    def _collect(self, kind: str, timeout: float) -> list[Any]:
        """One ``kind`` message from every process for the current phase."""
        phase = self.spec.phases[self.phase_index - (kind == "done")]
        items: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(items) < len(self.procs):
            early = [m for m in self.early if m[0] == kind and m[2] == phase]
            if early:
                self.early.remove(early[0])
                items.append(early[0][3])
                continue
            try:
                message = self.out.get(timeout=0.5)
            except queue.Empty:
                dead = [p for p in self.procs if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"client process {dead[0].name} died") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"client processes: no {kind} in {timeout} s") from None
                continue
            if message[0] == "error":
                raise RuntimeError(f"client process {message[1]} failed:\n{message[3]}")
            if message[0] != kind or message[2] != phase:
                # A fast process is already ready for the next phase: keep it for later.
                self.early.append(message)
                continue
            items.append(message[3])
        return items

    def wait_ready(self) -> None:
        self._collect("ready", 60)

    def go_and_wait(self, name: str, server: ServerProcess, budget: float) -> PhaseSummary:
        """Start the next phase (after wait_ready) and summarize it."""
        cpu0 = server.cpu_seconds()
        wall0 = time.monotonic()
        self.go[self.phase_index].set()
        self.phase_index += 1
        results: list[PhaseResult] = self._collect("done", budget + 60)
        wall = time.monotonic() - wall0
        server_cpu = server.cpu_seconds() - cpu0
        start = min(r.start for r in results)
        end = max(r.end for r in results)
        seconds = max(end - start, 1e-9)
        latencies = sorted(x for r in results for x in r.latencies)
        ops = sum(r.ops for r in results)
        creates = sum(r.creates for r in results)
        counted = creates if name.endswith("create") else ops
        return PhaseSummary(
            name=name,
            processes=len(self.procs),
            concurrency=self.spec.concurrency * len(self.procs),
            ops=ops,
            creates=creates,
            errors=sum(r.errors for r in results),
            seconds=round(seconds, 3),
            rate=round(counted / seconds, 1),
            p50_ms=round(_pct(latencies, 0.50) * 1000, 2),
            p99_ms=round(_pct(latencies, 0.99) * 1000, 2),
            client_cpu_pct=round(100 * sum(r.cpu for r in results) / seconds, 1),
            server_cpu_pct=round(100 * server_cpu / max(wall, 1e-9), 1),
            first_error=next((r.first_error for r in results if r.first_error), ""),
        )


# -- the phases --------------------------------------------------------------------


def run_echo(target: str, server: ServerProcess, sizes: Sizes, processes: int) -> PhaseSummary:
    spec = ClientSpec(
        kind="echo",
        target=target,
        concurrency=sizes.concurrency // processes,
        phases=("echo",),
        max_ops=sizes.echo_calls // processes,
        seconds={"echo": sizes.echo_seconds},
    )
    with ClientGroup(spec, processes, [server]) as group:
        group.wait_ready()
        summary = group.go_and_wait("echo", server, sizes.echo_seconds)
    progress(
        f"echo, {processes} client process(es) x {spec.concurrency} in flight: "
        f"{summary.rate:,.0f} calls/s ({summary.ops} calls in {summary.seconds:.1f} s, "
        f"client CPU {summary.client_cpu_pct:.0f}%, server CPU {summary.server_cpu_pct:.0f}%)"
    )
    return summary


def run_transitions(
    target: str,
    server: ServerProcess,
    sizes: Sizes,
    processes: int,
    profile: Callable[[str], None] | None = None,
) -> tuple[PhaseSummary, PhaseSummary]:
    spec = ClientSpec(
        kind="statehouse",
        target=target,
        concurrency=sizes.concurrency // processes,
        phases=("create", "transition"),
        max_ops=sizes.transitions // processes,
        seconds={"create": sizes.create_seconds, "transition": sizes.transition_seconds},
        task_runs_per_execution=sizes.task_runs_per_execution,
        tag=f"p{processes}",
    )
    with ClientGroup(spec, processes, [server]) as group:
        group.wait_ready()
        creates = group.go_and_wait("statehouse create", server, sizes.create_seconds)
        progress(
            f"statehouse creates, {processes} process(es): {creates.rate:,.0f} creates/s "
            f"({creates.creates} executions + task runs in {creates.seconds:.1f} s, "
            f"{creates.errors} errors)"
        )
        group.wait_ready()
        if profile is not None:
            profile("start")
        transitions = group.go_and_wait("statehouse transition", server, sizes.transition_seconds)
        if profile is not None:
            profile("stop")
    progress(
        f"statehouse transitions, {processes} process(es) x {spec.concurrency} in flight: "
        f"{transitions.rate:,.0f} transitions/s ({transitions.ops} in "
        f"{transitions.seconds:.1f} s, {transitions.errors} errors, client CPU "
        f"{transitions.client_cpu_pct:.0f}%, server CPU {transitions.server_cpu_pct:.0f}%)"
    )
    for summary in (creates, transitions):
        if summary.errors:
            progress(f"  {summary.name}: first error: {summary.first_error}")
    return creates, transitions


@dataclass
class EventsSummary:
    subscribers: int
    channels: int
    transitions: int
    writer_rate: float
    events_per_subscriber: int
    deliveries: int
    seconds: float
    deliveries_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    client_cpu_pct: float
    server_cpu_pct: float
    errors: list[str]


class _Subscriber:
    def __init__(self, number: int) -> None:
        self.number = number
        self.ready = asyncio.Event()
        self.start_sequence = -1
        self.expected = -1
        self.received = 0
        self.last_receipt = 0.0
        self.done = False
        self.errors: list[str] = []

    async def run(self, client: Any, latencies: list[float]) -> None:
        from statehouse.client import Heartbeat

        subscription = client.subscribe(
            namespace=NAMESPACE,
            from_latest=True,
            heartbeats=True,
            heartbeat_interval=timedelta(seconds=0.2),
        )
        try:
            async for item in subscription:
                now = time.time()
                if isinstance(item, Heartbeat):
                    if not self.ready.is_set():
                        self.start_sequence = item.sequence
                        self.expected = item.sequence + 1
                        self.ready.set()
                    continue
                if not self.ready.is_set():
                    self.errors.append(f"event {item.sequence} before the first heartbeat")
                    self.expected = item.sequence
                    self.ready.set()
                if item.sequence != self.expected:
                    if item.sequence > self.expected:
                        self.errors.append(
                            f"subscriber {self.number}: gap, expected {self.expected}, "
                            f"got {item.sequence} ({item.sequence - self.expected} lost)"
                        )
                    else:
                        self.errors.append(
                            f"subscriber {self.number}: out of order or repeated: expected "
                            f"{self.expected}, got {item.sequence}"
                        )
                self.expected = max(self.expected, item.sequence + 1)
                if item.flow_id == SENTINEL_FLOW:
                    self.done = True
                    return
                self.received += 1
                self.last_receipt = now
                published = item.time.seconds + item.time.nanos / 1e9
                latencies.append(now - published)
        finally:
            await subscription.close()


async def _events_async(
    target: str, server: ServerProcess, sizes: Sizes, subscribers: int, channels: int
) -> EventsSummary:
    from statehouse.client import AsyncClient

    transitions = sizes.event_transitions_1 if subscribers == 1 else sizes.event_transitions_100
    loop = asyncio.get_running_loop()
    spec = ClientSpec(
        kind="statehouse",
        target=target,
        concurrency=sizes.event_writer_concurrency,
        phases=("create", "transition"),
        max_ops=transitions,
        seconds={"create": sizes.create_seconds, "transition": sizes.event_seconds},
        task_runs_per_execution=sizes.task_runs_per_execution,
        sentinel=True,
        tag=f"events{subscribers}",
    )
    clients = [AsyncClient.connect(target) for _ in range(channels)]
    subs = [_Subscriber(i) for i in range(subscribers)]
    latencies: list[float] = []
    tasks: list[asyncio.Future[Any]] = []
    errors: list[str] = []
    group = ClientGroup(spec, 1, [server])
    try:
        group.__enter__()
        await loop.run_in_executor(None, group.wait_ready)
        await loop.run_in_executor(
            None, group.go_and_wait, "events create", server, sizes.create_seconds
        )
        await loop.run_in_executor(None, group.wait_ready)
        for sub in subs:
            client = clients[sub.number % channels]
            tasks.append(asyncio.create_task(sub.run(client, latencies)))
        ready = [asyncio.ensure_future(s.ready.wait()) for s in subs]
        tasks.extend(ready)
        _ready, not_ready = await asyncio.wait(ready, timeout=30)
        if not_ready:
            raise RuntimeError(f"{len(not_ready)} subscribers did not start within 30 s")
        starts = {s.start_sequence for s in subs}
        if len(starts) != 1:
            errors.append(f"subscribers started at different sequences: {sorted(starts)}")
        cpu0 = time.process_time()
        server_cpu0 = server.cpu_seconds()
        t_go = time.time()
        writer = await loop.run_in_executor(
            None, group.go_and_wait, "events transition", server, sizes.event_seconds
        )
        # The writer is done; give the subscribers a bounded time to drain.
        _done, pending = await asyncio.wait(tasks[: len(subs)], timeout=sizes.event_seconds + 10)
        for task in pending:
            task.cancel()
        for task in tasks[: len(subs)]:
            if task.done() and not task.cancelled() and task.exception() is not None:
                errors.append(f"subscriber failed: {task.exception()!r}")
        server_cpu = server.cpu_seconds() - server_cpu0
        client_cpu = time.process_time() - cpu0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            await client.close()
        await loop.run_in_executor(None, group.close)
    for sub in subs:
        errors.extend(sub.errors)
        if not sub.done:
            errors.append(
                f"subscriber {sub.number}: did not receive the end marker "
                f"(got {sub.received} events, next expected {sub.expected})"
            )
    counts = {s.received for s in subs}
    if len(counts) != 1:
        errors.append(f"subscribers received different counts: {sorted(counts)}")
    deliveries = sum(s.received for s in subs)
    end = max((s.last_receipt for s in subs), default=t_go)
    seconds = max(end - t_go, 1e-9)
    latencies.sort()
    summary = EventsSummary(
        subscribers=subscribers,
        channels=channels,
        transitions=writer.ops,
        writer_rate=writer.rate,
        events_per_subscriber=max(counts) if counts else 0,
        deliveries=deliveries,
        seconds=round(seconds, 3),
        deliveries_per_s=round(deliveries / seconds, 1),
        p50_ms=round(_pct(latencies, 0.50) * 1000, 2),
        p99_ms=round(_pct(latencies, 0.99) * 1000, 2),
        max_ms=round((latencies[-1] if latencies else math.nan) * 1000, 2),
        client_cpu_pct=round(100 * client_cpu / seconds, 1),
        server_cpu_pct=round(100 * server_cpu / seconds, 1),
        errors=errors[:20] + ([f"... {len(errors) - 20} more"] if len(errors) > 20 else []),
    )
    if writer.errors:
        summary.errors.append(f"writer: {writer.errors} errors, first: {writer.first_error}")
    return summary


def run_events(
    target: str, server: ServerProcess, sizes: Sizes, subscribers: int, channels: int
) -> EventsSummary:
    summary = run_loop(_events_async(target, server, sizes, subscribers, channels))
    progress(
        f"events, {subscribers} subscriber(s) on {channels} channel(s): "
        f"{summary.deliveries_per_s:,.0f} deliveries/s ({summary.deliveries} in "
        f"{summary.seconds:.1f} s; writer {summary.transitions} transitions at "
        f"{summary.writer_rate:,.0f}/s), latency p50 {summary.p50_ms:.1f} ms, "
        f"p99 {summary.p99_ms:.1f} ms, {len(summary.errors)} errors"
    )
    for error in summary.errors:
        progress(f"  ERROR: {error}")
    return summary


# -- profile -----------------------------------------------------------------------


class Profiler:
    """Drives bench/profiled_server.py: SIGUSR1 starts, SIGUSR2 stops and writes."""

    def __init__(self, server: ServerProcess, path: Path) -> None:
        self.server = server
        self.path = path

    def __call__(self, what: str) -> None:
        if what == "start":
            self.server.signal(signal.SIGUSR1)
            self.server.wait_for(re.compile(r"profiling started"), 30)
        else:
            self.server.signal(signal.SIGUSR2)
            self.server.wait_for(re.compile(r"profile written"), 60)

    def report(self, transitions: int, top: int = 25) -> str:
        """Top functions of the event loop thread and of the writer thread, per transition."""
        import io

        out = io.StringIO()
        n = max(transitions, 1)
        print(
            f"\nServer profile (cProfile, overhead included) of the transitions phase: "
            f"{transitions} transitions. Idle waits of pool threads are left out.",
            file=out,
        )
        groups = {}
        for group in ("loop", "writer", "reader"):
            path = Path(f"{self.path}.{group}")
            if not path.exists():
                continue
            stats = pstats.Stats(str(path), stream=out)
            categories = _categories(stats)
            stats.strip_dirs()
            idle = 0.0
            for key in list(stats.stats):  # type: ignore[attr-defined]
                if key[2] in IDLE_FUNCTIONS:
                    idle += stats.stats[key][2]  # type: ignore[attr-defined]
                    del stats.stats[key]  # type: ignore[attr-defined]
            busy = stats.total_tt - idle  # type: ignore[attr-defined]
            groups[group] = (stats, busy)
            print(
                f"  {group} thread(s): {busy:.2f} s busy, {1e6 * busy / n:.0f} us per transition",
                file=out,
            )
            if busy / n > 20e-6:
                own = ", ".join(
                    f"{name} {1e6 * seconds / n:.0f}"
                    for name, seconds in sorted(categories.items(), key=lambda kv: -kv[1])
                    if seconds / n >= 5e-6
                )
                print(f"    own time by package, us per transition: {own}", file=out)
        for group in ("loop", "writer"):
            if group not in groups or groups[group][1] / n < 20e-6:
                continue
            stats, busy = groups[group]
            stats.total_tt = busy  # type: ignore[attr-defined]
            title = "event loop thread" if group == "loop" else "writer thread (database work)"
            print(f"\n=== {title}: top {top} by cumulative time ===", file=out)
            stats.sort_stats("cumulative").print_stats(top)
            print(f"\n=== {title}: top {top} by total (own) time ===", file=out)
            stats.sort_stats("tottime").print_stats(top)
        return out.getvalue()


def _categories(stats: pstats.Stats) -> dict[str, float]:
    """Own (tottime) seconds by package, idle waits left out."""
    totals: dict[str, float] = {}
    for (filename, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        if name in IDLE_FUNCTIONS:
            continue
        where = f"{filename} {name}"
        if "sqlite3" in where:
            category = "sqlite3 (C)"
        elif "sqlalchemy" in where:
            category = "SQLAlchemy"
        elif "protobuf" in where or "_upb" in where or "_pb2" in where:
            category = "protobuf"
        elif "grpc" in where:
            category = "grpc (Python parts)"
        elif "statehouse" in where:
            category = "statehouse server code"
        elif "asyncio" in where or "uvloop" in where:
            category = "asyncio"
        elif "json" in where:
            category = "json"
        elif "uuid" in where:
            category = "uuid"
        else:
            category = "other (builtins, stdlib)"
        totals[category] = totals.get(category, 0.0) + row[2]
    return totals


# -- report ------------------------------------------------------------------------


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    lines = [line, "  ".join("-" * w for w in widths)]
    for row in rows:
        lines.append(
            "  ".join(
                (c.rjust(w) if i else c.ljust(w))
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def render(results: dict[str, Any]) -> str:
    out = []
    env = results["environment"]
    out.append(
        f"\nStatehouse bench ({'quick' if results['quick'] else 'default'} run), "
        f"{env['cpus']} CPUs shared by clients and servers, Python {env['python']}, "
        f"grpcio {env['grpcio']}, {env['loop']}, SQLite (synchronous=NORMAL, WAL)\n"
        f"git {env['git']}, server from {env['server_source']}"
    )
    rows = []
    for s in results["unary"]:
        unit = "creates/s" if s["name"].endswith("create") else "calls/s"
        if s["name"] == "statehouse transition":
            unit = "transitions/s"
        count = s["creates"] if s["name"].endswith("create") else s["ops"]
        rows.append(
            [
                s["name"],
                f"{s['processes']}x{s['concurrency'] // s['processes']}",
                f"{s['rate']:,.0f} {unit}",
                f"{count}",
                f"{s['seconds']:.1f}",
                f"{s['p50_ms']:.2f}",
                f"{s['p99_ms']:.2f}",
                f"{s['client_cpu_pct']:.0f}%",
                f"{s['server_cpu_pct']:.0f}%",
                str(s["errors"]),
            ]
        )
    out.append("\nUnary (one channel per client process; procs x in-flight calls each):")
    out.append(
        _table(
            rows,
            [
                "phase",
                "clients",
                "rate",
                "count",
                "secs",
                "p50 ms",
                "p99 ms",
                "client CPU",
                "server CPU",
                "errors",
            ],
        )
    )
    out.append("\nTransitions vs echo, same client setup:")
    for r in results["ratios"]:
        out.append(
            f"  {r['processes']} client process(es): {r['transitions_per_s']:,.0f} transitions/s"
            f" / {r['echo_calls_per_s']:,.0f} echo calls/s = {r['ratio']:.2f}"
            f"  (client {r['client_bound']})"
        )
    best = results["best"]
    out.append(
        f"  best: {best['transitions_per_s']:,.0f} transitions/s, "
        f"{best['echo_calls_per_s']:,.0f} echo calls/s, ratio {best['ratio']:.2f}"
    )
    rows = []
    for e in results["events"]:
        rows.append(
            [
                str(e["subscribers"]),
                str(e["channels"]),
                f"{e['transitions']} @ {e['writer_rate']:,.0f}/s",
                str(e["events_per_subscriber"]),
                str(e["deliveries"]),
                f"{e['seconds']:.1f}",
                f"{e['deliveries_per_s']:,.0f}",
                f"{e['p50_ms']:.1f}",
                f"{e['p99_ms']:.1f}",
                f"{e['max_ms']:.1f}",
                f"{e['client_cpu_pct']:.0f}%",
                f"{e['server_cpu_pct']:.0f}%",
                "none" if not e["errors"] else f"{len(e['errors'])} ERRORS",
            ]
        )
    out.append(
        "\nEvents (subscribe from_latest; writer in its own process; latency = receipt - event.time):"
    )
    out.append(
        _table(
            rows,
            [
                "subs",
                "channels",
                "writer transitions",
                "events/sub",
                "deliveries",
                "secs",
                "deliveries/s",
                "p50 ms",
                "p99 ms",
                "max ms",
                "client CPU",
                "server CPU",
                "loss/order",
            ],
        )
    )
    return "\n".join(out)


def _client_bound(summary: PhaseSummary) -> str:
    per_process = summary.client_cpu_pct / summary.processes
    return f"CPU {per_process:.0f}% per process" + (", client-bound" if per_process >= 85 else "")


# -- main --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Statehouse vs a plain grpc.aio echo server.")
    parser.add_argument("--quick", action="store_true", help="a short run (under 30 s)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the server (cProfile) during the 1-process transitions phase",
    )
    parser.add_argument(
        "--profile-out", type=Path, metavar="PATH", help="keep the pstats file here"
    )
    parser.add_argument(
        "--server-src",
        type=Path,
        metavar="DIR",
        help="run the server from this source root (e.g. an exported commit's server/src) "
        "instead of the working tree",
    )
    parser.add_argument(
        "--processes",
        default="1,2",
        help="client process counts to measure unary calls with (default 1,2)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=64, help="in-flight calls in total (default 64)"
    )
    parser.add_argument(
        "--subscribers", default="1,100", help="subscriber counts for the events phase"
    )
    parser.add_argument(
        "--sub-channels",
        type=int,
        default=0,
        help="channels the subscribers share (default 0: one channel per subscriber)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes()
    if args.concurrency != sizes.concurrency:
        sizes = Sizes(**{**asdict(sizes), "concurrency": args.concurrency})
    processes = [int(x) for x in args.processes.split(",") if x]
    subscriber_counts = [int(x) for x in args.subscribers.split(",") if x]
    python = sys.executable
    tmp = Path(tempfile.mkdtemp(prefix="statehouse-bench-"))
    database = f"sqlite:///{tmp / 'statehouse.db'}"
    if args.profile:
        profile_path = args.profile_out or tmp / "server.prof"
        statehouse_argv = [
            python,
            str(BENCH / "profiled_server.py"),
            "--address",
            "127.0.0.1:0",
            "--database",
            database,
            "--profile-out",
            str(profile_path.resolve()),
        ]
    else:
        statehouse_argv = [
            python,
            "-m",
            "statehouse.server.app",
            "--address",
            "127.0.0.1:0",
            "--database",
            database,
        ]
    statehouse = ServerProcess(
        "statehouse",
        statehouse_argv,
        r"statehouse serving on 127\.0\.0\.1:(\d+)",
        tmp / "statehouse.log",
        pythonpath=str(args.server_src.resolve()) if args.server_src else None,
    )
    echo = ServerProcess(
        "echo server",
        [python, str(BENCH / "echo_server.py"), "--address", "127.0.0.1:0"],
        r"echo serving on 127\.0\.0\.1:(\d+)",
        tmp / "echo.log",
    )
    started = time.monotonic()
    results: dict[str, Any] = {
        "quick": args.quick,
        "environment": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "grpcio": _version("grpcio"),
            "loop": loop_kind(),
            "database": "sqlite (temporary file)",
            "server_source": str(args.server_src or ROOT / "server" / "src"),
            "git": _git_describe(),
        },
        "sizes": asdict(sizes),
        "unary": [],
        "events": [],
    }
    profiler: Profiler | None = None
    ok = True
    try:
        progress(f"starting servers (temporary directory {tmp})")
        echo_port = echo.start()
        statehouse_port = statehouse.start()
        progress(f"echo on 127.0.0.1:{echo_port}, statehouse on 127.0.0.1:{statehouse_port}")
        echo_target = f"127.0.0.1:{echo_port}"
        statehouse_target = f"127.0.0.1:{statehouse_port}"
        if args.profile:
            profiler = Profiler(statehouse, profile_path)

        echo_by_procs: dict[int, PhaseSummary] = {}
        transitions_by_procs: dict[int, PhaseSummary] = {}
        for n in processes:
            echo_by_procs[n] = run_echo(echo_target, echo, sizes, n)
            results["unary"].append(asdict(echo_by_procs[n]))
        for n in processes:
            use_profiler = profiler if (profiler is not None and n == processes[0]) else None
            creates, transitions = run_transitions(
                statehouse_target, statehouse, sizes, n, use_profiler
            )
            transitions_by_procs[n] = transitions
            results["unary"].append(asdict(creates))
            results["unary"].append(asdict(transitions))
        ratios = []
        for n in processes:
            e, t = echo_by_procs[n], transitions_by_procs[n]
            ratios.append(
                {
                    "processes": n,
                    "echo_calls_per_s": e.rate,
                    "transitions_per_s": t.rate,
                    "ratio": round(t.rate / e.rate, 3) if e.rate else math.nan,
                    "client_bound": f"echo {_client_bound(e)}; statehouse {_client_bound(t)}",
                    "profiled": profiler is not None and n == processes[0],
                }
            )
        results["ratios"] = ratios
        best_echo = max(echo_by_procs.values(), key=lambda s: s.rate)
        candidates = [
            t
            for n, t in transitions_by_procs.items()
            if not (profiler is not None and n == processes[0])
        ] or list(transitions_by_procs.values())
        best_transitions = max(candidates, key=lambda s: s.rate)
        results["best"] = {
            "echo_calls_per_s": best_echo.rate,
            "echo_processes": best_echo.processes,
            "transitions_per_s": best_transitions.rate,
            "transitions_processes": best_transitions.processes,
            "ratio": round(best_transitions.rate / best_echo.rate, 3),
        }
        for count in subscriber_counts:
            channels = count if args.sub_channels <= 0 else min(args.sub_channels, count)
            summary = run_events(statehouse_target, statehouse, sizes, count, channels)
            results["events"].append(asdict(summary))
            ok = ok and not summary.errors
        if any(s["errors"] for s in results["unary"]):
            ok = False
        results["seconds"] = round(time.monotonic() - started, 1)
        results["ok"] = ok
        print(render(results))
        if profiler is not None:
            profiled = transitions_by_procs[processes[0]]
            print(
                "\nNOTE: the first transitions row ran under cProfile (slower than real).",
            )
            print(profiler.report(profiled.ops))
            results["profile"] = str(profiler.path)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
            progress(f"results written to {args.json}")
        progress(f"done in {results['seconds']:.0f} s" + ("" if ok else " WITH ERRORS"))
    except KeyboardInterrupt:
        progress("interrupted")
        return 130
    except Exception:
        progress("bench failed:\n" + traceback.format_exc())
        for server in (statehouse, echo):
            if server.proc is not None:
                progress(f"last lines of the {server.name} log:\n{server.tail()}")
        return 1
    finally:
        for server in (statehouse, echo):
            with contextlib.suppress(Exception):
                server.stop()
        if args.profile and args.profile_out is None:
            progress(f"profile data kept in {tmp} (delete it when done)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


def _git_describe() -> str:
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


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
