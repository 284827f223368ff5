"""Fan-out on a real server: the filter index delivers to exactly the matching
subscribers, thousands of subscribers with events pending lose and repeat
nothing, and subscribers switching from replay to live during heavy writes see
every sequence once, in order."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import grpc
import pytest
from google.protobuf import duration_pb2

from statehouse.server.orchestration import State
from statehouse.server.orchestration.filters import EventFilter
from statehouse.v1 import (
    event_pb2,
    event_service_pb2 as epb,
    event_service_pb2_grpc,
    execution_service_pb2 as pb,
    state_pb2 as st,
)
from tests.eventually import eventually_async

from .conftest import Running, Stubs
from .test_events import stored_events

DEADLINE = 120.0


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll (the hub has no event for these conditions)."""
    await eventually_async(condition, str(condition), step=0.02)


async def write_executions(stubs: Stubs, namespaces: list[str], per_namespace: int) -> list[str]:
    """Executions in each namespace, each created then started (2 events each)."""
    ids: list[str] = []
    for _ in range(per_namespace):
        for ns in namespaces:
            ex = (
                await stubs.executions.CreateExecution(
                    pb.CreateExecutionRequest(namespace=ns, flow_id=f"flow-{ns}")
                )
            ).execution
            await stubs.executions.TransitionExecution(
                pb.TransitionExecutionRequest(execution_id=ex.id, state=st.STATE_RUNNING)
            )
            ids.append(ex.id)
    return ids


async def read_stream(call: object, until: int, out: list[int]) -> None:
    """Sequences of events until a heartbeat or an event reaches ``until``."""
    async for response in call:  # type: ignore[attr-defined]
        if response.HasField("event"):
            out.append(response.event.sequence)
            if response.event.sequence >= until:
                return
        elif response.heartbeat.sequence >= until:
            return


async def test_the_index_delivers_to_exactly_the_matching_subscribers(
    running_server: Running, stubs: Stubs
) -> None:
    hub = running_server.server.hub
    namespaces = ["team.a", "team.b", "other"]
    # Executions to filter on exist before the subscribers open.
    first = await write_executions(stubs, namespaces, 2)
    start = hub.latest()
    filters: list[EventFilter] = []
    for ns in namespaces:
        filters += [EventFilter(namespace=ns)] * 20
        filters.append(EventFilter(namespace=ns, states=frozenset({State.RUNNING})))
        filters.append(EventFilter(namespace=ns, flow_id=f"flow-{ns}"))
    for ex in first:
        filters += [EventFilter(execution_ids=frozenset({ex}))] * 5
    filters.append(
        EventFilter(execution_ids=frozenset(first[:3]), states=frozenset({State.RUNNING}))
    )
    filters += [EventFilter()] * 100
    filters += [EventFilter(scope=("team.*",))] * 20
    filters += [EventFilter(scope=("team.b",), namespace="team.b")] * 5
    filters += [EventFilter(scope=("other",), namespace="team.a")] * 5  # sees nothing
    filters += [EventFilter(states=frozenset({State.CREATED}))] * 10
    channels = [grpc.aio.insecure_channel(running_server.target) for _ in range(4)]
    grpc_filters = [
        event_pb2.EventFilter(namespace="team.a"),
        event_pb2.EventFilter(execution_ids=[first[1]]),
        event_pb2.EventFilter(),
        event_pb2.EventFilter(states=[st.STATE_CREATED]),
    ]
    beat = duration_pb2.Duration(nanos=100_000_000)
    calls = [
        event_service_pb2_grpc.EventServiceStub(channels[i % 4]).Subscribe(
            epb.SubscribeRequest(after_sequence=start, filter=f, heartbeat_interval=beat)
        )
        for i, f in enumerate(grpc_filters * 25)
    ]
    received: list[list[int]] = [[] for _ in filters]
    grpc_received: list[list[int]] = [[] for _ in calls]
    until = asyncio.get_running_loop().create_future()

    async def local(i: int, flt: EventFilter) -> None:
        async for item in hub.subscribe(flt, start, 0.1):
            if isinstance(item, int):
                if until.done() and item >= until.result():
                    return
            else:
                received[i].append(item.sequence)
                if until.done() and item.sequence >= until.result():
                    return

    tasks = [asyncio.create_task(local(i, f)) for i, f in enumerate(filters)]
    try:
        # Everyone live before the writes: what follows goes through the index.
        await wait_until(
            lambda: not (sum(s.synced for s in hub.subscriptions) < len(filters) + len(calls))
        )
        # Writes in every namespace, on old and new executions.
        await write_executions(stubs, namespaces, 3)
        for ex in first:
            await stubs.executions.TransitionExecution(
                pb.TransitionExecutionRequest(execution_id=ex, state=st.STATE_SUCCESS)
            )
        last = hub.latest()
        until.set_result(last)
        readers = [
            asyncio.create_task(read_stream(c, last, out))
            for c, out in zip(calls, grpc_received, strict=True)
        ]
        await asyncio.wait_for(asyncio.gather(*tasks, *readers), DEADLINE)
    finally:
        for c in calls:
            c.cancel()
        for ch in channels:
            await ch.close()
    log = [row for row in stored_events(running_server) if row[0] > start]
    ns_of = {}
    for ns_ex in await asyncio.gather(
        *(
            stubs.executions.GetExecution(pb.GetExecutionRequest(execution_id=ex))
            for ex in {row[1] for row in log}
        )
    ):
        ns_of[ns_ex.execution.id] = (ns_ex.execution.namespace, ns_ex.execution.flow_id)

    def expected(flt: EventFilter) -> list[int]:
        out = []
        for sequence, execution_id, _, state in log:
            namespace, flow = ns_of[execution_id]
            ok = (
                (not flt.scope or any(_covers(p, namespace) for p in flt.scope))
                and (not flt.namespace or namespace == flt.namespace)
                and (not flt.flow_id or flow == flt.flow_id)
                and (not flt.execution_ids or execution_id in flt.execution_ids)
                and (not flt.states or State(state) in flt.states)
            )
            if ok:
                out.append(sequence)
        return out

    for flt, got in zip(filters, received, strict=True):
        assert got == expected(flt), flt
    as_filters = {
        0: EventFilter(namespace="team.a"),
        1: EventFilter(execution_ids=frozenset({first[1]})),
        2: EventFilter(),
        3: EventFilter(states=frozenset({State.CREATED})),
    }
    for i, got in enumerate(grpc_received):
        assert got == expected(as_filters[i % 4])
    assert received[filters.index(EventFilter())] == [row[0] for row in log]
    # A scope that excludes the namespace asked for: nothing.
    nothing = EventFilter(scope=("other",), namespace="team.a")
    assert all(got == [] for flt, got in zip(filters, received, strict=True) if flt == nothing)


