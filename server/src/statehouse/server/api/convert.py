"""Protos to domain values and back. Generated types stop here."""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2
from google.protobuf.message import Message

from statehouse.v1 import event_pb2, execution_pb2, state_pb2

from .. import priority
from ..orchestration import (
    Attempt,
    Event,
    Execution,
    InvalidArgument,
    RetryKind,
    RetryPolicy,
    State,
    StateChange,
    TaskRun,
    UnreadableRecord,
)

_STATE_TO_PB = {s: state_pb2.State.Value(f"STATE_{s.value}") for s in State}
_PB_TO_STATE = {v: k for k, v in _STATE_TO_PB.items()}


def state_to_pb(state: State | None) -> state_pb2.State.ValueType:
    return state_pb2.STATE_UNSPECIFIED if state is None else _STATE_TO_PB[state]


def state_from_pb(value: int, field: str) -> State:
    """A requested state; STATE_UNSPECIFIED and unknown numbers are bad input."""
    state: State | None = _PB_TO_STATE.get(value)  # type: ignore[call-overload]
    if state is None:
        text = "is required" if value == 0 else f"{value} is not a known state"
        raise InvalidArgument([(field, text)])
    return state


def states_from_pb(values: Any, field: str) -> tuple[State, ...]:
    return tuple(state_from_pb(v, f"{field}[{i}]") for i, v in enumerate(values))


def time_to_pb(time_us: int, out: timestamp_pb2.Timestamp) -> None:
    out.seconds, micros = divmod(time_us, 1_000_000)
    out.nanos = micros * 1_000


def _history_to_pb(history: list[StateChange], out: Any) -> None:
    for h in history:
        item = out.add()
        item.state = _STATE_TO_PB[h.state]
        time_to_pb(h.time_us, item.time)
        item.reason = h.reason
        item.actor = h.actor


def _attempt_to_pb(attempt: Attempt, out: execution_pb2.Attempt, basic: bool = False) -> None:
    out.number = attempt.number
    out.state = _STATE_TO_PB[attempt.state]
    out.worker_id = attempt.worker_id
    if not basic:
        _history_to_pb(attempt.history, out.history)
    if attempt.lease_us is not None:
        _duration_to_pb(attempt.lease_us, out.lease_duration)
    if attempt.lease_expire_time_us is not None and attempt.state.is_active:
        time_to_pb(attempt.lease_expire_time_us, out.lease_expire_time)


def task_run_to_pb(
    tr: TaskRun, out: execution_pb2.TaskRun | None = None, *, basic: bool = False
) -> execution_pb2.TaskRun:
    """The task run as a message (``basic``: TASK_RUN_VIEW_BASIC's part of it);
    UnreadableRecord if its stored values cannot be carried."""
    pb = out if out is not None else execution_pb2.TaskRun()
    try:
        _task_run_to_pb(tr, pb, basic)
    except _UNCONVERTIBLE as exc:
        raise UnreadableRecord("task run", tr.id, execution_id=tr.execution_id) from exc
    return pb


def _task_run_to_pb(tr: TaskRun, pb: execution_pb2.TaskRun, basic: bool = False) -> None:
    pb.id = tr.id
    pb.execution_id = tr.execution_id
    pb.task_id = tr.task_id
    pb.parent_task_run_id = tr.parent_task_run_id
    pb.value = tr.value
    pb.state = _STATE_TO_PB[tr.state]
    if not basic:
        _history_to_pb(tr.history, pb.history)
    for attempt in tr.attempts:
        _attempt_to_pb(attempt, pb.attempts.add(), basic)
    if not basic:
        if tr.outputs is not None:
            payload_to_pb(tr.outputs, pb.outputs)
        if tr.retry_policy is not None:
            retry_policy_to_pb(tr.retry_policy, pb.retry_policy)
    if tr.next_attempt_time_us is not None:
        time_to_pb(tr.next_attempt_time_us, pb.next_attempt_time)
    if tr.attempt_timeout_us is not None and not basic:
        _duration_to_pb(tr.attempt_timeout_us, pb.attempt_timeout)
    time_to_pb(tr.create_time_us, pb.create_time)
    time_to_pb(tr.update_time_us, pb.update_time)


#: What converting a decoded record can raise when the record holds what the
#: contract cannot carry (written before validation existed, or by hand).
_UNCONVERTIBLE = (ValueError, TypeError, KeyError, OverflowError, AttributeError)


def execution_to_pb(
    ex: Execution, out: execution_pb2.Execution | None = None, *, full: bool = True
) -> execution_pb2.Execution:
    """The execution as a message; UnreadableRecord if its stored values cannot be carried."""
    pb = out if out is not None else execution_pb2.Execution()
    try:
        _execution_to_pb(ex, pb, full)
    except _UNCONVERTIBLE as exc:
        raise UnreadableRecord("execution", ex.id, execution_id=ex.id) from exc
    return pb


