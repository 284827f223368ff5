"""Fan-out: subscribers (raw EventService.Subscribe streams, from_latest, filtered on the
bench namespace) in processes of their own, a writer in another. With batches (the
default; ``--no-fanout-batches`` for one event per message) subscribers ask for up to
MAX_EVENTS_PER_MESSAGE events a message and read both ``event`` and ``events``; every
event is checked once, in order, and the events per message are counted.

- capacity: the writer unpaced; deliveries/s to all subscribers from the writer's
  start to the last receipt, every event counted per subscriber (nothing lost, none
  repeated, in order, up to an end marker). Fewer events than the server's
  subscriber buffer (1,024), so a slow subscriber is behind, not cut off;
- latency: the writer paced (events/s x subscribers = the deliveries/s asked for),
  latency from the COMMIT of each event (the bench server's commit listener records
  time.time_ns() right after each commit) to its receipt (time.time_ns() in the
  subscriber; the same machine clock);
- writer rate (issue 24, writers never wait for watchers): the writer's rate
  (TransitionTaskRun, 16 in flight, unpaced) alone, then with 100 and with 1,000
  live subscribers that each receive every event, on a fresh server for each
  ``--processes N`` (``--fanout-processes``); each subscriber process held to a CPU
  quota (cgroup v1, ``CpuQuota``), the writer's process not (see run_writer_rate).
  Target: with 100 subscribers the writer keeps at least 0.8 of its rate alone.
"""

from __future__ import annotations

import array
import asyncio
import collections
import contextlib
import math
import multiprocessing as mp
import os
import queue
import statistics
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .common import (
    NAMESPACE,
    SENTINEL_FLOW,
    CommitTimes,
    CpuQuota,
    Deadline,
    ServerProcess,
    capped,
    events_per_message,
    latency_summary,
    progress,
    run_loop,
    statehouse_server,
)
from .load import ClientGroup, ClientSpec, Phase, PhaseSummary

#: Above 100 subscribers, subscribers share channels (HTTP/2 connections) by this many.
STREAMS_PER_CHANNEL = 50
#: Subscribers per client process (the client, in Python, is as busy as the server).
SUBSCRIBERS_PER_PROCESS = 1000
#: What subscribers ask for with batches (SubscribeRequest.max_events_per_message).
MAX_EVENTS_PER_MESSAGE = 1000
#: The writer-rate runs keep the receipt times of about this many subscribers (every
#: event of every one of 1,000 would be millions): the latency figures' sample.
LATENCY_SUBSCRIBERS = 100
#: Errors kept per subscriber (the rest counted).
SUBSCRIBER_ERRORS = 20


