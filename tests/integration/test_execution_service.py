"""ExecutionService through a real server: behaviour, bad input, conflicts."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import duration_pb2, struct_pb2

from statehouse.v1 import (
    execution_service_pb2 as pb,
    state_pb2 as st,
)

from .conftest import Stubs
from .helpers import create, details, get, move, task_run

Code = grpc.StatusCode


async def test_create_then_get_round_trips(stubs: Stubs) -> None:
    inputs = struct_pb2.Struct()
    inputs.update({"date": "2026-11-25", "n": 3, "nested": {"ok": True, "list": [1, "é"]}})
    created = await create(stubs, flow_revision=4, labels={"team": "data"}, inputs=inputs)
    assert created.state == st.STATE_CREATED
    assert created.revision == 1
    assert [h.state for h in created.history] == [st.STATE_CREATED]
    fetched = await get(stubs, created.id)
    assert fetched == created
    assert dict(fetched.labels) == {"team": "data"}
    assert fetched.inputs == inputs


async def test_create_is_idempotent_by_request_id(stubs: Stubs) -> None:
    first = await create(stubs, request_id="req-1", labels={"a": "1"})
    again = await create(stubs, request_id="req-1", labels={"a": "1"})
    assert again == first
    listed = await stubs.executions.ListExecutions(pb.ListExecutionsRequest())
    assert [e.id for e in listed.executions] == [first.id]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await create(stubs, request_id="req-1", labels={"a": "2"})
    assert info.value.code() == Code.ALREADY_EXISTS
    assert details(info.value)[0] == "REQUEST_ID_REUSED"


async def test_bad_create_names_every_bad_field_and_writes_nothing(stubs: Stubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await create(stubs, namespace="Not Valid!", flow_id="", labels={"bad key": "v"})
    assert info.value.code() == Code.INVALID_ARGUMENT
    reason, _, fields = details(info.value)
    assert reason == "INVALID_ARGUMENT"
    assert fields == ["namespace", "flow_id", "labels['bad key']"]
    listed = await stubs.executions.ListExecutions(pb.ListExecutionsRequest())
    assert list(listed.executions) == []


async def test_unknown_ids_are_not_found(stubs: Stubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await get(stubs, "no-such-execution")
    assert info.value.code() == Code.NOT_FOUND
    assert details(info.value)[0] == "EXECUTION_NOT_FOUND"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await move(stubs, "no-such-task-run", st.STATE_RUNNING)
    assert info.value.code() == Code.NOT_FOUND
    assert details(info.value)[0] == "TASK_RUN_NOT_FOUND"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await task_run(stubs, "no-such-execution")
    assert info.value.code() == Code.NOT_FOUND


async def test_empty_ids_and_unknown_states_are_invalid(stubs: Stubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await get(stubs, "")
    assert info.value.code() == Code.INVALID_ARGUMENT
    assert details(info.value)[2] == ["execution_id"]
    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    for state in (st.STATE_UNSPECIFIED, 42):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await move(stubs, tr.id, state)
        assert info.value.code() == Code.INVALID_ARGUMENT
        assert details(info.value)[2] == ["state"]


async def test_task_run_lifecycle_opens_attempts_and_starts_the_execution(stubs: Stubs) -> None:
    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    assert tr.state == st.STATE_CREATED and list(tr.attempts) == []
    started = await move(stubs, tr.id, st.STATE_RUNNING, worker_id="w-1")
    assert started.execution_state == st.STATE_RUNNING
    assert [(a.number, a.state, a.worker_id) for a in started.task_run.attempts] == [
        (1, st.STATE_RUNNING, "w-1")
    ]
    outputs = struct_pb2.Struct()
    outputs.update({"rows": 10})
    done = await move(stubs, tr.id, st.STATE_SUCCESS, outputs=outputs)
    assert done.task_run.state == st.STATE_SUCCESS
    assert done.task_run.attempts[0].state == st.STATE_SUCCESS
    assert done.task_run.outputs == outputs
    full = await get(stubs, ex.id)
    assert full.state == st.STATE_RUNNING
    assert full.revision == done.execution_revision == 4
    assert [t.state for t in full.task_runs] == [st.STATE_SUCCESS]
    times = [h.time.ToMicroseconds() for h in full.task_runs[0].history]
    assert times == sorted(times)


async def test_illegal_transition_is_failed_precondition_with_states(stubs: Stubs) -> None:
    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await move(stubs, tr.id, st.STATE_SUCCESS)
    assert info.value.code() == Code.FAILED_PRECONDITION
    reason, metadata, _ = details(info.value)
    assert reason == "INVALID_TRANSITION"
    assert metadata == {"current_state": "CREATED", "requested_state": "SUCCESS"}
    assert (await get(stubs, ex.id)).revision == 2


async def test_expected_revision_conflict_is_aborted(stubs: Stubs) -> None:
    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await move(stubs, tr.id, st.STATE_RUNNING, expected_revision=1)
    assert info.value.code() == Code.ABORTED
    reason, metadata, _ = details(info.value)
    assert reason == "REVISION_MISMATCH"
    assert metadata == {"expected_revision": "1", "current_revision": "2"}
    ok = await move(stubs, tr.id, st.STATE_RUNNING, expected_revision=2)
    assert ok.execution_revision == 3


async def test_execution_cannot_end_with_active_task_runs(stubs: Stubs) -> None:
    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    await move(stubs, tr.id, st.STATE_RUNNING)
    request = pb.TransitionExecutionRequest(execution_id=ex.id, state=st.STATE_SUCCESS)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stubs.executions.TransitionExecution(request)
    assert info.value.code() == Code.FAILED_PRECONDITION
    assert details(info.value)[0] == "TASK_RUNS_ACTIVE"
    await move(stubs, tr.id, st.STATE_SUCCESS)
    done = await stubs.executions.TransitionExecution(request)
    assert done.execution.state == st.STATE_SUCCESS


async def test_no_task_run_starts_while_paused(stubs: Stubs) -> None:
    ex = await create(stubs)
    first, second = await task_run(stubs, ex.id), await task_run(stubs, ex.id, "load")
    await move(stubs, first.id, st.STATE_RUNNING)
    await stubs.executions.TransitionExecution(
        pb.TransitionExecutionRequest(execution_id=ex.id, state=st.STATE_PAUSED)
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await move(stubs, second.id, st.STATE_RUNNING)
    assert details(info.value)[0] == "EXECUTION_PAUSED"
    finished = await move(stubs, first.id, st.STATE_SUCCESS)
    assert finished.task_run.state == st.STATE_SUCCESS


async def test_oversized_outputs_are_rejected_and_nothing_is_written(stubs: Stubs) -> None:
    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    await move(stubs, tr.id, st.STATE_RUNNING)
    outputs = struct_pb2.Struct()
    outputs.update({"blob": "x" * (1 << 20)})
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await move(stubs, tr.id, st.STATE_SUCCESS, outputs=outputs)
    assert info.value.code() == Code.INVALID_ARGUMENT
    reason, metadata, fields = details(info.value)
    assert reason == "PAYLOAD_TOO_LARGE"
    assert metadata["limit_bytes"] == str(1 << 20)
    assert fields == ["outputs"]
    after = await get(stubs, ex.id)
    assert after.task_runs[0].state == st.STATE_RUNNING
    assert not after.task_runs[0].HasField("outputs")


async def test_outputs_with_a_non_terminal_state_are_rejected(stubs: Stubs) -> None:
    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    outputs = struct_pb2.Struct()
    outputs.update({"a": 1})
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await move(stubs, tr.id, st.STATE_RUNNING, outputs=outputs)
    assert info.value.code() == Code.INVALID_ARGUMENT
    assert details(info.value)[2] == ["outputs"]


async def test_transition_is_idempotent_by_request_id(stubs: Stubs) -> None:
    ex = await create(stubs)
    tr = await task_run(stubs, ex.id)
    first = await move(stubs, tr.id, st.STATE_RUNNING, request_id="start-1")
    again = await move(stubs, tr.id, st.STATE_RUNNING, request_id="start-1")
    assert again == first
    assert len((await get(stubs, ex.id)).task_runs[0].attempts) == 1


async def test_list_filters_and_pages(stubs: Stubs) -> None:
    made = []
    for i in range(7):
        flow = "a" if i % 2 == 0 else "b"
        made.append(await create(stubs, flow_id=flow, labels={"i": str(i), "k": "v"}))
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await stubs.executions.ListExecutions(
            pb.ListExecutionsRequest(flow_id="a", labels={"k": "v"}, page_size=2, page_token=token)
        )
        seen += [e.id for e in page.executions]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    expected = [e.id for e in reversed(made) if e.flow_id == "a"]
    assert seen == expected and pages == 2
    by_label = await stubs.executions.ListExecutions(pb.ListExecutionsRequest(labels={"i": "3"}))
    assert [e.id for e in by_label.executions] == [made[3].id]
    by_state = await stubs.executions.ListExecutions(
        pb.ListExecutionsRequest(states=[st.STATE_RUNNING])
    )
    assert list(by_state.executions) == []


async def test_page_token_must_match_filters(stubs: Stubs) -> None:
    for _ in range(3):
        await create(stubs)
    page = await stubs.executions.ListExecutions(pb.ListExecutionsRequest(page_size=1))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stubs.executions.ListExecutions(
            pb.ListExecutionsRequest(page_size=1, flow_id="other", page_token=page.next_page_token)
        )
    assert details(info.value)[0] == "INVALID_PAGE_TOKEN"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stubs.executions.ListExecutions(pb.ListExecutionsRequest(page_token="garbage"))
    assert info.value.code() == Code.INVALID_ARGUMENT


async def test_delete_only_terminal_executions(stubs: Stubs) -> None:
    ex = await create(stubs)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stubs.executions.DeleteExecution(pb.DeleteExecutionRequest(execution_id=ex.id))
    assert details(info.value)[0] == "EXECUTION_ACTIVE"
    await stubs.executions.TransitionExecution(
        pb.TransitionExecutionRequest(execution_id=ex.id, state=st.STATE_FAILED)
    )
    await stubs.executions.DeleteExecution(pb.DeleteExecutionRequest(execution_id=ex.id))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await get(stubs, ex.id)
    assert info.value.code() == Code.NOT_FOUND


async def test_unknown_enum_values_are_invalid_on_their_field(stubs: Stubs) -> None:
    """Over the wire: an enum value the contract does not define (proto3 keeps it)
    is refused with INVALID_ARGUMENT and a field violation, never taken as a default."""
    ex = await create(stubs)
    calls = [
        (stubs.executions.ListExecutions, pb.ListExecutionsRequest(view=7), "view"),  # type: ignore[arg-type]
        (stubs.executions.ListExecutions, pb.ListExecutionsRequest(view=-1), "view"),  # type: ignore[arg-type]
        (
            stubs.executions.GetExecution,
            pb.GetExecutionRequest(execution_id=ex.id, view=3),  # type: ignore[arg-type]
            "view",
        ),
        (stubs.executions.ListExecutions, pb.ListExecutionsRequest(states=[2, 12]), "states[1]"),  # type: ignore[list-item]
        (
            stubs.executions.PauseExecution,
            pb.PauseExecutionRequest(
                execution_id=ex.id,
                on_timeout=9,  # type: ignore[arg-type]
                timeout=duration_pb2.Duration(seconds=60),
            ),
            "on_timeout",
        ),
        (
            stubs.executions.CompleteExecution,
            pb.CompleteExecutionRequest(execution_id=ex.id, state=40),  # type: ignore[arg-type]
            "state",
        ),
    ]
    for method, request, field in calls:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await method(request)
        assert info.value.code() == Code.INVALID_ARGUMENT, request
        reason, _, fields = details(info.value)
        assert (reason, fields) == ("INVALID_ARGUMENT", [field]), request
    # A batch's item: that item's own error, naming its field.
    tr = await task_run(stubs, ex.id)
    batch = await stubs.executions.TransitionTaskRuns(
        pb.TransitionTaskRunsRequest(
            requests=[
                pb.TransitionTaskRunRequest(task_run_id=tr.id, state=99),  # type: ignore[arg-type]
                pb.TransitionTaskRunRequest(task_run_id=tr.id, state=st.STATE_RUNNING),
            ]
        )
    )
    bad, good = batch.results
    assert bad.error.code == Code.INVALID_ARGUMENT.value[0]
    assert "state: 99 is not a known value" in bad.error.message
    assert good.response.task_run.state == st.STATE_RUNNING
    # Nothing else was changed by the refused calls.
    assert (await get(stubs, ex.id)).state == st.STATE_RUNNING
