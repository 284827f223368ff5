"""Client processes that drive a server: spawned processes, each one channel per
target (or ``connections`` of them) and N workers in flight, running phases in lockstep with the parent.

Two clients with the same workload: ``raw`` (the generated ``statehouse.v1``
stubs on ``grpc.aio``, what the echo baseline uses too) and ``sdk``
(``statehouse.client.AsyncClient``; TLS and tokens). Phases:

- ``echo``: TransitionTaskRun on the echo server (bench/echo_server.py);
- ``create``: executions and task runs for the transition phases that follow;
- ``transition``: task runs CREATED -> RUNNING -> SUCCESS, one RPC a change,
  from a pool shared by the workers (each phase continues in the pool);
- ``batch``: the same changes through TransitionTaskRuns, ``batch`` items a call.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import queue
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from .common import (
    NAMESPACE,
    SENTINEL_FLOW,
    Deadline,
    ServerProcess,
    pct,
    progress,
    run_loop,
)


@dataclass(frozen=True)
class Phase:
    kind: str  # echo, create, transition, batch
    concurrency: int
    max_ops: int = 0  # transitions (creates: derived from the phases that follow)
    seconds: float = 10.0
    rate: float = 0.0  # ops/s for the whole process (0: unpaced)
    batch: int = 0  # items per TransitionTaskRuns call
    label: str = ""
    #: The batch's TaskRunView: "" (FULL, the default) or "basic".
    view: str = ""


@dataclass(frozen=True)
class ClientSpec:
    """What a client process runs (picklable: it crosses to spawned processes)."""

    client: str  # "raw" or "sdk"
    targets: tuple[str, ...]
    phases: tuple[Phase, ...]
    task_runs_per_execution: int = 10
    tag: str = ""
    #: After the last transition phase, create an execution of flow SENTINEL_FLOW.
    sentinel: bool = False
    #: TLS: the CA that signed the server's certificate (PEM), and the name to check.
    tls_ca: str = ""
    tls_name: str = ""
    #: Sent as ``authorization: Bearer <token>`` on every call.
    token: str = ""
    #: The echo phase: the echo server answers with this serialized response.
    echo_task_run_id: str = "0" * 32
    #: Connections per target (raw client): with ``serve --processes N`` the
    #: kernel spreads connections, not calls, over the processes.
    connections: int = 1


@dataclass
class PhaseResult:
    """What one client process did in one phase."""

    ops: int = 0
    calls: int = 0
    creates: int = 0
    errors: int = 0
    first_error: str = ""
    start: float = 0.0
    end: float = 0.0
    cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)


def record_error(result: PhaseResult, exc: BaseException) -> None:
    result.errors += 1
    if not result.first_error:
        result.first_error = f"{type(exc).__name__}: {exc}"[:500]


class _Raw:
    """The generated stubs, one channel per target."""

    def __init__(self, spec: ClientSpec) -> None:
        import grpc

        from statehouse.v1 import execution_service_pb2 as es, execution_service_pb2_grpc

        self.es = es
        # Each channel its own connection (grpc shares one between channels of
        # equal arguments unless told otherwise).
        options = [("grpc.use_local_subchannel_pool", 1)] if spec.connections > 1 else []
        self.channels = [
            grpc.aio.insecure_channel(t, options=options)
            for _ in range(spec.connections)
            for t in spec.targets
        ]
        self.stubs = [execution_service_pb2_grpc.ExecutionServiceStub(c) for c in self.channels]

    async def ready(self) -> None:
        await asyncio.gather(*(asyncio.wait_for(c.channel_ready(), 10) for c in self.channels))

    async def create_execution(self, i: int, flow: str, tag: str) -> str:
        response = await self.stubs[i % len(self.stubs)].CreateExecution(
            self.es.CreateExecutionRequest(
                namespace=NAMESPACE, flow_id=flow, labels={"bench": tag}
            ),
            timeout=30,
        )
        return str(response.execution.id)

    async def create_task_run(self, i: int, execution_id: str, task_id: str) -> str:
        response = await self.stubs[i % len(self.stubs)].CreateTaskRun(
            self.es.CreateTaskRunRequest(execution_id=execution_id, task_id=task_id), timeout=30
        )
        return str(response.task_run.id)

    async def transition(self, i: int, task_run_id: str, state: int, worker: str) -> None:
        await self.stubs[i % len(self.stubs)].TransitionTaskRun(
            self.es.TransitionTaskRunRequest(
                task_run_id=task_run_id,
                state=state,  # type: ignore[arg-type]
                worker_id=worker,
            ),
            timeout=30,
        )

    async def batch(
        self, i: int, items: list[tuple[str, int, str]], view: str = ""
    ) -> tuple[int, str]:
        """(items that failed, the first item error)."""
        response = await self.stubs[i % len(self.stubs)].TransitionTaskRuns(
            self.es.TransitionTaskRunsRequest(
                requests=[
                    self.es.TransitionTaskRunRequest(task_run_id=t, state=s, worker_id=w)  # type: ignore[arg-type]
                    for t, s, w in items
                ],
                view=_VIEWS[view],  # type: ignore[arg-type]
            ),
            timeout=60,
        )
        failed = [r.error for r in response.results if r.WhichOneof("result") == "error"]
        return len(failed), (f"{failed[0].code}: {failed[0].message}" if failed else "")

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


class _Sdk:
    """statehouse.client.AsyncClient, one per target."""

    def __init__(self, spec: ClientSpec) -> None:
        import grpc

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
        self.clients = [AsyncClient.connect(t, **security) for t in spec.targets]

    async def ready(self) -> None:
        await asyncio.gather(*(c.wait_for_ready(10) for c in self.clients))

    async def create_execution(self, i: int, flow: str, tag: str) -> str:
        execution = await self.clients[i % len(self.clients)].create_execution(
            namespace=NAMESPACE, flow_id=flow, labels={"bench": tag}
        )
        return str(execution.id)

    async def create_task_run(self, i: int, execution_id: str, task_id: str) -> str:
        response = await self.clients[i % len(self.clients)].create_task_run(
            execution_id=execution_id, task_id=task_id
        )
        return str(response.task_run.id)

    async def transition(self, i: int, task_run_id: str, state: int, worker: str) -> None:
        await self.clients[i % len(self.clients)].transition_task_run(
            task_run_id, state=state, worker_id=worker
        )

    async def batch(
        self, i: int, items: list[tuple[str, int, str]], view: str = ""
    ) -> tuple[int, str]:
        results = await self.clients[i % len(self.clients)].transition_task_runs(
            [{"task_run_id": t, "state": s, "worker_id": w} for t, s, w in items],
            view=view or None,
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        return len(failed), (repr(failed[0]) if failed else "")

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


RUNNING, SUCCESS = 2, 4  # statehouse.v1.State


#: Phase.view -> TransitionTaskRunsRequest.view (statehouse.v1.TaskRunView's numbers).
_VIEWS = {"": 0, "basic": 1}


class _Pool:
    """Task runs created so far; each moves CREATED -> RUNNING -> SUCCESS once."""

    def __init__(self) -> None:
        self.fresh: list[str] = []
        self.next = 0

    def take(self) -> str | None:
        if self.next >= len(self.fresh):
            return None
        self.next += 1
        return self.fresh[self.next - 1]


async def _paced(phase: Phase, started: float, issued: list[int]) -> None:
    """With a rate: wait for this op's slot (slot n at start + n / rate)."""
    if phase.rate > 0:
        slot = issued[0]
        issued[0] += 1
        delay = started + slot / phase.rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def _echo(spec: ClientSpec, phase: Phase, raw: _Raw, result: PhaseResult) -> None:
    deadline = Deadline(phase.seconds)
    remaining = [phase.max_ops]

    async def worker(i: int) -> None:
        while remaining[0] > 0 and not deadline.passed():
            remaining[0] -= 1
            t0 = time.perf_counter()
            try:
                # The same message and stub a transition uses (the echo server answers
                # with a TransitionTaskRunResponse of the size Statehouse sends).
                await raw.transition(0, spec.echo_task_run_id, RUNNING, f"w{i}")
            except Exception as exc:
                record_error(result, exc)
                continue
            result.latencies.append(time.perf_counter() - t0)
            result.ops += 1
            result.calls += 1

    await asyncio.gather(*(worker(i) for i in range(phase.concurrency)))


