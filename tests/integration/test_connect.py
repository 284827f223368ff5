"""Every RPC over the Connect protocol (JSON and binary), against the same call over gRPC.

A real server process serves gRPC and HTTP (``--http-address``, both on port 0);
JSON goes through ``http.client`` (the bytes on the wire are what a browser or
curl sends), binary protobuf through connect-python's own client. Each result
and each error (code, message, ErrorInfo, BadRequest, PreconditionFailure) must
be the one gRPC gives.
"""

from __future__ import annotations

import base64
import http.client
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from connectrpc.client import ConnectClientSync
from connectrpc.errors import ConnectError
from connectrpc.method import IdempotencyLevel, MethodInfo
from google.protobuf import any_pb2, json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2
from grpc_status import rpc_status

from statehouse.server.app import SERVICES
from statehouse.server.security.credentials import issue_offline
from statehouse.v1 import (
    admin_service_pb2 as apb,
    event_service_pb2 as evpb,
    execution_service_pb2 as epb,
    metric_pb2,
    metric_service_pb2 as mpb,
    state_pb2,
)
from tests.eventually import eventually
from tests.integration.conftest import ServerProcess
from tests.integration.helpers import CALL_DEADLINE

METHODS: dict[str, MethodDescriptor] = {
    f"/{s.full_name}/{m.name}": m for s in SERVICES for m in s.methods
}


class Wire:
    """One server, called three ways: gRPC, Connect JSON (http.client), Connect binary."""

    def __init__(self, proc: ServerProcess, token: str | None = None) -> None:
        assert proc.http_port is not None, "started without --http-address"
        self.http_port = proc.http_port
        self.channel = grpc.insecure_channel(proc.target)
        self.token = token
        self.connect = ConnectClientSync(f"http://127.0.0.1:{self.http_port}")

    def close(self) -> None:
        self.channel.close()
        self.connect.close()

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"} if self.token else {}

    # -- gRPC ---------------------------------------------------------------------

    def grpc(self, path: str, request: Message) -> Message | status_pb2.Status | list[Message]:
        m = METHODS[path]
        out = message_factory.GetMessageClass(m.output_type)
        metadata = [("authorization", f"Bearer {self.token}")] if self.token else None
        try:
            if m.server_streaming:
                call = self.channel.unary_stream(
                    path, request_serializer=_serialize, response_deserializer=out.FromString
                )
                return list(call(request, metadata=metadata, timeout=CALL_DEADLINE))
            unary = self.channel.unary_unary(
                path, request_serializer=_serialize, response_deserializer=out.FromString
            )
            response: Message = unary(request, metadata=metadata, timeout=CALL_DEADLINE)
            return response
        except grpc.RpcError as err:
            status = rpc_status.from_call(err)  # type: ignore[arg-type]
            if status is None:
                return status_pb2.Status(code=err.code().value[0], message=err.details() or "")  # type: ignore[attr-defined]
            return status

    # -- Connect, JSON, over http.client ------------------------------------------------

    def post(
        self, path: str, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=CALL_DEADLINE)
        try:
            all_headers = {"content-type": content_type, **self.headers(), **(headers or {})}
            conn.request("POST", path, body=body, headers=all_headers)
            response = conn.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            conn.close()

    def json(self, path: str, request: Message) -> Message | status_pb2.Status | list[Message]:
        m = METHODS[path]
        out = message_factory.GetMessageClass(m.output_type)
        body = json_format.MessageToJson(request).encode()
        if m.server_streaming:
            status, headers, data = self.post(path, envelope(body), "application/connect+json")
            assert status == 200, data
            assert headers["content-type"] == "application/connect+json"
            messages, end = frames(data)
            if "error" in end:
                return status_from_connect(end["error"])
            return [json_format.Parse(f, out()) for f in messages]
        status, headers, data = self.post(path, body, "application/json")
        assert headers["content-type"] == "application/json", (status, data)
        if status != 200:
            return status_from_connect(json.loads(data), status)
        return json_format.Parse(data, out())

    # -- Connect, binary, connect-python's client --------------------------------------

    def binary(self, path: str, request: Message) -> Message | status_pb2.Status | list[Message]:
        m = METHODS[path]
        info = MethodInfo(
            name=m.name,
            service_name=m.containing_service.full_name,
            input=message_factory.GetMessageClass(m.input_type),
            output=message_factory.GetMessageClass(m.output_type),
            idempotency_level=IdempotencyLevel.UNKNOWN,
        )
        try:
            if m.server_streaming:
                stream = self.connect.execute_server_stream(
                    request=request, method=info, headers=self.headers(), timeout_ms=10_000
                )
                return list(stream)
            response: Message = self.connect.execute_unary(
                request=request, method=info, headers=self.headers(), timeout_ms=10_000
            )
            return response
        except ConnectError as err:
            return status_pb2.Status(
                code=CODES[err.code.value], message=err.message, details=list(err.details)
            )

    def first(self, request: evpb.SubscribeRequest, count: int) -> list[evpb.SubscribeResponse]:
        """The first ``count`` messages of a subscription, the same over all three."""
        path = "/statehouse.v1.EventService/Subscribe"
        metadata = [("authorization", f"Bearer {self.token}")] if self.token else None
        call = self.channel.unary_stream(
            path,
            request_serializer=_serialize,
            response_deserializer=evpb.SubscribeResponse.FromString,
        )
        stream = call(request, metadata=metadata, timeout=CALL_DEADLINE)
        expected = [next(stream) for _ in range(count)]
        stream.cancel()
        info = MethodInfo(
            name="Subscribe",
            service_name="statehouse.v1.EventService",
            input=evpb.SubscribeRequest,
            output=evpb.SubscribeResponse,
            idempotency_level=IdempotencyLevel.UNKNOWN,
        )
        connect = self.connect.execute_server_stream(
            request=request, method=info, headers=self.headers(), timeout_ms=10_000
        )
        assert [next(connect) for _ in range(count)] == expected
        connect.close()  # type: ignore[attr-defined]
        _, _, data = self.post(
            path,
            envelope(json_format.MessageToJson(request).encode()),
            "application/connect+json",
            {"connect-timeout-ms": "1000"},
        )
        messages, _ = frames(data)
        got = [json_format.Parse(m, evpb.SubscribeResponse()) for m in messages[:count]]
        assert got == expected
        return expected

    def all(self, path: str, request: Message) -> Any:
        """The result over gRPC, after checking that both Connect encodings give the same."""
        expected = self.grpc(path, request)
        for how in (self.json, self.binary):
            got = how(path, request)
            assert got == expected, f"{path} over {how.__name__}:\n{got}\n!=\n{expected}"
        return expected


