"""``statehouse serve --processes 2``: two processes on one port, each sees the
other's writes; SIGTERM stops both; a process killed -9 makes the parent stop
the other and exit non-zero."""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from statehouse.server import testing as launcher
from statehouse.v1 import (
    event_pb2,
    event_service_pb2 as epb,
    event_service_pb2_grpc,
    execution_service_pb2 as pb,
    execution_service_pb2_grpc,
)
from tests.eventually import eventually

from .conftest import ServerProcess

SUBSCRIBED = re.compile(r"subscribe in process (\d+): after \d+, namespace '(ch\d+)'")
CHANNELS = 12


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def gone(pids: set[int]) -> bool:
    return not any(alive(p) for p in pids)


@pytest.fixture
def supervisor(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """``statehouse serve --processes 2`` on port 0: ``pids`` are its two processes."""
    sup = ServerProcess(
        database_url, tmp_path / "server.log", options=("--processes", "2", "--log-level", "DEBUG")
    )
    try:
        yield sup
    finally:
        sup.close()
        for pid in sup.pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_two_processes_share_the_port_and_see_each_others_writes(supervisor: ServerProcess) -> None:
    # One connection per channel, spread over the processes by the kernel.
    channels = [
        grpc.insecure_channel(supervisor.target, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(CHANNELS)
    ]
    try:
        marks = []
        streams = []
        for i, channel in enumerate(channels):
            events = event_service_pb2_grpc.EventServiceStub(channel)
            # A marker stream names the channel in the server log, with its process.
            marks.append(
                events.Subscribe(
                    epb.SubscribeRequest(filter=event_pb2.EventFilter(namespace=f"ch{i}")),
                    timeout=60,
                )
            )
            streams.append(events.Subscribe(epb.SubscribeRequest(after_sequence=0), timeout=60))

        def subscribed() -> dict[str, int] | None:
            found = {ns: int(pid) for pid, ns in SUBSCRIBED.findall(supervisor.logs())}
            return found if len(found) == CHANNELS else None

        served = eventually(subscribed, "every channel's subscription logged")
        assert set(served.values()) == set(supervisor.pids), (
            "the kernel put every connection on one"
        )
        for i, channel in enumerate(channels):
            execution_service_pb2_grpc.ExecutionServiceStub(channel).CreateExecution(
                pb.CreateExecutionRequest(namespace=f"ch{i}", flow_id="f")
            )
        results: list[list[tuple[int, str]]] = [[] for _ in streams]

        def read(call: grpc.Future, out: list[tuple[int, str]]) -> None:
            for response in call:  # type: ignore[attr-defined]
                out.append((response.event.sequence, response.event.namespace))
                if len(out) == CHANNELS:
                    return

        readers = [
            threading.Thread(target=read, args=(call, out))
            for call, out in zip(streams, results, strict=True)
        ]
        for t in readers:
            t.start()
        for t in readers:
            t.join(60)
        expected = [(i + 1, f"ch{i}") for i in range(CHANNELS)]
        for i, got in enumerate(results):
            assert got == expected, f"stream on channel {i} (process {served[f'ch{i}']})"
        for call in marks + streams:
            call.cancel()  # type: ignore[attr-defined]
    finally:
        for channel in channels:
            channel.close()
    # SIGTERM to the parent stops both processes gracefully.
    supervisor.proc.send_signal(signal.SIGTERM)
    assert supervisor.proc.wait(30) == 0
    eventually(lambda: gone(set(supervisor.pids)), "both processes gone")
    assert supervisor.logs().count("statehouse stopped") == 2


def test_a_process_killed_makes_the_parent_stop_the_other_and_fail(
    supervisor: ServerProcess,
) -> None:
    victim, other = sorted(supervisor.pids)
    os.kill(victim, signal.SIGKILL)
    assert supervisor.proc.wait(30) != 0
    eventually(lambda: gone({other}), "the other process gone")
    assert f"(pid {victim}) exited with status -9: stopping the others" in supervisor.logs()


def test_processes_refuse_a_port_in_use(database_url: str, tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = launcher.ServerProcess(
            ["--database", database_url, "--processes", "2"],
            log_path=tmp_path / "server.log",
            port=port,
        )
        with pytest.raises(launcher.ServerExited):
            server.start()
    assert server.proc is not None and server.proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in server.logs()