class _Subscriber:
    """One stream: checks every event once, in order, to the end marker, whether the
    server sends it alone (``event``) or with others (``events``, when asked for with
    ``max_events_per_message``); counts the messages by their number of events, and
    keeps the receipt times when ``record``."""

    def __init__(self, number: int, record: bool = True) -> None:
        self.number = number
        self.record = record
        self.ready = asyncio.Event()
        self.start_sequence = -1
        self.expected = -1
        self.received = 0
        self.done = False
        self.end_sequence = 0
        self.errors: list[str] = []
        self.more_errors = 0
        self.messages = 0
        #: {events in a message: messages} (heartbeats not counted).
        self.sizes: collections.Counter[int] = collections.Counter()
        self.sequences = array.array("q")
        self.receipts = array.array("q")

    def _error(self, message: str) -> None:
        if len(self.errors) < SUBSCRIBER_ERRORS:
            self.errors.append(f"subscriber {self.number}: {message}")
        else:
            self.more_errors += 1

    async def run(
        self, stub: Any, heartbeat_interval: float, max_events_per_message: int = 0
    ) -> None:
        from google.protobuf.duration_pb2 import Duration

        from statehouse.v1 import event_pb2, event_service_pb2 as ev

        request = ev.SubscribeRequest(
            filter=event_pb2.EventFilter(namespace=NAMESPACE),
            from_latest=True,
            heartbeat_interval=Duration(
                nanos=int(heartbeat_interval * 1e9) % 1_000_000_000, seconds=int(heartbeat_interval)
            ),
            max_events_per_message=max_events_per_message,
        )
        call = stub.Subscribe(request)
        try:
            async for response in call:
                now = time.time_ns()
                kind = response.WhichOneof("payload")
                batch = response.events
                if kind is not None and batch:
                    self._error(f"{len(batch)} events beside a {kind} in one message")
                if kind == "heartbeat":
                    if not self.ready.is_set():
                        self.start_sequence = response.heartbeat.sequence
                        self.expected = response.heartbeat.sequence + 1
                        self.ready.set()
                    continue
                if kind == "event":
                    items: Any = (response.event,)
                elif not batch:
                    self._error("a message with no event, no events and no heartbeat")
                    continue
                else:
                    items = batch
                    if max_events_per_message <= 1:
                        self._error(f"{len(batch)} events in `events`, not asked for")
                    elif len(batch) > max_events_per_message:
                        self._error(
                            f"{len(batch)} events in one message, at most "
                            f"{max_events_per_message} asked for"
                        )
                self.messages += 1
                self.sizes[len(items)] += 1
                if self._check_batch(items, now):
                    continue
                for item in items:
                    if self._check(item, now):
                        return
        finally:
            call.cancel()

    def _check_batch(self, items: Any, now: int) -> bool:
        """Count a message's events at once when they are exactly the next ones
        expected and none is the end marker (the common case: one attribute read
        per event, the comparisons in C, so that the subscribers' own CPU takes as
        little of the machine as it can); False: check them one by one."""
        if not self.ready.is_set() or items[-1].flow_id == SENTINEL_FLOW:
            return False
        sequences = [item.sequence for item in items]
        first = self.expected
        if sequences != list(range(first, first + len(sequences))):
            return False
        self.expected = first + len(sequences)
        self.received += len(sequences)
        if self.record:
            self.sequences.extend(sequences)
            self.receipts.extend([now] * len(sequences))
        return True

    def _check(self, item: Any, now: int) -> bool:
        """Count an event received at ``now``; True at the end marker."""
        if not self.ready.is_set():
            self._error(f"event {item.sequence} before the first heartbeat")
            self.expected = item.sequence
            self.ready.set()
        if item.sequence != self.expected:
            if item.sequence > self.expected:
                self._error(
                    f"gap, expected {self.expected}, got {item.sequence} "
                    f"({item.sequence - self.expected} lost)"
                )
            else:
                self._error(
                    f"out of order or repeated: expected {self.expected}, got {item.sequence}"
                )
        self.expected = max(self.expected, item.sequence + 1)
        if item.flow_id == SENTINEL_FLOW:
            self.done = True
            self.end_sequence = item.sequence
            return True
        self.received += 1
        if self.record:
            self.sequences.append(item.sequence)
            self.receipts.append(now)
        return False


@dataclass(frozen=True)
class SubscriberSpec:
    target: str
    first: int
    count: int
    channels: int
    heartbeat_interval: float
    ready_timeout: float = 90.0
    #: Asked of the server (0: one event per message, in ``event``).
    max_events_per_message: int = 0
    #: Subscribers numbered a multiple of this keep their receipt times (latency).
    record_every: int = 1


@dataclass
class SubscriberReport:
    start_sequences: list[int]
    received: list[int]
    #: Per subscriber: the events between its start and the end marker (all the bench's).
    logged: list[int]
    not_done: list[str]
    errors: list[str]
    sequences: bytes  # array('q') of every recording subscriber, concatenated
    receipts: bytes
    first_receipt_ns: int
    last_receipt_ns: int
    cpu: float
    #: Messages that carried events, and {events in a message: messages}, of all.
    messages: int
    message_sizes: dict[int, int]
    recording: int


