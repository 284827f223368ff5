"""Outputs round-trip exactly; metrics combine, list and aggregate correctly."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2

from statehouse.server import clock
from statehouse.v1 import (
    execution_service_pb2 as pb,
    metric_pb2,
    metric_service_pb2 as mpb,
    state_pb2 as st,
)

from .conftest import Stubs
from .helpers import create, details, get, move, task_run

Code = grpc.StatusCode
COUNTER = metric_pb2.METRIC_TYPE_COUNTER
TIMER = metric_pb2.METRIC_TYPE_TIMER


async def started_task_run(stubs: Stubs, flow: str = "etl", task: str = "load") -> tuple[str, str]:
    ex = await create(stubs, flow_id=flow)
    tr = await task_run(stubs, ex.id, task)
    await move(stubs, tr.id, st.STATE_RUNNING)
    return ex.id, tr.id


def counter(name: str, value: float, **tags: str) -> mpb.MetricEntry:
    return metric_pb2.MetricEntry(name=name, counter=value, tags=tags)


def timer(name: str, seconds: float, **tags: str) -> mpb.MetricEntry:
    d = duration_pb2.Duration()
    d.FromNanoseconds(round(seconds * 1e9))
    return metric_pb2.MetricEntry(name=name, timer=d, tags=tags)


async def record(
    stubs: Stubs, task_run_id: str, *entries: metric_pb2.MetricEntry, **kw: object
) -> int:
    response = await stubs.metrics.RecordMetrics(
        mpb.RecordMetricsRequest(task_run_id=task_run_id, metrics=entries, **kw)  # type: ignore[arg-type]
    )
    return response.recorded


async def test_outputs_round_trip_exactly(stubs: Stubs) -> None:
    value = {
        "nested": {"list": [1, 2.5, "three", None, True, {"deep": ["x"]}], "empty": {}},
        "unicode": "héllo wörld ✓ 日本語 🚀",
        "large": 2**53,
        "negative": -1.25e-7,
        "big_float": 1.7976931348623157e308,
    }
    outputs = struct_pb2.Struct()
    outputs.update(value)
    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    await move(stubs, tr.id, st.STATE_RUNNING)
    await move(stubs, tr.id, st.STATE_SUCCESS, outputs=outputs)
    done = await stubs.executions.CompleteExecution(
        pb.CompleteExecutionRequest(execution_id=ex.id, outputs=outputs)
    )
    stored = await get(stubs, ex.id)
    assert stored.task_runs[0].outputs == outputs
    assert stored.outputs == outputs == done.execution.outputs
    assert stored.task_runs[0].outputs["large"] == 2**53
    assert stored.task_runs[0].outputs["unicode"] == value["unicode"]


async def test_loop_task_runs_keep_their_own_outputs(stubs: Stubs) -> None:
    ex = await create(stubs)
    for value in ("a", "b"):
        tr = (
            await stubs.executions.CreateTaskRun(
                pb.CreateTaskRunRequest(execution_id=ex.id, task_id="each", value=value)
            )
        ).task_run
        outputs = struct_pb2.Struct()
        outputs.update({"item": value})
        await move(stubs, tr.id, st.STATE_RUNNING)
        await move(stubs, tr.id, st.STATE_SUCCESS, outputs=outputs)
    stored = await get(stubs, ex.id)
    assert [(t.value, t.outputs["item"]) for t in stored.task_runs] == [("a", "a"), ("b", "b")]


async def test_metrics_of_an_attempt_combine(stubs: Stubs) -> None:
    ex_id, tr_id = await started_task_run(stubs)
    assert (
        await record(stubs, tr_id, counter("rows", 3, table="a"), counter("rows", 4, table="a"))
        == 2
    )
    await record(stubs, tr_id, counter("rows", 10, table="b"), timer("duration", 1.5))
    await record(stubs, tr_id, counter("rows", 0.5, table="a"), timer("duration", 0.25))
    listed = await stubs.metrics.ListMetrics(mpb.ListMetricsRequest(execution_id=ex_id))
    got = {(m.name, tuple(sorted(m.tags.items()))): m for m in listed.metrics}
    assert got[("rows", (("table", "a"),))].counter == 7.5
    assert got[("rows", (("table", "b"),))].counter == 10
    assert got[("duration", ())].timer.ToNanoseconds() == 1_750_000_000
    assert {m.attempt for m in listed.metrics} == {1}
    assert {m.type for m in listed.metrics} == {COUNTER, TIMER}


async def test_metrics_go_to_the_right_attempt_and_page(stubs: Stubs) -> None:
    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    await move(stubs, tr.id, st.STATE_RUNNING)
    await move(stubs, tr.id, st.STATE_FAILED)
    await stubs.executions.TransitionExecution(
        pb.TransitionExecutionRequest(execution_id=ex.id, state=st.STATE_FAILED)
    )
    await stubs.executions.RestartExecution(pb.RestartExecutionRequest(execution_id=ex.id))
    await move(stubs, tr.id, st.STATE_RUNNING)
    await record(stubs, tr.id, *(counter(f"m{i}", i) for i in range(5)))
    await record(stubs, tr.id, counter("late", 1), attempt=1)
    seen = []
    token = ""
    while True:
        page = await stubs.metrics.ListMetrics(
            mpb.ListMetricsRequest(task_run_id=tr.id, page_size=2, page_token=token)
        )
        seen += [(m.name, m.attempt) for m in page.metrics]
        token = page.next_page_token
        if not token:
            break
    assert seen == [(f"m{i}", 2) for i in range(5)] + [("late", 1)]


async def test_bad_metric_input_names_the_field(stubs: Stubs) -> None:
    _, tr_id = await started_task_run(stubs)
    cases = [
        ([counter("9bad", 1)], "metrics[0].name"),
        ([counter("ok", float("nan"))], "metrics[0].counter"),
        ([counter("ok", 1), timer("t", -1)], "metrics[1].timer"),
        ([counter("ok", 1, **{"bad key": "v"})], "metrics[0].tags['bad key']"),
        ([metric_pb2.MetricEntry(name="novalue")], "metrics[0].value"),
        ([], "metrics"),
        ([counter("x", 1)] * 1001, "metrics"),
    ]
    for entries, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await record(stubs, tr_id, *entries)
        assert info.value.code() == Code.INVALID_ARGUMENT
        assert field in details(info.value)[2]
    listed = await stubs.metrics.ListMetrics(mpb.ListMetricsRequest(task_run_id=tr_id))
    assert list(listed.metrics) == []


async def test_metrics_need_an_attempt_and_a_known_task_run(stubs: Stubs) -> None:
    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await record(stubs, tr.id, counter("x", 1))
    assert details(info.value)[0] == "NO_ATTEMPT"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await record(stubs, "missing", counter("x", 1))
    assert info.value.code() == Code.NOT_FOUND


async def test_metrics_are_deleted_with_their_execution(stubs: Stubs) -> None:
    ex_id, tr_id = await started_task_run(stubs)
    await record(stubs, tr_id, counter("rows", 1, a="b"))
    await move(stubs, tr_id, st.STATE_SUCCESS)
    await stubs.executions.CompleteExecution(pb.CompleteExecutionRequest(execution_id=ex_id))
    await stubs.executions.DeleteExecution(pb.DeleteExecutionRequest(execution_id=ex_id))
    listed = await stubs.metrics.ListMetrics(mpb.ListMetricsRequest(execution_id=ex_id))
    assert list(listed.metrics) == []


def ts(dt: datetime) -> timestamp_pb2.Timestamp:
    t = timestamp_pb2.Timestamp()
    t.FromDatetime(dt)
    return t


async def test_aggregates_match_values_computed_independently(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Metrics recorded at known times (the server's clock is set by the test) are
    aggregated by hour; the expected sums are computed here from the raw values."""
    rng = random.Random(5)
    day = datetime(2026, 3, 2, tzinfo=UTC)
    day_us = int(day.timestamp() * 1_000_000)
    expected: dict[tuple[str, int], list[float]] = defaultdict(list)
    for _ in range(40):
        hour = rng.choice([0, 1, 3, 7, 23])
        value = rng.choice([1.0, 2.5, 10.0, 0.125])
        region = rng.choice(["eu", "us"])
        at = day_us + hour * 3_600_000_000 + rng.randrange(3_600_000_000)
        monkeypatch.setattr(clock, "now_us", lambda at=at: at)
        _, tr_id = await started_task_run(stubs, flow=rng.choice(["etl", "other"]))
        await record(stubs, tr_id, counter("rows", value, region=region))
        expected[(region, hour)].append(value)
        expected[("", hour)].append(value)
    monkeypatch.undo()

    async def aggregate(**kw: object) -> mpb.AggregateMetricsResponse:
        return await stubs.metrics.AggregateMetrics(
            mpb.AggregateMetricsRequest(
                namespace="company.team", name="rows", type=COUNTER,
                start_time=ts(day), end_time=ts(datetime(2026, 3, 3, tzinfo=UTC)), **kw,  # type: ignore[arg-type]
            )
        )  # fmt: skip

    whole = await aggregate()
    assert whole.bucket_width == metric_pb2.METRIC_BUCKET_WIDTH_HOUR
    (series,) = whole.series
    assert len(series.buckets) == 24
    for hour, bucket in enumerate(series.buckets):
        values = expected.get(("", hour), [])
        assert bucket.start_time.ToMicroseconds() == day_us + hour * 3_600_000_000
        assert bucket.count == len(values)
        assert bucket.sum == pytest.approx(sum(values))
        if values:
            assert bucket.min == min(values) and bucket.max == max(values)
            assert bucket.avg == pytest.approx(sum(values) / len(values))
        else:
            assert (bucket.sum, bucket.min, bucket.max, bucket.avg) == (0, 0, 0, 0)
    grouped = await aggregate(group_by_tag="region")
    assert [s.tag_value for s in grouped.series] == ["eu", "us"]
    for s in grouped.series:
        assert [b.count for b in s.buckets] == [
            len(expected.get((s.tag_value, h), [])) for h in range(24)
        ]
    by_day = await aggregate(bucket_width=metric_pb2.METRIC_BUCKET_WIDTH_DAY, flow_id="etl")
    assert len(by_day.series[0].buckets) == 1


