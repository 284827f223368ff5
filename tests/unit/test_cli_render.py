"""The CLI's renderings that do not need a server: durations, timelines, sparklines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf import timestamp_pb2

from statehouse.cli import _render as render
from statehouse.client import State
from statehouse.v1 import (
    admin_service_pb2,
    event_pb2,
    execution_pb2,
    metric_pb2,
    metric_service_pb2,
    state_pb2,
)

T0 = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)


def at(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(T0 + timedelta(seconds=seconds))
    return stamp


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (-5, "0ms"),
        (0, "0ms"),
        (999, "0ms"),
        (350_000, "350ms"),
        (1_000_000, "1.0s"),
        (1_249_999, "1.2s"),
        (59_990_000, "59.9s"),
        (60_000_000, "1m00s"),
        (184_000_000, "3m04s"),
        (3_599_999_999, "59m59s"),
        (3_600_000_000, "1h00m"),
        (7_500_000_000, "2h05m"),
        (86_400_000_000, "1d00h"),
        (273_600_000_000, "3d04h"),
    ],
)
def test_durations_read_like_a_human_would_write_them(micros: int, text: str) -> None:
    assert render.duration_text(micros) == text


def pb(state: State) -> state_pb2.State.ValueType:
    return state_pb2.State.Value(state.proto_name)


def change(
    state: State, seconds: float, reason: str = "", actor: str = ""
) -> execution_pb2.StateChange:
    return execution_pb2.StateChange(state=pb(state), time=at(seconds), reason=reason, actor=actor)


def test_the_timeline_ends_each_state_at_the_next_and_the_current_one_now() -> None:
    run = execution_pb2.TaskRun(
        id="0123456789abcdef",
        task_id="load",
        value="v1",
        state=pb(State.SUCCESS),
        history=[
            change(State.CREATED, 1, actor="orchestrator"),
            change(State.RUNNING, 2, actor="worker-1"),
            change(State.SUCCESS, 3.5, actor="worker-1"),
        ],
        attempts=[
            execution_pb2.Attempt(
                number=1,
                state=pb(State.SUCCESS),
                worker_id="w1",
                history=[change(State.RUNNING, 2), change(State.SUCCESS, 3.5)],
            )
        ],
    )
    execution = execution_pb2.Execution(
        id="e1",
        state=pb(State.RUNNING),
        history=[change(State.CREATED, 0, "created", "ci"), change(State.RUNNING, 2)],
        task_runs=[run],
    )
    now = T0 + timedelta(seconds=186)
    lines = render.timeline_table(execution, now).splitlines()
    assert lines[0].split() == ["WHAT", "STATE", "START", "END", "DURATION", "ACTOR", "REASON"]
    assert [line.split() for line in lines[1:]] == [
        ["execution", "CREATED", "2025-01-31T12:00:00.000Z", "2025-01-31T12:00:02.000Z", "2.0s",
         "ci", "created"],
        ["execution", "RUNNING", "2025-01-31T12:00:02.000Z", "now", "3m04s", "-"],
        ["load[v1]", "(01234567)", "CREATED", "2025-01-31T12:00:01.000Z",
         "2025-01-31T12:00:02.000Z", "1.0s", "orchestrator"],
        ["load[v1]", "(01234567)", "RUNNING", "2025-01-31T12:00:02.000Z",
         "2025-01-31T12:00:03.500Z", "1.5s", "worker-1"],
        ["load[v1]", "(01234567)", "SUCCESS", "2025-01-31T12:00:03.500Z", "worker-1"],
    ]  # fmt: skip
    attempts = render.attempts_table([run], now).splitlines()
    assert attempts[1].split() == [
        "load[v1]", "(01234567)", "1", "SUCCESS", "w1", "2025-01-31T12:00:02.000Z",
        "2025-01-31T12:00:03.500Z", "1.5s",
    ]  # fmt: skip
    report = render.execution_report(execution, now)
    assert "\ntask runs:\n" in report and "\nattempts:\n" in report
    assert report.index("attempts:") < report.index("timeline:")


def bucket(start: float, *values: float) -> metric_pb2.MetricBucket:
    b = metric_pb2.MetricBucket(start_time=at(start), count=len(values), sum=sum(values))
    if values:
        b.avg, b.min, b.max = sum(values) / len(values), min(values), max(values)
    return b


def test_sparklines_share_one_scale_from_zero() -> None:
    assert render.sparkline([0, 1, 2, 4, 8], 0, 8) == "▁▂▃▅█"  # rounded half up
    assert render.sparkline([5, 5], 0, 5) == "██"
    assert render.sparkline([0, 0], 0, 0) == "▁▁"
    assert render.sparkline([None, 3], 0, 3) == "·█"
    assert render.sparkline([-2, 0, 2], -2, 2) == "▁▅█"


def test_adjacent_buckets_merge_when_the_chart_is_too_wide() -> None:
    buckets = [bucket(i * 60, *([float(i)] if i % 2 else [])) for i in range(6)]
    merged = render.fit(buckets, 3)
    assert [(b.count, b.sum, b.min, b.max) for b in merged] == [
        (1, 1, 1, 1),
        (1, 3, 3, 3),
        (1, 5, 5, 5),
    ]
    assert merged[1].start_time == buckets[2].start_time
    both = render.combine([bucket(0, 2, 4), bucket(60, 6)])
    assert (both.count, both.sum, both.avg, both.min, both.max) == (3, 12, 4, 2, 6)
    assert render.fit(buckets, 10) == buckets


def test_the_aggregate_report_has_a_table_and_one_chart_line_per_series() -> None:
    response = metric_service_pb2.AggregateMetricsResponse(
        bucket_width=metric_pb2.METRIC_BUCKET_WIDTH_MINUTE,
        series=[
            metric_pb2.MetricSeries(tag_value="a", buckets=[bucket(0, 4, 4), bucket(60)]),
            metric_pb2.MetricSeries(tag_value="bb", buckets=[bucket(0), bucket(60, 2)]),
        ],
    )
    text = render.aggregate_report(
        response,
        name="rows",
        timer=False,
        start=T0,
        end=T0 + timedelta(minutes=2),
        group_by="table",
        stat="avg",
    )
    assert text.splitlines() == [
        "rows (counter) from 2025-01-31T12:00:00Z to 2025-01-31T12:02:00Z, per minute, by table",
        "",
        "TABLE  START                 COUNT  SUM  AVG  MIN  MAX",
        "a      2025-01-31T12:00:00Z      2    8    4    4    4",
        "bb     2025-01-31T12:01:00Z      1    2    2    2    2",
        "(2 empty buckets not shown)",
        "",
        "avg per minute (▁ 0 .. █ 4):",
        "a   █·",
        "bb  ·▅",
    ]
    timers = render.aggregate_report(
        metric_service_pb2.AggregateMetricsResponse(
            bucket_width=metric_pb2.METRIC_BUCKET_WIDTH_HOUR,
            series=[metric_pb2.MetricSeries(buckets=[bucket(0, 0.25, 1.25), bucket(3600)])],
        ),
        name="took",
        timer=True,
        start=T0,
        end=T0 + timedelta(hours=2),
    )
    assert "      2  1.5s  750ms  250ms  1.2s" in timers
    assert timers.endswith("sum per hour (▁ 0ms .. █ 1.5s):\ntook  █▁")


def test_histories_and_watch_lines_show_who_made_each_change() -> None:
    lines = render.history_table(
        [change(State.CREATED, 0, "created", "ci"), change(State.RUNNING, 1)]
    )
    assert [line.split() for line in lines.splitlines()] == [
        ["TIME", "STATE", "ACTOR", "REASON"],
        ["2025-01-31T12:00:00.000Z", "CREATED", "ci", "created"],
        ["2025-01-31T12:00:01.000Z", "RUNNING", "-", "-"],
    ]
    header = render.watch_header()
    assert header.split() == [
        "TIME", "SEQ", "NAMESPACE/FLOW", "EXECUTION", "TASK", "ATT", "TRANSITION", "ACTOR", "REASON",
    ]  # fmt: skip
    event = event_pb2.StateChangeEvent(
        sequence=7,
        namespace="ns",
        flow_id="f",
        execution_id="0123456789",
        state=pb(State.RUNNING),
        previous_state=pb(State.CREATED),
        time=at(0),
        reason="go",
        actor="worker-1",
    )
    line = render.watch_line(event)
    start = header.index("ACTOR")
    assert line[start:].split() == ["worker-1", "go"]
    assert render.watch_line(event_pb2.StateChangeEvent(time=at(0)))[start:].split() == ["-"]


def token(**fields: object) -> admin_service_pb2.Token:
    return admin_service_pb2.Token(**fields)  # type: ignore[arg-type]


def test_the_tokens_table_shows_status_and_never_a_secret() -> None:
    now = T0 + timedelta(days=1)
    tokens = [
        token(name="ci", role=admin_service_pb2.ROLE_WRITER, namespaces=["acme.*", "ops"],
              create_time=at(0), expire_time=at(30 * 86400), created_by="admin"),
        token(name="old", role=admin_service_pb2.ROLE_READER, namespaces=["*"],
              create_time=at(0), expire_time=at(60)),
        token(name="worker", role=admin_service_pb2.ROLE_ADMIN, namespaces=["acme"],
              certificate_subject="CN=worker", create_time=at(0), revoke_time=at(5)),
    ]  # fmt: skip
    lines = render.tokens_table(tokens, now).splitlines()
    assert lines[0].split() == [
        "NAME", "ROLE", "NAMESPACES", "SUBJECT", "STATUS", "CREATED", "EXPIRES", "BY",
    ]  # fmt: skip
    assert [line.split() for line in lines[1:]] == [
        ["ci", "writer", "acme.*,ops", "-", "active", "2025-01-31T12:00:00Z",
         "2025-03-02T12:00:00Z", "admin"],
        ["old", "reader", "*", "-", "expired", "2025-01-31T12:00:00Z", "2025-01-31T12:01:00Z", "-"],
        ["worker", "admin", "acme", "CN=worker", "revoked", "2025-01-31T12:00:00Z", "never", "-"],
    ]  # fmt: skip


def test_a_new_token_is_shown_once_with_a_warning() -> None:
    created = token(name="ci", role=admin_service_pb2.ROLE_WRITER, namespaces=["acme.*"])
    text = render.token_created_text(created, "sht_abc_s3cret")
    assert "\nsht_abc_s3cret\n" in text
    assert "will not be shown again" in text
    assert "expires:     never" in text
    grant = token(name="w", role=admin_service_pb2.ROLE_READER, namespaces=["*"],
                  certificate_subject="CN=w")  # fmt: skip
    text = render.token_created_text(grant, "")
    assert "subject:     CN=w" in text
    assert "not be shown again" not in text


def test_offline_descriptions_become_tokens() -> None:
    info = {
        "name": "root",
        "role": "admin",
        "namespaces": ["*"],
        "certificate_subject": "",
        "create_time_us": 1_738_324_800_000_000,
        "expire_time_us": None,
    }
    converted = render.token_from_dict(info)
    assert (converted.name, converted.role, list(converted.namespaces)) == (
        "root",
        admin_service_pb2.ROLE_ADMIN,
        ["*"],
    )
    assert converted.create_time.ToMicroseconds() == 1_738_324_800_000_000
    assert not converted.HasField("expire_time")
    assert not converted.HasField("revoke_time")
    revoked = render.token_from_dict({**info, "revoke_time_us": 1, "created_by": "offline"})
    assert revoked.HasField("revoke_time") and revoked.created_by == "offline"


def test_watch_lines_stay_aligned_with_long_cells() -> None:
    header = render.watch_header()
    event = event_pb2.StateChangeEvent(
        time=at(0),
        sequence=12,
        namespace="company.team.with.a.very.long.namespace",
        flow_id="flow",
        execution_id="0123456789abcdef",
        task_id="a-task-id-much-longer-than-its-column",
        attempt=1,
        previous_state=state_pb2.STATE_CREATED,
        state=state_pb2.STATE_RUNNING,
        actor="someone-with-a-long-name@example.com",
        reason="started",
    )
    line = render.watch_line(event)
    for name in ("ATT", "TRANSITION", "ACTOR", "REASON"):
        start = header.index(name)
        assert line[start - 2 : start] == "  ", (name, line)
    assert line[header.index("TASK") :].startswith("a-task-id-much-\u2026")
    assert line[header.index("REASON") :] == "started"
    assert render.clip("short", 16) == "short"
    assert render.clip("exactly-sixteen!", 16) == "exactly-sixteen!"


def test_paint_colours_state_names_without_moving_columns() -> None:
    text = render.table(["ID", "STATE"], [["a", "RUNNING"], ["b", "SUCCESS"]])
    painted = render.paint(text)
    assert "\x1b[34mRUNNING\x1b[0m" in painted
    assert "\x1b[32mSUCCESS\x1b[0m" in painted
    assert painted.replace("\x1b[34m", "").replace("\x1b[32m", "").replace("\x1b[0m", "") == text
    assert render.paint("RUNNINGS and XSUCCESS") == "RUNNINGS and XSUCCESS"  # whole words only


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("choice", "tty", "env", "wanted"),
    [
        ("auto", True, {}, True),
        ("auto", False, {}, False),
        ("auto", True, {"NO_COLOR": "1"}, False),
        ("auto", True, {"NO_COLOR": ""}, True),  # no-color.org: set and not empty
        ("auto", True, {"TERM": "dumb"}, False),
        ("always", False, {"NO_COLOR": "1"}, True),
        ("never", True, {}, False),
    ],
)
def test_colour_is_wanted_on_a_terminal_unless_told_otherwise(
    choice: str, tty: bool, env: dict[str, str], wanted: bool
) -> None:
    assert render.colour_wanted(choice, _Stream(tty), env) is wanted  # type: ignore[arg-type]


def test_retry_policy_text() -> None:
    policy = execution_pb2.RetryPolicy(max_attempts=3)
    policy.constant.interval.FromTimedelta(timedelta(seconds=2))
    assert render.retry_policy_text(policy) == "constant 2.0s, at most 3 attempts"
    policy = execution_pb2.RetryPolicy()
    policy.random.min_interval.FromTimedelta(timedelta(milliseconds=100))
    policy.random.max_interval.FromTimedelta(timedelta(minutes=2))
    policy.max_duration.FromTimedelta(timedelta(hours=1))
    assert render.retry_policy_text(policy) == "random 100ms..2m00s, for at most 1h00m"
    assert render.retry_policy_text(execution_pb2.RetryPolicy()) == "-"


def test_an_aggregate_without_values_has_no_chart() -> None:
    response = metric_service_pb2.AggregateMetricsResponse(
        bucket_width=metric_pb2.METRIC_BUCKET_WIDTH_HOUR,
        series=[metric_pb2.MetricSeries(buckets=[metric_pb2.MetricBucket(start_time=at(0))])],
    )
    text = render.aggregate_report(
        response, name="rows", timer=False, start=T0, end=T0 + timedelta(hours=1)
    )
    assert text.splitlines()[-1].startswith("no values of counter 'rows' in this range")
    assert "sum per" not in text
    assert render.SPARKS[0] not in text


def test_maps_and_structs_print_with_sorted_keys_and_fields_in_proto_order() -> None:
    execution = execution_pb2.Execution(id="e", namespace="n")
    for key in ("zeta", "alpha", "mid"):
        execution.labels[key] = key
    execution.inputs.update({"b": {"z": 1, "a": [{"y": 1, "x": 2}]}, "a": 1})
    execution.task_runs.add(id="t").outputs.update({"k2": 1, "k1": 2})
    value = render.message_dict(execution)
    assert list(value)[:2] == ["id", "namespace"]  # fields: the proto's order
    assert list(value["labels"]) == ["alpha", "mid", "zeta"]
    assert list(value["inputs"]) == ["a", "b"]
    assert list(value["inputs"]["b"]) == ["a", "z"]
    assert list(value["inputs"]["b"]["a"][0]) == ["x", "y"]
    assert list(value["task_runs"][0]["outputs"]) == ["k1", "k2"]
    assert render.struct_text(execution.inputs) == '{"a":1,"b":{"a":[{"x":2,"y":1}],"z":1}}'
