"""Hostile input: each request that once broke, poisoned or stalled the server,
now answered with a documented code and a clear message, nothing written.

Every test runs on SQLite and on PostgreSQL (the ``database_url`` fixture)."""

from __future__ import annotations

import base64
import json
import logging
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2

from statehouse.server import commands, limits
from statehouse.v1 import (
    event_pb2,
    event_service_pb2 as epb,
    execution_pb2,
    execution_service_pb2 as pb,
    metric_pb2,
    metric_service_pb2 as mpb,
    state_pb2 as st,
)

from .conftest import Running, Stubs
from .helpers import create, details, move, task_run

Code = grpc.StatusCode

#: Nothing a client sends may produce these.
FORBIDDEN = {Code.UNKNOWN, Code.INTERNAL, Code.UNAVAILABLE, Code.DATA_LOSS}
#: Text that would mean internals leaked into a message.
LEAKS = ("Traceback", "SQL", "sqlalchemy", "psycopg", "sqlite", "Error:", "[parameters")


def counts(url: str) -> dict[str, int]:
    """Rows per table and the counters: what a rejected request must leave alone."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            found = {
                t: int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in tables
                if t != "alembic_version"
            }
            for name, value in conn.execute(sa.text("SELECT name, value FROM counters")):
                found[f"counter:{name}"] = int(value)
            return found
    finally:
        engine.dispose()


async def refused(
    call: object, code: Code = Code.INVALID_ARGUMENT
) -> tuple[str, dict[str, str], list[str], str]:
    """Await ``call``, expect ``code``; (reason, metadata, fields, message)."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call  # type: ignore[misc]
    error = info.value
    assert error.code() == code, error.details()
    message = error.details() or ""
    assert not any(leak in message for leak in LEAKS), message
    if code == Code.RESOURCE_EXHAUSTED:
        return "", {}, [], message  # grpc's own size check: no rich status
    reason, metadata, fields = details(error)
    return reason, metadata, fields, message


def struct(value: dict[str, object]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


def seconds(n: int, nanos: int = 0) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=n, nanos=nanos)


@pytest.fixture
async def running(running_server: Running, stubs: Stubs) -> AsyncIterator[tuple[Running, Stubs]]:
    yield running_server, stubs


async def started(stubs: Stubs) -> tuple[execution_pb2.Execution, execution_pb2.TaskRun]:
    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    await move(stubs, tr.id, st.STATE_RUNNING)
    return ex, tr


# -- data poisoning --------------------------------------------------------------------------


async def test_a_nan_retry_factor_is_refused_and_nothing_is_written(
    running: tuple[Running, Stubs], database_url: str
) -> None:
    _, stubs = running
    ex = await create(stubs)
    before = counts(database_url)
    for factor in (math.nan, math.inf, -1.0, 1e9):
        policy = execution_pb2.RetryPolicy(
            max_attempts=3,
            exponential=execution_pb2.RetryPolicy.Exponential(
                interval=seconds(1), max_interval=seconds(10), factor=factor
            ),
        )
        request = pb.CreateTaskRunRequest(execution_id=ex.id, task_id="t", retry_policy=policy)
        _, _, fields, _ = await refused(stubs.executions.CreateTaskRun(request))
        assert fields == ["retry_policy.exponential.factor"]
    assert counts(database_url) == before
    # The execution is still readable, in every view.
    got = await stubs.executions.GetExecution(pb.GetExecutionRequest(execution_id=ex.id))
    assert got.execution.id == ex.id
    listed = await stubs.executions.ListExecutions(
        pb.ListExecutionsRequest(view=execution_pb2.EXECUTION_VIEW_FULL)
    )
    assert [e.id for e in listed.executions] == [ex.id]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
async def test_non_finite_numbers_in_inputs_and_outputs_are_refused(
    running: tuple[Running, Stubs], database_url: str, bad: float
) -> None:
    _, stubs = running
    _, tr = await started(stubs)
    before = counts(database_url)
    inputs = struct({"ok": 1, "nested": {"list": [1, bad]}})
    _, _, fields, message = await refused(
        stubs.executions.CreateExecution(
            pb.CreateExecutionRequest(namespace="a", flow_id="f", inputs=inputs)
        )
    )
    assert fields == ["inputs.nested.list[1]"]
    assert "finite" in message
    _, _, fields, _ = await refused(
        stubs.executions.TransitionTaskRun(
            pb.TransitionTaskRunRequest(
                task_run_id=tr.id, state=st.STATE_SUCCESS, outputs=struct({"x": bad})
            )
        )
    )
    assert fields == ["outputs.x"]
    _, _, fields, _ = await refused(
        stubs.metrics.RecordMetrics(
            mpb.RecordMetricsRequest(
                task_run_id=tr.id, metrics=[metric_pb2.MetricEntry(name="rows", counter=bad)]
            )
        )
    )
    assert fields == ["metrics[0].counter"]
    assert counts(database_url) == before


