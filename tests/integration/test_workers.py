"""Workers: ClaimTaskRuns, leases and Heartbeat, on each backend (issue 27).

Claims take ready task runs atomically, oldest ready first, with the rules of
TransitionTaskRun to RUNNING; racing workers on two replicas never share one;
a waiting claim wakes when work appears on either replica and returns at its
bound otherwise. Leases end an attempt whose worker went silent (FAILED, actor
`system`, the retry policy deciding), through a server restart too; a
heartbeat keeps an attempt alive; a late report from a lost worker is refused.
Time moves by the ManualClock for in-process servers, never by sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import pytest
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


async def claim(stubs: Stubs, worker: str = "w1", **kwargs: object) -> pb.ClaimTaskRunsResponse:
    kwargs.setdefault("filter", pb.TaskRunFilter(namespace=NS))
    return await stubs.executions.ClaimTaskRuns(
        pb.ClaimTaskRunsRequest(worker_id=worker, **kwargs),  # type: ignore[arg-type]
        timeout=60,
    )


async def get_task_run(stubs: Stubs, task_run_id: str) -> execution_pb2.TaskRun:
    response = await stubs.executions.GetTaskRun(pb.GetTaskRunRequest(task_run_id=task_run_id))
    return response.task_run


def retry_policy(max_attempts: int = 3) -> execution_pb2.RetryPolicy:
    return execution_pb2.RetryPolicy(
        constant=execution_pb2.RetryPolicy.Constant(interval=seconds(1)),
        max_attempts=max_attempts,
    )


# -- claims ------------------------------------------------------------------------


async def test_a_claim_starts_the_oldest_ready_task_runs_for_its_worker(stubs: Stubs) -> None:
    first = await create(stubs, labels={"team": "a"})
    second = await create(stubs, labels={"team": "b"})
    t1 = await task_run(stubs, first.id, "extract")
    t2 = await task_run(stubs, second.id, "load")
    t3 = await task_run(stubs, first.id, "load")

    got = await claim(stubs, "w1", max_task_runs=2)
    assert [c.task_run.id for c in got.task_runs] == [t1.id, t2.id]
    for claimed in got.task_runs:
        assert claimed.task_run.state == st.STATE_RUNNING
        assert claimed.attempt == 1
        assert claimed.task_run.attempts[-1].worker_id == "w1"
        assert claimed.execution.state == st.STATE_RUNNING
        assert not claimed.execution.task_runs
        assert not claimed.HasField("lease_expire_time")
    assert got.task_runs[0].execution.labels == {"team": "a"}

    # Filters: by task id and by label; the rest is left for others.
    assert not (await claim(stubs, filter=pb.TaskRunFilter(task_ids=["extract"]))).task_runs
    by_label = await claim(stubs, filter=pb.TaskRunFilter(labels={"team": "a"}))
    assert [c.task_run.id for c in by_label.task_runs] == [t3.id]
    assert not (await claim(stubs, max_task_runs=10)).task_runs


async def test_a_claim_applies_the_rules_of_a_start(stubs: Stubs) -> None:
    """A paused or killed execution's task runs are not ready; a retry is ready
    only once due; a restarted task run is ready again (attempt 2)."""
    paused = await create(stubs)
    ready = await task_run(stubs, paused.id)
    running = await task_run(stubs, paused.id, "other")
    await stubs.executions.TransitionTaskRun(
        pb.TransitionTaskRunRequest(task_run_id=running.id, state=st.STATE_RUNNING)
    )
    await stubs.executions.PauseExecution(pb.PauseExecutionRequest(execution_id=paused.id))
    killed = await create(stubs)
    await task_run(stubs, killed.id)
    await task_run(stubs, killed.id, "b")
    await stubs.executions.KillExecution(pb.KillExecutionRequest(execution_id=killed.id))
    assert not (await claim(stubs, max_task_runs=10)).task_runs

    await stubs.executions.ResumeExecution(pb.ResumeExecutionRequest(execution_id=paused.id))
    got = await claim(stubs, max_task_runs=10)
    assert [c.task_run.id for c in got.task_runs] == [ready.id]

    # A failure with a retry policy: RESTARTED, not ready before its next attempt time.
    execution = await create(stubs)
    retried = (
        await stubs.executions.CreateTaskRun(
            pb.CreateTaskRunRequest(
                execution_id=execution.id, task_id="t", retry_policy=retry_policy()
            )
        )
    ).task_run
    [c] = (await claim(stubs)).task_runs
    assert c.task_run.id == retried.id
    failed = await stubs.executions.TransitionTaskRun(
        pb.TransitionTaskRunRequest(task_run_id=retried.id, state=st.STATE_FAILED, attempt=1)
    )
    assert failed.retry.scheduled
    assert not (await claim(stubs)).task_runs
    # A waiting claim wakes when the retry falls due (1 s), without another commit.
    started = time.monotonic()
    [again] = (await claim(stubs, wait=seconds(20))).task_runs
    assert time.monotonic() - started < 10
    assert again.task_run.id == retried.id and again.attempt == 2


@pytest.mark.timeout(300)
async def test_racing_workers_on_two_replicas_claim_each_task_run_once(
    server_factory: Callable[..., Awaitable[Running]],
) -> None:
    replicas = [await server_factory(), await server_factory()]
    channels = [Stubs(r.target) for r in replicas]
    try:
        executions = [await create(channels[0], flow_id=f"f{i}") for i in range(20)]
        created: list[str] = []
        sem = asyncio.Semaphore(64)

        async def add(execution_id: str, n: int) -> None:
            async with sem:
                created.append((await task_run(channels[n % 2], execution_id, f"t{n}")).id)

        await asyncio.gather(*(add(e.id, n) for e in executions for n in range(100)))
        assert len(created) == 2000

        claims: dict[str, list[str]] = {}

        async def worker(w: int) -> None:
            stubs = channels[w % 2]
            mine = claims.setdefault(f"w{w}", [])
            while True:
                got = await claim(stubs, f"w{w}", max_task_runs=10)
                if not got.task_runs:
                    return
                mine.extend(c.task_run.id for c in got.task_runs)

        started = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(worker(w) for w in range(16))), 240)
        elapsed = time.monotonic() - started
        everything = [t for ids in claims.values() for t in ids]
        assert len(everything) == len(set(everything)) == 2000, "a task run was claimed twice"
        assert set(everything) == set(created)
        assert sum(1 for ids in claims.values() if ids) > 1
        # Each task run has one attempt, recorded for the worker that got it.
        owner = {t: w for w, ids in claims.items() for t in ids}
        for e in executions:
            full = (
                await channels[1].executions.GetExecution(pb.GetExecutionRequest(execution_id=e.id))
            ).execution
            for t in full.task_runs:
                assert len(t.attempts) == 1
                assert t.attempts[0].worker_id == owner[t.id]
        print(f"16 workers claimed 2000 task runs in {elapsed:.1f} s")
    finally:
        for c in channels:
            await c.channel.close()


async def test_a_waiting_claim_returns_when_work_appears_on_either_replica(
    server_factory: Callable[..., Awaitable[Running]],
) -> None:
    a, b = await server_factory(), await server_factory()
    on_a, on_b = Stubs(a.target), Stubs(b.target)
    try:
        # Nothing ready: the claim answers at its bound, with nothing.
        started = time.monotonic()
        assert not (await claim(on_a, wait=seconds(0.5))).task_runs
        assert 0.45 <= time.monotonic() - started < 10

        for creator in (on_a, on_b):
            execution = await create(creator)
            waiting = asyncio.create_task(claim(on_a, wait=seconds(50)))
            await asyncio.sleep(0.3)  # let it find nothing and wait (not synchronization)
            assert not waiting.done()
            started = time.monotonic()
            made = await task_run(creator, execution.id)
            got = await asyncio.wait_for(waiting, 20)
            assert [c.task_run.id for c in got.task_runs] == [made.id]
            assert time.monotonic() - started < 10  # woken, not at its 50 s bound
        # A waiter is not woken by work its filter does not select.
        execution = await create(on_b)
        waiting = asyncio.create_task(
            claim(on_a, filter=pb.TaskRunFilter(namespace=NS, task_ids=["x"]), wait=seconds(1))
        )
        await task_run(on_b, execution.id, "y")
        assert not (await asyncio.wait_for(waiting, 20)).task_runs
    finally:
        await on_a.channel.close()
        await on_b.channel.close()


# -- leases ------------------------------------------------------------------------


async def test_an_expired_lease_fails_the_attempt_and_the_retry_policy_decides(
    running_server: Running, manual_clock: ManualClock
) -> None:
    stubs = Stubs(running_server.target)
    scheduler = running_server.server.scheduler
    try:
        execution = await create(stubs)
        made = (
            await stubs.executions.CreateTaskRun(
                pb.CreateTaskRunRequest(
                    execution_id=execution.id, task_id="t", retry_policy=retry_policy(2)
                )
            )
        ).task_run
        [c] = (await claim(stubs, "lost", lease_duration=seconds(30))).task_runs
        assert c.task_run.attempts[0].lease_duration.seconds == 30
        assert c.lease_expire_time.ToMicroseconds() > manual_clock.now

        manual_clock.advance(29)
        await scheduler.fire_due()
        assert (await get_task_run(stubs, made.id)).state == st.STATE_RUNNING

        manual_clock.advance(2)
        await scheduler.fire_due()
        after = await get_task_run(stubs, made.id)
        assert after.state == st.STATE_RESTARTED  # FAILED, then the policy's retry
        failed = after.attempts[0]
        assert failed.state == st.STATE_FAILED
        assert failed.history[-1].actor == "system"
        assert "lease lost" in failed.history[-1].reason
        assert "lost" in failed.history[-1].reason  # names the worker
        assert [h.state for h in after.history][-2:] == [st.STATE_FAILED, st.STATE_RESTARTED]

        # The lost worker's late report is refused: its attempt is not open.
        for state in (st.STATE_SUCCESS, st.STATE_FAILED):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stubs.executions.TransitionTaskRun(
                    pb.TransitionTaskRunRequest(task_run_id=made.id, state=state, attempt=1)
                )
            assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            reason, metadata, _ = details(refused.value)
            assert reason == "ATTEMPT_NOT_OPEN"
            assert "lease lost" in (refused.value.details() or "")
            assert metadata["attempt"] == "1"

        # Another worker takes attempt 2 once due; the lost worker still cannot report.
        manual_clock.advance(2)
        [again] = (await claim(stubs, "next", lease_duration=seconds(30))).task_runs
        assert again.attempt == 2
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stubs.executions.TransitionTaskRun(
                pb.TransitionTaskRunRequest(task_run_id=made.id, state=st.STATE_SUCCESS, attempt=1)
            )
        assert details(refused.value)[0] == "ATTEMPT_NOT_OPEN"
        # The last attempt lost too: no attempt left, the task run ends FAILED.
        manual_clock.advance(31)
        await scheduler.fire_due()
        final = await get_task_run(stubs, made.id)
        assert final.state == st.STATE_FAILED
        assert [a.state for a in final.attempts] == [st.STATE_FAILED, st.STATE_FAILED]
    finally:
        await stubs.channel.close()


async def test_a_heartbeat_keeps_a_long_attempt_alive(
    running_server: Running, manual_clock: ManualClock
) -> None:
    stubs = Stubs(running_server.target)
    scheduler = running_server.server.scheduler
    try:
        execution = await create(stubs)
        made = await task_run(stubs, execution.id)
        other = await task_run(stubs, execution.id, "other")
        [c] = (await claim(stubs, lease_duration=seconds(10))).task_runs
        assert c.task_run.id == made.id
        # Started without a lease by TransitionTaskRun: a heartbeat is refused.
        await stubs.executions.TransitionTaskRun(
            pb.TransitionTaskRunRequest(task_run_id=other.id, state=st.STATE_RUNNING)
        )
        for _ in range(6):  # a minute of work, in 10 s leases
            manual_clock.advance(8)
            beat = await stubs.executions.Heartbeat(
                pb.HeartbeatRequest(
                    attempts=[
                        pb.HeartbeatItem(task_run_id=made.id, attempt=1),
                        pb.HeartbeatItem(task_run_id=made.id, attempt=2),
                        pb.HeartbeatItem(task_run_id=other.id, attempt=1),
                        pb.HeartbeatItem(task_run_id="missing", attempt=1),
                    ]
                )
            )
            ok, wrong, unleased, missing = beat.results
            assert not ok.HasField("error"), ok.error.message
            assert ok.task_run_state == st.STATE_RUNNING
            assert ok.lease_expire_time.ToMicroseconds() > manual_clock.now + 9_000_000
            assert wrong.error.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
            assert unleased.error.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
            assert "without a lease" in unleased.error.message
            assert missing.error.code == grpc.StatusCode.NOT_FOUND.value[0]
            await scheduler.fire_due()
            assert (await get_task_run(stubs, made.id)).state == st.STATE_RUNNING
        # A kill shows in the heartbeat: the worker learns to stop.
        await stubs.executions.KillExecution(pb.KillExecutionRequest(execution_id=execution.id))
        beat = await stubs.executions.Heartbeat(
            pb.HeartbeatRequest(attempts=[pb.HeartbeatItem(task_run_id=made.id, attempt=1)])
        )
        assert beat.results[0].task_run_state == st.STATE_KILLING
        # Silence: the lease expires, once; a heartbeat after the expiry is refused,
        # before the scheduler acts (the lease has expired) or after (the attempt
        # ended: the server's own scheduler loop reads the same clock, and on a
        # loaded machine may fire the expiry first).
        manual_clock.advance(11)
        late = await stubs.executions.Heartbeat(
            pb.HeartbeatRequest(attempts=[pb.HeartbeatItem(task_run_id=made.id, attempt=1)])
        )
        refused = late.results[0].error
        assert refused.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
        assert "expired" in refused.message or "lease lost" in refused.message, refused
        await scheduler.fire_due()
        assert (await get_task_run(stubs, made.id)).state == st.STATE_KILLED
        # A report ends the attempt, and with it the lease: no timer is left.
        await stubs.executions.TransitionTaskRun(
            pb.TransitionTaskRunRequest(task_run_id=other.id, state=st.STATE_KILLED)
        )
        assert (await running_server.server.store.read(lambda tx: tx.next_timer_due())) is None
    finally:
        await stubs.channel.close()


async def test_a_report_ends_the_lease(running_server: Running, manual_clock: ManualClock) -> None:
    stubs = Stubs(running_server.target)
    try:
        execution = await create(stubs)
        made = await task_run(stubs, execution.id)
        started = await stubs.executions.TransitionTaskRun(
            pb.TransitionTaskRunRequest(
                task_run_id=made.id,
                state=st.STATE_RUNNING,
                attempt=1,
                lease_duration=seconds(5),
                worker_id="w",
            )
        )
        assert started.task_run.attempts[0].lease_duration.seconds == 5
        await stubs.executions.TransitionTaskRun(
            pb.TransitionTaskRunRequest(task_run_id=made.id, state=st.STATE_SUCCESS, attempt=1)
        )
        manual_clock.advance(60)
        assert await running_server.server.scheduler.fire_due() >= 0
        after = await get_task_run(stubs, made.id)
        assert after.state == st.STATE_SUCCESS
        assert [h.actor for h in after.history] == ["anonymous"] * 3
    finally:
        await stubs.channel.close()


async def test_reads_carry_the_lease_expiry_that_heartbeats_move(
    running_server: Running, manual_clock: ManualClock
) -> None:
    """GetTaskRun, GetExecution and ListExecutions (FULL) say until when an open
    attempt's lease runs: the claim's expiry, then each heartbeat's; none once
    the attempt ended (here by the lease's own expiry)."""
    stubs = Stubs(running_server.target)
    try:
        execution = await create(stubs, flow_id="expiry")
        made = (
            await stubs.executions.CreateTaskRun(
                pb.CreateTaskRunRequest(
                    execution_id=execution.id, task_id="t", retry_policy=retry_policy(2)
                )
            )
        ).task_run

        async def read_expiries() -> list[int]:
            """The last attempt's lease expiry as each read gives it (0: unset)."""
            one = await get_task_run(stubs, made.id)
            full = (
                await stubs.executions.GetExecution(
                    pb.GetExecutionRequest(
                        execution_id=execution.id, view=execution_pb2.EXECUTION_VIEW_FULL
                    )
                )
            ).execution.task_runs[0]
            listed = (
                (
                    await stubs.executions.ListExecutions(
                        pb.ListExecutionsRequest(
                            namespace=NS, flow_id="expiry", view=execution_pb2.EXECUTION_VIEW_FULL
                        )
                    )
                )
                .executions[0]
                .task_runs[0]
            )
            found = []
            for tr in (one, full, listed):
                last = tr.attempts[-1]
                has = last.HasField("lease_expire_time")
                found.append(last.lease_expire_time.ToMicroseconds() if has else 0)
            return found

        [c] = (await claim(stubs, "w", lease_duration=seconds(10))).task_runs
        claimed = c.lease_expire_time.ToMicroseconds()
        assert c.task_run.attempts[0].lease_expire_time.ToMicroseconds() == claimed
        assert await read_expiries() == [claimed] * 3

        manual_clock.advance(6)
        beat = await stubs.executions.Heartbeat(
            pb.HeartbeatRequest(attempts=[pb.HeartbeatItem(task_run_id=made.id, attempt=1)])
        )
        moved = beat.results[0].lease_expire_time.ToMicroseconds()
        assert moved > claimed + 5_000_000
        assert await read_expiries() == [moved] * 3

        # The lease runs out: the attempt ends FAILED, and with it the expiry.
        manual_clock.advance(11)
        await running_server.server.scheduler.fire_due()
        after = await get_task_run(stubs, made.id)
        assert after.attempts[0].state == st.STATE_FAILED
        assert after.state == st.STATE_RESTARTED
        assert await read_expiries() == [0] * 3
        # The next attempt starts without a lease: none to show either.
        manual_clock.advance(2)
        await stubs.executions.TransitionTaskRun(
            pb.TransitionTaskRunRequest(task_run_id=made.id, state=st.STATE_RUNNING, attempt=2)
        )
        assert await read_expiries() == [0] * 3
    finally:
        await stubs.channel.close()


@pytest.mark.timeout(180)
def test_the_lease_expiry_read_survives_a_restart(
    server_process: ServerProcess, tmp_path: Path
) -> None:
    """The expiry a heartbeat set is what GetTaskRun returns after the server was
    killed (SIGKILL) and started again; a report then clears it."""

    async def scenario() -> None:
        stubs = Stubs(server_process.target)
        try:
            execution = await create(stubs)
            made = await task_run(stubs, execution.id)
            [c] = (await claim(stubs, "holds", lease_duration=seconds(300))).task_runs
            beat = await stubs.executions.Heartbeat(
                pb.HeartbeatRequest(attempts=[pb.HeartbeatItem(task_run_id=made.id, attempt=1)])
            )
            moved = beat.results[0].lease_expire_time
            assert moved.ToMicroseconds() > c.lease_expire_time.ToMicroseconds()
        finally:
            await stubs.channel.close()
        server_process.kill()
        server_process.start()
        stubs = Stubs(server_process.target)
        try:
            [attempt] = (await get_task_run(stubs, made.id)).attempts
            assert attempt.lease_expire_time == moved
            assert attempt.worker_id == "holds"
            await stubs.executions.TransitionTaskRun(
                pb.TransitionTaskRunRequest(
                    task_run_id=made.id, state=st.STATE_SUCCESS, attempt=c.attempt
                )
            )
            [attempt] = (await get_task_run(stubs, made.id)).attempts
            assert not attempt.HasField("lease_expire_time")
        finally:
            await stubs.channel.close()

    asyncio.run(scenario())


@pytest.mark.timeout(180)
def test_a_lease_expires_through_a_restart(server_process: ServerProcess, tmp_path: Path) -> None:
    """A worker claims with a lease and the server is killed (SIGKILL); after the
    restart the lease still expires, once: the attempt FAILED by `system`, the
    retry policy's next attempt claimed by another worker."""

    async def scenario() -> None:
        stubs = Stubs(server_process.target)
        try:
            execution = await create(stubs)
            made = (
                await stubs.executions.CreateTaskRun(
                    pb.CreateTaskRunRequest(
                        execution_id=execution.id, task_id="t", retry_policy=retry_policy(2)
                    )
                )
            ).task_run
            [c] = (await claim(stubs, "dies", lease_duration=seconds(1))).task_runs
            assert c.attempt == 1
        finally:
            await stubs.channel.close()
        server_process.kill()
        server_process.start()
        stubs = Stubs(server_process.target)
        try:

            async def lease_expired() -> execution_pb2.TaskRun | None:
                got = await get_task_run(stubs, made.id)
                return got if got.attempts[0].state == st.STATE_FAILED else None

            after = await eventually_async(lease_expired, "the lease expired", within=60, step=0.1)
            assert after.attempts[0].history[-1].actor == "system"
            assert "lease lost" in after.attempts[0].history[-1].reason
            [again] = (await claim(stubs, "next", wait=seconds(30))).task_runs
            assert again.task_run.id == made.id and again.attempt == 2
            full = (
                await stubs.executions.GetExecution(
                    pb.GetExecutionRequest(execution_id=execution.id)
                )
            ).execution
            failures = [h for h in full.task_runs[0].history if h.state == st.STATE_FAILED]
            assert len(failures) == 1, "the lease fired more than once"
        finally:
            await stubs.channel.close()

    asyncio.run(scenario())


# -- the SDK -----------------------------------------------------------------------


async def test_the_sdk_claims_heartbeats_and_reports(
    running_server: Running, manual_clock: ManualClock
) -> None:
    from statehouse.client import AsyncClient, Client, FailedPreconditionError, StatehouseError

    async with AsyncClient.connect(running_server.target) as client:
        execution = await client.create_execution(namespace=NS, flow_id="etl")
        made = (await client.create_task_run(execution_id=execution.id, task_id="t")).task_run
        assert await client.claim_task_runs(worker_id="w", namespace="other", wait=0.2) == []
        [c] = await client.claim_task_runs(worker_id="w", namespace=NS, lease_duration=30)
        assert c.task_run.id == made.id and c.attempt == 1
        manual_clock.advance(20)
        ok, gone = await client.heartbeat([(made.id, 1), (made.id, 2)])
        assert not isinstance(ok, StatehouseError) and ok.task_run_state == st.STATE_RUNNING
        assert isinstance(gone, FailedPreconditionError) and gone.reason == "ATTEMPT_NOT_OPEN"
        manual_clock.advance(20)  # 40 s after the claim, 20 s after the heartbeat
        await running_server.server.scheduler.fire_due()
        done = await client.transition_task_run(made.id, state="success", attempt=1)
        assert done.task_run.state == st.STATE_SUCCESS

    def blocking() -> None:
        with Client.connect(running_server.target) as client:
            execution = client.create_execution(namespace=NS, flow_id="etl")
            made = client.create_task_run(execution_id=execution.id, task_id="t").task_run
            [c] = client.claim_task_runs(worker_id="b", namespace=NS, max_task_runs=5)
            assert c.task_run.id == made.id
            with pytest.raises(FailedPreconditionError) as refused:
                client.transition_task_run(made.id, state="success", attempt=2)
            assert refused.value.reason == "ATTEMPT_NOT_OPEN"

    await asyncio.to_thread(blocking)
