"""A server process restarted (gracefully or by kill -9) on the same database keeps everything."""

from __future__ import annotations

import threading

import grpc

from statehouse.v1 import (
    event_service_pb2 as epb,
    event_service_pb2_grpc,
    execution_service_pb2 as pb,
    execution_service_pb2_grpc,
    state_pb2 as st,
)

from .conftest import ServerProcess


def stubs(
    target: str,
) -> tuple[
    grpc.Channel,
    execution_service_pb2_grpc.ExecutionServiceStub,
    event_service_pb2_grpc.EventServiceStub,
]:
    channel = grpc.insecure_channel(target)
    return (
        channel,
        execution_service_pb2_grpc.ExecutionServiceStub(channel),
        event_service_pb2_grpc.EventServiceStub(channel),
    )


def read_events(
    events: event_service_pb2_grpc.EventServiceStub, after: int, count: int
) -> list[int]:
    call = events.Subscribe(epb.SubscribeRequest(after_sequence=after), timeout=20)
    got: list[int] = []
    for response in call:
        got.append(response.event.sequence)
        if len(got) == count:
            call.cancel()
            break
    return got


def test_graceful_restart_keeps_executions_task_runs_and_events(
    server_process: ServerProcess,
) -> None:
    channel, executions, events = stubs(server_process.target)
    ex = executions.CreateExecution(
        pb.CreateExecutionRequest(namespace="ns", flow_id="f", labels={"a": "b"}, request_id="r1")
    ).execution
    tr = executions.CreateTaskRun(pb.CreateTaskRunRequest(execution_id=ex.id, task_id="t")).task_run
    executions.TransitionTaskRun(
        pb.TransitionTaskRunRequest(task_run_id=tr.id, state=st.STATE_RUNNING)
    )
    before = executions.GetExecution(pb.GetExecutionRequest(execution_id=ex.id)).execution
    channel.close()

    assert server_process.stop() == 0
    server_process.restart()

    channel, executions, events = stubs(server_process.target)
    after = executions.GetExecution(pb.GetExecutionRequest(execution_id=ex.id)).execution
    assert after == before
    again = executions.CreateExecution(
        pb.CreateExecutionRequest(namespace="ns", flow_id="f", labels={"a": "b"}, request_id="r1")
    ).execution
    assert again.id == ex.id
    done = executions.TransitionTaskRun(
        pb.TransitionTaskRunRequest(task_run_id=tr.id, state=st.STATE_SUCCESS)
    )
    assert done.execution_revision == before.revision + 1
    assert read_events(events, 0, 5) == [1, 2, 3, 4, 5]
    channel.close()


def test_kill_9_loses_nothing_acknowledged_and_the_stream_resumes(
    server_process: ServerProcess,
) -> None:
    channel, executions, events = stubs(server_process.target)
    acknowledged = []
    for i in range(20):
        acknowledged.append(
            executions.CreateExecution(
                pb.CreateExecutionRequest(namespace="ns", flow_id=f"f{i}")
            ).execution.id
        )
    seen = read_events(events, 0, 12)
    channel.close()

    server_process.kill()
    server_process.start()

    channel, executions, events = stubs(server_process.target)
    for execution_id in acknowledged:
        executions.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    executions.CreateExecution(pb.CreateExecutionRequest(namespace="ns", flow_id="after"))
    resumed = read_events(events, seen[-1], 9)
    assert seen + resumed == list(range(1, 22))
    channel.close()


def test_kill_9_mid_stream_with_writers_running(server_process: ServerProcess) -> None:
    """Writers and a subscriber are busy when the server dies: after a restart,
    resuming from the last sequence received gives every committed event once,
    and every acknowledged write is there."""
    acknowledged: list[str] = []
    received: list[tuple[int, str]] = []
    stop_writing = threading.Event()
    enough = threading.Event()

    def writer() -> None:
        channel, executions, _ = stubs(server_process.target)
        with channel:
            while not stop_writing.is_set():
                try:
                    ex = executions.CreateExecution(
                        pb.CreateExecutionRequest(namespace="ns", flow_id="w"), timeout=5
                    ).execution
                except grpc.RpcError:
                    return  # the server died under this call: not acknowledged
                acknowledged.append(ex.id)

    def reader(after: int, until_execution: str | None) -> None:
        channel, _, events = stubs(server_process.target)
        with channel:
            call = events.Subscribe(epb.SubscribeRequest(after_sequence=after), timeout=30)
            try:
                for response in call:
                    received.append((response.event.sequence, response.event.execution_id))
                    if len(received) >= 50:
                        enough.set()
                    if response.event.execution_id == until_execution:
                        call.cancel()
                        return
            except grpc.RpcError:
                return

    threads = [threading.Thread(target=writer) for _ in range(2)]
    threads.append(threading.Thread(target=reader, args=(0, None)))
    for t in threads:
        t.start()
    assert enough.wait(30)
    server_process.kill()
    stop_writing.set()
    for t in threads:
        t.join(30)

    server_process.start()
    channel, executions, _ = stubs(server_process.target)
    with channel:
        last = executions.CreateExecution(
            pb.CreateExecutionRequest(namespace="ns", flow_id="after-restart")
        ).execution
    reader(received[-1][0], last.id)
    sequences = [s for s, _ in received]
    assert sequences == list(range(1, len(sequences) + 1))
    ids = [i for _, i in received]
    assert ids[-1] == last.id
    assert set(acknowledged) <= set(ids)