# -- out of range -------------------------------------------------------------------------------


async def test_out_of_range_durations_and_timestamps_are_refused(
    running: tuple[Running, Stubs], database_url: str
) -> None:
    _, stubs = running
    ex, tr = await started(stubs)
    before = counts(database_url)
    huge = seconds(1 << 62)
    beyond_protobuf = seconds(315_576_000_001)
    mixed_sign = seconds(5, -1)
    for duration in (huge, beyond_protobuf, mixed_sign, seconds(-1)):
        _, _, fields, _ = await refused(
            stubs.executions.PauseExecution(
                pb.PauseExecutionRequest(execution_id=ex.id, delay=duration)
            )
        )
        assert fields == ["delay"]
    policy = execution_pb2.RetryPolicy(
        max_attempts=2, constant=execution_pb2.RetryPolicy.Constant(interval=huge)
    )
    _, _, fields, _ = await refused(
        stubs.executions.CreateTaskRun(
            pb.CreateTaskRunRequest(execution_id=ex.id, task_id="t", retry_policy=policy)
        )
    )
    assert fields == ["retry_policy.constant.interval"]
    far = timestamp_pb2.Timestamp(seconds=limits.MAX_TIMESTAMP_SECONDS)
    beyond = timestamp_pb2.Timestamp(seconds=1 << 62)
    start = timestamp_pb2.Timestamp(seconds=1_700_000_000)
    for end in (far, beyond):
        _, _, fields, _ = await refused(
            stubs.metrics.AggregateMetrics(
                mpb.AggregateMetricsRequest(
                    namespace="company.team",
                    name="rows",
                    type=metric_pb2.METRIC_TYPE_COUNTER,
                    start_time=start,
                    end_time=end,
                )
            )
        )
        assert fields == ["end_time"]
    # Far in the future but within the range: too many buckets, said so.
    _, _, fields, _ = await refused(
        stubs.metrics.AggregateMetrics(
            mpb.AggregateMetricsRequest(
                namespace="company.team",
                name="rows",
                type=metric_pb2.METRIC_TYPE_COUNTER,
                start_time=start,
                end_time=timestamp_pb2.Timestamp(seconds=limits.MAX_TIMESTAMP_SECONDS - 1),
                bucket_width=metric_pb2.METRIC_BUCKET_WIDTH_MINUTE,
            )
        )
    )
    assert fields == ["bucket_width"]
    for value in (-1, (1 << 63) - 1):
        await refused(
            stubs.events.Subscribe(epb.SubscribeRequest(heartbeat_interval=seconds(value))).read()
        )
    _, _, fields, _ = await refused(
        stubs.executions.TransitionTaskRun(pb.TransitionTaskRunRequest(task_run_id=tr.id, state=99))
    )
    assert fields == ["state"]
    assert counts(database_url) == before


# -- page tokens --------------------------------------------------------------------------------


