"""GetExecution latency of a normal client beside a hostile one, against the same run without it.

One Statehouse server (a subprocess on 127.0.0.1, port 0, on a fresh temporary
SQLite file: WAL, ``synchronous=NORMAL``, the server's defaults) and, in
processes of their own, one normal and one hostile client, each on one
grpc.aio channel with the raw generated stubs:

- setup (this process): executions with labels (``MAX_LABEL_FILTERS`` of them
  shared by all, for the label filters below), a few task runs each (RUNNING,
  most then SUCCESS with outputs), counters recorded on the running ones, and a
  pool of RUNNING task runs in executions of their own for the hostile client;
- run 1, baseline: the normal client alone, GetExecution (FULL view) of random
  setup executions, one call in flight, for a fixed time;
- run 2, hostile: the same, while the hostile client (``in_flight`` calls)
  loops over the heaviest requests the limits allow, as fast as the server
  answers them: CreateExecution with inputs of close to ``MAX_PAYLOAD_VALUES``
  values and ``MAX_PAYLOAD_BYTES`` of JSON and ``MAX_LABELS`` labels of the
  longest keys and values; TransitionTaskRun of a RUNNING task run to SUCCESS
  with outputs of the same size; ListExecutions (``MAX_PAGE_SIZE``, FULL) with
  ``MAX_LABEL_FILTERS`` matching label filters, and with no filter at all;
  AggregateMetrics over ``MAX_BUCKETS`` minute buckets, without and with
  ``group_by_tag``.

Reported: the normal client's calls and latency (p50, p90, p99, max; every
call's, failed ones included) of both runs and the ratio of their p99s (target:
within 2x), the hostile requests per kind with their status codes (UNKNOWN,
INTERNAL or UNAVAILABLE is an error; INVALID_ARGUMENT is a request the server
found over a limit), the server's CPU seconds during each measured window and
its peak RSS. The limits are the constants of ``statehouse.server.limits``
(never literals), read from the working tree.

Every loop is bounded in count and in time; a watchdog stops the hostile client
early if the server's RSS passes a cap (reported as an error). Processes are
stopped at the end, also on errors and Ctrl-C.

Standalone: ``cd bench && ../.venv/bin/python -m statehouse_bench.hostile [--quick] [--json PATH]``;
``make bench`` runs it as its last phase (``bench/run.py --no-hostile`` skips it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import queue
import random
import shutil
import signal
import string
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from statehouse.server import limits

from .common import (
    ServerProcess,
    journal_mode as _journal_mode,
    latency_summary as _latency_summary,
    proc_status_kb as _proc_status,
    progress,
    run_loop,
    server_synchronous as _server_synchronous,
    statehouse_server,
    table,
    terminated as _terminated,
)

NAMESPACE = "bench-hostile"
METRIC_NAME = "hostile.rows"
METRIC_TAG = "worker"
METRIC_TAG_VALUES = 10
KINDS = (
    "create",
    "transition",
    "list_filtered",
    "list_all",
    "aggregate",
    "aggregate_by_tag",
)
KIND_DESCRIPTIONS = {
    "create": "CreateExecution, heavy inputs and labels",
    "transition": "TransitionTaskRun RUNNING -> SUCCESS, heavy outputs",
    "list_filtered": "ListExecutions FULL, max page, max label filters",
    "list_all": "ListExecutions FULL, max page, no filter",
    "aggregate": "AggregateMetrics, max minute buckets",
    "aggregate_by_tag": "AggregateMetrics, max minute buckets, group_by_tag",
}
#: Status codes of a hostile request that are errors of the server (not refusals).
ERROR_CODES = frozenset({"UNKNOWN", "INTERNAL", "UNAVAILABLE", "DATA_LOSS"})
TARGET_RATIO = 2.0
DURABILITY = "SQLite, WAL journal, synchronous=NORMAL (the server's default)"
#: Task runs per execution of the hostile client's pool of RUNNING task runs.
POOL_TASK_RUNS_PER_EXECUTION = 10


# -- sizes ------------------------------------------------------------------------


@dataclass(frozen=True)
class HostileSizes:
    """How much the phase does: counts and times, whichever bound comes first."""

    #: The normal client's measured window in each run.
    seconds: float = 10.0
    #: The normal client's calls per run, at most.
    max_calls: int = 200_000
    executions: int = 200
    task_runs_min: int = 3
    task_runs_max: int = 5
    metrics: int = 20_000
    #: RUNNING task runs prepared for the hostile TransitionTaskRun calls (refilled if used up).
    pool_task_runs: int = 400
    in_flight: int = 4
    #: Hostile requests per kind, at most.
    max_per_kind: int = 100_000
    #: The hostile client runs this long before the normal client's window opens.
    ramp_seconds: float = 1.0
    call_timeout: float = 60.0
    normal_timeout: float = 30.0
    #: After the window, in-flight hostile calls get this long before they are cancelled.
    stop_grace: float = 20.0
    setup_seconds: float = 180.0

    @classmethod
    def quick(cls) -> HostileSizes:
        return cls(seconds=4.0, executions=100, metrics=5_000, pool_task_runs=160, ramp_seconds=0.5)


def channel_options() -> list[tuple[str, int]]:
    """Message sizes as large as the limits allow, so that the server decides."""
    return [
        ("grpc.max_receive_message_length", limits.MAX_RESPONSE_BYTES),
        ("grpc.max_send_message_length", limits.max_request_bytes(limits.MAX_PAYLOAD_BYTES)),
    ]


# -- the heaviest documents the limits allow ------------------------------------------


def compact_json_bytes(value: Any) -> int:
    """A payload's size as the limits count it: compact UTF-8 JSON."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def heavy_payload(seed: int = 7) -> tuple[dict[str, str], int, int]:
    """(document, values, JSON bytes): one object of string members, within 1% of
    ``MAX_PAYLOAD_VALUES`` values (counted as the limits count them: each object
    member and list item once; here the members) and within 1% of
    ``MAX_PAYLOAD_BYTES`` bytes of compact JSON, and under both."""
    members = limits.MAX_PAYLOAD_VALUES - max(1, limits.MAX_PAYLOAD_VALUES // 100)
    target = limits.MAX_PAYLOAD_BYTES - limits.MAX_PAYLOAD_BYTES // 200
    width = len(str(members - 1))
    key_length = 1 + width
    # {"k0000":"...",...}: each member is its quoted key, a colon and its quoted value;
    # members - 1 commas and two braces.
    value_length = (target - 2 - (members - 1)) // members - (key_length + 5)
    value_length = max(1, value_length)
    rng = random.Random(seed)
    spread = 997
    text = "".join(rng.choices(string.ascii_letters + string.digits, k=value_length + spread))
    doc = {}
    for i in range(members):
        at = (i * 31) % spread
        doc[f"k{i:0{width}d}"] = text[at : at + value_length]
    size = compact_json_bytes(doc)
    if size > limits.MAX_PAYLOAD_BYTES or key_length > limits.MAX_PAYLOAD_KEY:
        raise RuntimeError(f"heavy payload of {size} bytes passes the limits")
    return doc, members, size


def heavy_labels() -> dict[str, str]:
    """``MAX_LABELS`` labels, keys and values of the longest lengths."""
    labels = {}
    for i in range(limits.MAX_LABELS):
        prefix = f"hostile.{i:03d}/"
        key = (prefix + "k" * limits.MAX_LABEL_KEY)[: limits.MAX_LABEL_KEY]
        labels[key] = "v" * limits.MAX_LABEL_VALUE
    return labels


def filter_labels() -> dict[str, str]:
    """``MAX_LABEL_FILTERS`` labels that every setup execution carries."""
    count = min(limits.MAX_LABEL_FILTERS, limits.MAX_LABELS - 2)
    return {f"hb.filter{i:02d}": f"on-{i}" for i in range(count)}


def _small_document(rng: random.Random, keys: int) -> dict[str, Any]:
    return {
        f"field_{i}": rng.choice(
            [rng.randint(0, 10**6), round(rng.random() * 1000, 3), f"value-{rng.random():.8f}"]
        )
        for i in range(keys)
    }


# -- setup ------------------------------------------------------------------------


@dataclass
class Setup:
    execution_ids: list[str]
    task_runs: int
    outputs: int
    metrics: int
    pool: list[str]
    #: AggregateMetrics range: MAX_BUCKETS minute buckets ending after the metrics.
    aggregate_start: int
    aggregate_end: int
    seconds: float


async def _setup(target: str, sizes: HostileSizes, seed: int) -> Setup:
    import grpc
    from google.protobuf import struct_pb2

    from statehouse.v1 import (
        execution_service_pb2 as es,
        execution_service_pb2_grpc,
        metric_pb2,
        metric_service_pb2 as ms,
        metric_service_pb2_grpc,
        state_pb2,
    )

    started = time.monotonic()
    deadline = started + sizes.setup_seconds
    rng = random.Random(seed)
    channel = grpc.aio.insecure_channel(target, options=channel_options())
    executions = execution_service_pb2_grpc.ExecutionServiceStub(channel)
    metrics = metric_service_pb2_grpc.MetricServiceStub(channel)
    execution_ids: list[str] = []
    metric_task_runs: list[str] = []
    pool: list[str] = []
    counts = {"task_runs": 0, "outputs": 0, "metrics": 0}
    shared = filter_labels()

    def check_time() -> None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"setup took more than {sizes.setup_seconds} s")

    def struct(doc: dict[str, Any]) -> struct_pb2.Struct:
        value = struct_pb2.Struct()
        value.update(doc)
        return value

    async def task_run(execution_id: str, task_id: str) -> str:
        created = await executions.CreateTaskRun(
            es.CreateTaskRunRequest(execution_id=execution_id, task_id=task_id), timeout=30
        )
        task_run_id = created.task_run.id
        await executions.TransitionTaskRun(
            es.TransitionTaskRunRequest(
                task_run_id=task_run_id, state=state_pb2.STATE_RUNNING, worker_id="setup"
            ),
            timeout=30,
        )
        counts["task_runs"] += 1
        return task_run_id

    async def one_execution(n: int) -> None:
        labels = dict(shared, shard=str(n % 8), team=f"team-{n % 3}")
        response = await executions.CreateExecution(
            es.CreateExecutionRequest(
                namespace=NAMESPACE,
                flow_id=f"flow-{n % 5}",
                labels=labels,
                inputs=struct(_small_document(rng, 12)),
            ),
            timeout=30,
        )
        execution_id = response.execution.id
        runs = rng.randint(sizes.task_runs_min, sizes.task_runs_max)
        for j in range(runs):
            check_time()
            task_run_id = await task_run(execution_id, f"task-{j}")
            if j == runs - 1:
                metric_task_runs.append(task_run_id)  # stays RUNNING: the metrics go there
                continue
            # Most outputs are small; one task run in ten has a larger one (~16 KB).
            keys = 400 if rng.random() < 0.1 else 25
            await executions.TransitionTaskRun(
                es.TransitionTaskRunRequest(
                    task_run_id=task_run_id,
                    state=state_pb2.STATE_SUCCESS,
                    outputs=struct(_small_document(rng, keys)),
                ),
                timeout=30,
            )
            counts["outputs"] += 1
        execution_ids.append(execution_id)

    async def pool_execution(n: int) -> None:
        response = await executions.CreateExecution(
            es.CreateExecutionRequest(namespace=NAMESPACE, flow_id="hostile-outputs"), timeout=30
        )
        for j in range(POOL_TASK_RUNS_PER_EXECUTION):
            check_time()
            pool.append(await task_run(response.execution.id, f"task-{n}-{j}"))

    async def workers(count: int, jobs: int, job: Callable[[int], Any]) -> None:
        next_job = [0]

        async def worker() -> None:
            while next_job[0] < jobs:
                check_time()
                n = next_job[0]
                next_job[0] += 1
                await job(n)

        await asyncio.gather(*(worker() for _ in range(count)))

    try:
        await asyncio.wait_for(channel.channel_ready(), 15)
        await workers(16, sizes.executions, one_execution)
        pool_executions = math.ceil(sizes.pool_task_runs / POOL_TASK_RUNS_PER_EXECUTION)
        await workers(8, pool_executions, pool_execution)
        per_call = min(limits.MAX_METRICS_PER_CALL, 1000)
        calls = math.ceil(sizes.metrics / per_call)

        async def record(n: int) -> None:
            entries = [
                metric_pb2.MetricEntry(
                    name=METRIC_NAME,
                    counter=float(rng.randint(1, 1000)),
                    tags={METRIC_TAG: f"w{j % METRIC_TAG_VALUES}", "n": str(n * per_call + j)},
                )
                for j in range(min(per_call, sizes.metrics - n * per_call))
            ]
            response = await metrics.RecordMetrics(
                ms.RecordMetricsRequest(
                    task_run_id=metric_task_runs[n % len(metric_task_runs)], metrics=entries
                ),
                timeout=60,
            )
            counts["metrics"] += response.recorded

        await workers(4, calls, record)
    finally:
        await channel.close()
    # The metrics carry the server's clock at recording: end the range at the next
    # minute boundary, start it MAX_BUCKETS minutes before.
    end = (int(time.time()) // 60 + 1) * 60
    return Setup(
        execution_ids=execution_ids,
        task_runs=counts["task_runs"],
        outputs=counts["outputs"],
        metrics=counts["metrics"],
        pool=pool,
        aggregate_start=end - 60 * limits.MAX_BUCKETS,
        aggregate_end=end,
        seconds=round(time.monotonic() - started, 1),
    )


# -- the normal client --------------------------------------------------------------


@dataclass(frozen=True)
class NormalSpec:
    target: str
    execution_ids: tuple[str, ...]
    seconds: float
    max_calls: int
    timeout: float
    seed: int
    warmup_calls: int = 20


async def _normal_async(spec: NormalSpec, go: Any, out: Any) -> None:
    import grpc

    from statehouse.v1 import execution_pb2, execution_service_pb2 as es, execution_service_pb2_grpc

    rng = random.Random(spec.seed)
    channel = grpc.aio.insecure_channel(spec.target, options=channel_options())
    stub = execution_service_pb2_grpc.ExecutionServiceStub(channel)
    request = es.GetExecutionRequest(view=execution_pb2.EXECUTION_VIEW_FULL)
    try:
        await asyncio.wait_for(channel.channel_ready(), 15)
        for _ in range(spec.warmup_calls):
            request.execution_id = rng.choice(spec.execution_ids)
            await stub.GetExecution(request, timeout=spec.timeout)
        out.put(("ready", "normal", None))
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, go.wait, 300):
            raise RuntimeError("no go in 300 s")
        latencies: list[float] = []
        codes: dict[str, int] = {}
        first_error = ""
        response_bytes = 0
        cpu0 = time.process_time()
        started = time.monotonic()
        deadline = started + spec.seconds
        while len(latencies) < spec.max_calls and time.monotonic() < deadline:
            request.execution_id = rng.choice(spec.execution_ids)
            t0 = time.perf_counter()
            try:
                response = await stub.GetExecution(request, timeout=spec.timeout)
                code = "OK"
            except grpc.aio.AioRpcError as exc:
                code = exc.code().name
                first_error = first_error or f"{code}: {(exc.details() or '')[:200]}"
            else:
                if not response_bytes:
                    response_bytes = response.ByteSize()
            latencies.append(time.perf_counter() - t0)
            codes[code] = codes.get(code, 0) + 1
        seconds = time.monotonic() - started
        out.put(
            (
                "done",
                "normal",
                {
                    "latencies": latencies,
                    "codes": codes,
                    "first_error": first_error,
                    "seconds": seconds,
                    "cpu": time.process_time() - cpu0,
                    "response_bytes": response_bytes,
                },
            )
        )
    finally:
        await channel.close()


