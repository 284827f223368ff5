"""``serve --ready-file PATH``: once serving, the bound ports and the serving processes'
pids as JSON, which the one launcher (``statehouse.server.testing``) waits for."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from statehouse.server.testing import ServerExited, ServerProcess


def _serving(target: str) -> bool:
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=10)
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def test_the_ready_file_names_every_port_bound_to_port_0(tmp_path: Path) -> None:
    server = ServerProcess(
        [
            "--database",
            f"sqlite:///{tmp_path / 'db.sqlite'}",
            "--metrics-address",
            "127.0.0.1:0",
        ],
        log_path=tmp_path / "server.log",
        http=True,
    )
    with server:
        ready = json.loads(server.ready_path.read_text())
        assert set(ready) == {"grpc_port", "http_port", "metrics_port", "pids"}
        assert ready["pids"] == [server.pid]
        assert 0 not in (ready["grpc_port"], ready["http_port"], ready["metrics_port"])
        assert _serving(server.target)
        with urllib.request.urlopen(f"{server.http_url}/healthz", timeout=10) as reply:
            assert reply.status == 200
        metrics = f"http://127.0.0.1:{server.metrics_port}/metrics"
        with urllib.request.urlopen(metrics, timeout=10) as reply:
            assert b"statehouse_" in reply.read()
        # A restart serves the same ports again, and writes the file anew.
        ports = (server.port, server.http_port)
        first_pid = server.pid
        server.restart()
        assert (server.port, server.http_port) == ports
        assert server.pids == [server.pid] != [first_pid]
        assert _serving(server.target)


def test_under_processes_the_supervisor_writes_it_with_the_serving_processes(
    tmp_path: Path,
) -> None:
    server = ServerProcess(
        ["--database", f"sqlite:///{tmp_path / 'db.sqlite'}", "--processes", "2"],
        log_path=tmp_path / "server.log",
    )
    with server:
        assert len(server.pids) == 2 and server.pid not in server.pids
        for pid in server.pids:
            os.kill(pid, 0)  # alive
        assert _serving(server.target)
        assert f"pids {server.pids[0]}, {server.pids[1]}" in server.logs()


def test_a_server_that_cannot_start_writes_none_and_the_launcher_says_why(
    tmp_path: Path,
) -> None:
    server = ServerProcess(["--database", "nosuchdriver://x"], log_path=tmp_path / "server.log")
    with pytest.raises(ServerExited, match="exited with status 1 before serving"):
        server.start(timeout=60)
    assert not server.ready_path.exists()
    assert "nosuchdriver" in server.logs()
