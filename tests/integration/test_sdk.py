"""The SDK against a real server: every method, pagination, typed errors, and
subscriptions that resume across server restarts."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import grpc
import pytest

from statehouse.client import (
    AsyncClient,
    CallRetry,
    Client,
    Execution,
    ExecutionPausedError,
    Heartbeat,
    InvalidArgumentError,
    InvalidTransitionError,
    MetricType,
    NotFoundError,
    PayloadTooLargeError,
    RequestIdReusedError,
    RevisionMismatchError,
    SequenceCompactedError,
    State,
    StateChangeEvent,
    TaskRunsActiveError,
    TaskRunView,
    counter,
    timer,
)
from statehouse.v1 import execution_service_pb2

from .conftest import Running

_T = TypeVar("_T")

DEADLINE = 20.0  # seconds to wait for something expected to happen


@pytest.fixture
async def client(server_target: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient.connect(server_target) as c:
        yield c


async def new_execution(client: AsyncClient, **overrides: object) -> Execution:
    options: dict[str, object] = {"namespace": "company.team", "flow_id": "etl"}
    options.update(overrides)
    return await client.create_execution(**options)  # type: ignore[arg-type]


async def wait(step: Awaitable[_T], seconds: float = DEADLINE) -> _T:
    return await asyncio.wait_for(step, seconds)


async def next_within(iterator: AsyncIterator[object], seconds: float = DEADLINE) -> object:
    return await asyncio.wait_for(anext(iterator), seconds)


# ExecutionService


async def test_create_and_get_round_trip_plain_values(client: AsyncClient) -> None:
    created = await client.create_execution(
        namespace="company.team",
        flow_id="etl",
        flow_revision=3,
        labels={"env": "prod", "team": "data"},
        inputs={"day": "2025-01-31", "retries": 2, "tags": ["a", "b"], "nested": {"ok": True}},
    )
    assert created.state == State.CREATED
    assert created.revision >= 1
    fetched = await client.get_execution(created.id)
    assert fetched.id == created.id
    assert (fetched.namespace, fetched.flow_id, fetched.flow_revision) == ("company.team", "etl", 3)
    assert dict(fetched.labels) == {"env": "prod", "team": "data"}
    assert fetched.inputs["day"] == "2025-01-31"
    assert fetched.inputs["retries"] == 2
    assert list(fetched.inputs["tags"]) == ["a", "b"]
    assert fetched.inputs["nested"]["ok"] is True
    assert [State(h.state) for h in fetched.history] == [State.CREATED]


async def test_create_is_idempotent_by_request_id(client: AsyncClient) -> None:
    first = await new_execution(client, labels={"k": "v"}, request_id="req-1")
    again = await new_execution(client, labels={"k": "v"}, request_id="req-1")
    assert again.id == first.id
    with pytest.raises(RequestIdReusedError) as caught:
        await new_execution(client, flow_id="other", request_id="req-1")
    assert caught.value.reason == "REQUEST_ID_REUSED"
    listed = [e.id async for e in client.list_executions(namespace="company.team")]
    assert listed == [first.id]


async def test_list_follows_page_tokens_across_pages(client: AsyncClient) -> None:
    created = [(await new_execution(client, labels={"batch": "b1"})).id for _ in range(7)]
    await new_execution(client, flow_id="other")
    found = [e.id async for e in client.list_executions(flow_id="etl", page_size=3)]
    assert sorted(found) == sorted(created)  # 3 pages: 3 + 3 + 1, nothing lost or repeated
    assert found == list(reversed(created))  # newest first
    by_label = [e.id async for e in client.list_executions(labels={"batch": "b1"}, page_size=2)]
    assert sorted(by_label) == sorted(created)


async def test_list_filters_by_state(client: AsyncClient) -> None:
    running = await new_execution(client)
    await client.transition_execution(running.id, state=State.RUNNING)
    waiting = await new_execution(client)
    ids = [e.id async for e in client.list_executions(states=[State.RUNNING])]
    assert ids == [running.id]
    ids = [e.id async for e in client.list_executions(states=["created", "running"])]
    assert sorted(ids) == sorted([running.id, waiting.id])


async def test_a_task_run_lifecycle(client: AsyncClient) -> None:
    execution = await new_execution(client)
    created = await client.create_task_run(execution_id=execution.id, task_id="extract", value="v1")
    run = created.task_run
    assert (run.state, run.task_id, run.value) == (State.CREATED, "extract", "v1")
    assert created.execution_revision > execution.revision

    started = await client.transition_task_run(run.id, state=State.RUNNING, worker_id="w1")
    assert started.task_run.state == State.RUNNING
    assert started.execution_state == State.RUNNING  # the task run started its execution
    assert [(a.number, a.worker_id) for a in started.task_run.attempts] == [(1, "w1")]

    done = await client.transition_task_run(
        run.id, state="success", outputs={"rows": 10}, reason="done"
    )
    assert done.task_run.state == State.SUCCESS
    assert done.task_run.outputs["rows"] == 10
    assert done.task_run.attempts[0].state == State.SUCCESS

    completed = await client.complete_execution(execution.id, outputs={"total": 10})
    assert completed.state == State.SUCCESS  # derived from the task runs
    assert completed.outputs["total"] == 10
    full = await client.get_execution(execution.id)
    assert [t.id for t in full.task_runs] == [run.id]

    await client.delete_execution(execution.id)
    with pytest.raises(NotFoundError) as caught:
        await client.get_execution(execution.id)
    assert caught.value.reason == "EXECUTION_NOT_FOUND"


async def test_pause_blocks_task_runs_until_resumed(client: AsyncClient) -> None:
    execution = await client.transition_execution(
        (await new_execution(client)).id, state=State.RUNNING
    )
    paused = await client.pause_execution(execution.id, reason="wait for approval")
    assert paused.execution.state == State.PAUSED
    run = (await client.create_task_run(execution_id=execution.id, task_id="t")).task_run
    with pytest.raises(ExecutionPausedError) as caught:
        await client.transition_task_run(run.id, state=State.RUNNING)
    assert caught.value.reason == "EXECUTION_PAUSED"
    resumed = await client.resume_execution(execution.id, reason="approved")
    assert resumed.state == State.RUNNING
    started = await client.transition_task_run(run.id, state=State.RUNNING)
    assert started.task_run.state == State.RUNNING


async def test_pause_with_a_delay_resumes_by_itself(client: AsyncClient) -> None:
    execution = await client.transition_execution(
        (await new_execution(client)).id, state=State.RUNNING
    )
    paused = await client.pause_execution(execution.id, delay=timedelta(milliseconds=200))
    assert paused.HasField("resume_time")
    follow = client.follow_execution(execution.id)
    states = []
    while not states or states[-1] != State.RUNNING or len(states) < 2:
        snapshot = await next_within(follow)
        assert isinstance(snapshot, Execution)
        states.append(State(snapshot.state))
    assert states[0] == State.PAUSED
    await follow.aclose()  # type: ignore[attr-defined]


async def test_kill_cascades_and_restart_reopens(client: AsyncClient) -> None:
    execution = await new_execution(client)
    run = (await client.create_task_run(execution_id=execution.id, task_id="t")).task_run
    await client.transition_task_run(run.id, state=State.RUNNING)
    killed = await client.kill_execution(execution.id, reason="stop")
    assert killed.changed
    assert killed.execution.state == State.KILLING
    assert killed.execution.task_runs[0].state == State.KILLING
    await client.transition_task_run(run.id, state=State.KILLED)
    assert (await client.get_execution(execution.id)).state == State.KILLED
    again = await client.kill_execution(execution.id)
    assert not again.changed
    restarted = await client.restart_execution(execution.id, reason="retry")
    assert restarted.state == State.RESTARTED
    assert restarted.task_runs[0].state == State.RESTARTED
    second = await client.transition_task_run(run.id, state=State.RUNNING)
    assert [a.number for a in second.task_run.attempts] == [1, 2]


async def test_follow_execution_ends_when_everything_is_terminal(client: AsyncClient) -> None:
    execution = await new_execution(client)
    run = (await client.create_task_run(execution_id=execution.id, task_id="t")).task_run

    async def drive() -> None:
        await client.transition_task_run(run.id, state=State.RUNNING)
        await client.transition_task_run(run.id, state=State.SUCCESS)
        await client.complete_execution(execution.id)

    snapshots: list[Execution] = []

    async def follow() -> None:
        async for snapshot in client.follow_execution(execution.id):
            snapshots.append(snapshot)
            if len(snapshots) == 1:
                await drive()

    await asyncio.wait_for(follow(), DEADLINE)
    revisions = [s.revision for s in snapshots]
    assert revisions == sorted(set(revisions))  # no snapshot twice, in order
    assert snapshots[0].state == State.CREATED
    assert snapshots[-1].state == State.SUCCESS
    assert snapshots[-1].task_runs[0].state == State.SUCCESS


# Errors


async def test_an_illegal_transition_says_from_where_to_where(client: AsyncClient) -> None:
    execution = await new_execution(client)
    with pytest.raises(InvalidTransitionError) as caught:
        await client.transition_execution(execution.id, state=State.SUCCESS)
    error = caught.value
    assert error.reason == "INVALID_TRANSITION"
    assert (error.current_state, error.requested_state) == (State.CREATED, State.SUCCESS)
    assert isinstance(error.__cause__, Exception)


async def test_an_execution_cannot_end_with_active_task_runs(client: AsyncClient) -> None:
    execution = await new_execution(client)
    run = (await client.create_task_run(execution_id=execution.id, task_id="t")).task_run
    await client.transition_task_run(run.id, state=State.RUNNING)
    with pytest.raises(TaskRunsActiveError) as caught:
        await client.transition_execution(execution.id, state=State.SUCCESS)
    assert caught.value.reason == "TASK_RUNS_ACTIVE"


async def test_a_stale_revision_is_refused(client: AsyncClient) -> None:
    execution = await new_execution(client)
    moved = await client.transition_execution(
        execution.id, state=State.RUNNING, expected_revision=execution.revision
    )
    with pytest.raises(RevisionMismatchError) as caught:
        await client.transition_execution(
            execution.id, state=State.PAUSED, expected_revision=execution.revision
        )
    error = caught.value
    assert error.reason == "REVISION_MISMATCH"
    assert (error.expected_revision, error.current_revision) == (execution.revision, moved.revision)


async def test_bad_arguments_name_their_fields(client: AsyncClient) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        await client.create_execution(namespace="Not Valid!", flow_id="")
    error = caught.value
    assert error.reason == "INVALID_ARGUMENT"
    fields = {field for field, _ in error.field_violations}
    assert {"namespace", "flow_id"} <= fields
    assert all(description for _, description in error.field_violations)


async def test_a_payload_over_the_limit_is_refused(client: AsyncClient) -> None:
    with pytest.raises(PayloadTooLargeError) as caught:
        await new_execution(client, inputs={"blob": "x" * (2 << 20)})
    error = caught.value
    assert error.reason == "PAYLOAD_TOO_LARGE"
    assert error.limit_bytes is not None and error.size_bytes is not None
    assert error.size_bytes > error.limit_bytes


async def test_unknown_ids_are_not_found(client: AsyncClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.transition_task_run("no-such-run", state=State.RUNNING)
    assert caught.value.reason == "TASK_RUN_NOT_FOUND"


# MetricService


async def test_metrics_record_list_and_aggregate(client: AsyncClient) -> None:
    execution = await new_execution(client)
    run = (await client.create_task_run(execution_id=execution.id, task_id="load")).task_run
    await client.transition_task_run(run.id, state=State.RUNNING)
    recorded = await client.record_metrics(
        run.id,
        metrics=[
            counter("rows", 10, tags={"table": "a"}),
            counter("rows", 5, tags={"table": "b"}),
            counter("bytes", 100),
            timer("duration", timedelta(milliseconds=1500)),
            timer("wait", 0.25),
        ],
    )
    assert recorded == 5
    metrics = [m async for m in client.list_metrics(execution_id=execution.id, page_size=2)]
    assert sorted((m.name, m.tags.get("table", "")) for m in metrics) == [
        ("bytes", ""),
        ("duration", ""),
        ("rows", "a"),
        ("rows", "b"),
        ("wait", ""),
    ]
    duration = next(m for m in metrics if m.name == "duration")
    assert duration.timer.ToTimedelta() == timedelta(milliseconds=1500)
    assert duration.attempt == 1
    by_run = [m async for m in client.list_metrics(task_run_id=run.id)]
    assert len(by_run) == 5

    now = datetime.now(UTC)
    aggregated = await client.aggregate_metrics(
        namespace="company.team",
        name="rows",
        type=MetricType.COUNTER,
        start_time=now - timedelta(hours=1),
        end_time=now + timedelta(hours=1),
        group_by_tag="table",
    )
    totals = {s.tag_value: sum(b.sum for b in s.buckets) for s in aggregated.series}
    assert totals == {"a": 10, "b": 5}


# EventService, asyncio


async def test_subscribe_replays_history_in_order_then_goes_live(client: AsyncClient) -> None:
    execution = await new_execution(client)
    await client.transition_execution(execution.id, state=State.RUNNING)
    subscription = client.subscribe(execution_ids=[execution.id])
    first = await next_within(subscription)
    second = await next_within(subscription)
    assert isinstance(first, StateChangeEvent) and isinstance(second, StateChangeEvent)
    assert (first.previous_state, first.state) == (State.UNSPECIFIED, State.CREATED)
    assert (second.previous_state, second.state) == (State.CREATED, State.RUNNING)
    assert second.sequence > first.sequence
    assert subscription.last_sequence == second.sequence

    await client.pause_execution(execution.id)  # live, after the replay
    live = await next_within(subscription)
    assert isinstance(live, StateChangeEvent)
    assert live.state == State.PAUSED and live.sequence > second.sequence
    assert live.execution_revision == (await client.get_execution(execution.id)).revision
    await subscription.close()
    with pytest.raises(StopAsyncIteration):
        await next_within(subscription)


async def test_subscribe_resumes_after_a_sequence(client: AsyncClient) -> None:
    execution = await new_execution(client)
    await client.transition_execution(execution.id, state=State.RUNNING)
    await client.transition_execution(execution.id, state=State.FAILED)
    everything = client.subscribe(execution_ids=[execution.id])
    events = [await next_within(everything) for _ in range(3)]
    await everything.close()
    sequences = [e.sequence for e in events]  # type: ignore[attr-defined]
    rest = client.subscribe(execution_ids=[execution.id], after_sequence=sequences[0])
    resumed = [await next_within(rest) for _ in range(2)]
    await rest.close()
    assert [e.sequence for e in resumed] == sequences[1:]  # type: ignore[attr-defined]


async def test_subscribe_from_latest_skips_history(client: AsyncClient) -> None:
    old = await new_execution(client)
    subscription = client.subscribe(from_latest=True, heartbeat_interval=0.1, heartbeats=True)
    # A heartbeat proves the stream is open (and sets the cursor) before we write.
    beat = await next_within(subscription)
    assert isinstance(beat, Heartbeat)
    assert subscription.last_sequence == beat.sequence
    new = await new_execution(client)
    item = await next_within(subscription)
    while isinstance(item, Heartbeat):
        item = await next_within(subscription)
    assert isinstance(item, StateChangeEvent)
    assert item.execution_id == new.id != old.id
    await subscription.close()


async def test_heartbeats_advance_the_cursor_of_a_filtered_subscriber(client: AsyncClient) -> None:
    subscription = client.subscribe(
        namespace="nobody.listens.here",
        heartbeat_interval=timedelta(milliseconds=100),
        heartbeats=True,
    )
    await new_execution(client)  # an event this subscriber does not see
    latest = 0
    while latest == 0:  # until a heartbeat covers the unseen event
        beat = await next_within(subscription)
        assert isinstance(beat, Heartbeat)
        latest = beat.sequence
    assert subscription.last_sequence == latest
    await subscription.close()


async def test_subscribe_without_heartbeats_hides_them(client: AsyncClient) -> None:
    subscription = client.subscribe(namespace="company.team", heartbeat_interval=0.1)
    execution = await new_execution(client)
    event = await next_within(subscription)
    assert isinstance(event, StateChangeEvent)
    assert event.execution_id == execution.id
    await subscription.close()


# The blocking client and restarts, against a server process


def test_the_blocking_client_round_trips(server_process: object) -> None:
    target = server_process.target  # type: ignore[attr-defined]
    with Client.connect(target) as client:
        execution = client.create_execution(namespace="ns", flow_id="f", inputs={"a": 1})
        assert client.get_execution(execution.id).inputs["a"] == 1
        run = client.create_task_run(execution_id=execution.id, task_id="t").task_run
        client.transition_task_run(run.id, state=State.RUNNING)
        client.transition_task_run(run.id, state=State.FAILED)
        failed = client.complete_execution(execution.id)
        assert failed.state == State.FAILED
        assert [e.id for e in client.list_executions(page_size=1)] == [execution.id]
        snapshots = list(client.follow_execution(execution.id))
        assert snapshots[-1].state == State.FAILED
        events = client.subscribe(execution_ids=[execution.id])
        states = [State(next(events).state) for _ in range(6)]
        events.close()
        assert states[-2:] == [State.FAILED, State.FAILED]  # the task run, then the execution


class Collector:
    """Iterates a blocking subscription in a thread, handing events over a queue."""

    def __init__(self, subscription: Iterator[StateChangeEvent]) -> None:
        self.queue: queue.Queue[StateChangeEvent | BaseException] = queue.Queue()
        self.subscription = subscription
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for event in self.subscription:
                self.queue.put(event)
        except BaseException as exc:  # handed to the test
            self.queue.put(exc)

    def take(self, count: int) -> list[StateChangeEvent]:
        events = []
        for _ in range(count):
            item = self.queue.get(timeout=DEADLINE)
            if isinstance(item, BaseException):
                raise item
            events.append(item)
        return events


@pytest.mark.parametrize("how", ["graceful", "crash"])
def test_a_subscription_resumes_across_a_server_restart(server_process: object, how: str) -> None:
    proc = server_process
    write_retry = CallRetry(max_attempts=60, initial_backoff=0.05, max_backoff=0.5)
    with Client.connect(proc.target, retry=write_retry) as client:  # type: ignore[attr-defined]
        subscription = client.subscribe(after_sequence=0)
        collector = Collector(subscription)
        before = [
            client.create_execution(namespace="ns", flow_id="f", request_id=f"before-{i}")
            for i in range(5)
        ]
        seen = collector.take(5)
        assert (subscription.reconnects, subscription.duplicates_dropped) == (0, 0)

        if how == "graceful":
            proc.restart()  # type: ignore[attr-defined]
        else:
            proc.kill()  # type: ignore[attr-defined]
            proc.restart()  # type: ignore[attr-defined]

        # A request_id makes the creates safe to retry while the server comes back.
        after = [
            client.create_execution(namespace="ns", flow_id="f", request_id=f"after-{i}")
            for i in range(5)
        ]
        for execution in after:
            client.transition_execution(
                execution.id, state=State.RUNNING, request_id=f"run-{execution.id}"
            )
        seen += collector.take(10)
        subscription.close()
        collector.thread.join(DEADLINE)
        assert not collector.thread.is_alive()

    sequences = [e.sequence for e in seen]
    assert sequences == list(range(sequences[0], sequences[0] + 15))  # in order, no gap, no repeat
    assert subscription.last_sequence == sequences[-1]
    # It had to open the stream again (more than once if the server was not back yet);
    # resumed from its cursor, the server sent nothing twice.
    assert subscription.reconnects >= 1
    assert subscription.duplicates_dropped == 0
    assert [e.execution_id for e in seen[:5]] == [e.id for e in before]
    created_after = [e.execution_id for e in seen[5:] if e.state == State.CREATED]
    running_after = [e.execution_id for e in seen[5:] if e.state == State.RUNNING]
    assert created_after == [e.id for e in after]
    assert running_after == [e.id for e in after]
    assert collector.queue.empty()


def test_a_subscription_from_the_latest_event_resumes_from_where_it_was_accepted(
    server_process: object,
) -> None:
    """Issue 23: a from_latest subscription that had received nothing yet resumed
    from the newest event after a reconnect, so what was committed while it
    reconnected was never delivered. The server says where a stream starts in its
    headers; the SDK resumes from there."""
    proc = server_process
    connected = threading.Event()
    created = threading.Event()
    reconnects: list[int | None] = []

    def on_reconnect(info: Any) -> None:
        reconnects.append(info.last_sequence)
        created.wait(DEADLINE)  # reconnect only once the test has written, below

    write_retry = CallRetry(max_attempts=60, initial_backoff=0.05, max_backoff=0.5)
    with Client.connect(proc.target, retry=write_retry) as client:  # type: ignore[attr-defined]
        first = client.create_execution(namespace="ns", flow_id="before")
        subscription = client.subscribe(
            from_latest=True,
            on_connect=lambda info: connected.set(),
            on_reconnect=on_reconnect,
            retry=CallRetry(max_attempts=60, initial_backoff=0.05, max_backoff=0.5),
        )
        collector = Collector(subscription)
        assert connected.wait(DEADLINE)
        assert subscription.last_sequence == 1  # known at once: the newest event
        proc.kill()  # type: ignore[attr-defined]
        proc.start()  # type: ignore[attr-defined]
        # Committed while the subscription is reconnecting.
        between = client.create_execution(namespace="ns", flow_id="between")
        created.set()
        after = client.create_execution(namespace="ns", flow_id="after")
        seen = collector.take(2)
        subscription.close()
    assert [e.execution_id for e in seen] == [between.id, after.id]
    assert [e.sequence for e in seen] == [2, 3]
    assert reconnects and reconnects[0] == 1
    assert first.id not in [e.execution_id for e in seen]


# Retention: a cursor older than the log


async def test_a_subscription_behind_the_retained_log_raises_sequence_compacted(
    server_factory: Callable[..., Awaitable[Running]],
) -> None:
    first = await server_factory(retention_events=3)
    fast = CallRetry(max_attempts=20, initial_backoff=0.01, max_backoff=0.1)
    async with AsyncClient.connect(first.target, stream_retry=fast) as client:
        subscription = client.subscribe(after_sequence=0)
        for _ in range(2):
            await new_execution(client)
        early = [(await wait(anext(subscription))).sequence for _ in range(2)]
        assert subscription.last_sequence == early[-1]

        # The server goes away with the subscriber behind; while it is gone, a
        # server on the same database and port writes more and compacts the log.
        await first.server.stop(0)
        second = await server_factory(retention_events=3, address=first.target)
        async with AsyncClient.connect(second.target) as writer:
            later = [(await new_execution(writer)).id for _ in range(4)]
        newest = early[-1] + 4
        assert await second.server.hub.compact() == newest - 3

        with pytest.raises(SequenceCompactedError) as info:
            await wait(anext(subscription))
        assert info.value.first_sequence == newest - 2
        assert info.value.first_sequence is not None
        assert info.value.code == grpc.StatusCode.OUT_OF_RANGE
        assert subscription.reconnects >= 1

        # Resuming just before the first retained sequence gets what is left.
        resumed = client.subscribe(after_sequence=newest - 3)
        rest = [await wait(anext(resumed)) for _ in range(3)]
        assert [e.sequence for e in rest] == [newest - 2, newest - 1, newest]
        assert [e.execution_id for e in rest] == later[1:]
        await resumed.close()


# TransitionTaskRuns


async def test_transition_task_runs_returns_a_result_or_an_error_per_item(
    client: AsyncClient,
) -> None:
    execution = await new_execution(client)
    a = (await client.create_task_run(execution_id=execution.id, task_id="a")).task_run
    b = (await client.create_task_run(execution_id=execution.id, task_id="b")).task_run
    items: list[Any] = [
        {"task_run_id": a.id, "state": "RUNNING", "worker_id": "w1", "request_id": "a1"},
        {"task_run_id": a.id, "state": State.SUCCESS, "outputs": {"rows": 3}, "request_id": "a2"},
        {"task_run_id": b.id, "state": "SUCCESS"},  # CREATED -> SUCCESS
        {"task_run_id": "no-such-run", "state": "RUNNING"},
        {"task_run_id": b.id, "state": "RUNNING", "expected_revision": 1},
        # A message works as an item too (the SDK would refuse state 999 itself).
        execution_service_pb2.TransitionTaskRunRequest(task_run_id=b.id, state=999),
    ]
    results = await client.transition_task_runs(items)
    assert [type(r).__name__ for r in results] == [
        "TransitionTaskRunResponse",
        "TransitionTaskRunResponse",
        "InvalidTransitionError",
        "NotFoundError",
        "RevisionMismatchError",
        "InvalidArgumentError",
    ]
    first, second = results[0], results[1]
    assert not isinstance(first, Exception) and not isinstance(second, Exception)
    assert first.task_run.state == State.RUNNING
    assert second.task_run.state == State.SUCCESS
    assert dict(second.task_run.outputs) == {"rows": 3}
    bad = results[5]
    assert isinstance(bad, InvalidArgumentError)
    assert [f for f, _ in bad.field_violations] == ["state"]
    assert isinstance(results[2], InvalidTransitionError)
    assert results[2].reason == "INVALID_TRANSITION"
    # Idempotent per item, like the single call.
    again = await client.transition_task_runs(items[:2])
    assert again == results[:2]


async def test_transition_task_runs_in_the_basic_view(client: AsyncClient) -> None:
    execution = await new_execution(client)
    run = (await client.create_task_run(execution_id=execution.id, task_id="a")).task_run
    (moved,) = await client.transition_task_runs(
        [{"task_run_id": run.id, "state": "RUNNING", "worker_id": "w1"}], view="basic"
    )
    assert not isinstance(moved, Exception)
    assert moved.task_run.state == State.RUNNING and not moved.task_run.history
    assert [(a.number, a.worker_id, len(a.history)) for a in moved.task_run.attempts] == [
        (1, "w1", 0)
    ]
    (done,) = await client.transition_task_runs(
        [{"task_run_id": run.id, "state": "SUCCESS"}], view=TaskRunView.FULL
    )
    assert not isinstance(done, Exception)
    assert [State(h.state) for h in done.task_run.history] == [
        State.CREATED,
        State.RUNNING,
        State.SUCCESS,
    ]
    with pytest.raises(ValueError):
        await client.transition_task_runs([], view="everything")


async def test_transition_task_runs_raises_only_for_the_whole_call(client: AsyncClient) -> None:
    items = [{"task_run_id": f"r{i}", "state": "RUNNING"} for i in range(1001)]
    with pytest.raises(InvalidArgumentError) as info:
        await client.transition_task_runs(items)
    assert [f for f, _ in info.value.field_violations] == ["requests"]
    assert await client.transition_task_runs([]) == []
    with pytest.raises(TypeError):
        await client.transition_task_runs([{"state": "RUNNING"}])


def test_the_blocking_client_transitions_task_runs(server_process: object) -> None:
    target = server_process.target  # type: ignore[attr-defined]
    with Client.connect(target) as client:
        execution = client.create_execution(namespace="company.team", flow_id="etl")
        run = client.create_task_run(execution_id=execution.id, task_id="t").task_run
        ok, refused = client.transition_task_runs(
            [
                {"task_run_id": run.id, "state": "RUNNING"},
                {"task_run_id": run.id, "state": "CREATED"},
            ]
        )
        assert not isinstance(ok, Exception) and ok.task_run.state == State.RUNNING
        assert isinstance(refused, InvalidTransitionError)
