"""SQLite's writer process (``storage/writer_process.py``): every write of a
serving process committed there, its crash answered and survived, and no
child left behind a killed server."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import time
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa

from statehouse.server import testing as launcher
from statehouse.server.app import create_server
from statehouse.server.storage import StorageUnavailable, Store, StoreOptions, Tx
from statehouse.server.storage.batch import Batch, Write
from statehouse.server.storage.writer_process import WriterProcess
from statehouse.v1 import execution_service_pb2 as pb, state_pb2 as st
from tests.eventually import eventually, eventually_async

from .conftest import Running, ServerProcess, Stubs, make_settings

pytestmark = pytest.mark.timeout(120)

CHILD = "statehouse.server.storage.writer_process"


def _children(pid: int) -> list[int]:
    """The writer processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and CHILD.encode() in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def _serve(tmp_path: Path) -> Running:
    # No health probes, sweeps or compactions: no write of the server's own at a
    # moment the test does not choose.
    settings = replace(
        make_settings(f"sqlite:///{tmp_path / 'statehouse.db'}"),
        health_interval=3600.0,
        housekeeping_interval=3600.0,
        compaction_interval=3600.0,
        sqlite_writer_process=True,
    )
    server, port = await create_server(settings)
    await server.start()
    return Running(server, port, settings)


async def _task_runs(stubs: Stubs, count: int) -> list[str]:
    execution = (
        await stubs.executions.CreateExecution(
            pb.CreateExecutionRequest(namespace="wp", flow_id="f")
        )
    ).execution
    ids = []
    for i in range(count):
        created = await stubs.executions.CreateTaskRun(
            pb.CreateTaskRunRequest(execution_id=execution.id, task_id=f"t{i}")
        )
        ids.append(created.task_run.id)
    return ids


async def test_every_write_of_the_server_commits_in_the_writer_process(tmp_path: Path) -> None:
    running = await _serve(tmp_path)
    stubs = Stubs(running.target)
    try:
        backend = running.server.store.backend
        ids = await _task_runs(stubs, 3)
        for i in ids:
            await stubs.executions.TransitionTaskRun(
                pb.TransitionTaskRunRequest(task_run_id=i, state=st.STATE_RUNNING)
            )
        done = await stubs.executions.TransitionTaskRuns(
            pb.TransitionTaskRunsRequest(
                requests=[
                    pb.TransitionTaskRunRequest(
                        task_run_id=i, state=st.STATE_SUCCESS, request_id=f"r{i}"
                    )
                    for i in ids
                ]
                + [pb.TransitionTaskRunRequest(task_run_id=ids[0], state=st.STATE_RUNNING)]
            )
        )
        # The errors cross whole: the illegal move's status and its details.
        assert [r.WhichOneof("result") for r in done.results] == ["response"] * 3 + ["error"]
        assert done.results[3].error.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
        assert done.results[3].error.details
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stubs.executions.TransitionTaskRun(
                pb.TransitionTaskRunRequest(task_run_id=ids[1], state=st.STATE_RUNNING)
            )
        assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert "SUCCESS" in (refused.value.details() or "")
        writer = backend.writer_process
        assert writer is not None and writer.pid is not None
        assert writer.pid in _children(os.getpid())
        assert writer.started == 1
        # Nothing was written on this process's own writer connection.
        assert backend._write_conn is None
    finally:
        await stubs.channel.close()
        await running.server.stop(0)
    assert writer.pid is None  # closed with the store
    assert _gone(_children(os.getpid()))


def _gone(pids: list[int]) -> bool:
    return bool(eventually(lambda: not any(_alive(p) for p in pids), "the writer process to end"))


def _slow(tx: Tx, *, seconds: float, marker: str) -> None:
    """A write that says it has started, then takes its time (in the writer process)."""
    Path(marker).touch()
    time.sleep(seconds)


async def test_a_writer_process_killed_during_a_commit_fails_that_batch_alone(
    tmp_path: Path,
) -> None:
    running = await _serve(tmp_path)
    stubs = Stubs(running.target)
    try:
        store = running.server.store
        writer = store.backend.writer_process
        assert writer is not None
        ids = await _task_runs(stubs, 2)
        first = writer.pid
        assert first is not None
        marker = tmp_path / "started"
        slow = asyncio.ensure_future(
            store.write(functools.partial(_slow, seconds=60, marker=str(marker)))
        )
        await eventually_async(marker.exists, "the slow write to start in the child")
        os.kill(first, signal.SIGKILL)
        with pytest.raises(StorageUnavailable, match="writer process ended"):
            await slow
        # The next write starts another, and the server goes on.
        moved = await stubs.executions.TransitionTaskRun(
            pb.TransitionTaskRunRequest(task_run_id=ids[0], state=st.STATE_RUNNING)
        )
        assert moved.task_run.state == st.STATE_RUNNING
        assert writer.started == 2 and writer.pid not in (None, first)
    finally:
        await stubs.channel.close()
        await running.server.stop(0)


def _one(tx: Tx) -> int:
    """A write that reads a value (run in the writer process)."""
    return int(tx.conn.execute(sa.text("SELECT 1")).scalar_one())


def test_a_writer_process_killed_while_idle_is_replaced_before_the_next_batch(
    tmp_path: Path,
) -> None:
    # The writer process alone: no write of a server's own between the kill and the batch.
    url = f"sqlite:///{tmp_path / 'statehouse.db'}"
    store = Store(url)
    store.migrate()
    store.close()
    writer = WriterProcess(sa.make_url(url), StoreOptions())
    try:

        def batch() -> Batch:
            return Batch([Write(_one, None)], [False])  # type: ignore[arg-type]

        first = batch()
        assert writer.run(first) == [] and first.writes[0].result == 1
        killed = writer.pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        # No batch was in flight: none is lost, the next is answered as usual,
        # whether it finds the child dying or gone.
        second = batch()
        assert writer.run(second) == [] and second.writes[0].result == 1
        assert writer.started == 2 and writer.pid not in (None, killed)
    finally:
        writer.close()


async def _create(target: str) -> None:
    stubs = Stubs(target)
    try:
        await stubs.executions.CreateExecution(
            pb.CreateExecutionRequest(namespace="wp", flow_id="f")
        )
    finally:
        await stubs.channel.close()


def test_a_server_killed_with_sigkill_leaves_no_writer_process(tmp_path: Path) -> None:
    proc = ServerProcess(f"sqlite:///{tmp_path / 'statehouse.db'}", tmp_path / "server.log")
    with proc:
        asyncio.run(_create(proc.target))
        children = _children(proc.pid)
        assert len(children) == 1, proc.tail()
        os.kill(proc.pid, signal.SIGKILL)
        assert _gone(children), f"writer process {children} outlived its server"


def test_ctrl_c_to_the_whole_group_shuts_the_server_down_cleanly(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the writer process too: it ignores it, the
    server's shutdown still writes, then closes it."""
    proc = launcher.ServerProcess(
        ("--database", f"sqlite:///{tmp_path / 'statehouse.db'}"),
        log_path=tmp_path / "server.log",
        new_session=True,
    )
    with proc.start():
        asyncio.run(_create(proc.target))
        children = _children(proc.pid)
        assert len(children) == 1, proc.tail()
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.proc is not None
        assert proc.proc.wait(30) == 0, proc.tail()
        assert _gone(children)
        assert "Traceback" not in proc.logs()
