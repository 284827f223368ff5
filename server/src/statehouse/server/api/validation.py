"""The validation boundary: every request is checked completely before any work.

One mechanism serves every message. Each field of a request message gets a
rule, found by the message's and the field's name in :data:`FIELD_RULES`
(``"PauseExecutionRequest.delay"`` first, then ``"delay"``), else a default
for its protobuf type (:func:`_default_rule`): so a field added to the
contract is checked from the day it exists. :data:`REQUIRED` names the fields
that must be set, :data:`MESSAGE_CHECKS` the few rules that span fields.
Every violation is collected with its field path (``metrics[3].tags['k']``),
and a request with any is refused with INVALID_ARGUMENT and a BadRequest
listing them all, before anything is read or written.

Inputs and outputs (``google.protobuf.Struct``) are checked and turned into
plain JSON values in the same walk; :class:`Payloads` carries them to the
handler, so no handler walks a Struct again.

The bounds come from :mod:`statehouse.server.limits`. The kinds of rule
(``Text``, ``Whole``, ``Payload``...) and what a check collects
(``Violations``, ``Payloads``) are ``_rules.py``'s; this module is the table
and the walk over a message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from .. import limits as L
from ._rules import (
    MAX_REPORTED,
    TEXT_ITEM,
    Context,
    Instant,
    Known,
    Many,
    NamespacePattern,
    Pairs,
    Payload,
    Payloads,
    Real,
    Rule,
    Span,
    Text,
    Unchecked,
    Violations,
    Whole,
    enum_choice,
)

__all__ = [
    "FIELD_RULES",
    "MAX_REPORTED",
    "MESSAGE_CHECKS",
    "REQUIRED",
    "Known",
    "Payloads",
    "Violations",
    "enum_choice",
    "validate",
]


# -- a message field: the walk again -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Nested(Rule):
    """A message field: validated by its own message's rules."""

    def check(self, value: Any, path: str, v: Violations, ctx: Context) -> None:
        _validate_message(value, path + ".", v, ctx.payloads, ctx.max_payload_bytes)


# -- the rules, as data ----------------------------------------------------------------------

NAMESPACE_RE = L.NAMESPACE_RE
IDENTIFIER_RE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{L.MAX_IDENTIFIER - 1}}}\Z")
LABEL_KEY_RE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._/-]{{0,{L.MAX_LABEL_KEY - 1}}}\Z")
METRIC_NAME_RE = re.compile(rf"[A-Za-z][A-Za-z0-9._-]{{0,{L.MAX_METRIC_NAME - 1}}}\Z")
TAG_KEY_RE = re.compile(rf"[A-Za-z][A-Za-z0-9._-]{{0,{L.MAX_TAG_KEY - 1}}}\Z")
RESOURCE_ID_RE = re.compile(rf"[\x21-\x7e]{{1,{L.MAX_RESOURCE_ID}}}\Z")

NAMESPACE = Text(
    L.MAX_NAMESPACE,
    NAMESPACE_RE,
    "must be lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, "
    f"at most {L.MAX_NAMESPACE} characters",
)
IDENTIFIER = Text(
    L.MAX_IDENTIFIER,
    IDENTIFIER_RE,
    "must be letters, digits, '.', '_' or '-', starting with a letter or digit, "
    f"at most {L.MAX_IDENTIFIER} characters",
)
RESOURCE_ID = Text(
    L.MAX_RESOURCE_ID,
    RESOURCE_ID_RE,
    f"is not a valid identifier (printable ASCII, at most {L.MAX_RESOURCE_ID} characters)",
)
LABELS = Pairs(
    L.MAX_LABELS,
    Text(
        L.MAX_LABEL_KEY,
        LABEL_KEY_RE,
        "label keys are letters, digits, '.', '_', '-' or '/', starting with a letter or digit, "
        f"at most {L.MAX_LABEL_KEY} characters",
    ),
    Text(L.MAX_LABEL_VALUE),
)
METRIC_NAME = Text(
    L.MAX_METRIC_NAME,
    METRIC_NAME_RE,
    "must start with a letter, then letters, digits, '.', '_' or '-', "
    f"at most {L.MAX_METRIC_NAME} characters",
)
TAG_KEY = Text(
    L.MAX_TAG_KEY,
    TAG_KEY_RE,
    "tag keys start with a letter, then letters, digits, '.', '_' or '-', "
    f"at most {L.MAX_TAG_KEY} characters",
)
STATES = Many(L.MAX_STATE_FILTERS, Known(unset=False))
INT32 = Whole(0, (1 << 31) - 1)

