"""Connect JSON against a real server, as curl or a browser sends it (issue 23, item 3).

An unknown enum name or field name is INVALID_ARGUMENT naming it (for an enum,
with the accepted names), and nothing happens: a task run does not move, a
filter is never widened by a value the server did not understand. gRPC (and
Connect binary) refuse an enum number the contract lacks the same way. JSON
responses carry every field: CountExecutions lists every state with its count,
0 included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from google.rpc import code_pb2, error_details_pb2, status_pb2

from statehouse.v1 import execution_service_pb2 as epb, state_pb2
from tests.integration.test_connect import Wire, envelope, frames, start, status_from_connect

E = "/statehouse.v1.ExecutionService/"
STATE_NAMES = [v.name for v in state_pb2.State.DESCRIPTOR.values if v.number]


@pytest.fixture
def wire(database_url: str, tmp_path: Path) -> Iterator[Wire]:
    proc = start(database_url, tmp_path)
    w = Wire(proc)
    try:
        yield w
    finally:
        w.close()
        proc.stop()


def call(wire: Wire, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, headers, data = wire.post(E + method, json.dumps(body).encode(), "application/json")
    assert headers["content-type"] == "application/json", data
    return status, json.loads(data)


def violations(error: dict[str, Any]) -> dict[str, str]:
    """The field violations of a Connect error, decoded from its details."""
    status = status_from_connect(error)
    found: dict[str, str] = {}
    for detail in status.details:
        if detail.type_url.endswith("google.rpc.BadRequest"):
            bad = error_details_pb2.BadRequest.FromString(detail.value)
            found.update({v.field: v.description for v in bad.field_violations})
    return found


def refused(status: int, error: dict[str, Any], field: str, *words: str) -> str:
    """Asserts an INVALID_ARGUMENT naming ``field``; returns its description."""
    assert status == 400, error
    assert error["code"] == "invalid_argument", error
    found = violations(error)
    assert field in found, error
    assert field in error["message"], error
    for word in words:
        assert word in found[field], (word, found[field])
    return found[field]


def made_task_run(wire: Wire) -> str:
    status, created = call(wire, "CreateExecution", {"namespace": "demo", "flowId": "hello"})
    assert status == 200, created
    status, task = call(
        wire, "CreateTaskRun", {"executionId": created["execution"]["id"], "taskId": "t"}
    )
    assert status == 200, task
    return str(task["taskRun"]["id"])


def test_an_unknown_state_name_is_refused_naming_it_and_the_task_run_does_not_move(
    wire: Wire,
) -> None:
    task_run = made_task_run(wire)
    for name in ("STATE_SUCESS", "SUCCESS"):
        status, error = call(wire, "TransitionTaskRun", {"taskRunId": task_run, "state": name})
        text = refused(status, error, "state", f'"{name}"', *STATE_NAMES)
        assert "is required" not in text
        assert error["details"][0]["debug"]["reason"] == "MALFORMED_REQUEST"
    status, got = call(wire, "GetTaskRun", {"taskRunId": task_run})
    assert status == 200 and got["taskRun"]["state"] == "STATE_CREATED"
    # The real name moves it.
    status, moved = call(
        wire, "TransitionTaskRun", {"taskRunId": task_run, "state": "STATE_RUNNING"}
    )
    assert status == 200 and moved["taskRun"]["state"] == "STATE_RUNNING", moved


def test_a_misspelled_field_is_refused_by_its_own_name(wire: Wire) -> None:
    task_run = made_task_run(wire)
    status, error = call(
        wire, "TransitionTaskRun", {"taskRunId": task_run, "stat": "STATE_RUNNING"}
    )
    refused(status, error, "stat", "did you mean state?")
    assert "state" not in violations(error)  # not "state: is required"
    status, error = call(
        wire, "TransitionTaskRun", {"task_run": task_run, "state": "STATE_RUNNING"}
    )
    refused(status, error, "task_run", "TransitionTaskRunRequest")
    status, got = call(wire, "GetTaskRun", {"taskRunId": task_run})
    assert got["taskRun"]["state"] == "STATE_CREATED"


def test_an_unknown_state_never_widens_a_filter(wire: Wire) -> None:
    task_run = made_task_run(wire)
    call(wire, "TransitionTaskRun", {"taskRunId": task_run, "state": "STATE_RUNNING"})
    call(wire, "CreateExecution", {"namespace": "demo", "flowId": "other"})
    for states in (["STATE_BOGUS"], ["STATE_RUNNING", "STATE_BOGUS"]):
        status, error = call(wire, "ListExecutions", {"states": states})
        refused(status, error, f"states[{len(states) - 1}]", '"STATE_BOGUS"', *STATE_NAMES)
    status, listed = call(wire, "ListExecutions", {"states": ["STATE_RUNNING"]})
    assert status == 200 and [e["state"] for e in listed["executions"]] == ["STATE_RUNNING"]
    # A stream's filter too: the end frame is the refusal, no event is sent.
    status, _, data = wire.post(
        "/statehouse.v1.EventService/Subscribe",
        envelope(b'{"filter": {"states": ["STATE_BOGUS"]}}'),
        "application/connect+json",
        {"connect-timeout-ms": "3000"},
    )
    messages, end = frames(data)
    assert status == 200 and messages == [], messages
    refused(400, end["error"], "filter.states[0]", '"STATE_BOGUS"')
    # Over gRPC and Connect binary a number the enum lacks is refused the same way
    # (and over JSON, where a number is allowed): the same status on the three wires.
    same = wire.all(E + "ListExecutions", epb.ListExecutionsRequest(states=[99]))
    assert isinstance(same, status_pb2.Status) and same.code == code_pb2.INVALID_ARGUMENT
    assert "states[0]: 99 is not a known value of State; expected one of" in same.message


def test_a_number_out_of_range_names_its_field(wire: Wire) -> None:
    status, error = call(wire, "ListExecutions", {"pageSize": 1 << 40})
    refused(status, error, "page_size", "integer")
    status, _, data = wire.post(
        "/statehouse.v1.EventService/Subscribe",
        envelope(b'{"maxEventsPerMessage": 3000000000}'),
        "application/connect+json",
        {"connect-timeout-ms": "3000"},
    )
    _, end = frames(data)
    refused(400, end["error"], "max_events_per_message", "integer")


def test_count_executions_over_json_lists_every_state_with_its_count_zeros_included(
    wire: Wire,
) -> None:
    status, empty = call(wire, "CountExecutions", {})
    assert status == 200
    assert empty == {
        "counts": [{"count": "0", "state": name} for name in STATE_NAMES],
        "total": "0",
    }
    made_task_run(wire)
    status, one = call(wire, "CountExecutions", {"namespace": "demo"})
    assert [c["state"] for c in one["counts"]] == STATE_NAMES
    assert {c["state"]: c["count"] for c in one["counts"]} == {
        name: "1" if name == "STATE_CREATED" else "0" for name in STATE_NAMES
    }
    assert one["total"] == "1"
    # The same message as over gRPC, and what proto3 JSON parsers read.
    expected = wire.grpc(E + "CountExecutions", epb.CountExecutionsRequest(namespace="demo"))
    assert json_format.ParseDict(one, epb.CountExecutionsResponse()) == expected
