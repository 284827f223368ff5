"""Live fan-out of the event log to subscribers.

The log in the database is the truth; the hub tails it. Local writes hand
their committed events over directly when they continue the hub's head
(``head + 1``); anything else (a gap, another process's writes) makes the hub
read the log from its head. A poll every ``poll_interval`` catches writes of
other processes on the same database.

Each subscriber has a bounded buffer. The hub never waits for a subscriber:
when a buffer is full the subscriber is marked *unsynced* and stops receiving
live events; it then reads the log from its own cursor until it reaches the
hub's head and switches back to live delivery (etcd's unsynced watchers).
The switch happens on the event loop with no await between the check and the
flag, so nothing is lost or repeated across it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ..orchestration import Event, SequenceCompacted
from ..storage import EventFilter, Store, Tx

log = logging.getLogger("statehouse.events")


class HubClosed(Exception):
    """The hub is shutting down; streams end with UNAVAILABLE."""


class Subscription:
    """One subscriber's cursor, buffer and sync state."""

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

    def offer(self, batch: list[Event], head: int) -> None:
        """Take a live batch ending at ``head``; become unsynced if it does not fit."""
        for event in batch:
            if event.sequence <= self.covered:
                continue
            if self.filter.matches(event):
                if len(self.buffer) >= self.buffer_size:
                    self.synced = False
                    self.overflows += 1
                    self.wakeup.set()
                    return
                self.buffer.append(event)
            self.covered = event.sequence
        self.covered = max(self.covered, head)
        self.wakeup.set()


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
    ) -> None:
        self.store = store
        self.buffer_size = buffer_size
        self.page_size = page_size
        self.poll_interval = poll_interval
        self.retention = retention or Retention()
        self._next_compaction = 0.0
        self.head = 0
        self.subscriptions: set[Subscription] = set()
        self.closed = False
        self._catch_up_needed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.head = await self.store.read(lambda tx: tx.last_sequence())
        self.store.add_commit_listener(self.committed)
        loop = asyncio.get_running_loop()
        self.store.listen_for_commits(
            lambda sequence: loop.call_soon_threadsafe(self._notified, sequence)
        )
        self._task = asyncio.create_task(self._tail(), name="statehouse-event-hub")

    def _notified(self, sequence: int) -> None:
        """Another commit was announced: read the log unless it is already dispatched."""
        if sequence == 0 or sequence > self.head:
            self._catch_up_needed.set()

    async def close(self) -> None:
        self.closed = True
        for sub in list(self.subscriptions):
            sub.closed = True
            sub.wakeup.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- input ----------------------------------------------------------------

    def committed(self, batch: list[Event]) -> None:
        """Called on the loop after a local commit, with its events in order."""
        if not batch or batch[-1].sequence <= self.head:
            return
        if batch[0].sequence == self.head + 1:
            self._dispatch(batch)
        else:
            self._catch_up_needed.set()

    def _dispatch(self, batch: list[Event]) -> None:
        self.head = batch[-1].sequence
        for sub in self.subscriptions:
            if sub.synced:
                sub.offer(batch, self.head)

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

    async def compact(self) -> int:
        """Apply the retention now; return the last deleted sequence (0 if none)."""
        older_than = None
        if self.retention.max_age_seconds > 0:
            older_than = int((time.time() - self.retention.max_age_seconds) * 1_000_000)
        cutoff = await self.store.write(
            functools.partial(
                Tx.compact_events, keep_last=self.retention.max_events, older_than_us=older_than
            )
        )
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
                self._dispatch(batch)
            if len(batch) < self.page_size:
                return

    # -- subscriptions --------------------------------------------------------

    def latest(self) -> int:
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
        try:
            while True:
                if sub.closed or self.closed:
                    raise HubClosed()
                if sub.buffer:
                    event = sub.buffer.popleft()
                    sub.delivered = True
                    yield event
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
                    if not sub.buffer and sub.synced:
                        yield sub.covered
        finally:
            self.subscriptions.discard(sub)

    async def _replay(self, sub: Subscription) -> AsyncIterator[Event]:
        """Serve an unsynced subscriber from the log until it reaches the head."""
        while not sub.synced:
            if sub.closed or self.closed:
                raise HubClosed()
            upto = self.head
            if sub.covered >= upto:
                # No await between this check and the flag: the next live batch
                # is offered to this subscriber, nothing falls in between.
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