def normal_process_main(spec: NormalSpec, go: Any, out: Any) -> None:
    """Entry point of the spawned normal client."""
    try:
        run_loop(_normal_async(spec, go, out))
    except KeyboardInterrupt:
        pass
    except BaseException:
        out.put(("error", "normal", traceback.format_exc()))


# -- the hostile client -------------------------------------------------------------


@dataclass(frozen=True)
class HostileSpec:
    target: str
    in_flight: int
    pool: tuple[str, ...]
    aggregate_start: int
    aggregate_end: int
    max_per_kind: int
    call_timeout: float
    stop_grace: float
    #: A bound of its own, should the parent never say stop.
    max_seconds: float


@dataclass
class KindStats:
    sent: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    #: Completed before the stop (the throughput counts these).
    in_window: int = 0
    cancelled: int = 0
    latencies: list[float] = field(default_factory=list)
    first_details: dict[str, str] = field(default_factory=dict)
    response_bytes: int = 0


async def _hostile_async(spec: HostileSpec, go: Any, stop: Any, out: Any) -> None:
    import grpc
    from google.protobuf import struct_pb2

    from statehouse.v1 import (
        execution_pb2,
        execution_service_pb2 as es,
        execution_service_pb2_grpc,
        metric_pb2,
        metric_service_pb2 as ms,
        metric_service_pb2_grpc,
        state_pb2,
    )

    doc, values, json_bytes = heavy_payload()
    payload = struct_pb2.Struct()
    payload.update(doc)
    del doc
    channel = grpc.aio.insecure_channel(spec.target, options=channel_options())
    executions = execution_service_pb2_grpc.ExecutionServiceStub(channel)
    metrics = metric_service_pb2_grpc.MetricServiceStub(channel)
    create = es.CreateExecutionRequest(
        namespace=NAMESPACE, flow_id="hostile-inputs", labels=heavy_labels(), inputs=payload
    )
    # One request per worker: a worker sets its task_run_id while no call of its own is in flight.
    transitions = [
        es.TransitionTaskRunRequest(
            state=state_pb2.STATE_SUCCESS, outputs=payload, worker_id="hostile"
        )
        for _ in range(spec.in_flight)
    ]
    list_filtered = es.ListExecutionsRequest(
        labels=filter_labels(),
        page_size=limits.MAX_PAGE_SIZE,
        view=execution_pb2.EXECUTION_VIEW_FULL,
    )
    list_all = es.ListExecutionsRequest(
        page_size=limits.MAX_PAGE_SIZE, view=execution_pb2.EXECUTION_VIEW_FULL
    )
    aggregate = ms.AggregateMetricsRequest(
        namespace=NAMESPACE,
        name=METRIC_NAME,
        type=metric_pb2.METRIC_TYPE_COUNTER,
        bucket_width=metric_pb2.METRIC_BUCKET_WIDTH_MINUTE,
    )
    aggregate.start_time.FromSeconds(spec.aggregate_start)
    aggregate.end_time.FromSeconds(spec.aggregate_end)
    aggregate_by_tag = ms.AggregateMetricsRequest()
    aggregate_by_tag.CopyFrom(aggregate)
    aggregate_by_tag.group_by_tag = METRIC_TAG
    stats = {kind: KindStats() for kind in KINDS}
    pool = list(spec.pool)
    prep: dict[str, Any] = {"calls": 0, "errors": 0, "first_error": ""}
    refill_lock = asyncio.Lock()
    stopped = asyncio.Event()
    window: dict[str, float] = {}

    async def refill() -> None:
        """More RUNNING task runs, when the prepared pool is used up (counted as prep)."""
        async with refill_lock:
            if pool:
                return
            prep["calls"] += 1
            response = await executions.CreateExecution(
                es.CreateExecutionRequest(namespace=NAMESPACE, flow_id="hostile-outputs"),
                timeout=spec.call_timeout,
            )
            for j in range(POOL_TASK_RUNS_PER_EXECUTION):
                created = await executions.CreateTaskRun(
                    es.CreateTaskRunRequest(execution_id=response.execution.id, task_id=f"t{j}"),
                    timeout=spec.call_timeout,
                )
                await executions.TransitionTaskRun(
                    es.TransitionTaskRunRequest(
                        task_run_id=created.task_run.id,
                        state=state_pb2.STATE_RUNNING,
                        worker_id="hostile",
                    ),
                    timeout=spec.call_timeout,
                )
                prep["calls"] += 2
                pool.append(created.task_run.id)

    def call(kind: str, worker: int) -> Any:
        if kind == "create":
            return executions.CreateExecution(create, timeout=spec.call_timeout)
        if kind == "transition":
            request = transitions[worker]
            request.task_run_id = pool.pop()
            return executions.TransitionTaskRun(request, timeout=spec.call_timeout)
        if kind == "list_filtered":
            return executions.ListExecutions(list_filtered, timeout=spec.call_timeout)
        if kind == "list_all":
            return executions.ListExecutions(list_all, timeout=spec.call_timeout)
        if kind == "aggregate":
            return metrics.AggregateMetrics(aggregate, timeout=spec.call_timeout)
        return metrics.AggregateMetrics(aggregate_by_tag, timeout=spec.call_timeout)

    async def worker(index: int) -> None:
        n = index
        hard_deadline = time.monotonic() + spec.max_seconds
        while not stopped.is_set() and time.monotonic() < hard_deadline:
            open_kinds = [k for k in KINDS if stats[k].sent < spec.max_per_kind]
            if not open_kinds:
                return
            kind = open_kinds[n % len(open_kinds)]
            n += 1
            if kind == "transition" and not pool:
                if prep["errors"] >= 10:
                    continue  # refills keep failing: the other kinds go on
                try:
                    await refill()
                except grpc.aio.AioRpcError as exc:
                    prep["errors"] += 1
                    prep["first_error"] = (
                        prep["first_error"] or f"{exc.code().name}: {exc.details()}"
                    )
                    continue
                if not pool:
                    continue
            s = stats[kind]
            s.sent += 1
            t0 = time.perf_counter()
            try:
                response = await call(kind, index)
                code = "OK"
                if not s.response_bytes:
                    s.response_bytes = response.ByteSize()
            except grpc.aio.AioRpcError as exc:
                code = exc.code().name
                s.first_details.setdefault(code, (exc.details() or "")[:300])
            except asyncio.CancelledError:
                s.cancelled += 1
                raise
            s.latencies.append(time.perf_counter() - t0)
            s.codes[code] = s.codes.get(code, 0) + 1
            if not stopped.is_set():
                s.in_window += 1

    async def watch_stop() -> None:
        loop = asyncio.get_running_loop()
        while not await loop.run_in_executor(None, stop.wait, 0.1):
            pass
        window["stop"] = time.monotonic()
        stopped.set()

    try:
        await asyncio.wait_for(channel.channel_ready(), 15)
        out.put(
            (
                "ready",
                "hostile",
                {
                    "payload_values": values,
                    "payload_json_bytes": json_bytes,
                    "labels": len(create.labels),
                    "create_request_bytes": create.ByteSize(),
                    "transition_request_bytes": transitions[0].ByteSize(),
                    "label_filters": len(list_filtered.labels),
                },
            )
        )
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, go.wait, 300):
            raise RuntimeError("no go in 300 s")
        cpu0 = time.process_time()
        window["go"] = time.monotonic()
        watcher = asyncio.create_task(watch_stop())
        tasks = [asyncio.create_task(worker(i)) for i in range(spec.in_flight)]
        # Until the stop (or the hard bound), then a grace for the calls in flight.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), spec.max_seconds)
        window.setdefault("stop", time.monotonic())
        stopped.set()
        _done, pending = await asyncio.wait(tasks, timeout=spec.stop_grace)
        for task in pending:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        failures = [
            "".join(traceback.format_exception(r))
            for r in results
            if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)
        ]
        out.put(
            (
                "done",
                "hostile",
                {
                    "kinds": {kind: asdict(s) for kind, s in stats.items()},
                    "window_seconds": window["stop"] - window["go"],
                    "prep": prep,
                    "cpu": time.process_time() - cpu0,
                    "failures": failures,
                },
            )
        )
    finally:
        await channel.close()