async def _subscribers_async(spec: SubscriberSpec, index: int, stop: Any, out: Any) -> None:
    import grpc

    from statehouse.v1 import event_service_pb2_grpc

    channels = [grpc.aio.insecure_channel(spec.target) for _ in range(spec.channels)]
    stubs = [event_service_pb2_grpc.EventServiceStub(c) for c in channels]
    subs = [
        _Subscriber(n, record=n % spec.record_every == 0)
        for n in range(spec.first, spec.first + spec.count)
    ]
    tasks = [
        asyncio.create_task(
            sub.run(stubs[i % spec.channels], spec.heartbeat_interval, spec.max_events_per_message)
        )
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
    sizes: collections.Counter[int] = collections.Counter()
    more = 0
    for sub in subs:
        errors.extend(sub.errors)
        more += sub.more_errors
        sequences.extend(sub.sequences)
        receipts.extend(sub.receipts)
        sizes.update(sub.sizes)
    if more:
        errors.append(f"... and {more} more errors of the same subscribers")
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
                messages=sum(s.messages for s in subs),
                message_sizes=dict(sizes),
                recording=sum(s.record for s in subs),
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
    """Subscribers spread over spawned processes (and, in each, over channels); with
    ``quota_cores``, each process held to that much CPU (``CpuQuota``, a group each)."""

    def __init__(
        self,
        target: str,
        subscribers: int,
        channels: int,
        processes: int,
        heartbeat: float,
        *,
        max_events_per_message: int = 0,
        record_every: int = 1,
        quota_cores: float = 0.0,
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
                    target,
                    first,
                    count,
                    max(1, min(share, count)),
                    heartbeat,
                    max_events_per_message=max_events_per_message,
                    record_every=max(1, record_every),
                )
            )
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
        self.quotas = [CpuQuota(f"subscribers-{i}", quota_cores) for i in range(len(specs))]
        self._held = contextlib.ExitStack()
        #: Seconds the processes waited for their quota's next period (cgroup cpu.stat).
        self.throttled_s = 0.0

    @property
    def quota_applied(self) -> bool:
        return all(q.applied for q in self.quotas)

    @property
    def quota_note(self) -> str:
        note = self.quotas[0].note
        return f"each {note}" if self.quota_applied else note

    def __enter__(self) -> SubscriberGroup:
        try:
            for proc, quota in zip(self.procs, self.quotas, strict=True):
                self._held.enter_context(quota)
                proc.start()
                assert proc.pid is not None
                quota.add(proc.pid)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for proc in self.procs:
            if proc.pid is None:  # never started
                continue
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        self.throttled_s = round(sum(q.throttled_seconds() for q in self.quotas), 2)
        self._held.close()

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


def _layout(subscribers: int) -> tuple[int, int, float]:
    """Channels, processes and heartbeat interval for ``subscribers`` subscribers."""
    channels = subscribers if subscribers <= 100 else math.ceil(subscribers / STREAMS_PER_CHANNEL)
    processes = math.ceil(subscribers / SUBSCRIBERS_PER_PROCESS)
    heartbeat = 0.2 if subscribers <= 100 else 1.0
    return channels, processes, heartbeat


@dataclass
class _Run:
    """One fan-out run as measured: the writer's phase and the subscribers' reports."""

    subscribers: int
    channels: int
    writer: PhaseSummary
    reports: list[SubscriberReport]
    t_go: int
    server_cpu: float
    errors: list[str]
    quota: str
    throttled_s: float


