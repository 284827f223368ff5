"""Kill, restart, pause and resume with durable timers, retries and completion,
driven as whole scenarios through a real server."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import grpc
import pytest
from google.protobuf import duration_pb2, struct_pb2

from statehouse.v1 import (
    execution_pb2,
    execution_service_pb2 as pb,
    execution_service_pb2_grpc as pb_grpc,
    state_pb2 as st,
)
from tests.eventually import eventually, eventually_async

from .conftest import ManualClock, Running, ServerProcess, Stubs
from .helpers import create, details, get, move, recorded_events, task_run, wait_for_state

Code = grpc.StatusCode
Factory = Callable[..., Awaitable[Running]]


def ms(n: int) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=n // 1000, nanos=(n % 1000) * 1_000_000)


def states(tr: execution_pb2.TaskRun | execution_pb2.Execution) -> list[str]:
    return [st.State.Name(h.state)[6:] for h in tr.history]


async def running_execution(stubs: Stubs, *tasks: str) -> tuple[str, list[str]]:
    ex = await create(stubs)
    ids = [(await task_run(stubs, ex.id, t)).id for t in tasks]
    return ex.id, ids


async def test_kill_cascades_then_ends_when_the_last_running_task_run_reports(
    stubs: Stubs,
) -> None:
    execution_id, (running, _created, paused) = await running_execution(
        stubs, "running", "created", "paused"
    )
    await move(stubs, running, st.STATE_RUNNING)
    await move(stubs, paused, st.STATE_RUNNING)
    await move(stubs, paused, st.STATE_PAUSED)
    killed = await stubs.executions.KillExecution(
        pb.KillExecutionRequest(execution_id=execution_id, reason="operator")
    )
    assert killed.changed
    assert killed.execution.state == st.STATE_KILLING
    by_task = {t.task_id: t for t in killed.execution.task_runs}
    assert by_task["running"].state == st.STATE_KILLING
    assert by_task["running"].attempts[0].state == st.STATE_RUNNING
    assert by_task["created"].state == st.STATE_KILLED
    assert list(by_task["created"].attempts) == []
    assert by_task["paused"].state == st.STATE_KILLED
    assert by_task["paused"].attempts[0].state == st.STATE_KILLED
    # The worker reports the kill: the execution ends by itself.
    reported = await move(stubs, running, st.STATE_KILLED)
    assert reported.execution_state == st.STATE_KILLED
    final = await get(stubs, execution_id)
    assert states(final) == ["CREATED", "RUNNING", "KILLING", "KILLED"]
    assert [t.attempts[-1].state for t in final.task_runs if t.attempts] == [st.STATE_KILLED] * 2
    assert await recorded_events(stubs, execution_id) == [
        ("execution", "CREATED", 0),
        ("running", "CREATED", 0),
        ("created", "CREATED", 0),
        ("paused", "CREATED", 0),
        ("running", "RUNNING", 1),
        ("execution", "RUNNING", 0),
        ("paused", "RUNNING", 1),
        ("paused", "PAUSED", 1),
        ("execution", "KILLING", 0),
        ("running", "KILLING", 1),
        ("created", "KILLED", 0),
        ("paused", "KILLED", 1),
        ("running", "KILLED", 1),
        ("execution", "KILLED", 0),
    ]


async def test_killing_twice_or_a_terminal_execution_changes_nothing(stubs: Stubs) -> None:
    execution_id, (tr,) = await running_execution(stubs, "t")
    await move(stubs, tr, st.STATE_RUNNING)
    first = await stubs.executions.KillExecution(pb.KillExecutionRequest(execution_id=execution_id))
    second = await stubs.executions.KillExecution(
        pb.KillExecutionRequest(execution_id=execution_id)
    )
    assert first.changed and not second.changed
    assert second.execution.revision == first.execution.revision
    done = await create(stubs)
    await stubs.executions.TransitionExecution(
        pb.TransitionExecutionRequest(execution_id=done.id, state=st.STATE_FAILED)
    )
    untouched = await stubs.executions.KillExecution(pb.KillExecutionRequest(execution_id=done.id))
    assert not untouched.changed and untouched.execution.state == st.STATE_FAILED


async def test_kill_of_an_execution_with_nothing_running_ends_at_once(stubs: Stubs) -> None:
    execution_id, _ = await running_execution(stubs, "a", "b")
    killed = await stubs.executions.KillExecution(
        pb.KillExecutionRequest(execution_id=execution_id)
    )
    assert killed.execution.state == st.STATE_KILLED
    assert states(killed.execution) == ["CREATED", "KILLING", "KILLED"]


async def test_kill_deadline_forces_running_task_runs_to_killed(server_factory: Factory) -> None:
    running = await server_factory(kill_deadline_seconds=0.3)
    stubs = Stubs(running.target)
    execution_id, (tr,) = await running_execution(stubs, "stuck")
    await move(stubs, tr, st.STATE_RUNNING)
    await stubs.executions.KillExecution(pb.KillExecutionRequest(execution_id=execution_id))
    final = await wait_for_state(stubs, execution_id, st.STATE_KILLED)
    stuck = final.task_runs[0]
    assert states(stuck) == ["CREATED", "RUNNING", "KILLING", "KILLED"]
    assert "kill deadline" in stuck.history[-1].reason
    assert stuck.attempts[0].state == st.STATE_KILLED
    await stubs.channel.close()


async def test_restart_after_failure_and_after_kill_numbers_attempts_on(stubs: Stubs) -> None:
    execution_id, (ok, flaky) = await running_execution(stubs, "ok", "flaky")
    for tr, end in ((ok, st.STATE_SUCCESS), (flaky, st.STATE_FAILED)):
        await move(stubs, tr, st.STATE_RUNNING)
        await move(stubs, tr, end)
    await stubs.executions.CompleteExecution(pb.CompleteExecutionRequest(execution_id=execution_id))
    assert (await get(stubs, execution_id)).state == st.STATE_FAILED

    restarted = (
        await stubs.executions.RestartExecution(
            pb.RestartExecutionRequest(execution_id=execution_id)
        )
    ).execution
    assert restarted.state == st.STATE_RESTARTED and restarted.restart_count == 1
    by_task = {t.task_id: t for t in restarted.task_runs}
    assert by_task["ok"].state == st.STATE_SUCCESS
    assert by_task["flaky"].state == st.STATE_RESTARTED
    started = await move(stubs, flaky, st.STATE_RUNNING)
    assert [a.number for a in started.task_run.attempts] == [1, 2]
    assert started.execution_state == st.STATE_RUNNING

    await stubs.executions.KillExecution(pb.KillExecutionRequest(execution_id=execution_id))
    await move(stubs, flaky, st.STATE_KILLED)
    assert (await get(stubs, execution_id)).state == st.STATE_KILLED
    again = (
        await stubs.executions.RestartExecution(
            pb.RestartExecutionRequest(execution_id=execution_id)
        )
    ).execution
    assert again.restart_count == 2
    third = await move(stubs, flaky, st.STATE_RUNNING)
    assert [(a.number, a.state) for a in third.task_run.attempts] == [
        (1, st.STATE_FAILED),
        (2, st.STATE_KILLED),
        (3, st.STATE_RUNNING),
    ]
    assert states(await get(stubs, execution_id)) == [
        "CREATED", "RUNNING", "FAILED", "RESTARTED", "RUNNING", "KILLING", "KILLED",
        "RESTARTED", "RUNNING",
    ]  # fmt: skip


async def test_restart_of_anything_but_failed_or_killed_is_refused(stubs: Stubs) -> None:
    execution_id, _ = await running_execution(stubs)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stubs.executions.RestartExecution(
            pb.RestartExecutionRequest(execution_id=execution_id)
        )
    assert info.value.code() == Code.FAILED_PRECONDITION
    assert details(info.value)[1] == {"current_state": "CREATED", "requested_state": "RESTARTED"}


async def pause(stubs: Stubs, execution_id: str, **kwargs: object) -> pb.PauseExecutionResponse:
    return await stubs.executions.PauseExecution(
        pb.PauseExecutionRequest(execution_id=execution_id, **kwargs)  # type: ignore[arg-type]
    )


async def started(stubs: Stubs, *tasks: str) -> tuple[str, list[str]]:
    execution_id, ids = await running_execution(stubs, *tasks)
    await move(stubs, ids[0], st.STATE_RUNNING)
    return execution_id, ids


async def test_pause_with_delay_resumes_by_itself(stubs: Stubs, manual_clock: ManualClock) -> None:
    execution_id, (tr, later) = await started(stubs, "a", "b")
    paused = await pause(stubs, execution_id, delay=ms(300))
    assert paused.execution.state == st.STATE_PAUSED
    assert paused.HasField("resume_time")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await move(stubs, later, st.STATE_RUNNING)
    assert details(info.value)[0] == "EXECUTION_PAUSED"
    await move(stubs, tr, st.STATE_SUCCESS)  # a running task run may finish
    manual_clock.advance(0.3)  # the delay passes: the scheduler resumes it by itself
    resumed = await wait_for_state(stubs, execution_id, st.STATE_RUNNING)
    assert resumed.history[-1].reason == "pause delay elapsed"
    await move(stubs, later, st.STATE_RUNNING)


async def test_manual_resume_cancels_the_timer(
    running_server: Running, stubs: Stubs, manual_clock: ManualClock
) -> None:
    execution_id, _ = await started(stubs, "a")
    await pause(stubs, execution_id, delay=ms(300))
    await stubs.executions.ResumeExecution(pb.ResumeExecutionRequest(execution_id=execution_id))
    await pause(stubs, execution_id)  # paused again, by hand, with no timer
    manual_clock.advance(1.0)  # the timer's time passes
    await running_server.server.scheduler.fire_due()
    after = await get(stubs, execution_id)
    assert after.state == st.STATE_PAUSED
    assert states(after) == ["CREATED", "RUNNING", "PAUSED", "RUNNING", "PAUSED"]


@pytest.mark.parametrize(
    ("action", "final", "task_state"),
    [
        (pb.PAUSE_TIMEOUT_ACTION_RESUME, st.STATE_RUNNING, st.STATE_RUNNING),
        (pb.PAUSE_TIMEOUT_ACTION_WARN, st.STATE_WARNING, st.STATE_WARNING),
        (pb.PAUSE_TIMEOUT_ACTION_FAIL, st.STATE_FAILED, st.STATE_FAILED),
        (pb.PAUSE_TIMEOUT_ACTION_KILL, st.STATE_KILLING, st.STATE_KILLING),
    ],
    ids=["RESUME", "WARN", "FAIL", "KILL"],
)
async def test_execution_pause_timeout_actions(
    running_server: Running,
    stubs: Stubs,
    manual_clock: ManualClock,
    action: int,
    final: int,
    task_state: int,
) -> None:
    execution_id, _ = await started(stubs, "a", "b")
    await pause(stubs, execution_id, timeout=ms(200), on_timeout=action)
    manual_clock.advance(1.0)  # past the pause's timeout: its timer is due
    await running_server.server.scheduler.fire_due()
    ended = await wait_for_state(stubs, execution_id, final)
    by_task = {t.task_id: t for t in ended.task_runs}
    assert by_task["a"].state == task_state
    assert ended.history[-1].reason == "pause timeout elapsed" or final == st.STATE_KILLING
    if final in (st.STATE_WARNING, st.STATE_FAILED):
        # A task run that never started cannot end WARNING; it ends KILLED (never ran).
        expected = st.STATE_FAILED if final == st.STATE_FAILED else st.STATE_KILLED
        assert by_task["b"].state == expected


@pytest.mark.parametrize(
    ("action", "task_state"),
    [
        (pb.PAUSE_TIMEOUT_ACTION_RESUME, st.STATE_RUNNING),
        (pb.PAUSE_TIMEOUT_ACTION_WARN, st.STATE_WARNING),
        (pb.PAUSE_TIMEOUT_ACTION_FAIL, st.STATE_FAILED),
        (pb.PAUSE_TIMEOUT_ACTION_KILL, st.STATE_KILLED),
    ],
    ids=["RESUME", "WARN", "FAIL", "KILL"],
)
async def test_task_run_pause_timeout_actions(
    running_server: Running, stubs: Stubs, manual_clock: ManualClock, action: int, task_state: int
) -> None:
    execution_id, (tr,) = await started(stubs, "approval")
    paused = await pause(stubs, execution_id, task_run_id=tr, timeout=ms(200), on_timeout=action)
    assert paused.execution.state == st.STATE_RUNNING
    assert paused.execution.task_runs[0].state == st.STATE_PAUSED
    manual_clock.advance(1.0)  # past the pause's timeout: its timer is due
    await running_server.server.scheduler.fire_due()

    async def ended_pause() -> execution_pb2.TaskRun | None:
        current = (await get(stubs, execution_id)).task_runs[0]
        return current if current.state != st.STATE_PAUSED else None

    ended = await eventually_async(ended_pause, "the task run's pause ended", step=0.05)
    assert ended.state == task_state
    assert [a.number for a in ended.attempts] == [1]
    assert ended.attempts[0].state == task_state


def test_pause_with_delay_fires_after_a_server_restart(server_process: ServerProcess) -> None:
    channel = grpc.insecure_channel(server_process.target)
    executions = pb_grpc.ExecutionServiceStub(channel)
    ex = executions.CreateExecution(
        pb.CreateExecutionRequest(namespace="ns", flow_id="f")
    ).execution
    tr = executions.CreateTaskRun(pb.CreateTaskRunRequest(execution_id=ex.id, task_id="t")).task_run
    executions.TransitionTaskRun(
        pb.TransitionTaskRunRequest(task_run_id=tr.id, state=st.STATE_RUNNING)
    )
    paused = executions.PauseExecution(pb.PauseExecutionRequest(execution_id=ex.id, delay=ms(1500)))
    channel.close()
    server_process.stop()
    # Down across the due time: the timer is in the database, not in the process.
    time.sleep(max(0.0, paused.resume_time.ToMicroseconds() / 1e6 - time.time()) + 0.2)
    server_process.start()
    channel = grpc.insecure_channel(server_process.target)
    executions = pb_grpc.ExecutionServiceStub(channel)

    def unpaused() -> int | None:
        state = executions.GetExecution(pb.GetExecutionRequest(execution_id=ex.id)).execution.state
        return state if state != st.STATE_PAUSED else None

    assert eventually(unpaused, "the pause ended", step=0.05) == st.STATE_RUNNING
    channel.close()


def policy(**kwargs: object) -> execution_pb2.RetryPolicy:
    return execution_pb2.RetryPolicy(**kwargs)  # type: ignore[arg-type]


async def fail_until(
    stubs: Stubs,
    retry_policy: execution_pb2.RetryPolicy,
    failures: int,
    *,
    succeed: bool,
    clock: ManualClock,
) -> tuple[list[pb.TransitionTaskRunResponse], execution_pb2.TaskRun]:
    ex = await create(stubs)
    tr = (
        await stubs.executions.CreateTaskRun(
            pb.CreateTaskRunRequest(execution_id=ex.id, task_id="t", retry_policy=retry_policy)
        )
    ).task_run
    responses = []
    for _ in range(failures):
        await wait_until_due(stubs, ex.id, clock)
        await move(stubs, tr.id, st.STATE_RUNNING)
        responses.append(await move(stubs, tr.id, st.STATE_FAILED))
    if succeed:
        await wait_until_due(stubs, ex.id, clock)
        await move(stubs, tr.id, st.STATE_RUNNING)
        responses.append(await move(stubs, tr.id, st.STATE_SUCCESS))
    return responses, (await get(stubs, ex.id)).task_runs[0]


async def wait_until_due(stubs: Stubs, execution_id: str, clock: ManualClock) -> None:
    """A worker waits for next_attempt_time before starting the next attempt: here
    the server's clock is moved there (and a millisecond past)."""
    current = (await get(stubs, execution_id)).task_runs[0]
    if current.HasField("next_attempt_time"):
        clock.advance(max(0, current.next_attempt_time.ToMicroseconds() - clock.now) / 1e6 + 0.001)


