"""AdminService.GetServerInfo and ExecutionService.CountExecutions through a
real server on each backend: what `statehouse status` shows (version, database
backend, the event log's extent, counts of executions by state), through the
raw stubs and through both SDK clients; the count is one GROUP BY statement."""

from __future__ import annotations

import asyncio
import importlib.metadata
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from statehouse.client import AsyncClient, Client
from statehouse.v1 import (
    admin_service_pb2 as apb,
    admin_service_pb2_grpc,
    event_service_pb2 as epb,
    execution_service_pb2 as pb,
    state_pb2 as st,
)

from .conftest import Running, Stubs
from .helpers import create, details, move, task_run

Code = grpc.StatusCode

#: Every state but STATE_UNSPECIFIED, in the enum's order.
STATES = [v.number for v in st.State.DESCRIPTOR.values if v.number]


@pytest.fixture
async def admin(server_target: str) -> AsyncIterator[admin_service_pb2_grpc.AdminServiceStub]:
    channel = grpc.aio.insecure_channel(server_target)
    try:
        yield admin_service_pb2_grpc.AdminServiceStub(channel)
    finally:
        await channel.close()


def by_state(response: pb.CountExecutionsResponse) -> dict[int, int]:
    return {c.state: c.count for c in response.counts}


async def count(stubs: Stubs, **kwargs: Any) -> pb.CountExecutionsResponse:
    return await stubs.executions.CountExecutions(pb.CountExecutionsRequest(**kwargs))


# -- GetServerInfo ---------------------------------------------------------------------


async def test_server_info_tells_version_backend_and_the_log(
    running_server: Running, stubs: Stubs, admin: admin_service_pb2_grpc.AdminServiceStub
) -> None:
    before = time.time()
    info = await admin.GetServerInfo(apb.GetServerInfoRequest())
    assert info.version == importlib.metadata.version("statehouse-server")
    backend = sa.make_url(running_server.settings.resolved_database_url()).get_backend_name()
    assert info.database_backend == backend
    assert info.database_backend in ("sqlite", "postgresql")
    assert (info.head_sequence, info.first_available_sequence) == (0, 1)
    assert info.processes == 1
    assert 0 < info.start_time.ToMicroseconds() / 1e6 <= before

    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    await move(stubs, tr.id, st.STATE_RUNNING)  # the task run, its attempt and the execution
    events = []
    stream = stubs.events.Subscribe(epb.SubscribeRequest())
    async for item in stream:
        if item.HasField("event"):
            events.append(item.event.sequence)
        if len(events) == 4:
            break
    stream.cancel()
    info = await admin.GetServerInfo(apb.GetServerInfoRequest())
    assert info.head_sequence == events[-1] == 4
    assert info.first_available_sequence == 1

    # Retention deletes the oldest events: the log's first sequence moves on.
    await running_server.server.store.write(
        lambda tx: tx.compact_events(keep_last=1, older_than_us=None)
    )
    info = await admin.GetServerInfo(apb.GetServerInfoRequest())
    assert (info.head_sequence, info.first_available_sequence) == (4, 4)


# -- CountExecutions ------------------------------------------------------------------------


async def make_population(stubs: Stubs) -> None:
    """team-a.app/etl: 3 CREATED (2 labelled env=prod), 2 RUNNING (env=prod, tier=1),
    1 SUCCESS; team-a.app/load: 1 FAILED; team-b/etl: 2 CREATED."""
    for labels in ({"env": "prod"}, {"env": "prod"}, {}):
        await create(stubs, namespace="team-a.app", flow_id="etl", labels=labels)
    for _ in range(2):
        ex = await create(
            stubs, namespace="team-a.app", flow_id="etl", labels={"env": "prod", "tier": "1"}
        )
        await move(stubs, (await task_run(stubs, ex.id)).id, st.STATE_RUNNING)
    ex = await create(stubs, namespace="team-a.app", flow_id="etl")
    tr = await task_run(stubs, ex.id)
    await move(stubs, tr.id, st.STATE_RUNNING)
    await move(stubs, tr.id, st.STATE_SUCCESS)
    await stubs.executions.CompleteExecution(pb.CompleteExecutionRequest(execution_id=ex.id))
    ex = await create(stubs, namespace="team-a.app", flow_id="load")
    await stubs.executions.TransitionExecution(
        pb.TransitionExecutionRequest(execution_id=ex.id, state=st.STATE_FAILED)
    )
    for _ in range(2):
        await create(stubs, namespace="team-b", flow_id="etl")