#: Rules by "Message.field", then by "field" (the same meaning wherever it appears).
FIELD_RULES: dict[str, Rule] = {
    "namespace": NAMESPACE,
    "flow_id": IDENTIFIER,
    "task_id": IDENTIFIER,
    "execution_id": RESOURCE_ID,
    "task_run_id": RESOURCE_ID,
    "parent_execution_id": RESOURCE_ID,
    "parent_task_run_id": RESOURCE_ID,
    "request_id": Text(L.MAX_REQUEST_ID),
    "reason": Text(L.MAX_REASON, multiline=True),
    "value": Text(L.MAX_VALUE),
    "worker_id": Text(L.MAX_WORKER_ID),
    "page_token": Text(L.MAX_PAGE_TOKEN),
    "labels": LABELS,
    "states": STATES,
    "flow_revision": INT32,
    "page_size": INT32,
    "attempt": INT32,
    "ListExecutionsRequest.labels": Pairs(L.MAX_LABEL_FILTERS, LABELS.key, LABELS.value),
    "CountExecutionsRequest.labels": Pairs(L.MAX_LABEL_FILTERS, LABELS.key, LABELS.value),
    "EventFilter.execution_ids": Many(L.MAX_EXECUTION_ID_FILTERS, RESOURCE_ID),
    "SubscribeRequest.heartbeat_interval": Span(L.MIN_HEARTBEAT_SECONDS),
    "SubscribeRequest.max_events_per_message": INT32,
    "RetryPolicy.max_attempts": Whole(1, L.MAX_RETRY_ATTEMPTS, "the first attempt counts"),
    "RetryPolicy.Exponential.factor": Real(L.MIN_RETRY_FACTOR, L.MAX_RETRY_FACTOR),
    "RecordMetricsRequest.metrics": Many(L.MAX_METRICS_PER_CALL),
    # Only the count: each item is validated alone by the handler, so that a bad
    # item fails by itself while the others are applied.
    "TransitionTaskRunsRequest.requests": Many(L.MAX_TRANSITIONS_PER_CALL, Unchecked()),
    "TaskRunFilter.labels": Pairs(L.MAX_LABEL_FILTERS, LABELS.key, LABELS.value),
    "TaskRunFilter.task_ids": Many(L.MAX_CLAIM_TASK_IDS, IDENTIFIER),
    "ClaimTaskRunsRequest.max_task_runs": Whole(0, L.MAX_CLAIM_TASK_RUNS),
    "ClaimTaskRunsRequest.wait": Span(0, L.MAX_CLAIM_WAIT_SECONDS),
    "lease_duration": Span(L.MIN_LEASE_SECONDS, L.MAX_LEASE_SECONDS),
    "ExecutionDeadline.timeout": Span(L.MIN_DEADLINE_SECONDS),
    "CreateTaskRunRequest.attempt_timeout": Span(L.MIN_DEADLINE_SECONDS),
    "HeartbeatRequest.attempts": Many(L.MAX_HEARTBEATS_PER_CALL),
    "HeartbeatItem.attempt": Whole(1, (1 << 31) - 1),
    "MetricEntry.name": METRIC_NAME,
    "MetricEntry.description": Text(L.MAX_METRIC_DESCRIPTION, multiline=True),
    "MetricEntry.tags": Pairs(L.MAX_TAGS, TAG_KEY, Text(L.MAX_TAG_VALUE)),
    "MetricEntry.counter": Real(-L.MAX_COUNTER, L.MAX_COUNTER),
    "AggregateMetricsRequest.name": METRIC_NAME,
    "AggregateMetricsRequest.group_by_tag": TAG_KEY,
    "name": Text(
        L.MAX_CREDENTIAL_NAME,
        L.CREDENTIAL_NAME_RE,
        "must be letters, digits, '.', '-', '_', '@' or ':', starting with a letter or digit, "
        f"at most {L.MAX_CREDENTIAL_NAME} characters",
    ),
    "CreateTokenRequest.namespaces": Many(
        L.MAX_CREDENTIAL_NAMESPACES,
        NamespacePattern(L.MAX_NAMESPACE + 2),
    ),
    "CreateTokenRequest.certificate_subject": Text(L.MAX_CERTIFICATE_SUBJECT),
}