@pytest.mark.parametrize(
    "interval",
    [
        {"constant": execution_pb2.RetryPolicy.Constant(interval=ms(50))},
        {
            "exponential": execution_pb2.RetryPolicy.Exponential(
                interval=ms(20), max_interval=ms(50), factor=2
            )
        },
        {"random": execution_pb2.RetryPolicy.Random(min_interval=ms(10), max_interval=ms(60))},
    ],
    ids=["constant", "exponential", "random"],
)
async def test_retries_until_exhausted(
    stubs: Stubs, manual_clock: ManualClock, interval: dict[str, object]
) -> None:
    responses, final = await fail_until(
        stubs, policy(max_attempts=3, **interval), 3, succeed=False, clock=manual_clock
    )
    scheduled = [(r.retry.scheduled, r.retry.next_attempt) for r in responses]
    assert scheduled == [(True, 2), (True, 3), (False, 0)]
    assert final.state == st.STATE_FAILED
    assert [(a.number, a.state) for a in final.attempts] == [
        (1, st.STATE_FAILED),
        (2, st.STATE_FAILED),
        (3, st.STATE_FAILED),
    ]
    waits = [
        r.retry.next_attempt_time.ToMicroseconds() - r.task_run.history[-2].time.ToMicroseconds()
        for r in responses[:2]
    ]
    if "constant" in interval:
        assert waits == [50_000, 50_000]
    elif "exponential" in interval:
        assert waits == [20_000, 40_000]
    else:
        assert all(10_000 <= w <= 60_000 for w in waits)


