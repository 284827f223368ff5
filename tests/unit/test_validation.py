"""The validation boundary, without a server: every field of every request has
a rule, and each rule refuses what it should and names the field."""

from __future__ import annotations

import math

import pytest
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from google.protobuf.descriptor import FieldDescriptor

from statehouse.server import limits
from statehouse.server.api import validation
from statehouse.server.app import SERVICES
from statehouse.server.orchestration import InvalidArgument
from statehouse.v1 import (
    event_pb2,
    event_service_pb2 as epb,
    execution_pb2,
    execution_service_pb2 as pb,
    metric_pb2,
    metric_service_pb2 as mpb,
    state_pb2 as st,
)
from tests.doc_blocks import ROOT, section

REQUESTS = [m.input_type for s in SERVICES for m in s.methods]


def fields_of(message: object) -> list[str]:
    with pytest.raises(InvalidArgument) as info:
        validation.validate(message)  # type: ignore[arg-type]
    return [field for field, _ in info.value.violations]


def test_every_request_of_the_contract_is_covered() -> None:
    assert len(REQUESTS) == 26
    seen: set[str] = set()

    def walk(descriptor: object) -> None:
        name = descriptor.full_name  # type: ignore[attr-defined]
        if name in seen or name.startswith("google.protobuf."):
            return
        seen.add(name)
        plan = validation._plan(descriptor)  # type: ignore[arg-type]
        by_name = {f.name: f for f in plan.fields}
        for fd in descriptor.fields:  # type: ignore[attr-defined]
            assert fd.name in by_name, f"{name}.{fd.name} has no plan"
            if fd.type != FieldDescriptor.TYPE_BOOL:
                assert by_name[fd.name].rule is not None, f"{name}.{fd.name} has no rule"
            if fd.message_type is not None and not fd.message_type.GetOptions().map_entry:
                walk(fd.message_type)

    for request in REQUESTS:
        walk(request)
    assert "statehouse.v1.RetryPolicy.Exponential" in seen


def test_every_named_rule_and_requirement_names_a_real_field() -> None:
    messages: dict[str, object] = {}

    def collect(d: object) -> None:
        short = validation._short_name(d)  # type: ignore[arg-type]
        if short in messages or d.full_name.startswith("google."):  # type: ignore[attr-defined]
            return
        messages[short] = d
        for fd in d.fields:  # type: ignore[attr-defined]
            if fd.message_type is not None:
                collect(fd.message_type)

    for request in REQUESTS:
        collect(request)
    all_fields = {f.name for d in messages.values() for f in d.fields}  # type: ignore[attr-defined]
    for key in validation.FIELD_RULES:
        message, _, field = key.rpartition(".")
        if message:
            assert field in messages[message].fields_by_name, key  # type: ignore[attr-defined]
        else:
            assert field in all_fields, key
    for message, required in validation.REQUIRED.items():
        for field in required:
            assert field in messages[message].fields_by_name, (message, field)  # type: ignore[attr-defined]
    for message in validation.MESSAGE_CHECKS:
        assert message in messages, message


def test_the_documented_limits_table_is_generated_from_the_limits() -> None:
    documented = section(ROOT / "docs" / "concepts.md", "Limits")
    assert limits.markdown_table() in documented, (
        "docs/concepts.md's limits table is stale: paste the output of "
        "`python -m statehouse.server.limits`"
    )


def test_every_bad_field_is_named_in_message_order() -> None:
    request = pb.CreateExecutionRequest(
        namespace="Bad!", flow_id="", labels={"bad key": "v"}, request_id="x" * 129
    )
    assert fields_of(request) == ["namespace", "flow_id", "labels['bad key']", "request_id"]


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("plain", True),
        ("tab\tnewline\n", True),
        ("nul\x00", False),
        ("escape\x1b", False),
        ("c1\x85", False),
        ("del\x7f", False),
        ("ünïcødé 🚀", True),
    ],
)
def test_reasons_allow_tab_and_newline_but_no_other_control_character(text: str, ok: bool) -> None:
    request = pb.TransitionTaskRunRequest(task_run_id="t", state=st.STATE_RUNNING, reason=text)
    if ok:
        validation.validate(request)
    else:
        assert fields_of(request) == ["reason"]


