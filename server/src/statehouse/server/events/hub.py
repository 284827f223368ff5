"""Live fan-out of the event log to subscribers.

The log in the database is the truth; the hub tails it. Local writes hand
their committed events over directly when they continue the hub's head
(``head + 1``); anything else (a gap, another process's writes) makes the hub
read the log from its head. A poll every ``poll_interval`` catches writes of
other processes on the same database (on PostgreSQL a NOTIFY wakes it at once).

Delivery is off the request path. ``committed()`` only appends the batch to
``pending``, advances ``head`` and wakes the delivery task: a writer's latency
does not depend on how many subscribers are open. The delivery task takes the
pending batches in order, finds the candidate subscribers through an index on
their filters (by execution id, by namespace, the rest in a list), applies the
full filter, and offers the events in chunks of ``chunk_size`` subscribers,
yielding to the event loop between chunks so that requests keep being served
during a large fan-out. ``delivered`` is the last sequence offered to every
synced subscriber; ``delivered <= head``. Streams start at most
``sends_per_turn`` sends per turn of the event loop (:class:`_Pacer`), so that
a request arriving during a large fan-out waits for a few of them, not for all.
Every event is serialized once by the EventService (the same bytes go to every
stream).

Each subscriber has a bounded buffer. The hub never waits for a subscriber:
when a buffer is full the subscriber is marked *unsynced* and stops receiving
live events; it then reads the log from its own cursor until it reaches the
hub's ``head`` and switches back to live delivery (etcd's unsynced watchers).
The switch happens on the event loop with no await between the check and the
flag, so nothing is lost or repeated across it:

- Replay reads the log up to ``head`` (the committed head, ahead of
  ``delivered`` while batches are pending): the events still pending are read
  from the log, which holds them already, and the live offers of those batches
  skip them (an offer ignores sequences at or below the subscriber's cursor).
- Every batch that arrives after the switch ends above the subscriber's cursor,
  and is delivered to it because it is synced by then.
- Batches are delivered one after the other, in sequence order, so a synced
  subscriber's buffer is in order.

A synced subscriber that is no candidate for a batch had nothing in it to
receive: its heartbeat reports ``max(covered, delivered)``.

The guarantees this keeps, and how: docs/design.md, "The event stream".
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..orchestration import Event, SequenceCompacted
from ..orchestration.filters import EventFilter
from ..storage import Store, Tx
from ..telemetry import SpanLink

log = logging.getLogger("statehouse.events")


class HubClosed(Exception):
    """The hub is shutting down; streams end with UNAVAILABLE."""


class Subscription:
    """One subscriber's cursor, buffer and sync state."""

    __slots__ = (
        "buffer",
        "buffer_size",
        "closed",
        "covered",
        "delivered",
        "filter",
        "overflows",
        "synced",
        "wakeup",
    )

    def __init__(self, flt: EventFilter, cursor: int, buffer_size: int) -> None:
        self.filter = flt
        #: Everything up to this sequence was considered for this subscriber
        #: (delivered, buffered, or filtered out).
        self.covered = cursor
        self.buffer: deque[Event] = deque()
        self.buffer_size = buffer_size
        self.synced = False
        self.closed = False
        self.wakeup = asyncio.Event()
        #: Whether any event was sent yet (a cursor of 0 then means "from the start").
        self.delivered = False
        #: How many times the buffer overflowed and the subscriber fell back to the log.
        self.overflows = 0

    def offer(self, events: Iterable[Event], end: int) -> None:
        """Take live ``events`` of a batch ending at ``end`` (the events of the batch
        left out cannot match); become unsynced if they do not fit."""
        if end <= self.covered:
            return
        flt = self.filter
        buffer = self.buffer
        added = False
        for event in events:
            if event.sequence <= self.covered:
                continue
            if flt.matches(event):
                if len(buffer) >= self.buffer_size:
                    self.synced = False
                    self.overflows += 1
                    self.wakeup.set()
                    return
                buffer.append(event)
                added = True
            self.covered = event.sequence
        self.covered = end
        if added:
            self.wakeup.set()


