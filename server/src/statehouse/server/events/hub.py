"""Live fan-out of the event log to subscribers.

The log in the database is the truth; the hub tails it. Local writes hand
their committed events over directly when they continue the hub's head
(``head + 1``); anything else (a gap, another process's writes) makes the hub
read the log from its head. The store announces other processes' commits
(NOTIFY on PostgreSQL, the file's change counter watched on a thread of the
SQLite backend), and a poll every ``poll_interval`` catches anything missed.

Requests come first. Writers never wait for subscribers, and the event loop's
time for deliveries is bounded:

- ``committed()`` only appends the batch to ``pending`` and to the in-memory
  tail of the log (``recent``), advances ``head`` and wakes the delivery task:
  a writer's latency does not depend on how many subscribers are open.
- Followers (subscribers of everything or of one namespace) are handed
  nothing: they read ``recent`` from their cursor when they send, and a batch
  only wakes the idle ones it concerns. The delivery task offers each pending
  batch to the other candidate subscribers, found through an index on their
  filters (by execution id, by namespace, the rest in a list). An offer is
  O(1) per subscriber whose filter takes every candidate event: the batch's
  list itself is appended to its buffer, shared by every such subscriber. The
  task yields to the event loop whenever it has used its slice of loop time
  (:class:`.pacing.Pacer`'s budget) or ``chunk_size`` subscribers.
- Stream sends take turns from :class:`.pacing.Pacer`, which lets them use at most a
  budget of event-loop time per turn of the loop, smaller while unary calls
  are in flight (``priority.small_calls``). Sends beyond the budget wait, in
  order, for the next turn. A subscriber that waits for its turn meanwhile
  accumulates events; when its turn comes, everything it has (up to its
  ``max_events`` per message) goes in one message. Under load, every
  subscriber is behind, so the number of stream writes follows the loop's
  spare time, not the number of events.

Each subscriber has a bounded buffer (``buffer_size`` events). The hub never
waits for a subscriber: when a batch does not fit, the subscriber is marked
*unsynced* and stops receiving live events; it then reads from its own cursor
(from ``recent`` while its cursor is still in memory, else from the log) until
it reaches the hub's ``head`` and switches back to live delivery (etcd's
unsynced watchers). The switch happens on the event loop with no await between
the check and the flag, so nothing is lost or repeated across it:

- Replay reads up to ``head`` (the committed head, ahead of ``delivered``
  while batches are pending): the events still pending are read from memory
  or the log, which hold them already, and the live offers of those batches
  skip them (an offer ignores sequences at or below the subscriber's cursor).
- Every batch that arrives after the switch ends above the subscriber's cursor,
  and is delivered to it because it is synced by then.
- Batches are delivered one after the other, in sequence order, so a synced
  subscriber's buffer is in order.

A synced subscriber that is no candidate for a batch had nothing in it to
receive: its heartbeat reports ``max(covered, delivered)``.

The guarantees this keeps, and how: docs/design.md, "The event stream".

Why one file of about 700 lines: the log's tail, the offers and the streams
read and write one state (``head``, ``delivered``, ``recent``, ``pending``, each
subscriber's flags) whose invariants above hold only together; the pacing of
sends (``pacing.py``) and the subscribers with their index
(``subscriptions.py``) are modules of their own.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

from ..loops import Every, cancel_and_wait
from ..orchestration import Event, SequenceCompacted
from ..orchestration.filters import EventFilter
from ..storage import StorageUnavailable, Store, Tx, partitions
from ..telemetry import SpanLink
from . import pacing
from .pacing import Pacer, slot_of
from .subscriptions import SubscriberIndex, Subscription, selects_everything

log = logging.getLogger("statehouse.events")

#: A subscriber that takes several events per message gets bursts of this many
#: messages, then at most MESSAGES_PER_SECOND (what arrives meanwhile goes together).
MESSAGE_BURST = 20
MESSAGES_PER_SECOND = 200.0
#: Scanned windows kept for subscribers catching up from the same cursor (``_from_memory``).
WINDOWS_KEPT = 64
#: Pending batches are handed to subscribers together, up to about this many events.
MERGE_EVENTS = 1000


class HubClosed(Exception):
    """The hub is shutting down; streams end with UNAVAILABLE."""


@dataclass(frozen=True, slots=True)
class Retention:
    """How much of the event log to keep; 0 means no limit."""

    #: Keep at most this many of the newest events.
    max_events: int = 0
    #: Delete events older than this many seconds.
    max_age_seconds: float = 0.0

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
        chunk_size: int = 256,
        memory_events: int = 16_384,
        budget: float = pacing.IDLE_BUDGET,
        busy_budget: float = pacing.BUSY_BUDGET,
    ) -> None:
        self.store = store
        self.buffer_size = buffer_size
        self.page_size = page_size
        self.poll_interval = poll_interval
        self.retention = retention or Retention()
        #: At most this many subscribers offered a batch between two yields to the loop.
        self.chunk_size = max(1, chunk_size)
        #: Stream sends and offers under a budget of loop time (see :class:`.pacing.Pacer`).
        self._pacer = Pacer(budget, busy_budget)
        #: Called on the loop with each batch the hub accepts, local or from the log
        #: (``events/work.py``: claims waiting for work).
        self.batch_listeners: list[Callable[[list[Event]], None]] = []
        #: Events taken from other processes' announcements (NOTIFY), not the log.
        self.announced = 0
        #: Whoever needs other processes' events besides the subscriptions (claims
        #: waiting for work): while neither does, the hub moves its head past them
        #: unread (:meth:`_skip_to`).
        self.interest: list[Callable[[], bool]] = []
        #: Sequences moved past unread, for lack of anyone to deliver them to.
        self.skipped = 0
        #: The newest events, contiguous, ``recent[0]`` at ``recent_first``: catching up
        #: from memory instead of the log (at most about 2 x ``memory_events``).
        self.memory_events = max(1, memory_events)
        self.recent: list[Event] = []
        self.recent_first = 1
        #: What :meth:`_from_memory` found for a filter after a cursor, shared by the
        #: subscribers that catch up from the same cursor with equal filters (after an
        #: overflow, all of a crowd's subscribers do): a window scanned once, not once
        #: per subscriber. Events never change, so an entry stays true; it may cover
        #: less than the head has since reached, and the subscriber reads on from it.
        self._windows: dict[tuple[EventFilter, int], tuple[list[Event], int]] = {}
        #: The last sequence handed to the hub (committed; maybe not yet delivered).
        self.head = 0
        #: The last sequence offered to every synced subscriber.
        self.delivered = 0
        #: Batches accepted (``head`` covers them) and not yet delivered, in order.
        self.pending: deque[list[Event]] = deque()
        self.subscriptions: set[Subscription] = set()
        self._index = SubscriberIndex()
        #: Synced followers waiting for events, by the namespace they follow ("": all).
        self._idle_followers: dict[str, dict[Subscription, None]] = {}
        self.closed = False
        self._deliver_needed = asyncio.Event()
        #: Reads the log from the head (woken by a gap or another process's commit,
        #: else every ``poll_interval``). The retention (``compact``) is applied by
        #: the housekeeper's sweep.
        self._tailing = Every(
            "statehouse-event-hub",
            self._tail,
            poll_interval,
            what="reading the event log",
            wait_first=True,
            quiet=(StorageUnavailable,),  # in the store's outage log: again at the next poll
        )
        self._delivery: asyncio.Task[None] | None = None
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
            lag = max(0, head - sub.covered + sub.buffered)
            if lag > lags[key]:
                lags[key] = lag
        return lags

    async def start(self) -> None:
        self.head = await self.store.read(lambda tx: tx.last_sequence())
        self.delivered = self.head
        self.recent_first = self.head + 1
        self.store.add_commit_listener(self.committed)
        loop = asyncio.get_running_loop()

        def wake(sequence: int, events: list[Event] | None = None) -> None:
            # On the store's thread: only news crosses to the loop (reading an int is safe).
            if sequence == 0 or sequence > self.head:
                loop.call_soon_threadsafe(self._notified, sequence, events)

        self.store.listen_for_commits(wake, self.wants_events)
        self._tailing.start()
        self._delivery = asyncio.create_task(self._deliver(), name="statehouse-event-delivery")

    def _notified(self, sequence: int, events: list[Event] | None = None) -> None:
        """Another commit was announced: taken as announced when the announcement
        carried its events and they continue the head, else read from the log
        (unless already dispatched)."""
        if sequence and sequence <= self.head:
            return
        if sequence and self._idle():
            self._skip_to(sequence)
            return
        if events and events[0].sequence == self.head + 1 and events[-1].sequence == sequence:
            self._accept(events)
            self.announced += len(events)
            return
        self._tailing.wake()

    def wants_events(self) -> bool:
        """Whether anyone here needs the events themselves: a subscription (a
        stream, a follower), or an interest (claims waiting). Read from the
        store's listener thread too (a decoding it may skip)."""
        return bool(self.subscriptions) or any(wanted() for wanted in self.interest)

    def _idle(self) -> bool:
        """Nobody needs other processes' events, and nothing is on its way to
        anyone: the head may move past events without reading them."""
        return self.delivered == self.head and not self.pending and not self.wants_events()

    def _skip_to(self, sequence: int) -> None:
        """Move the head to ``sequence``, past events nobody here needs, unread.
        The memory of recent events starts after it: a subscriber that comes later
        and asks for older events reads them from the log."""
        self.skipped += sequence - self.head
        self.head = self.delivered = sequence
        self.recent.clear()
        self.recent_first = sequence + 1

    async def close(self) -> None:
        self.closed = True
        for sub in list(self.subscriptions):
            sub.closed = True
            idle = sub.wake()
            if idle is not None:
                idle.set_result(0)  # no slot: the stream ends
        await self._tailing.close()
        await cancel_and_wait(self._delivery)

    # -- input ----------------------------------------------------------------

    def committed(self, batch: list[Event]) -> None:
        """Called on the loop after a local commit, with its events in order.

        O(1) for the writer: the batch is queued for the delivery task.
        """
        if not batch or batch[-1].sequence <= self.head:
            return
        if batch[0].sequence > self.head + 1 and self._idle():
            # Another process's events in between, which nobody here needs.
            self._skip_to(batch[0].sequence - 1)
        if batch[0].sequence == self.head + 1:
            if self._tracing.enabled:
                link = self._tracing.current_span_context()
                if link is not None:
                    self._commit_spans[batch[-1].sequence] = link
            self._accept(batch)
        else:
            self._tailing.wake()

    def _accept(self, batch: list[Event]) -> None:
        self.head = batch[-1].sequence
        recent = self.recent
        recent.extend(batch)
        if len(recent) > 2 * self.memory_events:
            drop = len(recent) - self.memory_events
            del recent[:drop]
            self.recent_first += drop
        self.pending.append(batch)
        self._deliver_needed.set()
        for listener in self.batch_listeners:
            listener(batch)

    async def _deliver(self) -> None:
        """Offer the pending batches, in order, to the synced subscribers they match."""
        while True:
            await self._deliver_needed.wait()
            self._deliver_needed.clear()
            pending = self.pending
            while pending:
                batch = pending.popleft()
                if not self._commit_spans:
                    # Batches that queued up while the last was handed over go
                    # together: one offer per subscriber for all of them.
                    while pending and len(batch) < MERGE_EVENTS:
                        batch = batch + pending.popleft()
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
        """Offer ``batch`` to its synced subscribers; return how many were offered it.

        Yields to the loop after ``chunk_size`` subscribers or the pacer's
        allowance of loop time, whichever comes first."""
        end = batch[-1].sequence
        chunk = self.chunk_size
        pacer = self._pacer
        clock = time.perf_counter
        offered = 0
        since_yield = 0
        started = clock()
        for sub, events in self._targets(batch):
            # A follower (None) reads ``recent`` itself: it only needs waking.
            if events is None or sub.offer(events, end):
                idle = sub.wake()
                if idle is not None:
                    pacer.enqueue(idle)
            offered += 1
            since_yield += 1
            if since_yield >= chunk or clock() - started >= pacer.allowance():
                await asyncio.sleep(pacer.rest(clock() - started))
                since_yield = 0
                started = clock()
        return offered

    def _targets(self, batch: list[Event]) -> Iterator[tuple[Subscription, list[Event] | None]]:
        """The synced subscribers ``batch`` concerns, each with its matching events
        (one list shared by subscribers whose filters select the same); first the
        idle followers of what it holds, with None (they read ``recent`` themselves).

        An idle follower was at the head when it began to wait, and no batch since
        held anything it follows (it would have been woken): its cursor moves to
        just before this batch, so that it reads this batch, not what it skipped."""
        idle = self._idle_followers
        if idle:
            woken = [idle.pop("", None)]
            if idle:
                woken.extend(
                    idle.pop(ns, None) for ns in {e.namespace for e in batch} if ns in idle
                )
            before = batch[0].sequence - 1
            for followers in woken:
                for sub in followers or ():
                    if sub.covered < before:
                        sub.covered = before
                    yield sub, None
        for sub, events in self._index.targets(batch):
            if sub.synced:
                if not sub.plain:
                    events = sub.filter.select(events)
                yield sub, events
        rest = self._index.rest
        if rest:
            filtered: dict[EventFilter, list[Event]] = {}
            for sub in list(rest):
                if not sub.synced:
                    continue
                if sub.plain:
                    yield sub, batch
                    continue
                flt = sub.filter
                selected = filtered.get(flt)
                if selected is None:
                    selected = filtered[flt] = flt.select(batch)
                yield sub, selected

    async def _tail(self) -> None:
        await self._read_from_log()

    async def compact(self) -> int:
        """Apply the retention now; return the last deleted sequence (0 if none)."""
        older_than = None
        if self.retention.max_age_seconds > 0:
            older_than = int((time.time() - self.retention.max_age_seconds) * 1_000_000)
        keep_last = self.retention.max_events
        # PostgreSQL: the partitions the retention empties entirely are dropped first,
        # in a transaction of their own; the rows left are the boundary partition's.
        # (The log too busy to drop them now: all of it waits for the next round.)
        dropped = await partitions.drop_expired_partitions(
            self.store, keep_last=keep_last, older_than_us=older_than
        )
        if dropped is None:
            return 0
        dropped_through, dropped_count = dropped

        cutoff, deleted = await self.store.write(
            functools.partial(_compact, keep_last=keep_last, older_than_us=older_than)
        )
        cutoff, deleted = max(cutoff, dropped_through), deleted + dropped_count
        if deleted:
            self._deleted.inc(deleted)
        if cutoff:
            # What the log no longer holds is not served from memory either.
            drop = min(len(self.recent), max(0, cutoff + 1 - self.recent_first))
            if drop:
                del self.recent[:drop]
                self.recent_first += drop
            log.info("event log compacted through sequence %d", cutoff)
        return cutoff

    async def _read_from_log(self) -> None:
        if self._idle():
            # Nobody needs the events: where the log ends is enough.
            last = await self.store.read(Tx.last_sequence)
            if last > self.head and self._idle():
                self._skip_to(last)
            return
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
        """:meth:`subscribe_batches` one event at a time."""
        async for item in self.subscribe_batches(flt, after, heartbeat_interval, 1):
            if isinstance(item, int):
                yield item
            else:
                for event in item:
                    yield event

    async def subscribe_batches(
        self, flt: EventFilter, after: int, heartbeat_interval: float | None, max_events: int
    ) -> AsyncIterator[list[Event] | int]:
        """Yield the events after ``after`` matching ``flt``, then live ones, forever,
        in lists of at most ``max_events`` (each list is one stream send).

        Yields an ``int`` (the covered sequence) as a heartbeat when nothing was
        sent for ``heartbeat_interval`` seconds. Raises :class:`HubClosed` on
        shutdown.
        """
        limit = max(1, max_events)
        sub = Subscription(flt, after, self.buffer_size)
        self.subscriptions.add(sub)
        if not sub.follows:
            self._index.add(sub)
        pacer = self._pacer
        loop = asyncio.get_running_loop()
        slot = 0  # a send's turn, taken before it and given back once grpc wrote it
        # A client that takes batches gets bursts of up to MESSAGE_BURST messages, then
        # at most MESSAGES_PER_SECOND (a token bucket): what arrives meanwhile goes in
        # the next message, so a stream of many events in a short time costs its client
        # (and the server) a few messages, while a quiet one is sent each event at once.
        pace = limit > 1
        tokens = float(MESSAGE_BURST)
        beat_due = False
        refilled = loop.time()
        try:
            while True:
                if sub.closed or self.closed:
                    raise HubClosed()
                # Something to send: buffered, or (a follower) in ``recent``.
                pending = sub.buffered or (sub.follows and sub.synced and sub.covered < self.head)
                if pending and pace and tokens < 1:
                    now = loop.time()
                    tokens = min(MESSAGE_BURST, tokens + (now - refilled) * MESSAGES_PER_SECOND)
                    refilled = now
                    if tokens < 1:
                        await asyncio.sleep((1 - tokens) / MESSAGES_PER_SECOND)
                        continue
                if pending:
                    if not slot:
                        slot = await slot_of(pacer)
                        if sub.closed or self.closed:
                            raise HubClosed()
                    if sub.buffered:
                        events = sub.take(limit)
                    else:
                        start = sub.covered + 1 - self.recent_first
                        if start < 0:
                            # Out of memory (perhaps while it waited): from the log.
                            sub.synced = False
                            sub.overflows += 1
                            pacer.done(slot)
                            slot = 0
                            continue
                        if sub.filter.namespace:
                            # One namespace: what the others wrote in between is skipped.
                            events, covered = self._from_memory(
                                sub.filter, sub.covered, self.head, limit
                            )
                            if len(events) > limit:
                                events = events[:limit]
                                covered = events[-1].sequence
                            sub.covered = covered
                            if not events:
                                pacer.done(slot)
                                slot = 0
                                continue
                        else:
                            events = self.recent[
                                start : start + min(limit, self.head - sub.covered)
                            ]
                            sub.covered = events[-1].sequence
                    sub.delivered = True
                    tokens -= 1
                    try:
                        yield events
                    finally:
                        pacer.done(slot)
                        slot = 0
                    continue
                if slot:
                    pacer.done(slot)
                    slot = 0
                if not sub.synced:
                    async for page in self._replay(sub, limit):
                        sub.delivered = True
                        yield page
                    continue
                if beat_due:  # a follower's heartbeat, once it has read to the head
                    beat_due = False
                    yield sub.covered
                    continue
                idle = sub.idle = loop.create_future()
                if sub.follows:
                    self._idle_followers.setdefault(sub.filter.namespace, {})[sub] = None
                try:
                    async with asyncio.timeout(heartbeat_interval):
                        slot = await idle  # woken at its turn, with a slot (0: to close)
                except TimeoutError:
                    # The timeout may fire in the same turn as a live batch that was
                    # just buffered: then ``covered`` includes undelivered events, and
                    # a heartbeat must wait until they are sent.
                    if not sub.buffered and sub.synced:
                        if not sub.follows:
                            # Batches this subscriber was no candidate for had nothing for it.
                            sub.covered = max(sub.covered, self.delivered)
                            yield sub.covered
                        elif sub.covered < self.head:
                            # A follower's cursor moves only as it reads: events may
                            # have come (their wake lost to the timeout), so it reads
                            # first and beats at the head.
                            beat_due = True
                        else:
                            yield sub.covered
                finally:
                    sub.idle = None
                    self._stop_following(sub)
        finally:
            if slot:
                pacer.done(slot)
            self._stop_following(sub)
            self.subscriptions.discard(sub)
            self._index.discard(sub)

    def _stop_following(self, sub: Subscription) -> None:
        """Take ``sub`` off the idle followers (if it is one)."""
        namespace = sub.filter.namespace
        followers = self._idle_followers.get(namespace)
        if followers is not None:
            followers.pop(sub, None)
            if not followers:
                del self._idle_followers[namespace]

    async def _replay(self, sub: Subscription, limit: int) -> AsyncIterator[list[Event]]:
        """Serve an unsynced subscriber from memory or the log until it reaches the head,
        in lists of at most ``limit`` events, each at its turn of the pacer."""
        pacer = self._pacer
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
            if sub.covered + 1 >= self.recent_first and (sub.covered or sub.delivered):
                page, covered = self._from_memory(sub.filter, sub.covered, upto, limit)
            else:
                page, covered = await self._from_log(sub, upto, limit)
            for start in range(0, len(page), limit):
                part = page[start : start + limit]
                slot = await slot_of(pacer)
                try:
                    if sub.closed or self.closed:
                        raise HubClosed()
                    sub.covered = part[-1].sequence
                    yield part
                finally:
                    pacer.done(slot)
            if not page:
                # A scan that matched nothing still takes its turn of the loop.
                pacer.done(await slot_of(pacer))
            sub.covered = max(sub.covered, covered)

    def _from_memory(
        self, flt: EventFilter, after: int, upto: int, limit: int
    ) -> tuple[list[Event], int]:
        """The events after ``after`` up to ``upto`` matching ``flt``, from ``recent``
        (a window of a few pages at most), and the last sequence the window covers."""
        first = self.recent_first
        start = after + 1 - first
        stop = min(upto + 1 - first, start + 4 * max(limit, self.page_size))
        window = self.recent[start:stop]
        if selects_everything(flt):
            return window, first + stop - 1
        key = (flt, after)
        found = self._windows.get(key)
        if found is None:
            found = self._windows[key] = (flt.select(window), first + stop - 1)
            if len(self._windows) > WINDOWS_KEPT:
                del self._windows[next(iter(self._windows))]
        return found

    async def _from_log(self, sub: Subscription, upto: int, limit: int) -> tuple[list[Event], int]:
        """A page of the log after the subscriber's cursor up to ``upto`` matching its
        filter, and the last sequence the page covers."""
        size = max(limit, self.page_size)
        page, first = await self.store.read(
            functools.partial(
                Tx.read_events_page, after=sub.covered, limit=size, upto=upto, flt=sub.filter
            )
        )
        covered = page[-1].sequence if len(page) >= size else upto
        if sub.covered + 1 < first:
            contiguous = bool(page) and page[0].sequence == sub.covered + 1
            if sub.covered == 0 and not sub.delivered:
                # after_sequence = 0 means "all retained history".
                page = [e for e in page if e.sequence >= first]
            elif not contiguous:
                raise SequenceCompacted(sub.covered, first)
        return page, covered


def _compact(tx: Tx, *, keep_last: int, older_than_us: int | None) -> tuple[int, int]:
    """Apply the retention to the log: the last deleted sequence, how many were deleted."""
    first = tx.first_available_sequence()
    cutoff = tx.compact_events(keep_last=keep_last, older_than_us=older_than_us)
    # Sequences have no gaps and only a prefix is deleted: the count follows.
    return cutoff, max(0, cutoff - first + 1)
