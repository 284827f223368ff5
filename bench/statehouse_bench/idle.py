"""Idle subscribers on a fresh server of their own: the server's memory per idle stream
(``--idle-streams``, 5,000 unfiltered subscriptions, from_latest, no heartbeats, opened
in a burst), and the latency of a write (CreateExecution, one at a time, raw stubs)
with none open and with all of them open: the issue's target is within 2 x."""

from __future__ import annotations

import asyncio
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from .common import (
    NAMESPACE,
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


async def _idle_async(
    target: str, server: ServerProcess, streams: int, per_channel: int, writes: int
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
        none = await _write_latencies(target, writes, 30)
        progress(
            f"idle streams: write latency with none open p50 {none['p50_ms']:.2f} ms, "
            f"p99 {none['p99_ms']:.2f} ms ({none['writes']} writes)"
        )
        await asyncio.sleep(0.5)
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
        deadline = Deadline(90)
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
        deadline = Deadline(30)
        while not deadline.passed():
            settled = max(s.last for s in subs)
            if all(s.last == settled for s in subs):
                break
            await asyncio.sleep(0.1)
        await publish()
        markers += 1
        deadline = Deadline(30)
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
        opened = await _write_latencies(target, writes, 60)
        progress(
            f"idle streams: write latency with {streams} open p50 {opened['p50_ms']:.2f} ms, "
            f"p99 {opened['p99_ms']:.2f} ms ({opened['writes']} writes)"
        )
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
        duplicates = add_counter(duplicates, sub.duplicates_dropped)
        reconnects = add_counter(reconnects, sub.reconnects)
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
        write_latency_none=none,
        write_latency_open=opened,
        write_p99_ratio=round(opened["p99_ms"] / none["p99_ms"], 2) if none["p99_ms"] else math.nan,
        errors=capped(errors),
    )


def run_idle(server: ServerProcess, streams: int, per_channel: int, writes: int) -> IdleSummary:
    """Idle streams on a server of their own (fresh: no memory freed by earlier phases)."""
    port = server.start()
    try:
        summary: IdleSummary = run_loop(
            _idle_async(f"127.0.0.1:{port}", server, streams, per_channel, writes)
        )
    finally:
        server.stop()
    progress(
        f"idle streams: {summary.streams} on {summary.channels} connections established in "
        f"{summary.established_seconds:.1f} s; server RSS +{summary.kb_per_stream:.1f} KB per "
        f"stream ({summary.kb_per_stream_without_connections:.1f} KB without the connections, "
        f"{summary.kb_per_connection:.0f} KB per connection); write p99 with "
        f"{summary.streams} idle subscriptions / with none = "
        f"{summary.write_latency_open['p99_ms']:.2f} / "
        f"{summary.write_latency_none['p99_ms']:.2f} ms = {summary.write_p99_ratio:.2f} x "
        f"(target <= {TARGET_RATIO:.0f} x); {len(summary.errors)} errors"
    )
    for error in summary.errors:
        progress(f"  ERROR: {error}")
    return summary
