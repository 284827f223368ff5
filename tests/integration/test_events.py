"""Subscribe: the log from any cursor, then live, in order, each event once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import duration_pb2

from statehouse.server.events import Retention
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
from .helpers import details

DEADLINE = 20.0


async def scenario(stubs: Stubs, flow: str = "etl") -> str:
    """A scripted execution: 2 task runs, a failure, completion. 9 changes."""
    ex = (
        await stubs.executions.CreateExecution(
            pb.CreateExecutionRequest(namespace="ns", flow_id=flow)
        )
    ).execution
    a = (
        await stubs.executions.CreateTaskRun(
            pb.CreateTaskRunRequest(execution_id=ex.id, task_id="a")
        )
    ).task_run
    b = (
        await stubs.executions.CreateTaskRun(
            pb.CreateTaskRunRequest(execution_id=ex.id, task_id="b")
        )
    ).task_run
    for task_run_id, state in [
        (a.id, st.STATE_RUNNING),  # + the execution goes RUNNING
        (a.id, st.STATE_SUCCESS),
        (b.id, st.STATE_RUNNING),
        (b.id, st.STATE_FAILED),
    ]:
        await stubs.executions.TransitionTaskRun(
            pb.TransitionTaskRunRequest(task_run_id=task_run_id, state=state)
        )
    await stubs.executions.TransitionExecution(
        pb.TransitionExecutionRequest(execution_id=ex.id, state=st.STATE_FAILED, reason="b failed")
    )
    return ex.id


async def collect(stubs: Stubs, count: int, **request: object) -> list[event_pb2.StateChangeEvent]:
    call = stubs.events.Subscribe(epb.SubscribeRequest(**request))  # type: ignore[arg-type]
    received: list[event_pb2.StateChangeEvent] = []

    async def read() -> None:
        async for response in call:
            if response.HasField("event"):
                received.append(response.event)
                if len(received) == count:
                    return

    try:
        await asyncio.wait_for(read(), DEADLINE)
    finally:
        call.cancel()
    return received


def stored_events(running: Running) -> list[tuple[int, str, str, str]]:
    engine = sa.create_engine(running.settings.resolved_database_url(), poolclass=sa.NullPool)
    try:
        with engine.connect() as db:
            rows = db.exec_driver_sql(
                "SELECT sequence, execution_id, task_run_id, state FROM events ORDER BY sequence"
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]
    finally:
        engine.dispose()


async def test_subscribe_from_zero_returns_every_change_in_order_once(
    stubs: Stubs, running_server: Running
) -> None:
    execution_id = await scenario(stubs)
    events = await collect(stubs, 9, after_sequence=0)
    assert [e.sequence for e in events] == list(range(1, 10))
    names = {"": "execution"}
    got = [
        (
            names.get(e.task_run_id, e.task_id),
            st.State.Name(e.previous_state),
            st.State.Name(e.state),
        )
        for e in events
    ]
    assert got == [
        ("execution", "STATE_UNSPECIFIED", "STATE_CREATED"),
        ("a", "STATE_UNSPECIFIED", "STATE_CREATED"),
        ("b", "STATE_UNSPECIFIED", "STATE_CREATED"),
        ("a", "STATE_CREATED", "STATE_RUNNING"),
        ("execution", "STATE_CREATED", "STATE_RUNNING"),
        ("a", "STATE_RUNNING", "STATE_SUCCESS"),
        ("b", "STATE_CREATED", "STATE_RUNNING"),
        ("b", "STATE_RUNNING", "STATE_FAILED"),
        ("execution", "STATE_RUNNING", "STATE_FAILED"),
    ]
    assert all(e.execution_id == execution_id for e in events)
    assert [e.attempt for e in events if e.task_id] == [0, 0, 1, 1, 1, 1]
    revisions = [e.execution_revision for e in events]
    assert revisions == sorted(revisions) and revisions[-1] == 8
    assert events[-1].reason == "b failed"
    assert [
        (e.sequence, e.execution_id, e.task_run_id, st.State.Name(e.state)[6:]) for e in events
    ] == (stored_events(running_server))


async def test_resume_after_a_sequence_and_go_live(stubs: Stubs) -> None:
    await scenario(stubs)
    call = stubs.events.Subscribe(epb.SubscribeRequest(after_sequence=5))
    seen: list[int] = []

    async def read(n: int) -> None:
        async for response in call:
            if response.HasField("event"):
                seen.append(response.event.sequence)
                if len(seen) == n:
                    return

    try:
        await asyncio.wait_for(read(4), DEADLINE)
        assert seen == [6, 7, 8, 9]
        await scenario(stubs, "second")
        await asyncio.wait_for(read(4 + 9), DEADLINE)
    finally:
        call.cancel()
    assert seen == list(range(6, 19))


async def test_filters_select_events(stubs: Stubs) -> None:
    await scenario(stubs, "one")
    two = await scenario(stubs, "two")
    by_flow = await collect(stubs, 9, filter=event_pb2.EventFilter(flow_id="two"))
    assert {e.execution_id for e in by_flow} == {two}
    failed = await collect(stubs, 4, filter=event_pb2.EventFilter(states=[st.STATE_FAILED]))
    assert [e.state for e in failed] == [st.STATE_FAILED] * 4
    mine = await collect(
        stubs, 3, filter=event_pb2.EventFilter(execution_ids=[two], states=[st.STATE_RUNNING])
    )
    assert [(e.execution_id, e.state) for e in mine] == [(two, st.STATE_RUNNING)] * 3


async def test_heartbeats_advance_an_idle_filtered_cursor(stubs: Stubs) -> None:
    await scenario(stubs)
    call = stubs.events.Subscribe(
        epb.SubscribeRequest(
            filter=event_pb2.EventFilter(namespace="nobody"),
            heartbeat_interval=duration_pb2.Duration(nanos=200_000_000),
        )
    )
    try:
        response = await asyncio.wait_for(call.read(), DEADLINE)
    finally:
        call.cancel()
    assert response.HasField("heartbeat")
    assert response.heartbeat.sequence == 9


async def test_bad_subscribe_requests_are_rejected(stubs: Stubs) -> None:
    for request in (
        epb.SubscribeRequest(after_sequence=-1),
        epb.SubscribeRequest(heartbeat_interval=duration_pb2.Duration(nanos=1000)),
        epb.SubscribeRequest(filter=event_pb2.EventFilter(states=[77])),
    ):
        call = stubs.events.Subscribe(request)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call.read()
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert details(info.value)[0] == "INVALID_ARGUMENT"


async def test_writers_during_the_switch_from_replay_to_live_lose_and_repeat_nothing(
    stubs: Stubs, running_server: Running
) -> None:
    """Concurrent writers while subscribers join at every point of the log."""

    async def writer(flow: str) -> None:
        for _ in range(4):
            await scenario(stubs, flow)

    async def subscriber(after: int) -> list[int]:
        return [e.sequence for e in await collect(stubs, 3 * 4 * 9 - after, after_sequence=after)]

    writers = [asyncio.create_task(writer(f"f{i}")) for i in range(3)]
    await asyncio.sleep(0)
    subscribers = [asyncio.create_task(subscriber(after)) for after in (0, 5, 20)]
    await asyncio.gather(*writers)
    results = await asyncio.gather(*subscribers)
    total = 3 * 4 * 9
    for after, got in zip((0, 5, 20), results, strict=True):
        assert got == list(range(after + 1, total + 1))
    assert [row[0] for row in stored_events(running_server)] == list(range(1, total + 1))


# A subscriber of a narrow filter has a buffer; one that selects everything or one
# namespace follows the hub's memory of the newest events: each falls back to the
# log when it is left behind.
BEHIND = {
    "buffered": event_pb2.EventFilter(
        namespace="ns", states=[v for v in st.State.values() if v != st.STATE_UNSPECIFIED]
    ),
    "namespace follower": event_pb2.EventFilter(namespace="ns"),
    "follower": event_pb2.EventFilter(),
}


@pytest.mark.parametrize("kind", BEHIND)
async def test_a_subscriber_that_stops_reading_is_served_from_the_log(
    running_server: Running, stubs: Stubs, kind: str
) -> None:
    hub = running_server.server.hub
    hub.buffer_size = 1  # a task run start commits 2 events: one batch overflows it
    hub.memory_events = 2  # and the memory keeps at most 4 events
    call = stubs.events.Subscribe(epb.SubscribeRequest(filter=BEHIND[kind]))
    await _write_one(stubs)
    first = await asyncio.wait_for(call.read(), DEADLINE)
    assert first.event.sequence == 1
    (subscription,) = hub.subscriptions
    for flow in range(8):
        await scenario(stubs, f"f{flow}")
    total = 1 + 8 * 9
    seen = [first.event.sequence]

    async def read_rest() -> None:
        while len(seen) < total:
            response = await call.read()
            seen.append(response.event.sequence)

    try:
        await asyncio.wait_for(read_rest(), DEADLINE)
    finally:
        call.cancel()
    assert seen == list(range(1, total + 1))
    # A follower whose client stops reading is not behind while grpc takes its writes.
    assert subscription.follows == (kind != "buffered")
    assert subscription.overflows > 0 or subscription.follows


async def _write_one(stubs: Stubs) -> bool:
    await stubs.executions.CreateExecution(pb.CreateExecutionRequest(namespace="ns", flow_id="x"))
    return True


async def test_graceful_shutdown_ends_streams_with_unavailable(
    running_server: Running, stubs: Stubs
) -> None:
    call = stubs.events.Subscribe(epb.SubscribeRequest())
    await _write_one(stubs)
    await asyncio.wait_for(call.read(), DEADLINE)
    await running_server.server.stop(1)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await asyncio.wait_for(call.read(), DEADLINE)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def _follow(stubs: Stubs, execution_id: str) -> AsyncIterator[int]:
    async for snapshot in stubs.events.FollowExecution(
        epb.FollowExecutionRequest(execution_id=execution_id)
    ):
        yield snapshot.execution.state


async def test_follow_execution_ends_when_the_execution_is_terminal(stubs: Stubs) -> None:
    ex = (
        await stubs.executions.CreateExecution(
            pb.CreateExecutionRequest(namespace="ns", flow_id="f")
        )
    ).execution
    states: list[int] = []
    first_snapshot = asyncio.Event()

    async def follow() -> None:
        async for state in _follow(stubs, ex.id):
            states.append(state)
            first_snapshot.set()

    task = asyncio.create_task(follow())
    await asyncio.wait_for(first_snapshot.wait(), DEADLINE)
    await stubs.executions.TransitionExecution(
        pb.TransitionExecutionRequest(execution_id=ex.id, state=st.STATE_RUNNING)
    )
    await stubs.executions.TransitionExecution(
        pb.TransitionExecutionRequest(execution_id=ex.id, state=st.STATE_SUCCESS)
    )
    await asyncio.wait_for(task, DEADLINE)
    assert states[0] == st.STATE_CREATED and states[-1] == st.STATE_SUCCESS
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in _follow(stubs, "missing"):
            pass
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_compacted_cursor_gets_out_of_range_with_the_first_sequence(
    running_server: Running, stubs: Stubs
) -> None:
    await scenario(stubs)  # sequences 1..9
    hub = running_server.server.hub
    hub.retention = Retention(max_events=5)
    assert await hub.compact() == 4
    call = stubs.events.Subscribe(epb.SubscribeRequest(after_sequence=2))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await asyncio.wait_for(call.read(), DEADLINE)
    assert info.value.code() == grpc.StatusCode.OUT_OF_RANGE
    reason, metadata, _ = details(info.value)
    assert (reason, metadata) == ("SEQUENCE_COMPACTED", {"first_sequence": "5"})
    assert [e.sequence for e in await collect(stubs, 5, after_sequence=4)] == [5, 6, 7, 8, 9]
    # after_sequence = 0 means all retained history.
    assert [e.sequence for e in await collect(stubs, 5, after_sequence=0)] == [5, 6, 7, 8, 9]


async def test_retention_by_age_deletes_only_a_prefix(
    running_server: Running, stubs: Stubs
) -> None:
    await scenario(stubs)
    hub = running_server.server.hub
    hub.retention = Retention(max_age_seconds=3600)
    assert await hub.compact() == 0
    hub.retention = Retention(max_age_seconds=1e-9)
    assert await hub.compact() == 9
    await scenario(stubs, "later")
    assert [e.sequence for e in await collect(stubs, 9, after_sequence=9)] == list(range(10, 19))


@pytest.mark.slow
@pytest.mark.parametrize("kind", BEHIND)
async def test_a_subscriber_that_stops_reading_during_2000_events_then_gets_them_all(
    running_server: Running, stubs: Stubs, kind: str
) -> None:
    """2,000 events are twenty times the hub's memory and the subscriber's buffer
    (both made small here, as the bounds they test are the same at any size)
    and several times grpc's 64 KiB window."""
    hub = running_server.server.hub
    hub.memory_events = 100  # a follower falls out of the memory, too
    hub.buffer_size = 100
    # No BDP probing: the stream keeps grpc's initial 64 KiB window, so a client
    # that stops reading really stops the server's writes to it.
    stalled = grpc.aio.insecure_channel(
        running_server.target, options=[("grpc.http2.bdp_probe", 0)]
    )
    call = event_service_pb2_grpc.EventServiceStub(stalled).Subscribe(
        epb.SubscribeRequest(filter=BEHIND[kind])
    )
    await _write_one(stubs)
    assert (await asyncio.wait_for(call.read(), DEADLINE)).event.sequence == 1
    (subscription,) = hub.subscriptions

    async def writer(n: int) -> None:
        # 5 events per execution: created, task run created, running x2, success.
        for _ in range(n):
            ex = (
                await stubs.executions.CreateExecution(
                    pb.CreateExecutionRequest(namespace="ns", flow_id="bulk")
                )
            ).execution
            tr = (
                await stubs.executions.CreateTaskRun(
                    pb.CreateTaskRunRequest(execution_id=ex.id, task_id="t")
                )
            ).task_run
            for state in (st.STATE_RUNNING, st.STATE_SUCCESS):
                await stubs.executions.TransitionTaskRun(
                    pb.TransitionTaskRunRequest(task_run_id=tr.id, state=state)
                )

    await asyncio.gather(*(writer(50) for _ in range(8)))
    total = 1 + 8 * 50 * 5
    assert hub.head == total
    # The stalled subscriber holds at most its bounded buffer (a follower, none: it
    # reads the hub's memory of the newest events); the rest stays in the log.
    assert subscription.buffered <= hub.buffer_size
    seen = [1]

    async def read_rest() -> None:
        while len(seen) < total:
            seen.append((await call.read()).event.sequence)

    try:
        await asyncio.wait_for(read_rest(), 60)
    finally:
        call.cancel()
        await stalled.close()
    assert seen == list(range(1, total + 1))
    assert subscription.overflows >= 1  # it was served from the log


