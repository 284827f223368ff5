"""Fan-out: subscribers (raw EventService.Subscribe streams, from_latest, filtered on the
bench namespace) in processes of their own, a writer in another.

- capacity: the writer unpaced; deliveries/s to all subscribers from the writer's
  start to the last receipt, every event counted per subscriber (nothing lost, none
  repeated, in order, up to an end marker). Fewer events than the server's
  subscriber buffer (1,024), so a slow subscriber is behind, not cut off;
- latency: the writer paced (events/s x subscribers = the deliveries/s asked for),
  latency from the COMMIT of each event (the bench server's commit listener records
  time.time_ns() right after each commit) to its receipt (time.time_ns() in the
  subscriber; the same machine clock).
"""

from __future__ import annotations

import array
import asyncio
import math
import multiprocessing as mp
import queue
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from typing import Any

from .common import (
    NAMESPACE,
    SENTINEL_FLOW,
    CommitTimes,
    Deadline,
    ServerProcess,
    capped,
    latency_summary,
    progress,
    run_loop,
)
from .load import ClientGroup, ClientSpec, Phase

#: Above 100 subscribers, subscribers share channels (HTTP/2 connections) by this many.
STREAMS_PER_CHANNEL = 50
#: Subscribers per client process (the client, in Python, is as busy as the server).
SUBSCRIBERS_PER_PROCESS = 1000