def test_single_line_text_refuses_every_control_character() -> None:
    request = pb.TransitionTaskRunRequest(task_run_id="t", state=st.STATE_RUNNING, worker_id="a\tb")
    assert fields_of(request) == ["worker_id"]


def test_ids_are_printable_ascii() -> None:
    for bad in ("with space", "ü", "x" * 65):
        assert fields_of(pb.GetExecutionRequest(execution_id=bad)) == ["execution_id"]
    validation.validate(pb.GetExecutionRequest(execution_id="0f1e-ABC_.:~"))


def test_enums_must_be_known_and_required_ones_set() -> None:
    assert fields_of(pb.TransitionTaskRunRequest(task_run_id="t")) == ["state"]
    assert fields_of(pb.TransitionTaskRunRequest(task_run_id="t", state=42)) == ["state"]  # type: ignore[arg-type]
    assert fields_of(pb.ListExecutionsRequest(states=[st.STATE_RUNNING, 0, 77])) == [  # type: ignore[list-item]
        "states[1]",
        "states[2]",
    ]
    assert fields_of(pb.GetExecutionRequest(execution_id="x", view=9)) == ["view"]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "duration",
    [
        duration_pb2.Duration(seconds=-1),
        duration_pb2.Duration(seconds=1, nanos=-1),
        duration_pb2.Duration(nanos=1_000_000_000),
        duration_pb2.Duration(seconds=315_576_000_001),
        duration_pb2.Duration(seconds=limits.MAX_DURATION_SECONDS + 1),
    ],
    ids=["negative", "mixed-sign", "nanos-overflow", "beyond-protobuf", "beyond-10-years"],
)
def test_bad_durations(duration: duration_pb2.Duration) -> None:
    assert fields_of(pb.PauseExecutionRequest(execution_id="x", timeout=duration)) == ["timeout"]


def test_the_longest_duration_is_accepted() -> None:
    longest = duration_pb2.Duration(seconds=limits.MAX_DURATION_SECONDS)
    validation.validate(pb.PauseExecutionRequest(execution_id="x", delay=longest))


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [(-1, 0), (limits.MAX_TIMESTAMP_SECONDS, 0), (1 << 62, 0), (0, -1), (0, 1_000_000_000)],
)
def test_bad_timestamps(seconds: int, nanos: int) -> None:
    request = mpb.AggregateMetricsRequest(
        namespace="a",
        name="n",
        type=metric_pb2.METRIC_TYPE_COUNTER,
        start_time=timestamp_pb2.Timestamp(seconds=1),
        end_time=timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos),
    )
    assert "end_time" in fields_of(request)


def test_metric_entries_are_named_by_index() -> None:
    request = mpb.RecordMetricsRequest(
        task_run_id="t",
        metrics=[
            metric_pb2.MetricEntry(name="ok", counter=1),
            metric_pb2.MetricEntry(name="1bad", counter=math.nan, tags={"k": "v" * 300}),
            metric_pb2.MetricEntry(name="novalue"),
        ],
    )
    assert fields_of(request) == [
        "metrics[1].name",
        "metrics[1].tags['k']",
        "metrics[1].counter",
        "metrics[2].value",
    ]


def test_counts_are_capped() -> None:
    too_many = [metric_pb2.MetricEntry(name="n", counter=1)] * (limits.MAX_METRICS_PER_CALL + 1)
    assert fields_of(mpb.RecordMetricsRequest(task_run_id="t", metrics=too_many)) == ["metrics"]
    assert fields_of(mpb.RecordMetricsRequest(task_run_id="t")) == ["metrics"]
    ids = [str(i) for i in range(limits.MAX_EXECUTION_ID_FILTERS + 1)]
    request = epb.SubscribeRequest(filter=event_pb2.EventFilter(execution_ids=ids))
    assert fields_of(request) == ["filter.execution_ids"]


def test_cross_field_rules() -> None:
    second = duration_pb2.Duration(seconds=1)
    assert fields_of(pb.PauseExecutionRequest(execution_id="x", delay=second, timeout=second)) == [
        "delay"
    ]
    assert fields_of(
        pb.PauseExecutionRequest(execution_id="x", on_timeout=pb.PAUSE_TIMEOUT_ACTION_FAIL)
    ) == ["on_timeout"]
    assert fields_of(mpb.ListMetricsRequest()) == ["execution_id"]
    exponential = execution_pb2.RetryPolicy(
        max_attempts=2,
        exponential=execution_pb2.RetryPolicy.Exponential(
            interval=duration_pb2.Duration(seconds=5), max_interval=second
        ),
    )
    request = pb.CreateTaskRunRequest(execution_id="x", task_id="t", retry_policy=exponential)
    assert fields_of(request) == ["retry_policy.exponential.max_interval"]


