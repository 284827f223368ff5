"""Conversions between plain Python values and the generated messages."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias, cast

from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2
from google.protobuf.message import Message

from statehouse.client._enums import (
    DeadlineAction,
    ExecutionView,
    MetricBucketWidth,
    MetricType,
    PauseTimeoutAction,
    Role,
    State,
    TaskRunView,
)
from statehouse.v1 import (
    admin_service_pb2,
    event_pb2,
    execution_pb2,
    execution_service_pb2,
    metric_pb2,
    state_pb2,
)

__all__ = [
    "StateLike",
    "counter",
    "timer",
    "to_dict",
]

#: A state given as a :class:`State`, a proto number or a name ("running").
StateLike: TypeAlias = State | int | str

JSONObject: TypeAlias = Mapping[str, Any]


def state_value(state: StateLike) -> state_pb2.State.ValueType:
    """The proto number of a state given as a member, a number or a name."""
    member = State.parse(state)
    return cast(state_pb2.State.ValueType, int(member))


def state_values(states: Iterable[StateLike]) -> list[state_pb2.State.ValueType]:
    return [state_value(s) for s in states]


def view_value(view: ExecutionView | int | str | None) -> execution_pb2.ExecutionView.ValueType:
    member = ExecutionView.UNSPECIFIED if view is None else ExecutionView.parse(view)
    return cast(execution_pb2.ExecutionView.ValueType, int(member))


def task_run_view_value(
    view: TaskRunView | int | str | None,
) -> execution_pb2.TaskRunView.ValueType:
    member = TaskRunView.UNSPECIFIED if view is None else TaskRunView.parse(view)
    return cast(execution_pb2.TaskRunView.ValueType, int(member))


def timeout_action_value(
    action: PauseTimeoutAction | int | str | None,
) -> execution_service_pb2.PauseTimeoutAction.ValueType:
    member = PauseTimeoutAction.UNSPECIFIED if action is None else PauseTimeoutAction.parse(action)
    return cast(execution_service_pb2.PauseTimeoutAction.ValueType, int(member))


#: An execution's deadline: a duration (its action FAIL), a (duration, action)
#: pair such as ``("1h", "kill")``... or the generated message.
DeadlineLike = (
    timedelta
    | float
    | tuple[timedelta | float, DeadlineAction | int | str]
    | execution_service_pb2.ExecutionDeadline
)


def to_deadline(value: DeadlineLike | None) -> execution_service_pb2.ExecutionDeadline | None:
    """An ``ExecutionDeadline`` from a duration or a (duration, action) pair."""
    if value is None or isinstance(value, execution_service_pb2.ExecutionDeadline):
        return value
    timeout, action = value if isinstance(value, tuple) else (value, DeadlineAction.FAIL)
    return execution_service_pb2.ExecutionDeadline(
        timeout=to_duration(timeout),
        action=cast(
            execution_service_pb2.DeadlineAction.ValueType, int(DeadlineAction.parse(action))
        ),
    )


def metric_type_value(kind: MetricType | int | str) -> metric_pb2.MetricType.ValueType:
    return cast(metric_pb2.MetricType.ValueType, int(MetricType.parse(kind)))


def bucket_width_value(
    width: MetricBucketWidth | int | str | None,
) -> metric_pb2.MetricBucketWidth.ValueType:
    member = MetricBucketWidth.UNSPECIFIED if width is None else MetricBucketWidth.parse(width)
    return cast(metric_pb2.MetricBucketWidth.ValueType, int(member))


def role_value(role: Role | int | str) -> admin_service_pb2.Role.ValueType:
    return cast(admin_service_pb2.Role.ValueType, int(Role.parse(role)))


def to_struct(value: JSONObject | struct_pb2.Struct | None) -> struct_pb2.Struct | None:
    """A ``google.protobuf.Struct`` from a dict of JSON-like values."""
    if value is None:
        return None
    if isinstance(value, struct_pb2.Struct):
        return value
    struct = struct_pb2.Struct()
    try:
        struct.update(dict(value))
    except (ValueError, TypeError) as exc:
        raise TypeError(f"not a JSON-like mapping: {exc}") from exc
    return struct


def to_duration(value: timedelta | float | None) -> duration_pb2.Duration | None:
    """A ``google.protobuf.Duration`` from a timedelta or a number of seconds."""
    if value is None:
        return None
    if not isinstance(value, timedelta):
        if not math.isfinite(value):
            raise ValueError(f"not a finite duration: {value!r}")
        value = timedelta(seconds=value)
    duration = duration_pb2.Duration()
    duration.FromTimedelta(value)
    return duration


def to_timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """A ``google.protobuf.Timestamp`` from a datetime (naive means UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def to_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (labels or {}).items()}


def counter(
    name: str,
    value: float,
    *,
    tags: Mapping[str, str] | None = None,
    description: str = "",
) -> metric_pb2.MetricEntry:
    """A counter entry for :meth:`Client.record_metrics`."""
    return metric_pb2.MetricEntry(
        name=name, description=description, tags=to_labels(tags), counter=float(value)
    )


def timer(
    name: str,
    value: timedelta | float,
    *,
    tags: Mapping[str, str] | None = None,
    description: str = "",
) -> metric_pb2.MetricEntry:
    """A timer entry (a timedelta or seconds) for :meth:`Client.record_metrics`."""
    return metric_pb2.MetricEntry(
        name=name, description=description, tags=to_labels(tags), timer=to_duration(value)
    )


def to_dict(message: Message) -> dict[str, Any]:
    """A message as a JSON-ready dict, with the proto field names."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def event_filter(
    *,
    namespace: str,
    flow_id: str,
    execution_ids: Iterable[str],
    states: Iterable[StateLike],
) -> event_pb2.EventFilter:
    return event_pb2.EventFilter(
        namespace=namespace,
        flow_id=flow_id,
        execution_ids=list(execution_ids),
        states=state_values(states),
    )