CODES = {("canceled" if n == "CANCELLED" else n.lower()): v for n, v in code_pb2.Code.items()}
HTTP = {
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.NOT_FOUND: 404,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.UNAUTHENTICATED: 401,
    code_pb2.PERMISSION_DENIED: 403,
}


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def envelope(data: bytes, flags: int = 0) -> bytes:
    return struct.pack(">BI", flags, len(data)) + data


def frames(data: bytes) -> tuple[list[bytes], dict[str, Any]]:
    """The messages of a Connect stream response and its end-of-stream JSON."""
    messages, end, i = [], None, 0
    while i < len(data):
        flags, length = struct.unpack(">BI", data[i : i + 5])
        payload = data[i + 5 : i + 5 + length]
        i += 5 + length
        if flags & 0x02:
            end = json.loads(payload)
        else:
            messages.append(payload)
    assert end is not None, "no end-of-stream frame"
    return messages, end


def status_from_connect(error: dict[str, Any], http_status: int | None = None) -> status_pb2.Status:
    status = status_pb2.Status(code=CODES[error["code"]], message=error.get("message", ""))
    if http_status is not None:
        assert http_status == HTTP.get(status.code, http_status)
    for detail in error.get("details", []):
        value = base64.b64decode(detail["value"] + "=" * (-len(detail["value"]) % 4))
        status.details.append(
            any_pb2.Any(type_url=f"type.googleapis.com/{detail['type']}", value=value)
        )
        assert "debug" in detail  # readable without decoding the base64
    return status


def start(database_url: str, tmp_path: Path, *options: str) -> ServerProcess:
    return ServerProcess(
        database_url,
        tmp_path / "server.log",
        options=("--http-address", "127.0.0.1:0", *options),
    )