def _payload(value: dict[str, object]) -> pb.CreateExecutionRequest:
    s = struct_pb2.Struct()
    s.update(value)
    return pb.CreateExecutionRequest(namespace="a", flow_id="f", inputs=s)


def test_payloads_are_checked_and_converted_in_one_walk() -> None:
    checked = validation.validate(_payload({"a": [1, "two", None, True, {"b": 2.5}]}))
    assert checked.payload("inputs") == {"a": [1.0, "two", None, True, {"b": 2.5}]}
    assert checked.payload("outputs") is None


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"n": math.nan}, "inputs.n"),
        ({"list": [0, math.inf]}, "inputs.list[1]"),
        ({"s": "a\x00"}, "inputs.s"),
        ({"k\x00": 1}, "inputs.k\x00"),
        ({"k" * (limits.MAX_PAYLOAD_KEY + 1): 1}, "inputs." + "k" * 64),
        ({"": 1}, "inputs."),
    ],
)
def test_bad_payload_values(value: dict[str, object], field: str) -> None:
    assert fields_of(_payload(value)) == [field]


def test_an_unset_value_inside_a_struct_is_refused() -> None:
    s = struct_pb2.Struct()
    s.fields["empty"].SetInParent()
    s.fields["empty"].ClearField("null_value")
    request = pb.CreateExecutionRequest(namespace="a", flow_id="f", inputs=s)
    assert fields_of(request) == ["inputs.empty"]


def test_payload_depth_and_value_count_are_bounded() -> None:
    deep: dict[str, object] = {}
    node = deep
    for _ in range(limits.MAX_PAYLOAD_DEPTH - 1):
        node["d"] = {}
        node = node["d"]  # type: ignore[assignment]
    validation.validate(_payload(deep))
    node["d"] = {}
    assert len(fields_of(_payload(deep))) == 1
    validation.validate(_payload({f"k{i}": i for i in range(limits.MAX_PAYLOAD_VALUES)}))
    assert fields_of(_payload({f"k{i}": i for i in range(limits.MAX_PAYLOAD_VALUES + 1)})) == [
        "inputs"
    ]


def test_payload_size_is_its_own_reason() -> None:
    with pytest.raises(InvalidArgument) as info:
        validation.validate(_payload({"blob": "x" * 2000}), max_payload_bytes=1000)
    assert info.value.reason == "PAYLOAD_TOO_LARGE"
    assert info.value.metadata == {"limit_bytes": "1000", "size_bytes": "2011", "field": "inputs"}


def test_a_valid_request_passes() -> None:
    request = pb.TransitionTaskRunRequest(
        task_run_id="tr-1",
        state=st.STATE_SUCCESS,
        reason="done",
        worker_id="worker-7",
        request_id="r-1",
        expected_revision=3,
    )
    assert validation.validate(request).by_path == {}
    validation.validate(
        execution_pb2.RetryPolicy(
            max_attempts=1,
            random=execution_pb2.RetryPolicy.Random(max_interval=duration_pb2.Duration(seconds=1)),
        )
    )


def test_many_violations_are_reported_up_to_a_bound() -> None:
    ids = ["bad id"] * limits.MAX_EXECUTION_ID_FILTERS
    request = epb.SubscribeRequest(filter=event_pb2.EventFilter(execution_ids=ids))
    with pytest.raises(InvalidArgument) as info:
        validation.validate(request)
    violations = info.value.violations
    assert len(violations) == validation.MAX_REPORTED + 1
    assert violations[-1] == ("", f"and {len(ids) - validation.MAX_REPORTED} more violations")
    assert len(info.value.message) < 600