async def test_a_burst_of_1000_subscribers_all_get_the_next_event(
    running_server: Running,
) -> None:
    """grpc's default max_pending_requests would cancel streams opened in a burst."""
    channels = [grpc.aio.insecure_channel(running_server.target) for _ in range(10)]
    calls = [
        event_service_pb2_grpc.EventServiceStub(channels[i % 10]).Subscribe(
            epb.SubscribeRequest(
                from_latest=True, heartbeat_interval=duration_pb2.Duration(seconds=30)
            )
        )
        for i in range(1000)
    ]
    hub = running_server.server.hub

    try:
        # Polled: the hub has no event for "n streams open".
        await eventually_async(
            lambda: len(hub.subscriptions) >= 1000, "1000 streams registered", within=60
        )
        stubs = Stubs(running_server.target)
        await _write_one(stubs)
        responses = await asyncio.wait_for(asyncio.gather(*(c.read() for c in calls)), 60)
        assert {r.event.sequence for r in responses} == {1}
        await stubs.channel.close()
    finally:
        for c in calls:
            c.cancel()
        for ch in channels:
            await ch.close()


async def test_a_heartbeat_never_covers_an_event_not_yet_delivered(
    running_server: Running, stubs: Stubs
) -> None:
    """A heartbeat racing a live event must not announce the event's sequence
    before the event itself: a resuming client would skip it."""
    hub = running_server.server.hub
    flt = EventFilter()

    async def watch(found: list[str]) -> None:
        covered = 0
        async for item in hub.subscribe(flt, hub.latest(), 0.0005):
            if isinstance(item, int):
                covered = max(covered, item)
            elif item.sequence <= covered:
                found.append(f"event {item.sequence} after a heartbeat at {covered}")
            else:
                covered = item.sequence

    problems: list[str] = []
    watchers = [asyncio.create_task(watch(problems)) for _ in range(20)]
    for flow in range(15):
        await scenario(stubs, f"f{flow}")
    for w in watchers:
        w.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)
    assert problems == []
