"""Authentication and authorization against a real server on each backend:
tokens, certificate grants and JWTs; the role x RPC matrix over every RPC;
namespace isolation of reads, writes, lists, metrics and streams; revocation
across replicas; the actor of each kind of change; request ids per caller."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import grpc
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf import duration_pb2, timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from statehouse.server.app import SERVICES, ConfigError, Server, create_server
from statehouse.server.security.credentials import issue_offline, list_offline, revoke_offline
from statehouse.v1 import (
    admin_service_pb2 as apb,
    admin_service_pb2_grpc,
    event_pb2,
    event_service_pb2 as epb,
    event_service_pb2_grpc,
    execution_pb2,
    execution_service_pb2 as pb,
    execution_service_pb2_grpc,
    metric_pb2,
    metric_service_pb2 as mpb,
    metric_service_pb2_grpc,
    state_pb2 as st,
)
from tests.certs import Authority

from .conftest import ManualClock, make_settings
from .helpers import CALL_DEADLINE, details

C = grpc.StatusCode


class Caller:
    """Raw stubs on one channel, sending one credential (or none) on every call."""

    def __init__(self, channel: grpc.aio.Channel, token: str | None) -> None:
        self.channel = channel
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.executions = execution_service_pb2_grpc.ExecutionServiceStub(channel)
        self.events = event_service_pb2_grpc.EventServiceStub(channel)
        self.metrics = metric_service_pb2_grpc.MetricServiceStub(channel)
        self.admin = admin_service_pb2_grpc.AdminServiceStub(channel)

    def stub(self, service: str) -> Any:
        return {
            "ExecutionService": self.executions,
            "EventService": self.events,
            "MetricService": self.metrics,
            "AdminService": self.admin,
        }[service]

    async def call(self, service: str, method: str, request: Any) -> Any:
        return await getattr(self.stub(service), method)(
            request, metadata=self.metadata, timeout=CALL_DEADLINE
        )

    async def first(self, service: str, method: str, request: Any) -> Any:
        """The first message of a server stream (then cancel it)."""
        call = getattr(self.stub(service), method)(
            request, metadata=self.metadata, timeout=CALL_DEADLINE
        )
        try:
            async for item in call:
                return item
        finally:
            call.cancel()
        return None

    async def code(self, service: str, method: str, request: Any, streaming: bool) -> C:
        try:
            if streaming:
                await self.first(service, method, request)
            else:
                await self.call(service, method, request)
        except grpc.aio.AioRpcError as error:
            return error.code()
        return C.OK


@dataclass
class Secured:
    server: Server
    target: str
    database_url: str
    channel: grpc.aio.Channel
    admin_token: str

    def caller(self, token: str | None) -> Caller:
        return Caller(self.channel, token)

    async def issue(
        self,
        name: str,
        role: int,
        namespaces: list[str],
        *,
        ttl: float | None = None,
        subject: str = "",
    ) -> str:
        request = apb.CreateTokenRequest(
            name=name, role=role, namespaces=namespaces, certificate_subject=subject
        )
        if ttl is not None:
            request.ttl.FromTimedelta(dt.timedelta(seconds=ttl))
        response = await self.caller(self.admin_token).call("AdminService", "CreateToken", request)
        return str(response.secret)


async def start_secured(database_url: str, **overrides: Any) -> tuple[Server, int]:
    settings = replace(make_settings(database_url), auth=True, **overrides)
    server, port = await create_server(settings)
    await server.start()
    return server, port


@pytest.fixture
async def secured(database_url: str) -> AsyncIterator[Secured]:
    # The first admin is made on the database itself, before the server runs.
    _, admin = issue_offline(database_url, name="root", role="admin", namespaces=["*"])
    server, port = await start_secured(database_url)
    target = f"127.0.0.1:{port}"
    channel = grpc.aio.insecure_channel(target)
    try:
        yield Secured(server, target, database_url, channel, admin)
    finally:
        await channel.close()
        await server.stop(0)


# -- the world the matrix runs in ------------------------------------------------------


@dataclass
class World:
    execution_id: str
    task_run_id: str
    spare_token: str


async def make_world(s: Secured, admin: Caller, n: int) -> World:
    """An execution in team-a.app with a running task run (attempt 1)."""
    created = await admin.call(
        "ExecutionService",
        "CreateExecution",
        pb.CreateExecutionRequest(namespace="team-a.app", flow_id="f"),
    )
    execution_id = created.execution.id
    run = await admin.call(
        "ExecutionService",
        "CreateTaskRun",
        pb.CreateTaskRunRequest(execution_id=execution_id, task_id="t"),
    )
    await admin.call(
        "ExecutionService",
        "TransitionTaskRun",
        pb.TransitionTaskRunRequest(task_run_id=run.task_run.id, state=st.STATE_RUNNING),
    )
    spare = f"spare-{n}"
    await s.issue(spare, apb.ROLE_READER, ["team-a.app"])
    return World(execution_id, run.task_run.id, spare)


def _time(seconds: float) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromSeconds(int(seconds))
    return ts


#: Every RPC: (service, method, role needed, how it reaches its namespace, request).
#: "ns": it names a namespace (PERMISSION_DENIED outside the caller's);
#: "id": it names an execution, task run or token (NOT_FOUND outside the caller's).
R, W, A = "reader", "writer", "admin"
MATRIX: list[tuple[str, str, str, str, Callable[[World, int], Any]]] = [
    (
        "ExecutionService",
        "CreateExecution",
        W,
        "ns",
        lambda w, n: pb.CreateExecutionRequest(namespace="team-a.app", flow_id="g"),
    ),
    (
        "ExecutionService",
        "GetExecution",
        R,
        "id",
        lambda w, n: pb.GetExecutionRequest(execution_id=w.execution_id),
    ),
    (
        "ExecutionService",
        "ListExecutions",
        R,
        "ns",
        lambda w, n: pb.ListExecutionsRequest(namespace="team-a.app"),
    ),
    (
        "ExecutionService",
        "CountExecutions",
        R,
        "ns",
        lambda w, n: pb.CountExecutionsRequest(namespace="team-a.app"),
    ),
    (
        "ExecutionService",
        "DeleteExecution",
        A,
        "id",
        lambda w, n: pb.DeleteExecutionRequest(execution_id=w.execution_id),
    ),
    (
        "ExecutionService",
        "CreateTaskRun",
        W,
        "id",
        lambda w, n: pb.CreateTaskRunRequest(execution_id=w.execution_id, task_id="u"),
    ),
    (
        "ExecutionService",
        "GetTaskRun",
        R,
        "id",
        lambda w, n: pb.GetTaskRunRequest(task_run_id=w.task_run_id),
    ),
    (
        "ExecutionService",
        "TransitionExecution",
        W,
        "id",
        lambda w, n: pb.TransitionExecutionRequest(
            execution_id=w.execution_id, state=st.STATE_PAUSED
        ),
    ),
    (
        "ExecutionService",
        "TransitionTaskRun",
        W,
        "id",
        lambda w, n: pb.TransitionTaskRunRequest(task_run_id=w.task_run_id, state=st.STATE_SUCCESS),
    ),
    # Each item is authorized alone: outside the caller's namespaces it is that
    # item's NOT_FOUND, while the call itself succeeds.
    (
        "ExecutionService",
        "TransitionTaskRuns",
        W,
        "",
        lambda w, n: pb.TransitionTaskRunsRequest(
            requests=[
                pb.TransitionTaskRunRequest(task_run_id=w.task_run_id, state=st.STATE_SUCCESS)
            ]
        ),
    ),
    (
        "ExecutionService",
        "ClaimTaskRuns",
        W,
        "ns",
        lambda w, n: pb.ClaimTaskRunsRequest(
            filter=pb.TaskRunFilter(namespace="team-a.app"), worker_id="w"
        ),
    ),
    # As TransitionTaskRuns: each item is authorized alone.
    (
        "ExecutionService",
        "Heartbeat",
        W,
        "",
        lambda w, n: pb.HeartbeatRequest(
            attempts=[pb.HeartbeatItem(task_run_id=w.task_run_id, attempt=1)]
        ),
    ),
    (
        "ExecutionService",
        "PauseExecution",
        W,
        "id",
        lambda w, n: pb.PauseExecutionRequest(execution_id=w.execution_id),
    ),
    (
        "ExecutionService",
        "ResumeExecution",
        W,
        "id",
        lambda w, n: pb.ResumeExecutionRequest(execution_id=w.execution_id),
    ),
    (
        "ExecutionService",
        "KillExecution",
        W,
        "id",
        lambda w, n: pb.KillExecutionRequest(execution_id=w.execution_id),
    ),
    (
        "ExecutionService",
        "RestartExecution",
        W,
        "id",
        lambda w, n: pb.RestartExecutionRequest(execution_id=w.execution_id),
    ),
    (
        "ExecutionService",
        "CompleteExecution",
        W,
        "id",
        lambda w, n: pb.CompleteExecutionRequest(execution_id=w.execution_id),
    ),
    (
        "EventService",
        "Subscribe",
        R,
        "ns",
        lambda w, n: epb.SubscribeRequest(
            filter=event_pb2.EventFilter(namespace="team-a.app"),
            heartbeat_interval=duration_pb2.Duration(nanos=100_000_000),
        ),
    ),
    (
        "EventService",
        "FollowExecution",
        R,
        "id",
        lambda w, n: epb.FollowExecutionRequest(execution_id=w.execution_id),
    ),
    (
        "MetricService",
        "RecordMetrics",
        W,
        "id",
        lambda w, n: mpb.RecordMetricsRequest(
            task_run_id=w.task_run_id, metrics=[metric_pb2.MetricEntry(name="m", counter=1)]
        ),
    ),
    (
        "MetricService",
        "ListMetrics",
        R,
        "id",
        lambda w, n: mpb.ListMetricsRequest(execution_id=w.execution_id),
    ),
    (
        "MetricService",
        "AggregateMetrics",
        R,
        "ns",
        lambda w, n: mpb.AggregateMetricsRequest(
            namespace="team-a.app",
            name="m",
            type=metric_pb2.METRIC_TYPE_COUNTER,
            start_time=_time(time.time() - 3600),
            end_time=_time(time.time() + 60),
        ),
    ),
    (
        "AdminService",
        "CreateToken",
        A,
        "ns",
        lambda w, n: apb.CreateTokenRequest(
            name=f"made-{n}", role=apb.ROLE_READER, namespaces=["team-a.app"]
        ),
    ),
    ("AdminService", "ListTokens", A, "", lambda w, n: apb.ListTokensRequest()),
    (
        "AdminService",
        "RevokeToken",
        A,
        "id",
        lambda w, n: apb.RevokeTokenRequest(name=w.spare_token),
    ),
    # The server's own description: any valid credential, whatever its namespaces.
    ("AdminService", "GetServerInfo", R, "", lambda w, n: apb.GetServerInfoRequest()),
]

RANK = {R: 1, W: 2, A: 3}


def expected(caller: str, needed: str, reach: str) -> str:
    """What a caller gets: "ok" (any answer but an access error) or a code name."""
    if caller in ("none", "garbage"):
        return "UNAUTHENTICATED"
    role, inside = caller.split("@")
    if RANK[role] < RANK[needed]:
        return "PERMISSION_DENIED"
    if inside == "team-a":
        return "ok"
    return {"ns": "PERMISSION_DENIED", "id": "NOT_FOUND", "": "ok"}[reach]


def test_the_matrix_covers_every_rpc() -> None:
    served = {f"{s.name}/{m.name}" for s in SERVICES for m in s.methods}
    assert {f"{service}/{method}" for service, method, *_ in MATRIX} == served


async def test_every_rpc_answers_each_role_and_namespace_as_documented(secured: Secured) -> None:
    s = secured
    tokens = {
        "none": None,
        "garbage": "sht_000000000000_" + "x" * 43,
        "reader@team-a": await s.issue("reader-a", apb.ROLE_READER, ["team-a.*"]),
        "writer@team-a": await s.issue("writer-a", apb.ROLE_WRITER, ["team-a.*"]),
        "admin@team-a": await s.issue("admin-a", apb.ROLE_ADMIN, ["team-a.*"]),
        "reader@team-b": await s.issue("reader-b", apb.ROLE_READER, ["team-b"]),
        "writer@team-b": await s.issue("writer-b", apb.ROLE_WRITER, ["team-b"]),
        "admin@team-b": await s.issue("admin-b", apb.ROLE_ADMIN, ["team-b.*"]),
    }
    admin = s.caller(s.admin_token)
    streaming = {f"{s.name}/{m.name}" for s in SERVICES for m in s.methods if m.server_streaming}
    wrong: list[str] = []
    n = 0
    for who, token in tokens.items():
        caller = s.caller(token)
        for service, method, needed, reach, build in MATRIX:
            n += 1
            world = await make_world(s, admin, n)
            code = await caller.code(
                service, method, build(world, n), f"{service}/{method}" in streaming
            )
            want = expected(who, needed, reach)
            got = (
                "ok"
                if code not in (C.UNAUTHENTICATED, C.PERMISSION_DENIED, C.NOT_FOUND)
                else (code.name)
            )
            if got != want:
                wrong.append(f"{who} {method}: {code.name}, expected {want}")
    assert wrong == []


async def test_access_errors_carry_their_reasons_and_say_nothing_of_existence(
    secured: Secured,
) -> None:
    s = secured
    admin = s.caller(s.admin_token)
    world = await make_world(s, admin, 0)
    reader = s.caller(await s.issue("r", apb.ROLE_READER, ["team-a.*"]))
    outsider = s.caller(await s.issue("o", apb.ROLE_WRITER, ["team-b"]))

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await s.caller(None).call(
            "ExecutionService",
            "GetExecution",
            pb.GetExecutionRequest(execution_id=world.execution_id),
        )
    assert info.value.code() == C.UNAUTHENTICATED
    assert details(info.value)[0] == "UNAUTHENTICATED"
    assert info.value.details() == "valid credentials are required"

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await reader.call(
            "ExecutionService",
            "KillExecution",
            pb.KillExecutionRequest(execution_id=world.execution_id),
        )
    assert info.value.code() == C.PERMISSION_DENIED
    reason, metadata, _ = details(info.value)
    assert (reason, metadata) == ("PERMISSION_DENIED", {"role_needed": "writer"})

    # An existing execution of another namespace and one that never existed: the
    # same answer, but for the id.
    answers = []
    for execution_id in (world.execution_id, "no-such-execution"):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await outsider.call(
                "ExecutionService",
                "GetExecution",
                pb.GetExecutionRequest(execution_id=execution_id),
            )
        answers.append(
            (
                info.value.code(),
                details(info.value)[0],
                info.value.details().replace(execution_id, "ID"),
            )
        )
    assert (
        answers[0] == answers[1] == (C.NOT_FOUND, "EXECUTION_NOT_FOUND", "execution 'ID' not found")
    )
    for task_run_id in (world.task_run_id, "no-such-task-run"):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await outsider.call(
                "ExecutionService",
                "TransitionTaskRun",
                pb.TransitionTaskRunRequest(task_run_id=task_run_id, state=st.STATE_SUCCESS),
            )
        assert details(info.value)[0] == "TASK_RUN_NOT_FOUND"
    # Nothing was changed by the refused calls.
    got = await admin.call(
        "ExecutionService", "GetExecution", pb.GetExecutionRequest(execution_id=world.execution_id)
    )
    assert got.execution.state == st.STATE_RUNNING


async def test_a_task_run_of_another_namespace_is_not_found_as_an_unknown_one(
    secured: Secured,
) -> None:
    s = secured
    admin = s.caller(s.admin_token)
    world = await make_world(s, admin, 0)  # team-a.app, its task run RUNNING (attempt 1)
    reader = s.caller(await s.issue("r", apb.ROLE_READER, ["team-a.*"]))
    got = await reader.call(
        "ExecutionService", "GetTaskRun", pb.GetTaskRunRequest(task_run_id=world.task_run_id)
    )
    assert got.task_run.id == world.task_run_id
    assert [a.number for a in got.task_run.attempts] == [1]
    assert got.execution_state == st.STATE_RUNNING
    # Another namespace's task run answers as one that never existed, for any role.
    for outsider in (
        s.caller(await s.issue("o", apb.ROLE_READER, ["team-b"])),
        s.caller(await s.issue("oa", apb.ROLE_ADMIN, ["team-ab.*"])),
    ):
        answers = []
        for task_run_id in (world.task_run_id, "no-such-task-run"):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await outsider.call(
                    "ExecutionService",
                    "GetTaskRun",
                    pb.GetTaskRunRequest(task_run_id=task_run_id),
                )
            answers.append(
                (
                    info.value.code(),
                    details(info.value)[0],
                    info.value.details().replace(task_run_id, "ID"),
                )
            )
        assert (
            answers[0]
            == answers[1]
            == (C.NOT_FOUND, "TASK_RUN_NOT_FOUND", "task run 'ID' not found")
        )


async def test_a_batch_item_outside_the_callers_namespaces_fails_alone(secured: Secured) -> None:
    s = secured
    admin = s.caller(s.admin_token)
    world = await make_world(s, admin, 0)  # team-a.app, its task run RUNNING
    other = await admin.call(
        "ExecutionService",
        "CreateExecution",
        pb.CreateExecutionRequest(namespace="team-b", flow_id="f"),
    )
    theirs = await admin.call(
        "ExecutionService",
        "CreateTaskRun",
        pb.CreateTaskRunRequest(execution_id=other.execution.id, task_id="t"),
    )
    writer = s.caller(await s.issue("w", apb.ROLE_WRITER, ["team-a.*"]))
    response = await writer.call(
        "ExecutionService",
        "TransitionTaskRuns",
        pb.TransitionTaskRunsRequest(
            requests=[
                pb.TransitionTaskRunRequest(task_run_id=theirs.task_run.id, state=st.STATE_RUNNING),
                pb.TransitionTaskRunRequest(task_run_id=world.task_run_id, state=st.STATE_SUCCESS),
                pb.TransitionTaskRunRequest(task_run_id="no-such-run", state=st.STATE_RUNNING),
            ]
        ),
    )
    outside, mine, missing = response.results
    assert mine.response.task_run.state == st.STATE_SUCCESS
    # Another namespace's task run is answered as one that does not exist.
    for failed, task_run_id in ((outside, theirs.task_run.id), (missing, "no-such-run")):
        assert failed.error.code == C.NOT_FOUND.value[0]
        assert failed.error.message == f"task run {task_run_id!r} not found"
    got = await admin.call(
        "ExecutionService", "GetExecution", pb.GetExecutionRequest(execution_id=other.execution.id)
    )
    assert got.execution.task_runs[0].state == st.STATE_CREATED

    # The call needs the writer role as a whole.
    reader = s.caller(await s.issue("r", apb.ROLE_READER, ["team-a.*"]))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await reader.call(
            "ExecutionService",
            "TransitionTaskRuns",
            pb.TransitionTaskRunsRequest(
                requests=[
                    pb.TransitionTaskRunRequest(
                        task_run_id=world.task_run_id, state=st.STATE_FAILED
                    )
                ]
            ),
        )
    assert info.value.code() == C.PERMISSION_DENIED
    assert details(info.value)[1] == {"role_needed": "writer"}


async def test_claims_and_heartbeats_reach_only_the_callers_namespaces(secured: Secured) -> None:
    """A claim without a namespace takes task runs of the caller's namespaces only;
    a heartbeat item for another namespace's attempt is that item's NOT_FOUND."""
    s = secured
    admin = s.caller(s.admin_token)
    made = {}
    for namespace in ("team-b", "team-a.app"):
        created = await admin.call(
            "ExecutionService",
            "CreateExecution",
            pb.CreateExecutionRequest(namespace=namespace, flow_id="f"),
        )
        run = await admin.call(
            "ExecutionService",
            "CreateTaskRun",
            pb.CreateTaskRunRequest(execution_id=created.execution.id, task_id="t"),
        )
        made[namespace] = run.task_run.id
    writer = s.caller(await s.issue("w", apb.ROLE_WRITER, ["team-a.*"]))
    got = await writer.call(
        "ExecutionService",
        "ClaimTaskRuns",
        pb.ClaimTaskRunsRequest(
            worker_id="w", max_task_runs=10, lease_duration=duration_pb2.Duration(seconds=60)
        ),
    )
    assert [c.task_run.id for c in got.task_runs] == [made["team-a.app"]]
    assert got.task_runs[0].task_run.attempts[0].history[-1].actor == "w"
    theirs = await admin.call(
        "ExecutionService",
        "ClaimTaskRuns",
        pb.ClaimTaskRunsRequest(worker_id="x", lease_duration=duration_pb2.Duration(seconds=60)),
    )
    assert [c.task_run.id for c in theirs.task_runs] == [made["team-b"]]
    beat = await writer.call(
        "ExecutionService",
        "Heartbeat",
        pb.HeartbeatRequest(
            attempts=[
                pb.HeartbeatItem(task_run_id=made["team-b"], attempt=1),
                pb.HeartbeatItem(task_run_id=made["team-a.app"], attempt=1),
            ]
        ),
    )
    outside, mine = beat.results
    assert outside.error.code == C.NOT_FOUND.value[0]
    assert outside.error.message == f"task run {made['team-b']!r} not found"
    assert not mine.HasField("error") and mine.HasField("lease_expire_time")


async def test_lists_and_metrics_return_only_the_callers_namespaces(secured: Secured) -> None:
    s = secured
    admin = s.caller(s.admin_token)
    for namespace in ("team-a", "team-a.sub", "team-ab", "team-b", "team_a"):
        for _ in range(3):
            await admin.call(
                "ExecutionService",
                "CreateExecution",
                pb.CreateExecutionRequest(namespace=namespace, flow_id="f"),
            )
    a = s.caller(await s.issue("a", apb.ROLE_READER, ["team-a.*"]))
    b = s.caller(await s.issue("b", apb.ROLE_READER, ["team-b"]))

    async def namespaces(caller: Caller, **kw: Any) -> list[str]:
        seen, token = [], ""
        while True:
            page = await caller.call(
                "ExecutionService",
                "ListExecutions",
                pb.ListExecutionsRequest(page_size=2, page_token=token, **kw),
            )
            seen += [e.namespace for e in page.executions]
            token = page.next_page_token
            if not token:
                return sorted(seen)

    assert await namespaces(a) == ["team-a"] * 3 + ["team-a.sub"] * 3
    assert await namespaces(b) == ["team-b"] * 3
    assert len(await namespaces(admin)) == 15
    # A page token is bound to its caller's scope.
    page = await a.call("ExecutionService", "ListExecutions", pb.ListExecutionsRequest(page_size=1))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await b.call(
            "ExecutionService",
            "ListExecutions",
            pb.ListExecutionsRequest(page_size=1, page_token=page.next_page_token),
        )
    assert details(info.value)[0] == "INVALID_PAGE_TOKEN"

    # Metrics of team-a: invisible to team-b, by execution and by aggregate.
    world = await make_world(s, admin, 0)
    await admin.call(
        "MetricService",
        "RecordMetrics",
        mpb.RecordMetricsRequest(
            task_run_id=world.task_run_id, metrics=[metric_pb2.MetricEntry(name="m", counter=2)]
        ),
    )
    listed = await a.call(
        "MetricService", "ListMetrics", mpb.ListMetricsRequest(execution_id=world.execution_id)
    )
    assert [m.counter for m in listed.metrics] == [2]
    for request in (
        mpb.ListMetricsRequest(execution_id=world.execution_id),
        mpb.ListMetricsRequest(task_run_id=world.task_run_id),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await b.call("MetricService", "ListMetrics", request)
        assert info.value.code() == C.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await b.call(
            "MetricService",
            "AggregateMetrics",
            mpb.AggregateMetricsRequest(
                namespace="team-a.app",
                name="m",
                type=metric_pb2.METRIC_TYPE_COUNTER,
                start_time=_time(time.time() - 60),
                end_time=_time(time.time() + 60),
            ),
        )
    assert info.value.code() == C.PERMISSION_DENIED


async def test_counts_hold_only_the_callers_namespaces(secured: Secured) -> None:
    s = secured
    admin = s.caller(s.admin_token)
    for namespace, n in (("team-a", 1), ("team-a.sub", 2), ("team-ab", 3), ("team-b", 4)):
        for _ in range(n):
            await admin.call(
                "ExecutionService",
                "CreateExecution",
                pb.CreateExecutionRequest(namespace=namespace, flow_id="f"),
            )
    a = s.caller(await s.issue("a", apb.ROLE_READER, ["team-a.*"]))
    b = s.caller(await s.issue("b", apb.ROLE_READER, ["team-b"]))

    async def total(caller: Caller, **kw: Any) -> int:
        counted = await caller.call(
            "ExecutionService", "CountExecutions", pb.CountExecutionsRequest(**kw)
        )
        created = {c.state: c.count for c in counted.counts}[st.STATE_CREATED]
        assert created == counted.total
        return int(counted.total)

    # No namespace: every namespace the caller may read, and only those.
    assert await total(a) == 3
    assert await total(b) == 4
    assert await total(admin) == 10
    assert await total(a, namespace="team-a.sub") == 2
    assert await total(a, flow_id="f") == 3
    # A namespace outside the caller's: refused, as ListExecutions refuses it.
    for caller, namespace in ((a, "team-ab"), (a, "team-b"), (b, "team-a")):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await caller.call(
                "ExecutionService",
                "CountExecutions",
                pb.CountExecutionsRequest(namespace=namespace),
            )
        assert info.value.code() == C.PERMISSION_DENIED
        assert details(info.value)[0] == "PERMISSION_DENIED"
    # Any valid credential may ask for the server's description; none, no.
    info_a = await a.call("AdminService", "GetServerInfo", apb.GetServerInfoRequest())
    assert info_a.head_sequence == 10
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await s.caller(None).call("AdminService", "GetServerInfo", apb.GetServerInfoRequest())
    assert info.value.code() == C.UNAUTHENTICATED


async def test_a_subscriber_sees_nothing_of_another_namespace_in_a_mixed_stream(
    secured: Secured,
) -> None:
    s = secured
    admin = s.caller(s.admin_token)
    b = s.caller(await s.issue("b", apb.ROLE_READER, ["team-b"]))
    start = await admin.first(
        "EventService",
        "Subscribe",
        epb.SubscribeRequest(
            from_latest=True, heartbeat_interval=duration_pb2.Duration(nanos=100_000_000)
        ),
    )
    after = start.heartbeat.sequence
    # 1,000 events: creations and moves of executions in team-a and team-b, mixed.
    mine: set[str] = set()
    team_a: list[str] = []
    events = 0
    i = 0
    while events < 1000:
        namespace = "team-b" if i % 3 == 0 else "team-a.app"
        created = await admin.call(
            "ExecutionService",
            "CreateExecution",
            pb.CreateExecutionRequest(namespace=namespace, flow_id="f"),
        )
        run = await admin.call(
            "ExecutionService",
            "CreateTaskRun",
            pb.CreateTaskRunRequest(execution_id=created.execution.id, task_id="t"),
        )
        await admin.call(
            "ExecutionService",
            "TransitionTaskRun",
            pb.TransitionTaskRunRequest(task_run_id=run.task_run.id, state=st.STATE_RUNNING),
        )
        # create, task run created, task run RUNNING, execution RUNNING
        events += 4
        if namespace == "team-b":
            mine.add(created.execution.id)
        else:
            team_a.append(created.execution.id)
        i += 1
    last = await admin.first(
        "EventService",
        "Subscribe",
        epb.SubscribeRequest(
            from_latest=True, heartbeat_interval=duration_pb2.Duration(nanos=100_000_000)
        ),
    )
    head = last.heartbeat.sequence
    assert head - after >= 1000

    async def read(request: epb.SubscribeRequest) -> tuple[list[Any], int]:
        seen: list[Any] = []
        cursor = request.after_sequence
        call = b.events.Subscribe(request, metadata=b.metadata, timeout=30)
        try:
            async for item in call:
                if item.HasField("event"):
                    seen.append(item.event)
                    cursor = item.event.sequence
                else:
                    cursor = max(cursor, item.heartbeat.sequence)
                if cursor >= head:
                    break
        finally:
            call.cancel()
        return seen, cursor

    beat = duration_pb2.Duration(nanos=100_000_000)
    seen, cursor = await read(epb.SubscribeRequest(after_sequence=after, heartbeat_interval=beat))
    assert {e.namespace for e in seen} == {"team-b"}
    assert {e.execution_id for e in seen} == mine
    assert len(seen) == 4 * len(mine)
    assert cursor >= head  # heartbeats carried the cursor over team-a's events
    # Naming team-a's executions finds nothing; naming team-a is refused.
    seen, cursor = await read(
        epb.SubscribeRequest(
            after_sequence=after,
            heartbeat_interval=beat,
            filter=event_pb2.EventFilter(execution_ids=team_a[:50]),
        )
    )
    assert seen == [] and cursor >= head
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await b.first(
            "EventService",
            "Subscribe",
            epb.SubscribeRequest(filter=event_pb2.EventFilter(namespace="team-a.app")),
        )
    assert info.value.code() == C.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await b.first(
            "EventService", "FollowExecution", epb.FollowExecutionRequest(execution_id=team_a[0])
        )
    assert info.value.code() == C.NOT_FOUND


async def test_request_ids_belong_to_their_caller(secured: Secured) -> None:
    s = secured
    one = s.caller(await s.issue("one", apb.ROLE_WRITER, ["team-a.*"]))
    two = s.caller(await s.issue("two", apb.ROLE_WRITER, ["team-a.*"]))
    # two squats the key first, with other content: one's create still works.
    await two.call(
        "ExecutionService",
        "CreateExecution",
        pb.CreateExecutionRequest(namespace="team-a.x", flow_id="squat", request_id="key-1"),
    )
    mine = await one.call(
        "ExecutionService",
        "CreateExecution",
        pb.CreateExecutionRequest(namespace="team-a.x", flow_id="mine", request_id="key-1"),
    )
    assert mine.execution.flow_id == "mine"
    # one's repeat gets its own stored response; two replaying one's exact
    # request gets two's own (its earlier call with other content: refused).
    again = await one.call(
        "ExecutionService",
        "CreateExecution",
        pb.CreateExecutionRequest(namespace="team-a.x", flow_id="mine", request_id="key-1"),
    )
    assert again.execution.id == mine.execution.id
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await two.call(
            "ExecutionService",
            "CreateExecution",
            pb.CreateExecutionRequest(namespace="team-a.x", flow_id="mine", request_id="key-1"),
        )
    assert details(info.value)[0] == "REQUEST_ID_REUSED"
    fresh = await two.call(
        "ExecutionService",
        "CreateExecution",
        pb.CreateExecutionRequest(namespace="team-a.x", flow_id="mine", request_id="key-2"),
    )
    replay = await one.call(
        "ExecutionService",
        "CreateExecution",
        pb.CreateExecutionRequest(namespace="team-a.x", flow_id="mine", request_id="key-2"),
    )
    assert replay.execution.id != fresh.execution.id


async def test_every_change_names_its_actor(secured: Secured, manual_clock: ManualClock) -> None:
    s = secured
    worker = s.caller(await s.issue("worker", apb.ROLE_WRITER, ["team-a.*"]))
    ops = s.caller(await s.issue("ops", apb.ROLE_WRITER, ["team-a.*"]))
    created = await worker.call(
        "ExecutionService",
        "CreateExecution",
        pb.CreateExecutionRequest(namespace="team-a.x", flow_id="f"),
    )
    execution_id = created.execution.id
    policy = execution_pb2.RetryPolicy(
        constant=execution_pb2.RetryPolicy.Constant(interval=duration_pb2.Duration(seconds=60)),
        max_attempts=3,
    )
    run = await worker.call(
        "ExecutionService",
        "CreateTaskRun",
        pb.CreateTaskRunRequest(execution_id=execution_id, task_id="t", retry_policy=policy),
    )
    other = await worker.call(
        "ExecutionService",
        "CreateTaskRun",
        pb.CreateTaskRunRequest(execution_id=execution_id, task_id="u"),
    )
    for state in (st.STATE_RUNNING, st.STATE_FAILED):  # the failure schedules a retry
        await worker.call(
            "ExecutionService",
            "TransitionTaskRun",
            pb.TransitionTaskRunRequest(task_run_id=run.task_run.id, state=state),
        )
    # A pause with a delay: the timer resumes it.
    await ops.call(
        "ExecutionService",
        "PauseExecution",
        pb.PauseExecutionRequest(
            execution_id=execution_id, delay=duration_pb2.Duration(nanos=200_000_000)
        ),
    )
    manual_clock.advance(1)  # past the pause's delay: its timer is due
    await s.server.scheduler.fire_due()
    await ops.call(
        "ExecutionService", "KillExecution", pb.KillExecutionRequest(execution_id=execution_id)
    )
    got = await ops.call(
        "ExecutionService", "GetExecution", pb.GetExecutionRequest(execution_id=execution_id)
    )
    execution = got.execution
    history = [(st.State.Name(h.state), h.actor) for h in execution.history]
    assert history == [
        ("STATE_CREATED", "worker"),
        ("STATE_RUNNING", "system"),  # started by its first task run
        ("STATE_PAUSED", "ops"),
        ("STATE_RUNNING", "system"),  # the pause's delay elapsed
        ("STATE_KILLING", "ops"),
        ("STATE_KILLED", "system"),  # no task run left active
    ]
    runs = {
        t.task_id: [(st.State.Name(h.state), h.actor) for h in t.history]
        for t in execution.task_runs
    }
    assert runs["t"] == [
        ("STATE_CREATED", "worker"),
        ("STATE_RUNNING", "worker"),
        ("STATE_FAILED", "worker"),
        ("STATE_RESTARTED", "system"),  # the retry
        ("STATE_KILLED", "system"),  # the kill's cascade
    ]
    assert runs["u"] == [("STATE_CREATED", "worker"), ("STATE_KILLED", "system")]
    # The events carry the same actors, in the same order.
    admin = s.caller(s.admin_token)
    actors = []
    call = admin.events.Subscribe(
        epb.SubscribeRequest(
            filter=event_pb2.EventFilter(execution_ids=[execution_id]),
            heartbeat_interval=duration_pb2.Duration(nanos=200_000_000),
        ),
        metadata=admin.metadata,
        timeout=CALL_DEADLINE,
    )
    async for item in call:
        if item.HasField("heartbeat"):
            break
        if not item.event.task_run_id:
            actors.append((st.State.Name(item.event.state), item.event.actor))
    call.cancel()
    assert actors == history
    assert other.task_run.history[0].actor == "worker"


async def test_revocation_and_expiry_take_effect_on_every_replica(
    secured: Secured, manual_clock: ManualClock
) -> None:
    s = secured
    # The other replica reloads only when told (its interval is an hour): what
    # it learns, it learns at its reload, whatever the machine's load.
    second, port = await start_secured(s.database_url, auth_refresh_interval=3600.0)
    reload = second.authenticator
    assert reload is not None
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            token = await s.issue("ci", apb.ROLE_WRITER, ["team-a.*"])
            short = await s.issue("short", apb.ROLE_READER, ["team-a.*"], ttl=1)
            request = pb.ListExecutionsRequest(namespace="team-a.x")
            there = Caller(channel, token)
            assert await there.code("ExecutionService", "ListExecutions", request, False) == (
                C.UNAUTHENTICATED
            )
            await reload.refresh()
            assert await there.code("ExecutionService", "ListExecutions", request, False) == C.OK
            await s.caller(s.admin_token).call(
                "AdminService", "RevokeToken", apb.RevokeTokenRequest(name="ci")
            )
            here = await s.caller(token).code("ExecutionService", "ListExecutions", request, False)
            assert here == C.UNAUTHENTICATED  # at once on the replica that revoked it
            assert await there.code("ExecutionService", "ListExecutions", request, False) == C.OK
            await reload.refresh()
            assert await there.code("ExecutionService", "ListExecutions", request, False) == (
                C.UNAUTHENTICATED
            )
            # The expired token: refused on both once its second is up (no reload needed).
            manual_clock.advance(1.1)  # more than its ttl since it was issued
            for caller in (s.caller(short), Caller(channel, short)):
                code = await caller.code("ExecutionService", "ListExecutions", request, False)
                assert code == C.UNAUTHENTICATED
    finally:
        await second.stop(0)
    listed = {t["name"]: t for t in list_offline(s.database_url, include_inactive=True)}
    assert listed["ci"]["revoke_time_us"] is not None
    assert "ci" not in {t["name"] for t in list_offline(s.database_url)}


async def test_admins_manage_only_credentials_within_their_namespaces(secured: Secured) -> None:
    s = secured
    acme = s.caller(await s.issue("acme-admin", apb.ROLE_ADMIN, ["acme.*"]))
    made = await acme.call(
        "AdminService",
        "CreateToken",
        apb.CreateTokenRequest(name="billing", role=apb.ROLE_WRITER, namespaces=["acme.billing"]),
    )
    assert made.secret.startswith("sht_") and made.token.created_by == "acme-admin"
    for namespaces in (["globex"], ["*"], ["acme.*", "x.*"]):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await acme.call(
                "AdminService",
                "CreateToken",
                apb.CreateTokenRequest(name="wide", role=apb.ROLE_READER, namespaces=namespaces),
            )
        assert info.value.code() == C.PERMISSION_DENIED
    listed = await acme.call("AdminService", "ListTokens", apb.ListTokensRequest())
    assert sorted(t.name for t in listed.tokens) == ["acme-admin", "billing"]
    assert all(not hasattr(t, "secret") for t in listed.tokens)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await acme.call("AdminService", "RevokeToken", apb.RevokeTokenRequest(name="root"))
    assert info.value.code() == C.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await acme.call(
            "AdminService",
            "CreateToken",
            apb.CreateTokenRequest(name="billing", role=apb.ROLE_READER, namespaces=["acme.x"]),
        )
    assert details(info.value)[0] == "CREDENTIAL_EXISTS"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await acme.call(
            "AdminService",
            "CreateToken",
            apb.CreateTokenRequest(name="bad name!", role=apb.ROLE_READER, namespaces=["acme.BAD"]),
        )
    assert details(info.value)[2] == ["name", "namespaces[0]"]


async def test_failed_authentications_are_counted_per_peer_and_never_logged(
    secured: Secured, caplog: pytest.LogCaptureFixture
) -> None:
    s = secured
    token = await s.issue("victim", apb.ROLE_READER, ["team-a.*"])
    secret = token.split("_", 2)[2]  # sht_<key id>_<secret>
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    caplog.set_level(logging.WARNING, logger="statehouse.auth")
    for bad in (wrong, "sht_garbage", "Basic abc", wrong):
        caller = s.caller(None)
        caller.metadata = (("authorization", bad if bad.startswith("Basic") else f"Bearer {bad}"),)
        code = await caller.code(
            "ExecutionService", "ListExecutions", pb.ListExecutionsRequest(), False
        )
        assert code == C.UNAUTHENTICATED
    assert s.server.authenticator is not None
    assert s.server.authenticator.failures["ipv4:127.0.0.1"] == 4
    text = caplog.text
    assert "authentication failed from ipv4:127.0.0.1" in text
    assert secret not in text and secret[:-4] not in text


async def test_reflection_needs_a_token_and_health_stays_open(secured: Secured) -> None:
    s = secured
    health = health_pb2_grpc.HealthStub(s.channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(s.channel)

    async def services(metadata: tuple[tuple[str, str], ...]) -> list[str]:
        call = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
            metadata=metadata,
            timeout=5,
        )
        async for response in call:
            return [x.name for x in response.list_services_response.service]
        return []

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await services(())
    assert info.value.code() == C.UNAUTHENTICATED

    async def refused(size: int) -> C:
        # A new connection, several requests: the refusal must not overtake the
        # client's sends (which the client would report as INTERNAL).
        async with grpc.aio.insecure_channel(s.target) as channel:
            call = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(host="h" * size)] * 3),
                timeout=CALL_DEADLINE,
            )
            try:
                async for _ in call:
                    pass
            except grpc.aio.AioRpcError as error:
                return error.code()
            return C.OK

    codes = await asyncio.gather(*(refused(size) for size in (0, 10_000, 100_000) * 10))
    assert set(codes) == {C.UNAUTHENTICATED}
    listed = await services((("authorization", f"Bearer {s.admin_token}"),))
    assert "statehouse.v1.AdminService" in listed


async def test_failed_logins_through_reflection_count_under_the_clients_address(
    secured: Secured,
) -> None:
    """Issue 23: they were counted under the peer ``reflection``."""
    s = secured
    stub = reflection_pb2_grpc.ServerReflectionStub(s.channel)
    for metadata in ((), (("authorization", "Bearer sht_garbage"),)):
        call = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
            metadata=metadata,
            timeout=CALL_DEADLINE,
        )
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for _ in call:
                pass
        assert info.value.code() == C.UNAUTHENTICATED
    assert s.server.authenticator is not None
    assert dict(s.server.authenticator.failures) == {"ipv4:127.0.0.1": 2}


async def test_certificate_subjects_are_identities_under_mtls(
    database_url: str, tmp_path: Path
) -> None:
    ca = Authority(tmp_path, "ca")
    clients = Authority(tmp_path, "clients")
    pair = ca.issue("server", server=True)
    issue_offline(
        database_url,
        name="worker-cert",
        role="writer",
        namespaces=["team-a.*"],
        certificate_subject="CN=worker-1,O=statehouse tests",
    )
    server, port = await start_secured(
        database_url, tls_cert=pair.cert, tls_key=pair.key, tls_client_ca=clients.path
    )
    try:

        async def channel_for(name: str) -> grpc.aio.Channel:
            me = clients.issue(name, server=False)
            credentials = grpc.ssl_channel_credentials(
                root_certificates=ca.pem,
                private_key=me.key.read_bytes(),
                certificate_chain=me.cert.read_bytes(),
            )
            return grpc.aio.secure_channel(
                f"127.0.0.1:{port}",
                credentials,
                options=[("grpc.ssl_target_name_override", "localhost")],
            )

        granted = Caller(await channel_for("worker-1"), None)
        created = await granted.call(
            "ExecutionService",
            "CreateExecution",
            pb.CreateExecutionRequest(namespace="team-a.x", flow_id="f"),
        )
        assert created.execution.history[0].actor == "CN=worker-1,O=statehouse tests"
        code = await granted.code(
            "ExecutionService",
            "CreateExecution",
            pb.CreateExecutionRequest(namespace="team-b", flow_id="f"),
            False,
        )
        assert code == C.PERMISSION_DENIED
        stranger = Caller(await channel_for("worker-2"), None)
        code = await stranger.code(
            "ExecutionService", "ListExecutions", pb.ListExecutionsRequest(), False
        )
        assert code == C.UNAUTHENTICATED
        # Plaintext to the TLS port fails.
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as plain:
            code = await Caller(plain, None).code(
                "ExecutionService", "ListExecutions", pb.ListExecutionsRequest(), False
            )
            assert code == C.UNAVAILABLE
        await granted.channel.close()
        await stranger.channel.close()
    finally:
        await server.stop(0)


async def test_jwts_from_an_identity_provider(database_url: str, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = tmp_path / "idp.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    server, port = await start_secured(
        database_url,
        jwt_public_key=public,
        jwt_issuer="https://idp.test",
        jwt_audience="statehouse",
    )

    def token(**claims: Any) -> str:
        body = {
            "sub": "alice",
            "iss": "https://idp.test",
            "aud": "statehouse",
            "exp": int(time.time()) + 60,
            "statehouse_role": "writer",
            "statehouse_namespaces": ["team-a.*"],
            **claims,
        }
        return pyjwt.encode(body, key, algorithm="ES256")

    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            alice = Caller(channel, token())
            created = await alice.call(
                "ExecutionService",
                "CreateExecution",
                pb.CreateExecutionRequest(namespace="team-a.x", flow_id="f"),
            )
            assert created.execution.history[0].actor == "alice"
            other_key = ec.generate_private_key(ec.SECP256R1())
            refused = [
                token(exp=int(time.time()) - 10),
                token(aud="someone-else"),
                token(iss="https://evil.test"),
                token(statehouse_role="owner"),
                pyjwt.encode(
                    {
                        "sub": "mallory",
                        "exp": int(time.time()) + 60,
                        "iss": "https://idp.test",
                        "aud": "statehouse",
                        "statehouse_role": "admin",
                        "statehouse_namespaces": ["*"],
                    },
                    other_key,
                    algorithm="ES256",
                ),
            ]
            for bad in refused:
                code = await Caller(channel, bad).code(
                    "ExecutionService", "ListExecutions", pb.ListExecutionsRequest(), False
                )
                assert code == C.UNAUTHENTICATED
            code = await Caller(channel, token(statehouse_role="reader")).code(
                "ExecutionService",
                "CreateExecution",
                pb.CreateExecutionRequest(namespace="team-a.x", flow_id="f"),
                False,
            )
            assert code == C.PERMISSION_DENIED
    finally:
        await server.stop(0)


async def test_an_exposed_port_without_protection_is_refused(database_url: str) -> None:
    settings = replace(make_settings(database_url), address="0.0.0.0:0")
    with pytest.raises(ConfigError, match=r"refusing to serve 0\.0\.0\.0:0 without TLS"):
        await create_server(settings)
    with pytest.raises(ConfigError, match="without TLS and authentication"):
        await create_server(replace(settings, auth=True))
    server, _ = await create_server(replace(settings, insecure=True))
    await server.stop(0)


def test_offline_credentials_bootstrap_list_and_revoke(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    described, secret = issue_offline(url, name="first", role="admin", namespaces=["*"])
    assert secret.startswith("sht_") and described["role"] == "admin"
    assert [t["name"] for t in list_offline(url)] == ["first"]
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT secret_hash, key_id FROM credentials")).one()
    engine.dispose()
    assert secret not in stored[0] and stored[1] in secret  # only the hash is kept
    assert revoke_offline(url, "first")["revoke_time_us"] is not None
    with pytest.raises(LookupError):
        revoke_offline(url, "nobody")
    from statehouse.server.orchestration import AlreadyExists, InvalidArgument

    with pytest.raises(AlreadyExists):
        issue_offline(url, name="first", role="admin", namespaces=["*"])
    with pytest.raises(InvalidArgument):
        issue_offline(url, name="x", role="root", namespaces=["Not A Namespace"])


async def test_with_authentication_off_the_actor_is_the_certificate_or_anonymous(
    database_url: str, tmp_path: Path
) -> None:
    ca = Authority(tmp_path, "ca")
    pair = ca.issue("server", server=True)
    server, port = await create_server(
        replace(
            make_settings(database_url),
            tls_cert=pair.cert,
            tls_key=pair.key,
            tls_client_ca=ca.path,
        )
    )
    await server.start()
    plain, plain_port = await create_server(make_settings(database_url))
    await plain.start()
    try:
        me = ca.issue("batch-runner", server=False)
        credentials = grpc.ssl_channel_credentials(
            root_certificates=ca.pem,
            private_key=me.key.read_bytes(),
            certificate_chain=me.cert.read_bytes(),
        )
        request = pb.CreateExecutionRequest(namespace="any", flow_id="f")
        async with grpc.aio.secure_channel(
            f"127.0.0.1:{port}",
            credentials,
            options=[("grpc.ssl_target_name_override", "localhost")],
        ) as channel:
            created = await Caller(channel, None).call(
                "ExecutionService", "CreateExecution", request
            )
        assert created.execution.history[0].actor == "CN=batch-runner,O=statehouse tests"
        async with grpc.aio.insecure_channel(f"127.0.0.1:{plain_port}") as channel:
            created = await Caller(channel, None).call(
                "ExecutionService", "CreateExecution", request
            )
        assert created.execution.history[0].actor == "anonymous"
    finally:
        await server.stop(0)
        await plain.stop(0)


async def test_an_admin_of_one_namespace_cannot_grant_its_subtree(secured: Secured) -> None:
    """`acme` is one namespace; `acme.*` is acme and everything under it: an admin
    holding the first may not create a token for the second (nor for a child)."""
    s = secured
    exact = s.caller(await s.issue("acme-only", apb.ROLE_ADMIN, ["acme"]))
    made = await exact.call(
        "AdminService",
        "CreateToken",
        apb.CreateTokenRequest(name="same", role=apb.ROLE_READER, namespaces=["acme"]),
    )
    assert made.secret.startswith("sht_")
    for namespaces in (["acme.*"], ["acme.prod"], ["acme.prod.*"]):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await exact.call(
                "AdminService",
                "CreateToken",
                apb.CreateTokenRequest(name="wider", role=apb.ROLE_READER, namespaces=namespaces),
            )
        assert info.value.code() == C.PERMISSION_DENIED, namespaces