#: Fields that must be set (a non-empty string, a non-zero enum, a present message).
REQUIRED: dict[str, tuple[str, ...]] = {
    "CreateExecutionRequest": ("namespace", "flow_id"),
    "GetExecutionRequest": ("execution_id",),
    "DeleteExecutionRequest": ("execution_id",),
    "CreateTaskRunRequest": ("execution_id", "task_id"),
    "GetTaskRunRequest": ("task_run_id",),
    "TransitionExecutionRequest": ("execution_id", "state"),
    "TransitionTaskRunRequest": ("task_run_id", "state"),
    "PauseExecutionRequest": ("execution_id",),
    "ResumeExecutionRequest": ("execution_id",),
    "KillExecutionRequest": ("execution_id",),
    "RestartExecutionRequest": ("execution_id",),
    "CompleteExecutionRequest": ("execution_id",),
    "FollowExecutionRequest": ("execution_id",),
    "RecordMetricsRequest": ("task_run_id", "metrics"),
    "ClaimTaskRunsRequest": ("worker_id",),
    "HeartbeatRequest": ("attempts",),
    "HeartbeatItem": ("task_run_id", "attempt"),
    "ExecutionDeadline": ("timeout",),
    "MetricEntry": ("name",),
    "AggregateMetricsRequest": ("namespace", "name", "type", "start_time", "end_time"),
    "RetryPolicy.Constant": ("interval",),
    "RetryPolicy.Exponential": ("interval",),
    "CreateTokenRequest": ("name", "role", "namespaces"),
    "RevokeTokenRequest": ("name",),
}


def _micros(duration: Any) -> int:
    return int(duration.seconds) * 1_000_000 + int(duration.nanos) // 1_000


def _pause(m: Any, prefix: str, v: Violations) -> None:
    if m.HasField("delay") and m.HasField("timeout"):
        v.add(prefix + "delay", "give a delay or a timeout, not both")
    if m.on_timeout and not m.HasField("timeout"):
        v.add(prefix + "on_timeout", "applies to a timeout only")


def _retry_policy(m: Any, prefix: str, v: Violations) -> None:
    if m.WhichOneof("interval") is None:
        v.add(prefix + "interval", "choose constant, exponential or random")


def _positive(name: str) -> Callable[[Any, str, Violations], None]:
    def check(m: Any, prefix: str, v: Violations) -> None:
        if m.HasField(name) and _micros(getattr(m, name)) <= 0:
            v.add(prefix + name, "must be positive")

    return check


def _exponential(m: Any, prefix: str, v: Violations) -> None:
    _positive("interval")(m, prefix, v)
    if _micros(m.max_interval) < _micros(m.interval):
        v.add(prefix + "max_interval", "must be at least interval")


def _random(m: Any, prefix: str, v: Violations) -> None:
    low, high = _micros(m.min_interval), _micros(m.max_interval)
    if high <= 0 or low > high:
        v.add(prefix.rstrip("."), "needs 0 <= min_interval <= max_interval, max positive")


def _metric_entry(m: Any, prefix: str, v: Violations) -> None:
    if m.WhichOneof("value") is None:
        v.add(prefix + "value", "set counter or timer")


def _list_metrics(m: Any, prefix: str, v: Violations) -> None:
    if not m.execution_id and not m.task_run_id:
        v.add(prefix + "execution_id", "execution_id or task_run_id is required")


def _aggregate(m: Any, prefix: str, v: Violations) -> None:
    if m.HasField("start_time") and m.HasField("end_time"):
        start, end = m.start_time, m.end_time
        if (end.seconds, end.nanos) <= (start.seconds, start.nanos):
            v.add(prefix + "end_time", "must be after start_time")


#: Rules that span several fields of one message.
MESSAGE_CHECKS: dict[str, Callable[[Any, str, Violations], None]] = {
    "PauseExecutionRequest": _pause,
    "RetryPolicy": _retry_policy,
    "RetryPolicy.Constant": _positive("interval"),
    "RetryPolicy.Exponential": _exponential,
    "RetryPolicy.Random": _random,
    "MetricEntry": _metric_entry,
    "ListMetricsRequest": _list_metrics,
    "AggregateMetricsRequest": _aggregate,
}

_MESSAGE_RULES: dict[str, Rule] = {
    "google.protobuf.Struct": Payload(),
    "google.protobuf.Duration": Span(),
    "google.protobuf.Timestamp": Instant(),
}


def _default_rule(fd: FieldDescriptor) -> Rule | None:
    """The rule of a field that FIELD_RULES does not name, by its protobuf type."""
    t = fd.type
    if t == FieldDescriptor.TYPE_STRING:
        return Text(256)
    if t == FieldDescriptor.TYPE_BYTES:
        return None
    if t in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_UINT32):
        return INT32
    if t in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_UINT64):
        return Whole()
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return Real(-L.MAX_COUNTER, L.MAX_COUNTER)
    if t == FieldDescriptor.TYPE_ENUM:
        return Known()
    if t == FieldDescriptor.TYPE_MESSAGE:
        return _MESSAGE_RULES.get(fd.message_type.full_name, Nested())  # type: ignore[union-attr]
    return None  # bool


# -- compiled per message type --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _FieldPlan:
    field: FieldDescriptor
    name: str
    rule: Rule | None
    required: bool
    #: "scalar", "message" (checked only when present), "repeated" or "map".
    shape: str
    enum: EnumDescriptor | None
    item_rule: Rule | None
    #: Whether the field's default (unset) value can be a violation: required,
    #: or a rule that refuses it (``Known(unset=False)``, ``Whole(low=1)``).
    #: Only these fields are looked at when a message does not carry them.
    unset_matters: bool = True


