"""The SDK's worker helpers (statehouse.client.Worker, AsyncWorker) on a real
server: claim, heartbeat while the handler runs, report success with outputs
and failure with the error, stop cleanly."""

from __future__ import annotations

import asyncio
import threading

import pytest

from statehouse.client import (
    AsyncClient,
    AsyncWorker,
    Client,
    Job,
    Outcome,
    State,
    Worker,
)

from .conftest import Running

#: Workers running handlers against a server: make test runs them, make test-fast not.
pytestmark = pytest.mark.slow

NS = "workers.helper"


async def test_the_async_worker_runs_reports_and_heartbeats(running_server: Running) -> None:
    async with AsyncClient.connect(running_server.target) as client:
        execution = await client.create_execution(namespace=NS, flow_id="f", inputs={"n": 2})
        ids = [
            (await client.create_task_run(execution_id=execution.id, task_id=t)).task_run.id
            for t in ("ok", "boom", "slow")
        ]
        outcomes: list[Outcome] = []

        async def handle(job: Job) -> dict[str, int]:
            if job.task_run.task_id == "boom":
                raise ValueError("no luck")
            if job.task_run.task_id == "slow":
                await asyncio.sleep(2.5)  # past the 1 s lease: heartbeats keep it
            return {"double": int(job.inputs["n"]) * 2}

        worker = AsyncWorker(
            client,
            handle,
            worker_id="aw",
            namespace=NS,
            concurrency=3,
            lease_duration=1,
            heartbeat_interval=0.2,
            on_outcome=outcomes.append,
        )
        assert await worker.run(idle_timeout=1) == 3
        by_task = {o.job.task_run.task_id: o for o in outcomes}
        assert by_task["ok"].state is State.SUCCESS
        assert by_task["slow"].state is State.SUCCESS
        assert by_task["boom"].state is State.FAILED
        ok, boom, slow = [(await client.get_task_run(i)).task_run for i in ids]
        assert dict(ok.outputs) == {"double": 4} and dict(slow.outputs) == {"double": 4}
        assert ok.attempts[0].worker_id == "aw"
        assert State(boom.state) is State.FAILED
        assert boom.history[-1].reason == "ValueError: no luck"


async def test_the_blocking_worker_stops_cleanly(running_server: Running) -> None:
    """The blocking client runs in a thread: the in-process server needs the loop."""
    await asyncio.to_thread(_blocking_worker_stops_cleanly, running_server.target)


def _blocking_worker_stops_cleanly(target: str) -> None:
    with Client.connect(target) as client:
        execution = client.create_execution(namespace=NS, flow_id="g")
        made = client.create_task_run(execution_id=execution.id, task_id="t").task_run
        started = threading.Event()

        def handle(job: Job) -> dict[str, str]:
            started.set()
            job.lost.wait(1)  # works a while; stop() lets it finish
            return {"by": job.worker_id}

        worker = Worker(client, handle, worker_id="bw", namespace=NS, wait=1)
        runner = threading.Thread(target=worker.run)
        runner.start()
        assert started.wait(30)
        worker.stop()
        runner.join(30)
        assert not runner.is_alive()
        done = client.get_task_run(made.id).task_run
        assert State(done.state) is State.SUCCESS and dict(done.outputs) == {"by": "bw"}