async def test_counts_by_state_with_every_state_present(stubs: Stubs) -> None:
    empty = await count(stubs)
    assert [c.state for c in empty.counts] == STATES
    assert empty.total == 0 and set(by_state(empty).values()) == {0}

    await make_population(stubs)
    everything = await count(stubs)
    assert [c.state for c in everything.counts] == STATES
    expected = dict.fromkeys(STATES, 0)
    expected.update(
        {st.STATE_CREATED: 5, st.STATE_RUNNING: 2, st.STATE_SUCCESS: 1, st.STATE_FAILED: 1}
    )
    assert by_state(everything) == expected
    assert everything.total == 9

    def nonzero(response: pb.CountExecutionsResponse) -> dict[int, int]:
        assert response.total == sum(by_state(response).values())
        return {s: n for s, n in by_state(response).items() if n}

    assert nonzero(await count(stubs, namespace="team-b")) == {st.STATE_CREATED: 2}
    assert nonzero(await count(stubs, namespace="team-a.app", flow_id="load")) == {
        st.STATE_FAILED: 1
    }
    assert nonzero(await count(stubs, flow_id="etl")) == {
        st.STATE_CREATED: 5,
        st.STATE_RUNNING: 2,
        st.STATE_SUCCESS: 1,
    }
    assert nonzero(await count(stubs, labels={"env": "prod"})) == {
        st.STATE_CREATED: 2,
        st.STATE_RUNNING: 2,
    }
    assert nonzero(await count(stubs, labels={"env": "prod", "tier": "1"})) == {st.STATE_RUNNING: 2}
    assert nonzero(await count(stubs, namespace="nobody")) == {}
    # The same executions as ListExecutions with the same filters.
    listed = await stubs.executions.ListExecutions(
        pb.ListExecutionsRequest(labels={"env": "prod"}, page_size=100)
    )
    assert len(listed.executions) == (await count(stubs, labels={"env": "prod"})).total


async def test_the_count_is_one_group_by_statement(running_server: Running, stubs: Stubs) -> None:
    await make_population(stubs)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engines = running_server.server.store.engines()
    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        response = await count(stubs, namespace="team-a.app", labels={"env": "prod", "tier": "1"})
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", seen)
    assert response.total == 2
    ours = [s for s in statements if "executions" in s and "count(" in s.lower()]
    assert len(ours) == 1, statements
    assert "GROUP BY" in ours[0].upper()


async def test_counts_refuse_bad_filters(stubs: Stubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await count(stubs, namespace="Not Valid!", labels={f"k{i}": "v" for i in range(17)})
    assert info.value.code() == Code.INVALID_ARGUMENT
    assert details(info.value)[2] == ["namespace", "labels"]


# -- through the SDK ----------------------------------------------------------------------


async def test_both_sdk_clients_have_server_info_and_counts(
    server_target: str, stubs: Stubs
) -> None:
    await make_population(stubs)

    def blocking() -> tuple[Any, Any]:
        with Client.connect(server_target) as client:
            return client.get_server_info(), client.count_executions(namespace="team-a.app")

    info, counted = await asyncio.to_thread(blocking)
    assert info.version == importlib.metadata.version("statehouse-server")
    assert counted.total == 7
    assert by_state(counted)[st.STATE_CREATED] == 3

    async with AsyncClient.connect(server_target) as client:
        info = await client.get_server_info()
        counted = await client.count_executions(labels={"env": "prod"}, flow_id="etl")
    assert info.head_sequence > 0
    assert counted.total == 4
    assert [c.state for c in counted.counts] == STATES
