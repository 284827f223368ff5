"""EventService: Subscribe and FollowExecution on top of the event hub."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator

from google.protobuf import timestamp_pb2

from statehouse.v1 import event_pb2, event_service_pb2 as pb

from .. import limits
from ..clock import now_us
from ..events import EventHub
from ..orchestration import Event, Execution, NotFound
from ..orchestration.filters import EventFilter
from ..storage import ReadTx, Store
from . import convert
from ._base import Call

log = logging.getLogger("statehouse.events")


class EventServicer:
    """Streams of state changes and of execution snapshots (requests arrive validated)."""

    def __init__(self, store: Store, hub: EventHub, *, cache_size: int = 4096) -> None:
        self.store = store
        self.hub = hub
        # Each event is encoded once; the same bytes go to every subscriber.
        self._cache: dict[int, tuple[bytes, bytes]] = {}
        self._cache_size = cache_size
        # And each batch once: subscribers with equal filters that reach the same
        # events at once (a crowd on one namespace) share its messages.
        self._batches: dict[tuple[EventFilter, int, int, bool], list[bytes]] = {}

    def _framed(self, event: Event) -> tuple[bytes, bytes]:
        """The event as SubscribeResponse fields, encoded once for every stream: as
        ``event`` (a whole message) and as one entry of ``events``.

        A message is its fields' bytes one after the other, so a batch is the
        ``events`` entries of its events joined."""
        cache = self._cache
        framed = cache.get(event.sequence)
        if framed is None:
            message = event_pb2.StateChangeEvent()
            convert.event_to_pb(event, message)
            encoded = convert.encode(message)
            framed = cache[event.sequence] = (
                _field(_EVENT_TAG, encoded),
                _field(_EVENTS_TAG, encoded),
            )
            if len(cache) > self._cache_size:
                # Oldest first out (sequences arrive in order, but for replays).
                del cache[next(iter(cache))]
        return framed

    def _shared_messages(self, flt: EventFilter, events: list[Event], batched: bool) -> list[bytes]:
        """:meth:`_messages`, made once for every subscriber of ``flt`` that is sent
        these events. A subscriber is sent every event its filter selects, in
        order, so the first and last sequences of a list name its events."""
        key = (flt, events[0].sequence, events[-1].sequence, batched)
        messages = self._batches.get(key)
        if messages is None:
            messages = self._batches[key] = list(self._messages(events, batched))
            if len(self._batches) > BATCHES_KEPT:
                del self._batches[next(iter(self._batches))]
        return messages

    def _messages(self, events: list[Event], batched: bool) -> Iterator[bytes]:
        """SubscribeResponse bytes for ``events``: one per event (``event``), or the
        events together (``events``) in messages of at most about MAX_BATCH_BYTES."""
        framed = self._framed
        if not batched:
            for event in events:
                yield framed(event)[0]
            return
        found = self._cache.get
        parts = [(found(e.sequence) or framed(e))[1] for e in events]
        if sum(map(len, parts)) <= MAX_BATCH_BYTES:
            yield b"".join(parts)
            return
        message: list[bytes] = []
        size = 0
        for part in parts:
            if message and size + len(part) > MAX_BATCH_BYTES:
                yield b"".join(message)
                message = []
                size = 0
            message.append(part)
            size += len(part)
        if message:
            yield b"".join(message)

    def Subscribe(self, request: pb.SubscribeRequest, call: Call) -> AsyncIterator[bytes]:
        """Where the stream starts is fixed here, as it is accepted, and sent in its
        headers (``START_HEADER``): a client that asked ``from_latest`` knows its
        position before any event, and resumes from it (a reconnect then misses
        nothing committed in between)."""
        f = request.filter
        flt = EventFilter(
            namespace=f.namespace,
            flow_id=f.flow_id,
            execution_ids=frozenset(f.execution_ids),
            states=frozenset(convert.states_from_pb(f.states, "filter.states")),
            # Only the caller's namespaces; heartbeats still advance its cursor.
            scope=call.principal.scope,
        )
        heartbeat: float | None = None
        if request.HasField("heartbeat_interval"):
            heartbeat = request.heartbeat_interval.ToTimedelta().total_seconds()
        after = self.hub.latest() if request.from_latest else request.after_sequence
        call.headers[START_HEADER] = str(after)
        limit = min(max(request.max_events_per_message, 1), limits.MAX_EVENTS_PER_MESSAGE)
        if log.isEnabledFor(logging.DEBUG):
            # Which process serves which stream (--processes N): tests read this.
            log.debug(
                "subscribe in process %d: after %d, namespace %r, flow %r, %d execution ids",
                os.getpid(),
                after,
                f.namespace,
                f.flow_id,
                len(f.execution_ids),
            )
        return self._stream(flt, after, heartbeat, limit)

    async def _stream(
        self, flt: EventFilter, after: int, heartbeat: float | None, limit: int
    ) -> AsyncIterator[bytes]:
        batched = limit > 1
        async for item in self.hub.subscribe_batches(flt, after, heartbeat, limit):
            if isinstance(item, int):
                beat = pb.SubscribeResponse(
                    heartbeat=event_pb2.Heartbeat(sequence=item, time=_now_pb())
                )
                yield convert.encode(beat)
            elif len(item) > 1:
                for message in self._shared_messages(flt, item, batched):
                    yield message
            else:
                for message in self._messages(item, batched):
                    yield message

    async def FollowExecution(
        self, request: pb.FollowExecutionRequest, call: Call
    ) -> AsyncIterator[pb.FollowExecutionResponse]:
        execution_id = request.execution_id

        def read(tx: ReadTx) -> Execution:
            execution = tx.get_execution_with_task_runs(execution_id)
            if execution is None:
                raise NotFound("execution", execution_id)
            return execution

        # Take the cursor before the snapshot: a change made in between is
        # seen again, never missed.
        cursor = self.hub.latest()
        execution = await self.store.read(read)
        yield pb.FollowExecutionResponse(execution=convert.execution_to_pb(execution))
        if execution.state.is_terminal:
            return
        revision = execution.revision
        flt = EventFilter(execution_ids=frozenset({execution_id}))
        # Several changes that arrive together make one snapshot (the newest: it is
        # read after them, so a stale one is never sent last).
        async for item in self.hub.subscribe_batches(
            flt, cursor, None, limits.MAX_EVENTS_PER_MESSAGE
        ):
            if isinstance(item, int) or item[-1].execution_revision <= revision:
                continue
            execution = await self.store.read(read)
            if execution.revision <= revision:
                continue
            revision = execution.revision
            yield pb.FollowExecutionResponse(execution=convert.execution_to_pb(execution))
            if execution.state.is_terminal:
                return


#: The response header of a Subscribe stream that says where it starts: the sequence
#: after which its events come (``from_latest``: the newest when it was accepted).
START_HEADER = "statehouse-start-sequence"

#: The tags of SubscribeResponse's ``event`` (1) and ``events`` (3), length-delimited.
_EVENT_TAG = b"\x0a"
_EVENTS_TAG = b"\x1a"
#: A batched message holds events up to about this many bytes (clients accept 4 MiB).
MAX_BATCH_BYTES = 1 << 20
#: Batches' messages kept for the other subscribers of the same filter (``_shared_messages``).
BATCHES_KEPT = 16


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag, the payload's length (a varint), the payload."""
    n = len(payload)
    if n < 0x80:
        return tag + bytes((n,)) + payload
    head = bytearray(tag)
    while n >= 0x80:
        head.append((n & 0x7F) | 0x80)
        n >>= 7
    head.append(n)
    return bytes(head) + payload


def _now_pb() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    convert.time_to_pb(now_us(), ts)
    return ts