def _run(
    server: ServerProcess,
    subscribers: int,
    spec: ClientSpec,
    label: str,
    drain_seconds: float,
    *,
    batches: bool,
    quota_cores: float = 0.0,
    record_every: int = 1,
) -> _Run:
    """The writer's creates, then ``subscribers`` subscribers from the latest event, then
    the writer's transitions (and its end marker); waits up to ``drain_seconds`` after
    the writer for every subscriber to reach the marker."""
    channels, processes, heartbeat = _layout(subscribers)
    errors: list[str] = []
    with ClientGroup(spec) as group:
        group.run_phase(f"{label}: writer's creates", [server])
        with SubscriberGroup(
            server.target,
            subscribers,
            channels,
            processes,
            heartbeat,
            max_events_per_message=MAX_EVENTS_PER_MESSAGE if batches else 0,
            record_every=record_every,
            quota_cores=quota_cores,
        ) as subs:
            if quota_cores > 0:
                progress(f"{label}: subscriber processes: {subs.quota_note}")
            starts = {s for seqs in subs.collect("ready", 120) for s in seqs}
            if len(starts) != 1:
                errors.append(f"subscribers started at different sequences: {sorted(starts)}")
            cpu0 = server.cpu_seconds()
            t_go = time.time_ns()
            writer = group.run_phase(f"{label}: writer", [server])
            drain = threading.Timer(drain_seconds, subs.stop.set)
            drain.start()
            try:
                reports: list[SubscriberReport] = subs.collect("done", drain_seconds + 40)
            finally:
                drain.cancel()
            server_cpu = server.cpu_seconds() - cpu0
        quota = subs.quota_note
    if writer.errors:
        errors.append(f"writer: {writer.errors} errors, first: {writer.first_error}")
    return _Run(
        subscribers=subscribers,
        channels=channels,
        writer=writer,
        reports=reports,
        t_go=t_go,
        server_cpu=server_cpu,
        errors=errors,
        quota=quota,
        throttled_s=subs.throttled_s,
    )


@dataclass
class _Delivered:
    """What the subscribers of a run received, checked."""

    deliveries: int
    expected: int
    seconds: float
    deliveries_per_s: float
    latency: dict[str, float]
    latency_samples: int
    latency_subscribers: int
    per_message: dict[str, float]
    subscriber_cpu_pct: float
    server_cpu_pct: float
    errors: list[str]


def _delivered(run: _Run, server: ServerProcess) -> _Delivered:
    """Every event once, in order, to every subscriber; latencies from the commits."""
    errors = list(run.errors)
    reports = run.reports
    commits = CommitTimes(server.counters().get("commit_times", []))
    latencies: list[float] = []
    missing_commit = 0
    sizes: collections.Counter[int] = collections.Counter()
    for report in reports:
        errors.extend(report.errors)
        errors.extend(report.not_done)
        sizes.update(report.message_sizes)
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
    end = max((r.last_receipt_ns for r in reports), default=run.t_go)
    secs = max((end - run.t_go) / 1e9, 1e-9)
    return _Delivered(
        deliveries=deliveries,
        expected=expected,
        seconds=round(secs, 3),
        deliveries_per_s=round(deliveries / secs, 1),
        latency=latency_summary(latencies),
        latency_samples=len(latencies),
        latency_subscribers=sum(r.recording for r in reports),
        per_message=events_per_message(sizes),
        subscriber_cpu_pct=round(100 * sum(r.cpu for r in reports) / secs, 1),
        server_cpu_pct=round(100 * run.server_cpu / secs, 1),
        errors=capped(errors),
    )


def per_message_text(per_message: dict[str, float]) -> str:
    """``12.3 events/message (p50 1, p99 1000, max 1000)``, or ``-`` without messages."""
    if not per_message.get("messages"):
        return "-"
    return (
        f"{per_message['mean']:,.1f} events/message (p50 {per_message['p50']:.0f}, p99 "
        f"{per_message['p99']:.0f}, max {per_message['max']:.0f})"
    )


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
    #: Whether the subscribers asked for several events per message.
    batches: bool
    #: Messages that carried events, and events per message (mean, p50, p99, max).
    events_per_message: dict[str, float]
    complete: bool
    errors: list[str]


