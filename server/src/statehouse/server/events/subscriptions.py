"""Subscriptions: each subscriber's cursor, buffer and sync state
(:class:`Subscription`), and the index that finds the subscribers a batch of
events concerns (:class:`SubscriberIndex`). docs/design.md, "The event stream".
"""

from __future__ import annotations

import asyncio
from collections import deque

from ..orchestration import Event
from ..orchestration.filters import EventFilter


class Subscription:
    """One subscriber's cursor, buffer and sync state."""

    __slots__ = (
        "buffer",
        "buffer_size",
        "buffered",
        "closed",
        "covered",
        "delivered",
        "filter",
        "follows",
        "idle",
        "offset",
        "overflows",
        "plain",
        "synced",
    )

    def __init__(self, flt: EventFilter, cursor: int, buffer_size: int) -> None:
        self.filter = flt
        #: Whether every candidate event of the index matches the filter (no check per event).
        self.plain = plain(flt)
        #: Whether it follows the whole log or one namespace: it then reads the hub's
        #: ``recent`` from its cursor when it sends (what it selects, shared by the
        #: followers of the same), and costs nothing per batch unless it is idle.
        self.follows = follows(flt)
        #: Everything up to this sequence was considered for this subscriber
        #: (delivered, buffered, or filtered out).
        self.covered = cursor
        #: Lists of events to send, in order (shared with other subscribers: never
        #: changed in place); ``offset`` events of the first one are sent already.
        self.buffer: deque[list[Event]] = deque()
        self.offset = 0
        #: Events in the buffer not sent yet.
        self.buffered = 0
        self.buffer_size = buffer_size
        self.synced = False
        self.closed = False
        #: While the subscriber waits for events: the future that wakes it (through the pacer).
        self.idle: asyncio.Future[int] | None = None
        #: Whether any event was sent yet (a cursor of 0 then means "from the start").
        self.delivered = False
        #: How many times the subscriber fell back to the log (its buffer overflowed, or,
        #: a follower, its cursor left the memory).
        self.overflows = 0

    def offer(self, events: list[Event], end: int) -> bool:
        """Take the live ``events`` (matching, in order) of a batch ending at ``end``;
        become unsynced if they do not fit. Whether the subscriber has news to act on."""
        if end <= self.covered:
            return False
        if events and events[0].sequence <= self.covered:
            covered = self.covered
            events = [e for e in events if e.sequence > covered]
        if events:
            if self.buffered + len(events) > self.buffer_size:
                self.synced = False
                self.overflows += 1
                return True
            self.buffer.append(events)
            self.buffered += len(events)
        self.covered = end
        return bool(events)

    def take(self, limit: int) -> list[Event]:
        """Up to ``limit`` buffered events, in order."""
        buffer = self.buffer
        first = buffer[0]
        if (
            self.offset == 0
            and len(first) <= limit
            and (len(buffer) == 1 or len(first) + len(buffer[1]) > limit)
        ):
            buffer.popleft()
            self.buffered -= len(first)
            return first
        out: list[Event] = []
        while buffer and len(out) < limit:
            chunk = buffer[0]
            start = self.offset
            stop = min(len(chunk), start + limit - len(out))
            out.extend(chunk[start:stop])
            if stop == len(chunk):
                buffer.popleft()
                self.offset = 0
            else:
                self.offset = stop
        self.buffered -= len(out)
        return out

    def wake(self) -> asyncio.Future[int] | None:
        """The future to resolve to wake the subscriber, if it is waiting (once)."""
        idle = self.idle
        if idle is None or idle.done():
            return None
        self.idle = None
        return idle


def plain(flt: EventFilter) -> bool:
    """Whether the index alone decides what ``flt`` selects (by execution ids, or by
    namespace, or nothing at all), so that every candidate event matches."""
    if flt.scope or flt.flow_id or flt.states:
        return False
    return not (flt.execution_ids and flt.namespace)


class SubscriberIndex:
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
        """The indexed candidates of ``batch``, each with its candidate events (in
        order; one list shared by the subscribers of one key)."""
        by_namespace: dict[str, list[Event]] = {}
        by_execution: dict[str, list[Event]] = {}
        index_ns = self.by_namespace
        index_ex = self.by_execution
        for event in batch:
            if event.namespace in index_ns:
                by_namespace.setdefault(event.namespace, []).append(event)
            if event.execution_id in index_ex:
                by_execution.setdefault(event.execution_id, []).append(event)
        found: list[tuple[Subscription, list[Event]]] = []
        for namespace, events in by_namespace.items():
            found.extend((sub, events) for sub in index_ns[namespace])
        if by_execution:
            merged: dict[Subscription, list[Event]] = {}
            mixed: set[Subscription] = set()
            for execution_id, events in by_execution.items():
                for sub in index_ex[execution_id]:
                    have = merged.get(sub)
                    if have is None:
                        merged[sub] = events
                    else:
                        merged[sub] = have + events
                        mixed.add(sub)
            for sub in mixed:
                merged[sub].sort(key=_sequence)
            found.extend(merged.items())
        return found


def _sequence(event: Event) -> int:
    return event.sequence


def _discard(index: dict[str, set[Subscription]], key: str, sub: Subscription) -> None:
    subs = index.get(key)
    if subs is not None:
        subs.discard(sub)
        if not subs:
            del index[key]


def follows(flt: EventFilter) -> bool:
    """Whether a subscriber of ``flt`` reads ``recent`` itself (everything, or one
    namespace: the broad filters of dashboards, where many subscribers share one
    filter) rather than being offered each batch's matching events (the rest)."""
    return not (flt.scope or flt.flow_id or flt.execution_ids or flt.states)


def selects_everything(flt: EventFilter) -> bool:
    return not (flt.scope or flt.namespace or flt.flow_id or flt.execution_ids or flt.states)
