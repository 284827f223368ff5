"""PostgreSQL: a commit's events ride in its NOTIFY when they fit, so the other
replicas take them from the announcement instead of reading them back from the log;
a commit whose events do not fit is read from the log as before. Either way a
subscriber on the other replica gets every event once, in order, as stored."""

from __future__ import annotations

import asyncio

import pytest

from statehouse.server.storage.postgres import ANNOUNCED_BYTES, announced_events
from statehouse.v1 import (
    event_service_pb2 as epb,
    execution_service_pb2 as pb,
    state_pb2 as st,
)
from tests.eventually import eventually_async

from .conftest import BACKENDS, Running, Stubs
from .helpers import create, task_run
from .test_events import stored_events

HOUR = 3600.0

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif("postgresql" not in BACKENDS, reason="NOTIFY is PostgreSQL's"),
]


@pytest.fixture
def database_url(pg_cluster: object, pg_template: str) -> str:
    """PostgreSQL only (the suite's fixture runs each backend in turn)."""
    return pg_cluster.create_database(template=pg_template)  # type: ignore[attr-defined, no-any-return]


async def test_another_replica_takes_announced_events_and_reads_the_rest(
    server_factory: object,
) -> None:
    # No poll: only the announcements move b's head (a poll may read the log first).
    a: Running = await server_factory(poll_interval=HOUR)  # type: ignore[operator]
    b: Running = await server_factory(poll_interval=HOUR)  # type: ignore[operator]
    writer, reader = Stubs(a.target), Stubs(b.target)
    call = reader.events.Subscribe(epb.SubscribeRequest(max_events_per_message=1000))
    received: list[int] = []

    async def read() -> None:
        async for response in call:
            events = [response.event] if response.HasField("event") else response.events
            received.extend(e.sequence for e in events)

    reading = asyncio.create_task(read())
    try:
        # b has a subscriber (else it would pass a's events unread), and its listener
        # is up (a commit before it listened is read from the log).
        hub = b.server.hub
        await eventually_async(hub.wants_events, "b's subscriber counted")

        async def listening() -> bool:
            await create(writer)
            return hub.announced > 0

        await eventually_async(listening, "b's listener hearing a", step=0.05)
        before = hub.announced
        # Small commits, one at a time: each announced with its events.
        for _ in range(20):
            execution = await create(writer)
        await eventually_async(lambda: hub.head == execution_head(a), "b at a's head")
        small = hub.announced - before
        # One commit of 200 events with long reasons: too large for a NOTIFY.
        runs = [await task_run(writer, execution.id, f"t{i}") for i in range(200)]
        large = pb.TransitionTaskRunsRequest(
            requests=[
                pb.TransitionTaskRunRequest(
                    task_run_id=r.id, state=st.STATE_RUNNING, reason="x" * 200
                )
                for r in runs
            ]
        )
        answers = await writer.executions.TransitionTaskRuns(large)
        assert not any(item.HasField("error") for item in answers.results)
        stored = [row[0] for row in stored_events(a)]
        await eventually_async(lambda: len(received) >= len(stored), "every event on b")
    finally:
        call.cancel()
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
        for stubs in (writer, reader):
            await stubs.channel.close()
    assert received == stored  # once each, in order, as stored
    assert small >= 20  # the creates came announced (and maybe the last warm-up)
    # The large commit's events came from the log: fewer announced than received.
    assert b.server.hub.announced < len(received)


def execution_head(running: Running) -> int:
    return stored_events(running)[-1][0]


def test_a_payload_gives_the_last_sequence_and_the_events_it_carries() -> None:
    rows = (
        '[{"time_us":1,"namespace":"ns","flow_id":"f","execution_id":"e","task_run_id":"",'
        '"task_id":"","attempt":0,"previous_state":null,"state":"CREATED","reason":"",'
        '"execution_revision":1,"actor":"a","k":0},'
        '{"time_us":2,"namespace":"ns","flow_id":"f","execution_id":"e","task_run_id":"",'
        '"task_id":"","attempt":0,"previous_state":"CREATED","state":"RUNNING","reason":"",'
        '"execution_revision":2,"actor":"a","k":1}]'
    )
    last, events = announced_events(f"41 {rows}")
    assert last == 41 and events is not None
    assert [(e.sequence, e.state.value) for e in events] == [(40, "CREATED"), (41, "RUNNING")]
    assert announced_events("41") == (41, None)  # the sequence alone: read the log
    assert announced_events("41 [{") == (41, None)  # unreadable: read the log
    assert announced_events("x") == (0, None)
    assert ANNOUNCED_BYTES < 8000  # PostgreSQL's limit on a payload


async def test_a_replica_with_nobody_to_deliver_to_passes_the_events_unread(
    server_factory: object,
) -> None:
    """No subscription and no claim waiting on b: b moves its head past a's events
    without decoding or reading them; a subscriber that comes later reads them from
    the log, then gets the next ones announced."""
    # No poll: only the announcements move b's head (a poll may read the log first).
    a: Running = await server_factory(poll_interval=HOUR)  # type: ignore[operator]
    b: Running = await server_factory(poll_interval=HOUR)  # type: ignore[operator]
    writer, reader = Stubs(a.target), Stubs(b.target)
    hub = b.server.hub
    try:
        for _ in range(10):
            await create(writer)
        stored = [row[0] for row in stored_events(a)]
        await eventually_async(lambda: hub.head == stored[-1], "b's head at a's last event")
        assert hub.skipped >= len(stored) and hub.announced == 0
        call = reader.events.Subscribe(epb.SubscribeRequest(max_events_per_message=1000))
        received: list[int] = []

        async def read() -> None:
            async for response in call:
                events = [response.event] if response.HasField("event") else response.events
                received.extend(e.sequence for e in events)

        reading = asyncio.create_task(read())
        try:
            await eventually_async(lambda: received == stored, "the skipped events, from the log")
            await eventually_async(lambda: hub.wants_events(), "b's subscriber counted")
            for _ in range(5):
                await create(writer)
            stored = [row[0] for row in stored_events(a)]
            await eventually_async(lambda: received == stored, "the next events, live")
            assert hub.announced >= 5
        finally:
            call.cancel()
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
    finally:
        for stubs in (writer, reader):
            await stubs.channel.close()