@pytest.fixture
def wire(database_url: str, tmp_path: Path) -> Iterator[Wire]:
    proc = start(database_url, tmp_path)
    w = Wire(proc)
    try:
        yield w
    finally:
        w.close()
        proc.stop()


def test_every_rpc_of_the_protos_is_served_over_connect(wire: Wire) -> None:
    """Enumerated from the descriptors: an RPC added to the protos and not served
    over Connect fails here (an empty request gets a Connect answer, not a 404)."""
    from statehouse.v1 import (
        admin_service_pb2,
        event_service_pb2,
        execution_service_pb2,
        metric_service_pb2,
    )

    declared = {
        f"/{s.full_name}/{m.name}": m
        for f in (execution_service_pb2, event_service_pb2, metric_service_pb2, admin_service_pb2)
        for s in f.DESCRIPTOR.services_by_name.values()
        for m in s.methods
    }
    assert declared.keys() == METHODS.keys()
    for path, m in declared.items():
        if m.server_streaming:
            status, headers, data = wire.post(
                path, envelope(b"{}"), "application/connect+json", {"connect-timeout-ms": "500"}
            )
            assert frames(data)[1].get("error", {}).get("code") != "unimplemented", path
            assert status == 200 and headers["content-type"] == "application/connect+json", path
        else:
            status, headers, data = wire.post(path, b"{}", "application/json")
            assert headers["content-type"] == "application/json", path
            if status != 200:
                assert json.loads(data)["code"] != "unimplemented", path
    status, _, _ = wire.post("/statehouse.v1.ExecutionService/NoSuchRpc", b"{}", "application/json")
    assert status == 404


def test_every_rpc_gives_the_same_result_over_connect_json_binary_and_grpc(wire: Wire) -> None:
    """Writes carry a request_id, so that the three calls are one change and return
    the stored response; reads see the same state. Deterministic encoding: the
    same bytes whichever transport and codec."""
    E = "/statehouse.v1.ExecutionService/"
    created = wire.all(
        E + "CreateExecution",
        epb.CreateExecutionRequest(
            namespace="demo",
            flow_id="hello",
            labels={"b": "2", "a": "1", "team": "x"},
            request_id="create-1",
        ),
    )
    ex = created.execution.id
    wire.all(E + "GetExecution", epb.GetExecutionRequest(execution_id=ex))
    task = wire.all(
        E + "CreateTaskRun",
        epb.CreateTaskRunRequest(execution_id=ex, task_id="extract", request_id="tr-1"),
    ).task_run.id
    running = epb.TransitionTaskRunRequest(
        task_run_id=task, state=state_pb2.STATE_RUNNING, request_id="run-1"
    )
    wire.all(E + "TransitionTaskRun", running)
    record = mpb.RecordMetricsRequest(task_run_id=task, attempt=1, request_id="m-1")
    record.metrics.add(name="rows", counter=120, tags={"t": "u", "a": "b"})
    wire.all("/statehouse.v1.MetricService/RecordMetrics", record)
    wire.all("/statehouse.v1.MetricService/ListMetrics", mpb.ListMetricsRequest(execution_id=ex))
    wire.all(
        "/statehouse.v1.MetricService/AggregateMetrics",
        mpb.AggregateMetricsRequest(
            namespace="demo", name="rows", type=metric_pb2.METRIC_TYPE_COUNTER
        ),
    )
    wire.all(E + "PauseExecution", epb.PauseExecutionRequest(execution_id=ex, request_id="p-1"))
    wire.all(E + "ResumeExecution", epb.ResumeExecutionRequest(execution_id=ex, request_id="r-1"))
    done = epb.TransitionTaskRunRequest(
        task_run_id=task, state=state_pb2.STATE_SUCCESS, request_id="ok-1"
    )
    done.outputs.update({"rows": 120, "z": {"y": 1, "x": [1, "two"]}})
    batch = epb.TransitionTaskRunsRequest(requests=[done])
    wire.all(E + "TransitionTaskRuns", batch)
    wire.all(
        E + "CompleteExecution", epb.CompleteExecutionRequest(execution_id=ex, request_id="c-1")
    )
    wire.all(E + "RestartExecution", epb.RestartExecutionRequest(execution_id=ex, request_id="s-1"))
    wire.all(E + "KillExecution", epb.KillExecutionRequest(execution_id=ex, request_id="k-1"))
    wire.all(
        E + "TransitionExecution",
        epb.TransitionExecutionRequest(
            execution_id=ex, state=state_pb2.STATE_KILLED, request_id="t-1"
        ),
    )
    wire.all(E + "GetExecution", epb.GetExecutionRequest(execution_id=ex))
    wire.all(E + "ListExecutions", epb.ListExecutionsRequest(namespace="demo"))
    wire.all(E + "CountExecutions", epb.CountExecutionsRequest(namespace="demo"))
    head = wire.all("/statehouse.v1.AdminService/GetServerInfo", apb.GetServerInfoRequest())
    head = head.head_sequence
    assert head >= 8
    events = wire.first(evpb.SubscribeRequest(), head)
    assert [e.event.sequence for e in events] == list(range(1, head + 1))
    wire.all(
        "/statehouse.v1.EventService/FollowExecution", evpb.FollowExecutionRequest(execution_id=ex)
    )
    wire.all("/statehouse.v1.AdminService/GetServerInfo", apb.GetServerInfoRequest())
    # Without a request_id: one change per transport, the same answer each time.
    for how in (wire.grpc, wire.json, wire.binary):
        name = f"token-{how.__name__}"
        made = how(
            "/statehouse.v1.AdminService/CreateToken",
            apb.CreateTokenRequest(name=name, role=apb.ROLE_READER, namespaces=["demo"]),
        )
        assert isinstance(made, apb.CreateTokenResponse) and made.secret, made
        revoked = how("/statehouse.v1.AdminService/RevokeToken", apb.RevokeTokenRequest(name=name))
        assert isinstance(revoked, apb.RevokeTokenResponse) and revoked.token.name == name
        other = how(
            E + "CreateExecution", epb.CreateExecutionRequest(namespace="demo", flow_id="gone")
        )
        gone = other.execution.id  # type: ignore[union-attr]
        how(E + "KillExecution", epb.KillExecutionRequest(execution_id=gone))
        deleted = how(E + "DeleteExecution", epb.DeleteExecutionRequest(execution_id=gone))
        assert isinstance(deleted, epb.DeleteExecutionResponse), deleted
    wire.all("/statehouse.v1.AdminService/ListTokens", apb.ListTokensRequest(include_inactive=True))