def hostile_process_main(spec: HostileSpec, go: Any, stop: Any, out: Any) -> None:
    """Entry point of the spawned hostile client."""
    try:
        run_loop(_hostile_async(spec, go, stop, out))
    except KeyboardInterrupt:
        pass
    except BaseException:
        out.put(("error", "hostile", traceback.format_exc()))


# -- the parent: processes, runs, the watchdog ---------------------------------------------


class Mailbox:
    """Messages of the client processes, by (kind, sender); early ones are kept."""

    def __init__(self, ctx: Any) -> None:
        self.queue = ctx.Queue()
        self.kept: list[tuple[str, str, Any]] = []
        self.procs: dict[str, Any] = {}

    def get(self, kind: str, who: str, timeout: float, poll: Callable[[], None]) -> Any:
        deadline = time.monotonic() + timeout
        exited_at: float | None = None
        while True:
            for message in self.kept:
                if message[0] == kind and message[1] == who:
                    self.kept.remove(message)
                    return message[2]
            poll()
            try:
                message = self.queue.get(timeout=0.2)
            except queue.Empty:
                for name, proc in self.procs.items():
                    if proc.exitcode not in (None, 0):
                        raise RuntimeError(f"{name} client died ({proc.exitcode})") from None
                proc = self.procs.get(who)
                if proc is not None and proc.exitcode == 0:
                    # Exited cleanly: its last message may still be on the way (briefly).
                    exited_at = exited_at or time.monotonic()
                    if time.monotonic() - exited_at > 5:
                        raise RuntimeError(f"{who} client exited without {kind}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{who} client: no {kind} in {timeout:.0f} s") from None
                continue
            if message[0] == "error":
                raise RuntimeError(f"{message[1]} client failed:\n{message[2]}")
            self.kept.append(message)


