"""Several events per message (SubscribeRequest.max_events_per_message), on each backend
with raw stubs: a client that does not ask gets exactly one event per message; one that
asks gets every event once, in order, across batches, resumptions and restarts; a
subscriber far behind catches up in batches; heartbeats still advance a filtered one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import duration_pb2

from statehouse.server.storage import Store
from statehouse.server.storage.schema import EVENT_SEQUENCE, counters, events
from statehouse.v1 import (
    event_pb2,
    event_service_pb2 as epb,
    event_service_pb2_grpc,
    execution_service_pb2 as pb,
    state_pb2 as st,
)

from .conftest import Running, ServerProcess, Stubs

DEADLINE = 30.0
#: The bound of a catch-up of 100,000 events: a guard against a hang, far above
#: the 10 to 25 s it takes a 2-core machine busy with other test runs.
CATCH_UP = 180.0


async def create(stubs: Stubs, count: int, namespace: str = "ns") -> None:
    """``count`` executions, one event each, 16 calls at a time (group commit)."""
    for start in range(0, count, 16):
        await asyncio.gather(
            *(
                stubs.executions.CreateExecution(
                    pb.CreateExecutionRequest(namespace=namespace, flow_id=f"f{i % 7}")
                )
                for i in range(start, min(count, start + 16))
            )
        )


async def read_until(
    call: grpc.aio.UnaryStreamCall[epb.SubscribeRequest, epb.SubscribeResponse],
    last: int,
    messages: list[epb.SubscribeResponse],
    within: float = DEADLINE,
) -> list[int]:
    """Read messages until an event at ``last`` (within ``within`` seconds): the
    sequences of every event received."""
    sequences: list[int] = []

    async def read() -> None:
        async for response in call:
            messages.append(response)
            for event in [response.event] if response.HasField("event") else response.events:
                sequences.append(event.sequence)
                if event.sequence >= last:
                    return

    await asyncio.wait_for(read(), within)
    return sequences


async def head(stubs: Stubs) -> int:
    """The newest sequence: a subscription from the latest event says it in its heartbeat."""
    call = stubs.events.Subscribe(
        epb.SubscribeRequest(
            from_latest=True, heartbeat_interval=duration_pb2.Duration(nanos=100_000_000)
        )
    )
    try:
        response = await asyncio.wait_for(call.read(), DEADLINE)
    finally:
        call.cancel()
    assert response.HasField("heartbeat")
    return response.heartbeat.sequence


async def test_a_client_that_does_not_ask_receives_one_event_per_message(stubs: Stubs) -> None:
    await create(stubs, 120)
    total = 120
    for request in (epb.SubscribeRequest(), epb.SubscribeRequest(max_events_per_message=1)):
        messages: list[epb.SubscribeResponse] = []
        call = stubs.events.Subscribe(request)
        try:
            assert await read_until(call, total, messages) == list(range(1, total + 1))
            await create(stubs, 1)  # and live
            total += 1
            assert await read_until(call, total, messages) == [total]
        finally:
            call.cancel()
        assert all(m.WhichOneof("payload") == "event" and not m.events for m in messages)
        assert len(messages) == total


async def test_a_client_that_asks_receives_every_event_once_in_order_in_batches(
    stubs: Stubs,
) -> None:
    await create(stubs, 300)
    messages: list[epb.SubscribeResponse] = []
    call = stubs.events.Subscribe(epb.SubscribeRequest(max_events_per_message=64))
    try:
        assert await read_until(call, 300, messages) == list(range(1, 301))
        # Live events after the replay, written in one burst: still every one, in order.
        writers = [create(stubs, 25) for _ in range(4)]
        await asyncio.gather(*writers)
        assert await read_until(call, 400, messages) == list(range(301, 401))
    finally:
        call.cancel()
    assert all(not m.HasField("event") and not m.HasField("heartbeat") for m in messages)
    sizes = [len(m.events) for m in messages]
    assert max(sizes) == 64 and min(sizes) >= 1
    assert len(messages) < 400 / 2  # several events per message, on average


async def test_a_resumption_lands_mid_batch(stubs: Stubs) -> None:
    await create(stubs, 200)
    first: list[epb.SubscribeResponse] = []
    call = stubs.events.Subscribe(epb.SubscribeRequest(max_events_per_message=100))
    try:
        await read_until(call, 100, first)
    finally:
        call.cancel()
    assert [e.sequence for e in first[0].events] == list(range(1, 101))
    # Resume after an event in the middle of that first message.
    resumed: list[epb.SubscribeResponse] = []
    call = stubs.events.Subscribe(
        epb.SubscribeRequest(after_sequence=37, max_events_per_message=100)
    )
    try:
        assert await read_until(call, 200, resumed) == list(range(38, 201))
    finally:
        call.cancel()
    assert resumed[0].events[0].sequence == 38


async def test_heartbeats_advance_a_filtered_batching_subscriber_while_writers_run(
    stubs: Stubs,
) -> None:
    call = stubs.events.Subscribe(
        epb.SubscribeRequest(
            filter=event_pb2.EventFilter(namespace="quiet"),
            from_latest=True,
            max_events_per_message=1000,
            heartbeat_interval=duration_pb2.Duration(nanos=100_000_000),
        )
    )
    beats: list[int] = []
    written = asyncio.Event()

    async def read() -> None:
        async for response in call:
            assert response.WhichOneof("payload") == "heartbeat", response
            beats.append(response.heartbeat.sequence)
            if written.is_set() and beats[-1] >= 200:
                return

    reader = asyncio.create_task(read())
    try:
        await asyncio.gather(*(create(stubs, 50) for _ in range(4)))
        written.set()
        await asyncio.wait_for(reader, DEADLINE)
    finally:
        call.cancel()
    assert beats == sorted(beats)
    assert beats[-1] == 200


def _insert_events(database_url: str, count: int) -> None:
    """``count`` events written straight into the log of a migrated database (one
    transaction), as a server that committed them would have left it."""
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    now_us = time.time_ns() // 1000 - count
    rows = [
        {
            "sequence": n,
            "time_us": now_us + n,
            "namespace": "old",
            "flow_id": "bulk",
            "execution_id": f"ex-{n // 10}",
            "task_run_id": "",
            "task_id": "",
            "attempt": 0,
            "previous_state": None,
            "state": "CREATED",
            "reason": "",
            "execution_revision": 1,
            "actor": "",
        }
        for n in range(1, count + 1)
    ]
    with engine.begin() as conn:
        for start in range(0, count, 10_000):
            conn.execute(events.insert(), rows[start : start + 10_000])
        conn.execute(counters.update().where(counters.c.name == EVENT_SEQUENCE).values(value=count))
    engine.dispose()


@pytest.mark.timeout(CATCH_UP + 60)
async def test_a_subscriber_100000_events_behind_catches_up_in_batches_while_a_writer_writes(
    database_url: str, server_factory: Callable[..., Awaitable[Running]]
) -> None:
    total = 100_000
    store = Store(database_url)
    store.migrate()
    store.close()
    _insert_events(database_url, total)
    running = await server_factory()
    stubs = Stubs(running.target)
    messages: list[epb.SubscribeResponse] = []
    call = stubs.events.Subscribe(epb.SubscribeRequest(max_events_per_message=1000))
    writes = 200
    acknowledged: list[float] = []

    async def writer() -> None:
        for _ in range(writes):
            await create(stubs, 1, namespace="new")
            acknowledged.append(time.monotonic())

    try:
        writing = asyncio.create_task(writer())
        got = await read_until(call, total, messages, CATCH_UP)
        await asyncio.wait_for(writing, CATCH_UP)
        got += await read_until(call, total + writes, messages)
    finally:
        call.cancel()
        await stubs.channel.close()
    assert got == list(range(1, total + writes + 1))
    assert len(acknowledged) == writes
    catch_up = [m for m in messages if m.events and m.events[-1].sequence <= total]
    # Caught up in large messages: about 1,000 events each, not one by one.
    assert len(catch_up) <= total // 500
    assert max(len(m.events) for m in catch_up) == 1000


def test_a_batching_subscription_resumes_across_a_server_restart(
    database_url: str, tmp_path: Path
) -> None:
    """Read part of a batch, crash the server, write while it is down and after it is
    back, resume after the last event read: every event once, in order."""
    proc = ServerProcess(database_url, tmp_path / "server.log")
    try:
        asyncio.run(_restart_scenario(proc))
    finally:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.kill()


async def _restart_scenario(proc: ServerProcess) -> None:
    stubs = Stubs(proc.target)
    await create(stubs, 150)
    call = stubs.events.Subscribe(epb.SubscribeRequest(max_events_per_message=100))
    seen: list[int] = []
    try:
        response = await asyncio.wait_for(call.read(), DEADLINE)
    finally:
        call.cancel()
    await stubs.channel.close()
    # The client handed over the first 42 events of the message, then the server died.
    seen = [e.sequence for e in response.events][:42]
    assert seen == list(range(1, 43))
    proc.kill()
    proc.start()
    stubs = Stubs(proc.target)
    try:
        await create(stubs, 20)
        messages: list[epb.SubscribeResponse] = []
        call = stubs.events.Subscribe(
            epb.SubscribeRequest(after_sequence=seen[-1], max_events_per_message=100)
        )
        try:
            seen += await read_until(call, 170, messages)
        finally:
            call.cancel()
        assert seen == list(range(1, 171))
        assert messages[0].events[0].sequence == 43
    finally:
        await stubs.channel.close()


async def test_a_batching_stream_and_a_single_event_stream_on_one_channel_agree(
    running_server: Running, stubs: Stubs
) -> None:
    """The same events, whatever the framing; the batched one in fewer messages."""
    await create(stubs, 250)
    channel = grpc.aio.insecure_channel(running_server.target)
    other = event_service_pb2_grpc.EventServiceStub(channel)
    single: list[epb.SubscribeResponse] = []
    batched: list[epb.SubscribeResponse] = []
    calls = [
        stubs.events.Subscribe(epb.SubscribeRequest()),
        other.Subscribe(epb.SubscribeRequest(max_events_per_message=1000)),
    ]
    try:
        got = await asyncio.gather(
            read_until(calls[0], 250, single), read_until(calls[1], 250, batched)
        )
    finally:
        for c in calls:
            c.cancel()
        await channel.close()
    assert got[0] == got[1] == list(range(1, 251))
    assert [m.event for m in single] == [e for m in batched for e in m.events]
    assert len(batched) < len(single)


async def test_a_batch_stops_at_about_a_mebibyte(stubs: Stubs) -> None:
    """Events with long reasons: a message of up to 1,000 of them would pass the
    clients' 4 MiB default; the server splits it, nothing lost or reordered."""
    reason = "r" * 2048
    for i in range(300):
        ex = (
            await stubs.executions.CreateExecution(
                pb.CreateExecutionRequest(namespace="ns", flow_id=f"f{i}")
            )
        ).execution
        await stubs.executions.TransitionExecution(
            pb.TransitionExecutionRequest(execution_id=ex.id, state=st.STATE_RUNNING, reason=reason)
        )
        await stubs.executions.TransitionExecution(
            pb.TransitionExecutionRequest(execution_id=ex.id, state=st.STATE_FAILED, reason=reason)
        )
    messages: list[epb.SubscribeResponse] = []
    call = stubs.events.Subscribe(epb.SubscribeRequest(max_events_per_message=1000))
    try:
        assert await read_until(call, 900, messages) == list(range(1, 901))
    finally:
        call.cancel()
    sizes = [m.ByteSize() for m in messages]
    assert len(messages) >= 2
    assert max(sizes) <= (1 << 20) + 4096