def _forged(payload: object) -> str:
    """A token as the old scheme made them: base64 JSON with a recomputable key."""
    raw = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def test_tampered_and_foreign_page_tokens_are_invalid_argument(
    running: tuple[Running, Stubs],
) -> None:
    _, stubs = running
    for _ in range(3):
        await create(stubs)
    page = await stubs.executions.ListExecutions(pb.ListExecutionsRequest(page_size=1))
    token = page.next_page_token
    assert token
    body, mac = token.split(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    deep = "[" * 500 + "]" * 500
    candidates = [
        flipped + "." + mac,
        body + "." + mac[::-1],
        body,
        "",
        ".",
        "not a token",
        "x" * limits.MAX_PAGE_TOKEN,
        _forged({"c": [1], "f": "0" * 16}),
        _forged({"c": [float("inf"), "x"], "f": "0" * 16}),
        deep,
        _forged(json.loads("[" * 50 + "]" * 50)),
    ]
    for candidate in candidates:
        if not candidate:
            continue
        reason, _, fields, _ = await refused(
            stubs.executions.ListExecutions(
                pb.ListExecutionsRequest(page_size=1, page_token=candidate)
            )
        )
        assert (reason, fields) == ("INVALID_PAGE_TOKEN", ["page_token"]), candidate[:40]
    # A genuine token with other filters, or given to another RPC.
    reason, _, _, message = await refused(
        stubs.executions.ListExecutions(
            pb.ListExecutionsRequest(page_size=1, page_token=token, namespace="other")
        )
    )
    assert (reason, message) == ("INVALID_PAGE_TOKEN", "page_token: was issued for other filters")
    reason, _, _, _ = await refused(
        stubs.metrics.ListMetrics(mpb.ListMetricsRequest(execution_id="x", page_token=token))
    )
    assert reason == "INVALID_PAGE_TOKEN"
    # The genuine token still works.
    second = await stubs.executions.ListExecutions(
        pb.ListExecutionsRequest(page_size=1, page_token=token)
    )
    assert len(second.executions) == 1
    assert second.executions[0].id != page.executions[0].id


async def test_page_tokens_of_one_database_work_on_every_replica(
    server_factory: object, database_url: str
) -> None:
    first = await server_factory()  # type: ignore[operator]
    second = await server_factory()  # type: ignore[operator]
    a, b = Stubs(first.target), Stubs(second.target)
    try:
        for _ in range(2):
            await create(a)
        page = await a.executions.ListExecutions(pb.ListExecutionsRequest(page_size=1))
        rest = await b.executions.ListExecutions(
            pb.ListExecutionsRequest(page_size=1, page_token=page.next_page_token)
        )
        assert len(rest.executions) == 1
    finally:
        await a.channel.close()
        await b.channel.close()


# -- undecodable requests -------------------------------------------------------------------------


async def test_undecodable_requests_are_invalid_argument_with_one_log_line(
    running: tuple[Running, Stubs], caplog: pytest.LogCaptureFixture
) -> None:
    _, stubs = running
    raw = stubs.channel.unary_unary("/statehouse.v1.ExecutionService/CreateExecution")
    valid = pb.CreateExecutionRequest(namespace="abc", flow_id="PLACEHOLDER").SerializeToString()
    bad_utf8 = valid.replace(b"PLACEHOLDER", b"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5")
    truncated = valid[:-3]
    garbage = b"\x0a\xff\xff\xff\xff\x0f"
    caplog.set_level(logging.WARNING, logger="statehouse")
    for body in (bad_utf8, truncated, garbage):
        caplog.clear()
        reason, _, fields, _ = await refused(raw(body))
        assert (reason, fields) == ("MALFORMED_REQUEST", ["request"])
        lines = [r for r in caplog.records if r.name.startswith("statehouse")]
        # One line: the request log's, naming the refusal (no traceback, no flood).
        assert len(lines) == 1 and lines[0].exc_info is None
        assert lines[0].name == "statehouse.requests"
        assert "code=INVALID_ARGUMENT" in lines[0].getMessage()
    stream = stubs.channel.unary_stream("/statehouse.v1.EventService/Subscribe")
    reason, _, _, _ = await refused(stream(b"\x0a\x05\x0a\x03\xff\xfe\xfd").read())
    assert reason == "MALFORMED_REQUEST"
    listed = await stubs.executions.ListExecutions(pb.ListExecutionsRequest())
    assert list(listed.executions) == []


# -- NUL and control characters -------------------------------------------------------------------


async def test_nul_and_control_characters_are_refused_on_every_backend(
    running: tuple[Running, Stubs], database_url: str
) -> None:
    _, stubs = running
    ex, tr = await started(stubs)
    before = counts(database_url)
    requests = [
        (
            stubs.executions.CreateExecution,
            pb.CreateExecutionRequest(namespace="a", flow_id="f", request_id="r\x00"),
            "request_id",
        ),
        (
            stubs.executions.CreateExecution,
            pb.CreateExecutionRequest(namespace="a", flow_id="f", labels={"k": "v\x00"}),
            "labels['k']",
        ),
        (
            stubs.executions.CreateExecution,
            pb.CreateExecutionRequest(namespace="a", flow_id="f", inputs=struct({"k\x00": 1})),
            "inputs.k\x00",
        ),
        (
            stubs.executions.CreateExecution,
            pb.CreateExecutionRequest(namespace="a", flow_id="f", inputs=struct({"k": "a\x00b"})),
            "inputs.k",
        ),
        (
            stubs.executions.TransitionTaskRun,
            pb.TransitionTaskRunRequest(task_run_id=tr.id, state=st.STATE_SUCCESS, reason="\x00"),
            "reason",
        ),
        (
            stubs.executions.TransitionTaskRun,
            pb.TransitionTaskRunRequest(
                task_run_id=tr.id, state=st.STATE_SUCCESS, worker_id="w\x1b[31m"
            ),
            "worker_id",
        ),
        (
            stubs.executions.KillExecution,
            pb.KillExecutionRequest(execution_id=ex.id + "\x00"),
            "execution_id",
        ),
    ]
    for method, request, field in requests:
        _, _, fields, _ = await refused(method(request))  # type: ignore[operator]
        assert fields == [field]
    assert counts(database_url) == before
    # Tab and newline are fine in a reason.
    await move(stubs, tr.id, st.STATE_SUCCESS, reason="done\n\tall rows")


# -- an ordinary request that failed ----------------------------------------------------------


async def test_a_month_bucket_over_part_of_one_month_aggregates(
    running: tuple[Running, Stubs],
) -> None:
    _, stubs = running

    def ts(*args: int) -> timestamp_pb2.Timestamp:
        t = timestamp_pb2.Timestamp()
        t.FromDatetime(datetime(*args, tzinfo=UTC))  # type: ignore[misc]
        return t

    response = await stubs.metrics.AggregateMetrics(
        mpb.AggregateMetricsRequest(
            namespace="company.team",
            name="rows",
            type=metric_pb2.METRIC_TYPE_COUNTER,
            start_time=ts(2026, 11, 1),
            end_time=ts(2026, 11, 15),
            bucket_width=metric_pb2.METRIC_BUCKET_WIDTH_MONTH,
        )
    )
    (series,) = response.series
    assert [b.start_time.ToDatetime(tzinfo=UTC) for b in series.buckets] == [
        datetime(2026, 11, 1, tzinfo=UTC)
    ]
    assert series.buckets[0].count == 0


# -- resource abuse -------------------------------------------------------------------------------


async def test_label_filters_and_id_filters_are_capped(running: tuple[Running, Stubs]) -> None:
    _, stubs = running
    labels = {f"k{i}": "v" for i in range(limits.MAX_LABEL_FILTERS)}
    ex = await create(stubs, labels=labels)
    found = await stubs.executions.ListExecutions(pb.ListExecutionsRequest(labels=labels))
    assert [e.id for e in found.executions] == [ex.id]
    too_many = {f"k{i}": "v" for i in range(limits.MAX_LABEL_FILTERS + 1)}
    _, _, fields, message = await refused(
        stubs.executions.ListExecutions(pb.ListExecutionsRequest(labels=too_many))
    )
    assert fields == ["labels"]
    assert str(limits.MAX_LABEL_FILTERS) in message
    ids = [f"id-{i}" for i in range(limits.MAX_EXECUTION_ID_FILTERS + 1)]
    _, _, fields, _ = await refused(
        stubs.events.Subscribe(
            epb.SubscribeRequest(filter=event_pb2.EventFilter(execution_ids=ids))
        ).read()
    )
    assert fields == ["filter.execution_ids"]


async def test_large_executions_are_listed_in_pages_under_the_message_limit(
    running: tuple[Running, Stubs],
) -> None:
    _, stubs = running
    blob = "x" * (limits.MAX_PAYLOAD_BYTES - 100)
    created = [(await create(stubs, inputs=struct({"blob": blob}))).id for _ in range(10)]
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await stubs.executions.ListExecutions(
            pb.ListExecutionsRequest(page_token=token, view=execution_pb2.EXECUTION_VIEW_FULL)
        )
        pages += 1
        assert page.ByteSize() <= limits.MAX_PAGE_BYTES + limits.MAX_PAYLOAD_BYTES
        seen.extend(e.id for e in page.executions)
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(created)
    assert pages >= 3


async def test_a_request_over_the_size_limit_is_resource_exhausted(
    running: tuple[Running, Stubs], database_url: str
) -> None:
    _, stubs = running
    before = counts(database_url)
    size = limits.max_request_bytes(limits.MAX_PAYLOAD_BYTES) + 1
    inputs = struct({"blob": "x" * size})
    await refused(
        stubs.executions.CreateExecution(
            pb.CreateExecutionRequest(namespace="a", flow_id="f", inputs=inputs)
        ),
        Code.RESOURCE_EXHAUSTED,
    )
    assert counts(database_url) == before


async def test_payloads_over_the_value_and_depth_limits_are_refused(
    running: tuple[Running, Stubs], database_url: str
) -> None:
    _, stubs = running
    before = counts(database_url)
    many = struct({f"k{i}": i for i in range(limits.MAX_PAYLOAD_VALUES + 1)})
    _, _, fields, message = await refused(
        stubs.executions.CreateExecution(
            pb.CreateExecutionRequest(namespace="a", flow_id="f", inputs=many)
        )
    )
    assert fields == ["inputs"]
    assert f"{limits.MAX_PAYLOAD_VALUES}" in message
    deep: dict[str, object] = {}
    node = deep
    for _ in range(limits.MAX_PAYLOAD_DEPTH + 1):
        node["d"] = {}
        node = node["d"]  # type: ignore[assignment]
    _, _, _, message = await refused(
        stubs.executions.CreateExecution(
            pb.CreateExecutionRequest(namespace="a", flow_id="f", inputs=struct(deep))
        )
    )
    assert "deeper" in message
    assert counts(database_url) == before


# -- no UNKNOWN, ever -----------------------------------------------------------------------------


async def test_an_unexpected_error_is_internal_with_an_id_in_the_log(
    running: tuple[Running, Stubs],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, stubs = running

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("SELECT secret FROM internals WHERE password = 'hunter2'")

    monkeypatch.setattr(commands, "create_execution", broken)
    caplog.set_level(logging.ERROR, logger="statehouse")
    reason, _, _, message = await refused(
        stubs.executions.CreateExecution(pb.CreateExecutionRequest(namespace="a", flow_id="f")),
        Code.INTERNAL,
    )
    assert reason == "INTERNAL"
    assert "hunter2" not in message
    error_id = message.split()[2].rstrip(";")
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None


async def test_nothing_a_client_sends_gets_unknown(running: tuple[Running, Stubs]) -> None:
    """A sample of the requests above, raw, must never answer a forbidden code."""
    _, stubs = running
    bad = [
        stubs.executions.GetExecution(pb.GetExecutionRequest(execution_id="")),
        stubs.executions.ListExecutions(pb.ListExecutionsRequest(states=[77])),
        stubs.executions.PauseExecution(
            pb.PauseExecutionRequest(execution_id="x", on_timeout=42)  # type: ignore[arg-type]
        ),
        stubs.metrics.ListMetrics(mpb.ListMetricsRequest()),
    ]
    for call in bad:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
        assert info.value.code() not in FORBIDDEN
        assert info.value.code() == Code.INVALID_ARGUMENT


async def test_an_aggregate_of_too_many_series_and_buckets_is_refused(
    running: tuple[Running, Stubs],
) -> None:
    _, stubs = running
    _, tr = await started(stubs)
    groups = limits.MAX_AGGREGATE_POINTS // limits.MAX_BUCKETS + 1
    await stubs.metrics.RecordMetrics(
        mpb.RecordMetricsRequest(
            task_run_id=tr.id,
            metrics=[
                metric_pb2.MetricEntry(name="rows", counter=1, tags={"shard": str(i)})
                for i in range(groups)
            ],
        )
    )
    now = datetime.now(UTC).timestamp()
    request = mpb.AggregateMetricsRequest(
        namespace="company.team",
        name="rows",
        type=metric_pb2.METRIC_TYPE_COUNTER,
        start_time=timestamp_pb2.Timestamp(seconds=int(now) - 60 * (limits.MAX_BUCKETS - 2)),
        end_time=timestamp_pb2.Timestamp(seconds=int(now) + 60),
        bucket_width=metric_pb2.METRIC_BUCKET_WIDTH_MINUTE,
        group_by_tag="shard",
    )
    _, _, fields, message = await refused(stubs.metrics.AggregateMetrics(request))
    assert fields == ["group_by_tag"]
    assert f"{groups} series" in message
    request.ClearField("group_by_tag")
    (series,) = (await stubs.metrics.AggregateMetrics(request)).series
    assert sum(b.count for b in series.buckets) == groups


async def test_errors_with_many_violations_fit_in_grpc_headers(
    running: tuple[Running, Stubs],
) -> None:
    _, stubs = running
    ids = ["x" * limits.MAX_RESOURCE_ID + "!"] * limits.MAX_EXECUTION_ID_FILTERS
    _, _, fields, _ = await refused(
        stubs.events.Subscribe(
            epb.SubscribeRequest(filter=event_pb2.EventFilter(execution_ids=ids))
        ).read()
    )
    assert len(fields) == 11
    entries = [
        metric_pb2.MetricEntry(name="9" * 500, tags={"t" * 500: "v" * 500})
        for _ in range(limits.MAX_METRICS_PER_CALL)
    ]
    _, _, fields, _ = await refused(
        stubs.metrics.RecordMetrics(mpb.RecordMetricsRequest(task_run_id="t", metrics=entries))
    )
    assert len(fields) == 11