def _rss_cap_kb() -> int:
    """The server RSS at which the watchdog stops the hostile client: 8 GiB, or less
    (40% of the memory available at the start)."""
    available = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1])
    cap = 8 << 20
    return min(cap, int(available * 0.4)) if available else cap


def _run(
    server: ServerProcess,
    setup: Setup,
    sizes: HostileSizes,
    with_hostile: bool,
    errors: list[str],
) -> dict[str, Any]:
    """One run: the normal client's window, beside the hostile client if ``with_hostile``."""
    ctx = mp.get_context("spawn")
    mail = Mailbox(ctx)
    target = f"127.0.0.1:{server.port}"
    name = "hostile" if with_hostile else "baseline"
    normal_go, hostile_go, hostile_stop = ctx.Event(), ctx.Event(), ctx.Event()
    normal_spec = NormalSpec(
        target=target,
        execution_ids=tuple(setup.execution_ids),
        seconds=sizes.seconds,
        max_calls=sizes.max_calls,
        timeout=sizes.normal_timeout,
        seed=11,  # the same sequence of ids in both runs
    )
    mail.procs["normal"] = ctx.Process(
        target=normal_process_main,
        args=(normal_spec, normal_go, mail.queue),
        name="hostile-bench-normal",
        daemon=True,
    )
    if with_hostile:
        hostile_spec = HostileSpec(
            target=target,
            in_flight=sizes.in_flight,
            pool=tuple(setup.pool),
            aggregate_start=setup.aggregate_start,
            aggregate_end=setup.aggregate_end,
            max_per_kind=sizes.max_per_kind,
            call_timeout=sizes.call_timeout,
            stop_grace=sizes.stop_grace,
            max_seconds=sizes.ramp_seconds + sizes.seconds + 60,
        )
        mail.procs["hostile"] = ctx.Process(
            target=hostile_process_main,
            args=(hostile_spec, hostile_go, hostile_stop, mail.queue),
            name="hostile-bench-hostile",
            daemon=True,
        )
    cap_kb = _rss_cap_kb()
    watchdog: dict[str, Any] = {"peak_rss_kb": 0, "tripped": ""}

    def poll() -> None:
        if server.proc is None or server.proc.poll() is not None:
            raise RuntimeError(f"the server exited:\n{server.tail()}")
        rss = _proc_status(server.pid, "VmRSS")
        watchdog["peak_rss_kb"] = max(watchdog["peak_rss_kb"], rss)
        if with_hostile and rss > cap_kb and not hostile_stop.is_set():
            watchdog["tripped"] = (
                f"server RSS {rss / 1024:,.0f} MB passed the cap of {cap_kb / 1024:,.0f} MB: "
                "the hostile client was stopped early"
            )
            hostile_stop.set()

    for proc in mail.procs.values():
        proc.start()
    try:
        hostile_info: dict[str, Any] = {}
        if with_hostile:
            hostile_info = mail.get("ready", "hostile", 120, poll)
        mail.get("ready", "normal", 120, poll)
        if with_hostile:
            progress(
                f"{name}: hostile client going ({sizes.in_flight} in flight), normal client "
                f"in {sizes.ramp_seconds:g} s"
            )
            hostile_go.set()
            ramp_end = time.monotonic() + sizes.ramp_seconds
            while time.monotonic() < ramp_end:
                poll()
                time.sleep(0.05)
        cpu0 = server.cpu_seconds()
        wall0 = time.monotonic()
        normal_go.set()
        normal = mail.get("done", "normal", sizes.seconds + sizes.normal_timeout + 60, poll)
        server_cpu = server.cpu_seconds() - cpu0
        wall = time.monotonic() - wall0
        hostile_done: dict[str, Any] | None = None
        if with_hostile:
            hostile_stop.set()
            hostile_done = mail.get(
                "done", "hostile", sizes.stop_grace + sizes.call_timeout + 60, poll
            )
    finally:
        normal_go.set()
        hostile_go.set()
        hostile_stop.set()
        for proc in mail.procs.values():
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
    codes = normal["codes"]
    calls = sum(codes.values())
    failed = calls - codes.get("OK", 0)
    result: dict[str, Any] = {
        "calls": calls,
        "failed": failed,
        "codes": codes,
        "seconds": round(normal["seconds"], 3),
        "calls_per_s": round(calls / max(normal["seconds"], 1e-9), 1),
        **_latency_summary(normal["latencies"]),
        "response_bytes": normal["response_bytes"],
        "normal_client_cpu_s": round(normal["cpu"], 2),
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_pct": round(100 * server_cpu / max(wall, 1e-9), 1),
        "server_rss_mb": round(_proc_status(server.pid, "VmRSS") / 1024, 1),
        "server_peak_rss_mb": round(_proc_status(server.pid, "VmHWM") / 1024, 1),
    }
    if failed:
        errors.append(
            f"{name}: {failed} of {calls} GetExecution calls failed: {normal['first_error']}"
        )
    if watchdog["tripped"]:
        errors.append(f"{name}: {watchdog['tripped']}")
    if with_hostile and hostile_done is not None:
        result["hostile_client"] = _hostile_summary(hostile_info, hostile_done, errors)
    progress(
        f"{name}: {calls} GetExecution calls in {result['seconds']:.1f} s, p50 "
        f"{result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, max {result['max_ms']:.1f} ms, "
        f"server CPU {result['server_cpu_s']:.1f} s, {failed} failed"
    )
    return result


