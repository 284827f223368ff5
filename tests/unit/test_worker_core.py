"""The workers' sans-I/O core (statehouse.client._worker._WorkerCore): how long
a claim may wait, and when an idle worker stops."""

from __future__ import annotations

from statehouse.client._worker import _WorkerCore
from statehouse.v1 import execution_pb2, execution_service_pb2


def core(wait: float = 20.0) -> _WorkerCore:
    return _WorkerCore(
        worker_id="w",
        namespace="ns",
        flow_id="",
        task_ids=(),
        labels=None,
        concurrency=3,
        lease_duration=1,
        heartbeat_interval=None,
        wait=wait,
    )


def hold(c: _WorkerCore, task_run_id: str) -> None:
    c.hold(
        execution_service_pb2.ClaimedTaskRun(
            task_run=execution_pb2.TaskRun(id=task_run_id), attempt=1
        )
    )


def test_without_an_idle_timeout_a_claim_waits_its_full_time() -> None:
    c = core(wait=20)
    assert c.claim_wait(None, 1_000) == 20
    hold(c, "a")
    assert c.claim_wait(None, 1_000) == 20


def test_an_idle_worker_waits_out_the_rest_of_its_idle_timeout_then_stops() -> None:
    c = core(wait=20)
    assert c.claim_wait(5, 0) == 5
    assert c.claim_wait(5, 3.5) == 1.5
    assert c.claim_wait(5, 5) is None
    assert core(wait=2).claim_wait(5, 0) == 2


def test_a_claim_sent_while_jobs_run_waits_no_longer_than_the_idle_timeout() -> None:
    """Else the claim sent beside the last job keeps the worker for its whole
    wait (20 s by default) after that job ends, past the idle timeout."""
    c = core(wait=20)
    hold(c, "a")
    assert c.claim_wait(1, 100) == 1  # held: never stops, and never waits past 1 s
    assert core(wait=0.5).claim_wait(1, 0) == 0.5