@pytest.mark.parametrize(
    "interval",
    [
        {"constant": execution_pb2.RetryPolicy.Constant(interval=ms(20))},
        {
            "exponential": execution_pb2.RetryPolicy.Exponential(
                interval=ms(10), max_interval=ms(40), factor=3
            )
        },
        {"random": execution_pb2.RetryPolicy.Random(min_interval=ms(5), max_interval=ms(30))},
    ],
    ids=["constant", "exponential", "random"],
)
async def test_retries_then_success(
    stubs: Stubs, manual_clock: ManualClock, interval: dict[str, object]
) -> None:
    responses, final = await fail_until(
        stubs, policy(max_attempts=4, **interval), 2, succeed=True, clock=manual_clock
    )
    assert [(r.retry.scheduled, r.retry.next_attempt) for r in responses[:2]] == [
        (True, 2),
        (True, 3),
    ]
    assert not responses[2].HasField("retry")
    assert final.state == st.STATE_SUCCESS
    assert [(a.number, a.state) for a in final.attempts] == [
        (1, st.STATE_FAILED),
        (2, st.STATE_FAILED),
        (3, st.STATE_SUCCESS),
    ]


async def test_retry_then_success_with_warning_on_retry(
    stubs: Stubs, manual_clock: ManualClock
) -> None:
    constant = execution_pb2.RetryPolicy.Constant(interval=ms(30))
    p = policy(max_attempts=3, constant=constant, warning_on_retry=True)
    _, final = await fail_until(stubs, p, 1, succeed=True, clock=manual_clock)
    assert final.state == st.STATE_WARNING
    assert [(a.number, a.state) for a in final.attempts] == [
        (1, st.STATE_FAILED),
        (2, st.STATE_WARNING),
    ]
    assert states(final) == ["CREATED", "RUNNING", "FAILED", "RESTARTED", "RUNNING", "WARNING"]


