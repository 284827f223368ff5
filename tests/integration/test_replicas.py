"""Two replicas on one database: conflicting changes have one winner, timers fire
once, and (on PostgreSQL) a database restart is survived."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import grpc
import pytest

from statehouse.v1 import execution_service_pb2 as pb, state_pb2 as st
from tests.eventually import eventually_async

from .conftest import ManualClock, Running, Stubs
from .helpers import create, details, get, move, task_run

Factory = Callable[..., Awaitable[Running]]


async def two_replicas(server_factory: Factory, **overrides: object) -> tuple[Stubs, Stubs]:
    a = await server_factory(**overrides)
    b = await server_factory(**overrides)
    return Stubs(a.target), Stubs(b.target)


async def test_the_same_start_on_two_replicas_has_one_winner(server_factory: Factory) -> None:
    a, b = await two_replicas(server_factory)
    for _ in range(10):
        ex = await create(a)
        tr = await task_run(a, ex.id)
        results = await asyncio.gather(
            *(move(stub, tr.id, st.STATE_RUNNING) for stub in (a, b, a, b)),
            return_exceptions=True,
        )
        ok = [r for r in results if not isinstance(r, BaseException)]
        errors = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert len(ok) == 1 and len(errors) == 3
        for error in errors:
            assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert details(error)[0] == "INVALID_TRANSITION"
        final = (await get(b, ex.id)).task_runs[0]
        assert [a.number for a in final.attempts] == [1]
    for s in (a, b):
        await s.channel.close()


async def test_the_same_expected_revision_on_two_replicas_has_one_winner(
    server_factory: Factory,
) -> None:
    a, b = await two_replicas(server_factory)
    ex = await create(a)
    trs = [await task_run(a, ex.id, f"t{i}") for i in range(6)]
    revision = (await get(a, ex.id)).revision
    results = await asyncio.gather(
        *(
            move(stub, tr.id, st.STATE_RUNNING, expected_revision=revision)
            for stub, tr in zip((a, b) * 3, trs, strict=True)
        ),
        return_exceptions=True,
    )
    ok = [r for r in results if not isinstance(r, BaseException)]
    aborted = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(ok) == 1
    assert {e.code() for e in aborted} == {grpc.StatusCode.ABORTED}
    after = await get(b, ex.id)
    assert after.revision == revision + 1
    assert sum(1 for t in after.task_runs if t.state == st.STATE_RUNNING) == 1
    for s in (a, b):
        await s.channel.close()


async def test_timers_fire_once_with_two_replicas_up(
    server_factory: Factory, manual_clock: ManualClock
) -> None:
    replicas = [await server_factory(timer_poll_interval=0.05) for _ in range(2)]
    a, b = Stubs(replicas[0].target), Stubs(replicas[1].target)
    ids = []
    due = 0
    for i in range(8):
        stub = (a, b)[i % 2]
        ex = await create(stub)
        tr = await task_run(stub, ex.id)
        await move(stub, tr.id, st.STATE_RUNNING)
        paused = await stub.executions.PauseExecution(
            pb.PauseExecutionRequest(execution_id=ex.id, delay={"nanos": 300_000_000})
        )
        due = max(due, paused.resume_time.ToMicroseconds())
        ids.append(ex.id)

    # Every delay passes at once (both replicas read the one clock): their schedulers race.
    manual_clock.advance(max(0, due - manual_clock.now) / 1e6 + 0.001)

    async def all_resumed() -> bool:
        states = [(await get(a, i)).state for i in ids]
        return all(state == st.STATE_RUNNING for state in states)

    await eventually_async(all_resumed, "every execution resumed", step=0.05)
    # Both schedulers look again after every timer was due: still nothing twice.
    for r in replicas:
        await r.server.scheduler.fire_due()
    for execution_id in ids:
        history = [h.state for h in (await get(b, execution_id)).history]
        assert history == [st.STATE_CREATED, st.STATE_RUNNING, st.STATE_PAUSED, st.STATE_RUNNING]
    assert sum(r.server.scheduler.fired for r in replicas) == len(ids)
    for s in (a, b):
        await s.channel.close()


async def test_a_database_restart_gives_unavailable_then_recovers(
    request: pytest.FixtureRequest, server_factory: Factory, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a database server restart only exists on PostgreSQL")
    # A cluster of its own: the run's cluster serves the other tests meanwhile.
    cluster = request.getfixturevalue("private_pg_cluster")
    a, b = await two_replicas(server_factory, database_url=cluster.create_database())
    ex = await create(a)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, cluster.stop_server)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await get(a, ex.id)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert details(info.value)[0] == "DATABASE_UNAVAILABLE"
    finally:
        await loop.run_in_executor(None, cluster.start_server)
    # Both replicas recover by themselves: reads, writes and the stream.
    tr = await task_run(b, ex.id)
    moved = await move(a, tr.id, st.STATE_RUNNING)
    assert moved.execution_state == st.STATE_RUNNING
    assert (await get(b, ex.id)).state == st.STATE_RUNNING
    for s in (a, b):
        await s.channel.close()
