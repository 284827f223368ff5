"""EventService: Subscribe and FollowExecution on top of the event hub."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator

from google.protobuf import timestamp_pb2
from google.rpc import code_pb2
from grpc_status import rpc_status

from statehouse.v1 import event_pb2, event_service_pb2 as pb, event_service_pb2_grpc

from ..commands import now_us
from ..events import EventHub, HubClosed
from ..orchestration import DomainError, Event, Execution, NotFound
from ..orchestration.validation import Violations
from ..storage import EventFilter, StorageUnavailable, Store, Tx
from . import convert
from ._base import Context
from .errors import database_unavailable, plain_status, status_for

MIN_HEARTBEAT = 0.1


class EventServicer(event_service_pb2_grpc.EventServiceServicer):
    """Streams of state changes and of execution snapshots."""

    def __init__(self, store: Store, hub: EventHub, *, cache_size: int = 4096) -> None:
        self.store = store
        self.hub = hub
        # One response message per event, shared by every subscriber it goes to.
        self._cache: OrderedDict[int, pb.SubscribeResponse] = OrderedDict()
        self._cache_size = cache_size

    def _response(self, event: Event) -> pb.SubscribeResponse:
        response = self._cache.get(event.sequence)
        if response is None:
            response = pb.SubscribeResponse()
            convert.event_to_pb(event, response.event)
            self._cache[event.sequence] = response
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return response

    async def _unavailable(self, context: Context) -> None:
        status = plain_status(
            code_pb2.UNAVAILABLE, "SHUTTING_DOWN", "the server is shutting down; resume elsewhere"
        )
        await context.abort_with_status(rpc_status.to_status(status))

    async def Subscribe(
        self, request: pb.SubscribeRequest, context: Context
    ) -> AsyncIterator[pb.SubscribeResponse]:
        try:
            flt, heartbeat = self._parse(request)
        except DomainError as error:
            await context.abort_with_status(rpc_status.to_status(status_for(error)))
            return
        after = self.hub.latest() if request.from_latest else request.after_sequence
        try:
            async for item in self.hub.subscribe(flt, after, heartbeat):
                if isinstance(item, int):
                    beat = pb.SubscribeResponse(
                        heartbeat=event_pb2.Heartbeat(sequence=item, time=_now_pb())
                    )
                    yield beat
                else:
                    yield self._response(item)
        except HubClosed:
            await self._unavailable(context)
        except DomainError as error:
            await context.abort_with_status(rpc_status.to_status(status_for(error)))
        except StorageUnavailable as error:
            await context.abort_with_status(rpc_status.to_status(database_unavailable(error)))

    @staticmethod
    def _parse(request: pb.SubscribeRequest) -> tuple[EventFilter, float | None]:
        v = Violations()
        f = request.filter
        v.namespace("filter.namespace", f.namespace, required=False)
        v.identifier("filter.flow_id", f.flow_id, required=False)
        for i, execution_id in enumerate(f.execution_ids):
            v.required_id(f"filter.execution_ids[{i}]", execution_id)
        if request.after_sequence < 0:
            v.add("after_sequence", "must not be negative")
        heartbeat: float | None = None
        if request.HasField("heartbeat_interval"):
            heartbeat = request.heartbeat_interval.ToTimedelta().total_seconds()
            if heartbeat < MIN_HEARTBEAT:
                v.add("heartbeat_interval", f"must be at least {int(MIN_HEARTBEAT * 1000)} ms")
        v.raise_if_any()
        states = convert.states_from_pb(f.states, "filter.states")
        flt = EventFilter(
            namespace=f.namespace,
            flow_id=f.flow_id,
            execution_ids=frozenset(f.execution_ids),
            states=frozenset(states),
        )
        return flt, heartbeat

    async def FollowExecution(
        self, request: pb.FollowExecutionRequest, context: Context
    ) -> AsyncIterator[pb.FollowExecutionResponse]:
        execution_id = request.execution_id

        def read(tx: Tx) -> Execution:
            execution = tx.get_execution_with_task_runs(execution_id)
            if execution is None:
                raise NotFound("execution", execution_id)
            return execution

        try:
            v = Violations()
            v.required_id("execution_id", execution_id)
            v.raise_if_any()
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
        except DomainError as error:
            await context.abort_with_status(rpc_status.to_status(status_for(error)))
        except HubClosed:
            await self._unavailable(context)
        except StorageUnavailable as error:
            await context.abort_with_status(rpc_status.to_status(database_unavailable(error)))


def _now_pb() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    convert.time_to_pb(now_us(), ts)
    return ts