def _enum_fields(descriptor: object, prefix: str = "") -> list[tuple[str, object]]:
    """(path, field) of every enum field reachable from a request, through nested messages."""
    found: list[tuple[str, object]] = []
    for fd in descriptor.fields:  # type: ignore[attr-defined]
        if fd.enum_type is not None:
            found.append((prefix + fd.name, fd))
        elif (
            fd.message_type is not None
            and not fd.message_type.GetOptions().map_entry
            and not fd.message_type.full_name.startswith("google.")
            and not fd.is_repeated
        ):
            found += _enum_fields(fd.message_type, f"{prefix}{fd.name}.")
    return found


ENUM_FIELDS = [
    (request, path, fd)
    for request in REQUESTS
    if request.name != "TransitionTaskRunsRequest"  # its items are validated one by one
    for path, fd in _enum_fields(request)
]


def test_every_enum_of_every_request_is_found() -> None:
    names = {f"{request.name}.{path}" for request, path, _ in ENUM_FIELDS}
    assert {
        "GetExecutionRequest.view",
        "ListExecutionsRequest.view",
        "ListExecutionsRequest.states",
        "TransitionExecutionRequest.state",
        "TransitionTaskRunRequest.state",
        "PauseExecutionRequest.on_timeout",
        "CompleteExecutionRequest.state",
        "SubscribeRequest.filter.states",
        "AggregateMetricsRequest.type",
        "AggregateMetricsRequest.bucket_width",
        "CreateTokenRequest.role",
    } <= names


@pytest.mark.parametrize("bad", [99, -1, 1 << 30])
@pytest.mark.parametrize(
    ("request_type", "path", "fd"),
    ENUM_FIELDS,
    ids=[f"{request.name}.{path}" for request, path, _ in ENUM_FIELDS],
)
def test_an_enum_value_out_of_range_is_refused_on_its_field(
    request_type: object, path: str, fd: FieldDescriptor, bad: int
) -> None:
    from google.protobuf import message_factory

    message = message_factory.GetMessageClass(request_type)()  # type: ignore[arg-type]
    target = message
    *parents, name = path.split(".")
    for parent in parents:
        target = getattr(target, parent)
    if fd.is_repeated:
        getattr(target, name).append(bad)
        expected = f"{path}[0]"
    else:
        setattr(target, name, bad)
        expected = path
    with pytest.raises(InvalidArgument) as info:
        validation.validate(message)
    choice = validation.enum_choice(fd.enum_type)  # type: ignore[arg-type]
    assert (expected, f"{bad} {choice}") in info.value.violations
    # A known value passes that field's rule.
    known = max(fd.enum_type.values_by_number)  # type: ignore[union-attr]
    if fd.is_repeated:
        getattr(target, name)[0] = known
    else:
        setattr(target, name, known)
    try:
        validation.validate(message)
    except InvalidArgument as error:  # other rules may still apply (on_timeout needs a timeout)
        assert not [f for f, text in error.violations if "known value" in text]


def test_a_field_whose_rule_refuses_its_default_is_refused_when_absent() -> None:
    # max_attempts is not required, but its rule (at least 1) refuses the 0 that
    # an absent field reads as: the walk over the fields a message carries must
    # still look at it.
    request = pb.CreateTaskRunRequest(execution_id="e", task_id="t")
    request.retry_policy.constant.interval.seconds = 1
    with pytest.raises(InvalidArgument) as info:
        validation.validate(request)
    assert info.value.violations == [
        ("retry_policy.max_attempts", "must be at least 1 (the first attempt counts)")
    ]
    request.retry_policy.max_attempts = 3
    validation.validate(request)


def test_only_fields_whose_absence_can_be_refused_are_looked_at_when_absent() -> None:
    plan = validation._plan(pb.TransitionTaskRunRequest.DESCRIPTOR)
    assert {f.name for f in plan.fields if f.unset_matters} == {"task_run_id", "state"}
    policy = validation._plan(execution_pb2.RetryPolicy.DESCRIPTOR)
    assert {f.name for f in policy.fields if f.unset_matters} == {"max_attempts"}


def test_absent_and_present_fields_are_reported_in_declaration_order() -> None:
    # task_run_id (1) and state (2) absent, reason (3) present and bad, attempt (8)
    # present and bad: one list, in the contract's order.
    request = pb.TransitionTaskRunRequest(reason="x" * 3000, attempt=-1)
    assert fields_of(request) == ["task_run_id", "state", "reason", "attempt"]
