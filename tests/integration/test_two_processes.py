"""Two server processes on one SQLite file: one global order, seen by subscribers on both."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc

from statehouse.v1 import (
    event_service_pb2 as epb,
    event_service_pb2_grpc,
    execution_service_pb2 as pb,
    execution_service_pb2_grpc,
    state_pb2 as st,
)

from .conftest import ServerProcess

EXECUTIONS_PER_WRITER = 40
EVENTS_PER_EXECUTION = 5


def write(target: str, flow: str, errors: list[BaseException]) -> None:
    try:
        with grpc.insecure_channel(target) as channel:
            executions = execution_service_pb2_grpc.ExecutionServiceStub(channel)
            for _ in range(EXECUTIONS_PER_WRITER):
                ex = executions.CreateExecution(
                    pb.CreateExecutionRequest(namespace="ns", flow_id=flow)
                ).execution
                tr = executions.CreateTaskRun(
                    pb.CreateTaskRunRequest(execution_id=ex.id, task_id="t")
                ).task_run
                for state in (st.STATE_RUNNING, st.STATE_SUCCESS):
                    executions.TransitionTaskRun(
                        pb.TransitionTaskRunRequest(task_run_id=tr.id, state=state)
                    )
    except BaseException as exc:  # reported by the test
        errors.append(exc)


def subscribe(target: str, total: int, out: list[tuple[int, str, int]]) -> None:
    with grpc.insecure_channel(target) as channel:
        events = event_service_pb2_grpc.EventServiceStub(channel)
        call = events.Subscribe(epb.SubscribeRequest(after_sequence=0), timeout=60)
        for response in call:
            e = response.event
            out.append((e.sequence, e.execution_id, e.state))
            if len(out) == total:
                call.cancel()
                return


def test_writers_on_two_processes_one_order_for_subscribers_on_both(
    database_url: str, tmp_path: Path
) -> None:
    url = database_url
    a = ServerProcess(url, tmp_path / "a.log")
    b = ServerProcess(url, tmp_path / "b.log")
    try:
        total = 4 * EXECUTIONS_PER_WRITER * EVENTS_PER_EXECUTION
        seen_a: list[tuple[int, str, int]] = []
        seen_b: list[tuple[int, str, int]] = []
        readers = [
            threading.Thread(target=subscribe, args=(a.target, total, seen_a)),
            threading.Thread(target=subscribe, args=(b.target, total, seen_b)),
        ]
        errors: list[BaseException] = []
        writers = [
            threading.Thread(target=write, args=(server.target, f"flow{i}", errors))
            for i, server in enumerate((a, b, a, b))
        ]
        for thread in readers + writers:
            thread.start()
        for thread in writers + readers:
            thread.join(90)
        assert errors == []
        assert [s for s, _, _ in seen_a] == list(range(1, total + 1))
        assert seen_a == seen_b
        # Per execution, the order of its own changes is the order they were made.
        per_execution: dict[str, list[int]] = {}
        for _, execution_id, state in seen_a:
            per_execution.setdefault(execution_id, []).append(state)
        expected = [
            st.STATE_CREATED,
            st.STATE_CREATED,
            st.STATE_RUNNING,
            st.STATE_RUNNING,
            st.STATE_SUCCESS,
        ]
        assert all(states == expected for states in per_execution.values())
    finally:
        a.kill()
        b.kill()