def run_fanout(
    server: ServerProcess,
    subscribers: int,
    events: int,
    rate: float,
    seconds: float,
    mode: str,
    batches: bool = True,
) -> FanoutSummary:
    """``events`` transitions by a writer (8 in flight; ``rate`` events/s, 0 unpaced);
    with ``batches`` the subscribers ask for up to MAX_EVENTS_PER_MESSAGE a message."""
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
    label = f"fan-out {mode}, {subscribers} subscribers"
    run = _run(server, subscribers, spec, label, seconds + 20, batches=batches)
    got = _delivered(run, server)
    summary = FanoutSummary(
        mode=mode,
        subscribers=subscribers,
        processes=len(run.reports),
        channels=run.channels,
        events=run.writer.ops,
        writer_rate=run.writer.rate,
        writer_rate_limit=rate,
        target_deliveries_per_s=rate * subscribers,
        deliveries=got.deliveries,
        expected_deliveries=got.expected,
        seconds=got.seconds,
        deliveries_per_s=got.deliveries_per_s,
        p50_ms=got.latency["p50_ms"],
        p99_ms=got.latency["p99_ms"],
        max_ms=got.latency["max_ms"],
        latency_samples=got.latency_samples,
        client_cpu_pct=got.subscriber_cpu_pct,
        server_cpu_pct=got.server_cpu_pct,
        batches=batches,
        events_per_message=got.per_message,
        complete=not got.errors,
        errors=got.errors,
    )
    progress(
        f"{label}: {summary.deliveries_per_s:,.0f} deliveries/s ({summary.deliveries} in "
        f"{summary.seconds:.1f} s; writer {summary.events} events at "
        f"{summary.writer_rate:,.0f}/s), commit-to-receipt p50 {summary.p50_ms:.1f} ms, "
        f"p99 {summary.p99_ms:.1f} ms, max {summary.max_ms:.1f} ms; "
        f"{per_message_text(got.per_message)}"
        f"{'' if batches else ' (batches not asked)'}, "
        f"{'complete' if summary.complete else f'{len(summary.errors)} ERRORS'}"
    )
    for error in summary.errors:
        progress(f"  ERROR: {error}")
    return summary


# -- the writer's rate beside live subscribers (issue 24) -----------------------------------


@dataclass(frozen=True)
class WriterRateSizes:
    """The writer-rate phase: subscriber counts, events, time limits, the quota."""

    subscribers: tuple[int, ...] = (100, 1000)
    #: The writer's transitions alone and up to 100 subscribers, and above 100: every
    #: subscriber receives every one, and the subscribers must drain them in time.
    events: tuple[int, int] = (10_000, 5_000)
    seconds: float = 10.0
    #: After the writer, how long the subscribers have to receive every event.
    drain_seconds: float = 240.0
    in_flight: int = 16
    #: CPU of each subscriber process (cores; 0: no quota).
    quota_cores: float = 0.3
    #: A fresh server with ``--processes N`` for each N.
    server_processes: tuple[int, ...] = (1,)
    #: Rounds on each server, each the writer alone then beside each subscriber
    #: count; a count's figures are those of its round of median ratio (the writer's
    #: rate alone moves by a tenth from one run to the next on a shared machine).
    rounds: int = 3

    @classmethod
    def quick(cls) -> WriterRateSizes:
        return cls(events=(4_000, 2_000), seconds=4.0, drain_seconds=90.0, rounds=1)


@dataclass
class WriterRateRun:
    """The writer's rate with ``subscribers`` live subscribers (0: alone) on a server
    of ``server_processes`` processes, and what the subscribers received."""

    server_processes: int
    subscribers: int
    subscriber_processes: int
    channels: int
    batches: bool
    events: int
    writer_rate: float
    #: writer_rate / the writer's rate alone on the same server.
    ratio: float
    writer_p50_ms: float
    writer_p99_ms: float
    writer_cpu_pct: float
    #: Server CPU during the writer's transitions.
    server_cpu_pct: float
    deliveries: int
    expected_deliveries: int
    #: From the writer's start to the last receipt.
    seconds: float
    deliveries_per_s: float
    events_per_message: dict[str, float]
    p50_ms: float
    p99_ms: float
    max_ms: float
    latency_samples: int
    latency_subscribers: int
    subscriber_cpu_pct: float
    subscriber_throttled_s: float
    quota: str
    complete: bool
    errors: list[str]
    #: Every round's ratio (alone: every round's rate), in the order run.
    rounds: list[float] = field(default_factory=list)