def test_errors_have_the_same_code_and_details_over_connect(wire: Wire) -> None:
    E = "/statehouse.v1.ExecutionService/"
    bad = wire.all(E + "CreateExecution", epb.CreateExecutionRequest())
    assert bad.code == code_pb2.INVALID_ARGUMENT and len(bad.details) == 2  # ErrorInfo, BadRequest
    missing = wire.all(E + "GetExecution", epb.GetExecutionRequest(execution_id="nope"))
    assert missing.code == code_pb2.NOT_FOUND
    ex = wire.all(
        E + "CreateExecution",
        epb.CreateExecutionRequest(namespace="d", flow_id="f", request_id="e-1"),
    ).execution.id
    illegal = wire.all(
        E + "TransitionExecution",
        epb.TransitionExecutionRequest(execution_id=ex, state=state_pb2.STATE_CREATED),
    )
    assert illegal.code == code_pb2.FAILED_PRECONDITION and len(illegal.details) == 2
    assert b"INVALID_TRANSITION" in illegal.details[0].value
    reused = wire.all(
        E + "CreateExecution",
        epb.CreateExecutionRequest(namespace="d", flow_id="other", request_id="e-1"),
    )
    assert reused.code == code_pb2.ALREADY_EXISTS
    stream_error = wire.all(
        "/statehouse.v1.EventService/FollowExecution",
        evpb.FollowExecutionRequest(execution_id="nope"),
    )
    assert stream_error.code == code_pb2.NOT_FOUND
    # Bytes that are not the request: INVALID_ARGUMENT (MALFORMED_REQUEST), like gRPC.
    status, _, data = wire.post(E + "GetExecution", b"{not json", "application/json")
    assert status == 400 and "MALFORMED_REQUEST" in data.decode()
    status, _, data = wire.post(E + "GetExecution", b"\xff\xff", "application/proto")
    assert status == 400 and "MALFORMED_REQUEST" in data.decode()
    status, _, _ = wire.post(E + "GetExecution", b"{}", "text/plain")
    assert status == 415
    # Connect-Timeout-Ms: a stream that outlives its deadline ends DEADLINE_EXCEEDED.
    status, _, data = wire.post(
        "/statehouse.v1.EventService/Subscribe",
        envelope(b'{"fromLatest": true}'),
        "application/connect+json",
        {"connect-timeout-ms": "300"},
    )
    assert frames(data)[1]["error"]["code"] == "deadline_exceeded"


