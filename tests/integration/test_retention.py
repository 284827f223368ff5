"""Bounded data: request ids expire (``--request-id-ttl``) and old terminal
executions are deleted with everything that is theirs (``--retention-executions``),
in small batches while writers run; their events stay.

Both on SQLite and on PostgreSQL (the ``database_url`` fixture). The sweeps are
run by the test (``housekeeper.sweep()``), not by the background loop (its
interval is an hour here), so what each sweep finds is known.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import struct_pb2

from statehouse.server.storage import schema
from statehouse.v1 import (
    execution_service_pb2 as pb,
    metric_pb2,
    metric_service_pb2 as mpb,
    state_pb2 as st,
)

from .conftest import ManualClock, Running, Stubs
from .helpers import create, move, task_run

Factory = Callable[..., Awaitable[Running]]
HOUR = 3600.0


def outputs(**values: object) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(values)
    return s


async def finished(stubs: Stubs, tasks: int = 3, *, label: str = "") -> str:
    """A SUCCESS execution with ``tasks`` task runs, each with outputs and a metric."""
    ex = await create(stubs, labels={"batch": label} if label else {})
    for i in range(tasks):
        tr = await task_run(stubs, ex.id, f"t{i}")
        await move(stubs, tr.id, st.STATE_RUNNING)
        await stubs.metrics.RecordMetrics(
            mpb.RecordMetricsRequest(
                task_run_id=tr.id,
                metrics=[metric_pb2.MetricEntry(name="rows", counter=10, tags={"k": "v"})],
            )
        )
        await move(stubs, tr.id, st.STATE_SUCCESS, outputs=outputs(rows=10, i=i))
    await stubs.executions.CompleteExecution(
        pb.CompleteExecutionRequest(execution_id=ex.id, outputs=outputs(ok=True))
    )
    return ex.id


def rows_of(url: str, execution_ids: set[str]) -> dict[str, int]:
    """Rows that belong to ``execution_ids``, by table (events included)."""
    engine = sa.create_engine(url)
    ids = list(execution_ids)
    try:
        with engine.connect() as conn:
            counts = {}
            for name, table, column in (
                ("executions", schema.executions, schema.executions.c.id),
                ("task_runs", schema.task_runs, schema.task_runs.c.execution_id),
                ("labels", schema.execution_labels, schema.execution_labels.c.execution_id),
                ("timers", schema.timers, schema.timers.c.execution_id),
                ("metrics", schema.metrics, schema.metrics.c.execution_id),
                ("events", schema.events, schema.events.c.execution_id),
            ):
                query = sa.select(sa.func.count()).select_from(table).where(column.in_(ids))
                counts[name] = int(conn.execute(query).scalar_one())
            tags = sa.select(sa.func.count()).select_from(schema.metric_tags)
            counts["metric_tags_total"] = int(conn.execute(tags).scalar_one())
            return counts
    finally:
        engine.dispose()


async def test_an_expired_request_id_is_new_and_an_unexpired_one_replays(
    server_factory: Factory, manual_clock: ManualClock
) -> None:
    ttl = 1.0
    running = await server_factory(request_id_ttl=ttl, housekeeping_interval=HOUR)
    stubs = Stubs(running.target)
    try:
        old = await create(stubs, request_id="old")
        swept = await create(stubs, request_id="swept")
        assert (await create(stubs, request_id="old")).id == old.id  # replayed
        # The TTL passes: the server's clock is moved past it.
        manual_clock.advance(ttl + 0.2)
        fresh = await create(stubs, request_id="fresh")
        assert (await create(stubs, request_id="fresh")).id == fresh.id
        # Expired, its record not swept yet: a new request, whose record replaces it.
        again = await create(stubs, request_id="old")
        assert again.id != old.id
        assert (await create(stubs, request_id="old")).id == again.id
        # Other content under an expired id is not REQUEST_ID_REUSED either: it is new.
        # The sweep deletes the one record still expired ("swept"), not the fresh ones.
        done = await running.server.housekeeper.sweep()
        assert done["request_ids"] == 1
        assert (await running.server.housekeeper.sweep())["request_ids"] == 0
        other = await create(stubs, request_id="swept", flow_id="another")
        assert other.id != swept.id and other.flow_id == "another"
        assert (await create(stubs, request_id="fresh")).id == fresh.id
    finally:
        await stubs.channel.close()


async def test_a_request_id_is_remembered_until_its_ttl(server_factory: Factory) -> None:
    running = await server_factory(housekeeping_interval=HOUR)  # the default: 7 days
    stubs = Stubs(running.target)
    try:
        first = await create(stubs, request_id="r")
        assert (await running.server.housekeeper.sweep())["request_ids"] == 0
        assert (await create(stubs, request_id="r")).id == first.id
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await create(stubs, request_id="r", flow_id="other")
        assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    finally:
        await stubs.channel.close()


async def test_retention_deletes_exactly_the_old_terminal_executions_while_writers_run(
    server_factory: Factory, database_url: str, manual_clock: ManualClock
) -> None:
    keep = 1.5
    running = await server_factory(retention_executions=keep, housekeeping_interval=HOUR)
    # Small batches, so that the sweep takes several transactions among the writers'.
    running.server.housekeeper.policy = type(running.server.housekeeper.policy)(
        retention_executions=keep, request_id_ttl=0, interval=HOUR, execution_batch=7
    )
    stubs = Stubs(running.target)
    try:
        old = {await finished(stubs, label="old") for _ in range(16)}
        failed = await create(stubs)
        await stubs.executions.TransitionExecution(
            pb.TransitionExecutionRequest(execution_id=failed.id, state=st.STATE_FAILED)
        )
        old.add(failed.id)
        # Old but active: never deleted, however old.
        active = await create(stubs)
        running_tr = await task_run(stubs, active.id)
        await move(stubs, running_tr.id, st.STATE_RUNNING)
        paused = await create(stubs)
        await move(stubs, (await task_run(stubs, paused.id)).id, st.STATE_RUNNING)
        await stubs.executions.PauseExecution(pb.PauseExecutionRequest(execution_id=paused.id))
        # Created long ago, ended recently: kept (its last change counts).
        late = await create(stubs)
        late_tr = await task_run(stubs, late.id)
        await move(stubs, late_tr.id, st.STATE_RUNNING)
        before = rows_of(database_url, old)
        assert before["executions"] == len(old) and before["task_runs"] == 16 * 3
        assert before["metrics"] == 16 * 3 and before["labels"] == 16
        manual_clock.advance(keep + 0.3)  # past the retention window of those ended so far
        await move(stubs, late_tr.id, st.STATE_SUCCESS)
        await stubs.executions.CompleteExecution(pb.CompleteExecutionRequest(execution_id=late.id))

        # Writers: a bounded loop of creates and transitions, running during the sweep.
        written: list[str] = []
        recent_terminal: list[str] = []
        stop = asyncio.Event()

        async def writer(n: int) -> None:
            for i in range(40):
                if stop.is_set() and i >= 10:
                    return
                ex = await create(stubs, flow_id=f"w{n}")
                tr = await task_run(stubs, ex.id)
                await move(stubs, tr.id, st.STATE_RUNNING)
                written.append(ex.id)
                if i % 2:
                    await move(stubs, tr.id, st.STATE_SUCCESS)
                    await stubs.executions.CompleteExecution(
                        pb.CompleteExecutionRequest(execution_id=ex.id)
                    )
                    recent_terminal.append(ex.id)

        writers = [asyncio.create_task(writer(n)) for n in range(3)]
        await asyncio.sleep(0)
        started = time.monotonic()
        done = await running.server.housekeeper.sweep()
        stop.set()
        await asyncio.gather(*writers)
        assert time.monotonic() - started < 30
        assert done["executions"] == len(old)
        assert running.server.housekeeper.deleted["executions"] == len(old)
        # ... and counted where /metrics shows it.
        scraped = (await running.server.store.metrics.scrape()).decode()
        expected = f'statehouse_retention_deleted_total{{kind="execution"}} {float(len(old))}'
        assert expected in scraped

        after = rows_of(database_url, old)
        assert {k: v for k, v in after.items() if k not in ("events", "metric_tags_total")} == {
            "executions": 0,
            "task_runs": 0,
            "labels": 0,
            "timers": 0,
            "metrics": 0,
        }
        # Events stay: the log has its own retention.
        assert after["events"] == before["events"] > 0
        assert after["metric_tags_total"] == before["metric_tags_total"] - 16 * 3
        for execution_id in old:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stubs.executions.GetExecution(
                    pb.GetExecutionRequest(execution_id=execution_id)
                )
            assert info.value.code() == grpc.StatusCode.NOT_FOUND
        kept = {active.id, paused.id, late.id, *written}
        assert rows_of(database_url, kept)["executions"] == len(kept)
        assert recent_terminal  # terminal, but recent: kept
        states = {
            (
                await stubs.executions.GetExecution(pb.GetExecutionRequest(execution_id=i))
            ).execution.state
            for i in (active.id, paused.id)
        }
        assert states == {st.STATE_RUNNING, st.STATE_PAUSED}
    finally:
        await stubs.channel.close()


async def test_the_sweeper_applies_the_event_log_s_retention_by_itself(
    server_factory: Factory,
) -> None:
    """One sweeper bounds the stored data: the housekeeper's loop also compacts the
    event log (``--retention-events``), at its compaction interval."""
    from tests.eventually import eventually_async

    running = await server_factory(
        retention_events=5, housekeeping_interval=0.02, compaction_interval=0.02
    )
    stubs = Stubs(running.target)
    try:
        for _ in range(12):
            await create(stubs)
        url = running.settings.resolved_database_url()

        def stored() -> list[int]:
            engine = sa.create_engine(url, poolclass=sa.NullPool)
            try:
                with engine.connect() as db:
                    rows = db.exec_driver_sql("SELECT sequence FROM events ORDER BY sequence")
                    return [row[0] for row in rows]
            finally:
                engine.dispose()

        await eventually_async(lambda: len(stored()) <= 5, "the log compacted to 5 events")
        assert stored() == list(range(8, 13))  # the newest five kept
    finally:
        await stubs.channel.close()
