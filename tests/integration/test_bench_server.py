"""The bench's server is ``app.serve`` itself with instruments installed by its
``on_server`` hook: counters on SIGUSR1, per-thread profiles on SIGUSR2."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from statehouse.v1 import execution_service_pb2 as pb, execution_service_pb2_grpc
from tests.eventually import TIMEOUT, eventually

from .conftest import ServerProcess

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _wait_for(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    eventually(condition, what, within=max(timeout, TIMEOUT), step=0.05)


def test_the_bench_server_counts_and_profiles_the_real_server(tmp_path: Path) -> None:
    counters, profile = tmp_path / "counters.json", tmp_path / "profile"
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'bench.db'}",
        tmp_path / "server.log",
        program=(str(ROOT / "bench" / "bench_server.py"),),
        options=("--counters-out", str(counters), "--profile-out", str(profile)),
    )
    try:
        assert server.proc is not None
        server.proc.send_signal(signal.SIGUSR2)  # profiling on
        _wait_for(lambda: "profiling started" in server.logs(), "the profiler")
        with grpc.insecure_channel(server.target) as channel:
            stub = execution_service_pb2_grpc.ExecutionServiceStub(channel)
            for _ in range(3):
                stub.CreateExecution(pb.CreateExecutionRequest(namespace="b", flow_id="f"))
        server.proc.send_signal(signal.SIGUSR2)  # profiling off: the files
        _wait_for(lambda: "profile written" in server.logs(), "the profile")
        server.proc.send_signal(signal.SIGUSR1)
        _wait_for(counters.exists, "the counters")
        data = json.loads(counters.read_text())
        assert data["events"] == 3 and data["write_commits"] >= 1, data
        assert data["by_keyword"].get("INSERT", 0) >= 1, data
        # The CPU time of each kind of thread: the loop and SQLite's writer have run.
        assert data["threads"]["loop"] > 0 and "writer" in data["threads"], data["threads"]
        # One profile per thread group: the loop and each of the store's pools.
        groups = {p.name.removeprefix("profile.") for p in tmp_path.glob("profile.*")}
        assert groups == {"loop", "heavy", "writer", "reader"}
        assert profile.exists()
        assert server.stop() == 0
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.kill()