def _hostile_summary(
    info: dict[str, Any], done: dict[str, Any], errors: list[str]
) -> dict[str, Any]:
    window = max(done["window_seconds"], 1e-9)
    kinds = {}
    for kind, s in done["kinds"].items():
        server_errors = {c: n for c, n in s["codes"].items() if c in ERROR_CODES}
        if server_errors:
            details = "; ".join(
                f"{c}: {s['first_details'].get(c, '')[:200]}" for c in sorted(server_errors)
            )
            errors.append(
                f"hostile {kind}: "
                + ", ".join(f"{n} {c}" for c, n in sorted(server_errors.items()))
                + f" ({details})"
            )
        kinds[kind] = {
            "request": KIND_DESCRIPTIONS[kind],
            "sent": s["sent"],
            "completed_in_window": s["in_window"],
            "per_s": round(s["in_window"] / window, 2),
            "cancelled_at_stop": s["cancelled"],
            "codes": dict(sorted(s["codes"].items())),
            "first_details": s["first_details"],
            "response_bytes": s["response_bytes"],
            **_latency_summary(s["latencies"]),
        }
        for code, detail in s["first_details"].items():
            progress(f"  hostile {kind}: {code}: {detail[:200]}")
    for failure in done["failures"]:
        errors.append(f"hostile client worker failed: {failure[-500:]}")
    if done["prep"]["errors"]:
        errors.append(
            f"hostile client: {done['prep']['errors']} task-run refills failed "
            f"({done['prep']['first_error']})"
        )
    return {
        **info,
        "window_seconds": round(window, 3),
        "client_cpu_s": round(done["cpu"], 2),
        "prep_calls": done["prep"]["calls"],
        "kinds": kinds,
    }