def test_subscribe_over_connect_is_live_and_resumes_after_a_sequence(wire: Wire) -> None:
    E = "/statehouse.v1.ExecutionService/"
    first = wire.binary(
        E + "CreateExecution", epb.CreateExecutionRequest(namespace="s", flow_id="f")
    )
    info = MethodInfo(
        name="Subscribe",
        service_name="statehouse.v1.EventService",
        input=evpb.SubscribeRequest,
        output=evpb.SubscribeResponse,
        idempotency_level=IdempotencyLevel.UNKNOWN,
    )
    stream = wire.connect.execute_server_stream(
        request=evpb.SubscribeRequest(), method=info, timeout_ms=20_000
    )
    got = next(stream)
    assert got.event.execution_id == first.execution.id and got.event.sequence == 1  # type: ignore[union-attr]
    # Live: made after the stream opened, received on it.
    second = wire.json(
        E + "CreateExecution", epb.CreateExecutionRequest(namespace="s", flow_id="g")
    )
    live = next(stream)
    assert live.event.execution_id == second.execution.id and live.event.sequence == 2  # type: ignore[union-attr]
    stream.close()  # type: ignore[attr-defined]
    # Resumed after sequence 1, over JSON, with a heartbeat to end the read.
    _, _, data = wire.post(
        "/statehouse.v1.EventService/Subscribe",
        envelope(b'{"afterSequence": "1", "heartbeatInterval": "0.2s"}'),
        "application/connect+json",
        {"connect-timeout-ms": "1500"},
    )
    messages, end = frames(data)
    events = [json.loads(m)["event"] for m in messages if "event" in json.loads(m)]
    beats = [json.loads(m)["heartbeat"] for m in messages if "heartbeat" in json.loads(m)]
    assert [e["sequence"] for e in events] == ["2"]
    assert beats and beats[0]["sequence"] == "2"
    assert end["error"]["code"] == "deadline_exceeded"


def test_subscribe_over_connect_sends_batches_to_a_client_that_asks(wire: Wire) -> None:
    """The same messages over gRPC, Connect binary and Connect JSON: several events
    each in ``events``, in order, for a client that set max_events_per_message."""
    E = "/statehouse.v1.ExecutionService/"
    for i in range(120):
        wire.binary(
            E + "CreateExecution", epb.CreateExecutionRequest(namespace="s", flow_id=f"f{i}")
        )
    messages = wire.first(evpb.SubscribeRequest(max_events_per_message=50), 3)
    assert [[e.sequence for e in m.events] for m in messages] == [
        list(range(1, 51)),
        list(range(51, 101)),
        list(range(101, 121)),
    ]
    assert not any(m.HasField("event") for m in messages)


def test_a_connect_stream_says_where_it_starts_in_its_headers(wire: Wire) -> None:
    E = "/statehouse.v1.ExecutionService/"
    for i in range(3):
        wire.binary(
            E + "CreateExecution", epb.CreateExecutionRequest(namespace="s", flow_id=f"f{i}")
        )
    status, headers, _ = wire.post(
        "/statehouse.v1.EventService/Subscribe",
        envelope(b'{"fromLatest": true}'),
        "application/connect+json",
        {"connect-timeout-ms": "300"},
    )
    assert status == 200
    assert headers["statehouse-start-sequence"] == "3"


