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
3. PostgreSQL (``--no-postgres`` skips it): a throwaway cluster
   (``tests/pgcluster.py``, imported from the repository root; skipped with a
   message when the binaries are missing), one database, one Statehouse
   replica, then a second on the same database: creates/s and transitions/s
   with the same client concurrency as SQLite (with two replicas, half of each
   client process's workers target each replica), SQLite's transitions/s of
   the same run beside them, and the server, client and database (postmaster
   and backends) CPU. A subscriber on every replica (from_latest, in a process
   of its own, subscribed before the creates; it costs ~15% of the 1-replica
   rate on 2 CPUs) must receive every event of the log once, in log order, and
   the same sequence on both replicas (checked against the events table up to
   an end marker);
4. events: 1, 100 and 1,000 subscribers (``subscribe(from_latest=True)``) in
   subscriber processes of their own, a writer in another process producing a
   fixed number of transitions (paced over 100 subscribers, so that the
   fan-out, not the writer, is measured); deliveries/s and publish-to-receipt
   latency (event ``time``, the server clock, to ``time.time()`` on arrival),
   checking that every subscriber gets every event once, in order. Up to 100
   subscribers each has a channel; above that they share one channel per 50;
   one subscriber process per 1,000 subscribers (on 2 CPUs a second one takes
   CPU from the server: see ``--sub-processes``). The SDK's
   ``duplicates_dropped`` and ``reconnects`` counters, where it has them, are
   summed: duplicates and reconnects are errors;
5. idle streams: memory of the server per idle stream (5,000 streams,
   from_latest, no heartbeats, opened in a burst) on a fresh server of their
   own: VmRSS before, with the connections, and once every stream has received
   an event (markers are published until all have: then all are established);
   a cancelled or failed stream is an error;
6. metrics: RecordMetrics throughput (calls of 100 new metrics, several in
   flight, on a few hundred running task runs), then AggregateMetrics latency
   (hour buckets over one day, with and without ``group_by_tag``) over
   ``--metrics`` stored metrics (1,000,000). Recording them would take longer
   than ~90 s at the measured rate, so they are written into the server's
   SQLite file while it is stopped (schema by its own migrations, real task
   runs, times spread over the day in id order), then the server is restarted;
7. hostile client (``bench/hostile.py``, ``--no-hostile`` skips it): on a fresh
   server of its own, GetExecution latency of a normal client alone, then beside
   a client sending the heaviest requests the limits allow;
8. security (``bench/security.py``, ``--no-security`` skips it; it runs right
   after the transitions phase): the transitions load of phase 2 (the first of
   ``--processes``, the same concurrency) against a plaintext server without
   authentication and a TLS server with ``--auth`` (a writer token scoped to
   ``bench.*``), fresh SQLite files with the same settings, in rounds
   alternating between them: transitions/s, p50/p99 and CPU per transition of
   both and the ratio secured/plain.

Every phase is bounded in count and in time. ``--quick`` is a short run,
``--json PATH`` writes the results, ``--profile`` runs the server under
cProfile during the (1-process) transitions phase and prints the top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import multiprocessing as mp
import os
import platform
import pstats
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Above 100 subscribers, subscribers share channels (HTTP/2 connections) by this many.
STREAMS_PER_CHANNEL = 50
#: Subscribers per client process (the client, in Python, is as busy as the server).
SUBSCRIBERS_PER_PROCESS = 1000
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
    #: Over 100 subscribers the writer is paced: the fan-out, not the writer, is measured.
    event_transitions_1000: int = 150
    event_rate_1000: float = 15.0
    event_writer_concurrency: int = 8
    event_seconds: float = 20.0
    idle_streams: int = 5_000
    idle_streams_per_channel: int = 50
    record_task_runs: int = 300
    record_entries: int = 100
    record_in_flight: int = 8
    record_seconds: float = 6.0
    metrics: int = 1_000_000
    metrics_load_seconds: float = 90.0
    aggregate_calls: int = 20
    aggregate_seconds: float = 25.0
    #: PostgreSQL: transitions per run (1 replica, then 2), same concurrency as SQLite;
    #: fewer than on SQLite, which is about 4x faster (the default run stays under 4 min).
    pg_transitions: int = 4_000
    pg_transition_seconds: float = 15.0

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
            event_transitions_1000=40,
            event_seconds=6.0,
            idle_streams=2_000,
            record_task_runs=100,
            record_seconds=2.0,
            metrics=100_000,
            aggregate_calls=5,
            aggregate_seconds=4.0,
            pg_transitions=800,
            pg_transition_seconds=2.5,
        )

    def event_plan(self, subscribers: int) -> tuple[int, float]:
        """(writer transitions, writer rate limit in transitions/s, 0: none)."""
        if subscribers <= 1:
            return self.event_transitions_1, 0.0
        if subscribers <= 100:
            return self.event_transitions_100, 0.0
        # Scaled so that the deliveries/s stay about those of 1,000 subscribers.
        rate = self.event_rate_1000 * 1000 / subscribers
        return self.event_transitions_1000, round(rate, 2)


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
    rate: float = 0.0  # transitions/s for the whole process (0: as fast as it goes)
    #: More replicas of one service: worker i uses target i % (1 + len(extra_targets)).
    extra_targets: tuple[str, ...] = ()
    #: Transitions the create phase prepares task runs for (0: ``max_ops``); more when
    #: several transition phases follow (each continues where the last one stopped).
    create_ops: int = 0
    #: TLS: the CA that signed the server's certificate (PEM), and the name to check.
    tls_ca: str = ""
    tls_name: str = ""
    #: Sent as ``authorization: Bearer <token>`` on every call.
    token: str = ""


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
    """Per-worker executions and task runs created by the create phase, and how far
    the transition phases got through them (step 2i: task run i to RUNNING, 2i+1: to
    SUCCESS)."""

    def __init__(self, spec: ClientSpec) -> None:
        self.spec = spec
        self.task_runs: list[list[str]] = [[] for _ in range(spec.concurrency)]
        self.steps: list[int] = [0] * spec.concurrency