async def test_month_and_week_buckets_are_calendar_aligned(stubs: Stubs) -> None:
    response = await stubs.metrics.AggregateMetrics(
        mpb.AggregateMetricsRequest(
            namespace="ns", name="rows", type=COUNTER,
            start_time=ts(datetime(2026, 1, 15, tzinfo=UTC)),
            end_time=ts(datetime(2026, 4, 2, tzinfo=UTC)),
            bucket_width=metric_pb2.METRIC_BUCKET_WIDTH_MONTH,
        )
    )  # fmt: skip
    starts = [b.start_time.ToDatetime(tzinfo=UTC) for b in response.series[0].buckets]
    assert [(d.month, d.day) for d in starts] == [(1, 1), (2, 1), (3, 1), (4, 1)]
    weekly = await stubs.metrics.AggregateMetrics(
        mpb.AggregateMetricsRequest(
            namespace="ns", name="rows", type=COUNTER,
            start_time=ts(datetime(2026, 1, 15, tzinfo=UTC)),
            end_time=ts(datetime(2026, 2, 1, tzinfo=UTC)),
            bucket_width=metric_pb2.METRIC_BUCKET_WIDTH_WEEK,
        )
    )  # fmt: skip
    assert all(b.start_time.ToDatetime(tzinfo=UTC).weekday() == 0 for b in weekly.series[0].buckets)


async def test_bad_aggregate_requests_are_rejected(stubs: Stubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stubs.metrics.AggregateMetrics(mpb.AggregateMetricsRequest(namespace="ns"))
    assert set(details(info.value)[2]) >= {"name", "type", "start_time", "end_time"}
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stubs.metrics.AggregateMetrics(
            mpb.AggregateMetricsRequest(
                namespace="ns", name="x", type=COUNTER,
                start_time=ts(datetime(2020, 1, 1, tzinfo=UTC)),
                end_time=ts(datetime(2026, 1, 1, tzinfo=UTC)),
                bucket_width=metric_pb2.METRIC_BUCKET_WIDTH_MINUTE,
            )
        )  # fmt: skip
    assert details(info.value)[2] == ["bucket_width"]
