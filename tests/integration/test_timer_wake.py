"""The scheduler is woken by the commit that sets a timer, whatever the call: with
its poll an hour apart, a creation deadline, a pause's delay and a claim's lease of
a second still fire (each within the test's bound, never by the poll)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from statehouse.v1 import execution_service_pb2 as pb, state_pb2 as st
from tests.eventually import eventually_async

from .conftest import Running, Stubs
from .helpers import create, get, move, task_run
from .test_execution_deadlines import deadline, seconds

HOUR = 3600.0


async def test_timers_set_by_any_call_fire_without_the_poll(
    server_factory: Callable[..., Awaitable[Running]],
) -> None:
    running = await server_factory(timer_poll_interval=HOUR)
    stubs = Stubs(running.target)
    try:
        # A creation deadline (CreateExecution set no timer wake before).
        doomed = await create(stubs, max_created_duration=deadline(1, pb.DEADLINE_ACTION_FAIL))

        async def failed() -> bool:
            return (await get(stubs, doomed.id)).state == st.STATE_FAILED

        await eventually_async(failed, "the creation deadline applied")

        # A pause with a delay.
        paused = await create(stubs)
        await move(stubs, (await task_run(stubs, paused.id)).id, st.STATE_RUNNING)
        await stubs.executions.PauseExecution(
            pb.PauseExecutionRequest(execution_id=paused.id, delay=seconds(1))
        )

        async def resumed() -> bool:
            return (await get(stubs, paused.id)).state == st.STATE_RUNNING

        await eventually_async(resumed, "the pause's delay elapsed")

        # A claim's lease, never heartbeated.
        leased = await create(stubs, flow_id="leased")
        await task_run(stubs, leased.id)
        claimed = await stubs.executions.ClaimTaskRuns(
            pb.ClaimTaskRunsRequest(
                worker_id="w",
                filter=pb.TaskRunFilter(namespace=leased.namespace, flow_id="leased"),
                lease_duration=seconds(1),
            )
        )
        assert len(claimed.task_runs) == 1

        async def lease_lost() -> bool:
            task = (await get(stubs, leased.id)).task_runs[0]
            return task.attempts[0].state == st.STATE_FAILED

        await eventually_async(lease_lost, "the lost lease acted on")
        assert running.server.scheduler.fired == 3
    finally:
        await stubs.channel.close()
