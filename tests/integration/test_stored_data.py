"""What is stored can be read back: the edge values validation accepts survive
every read RPC unchanged, and a record that cannot be decoded (written before
validation existed, or edited by hand) is reported for itself alone.

Both on SQLite and on PostgreSQL (the ``database_url`` fixture)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2

from statehouse.server import limits
from statehouse.v1 import (
    event_pb2,
    event_service_pb2 as epb,
    execution_pb2,
    execution_service_pb2 as pb,
    metric_pb2,
    metric_service_pb2 as mpb,
    state_pb2 as st,
)

from .conftest import Stubs
from .helpers import create, details, move, task_run

Code = grpc.StatusCode
FULL = execution_pb2.EXECUTION_VIEW_FULL
BASIC = execution_pb2.EXECUTION_VIEW_BASIC


def edge_document() -> dict[str, object]:
    """Every kind of value a payload may hold, at the edges of what is accepted."""
    deep: dict[str, object] = {"leaf": "bottom"}
    for _ in range(limits.MAX_PAYLOAD_DEPTH - 2):
        deep = {"d": deep}
    return {
        "k" * limits.MAX_PAYLOAD_KEY: "longest key",
        "unicode ключ 鍵 🔑": "non-BMP 𝄞 and emoji 🚀, RTL ‏שלום‏",
        "controls": "tab\tnewline\nescape\x1b[0m bell\x07 del\x7f",
        "numbers": [1.7976931348623157e308, -1.7976931348623157e308, 5e-324, -0.0, 2.0**53, 0.1],
        "flags": [True, False, None],
        "empty": {"list": [], "object": {}, "string": ""},
        "deep": deep,
    }


def struct(value: dict[str, object]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


def long_duration() -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=limits.MAX_DURATION_SECONDS)


async def test_edge_values_round_trip_through_every_read(stubs: Stubs) -> None:
    namespace = "n" * limits.MAX_NAMESPACE
    flow = "F" * limits.MAX_IDENTIFIER
    labels = {
        f"{i:02d}" + "k" * (limits.MAX_LABEL_KEY - 2): "väl 🏷" + "v" * (limits.MAX_LABEL_VALUE - 6)
        for i in range(limits.MAX_LABELS)
    }
    document = edge_document()
    ex = await create(
        stubs,
        namespace=namespace,
        flow_id=flow,
        flow_revision=(1 << 31) - 1,
        labels=labels,
        inputs=struct(document),
        request_id="r" * limits.MAX_REQUEST_ID,
    )
    policy = execution_pb2.RetryPolicy(
        max_attempts=limits.MAX_RETRY_ATTEMPTS,
        exponential=execution_pb2.RetryPolicy.Exponential(
            interval=duration_pb2.Duration(nanos=1000),
            max_interval=long_duration(),
            factor=limits.MAX_RETRY_FACTOR,
        ),
        max_duration=long_duration(),
        warning_on_retry=True,
    )
    created = await stubs.executions.CreateTaskRun(
        pb.CreateTaskRunRequest(
            execution_id=ex.id,
            task_id="T" * limits.MAX_IDENTIFIER,
            value="ü" * limits.MAX_VALUE,
            retry_policy=policy,
        )
    )
    tr = created.task_run
    reason = "why:\n\t" + "r" * (limits.MAX_REASON - 6)
    await move(stubs, tr.id, st.STATE_RUNNING, worker_id="w" * limits.MAX_WORKER_ID)
    tags = {
        f"t{i}" + "k" * (limits.MAX_TAG_KEY - 3): "v" * limits.MAX_TAG_VALUE
        for i in range(limits.MAX_TAGS)
    }
    entries = [
        metric_pb2.MetricEntry(name="big", counter=limits.MAX_COUNTER, tags=tags),
        metric_pb2.MetricEntry(name="small", counter=-limits.MAX_COUNTER),
        metric_pb2.MetricEntry(
            name="M" * limits.MAX_METRIC_NAME,
            timer=long_duration(),
            description="d\n" * (limits.MAX_METRIC_DESCRIPTION // 2),
        ),
    ]
    await stubs.metrics.RecordMetrics(mpb.RecordMetricsRequest(task_run_id=tr.id, metrics=entries))
    await move(stubs, tr.id, st.STATE_SUCCESS, reason=reason, outputs=struct(document))

    expected_document = struct(document)
    for view in (BASIC, FULL):
        got = (
            await stubs.executions.GetExecution(
                pb.GetExecutionRequest(execution_id=ex.id, view=view)
            )
        ).execution
        listed = (
            await stubs.executions.ListExecutions(
                pb.ListExecutionsRequest(
                    namespace=namespace, labels=dict(list(labels.items())[:16]), view=view
                )
            )
        ).executions
        assert [e.id for e in listed] == [ex.id]
        for execution in (got, listed[0]):
            assert (execution.namespace, execution.flow_id) == (namespace, flow)
            assert execution.flow_revision == (1 << 31) - 1
            assert dict(execution.labels) == labels
            assert execution.inputs == expected_document
            if view == FULL:
                (run,) = execution.task_runs
                assert run.value == "ü" * limits.MAX_VALUE
                assert run.retry_policy == policy
                assert run.outputs == expected_document
                assert run.history[-1].reason == reason
                assert run.attempts[0].worker_id == "w" * limits.MAX_WORKER_ID
    follow = stubs.events.FollowExecution(epb.FollowExecutionRequest(execution_id=ex.id))
    snapshot = await asyncio.wait_for(follow.read(), 20)
    follow.cancel()
    assert snapshot.execution.task_runs[0].outputs == expected_document
    call = stubs.events.Subscribe(
        epb.SubscribeRequest(
            filter=event_pb2.EventFilter(namespace=namespace, execution_ids=[ex.id]),
            heartbeat_interval=duration_pb2.Duration(nanos=200_000_000),
        )
    )
    reasons = []
    while True:
        item = await asyncio.wait_for(call.read(), 20)
        if item.HasField("heartbeat"):
            break
        reasons.append(item.event.reason)
    call.cancel()
    assert reason in reasons
    metrics = (await stubs.metrics.ListMetrics(mpb.ListMetricsRequest(execution_id=ex.id))).metrics
    by_name = {m.name: m for m in metrics}
    assert by_name["big"].counter == limits.MAX_COUNTER and dict(by_name["big"].tags) == tags
    assert by_name["small"].counter == -limits.MAX_COUNTER
    assert by_name["M" * limits.MAX_METRIC_NAME].timer == long_duration()
    now = datetime.now(UTC)
    start, end = timestamp_pb2.Timestamp(), timestamp_pb2.Timestamp()
    start.FromDatetime(now - timedelta(hours=1))
    end.FromDatetime(now + timedelta(hours=1))
    aggregate = await stubs.metrics.AggregateMetrics(
        mpb.AggregateMetricsRequest(
            namespace=namespace,
            name="big",
            type=metric_pb2.METRIC_TYPE_COUNTER,
            start_time=start,
            end_time=end,
            group_by_tag="t0" + "k" * (limits.MAX_TAG_KEY - 3),
        )
    )
    (series,) = aggregate.series
    assert sum(b.sum for b in series.buckets) == limits.MAX_COUNTER
    assert series.tag_value == "v" * limits.MAX_TAG_VALUE


async def test_longest_pause_delay_is_stored_and_resumed(stubs: Stubs) -> None:
    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    await move(stubs, tr.id, st.STATE_RUNNING)
    paused = await stubs.executions.PauseExecution(
        pb.PauseExecutionRequest(execution_id=ex.id, delay=long_duration())
    )
    assert paused.resume_time.seconds > datetime.now(UTC).timestamp() + 9 * 365 * 86400
    resumed = await stubs.executions.ResumeExecution(pb.ResumeExecutionRequest(execution_id=ex.id))
    assert resumed.execution.state == st.STATE_RUNNING


def _corrupt(url: str, statement: str, **params: object) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()


async def _expect_unreadable(call: object, execution_id: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call  # type: ignore[misc]
    assert info.value.code() == Code.DATA_LOSS
    reason, metadata, _ = details(info.value)
    assert reason == "UNREADABLE_RECORD"
    assert metadata["execution_id"] == execution_id
    assert execution_id in (info.value.details() or "")


async def test_an_unreadable_record_fails_only_its_own_reads(
    stubs: Stubs, database_url: str
) -> None:
    good = await create(stubs, flow_id="good")
    # What an older server stored for a NaN retry factor: null.
    poisoned = await create(stubs, flow_id="poisoned")
    tr = await task_run(stubs, poisoned.id)
    await move(stubs, tr.id, st.STATE_RUNNING)
    _corrupt(
        database_url,
        "UPDATE task_runs SET retry_policy = :p WHERE id = :id",
        p='{"kind":"exponential","max_attempts":3,"interval_us":1,"max_interval_us":9,'
        '"max_duration_us":0,"factor":null,"warning_on_retry":false}',
        id=tr.id,
    )
    broken = await create(stubs, flow_id="broken")
    _corrupt(
        database_url, "UPDATE executions SET history = 'not json' WHERE id = :id", id=broken.id
    )

    async def get(execution_id: str, view: int = FULL) -> execution_pb2.Execution:
        response = await stubs.executions.GetExecution(
            pb.GetExecutionRequest(execution_id=execution_id, view=view)
        )
        return response.execution

    assert (await get(good.id)).id == good.id
    assert (await get(poisoned.id, BASIC)).id == poisoned.id
    await _expect_unreadable(
        stubs.executions.GetExecution(pb.GetExecutionRequest(execution_id=poisoned.id)),
        poisoned.id,
    )
    await _expect_unreadable(
        stubs.executions.GetExecution(pb.GetExecutionRequest(execution_id=broken.id)), broken.id
    )
    basic = await stubs.executions.ListExecutions(pb.ListExecutionsRequest())
    assert {e.id for e in basic.executions} == {good.id, poisoned.id}
    assert list(basic.unreadable_execution_ids) == [broken.id]
    full = await stubs.executions.ListExecutions(pb.ListExecutionsRequest(view=FULL))
    assert [e.id for e in full.executions] == [good.id]
    assert set(full.unreadable_execution_ids) == {poisoned.id, broken.id}
    # Paging past an unreadable record works too.
    seen, unreadable, token = [], [], ""
    while True:
        page = await stubs.executions.ListExecutions(
            pb.ListExecutionsRequest(page_size=1, page_token=token, view=FULL)
        )
        seen += [e.id for e in page.executions]
        unreadable += list(page.unreadable_execution_ids)
        token = page.next_page_token
        if not token:
            break
    assert (seen, set(unreadable)) == ([good.id], {poisoned.id, broken.id})
    await _expect_unreadable(
        stubs.executions.TransitionTaskRun(
            pb.TransitionTaskRunRequest(task_run_id=tr.id, state=st.STATE_FAILED)
        ),
        poisoned.id,
    )
    await _expect_unreadable(
        stubs.events.FollowExecution(epb.FollowExecutionRequest(execution_id=poisoned.id)).read(),
        poisoned.id,
    )
    # Nothing else can be done with them, so they can be deleted, in any state.
    for execution in (poisoned, broken):
        await stubs.executions.DeleteExecution(pb.DeleteExecutionRequest(execution_id=execution.id))
    after = await stubs.executions.ListExecutions(pb.ListExecutionsRequest(view=FULL))
    assert ([e.id for e in after.executions], list(after.unreadable_execution_ids)) == (
        [good.id],
        [],
    )
    # A readable active execution still cannot be deleted.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stubs.executions.DeleteExecution(pb.DeleteExecutionRequest(execution_id=good.id))
    assert info.value.code() == Code.FAILED_PRECONDITION