def test_max_events_per_message_out_of_range_over_connect_json(wire: Wire) -> None:
    """A negative count, or one beyond int32 (which the JSON parser refuses), is
    INVALID_ARGUMENT naming the field."""
    for body in (b'{"maxEventsPerMessage": -1}', b'{"maxEventsPerMessage": 3000000000}'):
        status, _, data = wire.post(
            "/statehouse.v1.EventService/Subscribe",
            envelope(body),
            "application/connect+json",
            {"connect-timeout-ms": "2000"},
        )
        assert status == 200
        _, end = frames(data)
        assert end["error"]["code"] == "invalid_argument", end
        assert end["error"]["message"].startswith("max_events_per_message: "), end


def test_authentication_and_permissions_over_connect(database_url: str, tmp_path: Path) -> None:
    # Both tokens before the server starts: it loads them together (issued while it
    # ran, the second could come a reload after the first).
    _, admin = issue_offline(database_url, name="root", role="admin", namespaces=["*"])
    _, reader = issue_offline(database_url, name="reader", role="reader", namespaces=["*"])
    proc = start(database_url, tmp_path, "--auth")
    try:
        w = Wire(proc, admin)
        E = "/statehouse.v1.ExecutionService/"
        eventually(
            lambda: (
                not isinstance(
                    w.grpc(E + "CountExecutions", epb.CountExecutionsRequest()), status_pb2.Status
                )
            ),
            "the tokens loaded",
            step=0.1,
        )
        made = w.all(
            E + "CreateExecution",
            epb.CreateExecutionRequest(namespace="a", flow_id="f", request_id="x"),
        )
        assert made.execution.history[0].actor == "root"
        w.token = reader
        denied = w.all(
            E + "CreateExecution", epb.CreateExecutionRequest(namespace="a", flow_id="f")
        )
        assert denied.code == code_pb2.PERMISSION_DENIED
        w.token = "sht_not_a_token"
        refused = w.all(E + "GetExecution", epb.GetExecutionRequest(execution_id="x"))
        assert refused.code == code_pb2.UNAUTHENTICATED
        w.token = None
        assert (
            w.all("/statehouse.v1.EventService/Subscribe", evpb.SubscribeRequest()).code
            == code_pb2.UNAUTHENTICATED
        )
        w.close()
    finally:
        proc.stop()


def test_the_http_port_serves_the_console_files(wire: Wire, tmp_path: Path) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", wire.http_port, timeout=CALL_DEADLINE)
    for path in ("/", "/executions/abc"):
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200 and response.getheader("content-type").startswith("text/html")
        assert b"<" in body
    conn.request("GET", "/../../etc/passwd")
    response = conn.getresponse()
    response.read()
    assert response.status == 404
    conn.close()


#: A request each RPC refuses, where the empty request is a valid one.
_REFUSED = {
    "ListExecutions": lambda: epb.ListExecutionsRequest(namespace="Not A Namespace"),
    "CountExecutions": lambda: epb.CountExecutionsRequest(namespace="Not A Namespace"),
    "Subscribe": lambda: evpb.SubscribeRequest(after_sequence=-1),
    # Items are refused one by one; the call as a whole only past its bound.
    "TransitionTaskRuns": lambda: epb.TransitionTaskRunsRequest(
        requests=[epb.TransitionTaskRunRequest()] * 1001
    ),
}


def test_every_rpc_refuses_bad_input_with_the_same_details_over_all_wires(wire: Wire) -> None:
    """For every RPC that takes input, a refused request gets the same code, message
    and details (ErrorInfo, BadRequest field violations) over gRPC, Connect JSON and
    Connect binary. GetServerInfo and ListTokens take nothing that can be wrong: their
    refusals are the credential ones (test_authentication_and_permissions_over_connect)."""
    checked = []
    for path, method in METHODS.items():
        request_type = message_factory.GetMessageClass(method.input_type)
        if method.name in ("GetServerInfo", "ListTokens"):
            continue
        request = _REFUSED.get(method.name, request_type)()
        status = wire.all(path, request)  # the same over the three wires, or it fails
        assert isinstance(status, status_pb2.Status), (path, status)
        assert status.code == code_pb2.INVALID_ARGUMENT, (path, status)
        assert status.details and status.details[0].type_url.endswith("google.rpc.ErrorInfo")
        checked.append(method.name)
    assert len(checked) == len(METHODS) - 2  # all but GetServerInfo and ListTokens