class _Index:
    """Subscriptions by what their filters select: an event's candidates are the
    subscriptions on its execution id, those on its namespace, and the rest."""

    def __init__(self) -> None:
        self.by_execution: dict[str, set[Subscription]] = {}
        self.by_namespace: dict[str, set[Subscription]] = {}
        #: Neither an execution nor a namespace filter (scope patterns at most).
        self.rest: dict[Subscription, None] = {}

    def add(self, sub: Subscription) -> None:
        flt = sub.filter
        if flt.execution_ids:
            for execution_id in flt.execution_ids:
                self.by_execution.setdefault(execution_id, set()).add(sub)
        elif flt.namespace:
            self.by_namespace.setdefault(flt.namespace, set()).add(sub)
        else:
            self.rest[sub] = None

    def discard(self, sub: Subscription) -> None:
        flt = sub.filter
        if flt.execution_ids:
            for execution_id in flt.execution_ids:
                _discard(self.by_execution, execution_id, sub)
        elif flt.namespace:
            _discard(self.by_namespace, flt.namespace, sub)
        else:
            self.rest.pop(sub, None)

    def targets(self, batch: list[Event]) -> list[tuple[Subscription, list[Event]]]:
        """The indexed candidates of ``batch``, each with its candidate events."""
        found: dict[Subscription, list[Event]] = {}
        by_execution = self.by_execution
        by_namespace = self.by_namespace
        for event in batch:
            for index, key in ((by_execution, event.execution_id), (by_namespace, event.namespace)):
                subs = index.get(key)
                if subs:
                    for sub in subs:
                        events = found.get(sub)
                        if events is None:
                            found[sub] = [event]
                        elif events[-1] is not event:
                            events.append(event)
        return list(found.items())


class _Pacer:
    """Lets at most ``per_turn`` stream sends start in one turn of the event loop.

    A send costs the event loop tens of microseconds; 5,000 streams woken by one
    event would otherwise all run in the same turn, and a request arriving then
    waits for every one of them at each of its own steps. Sends beyond the
    budget wait for the next turn, in order (FIFO), and the loop polls for I/O
    in between. Without contention a send does not wait at all.
    """

    def __init__(self, per_turn: int) -> None:
        self.per_turn = max(1, per_turn)
        self.used = 0
        self.waiters: deque[asyncio.Future[None]] = deque()
        self._scheduled = False

    def turn(self) -> asyncio.Future[None] | None:
        """None: go ahead; else a future to await (resolved in a later turn)."""
        if self.used < self.per_turn and not self.waiters:
            self.used += 1
            self._schedule()
            return None
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        self._schedule()
        return waiter

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        self._scheduled = False
        self.used = 0
        waiters = self.waiters
        while waiters and self.used < self.per_turn:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self.used += 1
        if self.used or waiters:
            self._schedule()


def _sqlite_uri(store: Store) -> str | None:
    """A read-only URI of a SQLite store's file, None for other databases and in-memory ones."""
    url = getattr(store, "url", None)
    if url is None or url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve().as_uri() + "?mode=ro"


def _discard(index: dict[str, set[Subscription]], key: str, sub: Subscription) -> None:
    subs = index.get(key)
    if subs is not None:
        subs.discard(sub)
        if not subs:
            del index[key]


@dataclass(frozen=True, slots=True)
class Retention:
    """How much of the event log to keep; 0 means no limit."""

    #: Keep at most this many of the newest events.
    max_events: int = 0
    #: Delete events older than this many seconds.
    max_age_seconds: float = 0.0
    #: How often to compact the log (seconds).
    interval: float = 60.0

    @property
    def enabled(self) -> bool:
        return self.max_events > 0 or self.max_age_seconds > 0


