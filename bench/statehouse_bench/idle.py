"""Idle subscribers on a fresh server of their own: the server's memory per idle stream
(``--idle-streams``, 5,000 unfiltered subscriptions, from_latest, no heartbeats, opened
in a burst), and the latency of a write (CreateExecution, one at a time, raw stubs)
with none open and with all of them open: the issue's target is within 2 x.

The subscriptions (SDK clients, 1,000 a process) live in processes of their own, held
together to ``SUBSCRIBERS_QUOTA`` of a core (cgroup v1 cpu, where writable): each
receives every event, and in the writer's process their work would stand in for the
server's (the write's latency would be the client's event loop, busy with 5,000
streams). The writer's process does nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing as mp
import queue
import re
import statistics
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Any

from .common import (
    NAMESPACE,
    CpuQuota,
    Deadline,
    ServerProcess,
    add_counter,
    capped,
    latency_summary,
    progress,
    rss_kb,
    run_loop,
    sdk_counter,
)

#: The issue's target: write p99 with the idle subscriptions open within 2 x that with none.
TARGET_RATIO = 2.0
#: Idle subscriptions per subscriber process.
STREAMS_PER_PROCESS = 1000
#: The CPU (cores) all subscriber processes share.
SUBSCRIBERS_QUOTA = 0.5


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
    write_latency_none: dict[str, float]
    write_latency_open: dict[str, float]
    write_p99_ratio: float
    errors: list[str]
    #: Every round's ratio, in the order run (the summary is the round of median ratio).
    rounds: list[float] = field(default_factory=list)


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
        subscription = client.subscribe(from_latest=True)  # unfiltered
        try:
            async for event in subscription:
                if self.first and event.sequence != self.last + 1:
                    self.errors.append(
                        f"idle stream {self.number}: expected {self.last + 1}, got {event.sequence}"
                    )
                self.first = self.first or event.sequence
                self.last = event.sequence
        finally:
            self.duplicates_dropped = sdk_counter(subscription, "duplicates_dropped")
            self.reconnects = sdk_counter(subscription, "reconnects")
            await subscription.close()


async def _write_latencies(target: str, writes: int, seconds: float) -> dict[str, float]:
    """CreateExecution one at a time through raw stubs: p50/p99/max in ms."""
    import grpc

    from statehouse.v1 import execution_service_pb2 as es, execution_service_pb2_grpc

    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = execution_service_pb2_grpc.ExecutionServiceStub(channel)
        request = es.CreateExecutionRequest(namespace=NAMESPACE, flow_id="idle-write")
        for _ in range(10):  # warm-up
            await stub.CreateExecution(request, timeout=30)
        deadline = Deadline(seconds)
        while len(latencies) < writes and not deadline.passed():
            t0 = time.perf_counter()
            await stub.CreateExecution(request, timeout=30)
            latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(0.002)  # a gap: each write meets the fan-out of the last
    out: dict[str, Any] = latency_summary(latencies)
    out["writes"] = len(latencies)
    return out


async def _subscribers_async(
    target: str, first: int, count: int, per_channel: int, stop: Any, out: Any
) -> None:
    """``count`` idle subscriptions on SDK clients of their own: reports how many are
    established and the sequences they have, until ``stop``; then their errors."""
    from statehouse.client import AsyncClient

    channels = max(1, math.ceil(count / per_channel))
    clients = [AsyncClient.connect(target) for _ in range(channels)]
    subs = [_IdleSubscriber(first + i) for i in range(count)]
    tasks: list[asyncio.Task[None]] = []
    errors: list[str] = []
    try:
        await asyncio.gather(*(c.wait_for_ready(30) for c in clients))
        tasks = [asyncio.create_task(sub.run(clients[i % channels])) for i, sub in enumerate(subs)]
        while not stop.is_set():
            failed = [t for t in tasks if t.done()]
            if failed:
                errors.append(f"{len(failed)} idle streams ended, first: {failed[0].exception()!r}")
                break
            waiting = sum(not s.first for s in subs)
            lasts = [s.last for s in subs]
            out.put(("status", first, (waiting, min(lasts), max(lasts))))
            await asyncio.sleep(0.1)
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
        duplicates = add_counter(duplicates, sub.duplicates_dropped)
        reconnects = add_counter(reconnects, sub.reconnects)
    out.put(("done", first, (capped(errors), duplicates, reconnects)))


def _subscribers_main(
    target: str, first: int, count: int, per_channel: int, stop: Any, out: Any
) -> None:
    try:
        run_loop(_subscribers_async(target, first, count, per_channel, stop, out))
    except KeyboardInterrupt:
        pass
    except BaseException:
        out.put(("error", first, traceback.format_exc()))


class _Subscribers:
    """The idle subscriptions, in spawned processes under one CPU quota."""

    def __init__(self, target: str, streams: int, per_channel: int) -> None:
        ctx = mp.get_context("spawn")
        self.out = ctx.Queue()
        self.stop = ctx.Event()
        self.procs = []
        for first in range(0, streams, STREAMS_PER_PROCESS):
            count = min(STREAMS_PER_PROCESS, streams - first)
            self.procs.append(
                ctx.Process(
                    target=_subscribers_main,
                    args=(target, first, count, per_channel, self.stop, self.out),
                    name=f"bench-idle-{first}",
                    daemon=True,
                )
            )
        self.quota = CpuQuota("idle-subscribers", SUBSCRIBERS_QUOTA)
        #: The latest (waiting, min last, max last) of each process.
        self.status: dict[int, tuple[int, int, int]] = {}
        self.final: dict[int, tuple[list[str], int | None, int | None]] = {}

    def __enter__(self) -> _Subscribers:
        self.quota.__enter__()
        for proc in self.procs:
            proc.start()
            if proc.pid is not None:
                self.quota.add(proc.pid)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        with contextlib.suppress(RuntimeError):
            self.drain(lambda: len(self.final) == len(self.procs), 30)
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        self.quota.__exit__(*exc_info)

    def drain(self, until: Any, timeout: float) -> None:
        """Read reports until ``until()`` or the timeout (RuntimeError)."""
        deadline = time.monotonic() + timeout
        while not until():
            try:
                kind, first, body = self.out.get(timeout=0.2)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise RuntimeError("idle subscriber processes: no report in time") from None
                continue
            if kind == "error":
                raise RuntimeError(f"idle subscriber process {first} failed:\n{body}")
            if kind == "status":
                self.status[first] = body
            else:
                self.final[first] = body

    def fresh(self) -> None:
        """Take every report that has arrived (the status of each process, now)."""
        self.status.clear()
        self.drain(lambda: len(self.status) == len(self.procs), 30)

    @property
    def waiting(self) -> int:
        return sum(w for w, _, _ in self.status.values())

    @property
    def lowest(self) -> int:
        return min(low for _, low, _ in self.status.values())

    @property
    def highest(self) -> int:
        return max(high for _, _, high in self.status.values())


async def _idle_async(
    target: str, server: ServerProcess, streams: int, per_channel: int, writes: int
) -> IdleSummary:
    from statehouse.client import AsyncClient

    writer = AsyncClient.connect(target)
    channels = max(1, math.ceil(streams / per_channel))
    errors: list[str] = []
    loop = asyncio.get_running_loop()
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
        cpu0 = server.cpu_seconds()
        none = await _write_latencies(target, writes, 30)
        none["server_cpu_ms_per_write"] = round(
            1000 * (server.cpu_seconds() - cpu0) / max(1, none["writes"] + 10), 3
        )
        progress(
            f"idle streams: write latency with none open p50 {none['p50_ms']:.2f} ms, "
            f"p99 {none['p99_ms']:.2f} ms ({none['writes']} writes)"
        )
        await asyncio.sleep(0.5)
        before = rss_kb(server.pid)
        log_lines = len(server.log().splitlines())
        with _Subscribers(target, streams, per_channel) as subs:
            progress(
                f"idle streams: server RSS {before / 1024:.1f} MB; opening {streams} streams "
                f"in a burst from {len(subs.procs)} processes ({subs.quota.note or 'no quota'})"
            )
            t0 = time.monotonic()
            # from_latest: a stream not yet open when an event is published misses it, so
            # publish markers until every stream has received one: then all are established.
            markers = 0
            deadline = Deadline(90)
            while True:
                await publish()
                markers += 1
                await asyncio.sleep(0.5)
                await loop.run_in_executor(None, subs.fresh)
                if not subs.waiting:
                    break
                if deadline.passed():
                    raise RuntimeError(
                        f"{subs.waiting} of {streams} idle streams not established in 90 s"
                    )
            established = time.monotonic() - t0
            # Settle (every stream has the latest marker), then one more event that every
            # stream must receive right after it.
            deadline = Deadline(30)
            while not deadline.passed():
                await loop.run_in_executor(None, subs.fresh)
                if subs.lowest == subs.highest:
                    break
                await asyncio.sleep(0.1)
            settled = subs.highest
            await publish()
            markers += 1
            deadline = Deadline(30)
            while True:
                await loop.run_in_executor(None, subs.fresh)
                if subs.lowest > settled:
                    break
                if deadline.passed():
                    errors.append("some idle streams did not receive the last event in 30 s")
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
            after = rss_kb(server.pid)
            cpu0 = server.cpu_seconds()
            opened = await _write_latencies(target, writes, 60)
            # What the server spent per write with the streams open: the write and
            # its deliveries (to every stream, as they receive every event).
            opened["server_cpu_ms_per_write"] = round(
                1000 * (server.cpu_seconds() - cpu0) / max(1, opened["writes"] + 10), 3
            )
            progress(
                f"idle streams: write latency with {streams} open p50 {opened['p50_ms']:.2f} ms, "
                f"p99 {opened['p99_ms']:.2f} ms ({opened['writes']} writes); server CPU per "
                f"write {opened['server_cpu_ms_per_write']:.2f} ms, "
                f"{none['server_cpu_ms_per_write']:.2f} ms with none open"
            )
            subs.stop.set()
            await loop.run_in_executor(
                None, subs.drain, lambda: len(subs.final) == len(subs.procs), 60
            )
            finals = list(subs.final.values())
    finally:
        await writer.close()
    duplicates: int | None = None
    reconnects: int | None = None
    for sub_errors, sub_duplicates, sub_reconnects in finals:
        errors.extend(sub_errors)
        duplicates = add_counter(duplicates, sub_duplicates)
        reconnects = add_counter(reconnects, sub_reconnects)
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
        rss_connected_kb=before,
        rss_after_kb=after,
        kb_per_stream=round((after - before) / streams, 1),
        kb_per_stream_without_connections=round((after - before) / streams, 1),
        kb_per_connection=0.0,
        established_seconds=round(established, 2),
        marker_events=markers,
        duplicates_dropped=duplicates,
        reconnects=reconnects,
        server_log_errors=len(log_errors),
        write_latency_none=none,
        write_latency_open=opened,
        write_p99_ratio=round(opened["p99_ms"] / none["p99_ms"], 2) if none["p99_ms"] else math.nan,
        errors=capped(errors),
    )


def run_idle(
    server: ServerProcess, streams: int, per_channel: int, writes: int, rounds: int = 3
) -> IdleSummary:
    """Idle streams on a server of their own (fresh: no memory freed by earlier phases),
    in ``rounds`` rounds, each on the server started again: the writes with none
    open, then with the streams open. The summary is the round of median ratio (the
    p99 of 2,000 writes with none open moves by a third between runs on a shared
    machine, and the ratio with it), with every round's errors.
    """
    summaries: list[IdleSummary] = []
    for number in range(1, rounds + 1):
        if rounds > 1:
            progress(f"idle streams: round {number} of {rounds}")
        port = server.start()
        try:
            summaries.append(
                run_loop(_idle_async(f"127.0.0.1:{port}", server, streams, per_channel, writes))
            )
        finally:
            server.stop()
    ratios = [s.write_p99_ratio for s in summaries]
    chosen = summaries[ratios.index(statistics.median_low(ratios))]
    summary = replace(
        chosen,
        rounds=ratios,
        errors=capped([e for s in summaries for e in s.errors]),
    )
    progress(
        f"idle streams: {summary.streams} on {summary.channels} connections established in "
        f"{summary.established_seconds:.1f} s; server RSS +{summary.kb_per_stream:.1f} KB per "
        f"stream ({summary.kb_per_stream_without_connections:.1f} KB without the connections, "
        f"{summary.kb_per_connection:.0f} KB per connection); write p99 with "
        f"{summary.streams} idle subscriptions / with none = "
        f"{summary.write_latency_open['p99_ms']:.2f} / "
        f"{summary.write_latency_none['p99_ms']:.2f} ms = {summary.write_p99_ratio:.2f} x "
        f"(rounds {', '.join(f'{r:.2f}' for r in summary.rounds)}; "
        f"target <= {TARGET_RATIO:.0f} x); {len(summary.errors)} errors"
    )
    for error in summary.errors:
        progress(f"  ERROR: {error}")
    return summary