async def test_a_stream_says_where_it_starts_in_its_headers(stubs: Stubs) -> None:
    """Issue 23: known from the moment the server accepts it, before any event."""
    await create(stubs, 5)
    for request, start in (
        (epb.SubscribeRequest(from_latest=True), "5"),
        (epb.SubscribeRequest(after_sequence=2), "2"),
        (epb.SubscribeRequest(), "0"),
    ):
        call = stubs.events.Subscribe(request)
        try:
            headers = dict(await asyncio.wait_for(call.initial_metadata(), DEADLINE))
        finally:
            call.cancel()
        assert headers["statehouse-start-sequence"] == start


async def test_max_events_per_message_refuses_a_negative_value_and_caps_a_huge_one(
    stubs: Stubs,
) -> None:
    call = stubs.events.Subscribe(epb.SubscribeRequest(max_events_per_message=-1))
    try:
        await asyncio.wait_for(call.read(), DEADLINE)
        raise AssertionError("accepted")
    except grpc.aio.AioRpcError as err:
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "max_events_per_message" in (err.details() or "")
    await create(stubs, 1200)
    messages: list[epb.SubscribeResponse] = []
    call = stubs.events.Subscribe(epb.SubscribeRequest(max_events_per_message=2**31 - 1))
    try:
        assert await read_until(call, 1200, messages) == list(range(1, 1201))
    finally:
        call.cancel()
    assert max(len(m.events) for m in messages) == 1000  # the server's cap
