"""ExecutionService.GetTaskRun through a real server on each backend: the task
run with its attempts, its execution's revision and state as the changes left
them, unknown ids, one statement, and both SDK clients. A task run of another
namespace (with --auth) is tested in test_auth.py."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import duration_pb2

from statehouse.client import AsyncClient, Client, NotFoundError
from statehouse.v1 import (
    execution_pb2,
    execution_service_pb2 as pb,
    state_pb2 as st,
)

from .conftest import ManualClock, Running, Stubs
from .helpers import create, details, get, move, task_run

Code = grpc.StatusCode


async def get_task_run(stubs: Stubs, task_run_id: str) -> pb.GetTaskRunResponse:
    return await stubs.executions.GetTaskRun(pb.GetTaskRunRequest(task_run_id=task_run_id))


async def test_a_new_task_run_with_its_executions_revision_and_state(stubs: Stubs) -> None:
    ex = await create(stubs)
    created = await stubs.executions.CreateTaskRun(
        pb.CreateTaskRunRequest(execution_id=ex.id, task_id="extract", value="2026-01-01")
    )
    got = await get_task_run(stubs, created.task_run.id)
    assert got.task_run == created.task_run
    assert got.task_run.value == "2026-01-01"
    assert list(got.task_run.attempts) == []
    assert got.execution_revision == created.execution_revision
    assert got.execution_state == st.STATE_CREATED
    # The same task run as GetExecution's.
    assert [got.task_run] == list((await get(stubs, ex.id)).task_runs)


async def test_revision_state_and_attempts_follow_each_transition(
    stubs: Stubs, manual_clock: ManualClock
) -> None:
    ex = await create(stubs)
    policy = execution_pb2.RetryPolicy(
        constant=execution_pb2.RetryPolicy.Constant(
            interval=duration_pb2.Duration(nanos=1_000_000)
        ),
        max_attempts=3,
    )
    created = await stubs.executions.CreateTaskRun(
        pb.CreateTaskRunRequest(execution_id=ex.id, task_id="load", retry_policy=policy)
    )
    tr = created.task_run
    other = await task_run(stubs, ex.id, "other")

    def same(got: pb.GetTaskRunResponse, moved: pb.TransitionTaskRunResponse) -> None:
        assert got.task_run == moved.task_run
        assert (got.execution_revision, got.execution_state) == (
            moved.execution_revision,
            moved.execution_state,
        )

    running = await move(stubs, tr.id, st.STATE_RUNNING, worker_id="w-1")
    got = await get_task_run(stubs, tr.id)
    same(got, running)
    assert got.execution_state == st.STATE_RUNNING
    assert [(a.number, a.state, a.worker_id) for a in got.task_run.attempts] == [
        (1, st.STATE_RUNNING, "w-1")
    ]

    failed = await move(stubs, tr.id, st.STATE_FAILED, reason="boom")
    assert failed.retry.scheduled
    got = await get_task_run(stubs, tr.id)
    same(got, failed)
    assert got.task_run.state == st.STATE_RESTARTED
    assert got.task_run.retry_policy == policy
    assert got.task_run.HasField("next_attempt_time")
    assert [(a.number, a.state) for a in got.task_run.attempts] == [(1, st.STATE_FAILED)]

    manual_clock.advance(1)  # past the retry interval
    again = await move(stubs, tr.id, st.STATE_RUNNING, worker_id="w-2")
    done = await move(stubs, tr.id, st.STATE_SUCCESS)
    got = await get_task_run(stubs, tr.id)
    same(got, done)
    assert again.execution_revision < done.execution_revision
    assert [(a.number, a.state, a.worker_id) for a in got.task_run.attempts] == [
        (1, st.STATE_FAILED, "w-1"),
        (2, st.STATE_SUCCESS, "w-2"),
    ]

    # A change of the execution, or of another of its task runs, moves the
    # execution's revision and state as read with this task run.
    await move(stubs, other.id, st.STATE_RUNNING)
    paused = await stubs.executions.PauseExecution(pb.PauseExecutionRequest(execution_id=ex.id))
    got = await get_task_run(stubs, tr.id)
    assert got.execution_state == st.STATE_PAUSED
    assert got.execution_revision == paused.execution.revision
    assert got.task_run == done.task_run
    assert [got.task_run] == [t for t in paused.execution.task_runs if t.id == tr.id]


async def test_unknown_missing_and_malformed_ids(stubs: Stubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await get_task_run(stubs, "no-such-task-run")
    assert info.value.code() == Code.NOT_FOUND
    assert details(info.value)[0] == "TASK_RUN_NOT_FOUND"
    assert info.value.details() == "task run 'no-such-task-run' not found"
    # An execution's id is not a task run's.
    ex = await create(stubs)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await get_task_run(stubs, ex.id)
    assert info.value.code() == Code.NOT_FOUND

    for bad in ("", "not valid!"):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await get_task_run(stubs, bad)
        assert info.value.code() == Code.INVALID_ARGUMENT
        assert details(info.value)[2] == ["task_run_id"]


async def test_a_deleted_executions_task_run_is_not_found(stubs: Stubs) -> None:
    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    await move(stubs, tr.id, st.STATE_RUNNING)
    await move(stubs, tr.id, st.STATE_SUCCESS)
    await stubs.executions.CompleteExecution(pb.CompleteExecutionRequest(execution_id=ex.id))
    assert (await get_task_run(stubs, tr.id)).execution_state == st.STATE_SUCCESS
    await stubs.executions.DeleteExecution(pb.DeleteExecutionRequest(execution_id=ex.id))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await get_task_run(stubs, tr.id)
    assert info.value.code() == Code.NOT_FOUND
    assert details(info.value)[0] == "TASK_RUN_NOT_FOUND"


async def test_the_read_is_one_statement_without_a_lock(
    running_server: Running, stubs: Stubs
) -> None:
    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    await move(stubs, tr.id, st.STATE_RUNNING)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engines = running_server.server.store.engines()
    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        got = await get_task_run(stubs, tr.id)
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", seen)
    assert len(got.task_run.attempts) == 1
    ours = [s for s in statements if "task_runs" in s]
    assert len(ours) == 1, statements
    assert "JOIN" in ours[0].upper() and "FOR UPDATE" not in ours[0].upper()


async def test_both_sdk_clients_get_the_whole_response(server_target: str, stubs: Stubs) -> None:
    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    moved = await move(stubs, tr.id, st.STATE_RUNNING, worker_id="w")

    def blocking() -> pb.GetTaskRunResponse:
        with Client.connect(server_target) as client:
            return client.get_task_run(tr.id)

    got = await asyncio.to_thread(blocking)
    assert isinstance(got, pb.GetTaskRunResponse)
    assert got.task_run == moved.task_run
    assert got.execution_revision == moved.execution_revision
    assert got.execution_state == st.STATE_RUNNING

    async with AsyncClient.connect(server_target) as client:
        got = await client.get_task_run(tr.id)
        with pytest.raises(NotFoundError):
            await client.get_task_run("no-such-task-run")
    assert got.task_run.attempts[0].worker_id == "w"