def run_phase(
    sizes: HostileSizes,
    python: str = sys.executable,
    server_src: Path | None = None,
    tmp: Path | None = None,
) -> dict[str, Any]:
    """The whole phase on a server of its own; the results (``ok`` false on errors).

    Raises only KeyboardInterrupt; every other failure is in ``errors``.
    """
    work = Path(tempfile.mkdtemp(prefix="hostile-", dir=tmp))
    database = work / "statehouse.db"
    server = statehouse_server(
        "statehouse (hostile)",
        f"sqlite:///{database}",
        work,
        key="statehouse",
        server_src=server_src,
    )
    started = time.monotonic()
    errors: list[str] = []
    result: dict[str, Any] = {
        "durability": DURABILITY,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "limits": {
            "MAX_PAYLOAD_BYTES": limits.MAX_PAYLOAD_BYTES,
            "MAX_PAYLOAD_VALUES": limits.MAX_PAYLOAD_VALUES,
            "MAX_LABELS": limits.MAX_LABELS,
            "MAX_LABEL_KEY": limits.MAX_LABEL_KEY,
            "MAX_LABEL_VALUE": limits.MAX_LABEL_VALUE,
            "MAX_LABEL_FILTERS": limits.MAX_LABEL_FILTERS,
            "MAX_PAGE_SIZE": limits.MAX_PAGE_SIZE,
            "MAX_BUCKETS": limits.MAX_BUCKETS,
            "MAX_RESPONSE_BYTES": limits.MAX_RESPONSE_BYTES,
        },
        "sizes": asdict(sizes),
        "setup": None,
        "baseline": None,
        "hostile": None,
        "ratio_p99": math.nan,
        "target_ratio": TARGET_RATIO,
        "within_target": False,
        "errors": errors,
        "ok": False,
    }
    try:
        port = server.start()
        progress(f"server on 127.0.0.1:{port} ({work})")
        setup = run_loop(_setup(f"127.0.0.1:{port}", sizes, seed=5))
        result["durability"] = (
            f"SQLite, journal_mode={_journal_mode(database)}, "
            f"synchronous={_server_synchronous()} (the server's defaults)"
        )
        result["setup"] = {
            "executions": len(setup.execution_ids),
            "task_runs": setup.task_runs,
            "outputs": setup.outputs,
            "metrics": setup.metrics,
            "pool_task_runs": len(setup.pool),
            "aggregate_minutes": (setup.aggregate_end - setup.aggregate_start) // 60,
            "seconds": setup.seconds,
        }
        progress(
            f"setup: {len(setup.execution_ids)} executions, {setup.task_runs} task runs "
            f"({setup.outputs} with outputs), {setup.metrics} metrics, {len(setup.pool)} "
            f"RUNNING task runs for the hostile client, in {setup.seconds:.1f} s"
        )
        result["baseline"] = _run(server, setup, sizes, False, errors)
        result["hostile"] = _run(server, setup, sizes, True, errors)
        base, hostile = result["baseline"]["p99_ms"], result["hostile"]["p99_ms"]
        if base and not math.isnan(base) and not math.isnan(hostile):
            result["ratio_p99"] = round(hostile / base, 2)
            result["within_target"] = result["ratio_p99"] <= TARGET_RATIO
    except KeyboardInterrupt:
        raise
    except Exception:
        errors.append("the phase failed:\n" + traceback.format_exc())
        progress(f"FAILED: {traceback.format_exc().strip().splitlines()[-1][:300]}")
    finally:
        cpu = server.cpu_seconds() if server.proc is not None else math.nan
        with contextlib.suppress(Exception):
            server.stop()
        result["server_cpu_total_s"] = round(cpu, 2)
        result["seconds"] = round(time.monotonic() - started, 1)
        result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        shutil.rmtree(work, ignore_errors=True)
    result["ok"] = not errors
    return result