async def _create(
    spec: ClientSpec, phase: Phase, client: Any, pool: _Pool, wanted: int, result: PhaseResult
) -> None:
    per = spec.task_runs_per_execution
    executions = math.ceil(wanted / per)
    deadline = Deadline(phase.seconds)
    counter = [0]

    async def worker(i: int) -> None:
        while counter[0] < executions and not deadline.passed():
            n = counter[0]
            counter[0] += 1
            t0 = time.perf_counter()
            try:
                execution_id = await client.create_execution(i, f"flow-{spec.tag}", spec.tag)
            except Exception as exc:
                record_error(result, exc)
                continue
            result.latencies.append(time.perf_counter() - t0)
            result.creates += 1
            for k in range(per):
                t0 = time.perf_counter()
                try:
                    task_run_id = await client.create_task_run(i, execution_id, f"task-{n}-{k}")
                except Exception as exc:
                    record_error(result, exc)
                    continue
                result.latencies.append(time.perf_counter() - t0)
                result.creates += 1
                pool.fresh.append(task_run_id)

    await asyncio.gather(*(worker(i) for i in range(phase.concurrency)))


async def _transition(phase: Phase, client: Any, pool: _Pool, result: PhaseResult) -> None:
    deadline = Deadline(phase.seconds)
    remaining = [phase.max_ops]
    started = time.monotonic()
    issued = [0]

    async def worker(i: int) -> None:
        while remaining[0] > 0 and not deadline.passed():
            task_run = pool.take()
            if task_run is None:
                return
            for state in (RUNNING, SUCCESS):
                if remaining[0] <= 0 or deadline.passed():
                    return
                remaining[0] -= 1
                await _paced(phase, started, issued)
                t0 = time.perf_counter()
                try:
                    await client.transition(i, task_run, state, f"w{i}")
                except Exception as exc:
                    record_error(result, exc)
                    break  # on to the next task run
                result.latencies.append(time.perf_counter() - t0)
                result.ops += 1
                result.calls += 1

    await asyncio.gather(*(worker(i) for i in range(phase.concurrency)))


