"""A call whose deadline has passed before the server admits it is refused,
DEADLINE_EXCEEDED, and nothing is written: over Connect (``Connect-Timeout-Ms:
0``) and over gRPC, on each backend.

Issue 23: 20 CreateExecution calls answered 504 left 20 executions, and a
KillExecution answered 504 killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import NamedTuple

import grpc
import pytest
from google.protobuf.message import Message

from statehouse.server.app import Server, create_server
from statehouse.v1 import execution_service_pb2 as pb

from .conftest import Stubs, make_settings
from .helpers import CALL_DEADLINE

E = "/statehouse.v1.ExecutionService/"


@pytest.fixture
async def served(database_url: str) -> AsyncIterator[tuple[Server, int, Stubs]]:
    settings = replace(make_settings(database_url), http_address="127.0.0.1:0")
    server, port = await create_server(settings)
    await server.start()
    stubs = Stubs(f"127.0.0.1:{port}")
    try:
        yield server, port, stubs
    finally:
        await stubs.channel.close()
        await server.stop(0)


async def barrier(stubs: Stubs) -> None:
    """A write: once it has committed, so has any write queued before it (the
    store commits in arrival order), so a read then sees what a refused call did."""
    await stubs.executions.CreateExecution(
        pb.CreateExecutionRequest(namespace="barrier", flow_id="f"), timeout=CALL_DEADLINE
    )


def connect_call(port: int, method: str, body: dict[str, object], timeout_ms: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    with contextlib.closing(conn):
        conn.request(
            "POST",
            E + method,
            body=json.dumps(body).encode(),
            headers={"content-type": "application/json", "connect-timeout-ms": timeout_ms},
        )
        response = conn.getresponse()
        data = response.read()
        assert json.loads(data)["code"] == "deadline_exceeded", data
        return response.status


async def test_connect_calls_past_their_deadline_are_refused_undone(
    served: tuple[Server, int, Stubs],
) -> None:
    server, _, stubs = served
    port = server.http_port or 0
    for _ in range(20):
        body = {"namespace": "late", "flowId": "f"}
        assert await asyncio.to_thread(connect_call, port, "CreateExecution", body, "0") == 504
    await barrier(stubs)
    count = await stubs.executions.CountExecutions(
        pb.CountExecutionsRequest(namespace="late"), timeout=CALL_DEADLINE
    )
    assert count.total == 0

    created = await stubs.executions.CreateExecution(
        pb.CreateExecutionRequest(namespace="late", flow_id="f"), timeout=CALL_DEADLINE
    )
    execution_id = created.execution.id
    await stubs.executions.CreateTaskRun(
        pb.CreateTaskRunRequest(execution_id=execution_id, task_id="t"), timeout=CALL_DEADLINE
    )
    before = await stubs.executions.GetExecution(
        pb.GetExecutionRequest(execution_id=execution_id), timeout=CALL_DEADLINE
    )
    for method, body in (
        ("KillExecution", {"executionId": execution_id}),
        ("CreateTaskRun", {"executionId": execution_id, "taskId": "u"}),
        ("PauseExecution", {"executionId": execution_id}),
    ):
        assert await asyncio.to_thread(connect_call, port, method, body, "0") == 504
    await barrier(stubs)
    after = await stubs.executions.GetExecution(
        pb.GetExecutionRequest(execution_id=execution_id), timeout=CALL_DEADLINE
    )
    assert after == before


class _Aborted(Exception):
    def __init__(self, status: grpc.Status) -> None:
        super().__init__(status.details)  # type: ignore[attr-defined]
        self.code: grpc.StatusCode = status.code  # type: ignore[attr-defined]


class _LateContext:
    """The server side of a gRPC call whose deadline has passed as the server
    picks it up: what grpc.aio hands a handler when the deadline, which its
    core rounds up to the millisecond, is reached just then (``time_remaining()``
    0). A real client cannot aim at that instant, so the call is made here, on
    the real server's transport, store and database."""

    def time_remaining(self) -> float:
        return 0.0

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()

    def peer(self) -> str:
        return "ipv4:127.0.0.1:1"

    async def abort_with_status(self, status: grpc.Status) -> None:
        raise _Aborted(status)


class _CallDetails(NamedTuple):
    method: str
    invocation_metadata: tuple[tuple[str, str], ...]


async def late_grpc_call(server: Server, method: str, request: Message) -> grpc.StatusCode:
    """``method`` on ``server``'s gRPC transport, past its deadline: the status code."""
    details = _CallDetails(E + method, ())
    handler = next(
        h for h in (g.service(details) for g in server.transport.handlers) if h is not None
    )
    with pytest.raises(_Aborted) as aborted:
        await handler.unary_unary(request.SerializeToString(), _LateContext())
    return aborted.value.code


async def test_grpc_calls_past_their_deadline_are_refused_undone(
    served: tuple[Server, int, Stubs],
) -> None:
    server, _, stubs = served
    create = pb.CreateExecutionRequest(namespace="late", flow_id="f")
    for _ in range(20):
        assert (
            await late_grpc_call(server, "CreateExecution", create)
            == grpc.StatusCode.DEADLINE_EXCEEDED
        )
    await barrier(stubs)
    count = await stubs.executions.CountExecutions(
        pb.CountExecutionsRequest(namespace="late"), timeout=CALL_DEADLINE
    )
    assert count.total == 0

    created = await stubs.executions.CreateExecution(create, timeout=CALL_DEADLINE)
    execution_id = created.execution.id
    before = await stubs.executions.GetExecution(
        pb.GetExecutionRequest(execution_id=execution_id), timeout=CALL_DEADLINE
    )
    kill = pb.KillExecutionRequest(execution_id=execution_id)
    assert await late_grpc_call(server, "KillExecution", kill) == grpc.StatusCode.DEADLINE_EXCEEDED
    await barrier(stubs)
    after = await stubs.executions.GetExecution(
        pb.GetExecutionRequest(execution_id=execution_id), timeout=CALL_DEADLINE
    )
    assert after == before
