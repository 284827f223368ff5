"""TransitionTaskRuns, the batch RPC, on each backend with raw stubs: items
succeed or fail independently and in order, each with the error the single
call would get; idempotency and expected revisions per item; the item bound."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf import struct_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from statehouse.server import limits
from statehouse.v1 import execution_pb2, execution_service_pb2 as pb, state_pb2 as st

from .conftest import Stubs
from .helpers import create, details, get, move, recorded_events, task_run


def item_error(result: pb.TransitionTaskRunsResult) -> tuple[int, str, list[str]]:
    """(code, ErrorInfo reason, BadRequest fields) of a failed item, decoded as a
    google.rpc.Status (ItemStatus has its fields and numbers)."""
    assert result.WhichOneof("result") == "error", result
    status = status_pb2.Status.FromString(result.error.SerializeToString())
    reason, fields = "", []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            assert info.domain == "statehouse"
            reason = info.reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields = [v.field for v in bad.field_violations]
    return status.code, reason, fields


async def batch(
    stubs: Stubs, *items: pb.TransitionTaskRunRequest
) -> list[pb.TransitionTaskRunsResult]:
    response = await stubs.executions.TransitionTaskRuns(
        pb.TransitionTaskRunsRequest(requests=list(items))
    )
    assert len(response.results) == len(items)
    return list(response.results)


def item(task_run_id: str, state: int, **kwargs: object) -> pb.TransitionTaskRunRequest:
    return pb.TransitionTaskRunRequest(task_run_id=task_run_id, state=state, **kwargs)  # type: ignore[arg-type]


async def test_an_illegal_item_fails_alone_and_the_others_commit(stubs: Stubs) -> None:
    execution = await create(stubs)
    a, b, c = [await task_run(stubs, execution.id, t) for t in ("a", "b", "c")]
    results = await batch(
        stubs,
        item(a.id, st.STATE_RUNNING),
        item(b.id, st.STATE_SUCCESS),  # CREATED -> SUCCESS is illegal
        item(c.id, st.STATE_RUNNING),
    )
    assert results[0].response.task_run.state == st.STATE_RUNNING
    assert item_error(results[1])[:2] == (code_pb2.FAILED_PRECONDITION, "INVALID_TRANSITION")
    assert results[2].response.task_run.state == st.STATE_RUNNING
    states = {r.task_id: r.state for r in (await get(stubs, execution.id)).task_runs}
    assert states == {"a": st.STATE_RUNNING, "b": st.STATE_CREATED, "c": st.STATE_RUNNING}


async def test_two_items_on_one_task_run_apply_in_order(stubs: Stubs) -> None:
    execution = await create(stubs)
    run = await task_run(stubs, execution.id)
    first, second = await batch(
        stubs, item(run.id, st.STATE_RUNNING), item(run.id, st.STATE_SUCCESS, reason="done")
    )
    assert first.response.task_run.state == st.STATE_RUNNING
    assert second.response.task_run.state == st.STATE_SUCCESS
    assert second.response.execution_revision > first.response.execution_revision
    events = await recorded_events(stubs, execution.id)
    assert [e[1] for e in events if e[0] == "extract"] == ["CREATED", "RUNNING", "SUCCESS"]


async def test_each_failed_item_has_the_code_and_reason_of_the_single_call(stubs: Stubs) -> None:
    execution = await create(stubs)
    a, b, c = [await task_run(stubs, execution.id, t) for t in ("a", "b", "c")]
    await move(stubs, c.id, st.STATE_RUNNING, request_id="taken")
    results = await batch(
        stubs,
        item("no-such-run", st.STATE_RUNNING),
        item(a.id, st.STATE_RUNNING, expected_revision=12345),
        item(b.id, st.STATE_RUNNING, request_id="taken"),  # other content, same key
        item(b.id, 999),
        item(b.id, st.STATE_UNSPECIFIED, reason="x" * (limits.MAX_REASON + 1)),
        item(b.id, st.STATE_RUNNING),
    )
    assert item_error(results[0])[:2] == (code_pb2.NOT_FOUND, "TASK_RUN_NOT_FOUND")
    assert item_error(results[1])[:2] == (code_pb2.ABORTED, "REVISION_MISMATCH")
    assert item_error(results[2])[:2] == (code_pb2.ALREADY_EXISTS, "REQUEST_ID_REUSED")
    # Field paths are the item's own, as the single call reports them.
    assert item_error(results[3]) == (code_pb2.INVALID_ARGUMENT, "INVALID_ARGUMENT", ["state"])
    assert item_error(results[4]) == (
        code_pb2.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        ["state", "reason"],
    )
    assert results[5].response.task_run.state == st.STATE_RUNNING
    # The single call answers the same.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await move(stubs, a.id, 999)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(info.value)[2] == ["state"]


async def test_items_are_idempotent_by_their_request_ids(stubs: Stubs) -> None:
    execution = await create(stubs)
    a, b = [await task_run(stubs, execution.id, t) for t in ("a", "b")]
    items = [
        item(a.id, st.STATE_RUNNING, request_id="a-run"),
        item(a.id, st.STATE_SUCCESS, request_id="a-done"),
        item(b.id, st.STATE_RUNNING, request_id="b-run"),
    ]
    first = await batch(stubs, *items)
    assert all(r.WhichOneof("result") == "response" for r in first)
    events = await recorded_events(stubs, execution.id)
    again = await batch(stubs, *items)
    assert [r.SerializeToString() for r in again] == [r.SerializeToString() for r in first]
    assert await recorded_events(stubs, execution.id) == events
    # The key space is TransitionTaskRun's: the single call gets the stored answer.
    single = await move(stubs, b.id, st.STATE_RUNNING, request_id="b-run")
    assert single == first[2].response


async def test_expected_revision_guards_each_item_alone(stubs: Stubs) -> None:
    one, two = await create(stubs), await create(stubs)
    a = await task_run(stubs, one.id)
    b = await task_run(stubs, two.id)
    revision_one = (await get(stubs, one.id)).revision
    revision_two = (await get(stubs, two.id)).revision
    ok, stale = await batch(
        stubs,
        item(a.id, st.STATE_RUNNING, expected_revision=revision_one),
        item(b.id, st.STATE_RUNNING, expected_revision=revision_two - 1),
    )
    assert ok.response.execution_revision > revision_one
    assert item_error(stale)[:2] == (code_pb2.ABORTED, "REVISION_MISMATCH")
    assert (await get(stubs, two.id)).revision == revision_two


async def test_at_most_1000_items_a_call(stubs: Stubs) -> None:
    assert limits.MAX_TRANSITIONS_PER_CALL == 1000
    execution = await create(stubs)
    runs = await asyncio.gather(*(task_run(stubs, execution.id, f"t{i}") for i in range(50)))
    too_many = [item(f"missing-{i}", st.STATE_RUNNING) for i in range(1001)]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await batch(stubs, *too_many)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(info.value)[2] == ["requests"]
    assert all(r.state == st.STATE_CREATED for r in (await get(stubs, execution.id)).task_runs)

    items = [item(r.id, st.STATE_RUNNING) for r in runs]
    items += [item(f"missing-{i}", st.STATE_RUNNING) for i in range(1000 - len(runs))]
    results = await batch(stubs, *items)
    assert all(r.response.task_run.state == st.STATE_RUNNING for r in results[: len(runs)])
    assert all(item_error(r)[0] == code_pb2.NOT_FOUND for r in results[len(runs) :])
    assert all(r.state == st.STATE_RUNNING for r in (await get(stubs, execution.id)).task_runs)


async def test_a_large_call_runs_its_items_in_order_too(stubs: Stubs) -> None:
    """Over limits.OFFLOAD_REQUEST_BYTES the call is heavy (worker threads)."""
    execution = await create(stubs)
    run = await task_run(stubs, execution.id)
    outputs = struct_pb2.Struct()
    outputs.update({"blob": "x" * (limits.OFFLOAD_REQUEST_BYTES + 1000)})
    first, second, third = await batch(
        stubs,
        item(run.id, st.STATE_RUNNING),
        item(run.id, st.STATE_SUCCESS, outputs=outputs),
        item(run.id, st.STATE_RUNNING),  # SUCCESS is terminal
    )
    assert first.response.task_run.state == st.STATE_RUNNING
    assert second.response.task_run.state == st.STATE_SUCCESS
    assert len(second.response.task_run.outputs["blob"]) == len(outputs["blob"])
    assert item_error(third)[:2] == (code_pb2.FAILED_PRECONDITION, "INVALID_TRANSITION")


async def test_an_empty_call_returns_no_results(stubs: Stubs) -> None:
    assert await batch(stubs) == []


async def test_a_batch_decodes_each_execution_once(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Moving many task runs of one execution reads and decodes the execution at
    most once for the whole batch (its rows are decoded again only when replaced;
    not at all on SQLite, whose writer kept it from the task runs' creation), and
    each item still sees the execution as the items before it left it."""
    from statehouse.server.storage import codec

    ex = await create(stubs)
    runs = [(await task_run(stubs, ex.id, f"t{i}")).id for i in range(20)]
    decoded: list[str] = []
    original = codec.execution_from_row

    def counting(row: object) -> object:
        decoded.append(row["id"])  # type: ignore[index]
        return original(row)  # type: ignore[arg-type]

    monkeypatch.setattr(codec, "execution_from_row", counting)
    response = await stubs.executions.TransitionTaskRuns(
        pb.TransitionTaskRunsRequest(
            requests=[
                pb.TransitionTaskRunRequest(task_run_id=r, state=st.STATE_RUNNING) for r in runs
            ]
        )
    )
    assert all(r.HasField("response") for r in response.results)
    assert decoded in ([], [ex.id])
    # The first move started the execution; the revision grew with each item.
    revisions = [r.response.execution_revision for r in response.results]
    assert revisions == sorted(revisions) and len(set(revisions)) == len(runs)
    after = await get(stubs, ex.id)
    assert after.state == st.STATE_RUNNING
    assert [h.state for h in after.history] == [st.STATE_CREATED, st.STATE_RUNNING]


