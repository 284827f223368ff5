"""Small helpers for the integration tests."""

from __future__ import annotations

import asyncio

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from statehouse.v1 import (
    event_pb2,
    event_service_pb2 as epb,
    execution_pb2,
    execution_service_pb2 as pb,
    state_pb2 as st,
)

from .conftest import Stubs

#: A test's own deadline for a call whose time is not what it tests. Generous:
#: on a loaded machine (the whole suite beside other runs, load average near 40
#: on 2 cores) a token's creation on PostgreSQL has taken over 10 s.
CALL_DEADLINE = 60.0


def details(error: grpc.aio.AioRpcError | grpc.RpcError) -> tuple[str, dict[str, str], list[str]]:
    """(ErrorInfo reason, ErrorInfo metadata, BadRequest fields) of a failed call."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "the error carries no google.rpc.Status"
    reason, metadata, fields = "", {}, []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            assert info.domain == "statehouse"
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields = [v.field for v in bad.field_violations]
    return reason, metadata, fields


async def create(stubs: Stubs, **kwargs: object) -> execution_pb2.Execution:
    kwargs.setdefault("namespace", "company.team")
    kwargs.setdefault("flow_id", "etl")
    response = await stubs.executions.CreateExecution(pb.CreateExecutionRequest(**kwargs))  # type: ignore[arg-type]
    return response.execution


async def task_run(
    stubs: Stubs, execution_id: str, task_id: str = "extract"
) -> execution_pb2.TaskRun:
    response = await stubs.executions.CreateTaskRun(
        pb.CreateTaskRunRequest(execution_id=execution_id, task_id=task_id)
    )
    return response.task_run


async def move(
    stubs: Stubs, task_run_id: str, state: int, **kwargs: object
) -> pb.TransitionTaskRunResponse:
    return await stubs.executions.TransitionTaskRun(
        pb.TransitionTaskRunRequest(task_run_id=task_run_id, state=state, **kwargs)  # type: ignore[arg-type]
    )


async def get(stubs: Stubs, execution_id: str) -> execution_pb2.Execution:
    response = await stubs.executions.GetExecution(
        pb.GetExecutionRequest(execution_id=execution_id)
    )
    return response.execution


async def recorded_events(stubs: Stubs, execution_id: str) -> list[tuple[str, str, int]]:
    """Every stored event of an execution as (task id or "execution", state, attempt).

    Reads the log until the first heartbeat, which comes once the stream is idle.
    """
    call = stubs.events.Subscribe(
        epb.SubscribeRequest(
            filter=event_pb2.EventFilter(execution_ids=[execution_id]),
            heartbeat_interval=duration_pb2.Duration(nanos=150_000_000),
        )
    )
    found: list[tuple[str, str, int]] = []
    try:
        while True:
            response = await asyncio.wait_for(call.read(), 20)
            if response.HasField("heartbeat"):
                return found
            e = response.event
            found.append((e.task_id or "execution", st.State.Name(e.state)[6:], e.attempt))
    finally:
        call.cancel()


async def wait_for_state(
    stubs: Stubs, execution_id: str, state: int, deadline: float = 20
) -> execution_pb2.Execution:
    """Follow the execution until it is in ``state`` (or fail after ``deadline`` seconds)."""

    async def follow() -> execution_pb2.Execution:
        async for snapshot in stubs.events.FollowExecution(
            epb.FollowExecutionRequest(execution_id=execution_id)
        ):
            if snapshot.execution.state == state:
                return snapshot.execution
        raise AssertionError(f"execution ended without reaching {st.State.Name(state)}")

    return await asyncio.wait_for(follow(), deadline)
