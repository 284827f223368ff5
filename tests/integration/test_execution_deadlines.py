"""Deadlines (issue 27, item 3): an execution's ``max_duration`` and
``max_created_duration`` with their actions (FAIL, KILL, MARK), and a task
run's ``attempt_timeout``, on the durable timers: applied by `system` with a
reason naming the deadline, once, never after the execution or the attempt
ended, and through a server restart. Time is moved by the test (the
``manual_clock`` fixture) and the scheduler asked to fire what is due.

(``test_deadlines.py`` is about the deadlines of calls, not these.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import duration_pb2

from statehouse.v1 import execution_pb2, execution_service_pb2 as pb, state_pb2 as st
from tests.eventually import eventually_async

from .conftest import ManualClock, Running, ServerProcess, Stubs
from .helpers import create, details, task_run

NS = "company.team"


def seconds(value: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(value * 1e9))
    return d


def deadline(timeout: float, action: int = pb.DEADLINE_ACTION_UNSPECIFIED) -> pb.ExecutionDeadline:
    return pb.ExecutionDeadline(timeout=seconds(timeout), action=action)  # type: ignore[arg-type]


async def get(stubs: Stubs, execution_id: str) -> execution_pb2.Execution:
    request = pb.GetExecutionRequest(execution_id=execution_id)
    return (await stubs.executions.GetExecution(request)).execution


async def claim_one(stubs: Stubs, worker: str = "w1") -> pb.ClaimedTaskRun:
    [claimed] = (
        await stubs.executions.ClaimTaskRuns(
            pb.ClaimTaskRunsRequest(worker_id=worker, filter=pb.TaskRunFilter(namespace=NS))
        )
    ).task_runs
    return claimed


async def test_max_duration_fails_the_execution_once_and_refuses_late_reports(
    running_server: Running, manual_clock: ManualClock
) -> None:
    stubs = Stubs(running_server.target)
    scheduler = running_server.server.scheduler
    try:
        execution = await create(stubs, max_duration=deadline(60, pb.DEADLINE_ACTION_FAIL))
        made = await task_run(stubs, execution.id)
        claimed = await claim_one(stubs)
        manual_clock.advance(59)
        await scheduler.fire_due()
        assert (await get(stubs, execution.id)).state == st.STATE_RUNNING

        manual_clock.advance(2)
        await scheduler.fire_due()
        after = await get(stubs, execution.id)
        assert after.state == st.STATE_FAILED
        last = after.history[-1]
        assert (last.actor, last.reason) == ("system", "deadline max_duration of 60s passed")
        [tr] = after.task_runs
        assert tr.state == st.STATE_FAILED and tr.attempts[0].state == st.STATE_FAILED
        assert tr.history[-1].actor == "system"

        # The worker's late report is refused: its attempt ended with the execution.
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stubs.executions.TransitionTaskRun(
                pb.TransitionTaskRunRequest(
                    task_run_id=made.id, state=st.STATE_SUCCESS, attempt=claimed.attempt
                )
            )
        assert details(refused.value)[0] == "ATTEMPT_NOT_OPEN"
        assert "max_duration" in (refused.value.details() or "")

        # Once: nothing more happens, however late.
        manual_clock.advance(3600)
        await scheduler.fire_due()
        assert (await get(stubs, execution.id)).revision == after.revision
    finally:
        await stubs.channel.close()


async def test_max_created_duration_kills_what_never_started_and_spares_what_did(
    running_server: Running, manual_clock: ManualClock
) -> None:
    stubs = Stubs(running_server.target)
    scheduler = running_server.server.scheduler
    try:
        waiting = await create(
            stubs, max_created_duration=deadline(30, pb.DEADLINE_ACTION_KILL), flow_id="waits"
        )
        queued = await task_run(stubs, waiting.id)
        started = await create(
            stubs, max_created_duration=deadline(30, pb.DEADLINE_ACTION_KILL), flow_id="starts"
        )
        await task_run(stubs, started.id)
        [claimed] = (
            await stubs.executions.ClaimTaskRuns(
                pb.ClaimTaskRunsRequest(
                    worker_id="w", filter=pb.TaskRunFilter(namespace=NS, flow_id="starts")
                )
            )
        ).task_runs
        assert claimed.execution.id == started.id

        manual_clock.advance(31)
        await scheduler.fire_due()
        killed = await get(stubs, waiting.id)
        assert [h.state for h in killed.history] == [
            st.STATE_CREATED,
            st.STATE_KILLING,
            st.STATE_KILLED,
        ]
        assert killed.history[1].actor == "system"
        assert killed.history[1].reason == "deadline max_created_duration of 30s passed"
        assert killed.task_runs[0].id == queued.id
        assert killed.task_runs[0].state == st.STATE_KILLED
        # The one that left CREATED in time goes on.
        kept = await get(stubs, started.id)
        assert kept.state == st.STATE_RUNNING
        assert kept.revision == claimed.execution.revision
    finally:
        await stubs.channel.close()


async def test_mark_labels_the_execution_and_lets_it_go_on(
    running_server: Running, manual_clock: ManualClock
) -> None:
    stubs = Stubs(running_server.target)
    scheduler = running_server.server.scheduler
    try:
        execution = await create(
            stubs,
            labels={"team": "a"},
            max_duration=deadline(10, pb.DEADLINE_ACTION_MARK),
            max_created_duration=deadline(5, pb.DEADLINE_ACTION_MARK),
        )
        manual_clock.advance(11)
        await scheduler.fire_due()
        after = await get(stubs, execution.id)
        assert after.state == st.STATE_CREATED
        assert dict(after.labels) == {
            "team": "a",
            "deadline-missed/max_duration": "10s",
            "deadline-missed/max_created_duration": "5s",
        }
        assert after.revision > execution.revision
        found = await stubs.executions.ListExecutions(
            pb.ListExecutionsRequest(namespace=NS, labels={"deadline-missed/max_duration": "10s"})
        )
        assert [e.id for e in found.executions] == [execution.id]
        # It still runs to its end as usual.
        made = await task_run(stubs, execution.id)
        await claim_one(stubs)
        await stubs.executions.TransitionTaskRun(
            pb.TransitionTaskRunRequest(task_run_id=made.id, state=st.STATE_SUCCESS)
        )
    finally:
        await stubs.channel.close()


async def test_a_deadline_never_fires_after_the_execution_ended(
    running_server: Running, manual_clock: ManualClock
) -> None:
    stubs = Stubs(running_server.target)
    scheduler = running_server.server.scheduler
    try:
        execution = await create(
            stubs,
            max_duration=deadline(60, pb.DEADLINE_ACTION_KILL),
            max_created_duration=deadline(60, pb.DEADLINE_ACTION_FAIL),
        )
        made = await task_run(stubs, execution.id)
        await claim_one(stubs)
        await stubs.executions.TransitionTaskRun(
            pb.TransitionTaskRunRequest(task_run_id=made.id, state=st.STATE_SUCCESS)
        )
        await stubs.executions.CompleteExecution(
            pb.CompleteExecutionRequest(execution_id=execution.id)
        )
        ended = await get(stubs, execution.id)
        assert ended.state == st.STATE_SUCCESS
        # Its timers went with the end: a restart runs it again without them.
        manual_clock.advance(120)
        fired = scheduler.fired
        await scheduler.fire_due()
        assert scheduler.fired == fired
        assert (await get(stubs, execution.id)).revision == ended.revision
    finally:
        await stubs.channel.close()


async def test_an_attempt_timeout_ends_the_attempt_like_a_lost_lease(
    running_server: Running, manual_clock: ManualClock
) -> None:
    stubs = Stubs(running_server.target)
    scheduler = running_server.server.scheduler
    try:
        execution = await create(stubs)
        made = (
            await stubs.executions.CreateTaskRun(
                pb.CreateTaskRunRequest(
                    execution_id=execution.id,
                    task_id="t",
                    attempt_timeout=seconds(10),
                    retry_policy=execution_pb2.RetryPolicy(
                        constant=execution_pb2.RetryPolicy.Constant(interval=seconds(1)),
                        max_attempts=2,
                    ),
                )
            )
        ).task_run
        assert made.attempt_timeout.seconds == 10
        assert made.retry_policy.max_attempts == 2
        first = await claim_one(stubs, "slow")
        manual_clock.advance(9)
        await scheduler.fire_due()
        assert (await get(stubs, execution.id)).task_runs[0].state == st.STATE_RUNNING

        manual_clock.advance(2)
        await scheduler.fire_due()
        after = (await get(stubs, execution.id)).task_runs[0]
        assert after.state == st.STATE_RESTARTED  # FAILED, then the retry policy
        ended = after.attempts[0].history[-1]
        assert (ended.state, ended.actor) == (st.STATE_FAILED, "system")
        assert ended.reason == "attempt timeout: attempt 1 ran longer than 10s"
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stubs.executions.TransitionTaskRun(
                pb.TransitionTaskRunRequest(
                    task_run_id=made.id, state=st.STATE_SUCCESS, attempt=first.attempt
                )
            )
        assert details(refused.value)[0] == "ATTEMPT_NOT_OPEN"

        # Attempt 2 has its own timeout, and ends in time: its timer goes with it.
        manual_clock.advance(2)
        second = await claim_one(stubs, "fast")
        assert second.attempt == 2
        await stubs.executions.TransitionTaskRun(
            pb.TransitionTaskRunRequest(task_run_id=made.id, state=st.STATE_SUCCESS, attempt=2)
        )
        manual_clock.advance(60)
        fired = scheduler.fired
        await scheduler.fire_due()
        assert scheduler.fired == fired
        final = (await get(stubs, execution.id)).task_runs[0]
        assert final.state == st.STATE_WARNING or final.state == st.STATE_SUCCESS
        assert final.attempts[1].state == final.state
    finally:
        await stubs.channel.close()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_duration", pb.ExecutionDeadline(action=pb.DEADLINE_ACTION_FAIL)),
        ("max_duration", pb.ExecutionDeadline(timeout=duration_pb2.Duration(nanos=500_000_000))),
        ("max_created_duration", pb.ExecutionDeadline(timeout=duration_pb2.Duration(seconds=-1))),
        ("max_duration", pb.ExecutionDeadline(timeout=duration_pb2.Duration(seconds=1), action=9)),  # type: ignore[arg-type]
    ],
    ids=["no timeout", "under a second", "negative", "unknown action"],
)
async def test_bad_deadlines_are_refused(stubs: Stubs, field: str, value: object) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await create(stubs, **{field: value})
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (refused.value.details() or "")


async def test_a_bad_attempt_timeout_is_refused(stubs: Stubs) -> None:
    execution = await create(stubs)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stubs.executions.CreateTaskRun(
            pb.CreateTaskRunRequest(
                execution_id=execution.id, task_id="t", attempt_timeout=seconds(0)
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "attempt_timeout" in (refused.value.details() or "")


@pytest.mark.timeout(180)
def test_deadlines_and_attempt_timeouts_fire_through_a_restart(
    server_process: ServerProcess, tmp_path: Path
) -> None:
    """Deadlines and attempt timeouts are durable timers, like leases: the server
    is killed (SIGKILL) with them pending, and after the restart each fires,
    once; a deadline of an execution that ended before the crash never does."""
    timeout = 4.0

    async def scenario() -> None:
        stubs = Stubs(server_process.target)
        try:
            failing = await create(
                stubs, flow_id="fails", max_duration=deadline(timeout, pb.DEADLINE_ACTION_FAIL)
            )
            await task_run(stubs, failing.id)
            ended = await create(
                stubs, flow_id="ends", max_duration=deadline(timeout, pb.DEADLINE_ACTION_KILL)
            )
            done = await task_run(stubs, ended.id)
            slow_execution = await create(stubs, flow_id="slow")
            slow = (
                await stubs.executions.CreateTaskRun(
                    pb.CreateTaskRunRequest(
                        execution_id=slow_execution.id,
                        task_id="t",
                        attempt_timeout=seconds(timeout),
                        retry_policy=execution_pb2.RetryPolicy(
                            constant=execution_pb2.RetryPolicy.Constant(interval=seconds(1)),
                            max_attempts=2,
                        ),
                    )
                )
            ).task_run
            for flow in ("ends", "slow"):
                [_claimed] = (
                    await stubs.executions.ClaimTaskRuns(
                        pb.ClaimTaskRunsRequest(
                            worker_id="w", filter=pb.TaskRunFilter(namespace=NS, flow_id=flow)
                        )
                    )
                ).task_runs
            await stubs.executions.TransitionTaskRun(
                pb.TransitionTaskRunRequest(task_run_id=done.id, state=st.STATE_SUCCESS)
            )
            await stubs.executions.CompleteExecution(
                pb.CompleteExecutionRequest(execution_id=ended.id)
            )
            finished = await get(stubs, ended.id)
            assert finished.state == st.STATE_SUCCESS
            # Nothing has fired yet: the crash comes first (the state says so; how long
            # the steps above took on a loaded machine is not asserted).
            assert (await get(stubs, failing.id)).state == st.STATE_CREATED
        finally:
            await stubs.channel.close()
        server_process.kill()
        server_process.start()
        stubs = Stubs(server_process.target)
        try:

            async def both_fired() -> tuple[execution_pb2.Execution, execution_pb2.TaskRun] | None:
                after = await get(stubs, failing.id)
                slow_after = (await get(stubs, slow_execution.id)).task_runs[0]
                fired = after.state == st.STATE_FAILED
                fired &= slow_after.attempts[0].state != st.STATE_RUNNING
                return (after, slow_after) if fired else None

            after, slow_after = await eventually_async(
                both_fired, "both deadlines fired after the restart", within=60, step=0.1
            )
            assert [h.state for h in after.history] == [st.STATE_CREATED, st.STATE_FAILED]
            assert after.history[-1].actor == "system"
            assert after.task_runs[0].state == st.STATE_FAILED
            ended_attempt = slow_after.attempts[0].history[-1]
            assert (ended_attempt.state, ended_attempt.actor) == (st.STATE_FAILED, "system")
            assert ended_attempt.reason == "attempt timeout: attempt 1 ran longer than 4s"
            assert slow_after.id == slow.id and slow_after.state == st.STATE_RESTARTED
            # The execution that ended before the crash kept its end.
            assert await get(stubs, ended.id) == finished
            # Once: each timer went with its firing, none is left behind.
            engine = sa.create_engine(server_process.database_url)
            try:
                with engine.connect() as conn:
                    left = conn.execute(sa.text("SELECT id FROM timers")).scalars().all()
            finally:
                engine.dispose()
            assert left == []
            assert (await get(stubs, failing.id)).revision == after.revision
        finally:
            await stubs.channel.close()

    asyncio.run(scenario())


async def test_the_sdk_sets_deadlines_and_attempt_timeouts(
    running_server: Running, manual_clock: ManualClock
) -> None:
    from statehouse.client import AsyncClient, DeadlineAction, State

    async with AsyncClient.connect(running_server.target) as client:
        execution = await client.create_execution(
            namespace=NS, flow_id="sdk", max_duration=(60, "mark"), max_created_duration=30
        )
        made = await client.create_task_run(
            execution_id=execution.id, task_id="t", attempt_timeout=5
        )
        assert made.task_run.attempt_timeout.seconds == 5
        manual_clock.advance(31)
        await running_server.server.scheduler.fire_due()
        after = await client.get_execution(execution.id)
        assert State(after.state) is State.FAILED  # max_created_duration's default: FAIL
        assert "max_created_duration" in after.history[-1].reason
        assert DeadlineAction.parse("mark") is DeadlineAction.MARK
