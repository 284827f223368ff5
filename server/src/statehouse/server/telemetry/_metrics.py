"""The server's Prometheus metrics: one registry per server, every metric named once.

Two kinds of metric, by what they cost:

- **Counted on the path** (counters, histograms): an in-memory increment where
  the thing happens: an RPC ends (``api/_admission.py``), a batch commits
  (``storage/store.py``), a timer fires, retention deletes. No I/O, no lock
  beyond prometheus-client's own per value; the labelled children of the RPC
  metrics are cached so a call costs two dictionary lookups and two increments.
- **Read at scrape time** (gauges): the event log's head, the subscribers and
  their lag, the connection pools, the timers pending. Each has a callback set
  by the part that knows (:meth:`Metrics.set_gauge`), called only when
  ``/metrics`` is read; a callback that needs the database (the timers pending)
  is an async *refresher* run before the scrape (:meth:`Metrics.add_refresher`),
  bounded in time, never on a request's path.

A per-server :class:`~prometheus_client.CollectorRegistry` (never the global
one), so that several servers in one process (the tests) do not collide. With
``--processes N`` each process has its own; every sample then carries
``process="i"``, the process that answered the scrape.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["GAUGES", "Metrics"]

log = logging.getLogger("statehouse.metrics")

# ``_created`` samples double the output and no dashboard uses them.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

#: RPC latency buckets (seconds): a unary call takes from ~100 µs to seconds.
RPC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: Transaction latency buckets (seconds).
TX_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
#: Writes per group-commit batch (at most ``StoreOptions.group_commit_max``, 100).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 100, 250, 1000)
#: How long a scrape waits for its refreshers (seconds): the last values serve past it.
REFRESH_TIMEOUT = 2.0

#: A gauge's values by the values of its labels (``()`` for an unlabelled gauge).
GaugeValues = Mapping[tuple[str, ...], float]


@dataclass(frozen=True, slots=True)
class Gauge:
    """A gauge read at scrape time: its name, meaning and labels."""

    name: str
    documentation: str
    labels: tuple[str, ...] = ()


#: Every gauge, whether or not the part that sets it is running (an empty gauge
#: is still described, so a dashboard finds its name).
GAUGES: tuple[Gauge, ...] = (
    Gauge(
        "statehouse_log_head_sequence",
        "The newest sequence of the event log that this process's event hub knows of.",
    ),
    Gauge(
        "statehouse_subscribers",
        "Open Subscribe/FollowExecution streams by state: live (served from memory) or "
        "catching_up (reading the log after falling behind or from an old cursor).",
        ("state",),
    ),
    Gauge(
        "statehouse_subscriber_max_lag_events",
        "The largest lag of an open subscriber in this state, in events: the log head "
        "minus the last sequence considered for it.",
        ("state",),
    ),
    Gauge(
        "statehouse_db_connections",
        "Database connections of a pool, in_use (checked out) or idle.",
        ("pool", "state"),
    ),
    Gauge(
        "statehouse_db_connections_max",
        "The most connections a pool opens (its size plus its overflow).",
        ("pool",),
    ),
    Gauge("statehouse_thread_pool_threads", "Threads of a storage thread pool.", ("pool",)),
    Gauge(
        "statehouse_thread_pool_queued",
        "Work items waiting for a thread of a storage thread pool.",
        ("pool",),
    ),
    Gauge(
        "statehouse_timers_pending",
        "Durable timers (pause delays and timeouts, kill deadlines) waiting to fire, in the "
        "database (all processes), by kind; read when /metrics is scraped.",
        ("kind",),
    ),
    Gauge(
        "statehouse_process_start_time_seconds",
        "When this server process started (Unix time).",
    ),
)


class _Gauges(Collector):
    """The scrape-time gauges: each asks its callback, a failing one stays empty."""

    def __init__(self) -> None:
        self.callbacks: dict[str, Callable[[], GaugeValues]] = {}

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(g.name, g.documentation, labels=g.labels) for g in GAUGES]

    def collect(self) -> Iterable[Metric]:
        for gauge in GAUGES:
            family = GaugeMetricFamily(gauge.name, gauge.documentation, labels=gauge.labels)
            callback = self.callbacks.get(gauge.name)
            if callback is not None:
                try:
                    values = dict(callback())
                except Exception:  # a scrape must not fail for one gauge
                    log.exception("metric %s could not be read", gauge.name)
                    values = {}
                for labels, value in sorted(values.items()):
                    family.add_metric(list(labels), value)
            yield family


class _WithProcess(Collector):
    """Every sample of ``inner`` with ``process="i"`` added (``--processes N``)."""

    def __init__(self, inner: CollectorRegistry, process: str) -> None:
        self.inner = inner
        self.process = process

    def collect(self) -> Iterator[Metric]:
        for family in self.inner.collect():
            out = Metric(family.name, family.documentation, family.type, family.unit)
            for s in family.samples:
                out.add_sample(
                    s.name, {**s.labels, "process": self.process}, s.value, s.timestamp, s.exemplar
                )
            yield out


RpcChildren = tuple[Counter, Histogram | None]


class Metrics:
    """The metrics of one server (see the module docstring)."""

    def __init__(self, *, process: int | None = None) -> None:
        #: What the metrics are registered in (the server's own).
        self.metrics_registry = CollectorRegistry()
        r = self.metrics_registry
        self.rpcs = Counter(
            "statehouse_rpcs",
            "RPCs ended, by transport (grpc, connect), service, method and status code "
            "(streams when they end: CANCELLED when the client closed them).",
            ("transport", "service", "method", "code"),
            registry=r,
        )
        self.rpc_duration = Histogram(
            "statehouse_rpc_duration_seconds",
            "Time to answer a unary RPC, from its bytes received to its response encoded.",
            ("transport", "service", "method"),
            buckets=RPC_BUCKETS,
            registry=r,
        )
        self.state_changes = Counter(
            "statehouse_state_changes",
            "State changes committed by this process, by kind (execution, task_run) and the "
            "state entered.",
            ("kind", "state"),
            registry=r,
        )
        self.events_appended = Counter(
            "statehouse_events_appended",
            "Events appended to the log by this process's commits.",
            registry=r,
        )
        self.commit_batch = Histogram(
            "statehouse_commit_batch_writes",
            "Writes carried by one group-commit transaction.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.transaction_duration = Histogram(
            "statehouse_db_transaction_duration_seconds",
            "Database transactions, as the event loop waits for them (a thread or connection "
            "to become free included), by kind: write (one group-commit batch) or read.",
            ("kind",),
            buckets=TX_BUCKETS,
            registry=r,
        )
        self.timers_fired = Counter(
            "statehouse_timers_fired",
            "Durable timers fired by this process, by kind (PAUSE, KILL_DEADLINE).",
            ("kind",),
            registry=r,
        )
        self.retention_deleted = Counter(
            "statehouse_retention_deleted",
            "Records deleted by retention, by kind: event (the event log's compaction), "
            "execution (--retention-executions, with its task runs and metrics), request_id "
            "(--request-id-ttl).",
            ("kind",),
            registry=r,
        )
        self._gauges = _Gauges()
        r.register(self._gauges)
        started = time.time()
        self.set_gauge("statehouse_process_start_time_seconds", lambda: {(): started})
        #: What ``/metrics`` shows: the metrics, with ``process`` under ``--processes N``.
        self.registry = r
        if process is not None:
            self.label_process(process)
        self._refreshers: list[Callable[[], Awaitable[None]]] = []
        self._rpc: dict[tuple[str, str, int], RpcChildren] = {}
        self._write_tx = self.transaction_duration.labels("write")
        self._read_tx = self.transaction_duration.labels("read")
        self._state: dict[tuple[bool, str], Counter] = {}

    def label_process(self, process: int) -> None:
        """Add ``process="i"`` to every sample shown (one of ``--processes N``)."""
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_WithProcess(self.metrics_registry, str(process)))

    # -- on the path ------------------------------------------------------------------

    def rpc(self, transport: str, method: str, code: int, seconds: float | None) -> None:
        """An RPC ended: ``method`` is ``/pkg.Service/Method``, ``code`` its status code
        (0 is OK), ``seconds`` how long a unary call took (None for a stream)."""
        key = (transport, method, code)
        children = self._rpc.get(key)
        if children is None:
            service, _, name = method.lstrip("/").rpartition("/")
            counter = self.rpcs.labels(transport, service, name, code_name(code))
            # Streams are not timed: no empty histogram for them either.
            timer = None if seconds is None else self.rpc_duration.labels(transport, service, name)
            children = self._rpc[key] = (counter, timer)
        counter, histogram = children
        counter.inc()
        if seconds is not None and histogram is not None:
            histogram.observe(seconds)

    def committed(self, writes: int, seconds: float, states: Sequence[tuple[bool, str]]) -> None:
        """A group-commit batch of ``writes`` committed in ``seconds``, with an event
        for each ``(is a task run, state entered)`` of ``states``."""
        self.commit_batch.observe(writes)
        self._write_tx.observe(seconds)
        if not states:
            return
        self.events_appended.inc(len(states))
        counts: dict[tuple[bool, str], int] = {}
        for key in states:
            counts[key] = counts.get(key, 0) + 1
        for key, count in counts.items():
            child = self._state.get(key)
            if child is None:
                kind = "task_run" if key[0] else "execution"
                child = self._state[key] = self.state_changes.labels(kind, key[1])
            child.inc(count)

    def deleted(self, kind: str, count: int) -> None:
        """Retention deleted ``count`` records of ``kind`` (``event``, ``execution``,
        ``request_id``; a plural is made singular: ``executions``)."""
        if count > 0:
            self.retention_deleted.labels(kind.removesuffix("s")).inc(count)

    def read(self, seconds: float) -> None:
        """A read transaction took ``seconds``."""
        self._read_tx.observe(seconds)

    # -- at scrape time ---------------------------------------------------------------

    def set_gauge(self, name: str, callback: Callable[[], GaugeValues]) -> None:
        """Read the gauge ``name`` (one of :data:`GAUGES`) from ``callback`` at each scrape."""
        if name not in {g.name for g in GAUGES}:
            raise KeyError(f"{name} is not a gauge of GAUGES")
        self._gauges.callbacks[name] = callback

    def add_refresher(self, refresh: Callable[[], Awaitable[None]]) -> None:
        """Run ``refresh()`` (on the event loop) before each scrape, within
        :data:`REFRESH_TIMEOUT`: for a gauge that needs the database."""
        self._refreshers.append(refresh)

    async def scrape(self) -> bytes:
        """The text exposition of every metric, refreshed first."""
        if self._refreshers:
            try:
                async with asyncio.timeout(REFRESH_TIMEOUT):
                    await asyncio.gather(*(refresh() for refresh in self._refreshers))
            except Exception as exc:  # the last values serve; the scrape still answers
                log.warning("metrics refresh failed: %s", exc or type(exc).__name__)
        return prometheus_client.generate_latest(self.registry)

    def names(self) -> set[str]:
        """The name of every sample this registry can expose (``x_total``,
        ``x_bucket``, ...), whether or not it has a value yet."""
        found: set[str] = set()
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
        for family in self.metrics_registry.collect():
            found.update(family.name + s for s in suffixes.get(family.type, ("",)))
        return found


#: The text exposition's content type.
CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST

_CODE_NAMES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)


def code_name(code: int) -> str:
    """``NOT_FOUND`` for 5: the gRPC name of a status code."""
    return _CODE_NAMES[code] if 0 <= code < len(_CODE_NAMES) else "UNKNOWN"