class EventHub:
    """Tails the event log and fans it out to subscriptions."""

    def __init__(
        self,
        store: Store,
        *,
        buffer_size: int = 1024,
        page_size: int = 500,
        poll_interval: float = 0.5,
        retention: Retention | None = None,
        chunk_size: int = 64,
        sends_per_turn: int = 16,
        change_poll_interval: float = 0.0,
    ) -> None:
        self.store = store
        self.buffer_size = buffer_size
        self.page_size = page_size
        self.poll_interval = poll_interval
        self.retention = retention or Retention()
        #: Subscribers offered a batch between two yields to the event loop.
        self.chunk_size = max(1, chunk_size)
        #: Stream sends started per turn of the event loop (see :class:`_Pacer`).
        self._pacer = _Pacer(sends_per_turn)
        #: SQLite: how often to look at the file's change counter (0: off).
        self.change_poll_interval = change_poll_interval
        self._next_compaction = 0.0
        #: The last sequence handed to the hub (committed; maybe not yet delivered).
        self.head = 0
        #: The last sequence offered to every synced subscriber.
        self.delivered = 0
        #: Batches accepted (``head`` covers them) and not yet delivered, in order.
        self.pending: deque[list[Event]] = deque()
        self.subscriptions: set[Subscription] = set()
        self._index = _Index()
        self.closed = False
        self._catch_up_needed = asyncio.Event()
        self._deliver_needed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._delivery: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        metrics = store.metrics
        metrics.set_gauge("statehouse_log_head_sequence", lambda: {(): self.head})
        metrics.set_gauge("statehouse_subscribers", self._subscriber_counts)
        metrics.set_gauge("statehouse_subscriber_max_lag_events", self._subscriber_lags)
        self._deleted = metrics.retention_deleted.labels("event")
        self._tracing = store.tracing
        #: Traces on: the span of the commit of each pending batch, by its last sequence
        #: (its fan-out's span links to it; docs/design.md, "Observability").
        self._commit_spans: dict[int, SpanLink] = {}

    # -- gauges, read at scrape time ----------------------------------------------

    def _subscriber_counts(self) -> dict[tuple[str, ...], float]:
        live = sum(1 for sub in self.subscriptions if sub.synced)
        return {("live",): live, ("catching_up",): len(self.subscriptions) - live}

    def _subscriber_lags(self) -> dict[tuple[str, ...], float]:
        """The largest lag of a subscriber in each state: the head minus what was
        considered for it (a live subscriber's lag is what waits in the hub's
        pending batches and its buffer)."""
        lags: dict[tuple[str, ...], float] = {("live",): 0.0, ("catching_up",): 0.0}
        head = self.head
        for sub in self.subscriptions:
            key = ("live",) if sub.synced else ("catching_up",)
            lag = max(0, head - sub.covered + len(sub.buffer))
            if lag > lags[key]:
                lags[key] = lag
        return lags

    async def start(self) -> None:
        self.head = await self.store.read(lambda tx: tx.last_sequence())
        self.delivered = self.head
        self.store.add_commit_listener(self.committed)
        loop = asyncio.get_running_loop()
        self.store.listen_for_commits(
            lambda sequence: loop.call_soon_threadsafe(self._notified, sequence)
        )
        self._task = asyncio.create_task(self._tail(), name="statehouse-event-hub")
        self._delivery = asyncio.create_task(self._deliver(), name="statehouse-event-delivery")
        uri = _sqlite_uri(self.store)
        if uri is not None and self.change_poll_interval > 0:
            self._watch = asyncio.create_task(self._watch_file(uri), name="statehouse-event-watch")

    def _notified(self, sequence: int) -> None:
        """Another commit was announced: read the log unless it is already dispatched."""
        if sequence == 0 or sequence > self.head:
            self._catch_up_needed.set()

    async def close(self) -> None:
        self.closed = True
        for sub in list(self.subscriptions):
            sub.closed = True
            sub.wakeup.set()
        for task in (self._task, self._delivery, self._watch):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # -- input ----------------------------------------------------------------

    def committed(self, batch: list[Event]) -> None:
        """Called on the loop after a local commit, with its events in order.

        O(1) for the writer: the batch is queued for the delivery task.
        """
        if not batch or batch[-1].sequence <= self.head:
            return
        if batch[0].sequence == self.head + 1:
            if self._tracing.enabled:
                link = self._tracing.current_span_context()
                if link is not None:
                    self._commit_spans[batch[-1].sequence] = link
            self._accept(batch)
        else:
            self._catch_up_needed.set()

    def _accept(self, batch: list[Event]) -> None:
        self.head = batch[-1].sequence
        self.pending.append(batch)
        self._deliver_needed.set()

    async def _deliver(self) -> None:
        """Offer the pending batches, in order, to the synced subscribers they match."""
        while True:
            await self._deliver_needed.wait()
            self._deliver_needed.clear()
            while self.pending:
                batch = self.pending.popleft()
                try:
                    if self._commit_spans:
                        await self._offer_traced(batch)
                    else:
                        await self._offer(batch)
                finally:
                    self.delivered = batch[-1].sequence

    async def _offer_traced(self, batch: list[Event]) -> None:
        """Offer a batch, within a span linked to its commit's when it has one (a batch
        committed for a traced request)."""
        link = self._commit_spans.pop(batch[-1].sequence, None)
        if link is None:
            await self._offer(batch)
            return
        with self._tracing.fanout(link, len(batch)) as span:
            span.set_attribute("statehouse.subscribers.offered", await self._offer(batch))

    async def _offer(self, batch: list[Event]) -> int:
        """Offer ``batch`` to its synced subscribers; return how many were offered it."""
        end = batch[-1].sequence
        chunk = self.chunk_size
        offered = 0
        targets = self._index.targets(batch)
        rest = list(self._index.rest) if self._index.rest else []
        for sub, events in targets:
            if sub.synced:
                sub.offer(events, end)
                offered += 1
                if offered % chunk == 0:
                    await asyncio.sleep(0)
        for sub in rest:
            if sub.synced:
                sub.offer(batch, end)
                offered += 1
                if offered % chunk == 0:
                    await asyncio.sleep(0)
        return offered

    async def _tail(self) -> None:
        while not self.closed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._catch_up_needed.wait()
            self._catch_up_needed.clear()
            try:
                await self._read_from_log()
                if self.retention.enabled and time.monotonic() >= self._next_compaction:
                    self._next_compaction = time.monotonic() + self.retention.interval
                    await self.compact()
            except Exception:  # a database hiccup: try again at the next poll
                log.exception("reading or compacting the event log failed")

    async def _watch_file(self, uri: str) -> None:
        """Read the log soon after any other connection commits to the SQLite file.

        ``PRAGMA data_version`` changes when another connection (this process's
        writer included) has committed; it costs a few microseconds, so it runs on
        the event loop every ``change_poll_interval`` seconds. Another process's
        events then arrive within about that delay instead of the full poll.
        """
        conn: sqlite3.Connection | None = None
        last = None
        try:
            while not self.closed:
                await asyncio.sleep(self.change_poll_interval)
                try:
                    if conn is None:
                        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=0)
                    version = conn.execute("PRAGMA data_version").fetchone()[0]
                except sqlite3.Error:  # busy or gone for a moment: read the log anyway
                    version = None
                    if conn is not None:
                        conn.close()
                        conn = None
                if version is None or version != last:
                    last = version
                    self._catch_up_needed.set()
        finally:
            if conn is not None:
                conn.close()

    async def compact(self) -> int:
        """Apply the retention now; return the last deleted sequence (0 if none)."""
        older_than = None
        if self.retention.max_age_seconds > 0:
            older_than = int((time.time() - self.retention.max_age_seconds) * 1_000_000)
        keep_last = self.retention.max_events

        def compact(tx: Tx) -> tuple[int, int]:
            first = tx.first_available_sequence()
            cutoff = tx.compact_events(keep_last=keep_last, older_than_us=older_than)
            # Sequences have no gaps and only a prefix is deleted: the count follows.
            return cutoff, max(0, cutoff - first + 1)

        cutoff, deleted = await self.store.write(compact)
        if deleted:
            self._deleted.inc(deleted)
        if cutoff:
            log.info("event log compacted through sequence %d", cutoff)
        return cutoff

    async def _read_from_log(self) -> None:
        while True:
            batch = await self.store.read(
                functools.partial(Tx.read_events, after=self.head, limit=self.page_size)
            )
            batch = [e for e in batch if e.sequence > self.head]
            if batch:
                self._accept(batch)
            if len(batch) < self.page_size:
                return

    # -- subscriptions --------------------------------------------------------

    def latest(self) -> int:
        """The newest sequence committed that the hub knows of (a cursor for from_latest)."""
        return self.head

    async def subscribe(
        self, flt: EventFilter, after: int, heartbeat_interval: float | None
    ) -> AsyncIterator[Event | int]:
        """Yield the events after ``after`` matching ``flt``, then live ones, forever.

        Yields an ``int`` (the covered sequence) as a heartbeat when nothing was
        sent for ``heartbeat_interval`` seconds. Raises :class:`HubClosed` on
        shutdown.
        """
        sub = Subscription(flt, after, self.buffer_size)
        self.subscriptions.add(sub)
        self._index.add(sub)
        buffer = sub.buffer
        pacer = self._pacer
        try:
            while True:
                if sub.closed or self.closed:
                    raise HubClosed()
                if buffer:
                    # Drain what is buffered without waiting for the hub between
                    # events (only for the loop's turn when many streams send).
                    waiter = pacer.turn()
                    if waiter is not None:
                        await waiter  # only this task takes from the buffer
                        if sub.closed or self.closed:
                            raise HubClosed()
                    sub.delivered = True
                    yield buffer.popleft()
                    continue
                if not sub.synced:
                    async for event in self._replay(sub):
                        sub.delivered = True
                        yield event
                    continue
                sub.wakeup.clear()
                try:
                    async with asyncio.timeout(heartbeat_interval):
                        await sub.wakeup.wait()
                except TimeoutError:
                    # The timeout may fire in the same turn as a live batch that was
                    # just buffered: then ``covered`` includes undelivered events, and
                    # a heartbeat must wait until they are sent.
                    if not buffer and sub.synced:
                        # Batches this subscriber was no candidate for had nothing for it.
                        sub.covered = max(sub.covered, self.delivered)
                        yield sub.covered
        finally:
            self.subscriptions.discard(sub)
            self._index.discard(sub)

    async def _replay(self, sub: Subscription) -> AsyncIterator[Event]:
        """Serve an unsynced subscriber from the log until it reaches the head."""
        while not sub.synced:
            if sub.closed or self.closed:
                raise HubClosed()
            # The committed head, pending batches included: they are in the log.
            upto = self.head
            if sub.covered >= upto:
                # No await between this check and the flag: every batch accepted
                # after it ends above the cursor and is offered to this subscriber;
                # the pending ones it covers already are skipped by ``offer``.
                sub.synced = True
                return
            page, first = await self.store.read(
                functools.partial(
                    Tx.read_events_page,
                    after=sub.covered,
                    limit=self.page_size,
                    upto=upto,
                    flt=sub.filter,
                )
            )
            if sub.covered + 1 < first:
                contiguous = bool(page) and page[0].sequence == sub.covered + 1
                if sub.covered == 0 and not sub.delivered:
                    # after_sequence = 0 means "all retained history".
                    page = [e for e in page if e.sequence >= first]
                    sub.covered = first - 1
                elif not contiguous:
                    raise SequenceCompacted(sub.covered, first)
            for event in page:
                sub.covered = event.sequence
                yield event
            if len(page) < self.page_size:
                sub.covered = max(sub.covered, upto)