async def test_the_basic_view_carries_each_task_run_without_its_histories(stubs: Stubs) -> None:
    """TASK_RUN_VIEW_BASIC: the same results as FULL less the task runs' histories,
    outputs and policies and their attempts' histories; FULL is the default."""
    execution = await create(stubs)
    a, b = [await task_run(stubs, execution.id, t) for t in ("a", "b")]
    outputs = struct_pb2.Struct()
    outputs.update({"rows": 3})

    async def both(view: int, *items: pb.TransitionTaskRunRequest) -> pb.TransitionTaskRunsResponse:
        return await stubs.executions.TransitionTaskRuns(
            pb.TransitionTaskRunsRequest(requests=list(items), view=view)  # type: ignore[arg-type]
        )

    basic = await both(
        execution_pb2.TASK_RUN_VIEW_BASIC,
        item(a.id, st.STATE_RUNNING, worker_id="w1"),
        item(a.id, st.STATE_SUCCESS, outputs=outputs),
        item(b.id, st.STATE_SUCCESS),  # illegal: its error as in FULL
    )
    ran, done = basic.results[0].response, basic.results[1].response
    assert item_error(basic.results[2])[:2] == (code_pb2.FAILED_PRECONDITION, "INVALID_TRANSITION")
    assert (ran.task_run.id, ran.task_run.state) == (a.id, st.STATE_RUNNING)
    assert [(x.number, x.state, x.worker_id) for x in ran.task_run.attempts] == [
        (1, st.STATE_RUNNING, "w1")
    ]
    assert done.task_run.state == st.STATE_SUCCESS and done.execution_revision > 0
    for response in (ran, done):
        assert not response.task_run.history and not response.task_run.HasField("outputs")
        assert all(not x.history for x in response.task_run.attempts)
        assert response.task_run.HasField("update_time")

    full = await both(execution_pb2.TASK_RUN_VIEW_UNSPECIFIED, item(b.id, st.STATE_RUNNING))
    moved = full.results[0].response.task_run
    assert [h.state for h in moved.history] == [st.STATE_CREATED, st.STATE_RUNNING]
    assert [len(x.history) for x in moved.attempts] == [1]
    stored = next(t for t in (await get(stubs, execution.id)).task_runs if t.id == a.id)
    assert dict(stored.outputs) == {"rows": 3}  # BASIC trims the answer, not what is stored


async def test_an_unknown_view_is_refused_before_any_work(stubs: Stubs) -> None:
    execution = await create(stubs)
    run = await task_run(stubs, execution.id)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stubs.executions.TransitionTaskRuns(
            pb.TransitionTaskRunsRequest(requests=[item(run.id, st.STATE_RUNNING)], view=7)  # type: ignore[arg-type]
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(info.value)[2] == ["view"]
    assert (await get(stubs, execution.id)).task_runs[0].state == st.STATE_CREATED