# -- report ------------------------------------------------------------------------


def render(result: dict[str, Any]) -> str:
    """The phase as text (a section of ``make bench``'s output)."""
    if result.get("skipped"):
        return f"\nHostile client: skipped ({result['skipped']})"
    lim = result["limits"]
    out = [
        "\nHostile client (bench/statehouse_bench/hostile.py): GetExecution (FULL, 1 in flight) of a normal "
        "client, alone,\nthen beside a client sending the heaviest requests the limits allow; "
        f"one server, {result['durability']}; load average (1/5/15 min) "
        f"{result['loadavg_start']} at start, {result.get('loadavg_end', '?')} at end"
    ]
    setup = result.get("setup")
    if setup:
        out.append(
            f"  setup: {setup['executions']} executions, {setup['task_runs']} task runs "
            f"({setup['outputs']} with outputs), {setup['metrics']:,} metrics"
        )
    h = (result.get("hostile") or {}).get("hostile_client")
    if h:
        out.append(
            f"  heavy payload: {h['payload_values']:,} values, {h['payload_json_bytes']:,} bytes "
            f"of JSON (limits {lim['MAX_PAYLOAD_VALUES']:,}, {lim['MAX_PAYLOAD_BYTES']:,}); "
            f"CreateExecution {h['create_request_bytes']:,} bytes on the wire with "
            f"{h['labels']} labels; {h['label_filters']} label filters, page_size "
            f"{lim['MAX_PAGE_SIZE']:,}, {lim['MAX_BUCKETS']:,} minute buckets"
        )
    rows = []
    for name in ("baseline", "hostile"):
        r = result.get(name)
        if not r:
            continue
        rows.append(
            [
                name,
                f"{r['calls']:,}",
                f"{r['p50_ms']:.2f}",
                f"{r['p90_ms']:.2f}",
                f"{r['p99_ms']:.2f}",
                f"{r['max_ms']:.1f}",
                str(r["failed"]),
                f"{r['server_cpu_s']:.1f} ({r['server_cpu_pct']:.0f}%)",
                f"{r['server_peak_rss_mb']:,.0f}",
            ]
        )
    if rows:
        header = ["run", "calls", "p50 ms", "p90 ms", "p99 ms", "max ms", "failed"]
        header += ["server CPU s", "peak RSS MB"]
        out.extend("  " + line for line in table(rows, header).splitlines())
    if not math.isnan(result["ratio_p99"]):
        verdict = "met" if result["within_target"] else "NOT MET"
        out.append(
            f"  p99 hostile / baseline: {result['ratio_p99']:.2f}x "
            f"(target within {result['target_ratio']:g}x: {verdict})"
        )
    if h:
        rows = []
        for kind, k in h["kinds"].items():
            codes = ", ".join(f"{c} {n}" for c, n in k["codes"].items()) or "-"
            rows.append(
                [
                    kind,
                    str(k["sent"]),
                    f"{k['per_s']:.1f}",
                    f"{k['p50_ms']:.0f}",
                    f"{k['max_ms']:.0f}",
                    codes
                    + (f" (+{k['cancelled_at_stop']} cancelled)" if k["cancelled_at_stop"] else ""),
                ]
            )
        out.append(
            f"  hostile requests ({result['sizes']['in_flight']} in flight, "
            f"{h['window_seconds']:.1f} s; client CPU {h['client_cpu_s']:.1f} s; "
            f"{h['prep_calls']} calls to prepare more task runs):"
        )
        out.extend(
            "    " + line
            for line in table(
                rows, ["kind", "sent", "per s", "p50 ms", "max ms", "codes"], text_last=True
            ).splitlines()
        )
    errors = result["errors"]
    out.append("  errors: " + ("none" if not errors else f"{len(errors)}"))
    for error in errors:
        out.append("    " + error.strip().replace("\n", "\n    "))
    return "\n".join(out)


# -- main --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (about 25 s)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    parser.add_argument(
        "--server-src",
        type=Path,
        metavar="DIR",
        help="run the server from this source root instead of the working tree",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    sizes = HostileSizes.quick() if args.quick else HostileSizes()
    try:
        result = run_phase(sizes, sys.executable, args.server_src)
    except KeyboardInterrupt:
        progress("interrupted")
        return 130
    result["quick"] = args.quick
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        progress(f"results written to {args.json}")
    progress(f"done in {result['seconds']:.0f} s" + ("" if result["ok"] else " WITH ERRORS"))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