async def test_a_retry_cannot_start_before_it_is_due(stubs: Stubs) -> None:
    ex = await create(stubs)
    constant = execution_pb2.RetryPolicy.Constant(interval=ms(60_000))
    tr = (
        await stubs.executions.CreateTaskRun(
            pb.CreateTaskRunRequest(
                execution_id=ex.id,
                task_id="t",
                retry_policy=policy(max_attempts=2, constant=constant),
            )
        )
    ).task_run
    await move(stubs, tr.id, st.STATE_RUNNING)
    failed = await move(stubs, tr.id, st.STATE_FAILED)
    assert failed.task_run.state == st.STATE_RESTARTED
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await move(stubs, tr.id, st.STATE_RUNNING)
    assert details(info.value)[0] == "RETRY_NOT_DUE"
    # The time in the message is ISO 8601 UTC: the retry decision's next_attempt_time.
    due = failed.retry.next_attempt_time.ToJsonString()
    assert due.endswith("Z") and "T" in due
    assert info.value.details() == (
        f"task run {tr.id} may start its next attempt at {due}, not before"
    )


async def test_retry_max_duration_stops_retries(stubs: Stubs, manual_clock: ManualClock) -> None:
    constant = execution_pb2.RetryPolicy.Constant(interval=ms(500))
    p = policy(max_attempts=5, constant=constant, max_duration=ms(100))
    responses, final = await fail_until(stubs, p, 1, succeed=False, clock=manual_clock)
    assert not responses[0].retry.scheduled
    assert final.state == st.STATE_FAILED