async def _batch(phase: Phase, client: Any, pool: _Pool, result: PhaseResult) -> None:
    """Chunks of ``batch`` task runs: one call moves them to RUNNING, the next to SUCCESS."""
    deadline = Deadline(phase.seconds)
    remaining = [phase.max_ops]

    async def worker(i: int) -> None:
        while remaining[0] > 0 and not deadline.passed():
            chunk = [t for t in (pool.take() for _ in range(phase.batch)) if t]
            if not chunk:
                return
            for state in (RUNNING, SUCCESS):
                if remaining[0] <= 0 or deadline.passed():
                    return
                remaining[0] -= len(chunk)
                t0 = time.perf_counter()
                try:
                    failed, first = await client.batch(
                        i, [(t, state, f"w{i}") for t in chunk], phase.view
                    )
                except Exception as exc:
                    record_error(result, exc)
                    break
                result.latencies.append(time.perf_counter() - t0)
                result.calls += 1
                result.ops += len(chunk) - failed
                if failed:
                    result.errors += failed
                    result.first_error = result.first_error or first

    await asyncio.gather(*(worker(i) for i in range(phase.concurrency)))


async def _client_async(spec: ClientSpec, index: int, go: list[Any], out: Any) -> None:
    loop = asyncio.get_running_loop()
    client: Any = _Raw(spec) if spec.client == "raw" else _Sdk(spec)
    try:
        await client.ready()
        if any(p.kind == "echo" for p in spec.phases):  # warm the connection and code paths
            warm = PhaseResult()
            await _echo(spec, Phase("echo", 16, max_ops=400, seconds=5), client, warm)
        pool = _Pool()
        last_transition = max(
            (n for n, p in enumerate(spec.phases) if p.kind in ("transition", "batch")), default=-1
        )
        for number, phase in enumerate(spec.phases):
            out.put(("ready", index, number, None))
            await loop.run_in_executor(None, go[number].wait)
            result = PhaseResult()
            cpu0 = time.process_time()
            result.start = time.time()
            if phase.kind == "echo":
                await _echo(spec, phase, client, result)
            elif phase.kind == "create":
                later = sum(p.max_ops for p in spec.phases[number + 1 :] if p.kind != "create")
                # Each task run makes two changes; a few spare for errors.
                await _create(spec, phase, client, pool, math.ceil(later / 2) + 8, result)
            elif phase.kind == "transition":
                await _transition(phase, client, pool, result)
            elif phase.kind == "batch":
                await _batch(phase, client, pool, result)
            else:
                raise ValueError(phase.kind)
            result.end = time.time()
            result.cpu = time.process_time() - cpu0
            if spec.sentinel and number == last_transition:
                # Tells subscribers that the writer is done (their stop signal, not counted).
                await client.create_execution(0, SENTINEL_FLOW, spec.tag)
            out.put(("done", index, number, result))
    finally:
        await client.close()


def client_process_main(spec: ClientSpec, index: int, go: list[Any], out: Any) -> None:
    """Entry point of a spawned client process."""
    try:
        run_loop(_client_async(spec, index, go, out))
    except KeyboardInterrupt:
        pass
    except BaseException:
        out.put(("error", index, -1, traceback.format_exc()))