@dataclass(frozen=True, slots=True)
class _MessagePlan:
    fields: tuple[_FieldPlan, ...]
    check: Callable[[Any, str, Violations], None] | None


_PLANS: dict[str, _MessagePlan] = {}


def _short_name(d: Descriptor) -> str:
    """``RetryPolicy.Exponential`` for statehouse.v1.RetryPolicy.Exponential."""
    return d.full_name.removeprefix(d.file.package + ".")


def _plan(d: Descriptor) -> _MessagePlan:
    plan = _PLANS.get(d.full_name)
    if plan is not None:
        return plan
    short = _short_name(d)
    required = set(REQUIRED.get(short, ()))
    fields = []
    for fd in d.fields:
        rule = FIELD_RULES.get(f"{short}.{fd.name}") or FIELD_RULES.get(fd.name)
        enum = fd.enum_type
        item_rule: Rule | None = None
        is_map = fd.message_type is not None and fd.message_type.GetOptions().map_entry
        if is_map:
            shape = "map"
            value_fd = fd.message_type.fields_by_name["value"]  # type: ignore[union-attr]
            enum = value_fd.enum_type
            if rule is None:
                rule = Pairs(100, Text(256), _default_rule(value_fd) or Text(256))
        elif fd.is_repeated:
            shape = "repeated"
            element = _default_rule(fd)
            if rule is None:
                rule = Many(100)
            item_rule = element
        else:
            shape = "message" if fd.message_type is not None else "scalar"
            if rule is None:
                rule = _default_rule(fd)
            if enum is not None and fd.name in required and isinstance(rule, Known):
                rule = Known(unset=False)
        f = _FieldPlan(fd, fd.name, rule, fd.name in required, shape, enum, item_rule)
        fields.append(replace(f, unset_matters=_unset_matters(f)))
    plan = _MessagePlan(tuple(fields), MESSAGE_CHECKS.get(short))
    _PLANS[d.full_name] = plan
    return plan


def _unset_matters(f: _FieldPlan) -> bool:
    """Whether a message that does not carry ``f`` can be refused for it: the
    field's checks run once on its default value, when the plan is made."""
    if f.required:
        return True
    if f.shape != "scalar":
        return False  # an absent message, an empty list or map: only "required"
    v = Violations()
    _check_field(f, f.field.default_value, f.name, v, Context(Payloads(), L.MAX_PAYLOAD_BYTES))
    return bool(v.items)


#: What a message does not carry, in :func:`_validate_message`'s lookup.
_ABSENT: Any = object()


def _check_field(f: _FieldPlan, value: Any, path: str, v: Violations, ctx: Context) -> None:
    """The checks of one field whose value is ``value`` (a message field: present)."""
    if f.shape != "message" and not value and value is not False:
        # An empty string, zero, an empty list or map: only "required" applies,
        # and Known(unset=False) or a lower bound above zero says more.
        if f.required and not isinstance(f.rule, Known):
            v.add(path, "is required")
            return
        if not isinstance(f.rule, Known | Whole):
            return
    if f.rule is None:
        return
    ctx.enum = f.enum
    ctx.item_rule = TEXT_ITEM if f.item_rule is None else f.item_rule
    f.rule.check(value, path, v, ctx)


def _validate_message(
    message: Message, prefix: str, v: Violations, payloads: Payloads, max_payload_bytes: int
) -> None:
    """Every field in declaration order; only those the message carries
    (``ListFields``: set scalars, present messages, non-empty lists and maps)
    and those whose absence can be a violation are looked at."""
    plan = _plan(message.DESCRIPTOR)  # type: ignore[arg-type]
    present = dict(message.ListFields())
    ctx = Context(payloads, max_payload_bytes)  # one for the message, set per field
    for f in plan.fields:
        value = present.get(f.field, _ABSENT)
        if value is _ABSENT:
            if not f.unset_matters:
                continue
            if f.shape == "message":
                v.add(prefix + f.name, "is required")
                continue
            value = getattr(message, f.name)
        _check_field(f, value, prefix + f.name, v, ctx)
    if plan.check is not None:
        plan.check(message, prefix, v)


def validate(message: Message, *, max_payload_bytes: int = L.MAX_PAYLOAD_BYTES) -> Payloads:
    """Check ``message`` completely; INVALID_ARGUMENT naming every bad field.

    Returns its inputs or outputs as plain JSON values (:class:`Payloads`).
    """
    payloads = Payloads()
    v = Violations()
    _validate_message(message, "", v, payloads, max_payload_bytes)
    v.raise_if_any()
    return payloads
