"""``statehouse serve --processes 2``: two processes on one port, each sees the
other's writes; SIGTERM stops both; a process killed -9 makes the parent stop
the other and exit non-zero."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from statehouse.v1 import (
    event_pb2,
    event_service_pb2 as epb,
    event_service_pb2_grpc,
    execution_service_pb2 as pb,
    execution_service_pb2_grpc,
)

READY = re.compile(r"statehouse serving on 127\.0\.0\.1:(\d+) .*2 processes: pids (\d+), (\d+)")
SUBSCRIBED = re.compile(r"subscribe in process (\d+): after \d+, namespace '(ch\d+)'")
CHANNELS = 12


class Supervisor:
    """``python -m statehouse.server.app --processes 2`` on port 0."""

    def __init__(self, database_url: str, log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "statehouse.server.app",
                    "--address",
                    "127.0.0.1:0",
                    "--database",
                    database_url,
                    "--processes",
                    "2",
                    "--log-level",
                    "DEBUG",
                ],
                stdout=log,
                stderr=log,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
            )
        deadline = time.monotonic() + 60
        while True:
            match = READY.search(self.logs())
            if match:
                self.port = int(match.group(1))
                self.pids = {int(match.group(2)), int(match.group(3))}
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"not ready (status {self.proc.poll()}):\n{self.logs()}")
            time.sleep(0.05)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pids: set[int], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def supervisor(database_url: str, tmp_path: Path) -> Iterator[Supervisor]:
    sup = Supervisor(database_url, tmp_path / "server.log")
    try:
        yield sup
    finally:
        if sup.proc.poll() is None:
            sup.proc.send_signal(signal.SIGTERM)
            try:
                sup.proc.wait(30)
            except subprocess.TimeoutExpired:
                sup.proc.kill()
        for pid in sup.pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_two_processes_share_the_port_and_see_each_others_writes(supervisor: Supervisor) -> None:
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
        deadline = time.monotonic() + 30
        served: dict[str, int] = {}
        while len(served) < CHANNELS and time.monotonic() < deadline:
            served = {ns: int(pid) for pid, ns in SUBSCRIBED.findall(supervisor.logs())}
            time.sleep(0.05)
        assert len(served) == CHANNELS
        assert set(served.values()) == supervisor.pids, "the kernel put every connection on one"
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
    assert wait_gone(supervisor.pids)
    assert supervisor.logs().count("statehouse stopped") == 2


def test_a_process_killed_makes_the_parent_stop_the_other_and_fail(
    supervisor: Supervisor,
) -> None:
    victim, other = sorted(supervisor.pids)
    os.kill(victim, signal.SIGKILL)
    assert supervisor.proc.wait(30) != 0
    assert wait_gone({other})
    assert f"(pid {victim}) exited with status -9: stopping the others" in supervisor.logs()


def test_processes_refuse_a_port_in_use(database_url: str, tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "statehouse.server.app",
                "--address",
                f"127.0.0.1:{port}",
                "--database",
                database_url,
                "--processes",
                "2",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