def _median_round(runs: list[WriterRateRun]) -> WriterRateRun:
    """The round of median ratio (alone: median rate), carrying every round's
    figure; complete only if every round was."""
    alone = not runs[0].subscribers
    figure = [r.writer_rate if alone else r.ratio for r in runs]
    middle = statistics.median_low(figure)
    chosen = runs[figure.index(middle)]
    return replace(
        chosen,
        rounds=figure,
        complete=all(r.complete for r in runs),
        errors=[e for r in runs for e in r.errors],
    )


def _writer_spec(
    server: ServerProcess, sizes: WriterRateSizes, events: int, tag: str
) -> ClientSpec:
    return ClientSpec(
        client="raw",
        targets=(server.target,),
        phases=(
            Phase("create", 16, seconds=90),
            Phase("transition", sizes.in_flight, max_ops=events, seconds=sizes.seconds),
        ),
        tag=tag,
        sentinel=True,
    )


def run_writer_rate(
    server: ServerProcess, server_processes: int, sizes: WriterRateSizes, batches: bool
) -> list[WriterRateRun]:
    """The writer alone, then with each subscriber count, on one (started) server.

    The writer's client process has no CPU quota: a quota would make its rate alone
    the client's limit, not the server's, and hide a slower server behind it (the
    ratio would stay near 1). Its demand is the same in every run and its CPU is
    reported (writer CPU). The subscriber processes are held to ``quota_cores`` each,
    so that watchers cannot take the server's CPU beyond that share: what the writer
    loses beside them is the server's own fan-out work.
    """
    name = f"{server_processes} server process{'es' if server_processes > 1 else ''}"
    by_count: dict[int, list[WriterRateRun]] = {}
    for number in range(1, sizes.rounds + 1):
        of = f" (round {number} of {sizes.rounds})" if sizes.rounds > 1 else ""
        for row in _writer_rate_round(server, server_processes, sizes, batches, name, of):
            by_count.setdefault(row.subscribers, []).append(row)
    out = [_median_round(rows) for rows in by_count.values()]
    for row in out[1:]:
        progress(
            f"writer rate, {name}, {row.subscribers} subscribers: ratio {row.ratio:.2f}, "
            f"the median of rounds {', '.join(f'{r:.2f}' for r in row.rounds)}"
        )
    return out


