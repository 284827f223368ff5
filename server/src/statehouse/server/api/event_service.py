"""EventService: Subscribe and FollowExecution on top of the event hub."""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import AsyncIterator

from google.protobuf import timestamp_pb2

from statehouse.v1 import event_pb2, event_service_pb2 as pb

from ..clock import now_us
from ..events import EventHub
from ..orchestration import Event, Execution, NotFound
from ..orchestration.filters import EventFilter
from ..storage import Store, Tx
from . import convert
from ._base import Call

log = logging.getLogger("statehouse.events")


class EventServicer:
    """Streams of state changes and of execution snapshots (requests arrive validated)."""

    def __init__(self, store: Store, hub: EventHub, *, cache_size: int = 4096) -> None:
        self.store = store
        self.hub = hub
        # Each event is encoded once; the same bytes go to every subscriber. Least
        # recently used first out: a subscriber replaying old events does not push
        # out the live ones that every synced stream is about to send.
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cache_size = cache_size

    def _encoded(self, event: Event) -> bytes:
        cache = self._cache
        encoded = cache.get(event.sequence)
        if encoded is not None:
            cache.move_to_end(event.sequence)
        else:
            response = pb.SubscribeResponse()
            convert.event_to_pb(event, response.event)
            encoded = convert.encode(response)
            cache[event.sequence] = encoded
            if len(cache) > self._cache_size:
                cache.popitem(last=False)
        return encoded

    async def Subscribe(self, request: pb.SubscribeRequest, call: Call) -> AsyncIterator[bytes]:
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
        async for item in self.hub.subscribe(flt, after, heartbeat):
            if isinstance(item, int):
                beat = pb.SubscribeResponse(
                    heartbeat=event_pb2.Heartbeat(sequence=item, time=_now_pb())
                )
                yield convert.encode(beat)
            else:
                yield self._encoded(item)

    async def FollowExecution(
        self, request: pb.FollowExecutionRequest, call: Call
    ) -> AsyncIterator[pb.FollowExecutionResponse]:
        execution_id = request.execution_id

        def read(tx: Tx) -> Execution:
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
        async for item in self.hub.subscribe(flt, cursor, None):
            if isinstance(item, int) or item.execution_revision <= revision:
                continue
            execution = await self.store.read(read)
            if execution.revision <= revision:
                continue
            revision = execution.revision
            yield pb.FollowExecutionResponse(execution=convert.execution_to_pb(execution))
            if execution.state.is_terminal:
                return


def _now_pb() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    convert.time_to_pb(now_us(), ts)
    return ts