class _Subscriber:
    """One stream: checks every event once, in order, to the end marker."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.ready = asyncio.Event()
        self.start_sequence = -1
        self.expected = -1
        self.received = 0
        self.done = False
        self.end_sequence = 0
        self.errors: list[str] = []
        self.sequences = array.array("q")
        self.receipts = array.array("q")

    async def run(self, stub: Any, heartbeat_interval: float) -> None:
        from google.protobuf.duration_pb2 import Duration

        from statehouse.v1 import event_pb2, event_service_pb2 as ev

        request = ev.SubscribeRequest(
            filter=event_pb2.EventFilter(namespace=NAMESPACE),
            from_latest=True,
            heartbeat_interval=Duration(
                nanos=int(heartbeat_interval * 1e9) % 1_000_000_000, seconds=int(heartbeat_interval)
            ),
        )
        call = stub.Subscribe(request)
        try:
            async for response in call:
                now = time.time_ns()
                if response.WhichOneof("payload") == "heartbeat":
                    if not self.ready.is_set():
                        self.start_sequence = response.heartbeat.sequence
                        self.expected = response.heartbeat.sequence + 1
                        self.ready.set()
                    continue
                item = response.event
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
                    self.end_sequence = item.sequence
                    return
                self.received += 1
                self.sequences.append(item.sequence)
                self.receipts.append(now)
        finally:
            call.cancel()


@dataclass(frozen=True)
class SubscriberSpec:
    target: str
    first: int
    count: int
    channels: int
    heartbeat_interval: float
    ready_timeout: float = 90.0


@dataclass
class SubscriberReport:
    start_sequences: list[int]
    received: list[int]
    #: Per subscriber: the events between its start and the end marker (all the bench's).
    logged: list[int]
    not_done: list[str]
    errors: list[str]
    sequences: bytes  # array('q') of every subscriber, concatenated
    receipts: bytes
    first_receipt_ns: int
    last_receipt_ns: int
    cpu: float


async def _subscribers_async(spec: SubscriberSpec, index: int, stop: Any, out: Any) -> None:
    import grpc

    from statehouse.v1 import event_service_pb2_grpc

    channels = [grpc.aio.insecure_channel(spec.target) for _ in range(spec.channels)]
    stubs = [event_service_pb2_grpc.EventServiceStub(c) for c in channels]
    subs = [_Subscriber(spec.first + i) for i in range(spec.count)]
    tasks = [
        asyncio.create_task(sub.run(stubs[i % spec.channels], spec.heartbeat_interval))
        for i, sub in enumerate(subs)
    ]
    errors: list[str] = []
    try:
        deadline = Deadline(spec.ready_timeout)
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
        out.put(("ready", index, sorted({s.start_sequence for s in subs})))
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
        for channel in channels:
            await channel.close()
    sequences = array.array("q")
    receipts = array.array("q")
    for sub in subs:
        errors.extend(sub.errors)
        sequences.extend(sub.sequences)
        receipts.extend(sub.receipts)
    out.put(
        (
            "done",
            index,
            SubscriberReport(
                start_sequences=sorted({s.start_sequence for s in subs}),
                received=[s.received for s in subs],
                logged=[s.end_sequence - s.start_sequence - 1 for s in subs if s.done],
                not_done=[
                    f"subscriber {s.number}: did not receive the end marker "
                    f"(got {s.received} events, next expected {s.expected})"
                    for s in subs
                    if not s.done
                ],
                errors=errors[:50],
                sequences=sequences.tobytes(),
                receipts=receipts.tobytes(),
                first_receipt_ns=min(receipts, default=0),
                last_receipt_ns=max(receipts, default=0),
                cpu=cpu,
            ),
        )
    )


def subscriber_process_main(spec: SubscriberSpec, index: int, stop: Any, out: Any) -> None:
    try:
        run_loop(_subscribers_async(spec, index, stop, out))
    except KeyboardInterrupt:
        pass
    except BaseException:
        out.put(("error", index, traceback.format_exc()))


class SubscriberGroup:
    """Subscribers spread over spawned processes (and, in each, over channels)."""

    def __init__(
        self, target: str, subscribers: int, channels: int, processes: int, heartbeat: float
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
            specs.append(SubscriberSpec(target, first, count, max(1, min(share, count)), heartbeat))
            first += count
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
                raise RuntimeError(f"subscriber process {message[1]} failed:\n{message[2]}")
            if message[0] != kind:
                raise RuntimeError(f"subscriber process {message[1]}: {message[0]} before {kind}")
            items.append(message[2])
        return items


@dataclass
class FanoutSummary:
    mode: str  # capacity or latency
    subscribers: int
    processes: int
    channels: int
    events: int
    writer_rate: float
    writer_rate_limit: float
    target_deliveries_per_s: float
    deliveries: int
    expected_deliveries: int
    seconds: float
    deliveries_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    latency_samples: int
    client_cpu_pct: float
    server_cpu_pct: float
    complete: bool
    errors: list[str]


def run_fanout(
    server: ServerProcess,
    subscribers: int,
    events: int,
    rate: float,
    seconds: float,
    mode: str,
) -> FanoutSummary:
    """``events`` transitions by a writer (8 in flight; ``rate`` events/s, 0 unpaced)."""
    channels = subscribers if subscribers <= 100 else math.ceil(subscribers / STREAMS_PER_CHANNEL)
    processes = math.ceil(subscribers / SUBSCRIBERS_PER_PROCESS)
    heartbeat = 0.2 if subscribers <= 100 else 1.0
    spec = ClientSpec(
        client="raw",
        targets=(server.target,),
        phases=(
            Phase("create", 8, seconds=60),
            Phase("transition", 8, max_ops=events, seconds=seconds, rate=rate),
        ),
        tag=f"fanout{subscribers}",
        sentinel=True,
    )
    errors: list[str] = []
    label = f"fan-out {mode}, {subscribers} subscribers"
    with ClientGroup(spec) as group:
        group.run_phase(f"{label}: writer's creates", [server])
        with SubscriberGroup(server.target, subscribers, channels, processes, heartbeat) as subs:
            starts = {s for seqs in subs.collect("ready", 120) for s in seqs}
            if len(starts) != 1:
                errors.append(f"subscribers started at different sequences: {sorted(starts)}")
            cpu0 = server.cpu_seconds()
            t_go = time.time_ns()
            writer = group.run_phase(f"{label}: writer", [server])
            drain = threading.Timer(seconds + 20, subs.stop.set)
            drain.start()
            try:
                reports: list[SubscriberReport] = subs.collect("done", seconds + 60)
            finally:
                drain.cancel()
            server_cpu = server.cpu_seconds() - cpu0
    commits = CommitTimes(server.counters().get("commit_times", []))
    latencies: list[float] = []
    missing_commit = 0
    for report in reports:
        errors.extend(report.errors)
        errors.extend(report.not_done)
        sequences = array.array("q")
        sequences.frombytes(report.sequences)
        receipts = array.array("q")
        receipts.frombytes(report.receipts)
        for sequence, receipt in zip(sequences, receipts, strict=True):
            committed = commits.at(sequence)
            if committed is None:
                missing_commit += 1
            else:
                latencies.append((receipt - committed) / 1e9)
    if missing_commit:
        errors.append(f"{missing_commit} deliveries without a recorded commit time")
    counts = {n for report in reports for n in report.received}
    if len(counts) != 1:
        errors.append(f"subscribers received different counts: {sorted(counts)[:10]}")
    deliveries = sum(n for report in reports for n in report.received)
    expected = sum(n for report in reports for n in report.logged)
    if deliveries != expected:
        errors.append(
            f"{deliveries} deliveries, expected {expected} (the events between each "
            "subscriber's start and the end marker)"
        )
    end = max((r.last_receipt_ns for r in reports), default=t_go)
    secs = max((end - t_go) / 1e9, 1e-9)
    figures = latency_summary(latencies)
    summary = FanoutSummary(
        mode=mode,
        subscribers=subscribers,
        processes=len(reports),
        channels=channels,
        events=writer.ops,
        writer_rate=writer.rate,
        writer_rate_limit=rate,
        target_deliveries_per_s=rate * subscribers,
        deliveries=deliveries,
        expected_deliveries=expected,
        seconds=round(secs, 3),
        deliveries_per_s=round(deliveries / secs, 1),
        p50_ms=figures["p50_ms"],
        p99_ms=figures["p99_ms"],
        max_ms=figures["max_ms"],
        latency_samples=len(latencies),
        client_cpu_pct=round(100 * sum(r.cpu for r in reports) / secs, 1),
        server_cpu_pct=round(100 * server_cpu / secs, 1),
        complete=not errors,
        errors=capped(errors),
    )
    if writer.errors:
        summary.errors.append(f"writer: {writer.errors} errors, first: {writer.first_error}")
        summary.complete = False
    progress(
        f"{label}: {summary.deliveries_per_s:,.0f} deliveries/s ({summary.deliveries} in "
        f"{summary.seconds:.1f} s; writer {summary.events} events at "
        f"{summary.writer_rate:,.0f}/s), commit-to-receipt p50 {summary.p50_ms:.1f} ms, "
        f"p99 {summary.p99_ms:.1f} ms, max {summary.max_ms:.1f} ms, "
        f"{'complete' if summary.complete else f'{len(summary.errors)} ERRORS'}"
    )
    for error in summary.errors:
        progress(f"  ERROR: {error}")
    return summary


def as_dict(summary: FanoutSummary) -> dict[str, Any]:
    return asdict(summary)