async def test_bad_retry_policies_are_rejected(stubs: Stubs) -> None:
    ex = await create(stubs)
    for bad, field in [
        (policy(max_attempts=0, constant=execution_pb2.RetryPolicy.Constant(interval=ms(5))), "retry_policy.max_attempts"),
        (policy(max_attempts=2), "retry_policy.interval"),
        (policy(max_attempts=2, random=execution_pb2.RetryPolicy.Random(min_interval=ms(9), max_interval=ms(1))), "retry_policy.random"),
    ]:  # fmt: skip
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stubs.executions.CreateTaskRun(
                pb.CreateTaskRunRequest(execution_id=ex.id, task_id="t", retry_policy=bad)
            )
        assert info.value.code() == Code.INVALID_ARGUMENT
        assert field in details(info.value)[2]


@pytest.mark.parametrize(
    ("ends", "derived"),
    [
        ([st.STATE_SUCCESS, st.STATE_SUCCESS], st.STATE_SUCCESS),
        ([st.STATE_SUCCESS, st.STATE_WARNING], st.STATE_WARNING),
        ([st.STATE_WARNING, st.STATE_FAILED], st.STATE_FAILED),
        ([st.STATE_FAILED, st.STATE_KILLED], st.STATE_KILLED),
    ],
    ids=["SUCCESS", "WARNING", "FAILED", "KILLED"],
)
async def test_completion_derives_the_state_from_task_runs(
    stubs: Stubs, ends: list[int], derived: int
) -> None:
    execution_id, ids = await running_execution(stubs, "a", "b")
    for tr, end in zip(ids, ends, strict=True):
        await move(stubs, tr, st.STATE_RUNNING)
        await move(stubs, tr, end)
    outputs = struct_pb2.Struct()
    outputs.update({"result": "done"})
    completed = await stubs.executions.CompleteExecution(
        pb.CompleteExecutionRequest(execution_id=execution_id, outputs=outputs)
    )
    assert completed.execution.state == derived
    assert completed.execution.outputs == outputs


async def test_completion_is_rejected_while_task_runs_are_active(stubs: Stubs) -> None:
    execution_id, (tr,) = await started(stubs, "a")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stubs.executions.CompleteExecution(
            pb.CompleteExecutionRequest(execution_id=execution_id)
        )
    assert details(info.value)[0] == "TASK_RUNS_ACTIVE"
    await move(stubs, tr, st.STATE_SUCCESS)
    explicit = await stubs.executions.CompleteExecution(
        pb.CompleteExecutionRequest(execution_id=execution_id, state=st.STATE_WARNING)
    )
    assert explicit.execution.state == st.STATE_WARNING


async def test_lifecycle_calls_are_idempotent_and_check_revisions(stubs: Stubs) -> None:
    execution_id, _ = await started(stubs, "a")
    current = (await get(stubs, execution_id)).revision
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stubs.executions.KillExecution(
            pb.KillExecutionRequest(execution_id=execution_id, expected_revision=current - 1)
        )
    assert info.value.code() == Code.ABORTED
    request = pb.KillExecutionRequest(
        execution_id=execution_id, expected_revision=current, request_id="kill-1"
    )
    first = await stubs.executions.KillExecution(request)
    again = await stubs.executions.KillExecution(request)
    assert first == again and again.changed