@dataclass
class PhaseSummary:
    """One phase, all client processes together."""

    name: str
    client: str
    processes: int
    concurrency: int
    batch: int
    ops: int
    calls: int
    creates: int
    errors: int
    seconds: float
    rate: float
    calls_per_s: float
    p50_ms: float
    p99_ms: float
    client_cpu_pct: float
    server_cpu_pct: float
    first_error: str = ""
    cost: dict[str, Any] | None = None
    #: A batch phase's TaskRunView ("" for FULL).
    view: str = ""


class ClientGroup:
    """N spawned client processes that run the same phases in lockstep."""

    def __init__(self, spec: ClientSpec, processes: int = 1) -> None:
        self.ctx = mp.get_context("spawn")
        self.spec = spec
        self.out = self.ctx.Queue()
        self.go = [self.ctx.Event() for _ in spec.phases]
        self.procs = [
            self.ctx.Process(
                target=client_process_main,
                args=(spec, i, self.go, self.out),
                name=f"bench-client-{spec.client}-{i}",
                daemon=True,
            )
            for i in range(processes)
        ]
        self.phase_index = 0
        self.early: list[Any] = []
        #: Every process's result of the last phase.
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

    def _collect(self, kind: str, number: int, timeout: float) -> list[Any]:
        """One ``kind`` message from every process for phase ``number``."""
        items: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(items) < len(self.procs):
            early = [m for m in self.early if m[0] == kind and m[2] == number]
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
            if message[0] != kind or message[2] != number:
                self.early.append(message)  # a fast process, already at the next step
                continue
            items.append(message[3])
        return items

    def run_phase(self, name: str, servers: list[ServerProcess], meter: Any = None) -> PhaseSummary:
        """Wait until every process is ready, run the next phase, summarize it; with a
        ``CostMeter``, the servers' cost per state change of the phase too."""
        number = self.phase_index
        phase = self.spec.phases[number]
        self._collect("ready", number, 120)
        if meter is not None:
            meter.start()
        cpu0 = sum(s.cpu_seconds() for s in servers)
        wall0 = time.monotonic()
        self.go[number].set()
        self.phase_index += 1
        results: list[PhaseResult] = self._collect("done", number, phase.seconds + 90)
        self.last_results = results
        wall = time.monotonic() - wall0
        server_cpu = sum(s.cpu_seconds() for s in servers) - cpu0
        start = min(r.start for r in results)
        end = max(r.end for r in results)
        seconds = max(end - start, 1e-9)
        latencies = sorted(x for r in results for x in r.latencies)
        ops = sum(r.ops for r in results)
        creates = sum(r.creates for r in results)
        calls = sum(r.calls for r in results)
        counted = creates if phase.kind == "create" else ops
        summary = PhaseSummary(
            name=name,
            client=self.spec.client,
            processes=len(self.procs),
            concurrency=phase.concurrency * len(self.procs),
            batch=phase.batch,
            ops=ops,
            calls=calls,
            creates=creates,
            errors=sum(r.errors for r in results),
            seconds=round(seconds, 3),
            rate=round(counted / seconds, 1),
            calls_per_s=round(calls / seconds, 1),
            p50_ms=round(pct(latencies, 0.50) * 1000, 2),
            p99_ms=round(pct(latencies, 0.99) * 1000, 2),
            client_cpu_pct=round(100 * sum(r.cpu for r in results) / seconds, 1),
            server_cpu_pct=round(100 * server_cpu / max(wall, 1e-9), 1),
            first_error=next((r.first_error for r in results if r.first_error), ""),
            view=phase.view,
        )
        if meter is not None:
            summary.cost = meter.stop(ops).per_change()
        line = (
            f"{name}: {summary.rate:,.0f}/s ({counted} in {summary.seconds:.1f} s, "
            f"{summary.concurrency} in flight, p50 {summary.p50_ms:.1f} ms, p99 "
            f"{summary.p99_ms:.1f} ms, client CPU {summary.client_cpu_pct:.0f}%, server CPU "
            f"{summary.server_cpu_pct:.0f}%, {summary.errors} errors)"
        )
        if summary.cost and summary.cost.get("state_changes"):
            c = summary.cost
            line += (
                f"; per change {c['statements_per_change']} statements, "
                f"{c['commits_per_change']} commits, {c['server_cpu_us_per_change']:.0f} us "
                "server CPU"
            )
            by_thread = c.get("server_cpu_us_per_change_by_thread")
            if by_thread:
                line += " (" + ", ".join(f"{k} {v:.0f}" for k, v in by_thread.items()) + ")"
        progress(line)
        if summary.errors:
            progress(f"  {name}: first error: {summary.first_error}")
        return summary
