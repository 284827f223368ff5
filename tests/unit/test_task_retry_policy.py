"""TaskRetryPolicy: the typed task retry policy, its dict forms, durations, and
what create_task_run builds from each (no server)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from google.protobuf import duration_pb2

from statehouse.client import CallRetry, TaskRetryPolicy
from statehouse.client._requests import create_task_run
from statehouse.client._task_retry import parse_duration, to_retry_policy_pb
from statehouse.v1 import execution_pb2


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2s", 2),
        ("500ms", 0.5),
        ("1m30s", 90),
        ("1h", 3600),
        ("1.5s", 1.5),
        ("250us", 0.00025),
        ("2h3m4s", 7384),
        ("PT2S", 2),
        ("PT1M30S", 90),
        ("P1DT2H", 93600),
        ("pt0.5s", 0.5),
        (" 3s ", 3),
    ],
)
def test_duration_strings(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_durations_as_numbers_timedeltas_and_messages() -> None:
    assert parse_duration(2) == timedelta(seconds=2)
    assert parse_duration(0.25) == timedelta(milliseconds=250)
    assert parse_duration(timedelta(minutes=1)) == timedelta(minutes=1)
    assert parse_duration(duration_pb2.Duration(seconds=3)) == timedelta(seconds=3)


@pytest.mark.parametrize("bad", ["2 s", "s", "", "P", "PT", "2sec", "-2s", "abc"])
def test_unreadable_duration_strings_say_how_to_write_one(bad: str) -> None:
    """The grammar is ``statehouse.client.durations`` (tests/unit/test_durations.py)."""
    with pytest.raises(ValueError, match=r"interval: cannot read .* as a duration \(e\.g\. 1\.5"):
        parse_duration(bad, "interval")


def test_bad_duration_values() -> None:
    with pytest.raises(ValueError, match="interval: a duration must not be negative"):
        parse_duration(-1, "interval")
    with pytest.raises(ValueError, match="not a finite duration"):
        parse_duration(float("inf"), "interval")
    with pytest.raises(TypeError, match="interval: a duration is"):
        parse_duration(True, "interval")
    with pytest.raises(TypeError, match=r"interval: a duration is .* not list"):
        parse_duration([2], "interval")


def test_constructors_build_the_proto() -> None:
    constant = TaskRetryPolicy.constant(interval="2s", max_attempts=3)
    assert constant.interval == timedelta(seconds=2)
    assert constant.to_proto() == execution_pb2.RetryPolicy(
        constant=execution_pb2.RetryPolicy.Constant(interval=duration_pb2.Duration(seconds=2)),
        max_attempts=3,
    )
    exponential = TaskRetryPolicy.exponential(
        interval=timedelta(seconds=1),
        max_interval="1m",
        factor=3,
        max_attempts=5,
        max_duration="PT10M",
        warning_on_retry=True,
    )
    pb = exponential.to_proto()
    assert pb.WhichOneof("interval") == "exponential"
    assert pb.exponential.interval.ToTimedelta() == timedelta(seconds=1)
    assert pb.exponential.max_interval.ToTimedelta() == timedelta(minutes=1)
    assert pb.exponential.factor == 3.0
    assert pb.max_duration.ToTimedelta() == timedelta(minutes=10)
    assert (pb.max_attempts, pb.warning_on_retry) == (5, True)
    rand = TaskRetryPolicy.random(min_interval=0.5, max_interval="2s", max_attempts=4).to_proto()
    assert rand.random.min_interval.ToTimedelta() == timedelta(milliseconds=500)
    assert rand.random.max_interval.ToTimedelta() == timedelta(seconds=2)
    assert not rand.HasField("max_duration")


def test_a_policy_round_trips_through_the_proto_and_the_dict() -> None:
    policies = [
        TaskRetryPolicy.constant("2s", max_attempts=3),
        TaskRetryPolicy.exponential("1s", max_interval="30s", factor=1.5, max_attempts=6),
        TaskRetryPolicy.random("100ms", "1s", max_attempts=2, max_duration="1h"),
        TaskRetryPolicy.constant("250ms", max_attempts=2, warning_on_retry=True),
    ]
    for policy in policies:
        assert TaskRetryPolicy.from_proto(policy.to_proto()) == policy
        assert TaskRetryPolicy.from_dict(policy.to_dict()) == policy
    assert policies[0].to_dict() == {"type": "constant", "max_attempts": 3, "interval": "2s"}
    assert policies[3].to_dict()["interval"] == "250ms"


def test_the_flat_dict_and_the_proto_json_shape() -> None:
    expected = TaskRetryPolicy.constant("2s", max_attempts=3)
    assert TaskRetryPolicy.from_dict({"type": "constant", "interval": "2s", "max_attempts": 3}) == (
        expected
    )
    assert TaskRetryPolicy.from_dict({"type": "CONSTANT", "interval": 2, "max_attempts": 3}) == (
        expected
    )
    assert TaskRetryPolicy.from_dict({"constant": {"interval": "2s"}, "maxAttempts": 3}) == (
        expected
    )
    assert TaskRetryPolicy.from_dict({"constant": {"interval": "PT2S"}, "max_attempts": 3}) == (
        expected
    )
    nested = TaskRetryPolicy.from_dict(
        {
            "exponential": {"interval": "1s", "maxInterval": "1m", "factor": 2},
            "maxAttempts": 4,
            "maxDuration": "10m",
            "warningOnRetry": True,
        }
    )
    assert nested == TaskRetryPolicy.exponential(
        "1s", max_interval="1m", factor=2, max_attempts=4, max_duration="10m", warning_on_retry=True
    )


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ({"type": "constant", "intervl": "2s", "max_attempts": 3}, ValueError, "'intervl'"),
        ({"constant": {"interval": "2s", "jitter": 1}, "max_attempts": 3}, ValueError, "'jitter'"),
        ({"type": "linear", "interval": "2s", "max_attempts": 3}, ValueError, "type: 'linear'"),
        ({"interval": "2s", "max_attempts": 3}, ValueError, "needs 'type'"),
        ({"type": "constant", "interval": "2s"}, ValueError, "max_attempts: required"),
        ({"type": "constant", "max_attempts": 3}, ValueError, "interval: required"),
        ({"type": "constant", "interval": "2x", "max_attempts": 3}, ValueError, "interval: cannot"),
        ({"type": "random", "max_interval": "2s", "max_attempts": 3}, ValueError, "min_interval"),
        ({"type": "exponential", "interval": "1s", "max_attempts": 3}, ValueError, "max_interval"),
        (
            {"type": "constant", "interval": "1s", "factor": 2, "max_attempts": 3},
            ValueError,
            "factor: not a field of a constant",
        ),
        ({"constant": {}, "random": {}, "max_attempts": 3}, ValueError, "give one of"),
        ({"type": "constant", "interval": "2s", "max_attempts": "3"}, TypeError, "max_attempts"),
        ({"type": "constant", "interval": "2s", "max_attempts": 0}, ValueError, "max_attempts"),
        ({"constant": "2s", "max_attempts": 3}, TypeError, "constant: a dict"),
        (
            {"type": "constant", "interval": "2s", "max_attempts": 2, "warning_on_retry": "yes"},
            TypeError,
            "warning_on_retry",
        ),
    ],
)
def test_bad_dicts_name_the_bad_key(
    value: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        TaskRetryPolicy.from_dict(value)
    with pytest.raises(error, match=match):
        create_task_run(execution_id="e", task_id="t", retry_policy=value)


def test_create_task_run_accepts_every_form() -> None:
    expected = TaskRetryPolicy.constant("2s", max_attempts=3).to_proto()
    forms: list[Any] = [
        TaskRetryPolicy.constant(interval="2s", max_attempts=3),
        {"type": "constant", "interval": "2s", "max_attempts": 3},
        {"constant": {"interval": "2s"}, "maxAttempts": 3},
        expected,
    ]
    for form in forms:
        request = create_task_run(execution_id="e", task_id="t", retry_policy=form)
        assert request.retry_policy == expected
    assert not create_task_run(execution_id="e", task_id="t").HasField("retry_policy")


def test_the_call_retry_setting_is_refused_with_a_hint() -> None:
    with pytest.raises(TypeError, match=r"not CallRetry \(the call-retry setting is CallRetry"):
        to_retry_policy_pb(CallRetry())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="retry_policy: a TaskRetryPolicy, a dict"):
        to_retry_policy_pb("2s")  # type: ignore[arg-type]


def test_a_policy_is_frozen() -> None:
    policy = TaskRetryPolicy.constant("2s", max_attempts=3)
    with pytest.raises(AttributeError):
        policy.max_attempts = 4  # type: ignore[misc]