def _execution_to_pb(ex: Execution, pb: execution_pb2.Execution, full: bool) -> None:
    pb.id = ex.id
    pb.namespace = ex.namespace
    pb.flow_id = ex.flow_id
    pb.flow_revision = ex.flow_revision
    pb.labels.update(ex.labels)
    if ex.inputs is not None:
        payload_to_pb(ex.inputs, pb.inputs)
    if ex.outputs is not None:
        payload_to_pb(ex.outputs, pb.outputs)
    pb.state = _STATE_TO_PB[ex.state]
    _history_to_pb(ex.history, pb.history)
    if full:
        for tr in ex.task_runs:
            _task_run_to_pb(tr, pb.task_runs.add())
    pb.revision = ex.revision
    time_to_pb(ex.create_time_us, pb.create_time)
    time_to_pb(ex.update_time_us, pb.update_time)
    pb.parent_execution_id = ex.parent_execution_id
    pb.restart_count = ex.restart_count


def event_to_pb(ev: Event, out: event_pb2.StateChangeEvent) -> event_pb2.StateChangeEvent:
    out.sequence = ev.sequence
    time_to_pb(ev.time_us, out.time)
    out.namespace = ev.namespace
    out.flow_id = ev.flow_id
    out.execution_id = ev.execution_id
    out.task_run_id = ev.task_run_id
    out.task_id = ev.task_id
    out.attempt = ev.attempt
    out.previous_state = state_to_pb(ev.previous_state)
    out.state = _STATE_TO_PB[ev.state]
    out.reason = ev.reason
    out.actor = ev.actor
    out.execution_revision = ev.execution_revision
    return out


def duration_us(message: Any, field: str) -> int | None:
    """The Duration in ``field`` of ``message`` in microseconds, None when unset."""
    if not message.HasField(field):
        return None
    value = getattr(message, field)
    return int(value.seconds) * 1_000_000 + int(value.nanos) // 1_000


def _duration_to_pb(micros: int, out: Any) -> None:
    out.seconds, rest = divmod(int(micros), 1_000_000)
    out.nanos = rest * 1_000


def retry_policy_from_pb(request: Any) -> RetryPolicy | None:
    """The domain's form of a (validated) RetryPolicy (see orchestration.retry)."""
    if not request.HasField("retry_policy"):
        return None
    p = request.retry_policy
    kind = RetryKind(p.WhichOneof("interval"))
    common: dict[str, Any] = {
        "max_attempts": p.max_attempts,
        "max_duration_us": duration_us(p, "max_duration") or 0,
        "warning_on_retry": p.warning_on_retry,
    }
    if kind is RetryKind.CONSTANT:
        return RetryPolicy(kind, interval_us=duration_us(p.constant, "interval") or 0, **common)
    if kind is RetryKind.EXPONENTIAL:
        return RetryPolicy(
            kind,
            interval_us=duration_us(p.exponential, "interval") or 0,
            max_interval_us=duration_us(p.exponential, "max_interval") or 0,
            factor=p.exponential.factor or 2.0,
            **common,
        )
    return RetryPolicy(
        kind,
        min_interval_us=duration_us(p.random, "min_interval") or 0,
        max_interval_us=duration_us(p.random, "max_interval") or 0,
        **common,
    )


def retry_policy_to_pb(policy: RetryPolicy, out: execution_pb2.RetryPolicy) -> None:
    out.max_attempts = policy.max_attempts
    if policy.max_duration_us:
        _duration_to_pb(policy.max_duration_us, out.max_duration)
    out.warning_on_retry = policy.warning_on_retry
    if policy.kind is RetryKind.CONSTANT:
        _duration_to_pb(policy.interval_us, out.constant.interval)
    elif policy.kind is RetryKind.EXPONENTIAL:
        _duration_to_pb(policy.interval_us, out.exponential.interval)
        _duration_to_pb(policy.max_interval_us, out.exponential.max_interval)
        out.exponential.factor = policy.factor
    else:
        _duration_to_pb(policy.min_interval_us, out.random.min_interval)
        _duration_to_pb(policy.max_interval_us, out.random.max_interval)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def repeated_message_field(number: int, encoded: list[bytes]) -> bytes:
    """The wire form of repeated message field ``number`` holding the ``encoded``
    messages: a response can be assembled from messages encoded one by one."""
    tag = _varint(number << 3 | 2)
    return b"".join(tag + _varint(len(data)) + data for data in encoded)


def encode(message: Message) -> bytes:
    """A response's bytes: deterministic, so that the entries of every map (labels,
    the fields of inputs and outputs) go out sorted by key, and one value is
    always the same bytes, whichever process encodes it."""
    return message.SerializeToString(deterministic=True)


def payload_to_pb(value: Any, out: struct_pb2.Struct) -> None:
    """Fill ``out`` from a JSON object, stepping aside for small calls on the heavy lane."""
    for i, (key, item) in enumerate(value.items()):
        if not i & 255:
            priority.step_aside()
        _value_to_pb(item, out.fields[key])


def _value_to_pb(item: Any, out: struct_pb2.Value) -> None:
    if isinstance(item, str):
        out.string_value = item
    elif isinstance(item, bool):
        out.bool_value = item
    elif isinstance(item, int | float):
        out.number_value = item
    elif item is None:
        out.null_value = struct_pb2.NULL_VALUE
    elif isinstance(item, dict):
        out.struct_value.SetInParent()  # an empty object is still an object
        payload_to_pb(item, out.struct_value)
    elif isinstance(item, list):
        out.list_value.SetInParent()
        values = out.list_value.values
        for i, element in enumerate(item):
            if not i & 255:
                priority.step_aside()
            _value_to_pb(element, values.add())
    else:
        raise TypeError(f"not a JSON value: {type(item).__name__}")