def _writer_rate_round(
    server: ServerProcess,
    server_processes: int,
    sizes: WriterRateSizes,
    batches: bool,
    name: str,
    of: str,
) -> list[WriterRateRun]:
    """One round: the writer alone, then beside each subscriber count."""
    out: list[WriterRateRun] = []
    alone_rate = math.nan
    for subscribers in (0, *sizes.subscribers):
        events = sizes.events[subscribers > 100]
        spec = _writer_spec(server, sizes, events, f"rate{server_processes}x{subscribers}")
        label = f"writer rate{of}, {name}, " + (
            f"{subscribers} subscribers" if subscribers else "alone"
        )
        if not subscribers:
            with ClientGroup(spec) as group:
                group.run_phase(f"{label}: creates", [server])
                writer = group.run_phase(f"{label}: writer", [server])
            errors = (
                [f"writer: {writer.errors} errors, first: {writer.first_error}"]
                if writer.errors
                else []
            )
            alone_rate = writer.rate
            nan = math.nan
            got = _Delivered(
                deliveries=0,
                expected=0,
                seconds=writer.seconds,
                deliveries_per_s=0.0,
                latency={"p50_ms": nan, "p99_ms": nan, "max_ms": nan},
                latency_samples=0,
                latency_subscribers=0,
                per_message=events_per_message({}),
                subscriber_cpu_pct=0.0,
                server_cpu_pct=writer.server_cpu_pct,
                errors=errors,
            )
            run_quota, throttled, processes, channels = "", 0.0, 0, 0
        else:
            run = _run(
                server,
                subscribers,
                spec,
                label,
                sizes.drain_seconds,
                batches=batches,
                quota_cores=sizes.quota_cores,
                record_every=max(1, subscribers // LATENCY_SUBSCRIBERS),
            )
            writer = run.writer
            got = _delivered(run, server)
            run_quota, throttled = run.quota, run.throttled_s
            processes, channels = len(run.reports), run.channels
        ratio = round(writer.rate / alone_rate, 3) if alone_rate else math.nan
        row = WriterRateRun(
            server_processes=server_processes,
            subscribers=subscribers,
            subscriber_processes=processes,
            channels=channels,
            batches=batches,
            events=writer.ops,
            writer_rate=writer.rate,
            ratio=ratio,
            writer_p50_ms=writer.p50_ms,
            writer_p99_ms=writer.p99_ms,
            writer_cpu_pct=writer.client_cpu_pct,
            server_cpu_pct=writer.server_cpu_pct,
            deliveries=got.deliveries,
            expected_deliveries=got.expected,
            seconds=got.seconds,
            deliveries_per_s=got.deliveries_per_s,
            events_per_message=got.per_message,
            p50_ms=got.latency["p50_ms"],
            p99_ms=got.latency["p99_ms"],
            max_ms=got.latency["max_ms"],
            latency_samples=got.latency_samples,
            latency_subscribers=got.latency_subscribers,
            subscriber_cpu_pct=got.subscriber_cpu_pct,
            subscriber_throttled_s=throttled,
            quota=run_quota,
            complete=not got.errors,
            errors=got.errors,
        )
        out.append(row)
        line = (
            f"{label}: writer {row.writer_rate:,.0f}/s ({row.events} transitions, "
            f"{sizes.in_flight} in flight, p99 {row.writer_p99_ms:.1f} ms)"
        )
        if subscribers:
            line += (
                f" = {row.ratio:.2f} x alone; {row.deliveries_per_s:,.0f} deliveries/s "
                f"({row.deliveries:,} in {row.seconds:.1f} s), "
                f"{per_message_text(row.events_per_message)}"
                f"{'' if batches else ' (batches not asked)'}, commit-to-receipt p50 "
                f"{row.p50_ms:,.1f} ms, p99 {row.p99_ms:,.1f} ms "
                f"({row.latency_subscribers} subscribers sampled); subscriber processes: "
                f"{row.quota}, throttled {row.subscriber_throttled_s:.1f} s"
            )
        progress(line + f", {'complete' if row.complete else f'{len(row.errors)} ERRORS'}")
        for error in row.errors:
            progress(f"  ERROR: {error}")
    return out


def run_writer_rate_phase(
    work: Path, server_src: Path | None, sizes: WriterRateSizes, batches: bool
) -> dict[str, Any]:
    """The writer-rate runs on a fresh server (SQLite) for each ``--processes N``."""
    result: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "batches": batches,
        "max_events_per_message": MAX_EVENTS_PER_MESSAGE if batches else 0,
        "servers": [],
    }
    for n in sizes.server_processes:
        server = statehouse_server(
            f"statehouse (writer rate, --processes {n})",
            f"sqlite:///{work / f'writer-rate-{n}.db'}",
            work,
            key=f"writer-rate-{n}",
            server_src=server_src,
            extra=["--processes", str(n)] if n > 1 else None,
        )
        entry: dict[str, Any] = {"server_processes": n, "runs": [], "error": ""}
        try:
            server.start()
            progress(
                f"writer rate: statehouse with {n} process{'es' if n > 1 else ''} on "
                f"{server.target}" + (f" (pids {server.child_pids})" if server.child_pids else "")
            )
            entry["runs"] = [asdict(r) for r in run_writer_rate(server, n, sizes, batches)]
        except Exception:
            entry["error"] = traceback.format_exc()
            progress(f"writer rate, --processes {n} failed:\n{entry['error']}")
            if server.proc is not None:
                progress(f"last lines of the {server.name} log:\n{server.tail()}")
        finally:
            server.stop()
        entry["ok"] = not entry["error"] and all(r["complete"] for r in entry["runs"])
        result["servers"].append(entry)
    result["quota"] = next(
        (r["quota"] for s in result["servers"] for r in s["runs"] if r["quota"]), ""
    )
    result["ok"] = all(s["ok"] for s in result["servers"])
    return result


def as_dict(summary: FanoutSummary) -> dict[str, Any]:
    return asdict(summary)
