"""Proto3 JSON requests (``api/_json.py``): strict, and refusals that say where.

Every enum field reachable from any request of any service served over Connect
(through nested messages, lists and maps), found by walking the descriptors so
that a field added to the contract is covered the day it exists: an unknown
name there is INVALID_ARGUMENT naming the field, the value and the accepted
names, never the field left unset (which widened filters); every message
reachable refuses an unknown field by name. Responses print every field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from grpc_health.v1 import health_pb2

from statehouse.server.api import validation
from statehouse.server.api._json import parse_json, to_json
from statehouse.server.app import SERVICES
from statehouse.server.orchestration import InvalidArgument
from statehouse.v1 import (
    event_service_pb2 as evpb,
    execution_service_pb2 as epb,
    state_pb2,
)

ALL_SERVICES = (*SERVICES, health_pb2.DESCRIPTOR.services_by_name["Health"])
REQUESTS: list[Descriptor] = sorted(
    {m.input_type.full_name: m.input_type for s in ALL_SERVICES for m in s.methods}.values(),
    key=lambda d: d.full_name,
)


@dataclass(frozen=True)
class Place:
    """A field reachable from a request: how to reach it in JSON, and its path as
    validation names it (``requests[0].state``, ``labels['k']``)."""

    request: Descriptor
    #: (JSON name, "one" | "list" | "map") of each field on the way, the last one included.
    steps: tuple[tuple[str, str], ...]
    path: str
    field: FieldDescriptor

    def document(self, value: Any) -> dict[str, Any]:
        """A request holding ``value`` at this place (one item of a list, the
        value of key "k" of a map), everything on the way present."""
        for name, shape in reversed(self.steps):
            item = [value] if shape == "list" else {"k": value} if shape == "map" else value
            value = {name: item}
        return value

    @property
    def id(self) -> str:
        return f"{self.request.name}.{self.path}"


def _shape(fd: FieldDescriptor) -> str:
    if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
        return "map"
    return "list" if fd.is_repeated else "one"


def _places(
    request: Descriptor,
    d: Descriptor,
    steps: tuple[tuple[str, str], ...],
    path: str,
    seen: set[str],
) -> list[Place]:
    found = []
    for fd in d.fields:
        shape = _shape(fd)
        at = path + fd.name + {"one": "", "list": "[0]", "map": "['k']"}[shape]
        here = (*steps, (fd.json_name, shape))
        target = fd.message_type.fields_by_name["value"] if shape == "map" else fd  # type: ignore[union-attr]
        found.append(Place(request, here, at, target))
        nested = target.message_type
        if (
            nested is not None
            and not nested.full_name.startswith("google.protobuf.")
            and nested.full_name not in seen
        ):
            found += _places(request, nested, here, at + ".", seen | {nested.full_name})
    return found


PLACES = [p for r in REQUESTS for p in _places(r, r, (), "", {r.full_name})]
ENUM_PLACES = [p for p in PLACES if p.field.enum_type is not None]
MESSAGE_PLACES = [
    p
    for p in PLACES
    if p.field.message_type is not None
    and not p.field.message_type.full_name.startswith("google.protobuf.")
]


def _class(d: Descriptor) -> Any:
    return message_factory.GetMessageClass(d)


def _refusal(request: Descriptor, document: Any) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        parse_json(_class(request), json.dumps(document).encode())
    assert info.value.reason == "MALFORMED_REQUEST"
    return info.value


def test_the_walk_finds_the_enums_of_the_contract_in_lists_maps_and_nested_messages() -> None:
    found = {p.id for p in ENUM_PLACES}
    assert {
        "TransitionTaskRunRequest.state",
        "TransitionTaskRunsRequest.requests[0].state",
        "ListExecutionsRequest.states[0]",
        "ListExecutionsRequest.view",
        "GetExecutionRequest.view",
        "CompleteExecutionRequest.state",
        "PauseExecutionRequest.on_timeout",
        "SubscribeRequest.filter.states[0]",
        "AggregateMetricsRequest.type",
        "AggregateMetricsRequest.bucket_width",
        "CreateTokenRequest.role",
    } <= found
    assert {p.request.name for p in PLACES} >= {"HealthCheckRequest", "RecordMetricsRequest"}


@pytest.mark.parametrize("name", ["NOT_A_VALUE", "SUCCESS", "state_success", ""])
@pytest.mark.parametrize("place", ENUM_PLACES, ids=[p.id for p in ENUM_PLACES])
def test_an_unknown_enum_name_is_refused_naming_the_field_the_value_and_the_names(
    place: Place, name: str
) -> None:
    error = _refusal(place.request, place.document(name))
    enum = place.field.enum_type
    assert enum is not None
    texts = dict(error.violations)
    assert place.path in texts, error.violations
    text = texts[place.path]
    assert json.dumps(name) in text and enum.name in text
    for value in enum.values:
        if value.number != 0:
            assert value.name in text
    assert place.path in error.message


@pytest.mark.parametrize("place", ENUM_PLACES, ids=[p.id for p in ENUM_PLACES])
def test_every_name_of_an_enum_is_taken_and_a_number_it_lacks_is_refused_by_validation(
    place: Place,
) -> None:
    """JSON may give an enum by number; one the enum lacks is kept by protobuf
    (open enums) and refused by validation, on the same path, with the names."""
    enum = place.field.enum_type
    assert enum is not None
    for value in enum.values:
        parse_json(_class(place.request), json.dumps(place.document(value.name)).encode())
    if place.request.name == "TransitionTaskRunsRequest":
        return  # its items are validated one by one, by the handler
    message = parse_json(_class(place.request), json.dumps(place.document(1234)).encode())
    with pytest.raises(InvalidArgument) as info:
        validation.validate(message)
    assert (place.path, f"1234 {validation.enum_choice(enum)}") in info.value.violations


def test_an_unknown_state_in_a_list_filter_is_refused_not_dropped() -> None:
    """``{"states": ["STATE_BOGUS"]}`` was read as no filter at all: every execution."""
    error = _refusal(
        epb.ListExecutionsRequest.DESCRIPTOR, {"states": ["STATE_RUNNING", "STATE_BOGUS"]}
    )
    assert [field for field, _ in error.violations] == ["states[1]"]
    fine = parse_json(epb.ListExecutionsRequest, b'{"states": ["STATE_RUNNING", 3]}')
    assert list(fine.states) == [state_pb2.STATE_RUNNING, state_pb2.STATE_PAUSED]


@pytest.mark.parametrize("request_type", REQUESTS, ids=[r.name for r in REQUESTS])
def test_an_unknown_field_of_a_request_is_refused_by_name(request_type: Descriptor) -> None:
    error = _refusal(request_type, {"noSuchField": 1})
    assert error.violations[0][0] == "noSuchField"
    assert f"is not a field of {request_type.name}" in error.violations[0][1]


@pytest.mark.parametrize("place", MESSAGE_PLACES, ids=[p.id for p in MESSAGE_PLACES])
def test_an_unknown_field_of_a_nested_message_is_refused_by_its_path(place: Place) -> None:
    error = _refusal(place.request, place.document({"noSuchField": 1}))
    assert (place.path + ".noSuchField") in dict(error.violations), error.violations


def test_a_misspelled_field_says_which_was_meant() -> None:
    descriptor = epb.TransitionTaskRunRequest.DESCRIPTOR
    for key, meant in (("stat", "state"), ("taskRunID", "taskRunId"), ("task-run-id", "taskRunId")):
        error = _refusal(descriptor, {"taskRunId": "t", key: "STATE_RUNNING"})
        assert error.violations == [
            (key, f"is not a field of TransitionTaskRunRequest: did you mean {meant}?")
        ]
    far = _refusal(descriptor, {"zzz": 1}).violations[0][1]
    assert "its fields: taskRunId, state," in far


@pytest.mark.parametrize(
    ("request_type", "document", "path", "text"),
    [
        (
            evpb.SubscribeRequest,
            {"maxEventsPerMessage": 1 << 31},
            "max_events_per_message",
            "integer",
        ),
        (epb.ListExecutionsRequest, {"pageSize": "many"}, "page_size", "integer"),
        (evpb.SubscribeRequest, {"afterSequence": "1e99"}, "after_sequence", "integer"),
        (evpb.SubscribeRequest, {"heartbeatInterval": "5"}, "heartbeat_interval", "duration"),
        (epb.ListExecutionsRequest, {"labels": {"team": 7}}, "labels['team']", "string"),
        (epb.ListExecutionsRequest, {"labels": ["team"]}, "labels", "object"),
        (epb.ListExecutionsRequest, {"states": "STATE_RUNNING"}, "states", "list"),
        (epb.ListExecutionsRequest, {"states": [None]}, "states[0]", "null"),
        (
            epb.CreateTaskRunRequest,
            {"retryPolicy": {"constant": {"interval": "soon"}}},
            "retry_policy.constant.interval",
            "duration",
        ),
        (epb.CreateExecutionRequest, {"inputs": [1]}, "inputs", "object"),
        (epb.CreateExecutionRequest, {"namespace": "a", "namespace ": "b"}, "namespace ", "field"),
    ],
)
def test_a_value_the_parser_refuses_names_its_field(
    request_type: Any, document: dict[str, Any], path: str, text: str
) -> None:
    error = _refusal(request_type.DESCRIPTOR, document)
    texts = dict(error.violations)
    assert path in texts and text in texts[path], error.violations


def test_what_names_no_field_names_the_request() -> None:
    descriptor = epb.ListExecutionsRequest.DESCRIPTOR
    assert _refusal(descriptor, [1]).violations[0][0] == "request"
    with pytest.raises(InvalidArgument) as info:
        parse_json(epb.ListExecutionsRequest, b'{"namespace": ')
    assert info.value.violations[0][0] == "request"
    assert "not valid JSON" in info.value.violations[0][1]
    with pytest.raises(InvalidArgument) as info:
        parse_json(epb.ListExecutionsRequest, b'{"namespace": "a", "namespace": "b"}')
    assert info.value.violations == [("namespace", "is given more than once")]


def test_violations_are_bounded() -> None:
    document = {"requests": [{"state": f"NOPE{i}"} for i in range(100)]}
    error = _refusal(epb.TransitionTaskRunsRequest.DESCRIPTOR, document)
    assert len(error.violations) == validation.MAX_REPORTED + 1


def test_json_responses_print_every_field_zeros_included() -> None:
    """CountExecutions lists every state with its count, 0 included, and the total."""
    response = epb.CountExecutionsResponse(
        counts=[epb.StateCount(state=s, count=0) for s in (1, 2)], total=0
    )
    assert json.loads(to_json(response)) == {
        "counts": [
            {"count": "0", "state": "STATE_CREATED"},
            {"count": "0", "state": "STATE_RUNNING"},
        ],
        "total": "0",
    }
    # A message field or a oneof member that is not set stays out.
    assert "event" not in json.loads(to_json(evpb.SubscribeResponse()))