async def _create_phase(
    spec: ClientSpec, clients: list[Any], work: _Workload, result: PhaseResult
) -> None:
    per = spec.task_runs_per_execution
    task_runs_wanted = math.ceil((spec.create_ops or spec.max_ops) / 2)
    executions = math.ceil(task_runs_wanted / per)
    deadline = _Deadline(spec.seconds["create"])

    async def worker(index: int) -> None:
        client = clients[index % len(clients)]
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
    spec: ClientSpec, clients: list[Any], work: _Workload, result: PhaseResult
) -> None:
    from statehouse.client import State

    deadline = _Deadline(spec.seconds["transition"])
    remaining = [spec.max_ops]
    started = time.monotonic()
    issued = [0]

    async def pace() -> None:
        """With a rate: wait for this transition's slot (slot n at start + n / rate)."""
        if spec.rate > 0:
            slot = issued[0]
            issued[0] += 1
            delay = started + slot / spec.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    states = (State.RUNNING, State.SUCCESS)

    async def worker(index: int) -> None:
        client = clients[index % len(clients)]  # the replica that created its task runs
        task_runs = work.task_runs[index]
        while work.steps[index] < 2 * len(task_runs):
            if remaining[0] <= 0 or deadline.passed():
                return
            step = work.steps[index]
            remaining[0] -= 1
            await pace()
            t0 = time.perf_counter()
            try:
                await client.transition_task_run(
                    task_runs[step // 2], state=states[step % 2], worker_id=f"w{index}"
                )
            except Exception as exc:
                _record_error(result, exc)
                work.steps[index] = (step // 2 + 1) * 2  # on to the next task run
                continue
            work.steps[index] = step + 1
            result.latencies.append(time.perf_counter() - t0)
            result.ops += 1

    await asyncio.gather(*(worker(i) for i in range(spec.concurrency)))
    if spec.sentinel:
        # Tells subscribers that the writer is done (their stop signal, not counted).
        await clients[0].create_execution(namespace=NAMESPACE, flow_id=SENTINEL_FLOW)


async def _client_async(spec: ClientSpec, index: int, go: list[Any], out: Any) -> None:
    import grpc

    loop = asyncio.get_running_loop()
    channel: Any = None
    clients: list[Any] = []
    if spec.kind == "echo":
        channel = grpc.aio.insecure_channel(spec.target)
    else:
        from statehouse.client import AsyncClient

        security: dict[str, Any] = {}
        if spec.tls_ca:
            security["credentials"] = grpc.ssl_channel_credentials(
                root_certificates=spec.tls_ca.encode()
            )
            if spec.tls_name:
                security["options"] = [("grpc.ssl_target_name_override", spec.tls_name)]
        if spec.token:
            security["metadata"] = [("authorization", f"Bearer {spec.token}")]
        clients = [AsyncClient.connect(t, **security) for t in (spec.target, *spec.extra_targets)]
    try:
        if clients:
            await asyncio.gather(*(c.wait_for_ready(10) for c in clients))
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
                await _create_phase(spec, clients, work, result)
            elif phase == "transition":
                await _transition_phase(spec, clients, work, result)
            else:
                raise ValueError(phase)
            result.end = time.time()
            result.cpu = time.process_time() - cpu0
            out.put(("done", index, phase, result))
    finally:
        for client in clients:
            await client.close()
        if channel is not None:
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
        #: Every process's result of the last phase (their latencies, to merge phases).
        self.last_results: list[PhaseResult] = []

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

    def go_and_wait(
        self, name: str, server: ServerProcess | list[ServerProcess], budget: float
    ) -> PhaseSummary:
        """Start the next phase (after wait_ready) and summarize it (server CPU: all of
        ``server`` when a list, the replicas of one service)."""
        servers = server if isinstance(server, list) else [server]
        cpu0 = sum(s.cpu_seconds() for s in servers)
        wall0 = time.monotonic()
        self.go[self.phase_index].set()
        self.phase_index += 1
        results: list[PhaseResult] = self._collect("done", budget + 60)
        self.last_results = results
        wall = time.monotonic() - wall0
        server_cpu = sum(s.cpu_seconds() for s in servers) - cpu0
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
    processes: int
    channels: int
    heartbeat_interval_s: float
    transitions: int
    writer_rate: float
    writer_rate_limit: float
    events_per_subscriber: int
    deliveries: int
    seconds: float
    deliveries_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    client_cpu_pct: float
    server_cpu_pct: float
    duplicates_dropped: int | None
    reconnects: int | None
    errors: list[str]


def _sdk_counter(subscription: Any, name: str) -> int | None:
    """A counter of the SDK's subscription object (``duplicates_dropped``, ``reconnects``)
    when this SDK version has it, else None."""
    value = getattr(subscription, name, None)
    return value if isinstance(value, int) else None


def _add_counter(total: int | None, value: int | None) -> int | None:
    if value is None:
        return total
    return value + (total or 0)


class _Subscriber:
    """One subscriber of an events phase: checks every event once, in order, to the end."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.ready = asyncio.Event()
        self.start_sequence = -1
        self.expected = -1
        self.received = 0
        self.last_receipt = 0.0
        self.done = False
        self.errors: list[str] = []
        self.duplicates_dropped: int | None = None
        self.reconnects: int | None = None

    async def run(self, client: Any, latencies: list[float], heartbeat_interval: float) -> None:
        from statehouse.client import Heartbeat

        subscription = client.subscribe(
            namespace=NAMESPACE,
            from_latest=True,
            heartbeats=True,
            heartbeat_interval=timedelta(seconds=heartbeat_interval),
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
            self.duplicates_dropped = _sdk_counter(subscription, "duplicates_dropped")
            self.reconnects = _sdk_counter(subscription, "reconnects")
            await subscription.close()


@dataclass(frozen=True)
class SubscriberSpec:
    """What one subscriber process runs (picklable)."""

    target: str
    first: int  # subscriber numbers first .. first + count - 1
    count: int
    channels: int
    heartbeat_interval: float
    ready_timeout: float = 60.0


@dataclass
class SubscriberReport:
    """What one subscriber process saw."""

    start_sequences: list[int]
    received: list[int]
    not_done: list[str]
    errors: list[str]
    latencies: list[float]
    last_receipt: float
    cpu: float
    duplicates_dropped: int | None
    reconnects: int | None


async def _subscribers_async(spec: SubscriberSpec, index: int, stop: Any, out: Any) -> None:
    from statehouse.client import AsyncClient

    clients = [AsyncClient.connect(spec.target) for _ in range(spec.channels)]
    subs = [_Subscriber(spec.first + i) for i in range(spec.count)]
    latencies: list[float] = []
    tasks = [
        asyncio.create_task(sub.run(clients[i % spec.channels], latencies, spec.heartbeat_interval))
        for i, sub in enumerate(subs)
    ]
    errors: list[str] = []
    try:
        deadline = _Deadline(spec.ready_timeout)
        while not all(s.ready.is_set() for s in subs):
            failed = [t for t in tasks if t.done()]
            if failed:
                raise RuntimeError(
                    f"a subscriber ended before its first heartbeat: {failed[0].exception()!r}"
                )
            if deadline.passed():
                missing = sum(not s.ready.is_set() for s in subs)
                raise RuntimeError(
                    f"{missing} of {spec.count} subscribers not started in {spec.ready_timeout} s"
                )
            await asyncio.sleep(0.05)
        cpu0 = time.process_time()
        out.put(("ready", index, "events", sorted({s.start_sequence for s in subs})))
        pending: set[asyncio.Task[None]] = set(tasks)
        while pending and not stop.is_set():
            _done, pending = await asyncio.wait(pending, timeout=0.1)
        cpu = time.process_time() - cpu0
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                errors.append(f"subscriber failed: {task.exception()!r}")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            await client.close()
    duplicates: int | None = None
    reconnects: int | None = None
    for sub in subs:
        errors.extend(sub.errors)
        duplicates = _add_counter(duplicates, sub.duplicates_dropped)
        reconnects = _add_counter(reconnects, sub.reconnects)
    out.put(
        (
            "done",
            index,
            "events",
            SubscriberReport(
                start_sequences=sorted({s.start_sequence for s in subs}),
                received=[s.received for s in subs],
                not_done=[
                    f"subscriber {s.number}: did not receive the end marker "
                    f"(got {s.received} events, next expected {s.expected})"
                    for s in subs
                    if not s.done
                ],
                errors=errors[:50],
                latencies=latencies,
                last_receipt=max((s.last_receipt for s in subs), default=0.0),
                cpu=cpu,
                duplicates_dropped=duplicates,
                reconnects=reconnects,
            ),
        )
    )


def subscriber_process_main(spec: SubscriberSpec, index: int, stop: Any, out: Any) -> None:
    """Entry point of a spawned subscriber process."""
    try:
        run_loop(_subscribers_async(spec, index, stop, out))
    except KeyboardInterrupt:
        pass
    except BaseException:
        out.put(("error", index, "", traceback.format_exc()))


class SubscriberGroup:
    """Subscribers spread over spawned processes (and, in each, over channels)."""

    def __init__(
        self,
        target: str,
        subscribers: int,
        channels: int,
        processes: int,
        heartbeat_interval: float,
    ) -> None:
        self.ctx = mp.get_context("spawn")
        self.out = self.ctx.Queue()
        self.stop = self.ctx.Event()
        processes = max(1, min(processes, subscribers))
        specs = []
        first = 0
        for i in range(processes):
            count = subscribers // processes + (i < subscribers % processes)
            share = channels // processes + (i < channels % processes)
            specs.append(
                SubscriberSpec(
                    target=target,
                    first=first,
                    count=count,
                    channels=max(1, min(share, count)),
                    heartbeat_interval=heartbeat_interval,
                )
            )
            first += count
        self.specs = specs
        self.procs = [
            self.ctx.Process(
                target=subscriber_process_main,
                args=(spec, i, self.stop, self.out),
                name=f"bench-subscribers-{i}",
                daemon=True,
            )
            for i, spec in enumerate(specs)
        ]

    def __enter__(self) -> SubscriberGroup:
        for proc in self.procs:
            proc.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)

    def collect(self, kind: str, timeout: float) -> list[Any]:
        """One ``kind`` message from every process."""
        items: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(items) < len(self.procs):
            try:
                message = self.out.get(timeout=0.5)
            except queue.Empty:
                dead = [p for p in self.procs if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"subscriber process {dead[0].name} died") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"subscriber processes: no {kind} in {timeout} s") from None
                continue
            if message[0] == "error":
                raise RuntimeError(f"subscriber process {message[1]} failed:\n{message[3]}")
            if message[0] != kind:
                raise RuntimeError(f"subscriber process {message[1]}: {message[0]} before {kind}")
            items.append(message[3])
        return items


def run_events(
    target: str,
    server: ServerProcess,
    sizes: Sizes,
    subscribers: int,
    channels: int,
    processes: int,
) -> EventsSummary:
    transitions, rate = sizes.event_plan(subscribers)
    heartbeat = 0.2 if subscribers <= 100 else 1.0
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
        rate=rate,
    )
    errors: list[str] = []
    with ClientGroup(spec, 1, [server]) as group:
        group.wait_ready()
        group.go_and_wait("events create", server, sizes.create_seconds)
        group.wait_ready()
        with SubscriberGroup(target, subscribers, channels, processes, heartbeat) as subs:
            starts = {s for seqs in subs.collect("ready", 90) for s in seqs}
            if len(starts) != 1:
                errors.append(f"subscribers started at different sequences: {sorted(starts)}")
            server_cpu0 = server.cpu_seconds()
            t_go = time.time()
            writer = group.go_and_wait("events transition", server, sizes.event_seconds)
            # The writer is done; give the subscribers a bounded time to drain.
            drain = threading.Timer(sizes.event_seconds + 10, subs.stop.set)
            drain.start()
            try:
                reports: list[SubscriberReport] = subs.collect("done", sizes.event_seconds + 30)
            finally:
                drain.cancel()
            server_cpu = server.cpu_seconds() - server_cpu0
    duplicates: int | None = None
    reconnects: int | None = None
    for report in reports:
        errors.extend(report.errors)
        errors.extend(report.not_done)
        duplicates = _add_counter(duplicates, report.duplicates_dropped)
        reconnects = _add_counter(reconnects, report.reconnects)
    if duplicates:
        errors.append(
            f"the SDK dropped {duplicates} events as duplicates (at or below its cursor: "
            "sent twice, or after a heartbeat that already covered them)"
        )
    if reconnects:
        errors.append(f"subscriptions reconnected {reconnects} times (streams failed)")
    counts = {n for report in reports for n in report.received}
    if len(counts) != 1:
        errors.append(f"subscribers received different counts: {sorted(counts)[:10]}")
    deliveries = sum(n for report in reports for n in report.received)
    end = max((r.last_receipt for r in reports), default=t_go)
    seconds = max(end - t_go, 1e-9)
    latencies = sorted(x for report in reports for x in report.latencies)
    client_cpu = sum(r.cpu for r in reports)
    summary = EventsSummary(
        subscribers=subscribers,
        processes=len(reports),
        channels=channels,
        heartbeat_interval_s=heartbeat,
        transitions=writer.ops,
        writer_rate=writer.rate,
        writer_rate_limit=rate,
        events_per_subscriber=max(counts) if counts else 0,
        deliveries=deliveries,
        seconds=round(seconds, 3),
        deliveries_per_s=round(deliveries / seconds, 1),
        p50_ms=round(_pct(latencies, 0.50) * 1000, 2),
        p99_ms=round(_pct(latencies, 0.99) * 1000, 2),
        max_ms=round((latencies[-1] if latencies else math.nan) * 1000, 2),
        client_cpu_pct=round(100 * client_cpu / seconds, 1),
        server_cpu_pct=round(100 * server_cpu / seconds, 1),
        duplicates_dropped=duplicates,
        reconnects=reconnects,
        errors=errors[:20] + ([f"... {len(errors) - 20} more"] if len(errors) > 20 else []),
    )
    if writer.errors:
        summary.errors.append(f"writer: {writer.errors} errors, first: {writer.first_error}")
    progress(
        f"events, {subscribers} subscriber(s) in {summary.processes} process(es) on "
        f"{channels} channel(s): {summary.deliveries_per_s:,.0f} deliveries/s "
        f"({summary.deliveries} in {summary.seconds:.1f} s; writer {summary.transitions} "
        f"transitions at {summary.writer_rate:,.0f}/s), latency p50 {summary.p50_ms:.1f} ms, "
        f"p99 {summary.p99_ms:.1f} ms, client CPU {summary.client_cpu_pct:.0f}%, "
        f"server CPU {summary.server_cpu_pct:.0f}%, {len(summary.errors)} errors"
    )
    for error in summary.errors:
        progress(f"  ERROR: {error}")
    return summary


# -- idle streams: memory --------------------------------------------------------------


def rss_kb(pid: int) -> int:
    """VmRSS of a process, in KB (from /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


@dataclass
class IdleSummary:
    streams: int
    channels: int
    rss_before_kb: int
    rss_connected_kb: int
    rss_after_kb: int
    kb_per_stream: float
    kb_per_stream_without_connections: float
    kb_per_connection: float
    established_seconds: float
    marker_events: int
    duplicates_dropped: int | None
    reconnects: int | None
    server_log_errors: int
    errors: list[str]


class _IdleSubscriber:
    """An idle stream (from_latest, no heartbeats) that checks the few events it gets."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.first = 0
        self.last = 0
        self.errors: list[str] = []
        self.duplicates_dropped: int | None = None
        self.reconnects: int | None = None

    async def run(self, client: Any) -> None:
        subscription = client.subscribe(namespace=NAMESPACE, from_latest=True)
        try:
            async for event in subscription:
                if self.first and event.sequence != self.last + 1:
                    self.errors.append(
                        f"idle stream {self.number}: expected {self.last + 1}, got {event.sequence}"
                    )
                self.first = self.first or event.sequence
                self.last = event.sequence
        finally:
            self.duplicates_dropped = _sdk_counter(subscription, "duplicates_dropped")
            self.reconnects = _sdk_counter(subscription, "reconnects")
            await subscription.close()


async def _idle_async(
    target: str, server: ServerProcess, streams: int, per_channel: int
) -> IdleSummary:
    from statehouse.client import AsyncClient

    writer = AsyncClient.connect(target)
    channels = max(1, math.ceil(streams / per_channel))
    clients: list[Any] = []
    subs = [_IdleSubscriber(i) for i in range(streams)]
    tasks: list[asyncio.Task[None]] = []
    errors: list[str] = []
    try:
        await writer.wait_for_ready(10)

        async def publish() -> None:
            await writer.create_execution(namespace=NAMESPACE, flow_id="idle")

        await publish()
        # Warm up the server's stream code paths with a few streams, closed again.
        warm = [_IdleSubscriber(-1 - i) for i in range(20)]
        warm_tasks = [asyncio.create_task(w.run(writer)) for w in warm]
        for _ in range(100):
            await publish()
            await asyncio.sleep(0.05)
            if all(w.last for w in warm):
                break
        for task in warm_tasks:
            task.cancel()
        await asyncio.gather(*warm_tasks, return_exceptions=True)
        await asyncio.sleep(1.0)
        before = rss_kb(server.pid)
        clients = [AsyncClient.connect(target) for _ in range(channels)]
        await asyncio.gather(*(c.wait_for_ready(30) for c in clients))
        await asyncio.sleep(0.5)
        connected = rss_kb(server.pid)
        progress(
            f"idle streams: server RSS {before / 1024:.1f} MB, {connected / 1024:.1f} MB with "
            f"{channels} connections; opening {streams} streams in a burst"
        )
        log_lines = len(server.log().splitlines())
        t0 = time.monotonic()
        tasks = [asyncio.create_task(sub.run(clients[i % channels])) for i, sub in enumerate(subs)]
        # from_latest: a stream not yet open when an event is published misses it, so
        # publish markers until every stream has received one: then all are established.
        markers = 0
        deadline = _Deadline(90)
        while True:
            await publish()
            markers += 1
            await asyncio.sleep(0.5)
            failed = [t for t in tasks if t.done()]
            if failed:
                raise RuntimeError(
                    f"{len(failed)} idle streams ended, first: {failed[0].exception()!r}"
                )
            waiting = sum(not s.first for s in subs)
            if not waiting:
                break
            if deadline.passed():
                raise RuntimeError(f"{waiting} of {streams} idle streams not established in 90 s")
        established = time.monotonic() - t0
        # Settle (every stream has the latest marker), then one more event that every
        # stream must receive right after it.
        settled = 0
        deadline = _Deadline(30)
        while not deadline.passed():
            settled = max(s.last for s in subs)
            if all(s.last == settled for s in subs):
                break
            await asyncio.sleep(0.1)
        await publish()
        markers += 1
        deadline = _Deadline(30)
        while True:
            if all(s.last > settled for s in subs):
                break
            if deadline.passed():
                behind = sum(s.last <= settled for s in subs)
                errors.append(f"{behind} idle streams did not receive the last event in 30 s")
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        after = rss_kb(server.pid)
        for task in tasks:
            if task.done():
                errors.append(f"idle stream ended: {task.exception()!r}")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            await client.close()
        await writer.close()
    duplicates: int | None = None
    reconnects: int | None = None
    for sub in subs:
        errors.extend(sub.errors)
        duplicates = _add_counter(duplicates, sub.duplicates_dropped)
        reconnects = _add_counter(reconnects, sub.reconnects)
    if duplicates:
        errors.append(f"the SDK dropped {duplicates} events as duplicates (at or below its cursor)")
    if reconnects:
        errors.append(f"idle streams reconnected {reconnects} times (cancelled or failed)")
    new_log = server.log().splitlines()[log_lines:]
    log_errors = [
        line for line in new_log if re.search(r"ERROR|Traceback|RESOURCE_EXHAUSTED", line)
    ]
    if log_errors:
        errors.append(f"server log: {len(log_errors)} error lines, first: {log_errors[0]}")
    return IdleSummary(
        streams=streams,
        channels=channels,
        rss_before_kb=before,
        rss_connected_kb=connected,
        rss_after_kb=after,
        kb_per_stream=round((after - before) / streams, 1),
        kb_per_stream_without_connections=round((after - connected) / streams, 1),
        kb_per_connection=round((connected - before) / channels, 1),
        established_seconds=round(established, 2),
        marker_events=markers,
        duplicates_dropped=duplicates,
        reconnects=reconnects,
        server_log_errors=len(log_errors),
        errors=errors[:20] + ([f"... {len(errors) - 20} more"] if len(errors) > 20 else []),
    )


def run_idle(server: ServerProcess, streams: int, per_channel: int) -> IdleSummary:
    """Idle streams on a server of their own (fresh: no memory freed by earlier phases)."""
    port = server.start()
    try:
        summary = run_loop(_idle_async(f"127.0.0.1:{port}", server, streams, per_channel))
    finally:
        server.stop()
    progress(
        f"idle streams: {summary.streams} on {summary.channels} connections established in "
        f"{summary.established_seconds:.1f} s; server RSS +{summary.kb_per_stream:.1f} KB per "
        f"stream ({summary.kb_per_stream_without_connections:.1f} KB without the connections, "
        f"{summary.kb_per_connection:.0f} KB per connection), {len(summary.errors)} errors"
    )
    for error in summary.errors:
        progress(f"  ERROR: {error}")
    return summary


# -- metrics -------------------------------------------------------------------------

METRIC_NAME = "bench.task.duration"
METRIC_GROUP_TAG = "worker"
METRIC_WORKERS = 16


@dataclass
class RecordSummary:
    task_runs: int
    entries_per_call: int
    in_flight: int
    calls: int
    metrics: int
    seconds: float
    metrics_per_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_pct: float
    errors: int
    first_error: str


@dataclass
class LoadSummary:
    how: str  # "rpc" or "sqlite"
    metrics: int
    tag_rows: int
    seconds: float
    rows_per_s: float
    day_start: str
    note: str


@dataclass
class AggregateSummary:
    group_by_tag: str
    calls: int
    series: int
    buckets: int
    metrics_counted: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_pct: float
    errors: list[str]


async def _running_task_runs(client: Any, count: int, per: int) -> list[tuple[str, str, str]]:
    """``count`` RUNNING task runs (attempt 1): (task_run_id, execution_id, task_id)."""
    from statehouse.client import State

    found: list[tuple[str, str, str]] = []
    executions = math.ceil(count / per)
    next_execution = [0]

    async def worker() -> None:
        while next_execution[0] < executions:
            n = next_execution[0]
            next_execution[0] += 1
            execution = await client.create_execution(namespace=NAMESPACE, flow_id="metrics")
            for i in range(per):
                task_id = f"task-{n}-{i}"
                response = await client.create_task_run(execution_id=execution.id, task_id=task_id)
                await client.transition_task_run(
                    response.task_run.id, state=State.RUNNING, worker_id=f"w{n % 16}"
                )
                found.append((response.task_run.id, execution.id, task_id))

    await asyncio.gather(*(worker() for _ in range(16)))
    return found[:count]


async def _record_async(
    target: str, server: ServerProcess, sizes: Sizes
) -> tuple[RecordSummary, list[tuple[str, str, str]]]:
    from statehouse.client import AsyncClient, timer

    client = AsyncClient.connect(target)
    result = PhaseResult()
    try:
        await client.wait_for_ready(10)
        task_runs = await _running_task_runs(
            client, sizes.record_task_runs, sizes.task_runs_per_execution
        )
        deadline = _Deadline(sizes.record_seconds)
        call_number = [0]
        per = sizes.record_entries

        async def worker() -> None:
            while not deadline.passed():
                n = call_number[0]
                call_number[0] += 1
                # Distinct tags: every entry is a new metric (none combines with another).
                entries = [
                    timer(
                        f"bench.record.{j % 10}",
                        0.001 * (j + 1),
                        tags={"call": str(n), "entry": str(j), "worker": f"w{n % 16}"},
                    )
                    for j in range(per)
                ]
                task_run_id = task_runs[n % len(task_runs)][0]
                t0 = time.perf_counter()
                try:
                    # Not ``result.ops += await ...``: that reads ops before the await.
                    recorded = await client.record_metrics(task_run_id, metrics=entries)
                except Exception as exc:
                    _record_error(result, exc)
                    continue
                result.latencies.append(time.perf_counter() - t0)
                result.ops += recorded
                result.creates += 1

        cpu0 = server.cpu_seconds()
        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(sizes.record_in_flight)))
        seconds = time.monotonic() - t0
        server_cpu = server.cpu_seconds() - cpu0
    finally:
        await client.close()
    latencies = sorted(result.latencies)
    summary = RecordSummary(
        task_runs=len(task_runs),
        entries_per_call=sizes.record_entries,
        in_flight=sizes.record_in_flight,
        calls=result.creates,
        metrics=result.ops,
        seconds=round(seconds, 3),
        metrics_per_s=round(result.ops / seconds, 1),
        p50_ms=round(_pct(latencies, 0.50) * 1000, 2),
        p99_ms=round(_pct(latencies, 0.99) * 1000, 2),
        server_cpu_pct=round(100 * server_cpu / seconds, 1),
        errors=result.errors,
        first_error=result.first_error,
    )
    return summary, task_runs


def _day_start() -> datetime:
    """The start of yesterday (UTC): a whole day, 24 hour buckets."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1)


def _metric_rows(
    first: int,
    count: int,
    total: int,
    task_runs: list[tuple[str, str, str]],
    day_start: datetime,
    first_id: int,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Timer metrics ``first`` .. ``first + count - 1`` of ``total``, with their tags.

    They are spread evenly over the day, in id order (as if recorded as time went
    by, with some jitter), and over the task runs; 16 workers (the grouping tag).
    """
    rng = random.Random(first)
    start_us = int(day_start.timestamp() * 1_000_000)
    step_us = 86_400_000_000 / total
    metrics_rows: list[tuple[Any, ...]] = []
    tag_rows: list[tuple[Any, ...]] = []
    for i in range(first, first + count):
        metric_id = first_id + i
        task_run_id, execution_id, task_id = task_runs[i % len(task_runs)]
        worker = f"w{i % METRIC_WORKERS}"
        seq = str(i)
        tags = json.dumps({METRIC_GROUP_TAG: worker, "seq": seq}, separators=(",", ":"))
        metrics_rows.append(
            (
                metric_id,
                execution_id,
                task_run_id,
                task_id,
                1,
                NAMESPACE,
                "metrics",
                METRIC_NAME,
                "timer",
                "",
                tags,
                rng.expovariate(2.0),
                start_us + int((i + rng.random()) * step_us),
            )
        )
        tag_rows.append((metric_id, METRIC_GROUP_TAG, worker))
        tag_rows.append((metric_id, "seq", seq))
    return metrics_rows, tag_rows


def load_metrics_sqlite(
    path: Path, count: int, task_runs: list[tuple[str, str, str]], day_start: datetime
) -> LoadSummary:
    """Insert ``count`` metrics (and their tags) into the stopped server's SQLite file."""
    import sqlite3

    t0 = time.monotonic()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MB: the indexes stay in memory
        conn.execute("PRAGMA foreign_keys=ON")
        first_id = (conn.execute("SELECT COALESCE(MAX(id), 0) FROM metrics").fetchone()[0]) + 1
        chunk = 100_000
        tag_rows_total = 0
        for done in range(0, count, chunk):
            n = min(chunk, count - done)
            rows, tag_rows = _metric_rows(done, n, count, task_runs, day_start, first_id)
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO metrics (id, execution_id, task_run_id, task_id, attempt, "
                "namespace, flow_id, name, type, description, tags, value, time_us) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.executemany(
                "INSERT INTO metric_tags (metric_id, key, value) VALUES (?, ?, ?)", tag_rows
            )
            conn.execute("COMMIT")
            tag_rows_total += len(tag_rows)
            progress(
                f"metrics: {done + n:,} of {count:,} written to SQLite "
                f"({time.monotonic() - t0:.1f} s)"
            )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    seconds = time.monotonic() - t0
    return LoadSummary(
        how="sqlite",
        metrics=count,
        tag_rows=tag_rows_total,
        seconds=round(seconds, 1),
        rows_per_s=round(count / seconds, 1),
        day_start=day_start.isoformat(),
        note="written with sqlite3 executemany into the stopped server's database "
        "(schema by its migrations), times spread over the day",
    )


async def _load_rpc_async(
    target: str, count: int, task_runs: list[tuple[str, str, str]], in_flight: int = 4
) -> LoadSummary:
    from statehouse.client import AsyncClient, timer

    client = AsyncClient.connect(target)
    t0 = time.monotonic()
    next_call = [0]
    calls = math.ceil(count / 1000)
    rng = random.Random(42)
    try:
        await client.wait_for_ready(10)

        async def worker() -> None:
            while next_call[0] < calls:
                n = next_call[0]
                next_call[0] += 1
                first = n * 1000
                entries = [
                    timer(
                        METRIC_NAME,
                        rng.expovariate(2.0),
                        tags={METRIC_GROUP_TAG: f"w{i % METRIC_WORKERS}", "seq": str(i)},
                    )
                    for i in range(first, min(first + 1000, count))
                ]
                await client.record_metrics(task_runs[n % len(task_runs)][0], metrics=entries)
                if (n + 1) % 100 == 0:
                    progress(
                        f"metrics: {(n + 1) * 1000:,} of {count:,} recorded "
                        f"({time.monotonic() - t0:.1f} s)"
                    )

        await asyncio.gather(*(worker() for _ in range(in_flight)))
    finally:
        await client.close()
    seconds = time.monotonic() - t0
    return LoadSummary(
        how="rpc",
        metrics=count,
        tag_rows=2 * count,
        seconds=round(seconds, 1),
        rows_per_s=round(count / seconds, 1),
        day_start="",
        note="recorded through RecordMetrics (1000-entry calls): all times are now, "
        "so they fall into the last buckets",
    )


async def _aggregate_async(
    target: str, server: ServerProcess, sizes: Sizes, start: datetime, expected: int
) -> list[AggregateSummary]:
    from statehouse.client import AsyncClient, MetricBucketWidth, MetricType

    client = AsyncClient.connect(target, timeout=120)
    summaries = []
    try:
        await client.wait_for_ready(10)
        for group_by in ("", METRIC_GROUP_TAG):

            async def call(group_by: str = group_by) -> Any:
                return await client.aggregate_metrics(
                    namespace=NAMESPACE,
                    name=METRIC_NAME,
                    type=MetricType.TIMER,
                    start_time=start,
                    end_time=start + timedelta(days=1),
                    bucket_width=MetricBucketWidth.HOUR,
                    group_by_tag=group_by,
                )

            errors: list[str] = []
            await call()  # warm-up, not counted (the first call reads the pages from disk)
            latencies: list[float] = []
            response: Any = None
            cpu0 = server.cpu_seconds()
            t_start = time.monotonic()
            deadline = _Deadline(sizes.aggregate_seconds)
            while len(latencies) < sizes.aggregate_calls and not deadline.passed():
                t0 = time.perf_counter()
                response = await call()
                latencies.append(time.perf_counter() - t0)
            server_cpu = server.cpu_seconds() - cpu0
            wall = time.monotonic() - t_start
            counted = sum(b.count for s in response.series for b in s.buckets)
            buckets = len(response.series[0].buckets) if response.series else 0
            if counted != expected:
                errors.append(f"buckets count {counted} metrics, {expected} were stored")
            if buckets != 24:
                errors.append(f"{buckets} hour buckets over one day, expected 24")
            if group_by and len(response.series) != METRIC_WORKERS:
                errors.append(
                    f"{len(response.series)} series grouped by {group_by}, "
                    f"expected {METRIC_WORKERS}"
                )
            latencies.sort()
            summaries.append(
                AggregateSummary(
                    group_by_tag=group_by,
                    calls=len(latencies),
                    series=len(response.series),
                    buckets=buckets,
                    metrics_counted=counted,
                    p50_ms=round(_pct(latencies, 0.50) * 1000, 1),
                    p99_ms=round(_pct(latencies, 0.99) * 1000, 1),
                    max_ms=round(latencies[-1] * 1000, 1),
                    server_cpu_pct=round(100 * server_cpu / max(wall, 1e-9), 1),
                    errors=errors,
                )
            )
            progress(
                f"AggregateMetrics over {expected:,} metrics, hour buckets over one day"
                f"{f', grouped by {group_by}' if group_by else ''}: p50 "
                f"{summaries[-1].p50_ms:,.0f} ms, p99 {summaries[-1].p99_ms:,.0f} ms "
                f"({len(latencies)} calls, {len(response.series)} series), {len(errors)} errors"
            )
            for error in errors:
                progress(f"  ERROR: {error}")
    finally:
        await client.close()
    return summaries


def run_metrics(
    server: ServerProcess, database: Path, sizes: Sizes, how: str
) -> tuple[dict[str, Any], bool]:
    """RecordMetrics throughput, then AggregateMetrics over ``sizes.metrics`` stored metrics.

    The server is restarted when the metrics are written into its database directly.
    """
    target = f"127.0.0.1:{server.port}"
    record, task_runs = run_loop(_record_async(target, server, sizes))
    progress(
        f"RecordMetrics: {record.metrics_per_s:,.0f} metrics/s ({record.calls} calls of "
        f"{record.entries_per_call} entries, {record.in_flight} in flight, on {record.task_runs} "
        f"running task runs; p50 {record.p50_ms:.0f} ms, p99 {record.p99_ms:.0f} ms per call, "
        f"server CPU {record.server_cpu_pct:.0f}%, {record.errors} errors)"
    )
    if record.errors:
        progress(f"  RecordMetrics: first error: {record.first_error}")
    estimate = sizes.metrics / max(record.metrics_per_s, 1e-9)
    if how == "auto":
        how = "rpc" if estimate <= sizes.metrics_load_seconds else "sqlite"
    progress(
        f"metrics: loading {sizes.metrics:,} through RecordMetrics would take about "
        f"{estimate:,.0f} s: {'recording them' if how == 'rpc' else 'writing them to SQLite'}"
    )
    if how == "rpc":
        load = run_loop(_load_rpc_async(target, sizes.metrics, task_runs))
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    else:
        server.stop()
        start = _day_start()
        load = load_metrics_sqlite(database, sizes.metrics, task_runs, start)
        server.start()
        target = f"127.0.0.1:{server.port}"
        progress(f"statehouse restarted on {target}")
    progress(
        f"metrics: {load.metrics:,} stored in {load.seconds:.1f} s "
        f"({load.rows_per_s:,.0f} metrics/s, {load.how})"
    )
    aggregates = run_loop(_aggregate_async(target, server, sizes, start, sizes.metrics))
    ok = not record.errors and not any(a.errors for a in aggregates)
    return {
        "record": asdict(record),
        "load": asdict(load),
        "aggregate": [asdict(a) for a in aggregates],
        "estimated_rpc_load_seconds": round(estimate, 1),
    }, ok


# -- PostgreSQL: one replica, then two on the same database -------------------------------


def _load_pgcluster() -> Any:
    """tests/pgcluster.py, the tests' throwaway cluster (imported from the repository root)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests import pgcluster

    return pgcluster


@contextlib.contextmanager
def _signals_deferred() -> Any:
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


def start_pg_cluster(pgcluster: Any) -> Any:
    """A PostgresCluster whose tools run in a session of their own: a Ctrl-C at the terminal
    reaches only us (not initdb or pg_ctl half way), and we stop the cluster cleanly."""

    class BenchCluster(pgcluster.PostgresCluster):  # type: ignore[misc, name-defined]
        def _run(self, tool: str, *args: str) -> None:
            command = [str(self.bin / tool), *args]
            if self.as_root:
                command = ["runuser", "-u", "postgres", "--", *command]
            subprocess.run(
                command, check=True, capture_output=True, timeout=120, start_new_session=True
            )

    return BenchCluster()


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


@dataclass(frozen=True)
class OrderSpec:
    """One subscriber per target (picklable)."""

    targets: tuple[str, ...]
    heartbeat_interval: float = 0.5
    ready_timeout: float = 30.0


@dataclass
class OrderReport:
    """What the subscriber on one replica received, from its first heartbeat to the end
    marker: (sequence, execution_id, task_run_id, state) of every event."""

    target: str
    start_sequence: int = -1
    events: list[tuple[int, str, str, int]] = field(default_factory=list)
    end_sequence: int = 0  # the end marker's sequence, 0: not received
    errors: list[str] = field(default_factory=list)
    duplicates_dropped: int | None = None
    reconnects: int | None = None


async def _order_subscriber(
    client: Any, report: OrderReport, ready: asyncio.Event, heartbeat_interval: float
) -> None:
    from statehouse.client import Heartbeat

    subscription = client.subscribe(
        namespace=NAMESPACE,
        from_latest=True,
        heartbeats=True,
        heartbeat_interval=timedelta(seconds=heartbeat_interval),
    )
    try:
        async for item in subscription:
            if isinstance(item, Heartbeat):
                if not ready.is_set():
                    report.start_sequence = item.sequence
                    ready.set()
                continue
            if not ready.is_set():
                report.errors.append(f"event {item.sequence} before the first heartbeat")
                report.start_sequence = item.sequence - 1
                ready.set()
            if item.flow_id == SENTINEL_FLOW:
                report.end_sequence = item.sequence
                return
            report.events.append(
                (item.sequence, item.execution_id, item.task_run_id, int(item.state))
            )
    finally:
        report.duplicates_dropped = _sdk_counter(subscription, "duplicates_dropped")
        report.reconnects = _sdk_counter(subscription, "reconnects")
        await subscription.close()


async def _order_async(spec: OrderSpec, stop: Any, out: Any) -> None:
    from statehouse.client import AsyncClient

    clients = [AsyncClient.connect(t) for t in spec.targets]
    reports = [OrderReport(target=t) for t in spec.targets]
    readies = [asyncio.Event() for _ in spec.targets]
    tasks = [
        asyncio.create_task(_order_subscriber(c, r, e, spec.heartbeat_interval))
        for c, r, e in zip(clients, reports, readies, strict=True)
    ]
    try:
        deadline = _Deadline(spec.ready_timeout)
        while not all(e.is_set() for e in readies):
            failed = [t for t in tasks if t.done()]
            if failed:
                raise RuntimeError(
                    f"a subscriber ended before its first heartbeat: {failed[0].exception()!r}"
                )
            if deadline.passed():
                raise RuntimeError(f"subscribers not started in {spec.ready_timeout} s")
            await asyncio.sleep(0.05)
        out.put(("ready", [r.start_sequence for r in reports]))
        pending: set[asyncio.Task[None]] = set(tasks)
        while pending and not stop.is_set():
            _done, pending = await asyncio.wait(pending, timeout=0.1)
        for task, report in zip(tasks, reports, strict=True):
            if task.done() and not task.cancelled() and task.exception() is not None:
                report.errors.append(f"subscriber failed: {task.exception()!r}")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            await client.close()
    for report in reports:
        if not report.end_sequence:
            report.errors.append(
                f"no end marker (got {len(report.events)} events after sequence "
                f"{report.start_sequence})"
            )
    out.put(("done", reports))


def order_process_main(spec: OrderSpec, stop: Any, out: Any) -> None:
    """Entry point of the spawned subscriber process of a PostgreSQL run."""
    try:
        run_loop(_order_async(spec, stop, out))
    except KeyboardInterrupt:
        pass
    except BaseException:
        out.put(("error", traceback.format_exc()))


class OrderCheck:
    """A subscriber on each replica (subscribe from_latest), in a process of their own."""

    def __init__(self, targets: list[str]) -> None:
        ctx = mp.get_context("spawn")
        self.out = ctx.Queue()
        self.stop = ctx.Event()
        self.proc = ctx.Process(
            target=order_process_main,
            args=(OrderSpec(tuple(targets)), self.stop, self.out),
            name="bench-pg-subscribers",
            daemon=True,
        )

    def __enter__(self) -> OrderCheck:
        self.proc.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(timeout=5)

    def get(self, kind: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.out.get(timeout=0.5)
            except queue.Empty:
                if self.proc.exitcode not in (None, 0):
                    raise RuntimeError("the subscriber process died") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"subscriber process: no {kind} in {timeout} s") from None
                continue
            if message[0] == "error":
                raise RuntimeError(f"the subscriber process failed:\n{message[1]}")
            if message[0] != kind:
                raise RuntimeError(f"subscriber process: {message[0]} before {kind}")
            return message[1]


def _logged_sequences(url: str, after: int, before: int) -> list[int]:
    """The sequences of the bench namespace's events in the log, after < sequence < before."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        rows = conn.execute(
            "SELECT sequence FROM events WHERE namespace = %s AND sequence > %s "
            "AND sequence < %s ORDER BY sequence",
            (NAMESPACE, after, before),
        ).fetchall()
    return [int(row[0]) for row in rows]


def check_order(reports: list[OrderReport], url: str) -> dict[str, Any]:
    """Every subscriber got every event of the log once, in log order, and all the same."""
    errors: list[str] = []
    for number, report in enumerate(reports, 1):
        errors.extend(f"subscriber {number}: {e}" for e in report.errors)
        if report.duplicates_dropped:
            errors.append(
                f"subscriber {number}: the SDK dropped {report.duplicates_dropped} duplicates"
            )
        if report.reconnects:
            errors.append(f"subscriber {number}: {report.reconnects} reconnects")
    starts = sorted({r.start_sequence for r in reports})
    ends = sorted({r.end_sequence for r in reports if r.end_sequence})
    if len(starts) != 1:
        errors.append(f"subscribers started at different sequences: {starts}")
    if len(ends) > 1:
        errors.append(f"subscribers got the end marker at different sequences: {ends}")
    logged: list[int] = []
    if ends:
        logged = _logged_sequences(url, min(starts), ends[0])
    for number, report in enumerate(reports, 1):
        sequences = [e[0] for e in report.events]
        if sequences == logged:
            continue
        received = set(sequences)
        missing = [s for s in logged if s not in received]
        repeated = len(sequences) - len(received)
        disorder = sum(b <= a for a, b in itertools.pairwise(sequences))
        errors.append(
            f"subscriber {number} ({report.target}): {len(sequences)} events, the log has "
            f"{len(logged)}: {len(missing)} missing (first {missing[:5]}), {repeated} "
            f"repeated, {disorder} out of order"
        )
    first = reports[0].events
    same = all(r.events == first for r in reports[1:])
    if not same:
        diff = next(
            (
                i
                for i, pair in enumerate(zip(*(r.events for r in reports), strict=False))
                if len(set(pair)) > 1
            ),
            min(len(r.events) for r in reports),
        )
        errors.append(
            f"the subscribers' sequences differ, first at position {diff}: "
            + "; ".join(f"{r.events[diff : diff + 1]}" for r in reports)
        )
    return {
        "subscribers": len(reports),
        "start_sequence": starts[0] if starts else -1,
        "end_sequence": ends[0] if ends else 0,
        "events_logged": len(logged),
        "events_received": [len(r.events) for r in reports],
        "same_sequences": same,
        "agreed": same and not errors,
        "errors": errors[:20] + ([f"... {len(errors) - 20} more"] if len(errors) > 20 else []),
    }


def _send_end_marker(target: str) -> None:
    from statehouse.client import Client

    with Client.connect(target) as client:
        client.create_execution(namespace=NAMESPACE, flow_id=SENTINEL_FLOW)


def run_pg_workload(
    replicas: list[ServerProcess],
    url: str,
    database_cpu: ProcessTreeCPU,
    sizes: Sizes,
    processes: int,
) -> dict[str, Any]:
    """The transitions workload, each client process's workers split over the replicas,
    with a subscriber on every replica from before the create phase to an end marker."""
    targets = [f"127.0.0.1:{r.port}" for r in replicas]
    n = len(replicas)
    spec = ClientSpec(
        kind="statehouse",
        target=targets[0],
        extra_targets=tuple(targets[1:]),
        concurrency=sizes.concurrency // processes,
        phases=("create", "transition"),
        max_ops=sizes.pg_transitions // processes,
        seconds={"create": sizes.create_seconds, "transition": sizes.pg_transition_seconds},
        task_runs_per_execution=sizes.task_runs_per_execution,
        tag=f"pg{n}",
    )
    with ClientGroup(spec, processes, replicas) as group, OrderCheck(targets) as check:
        group.wait_ready()
        check.get("ready", 60)
        creates = group.go_and_wait("postgresql create", replicas, sizes.create_seconds)
        group.wait_ready()
        db0 = database_cpu.cpu_seconds()
        t0 = time.monotonic()
        transitions = group.go_and_wait(
            "postgresql transition", replicas, sizes.pg_transition_seconds
        )
        database_cpu_pct = 100 * (database_cpu.cpu_seconds() - db0) / (time.monotonic() - t0)
        _send_end_marker(targets[0])
        drain = threading.Timer(20, check.stop.set)
        drain.start()
        try:
            reports: list[OrderReport] = check.get("done", 40)
        finally:
            drain.cancel()
    order = check_order(reports, url)
    per_replica = f" ({spec.concurrency // n} per replica)" if n > 1 else ""
    progress(
        f"postgresql, {n} replica(s), {processes} client process(es) x {spec.concurrency} in "
        f"flight{per_replica}: {creates.rate:,.0f} creates/s, {transitions.rate:,.0f} "
        f"transitions/s ({transitions.ops} in {transitions.seconds:.1f} s, "
        f"{transitions.errors} errors, client CPU {transitions.client_cpu_pct:.0f}%, "
        f"servers CPU {transitions.server_cpu_pct:.0f}%, database CPU "
        f"{database_cpu_pct:.0f}%)"
    )
    progress(
        f"  subscribers on {n} replica(s): "
        + (
            f"each received all {order['events_logged']} events of the log once, in the same order"
            if order["agreed"]
            else f"{len(order['errors'])} ERRORS"
        )
    )
    for summary in (creates, transitions):
        if summary.errors:
            progress(f"  {summary.name}: first error: {summary.first_error}")
    for error in order["errors"]:
        progress(f"  ERROR: {error}")
    return {
        "replicas": n,
        "processes": processes,
        "concurrency": spec.concurrency * processes,
        "creates_per_s": creates.rate,
        "transitions_per_s": transitions.rate,
        "database_cpu_pct": round(database_cpu_pct, 1),
        "create": asdict(creates),
        "transition": asdict(transitions),
        "order": order,
    }


def run_postgres(
    python: str,
    server_src: Path | None,
    tmp: Path,
    sizes: Sizes,
    processes: int,
    sqlite: PhaseSummary,
) -> dict[str, Any]:
    """1 Statehouse replica on a throwaway PostgreSQL cluster, then 2 on the same database."""
    result: dict[str, Any] = {
        "skipped": "",
        "error": "",
        "sqlite_transitions_per_s": sqlite.rate,
        "sqlite_transition": asdict(sqlite),
        "one_replica": None,
        "two_replicas": None,
    }
    try:
        import psycopg  # noqa: F401

        pgcluster = _load_pgcluster()
    except ImportError as exc:
        result["skipped"] = f"{exc} (pip install 'statehouse[postgres]'; tests/pgcluster.py)"
    else:
        if pgcluster.find_bin_dir() is None:
            result["skipped"] = "PostgreSQL binaries not found (apt-get install -y postgresql-15)"
    if result["skipped"]:
        progress(f"postgresql: SKIPPED: {result['skipped']}")
        return result
    cluster: Any = None
    replicas: list[ServerProcess] = []
    try:
        progress("postgresql: starting a throwaway cluster")
        with _signals_deferred():  # raises only once ``cluster`` is set: stopped below
            cluster = start_pg_cluster(pgcluster)
        url = cluster.create_database()
        result["version"] = _pg_version(url)
        result["settings"] = "fsync=off, full_page_writes=off, as in the tests"
        postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
        database_cpu = ProcessTreeCPU(postmaster)
        for number in (1, 2):
            replica = ServerProcess(
                f"statehouse (postgresql replica {number})",
                [
                    python,
                    "-m",
                    "statehouse.server.app",
                    "--address",
                    "127.0.0.1:0",
                    "--database",
                    url,
                ],
                r"statehouse serving on 127\.0\.0\.1:(\d+)",
                tmp / f"statehouse-pg-{number}.log",
                pythonpath=str(server_src.resolve()) if server_src else None,
            )
            replicas.append(replica)
            port = replica.start(60)
            progress(f"postgresql: replica {number} on 127.0.0.1:{port} ({result['version']})")
            key = "one_replica" if number == 1 else "two_replicas"
            result[key] = run_pg_workload(replicas, url, database_cpu, sizes, processes)
    except Exception:
        result["error"] = traceback.format_exc()
        progress("postgresql phase failed:\n" + result["error"])
        for replica in replicas:
            progress(f"last lines of the {replica.name} log:\n{replica.tail()}")
    finally:
        for replica in replicas:
            with contextlib.suppress(Exception):
                replica.stop()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.stop()
    return result


def _pg_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def postgres_ok(pg: dict[str, Any] | None) -> bool:
    if not pg or pg["skipped"]:
        return True
    if pg["error"]:
        return False
    return all(
        not run["transition"]["errors"] and not run["create"]["errors"] and run["order"]["agreed"]
        for run in (pg["one_replica"], pg["two_replicas"])
        if run is not None
    )


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
        f"git {env['git']}, server from {env['server_source']}\n"
        f"load average (1/5/15 min) at start {env['loadavg_start']}, at end "
        f"{env.get('loadavg_end', '?')}: other processes on the machine skew every figure"
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
    if results.get("security"):
        import security

        out.append(security.render(results["security"]))
    rows = []
    for e in results["events"]:
        limit = f" (limit {e['writer_rate_limit']:,.0f}/s)" if e["writer_rate_limit"] else ""
        sdk = "n/a"
        if e["duplicates_dropped"] is not None or e["reconnects"] is not None:
            sdk = f"{e['duplicates_dropped'] or 0}/{e['reconnects'] or 0}"
        rows.append(
            [
                str(e["subscribers"]),
                str(e["processes"]),
                str(e["channels"]),
                f"{e['transitions']} @ {e['writer_rate']:,.0f}/s{limit}",
                str(e["events_per_subscriber"]),
                str(e["deliveries"]),
                f"{e['seconds']:.1f}",
                f"{e['deliveries_per_s']:,.0f}",
                f"{e['p50_ms']:.1f}",
                f"{e['p99_ms']:.1f}",
                f"{e['max_ms']:.1f}",
                f"{e['client_cpu_pct']:.0f}%",
                f"{e['server_cpu_pct']:.0f}%",
                sdk,
                "none" if not e["errors"] else f"{len(e['errors'])} ERRORS",
            ]
        )
    out.append(
        "\nEvents (subscribe from_latest, subscribers in their own processes, writer in "
        "another;\nlatency = receipt - event.time; events/s = deliveries to all subscribers):"
    )
    out.append(
        _table(
            rows,
            [
                "subs",
                "procs",
                "channels",
                "writer transitions",
                "events/sub",
                "deliveries",
                "secs",
                "events/s",
                "p50 ms",
                "p99 ms",
                "max ms",
                "client CPU",
                "server CPU",
                "dups/reconn",
                "loss/order",
            ],
        )
    )
    pg = results.get("postgresql")
    if pg:
        out.append(_render_postgres(pg))
    idle = results.get("idle")
    if idle:
        out.append(
            f"\nIdle streams (subscribe from_latest, no heartbeats, opened in a burst; "
            f"a fresh server of their own):\n"
            f"  {idle['streams']:,} streams on {idle['channels']} connections, all established "
            f"in {idle['established_seconds']:.1f} s ({idle['marker_events']} marker events)\n"
            f"  server RSS: {idle['rss_before_kb'] / 1024:,.1f} MB before, "
            f"{idle['rss_connected_kb'] / 1024:,.1f} MB with the connections, "
            f"{idle['rss_after_kb'] / 1024:,.1f} MB with the streams\n"
            f"  per idle stream: {idle['kb_per_stream']:.1f} KB "
            f"({idle['kb_per_stream_without_connections']:.1f} KB without its share of the "
            f"connections; {idle['kb_per_connection']:.0f} KB per connection)\n"
            f"  cancelled or failed: "
            + ("none" if not idle["errors"] else "; ".join(idle["errors"][:5]))
        )
    metrics = results.get("metrics")
    if metrics:
        r = metrics["record"]
        out.append(
            f"\nMetrics\n  RecordMetrics: {r['metrics_per_s']:,.0f} metrics/s "
            f"({r['calls']} calls of {r['entries_per_call']} entries, {r['in_flight']} in "
            f"flight, on {r['task_runs']} running task runs, every entry a new metric; "
            f"{r['seconds']:.1f} s)\n"
            f"    per call p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; server CPU "
            f"{r['server_cpu_pct']:.0f}%; errors {r['errors']}"
            + (f" (first: {r['first_error']})" if r["errors"] else "")
        )
        load = metrics["load"]
        out.append(
            f"  stored for aggregation: {load['metrics']:,} metrics ({load['tag_rows']:,} tag "
            f"rows) in {load['seconds']:.1f} s, {load['note']}"
            + (f"; day from {load['day_start']}" if load["day_start"] else "")
        )
        rows = []
        for a in metrics["aggregate"]:
            rows.append(
                [
                    a["group_by_tag"] or "(none)",
                    str(a["calls"]),
                    f"{a['series']} x {a['buckets']}",
                    f"{a['metrics_counted']:,}",
                    f"{a['p50_ms']:,.1f}",
                    f"{a['p99_ms']:,.1f}",
                    f"{a['max_ms']:,.1f}",
                    f"{a['server_cpu_pct']:.0f}%",
                    "none" if not a["errors"] else "; ".join(a["errors"]),
                ]
            )
        out.append(
            f"  AggregateMetrics over {load['metrics']:,} metrics, hour buckets over one day "
            f"(one call at a time, after one warm-up call):"
        )
        table = _table(
            rows,
            [
                "group_by_tag",
                "calls",
                "series x buckets",
                "metrics counted",
                "p50 ms",
                "p99 ms",
                "max ms",
                "server CPU",
                "errors",
            ],
        )
        out.append("\n".join("    " + line for line in table.splitlines()))
    if results.get("hostile"):
        import hostile

        out.append(hostile.render(results["hostile"]))
    return "\n".join(out)


def _render_postgres(pg: dict[str, Any]) -> str:
    if pg["skipped"]:
        return f"\nPostgreSQL: skipped ({pg['skipped']})"
    out = [
        f"\n{pg.get('version', 'PostgreSQL')}: a throwaway cluster on 127.0.0.1 "
        f"({pg.get('settings', '?')}); SQLite's transitions of this run beside it.\n"
        "Each client process's workers are split evenly over the replicas; a subscriber "
        "(from_latest) on every\nreplica from before the creates to an end marker, checked "
        "against the event log (every event once,\nin log order, the same on all replicas):"
    ]

    def row(database: str, replicas: int, t: dict[str, Any], creates: str) -> list[str]:
        return [
            database,
            str(replicas),
            f"{t['processes']}x{t['concurrency'] // t['processes']}",
            creates,
            f"{t['rate']:,.0f}",
            str(t["ops"]),
            f"{t['seconds']:.1f}",
            f"{t['p50_ms']:.2f}",
            f"{t['p99_ms']:.2f}",
            f"{t['client_cpu_pct']:.0f}%",
            f"{t['server_cpu_pct']:.0f}%",
        ]

    sqlite = pg["sqlite_transition"]
    rows = [
        [
            *row("sqlite" + (" (profiled)" if pg.get("sqlite_profiled") else ""), 1, sqlite, ""),
            "",
            str(sqlite["errors"]),
            "",
        ]
    ]
    for key in ("one_replica", "two_replicas"):
        run = pg.get(key)
        if not run:
            continue
        order = run["order"]
        rows.append(
            [
                *row(
                    "postgresql", run["replicas"], run["transition"], f"{run['creates_per_s']:,.0f}"
                ),
                f"{run['database_cpu_pct']:.0f}%",
                str(run["transition"]["errors"] + run["create"]["errors"]),
                (
                    f"{order['subscribers']} agree, {order['events_logged']} events"
                    if order["agreed"]
                    else f"{len(order['errors'])} ERRORS"
                ),
            ]
        )
    out.extend(
        line.rstrip()
        for line in _table(
            rows,
            [
                "database",
                "replicas",
                "clients",
                "creates/s",
                "transitions/s",
                "count",
                "secs",
                "p50 ms",
                "p99 ms",
                "client CPU",
                "servers CPU",
                "db CPU",
                "errors",
                "subscribers",
            ],
        ).splitlines()
    )
    one, two = pg.get("one_replica"), pg.get("two_replicas")
    if one and two and one["transitions_per_s"]:
        out.append(
            f"  2 replicas / 1 replica: {two['transitions_per_s'] / one['transitions_per_s']:.2f}"
            f"; 1 replica / SQLite: "
            f"{one['transitions_per_s'] / max(pg['sqlite_transitions_per_s'], 1e-9):.2f}"
        )
    for key in ("one_replica", "two_replicas"):
        run = pg.get(key)
        if run:
            for error in run["order"]["errors"][:5]:
                out.append(f"  ERROR ({key}): {error}")
    if pg["error"]:
        out.append("  ERROR: the phase failed: " + pg["error"].strip().splitlines()[-1])
    return "\n".join(out)


def _client_bound(summary: PhaseSummary) -> str:
    per_process = summary.client_cpu_pct / summary.processes
    return f"CPU {per_process:.0f}% per process" + (", client-bound" if per_process >= 85 else "")


# -- main --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Statehouse vs a plain grpc.aio echo server.")
    parser.add_argument("--quick", action="store_true", help="a short run (under 50 s)")
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
        "--subscribers",
        default="1,100,1000",
        help="subscriber counts for the events phase (default 1,100,1000)",
    )
    parser.add_argument(
        "--sub-channels",
        type=int,
        default=0,
        help="channels the subscribers share (default 0: one per subscriber up to 100 "
        f"subscribers, above that one per {STREAMS_PER_CHANNEL} subscribers)",
    )
    parser.add_argument(
        "--sub-processes",
        type=int,
        default=0,
        help=f"subscriber processes (default 0: one per {SUBSCRIBERS_PER_PROCESS} subscribers)",
    )
    parser.add_argument(
        "--idle-streams",
        type=int,
        default=None,
        metavar="N",
        help="idle streams whose server memory to measure (default 5000, --quick 2000; 0 skips)",
    )
    parser.add_argument(
        "--metrics",
        type=int,
        default=None,
        metavar="N",
        help="stored metrics to aggregate over (default 1,000,000, --quick 100,000; 0 skips "
        "the metrics phase)",
    )
    parser.add_argument(
        "--metrics-load",
        choices=("auto", "rpc", "sqlite"),
        default="auto",
        help="how to store them: through RecordMetrics, or written into the stopped server's "
        "SQLite file (default auto: RecordMetrics if that takes under ~90 s at the measured "
        "rate)",
    )
    parser.add_argument(
        "--no-postgres",
        action="store_true",
        help="skip the PostgreSQL phase (1, then 2 replicas on a throwaway cluster)",
    )
    parser.add_argument(
        "--no-hostile",
        action="store_true",
        help="skip the hostile-client phase (bench/hostile.py)",
    )
    parser.add_argument(
        "--no-security",
        action="store_true",
        help="skip the security phase (bench/security.py: transitions over TLS with token "
        "checks against plaintext without them)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes()
    overrides: dict[str, Any] = {"concurrency": args.concurrency}
    if args.idle_streams is not None:
        overrides["idle_streams"] = args.idle_streams
    if args.metrics is not None:
        overrides["metrics"] = args.metrics
    sizes = Sizes(**{**asdict(sizes), **overrides})
    # SIGTERM stops everything like Ctrl-C: servers, client processes, the PostgreSQL cluster.
    signal.signal(signal.SIGTERM, _terminated)
    processes = [int(x) for x in args.processes.split(",") if x]
    subscriber_counts = [int(x) for x in args.subscribers.split(",") if x]
    python = sys.executable
    tmp = Path(tempfile.mkdtemp(prefix="statehouse-bench-"))
    database_path = tmp / "statehouse.db"
    database = f"sqlite:///{database_path}"
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
    idle_server = ServerProcess(
        "statehouse (idle streams)",
        [
            python,
            "-m",
            "statehouse.server.app",
            "--address",
            "127.0.0.1:0",
            "--database",
            f"sqlite:///{tmp / 'idle.db'}",
        ],
        r"statehouse serving on 127\.0\.0\.1:(\d+)",
        tmp / "statehouse-idle.log",
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
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        },
        "sizes": asdict(sizes),
        "unary": [],
        "events": [],
        "idle": None,
        "metrics": None,
        "postgresql": None,
        "hostile": None,
        "security": None,
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
        if args.no_security:
            results["security"] = {"skipped": "--no-security"}
        else:
            import security

            results["security"] = security.run_phase(
                security.SecuritySizes.quick() if args.quick else security.SecuritySizes(),
                python,
                args.server_src,
                tmp,
                processes=processes[0],
                concurrency=sizes.concurrency,
            )
            ok = ok and results["security"]["ok"]
        if args.no_postgres:
            results["postgresql"] = {"skipped": "--no-postgres", "error": ""}
        else:
            # Beside the SQLite row with the same client processes (the first of --processes).
            results["postgresql"] = run_postgres(
                python,
                args.server_src,
                tmp,
                sizes,
                processes[0],
                transitions_by_procs[processes[0]],
            )
            results["postgresql"]["sqlite_profiled"] = profiler is not None
            ok = ok and postgres_ok(results["postgresql"])
        for count in subscriber_counts:
            if args.sub_channels > 0:
                channels = min(args.sub_channels, count)
            else:
                channels = count if count <= 100 else math.ceil(count / STREAMS_PER_CHANNEL)
            sub_processes = args.sub_processes or math.ceil(count / SUBSCRIBERS_PER_PROCESS)
            summary = run_events(
                statehouse_target, statehouse, sizes, count, channels, sub_processes
            )
            results["events"].append(asdict(summary))
            ok = ok and not summary.errors
        if sizes.idle_streams > 0:
            idle = run_idle(idle_server, sizes.idle_streams, sizes.idle_streams_per_channel)
            results["idle"] = asdict(idle)
            ok = ok and not idle.errors
        if sizes.metrics > 0:
            results["metrics"], metrics_ok = run_metrics(
                statehouse, database_path, sizes, args.metrics_load
            )
            ok = ok and metrics_ok
        if args.no_hostile:
            results["hostile"] = {"skipped": "--no-hostile"}
        else:
            import hostile

            results["hostile"] = hostile.run_phase(
                hostile.HostileSizes.quick() if args.quick else hostile.HostileSizes(),
                python,
                args.server_src,
                tmp,
            )
            ok = ok and results["hostile"]["ok"]
        if any(s["errors"] for s in results["unary"]):
            ok = False
        results["seconds"] = round(time.monotonic() - started, 1)
        results["environment"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
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
        for server in (statehouse, echo, idle_server):
            if server.proc is not None:
                progress(f"last lines of the {server.name} log:\n{server.tail()}")
        return 1
    finally:
        for server in (statehouse, echo, idle_server):
            with contextlib.suppress(Exception):
                server.stop()
        if args.profile and args.profile_out is None:
            progress(f"profile data kept in {tmp} (delete it when done)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


def _terminated(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


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