def _covers(pattern: str, namespace: str) -> bool:
    if pattern.endswith(".*"):
        return namespace == pattern[:-2] or namespace.startswith(pattern[:-1])
    return pattern in ("*", namespace)


# Thousands of subscribers, a tenth of them over gRPC. 10 to 13 s on a quiet 2-core
# machine and three times that under load: the suite's timeout is a hang guard.
LOCAL, REMOTE = 2000, 200


@pytest.mark.slow
async def test_thousands_of_subscribers_with_events_pending_lose_and_repeat_nothing(
    running_server: Running, stubs: Stubs
) -> None:
    hub = running_server.server.hub
    start = hub.latest()
    writers, per_writer = 4, 10  # 2 events per execution: 80 events
    total = start + writers * per_writer * 2
    local: list[list[int]] = [[] for _ in range(LOCAL)]

    async def subscriber(out: list[int]) -> None:
        async for item in hub.subscribe(EventFilter(), start, None):
            assert not isinstance(item, int)
            out.append(item.sequence)
            if item.sequence >= total:
                return

    channels = [grpc.aio.insecure_channel(running_server.target) for _ in range(10)]
    calls = [
        event_service_pb2_grpc.EventServiceStub(channels[i % 10]).Subscribe(
            epb.SubscribeRequest(after_sequence=start)
        )
        for i in range(REMOTE)
    ]
    remote: list[list[int]] = [[] for _ in calls]
    tasks = [asyncio.create_task(subscriber(out)) for out in local]
    readers = [
        asyncio.create_task(read_stream(c, total, out))
        for c, out in zip(calls, remote, strict=True)
    ]
    try:
        await wait_until(lambda: not (len(hub.subscriptions) < LOCAL + REMOTE))
        behind = 0

        async def watch_pending() -> None:
            # Commits answered before their events reached every subscriber: a sampling
            # loop that measures how far behind delivery runs, not a wait (no eventually()).
            nonlocal behind
            while hub.delivered < total:
                behind = max(behind, hub.head - hub.delivered)
                await asyncio.sleep(0.001)

        watcher = asyncio.create_task(watch_pending())
        await asyncio.gather(
            *(write_executions(stubs, [f"w{w}"], per_writer) for w in range(writers))
        )
        await asyncio.wait_for(asyncio.gather(*tasks, *readers, watcher), DEADLINE)
    finally:
        for c in calls:
            c.cancel()
        for ch in channels:
            await ch.close()
    everything = list(range(start + 1, total + 1))
    assert all(out == everything for out in local)
    assert all(out == everything for out in remote)
    assert behind >= 1


async def test_subscribers_switching_from_replay_to_live_during_heavy_writes_see_each_sequence_once(
    running_server: Running, stubs: Stubs
) -> None:
    hub = running_server.server.hub
    hub.chunk_size = 50  # long deliveries: switches land while batches are pending
    idle = [
        asyncio.create_task(_drain(hub.subscribe(EventFilter(namespace="idle"), 0, None)))
        for _ in range(100)
    ] + [asyncio.create_task(_drain(hub.subscribe(EventFilter(), 0, None))) for _ in range(400)]
    writers, per_writer = 4, 15
    total = writers * per_writer * 2
    joined: list[tuple[int, asyncio.Task[list[int]]]] = []
    rng = random.Random(7)
    cursors = random.Random(11)

    async def join_now() -> None:
        after = cursors.randint(0, hub.latest())
        out: list[int] = []
        call = stubs.events.Subscribe(epb.SubscribeRequest(after_sequence=after))

        async def run() -> list[int]:
            try:
                await read_stream(call, total, out)
            finally:
                call.cancel()
            return out

        joined.append((after, asyncio.create_task(run())))

    async def write_and_join(namespace: str) -> None:
        # Joins between writes, by a seeded draw per write: as many whatever the
        # machine's speed (a joiner on a timer joined fewer the faster the writes).
        for _ in range(per_writer):
            await write_executions(stubs, [namespace], 1)
            if rng.random() < 0.25 and len(joined) < 25:
                await join_now()

    try:
        await asyncio.gather(*(write_and_join(f"w{w}") for w in range(writers)))
        results = await asyncio.wait_for(asyncio.gather(*(t for _, t in joined)), DEADLINE)
    finally:
        for task in idle:
            task.cancel()
        await asyncio.gather(*idle, return_exceptions=True)
    assert len(joined) >= 5
    for (after, _), got in zip(joined, results, strict=True):
        assert got == list(range(after + 1, total + 1)), after


async def _drain(stream: object) -> None:
    async for _ in stream:  # type: ignore[attr-defined]
        pass
