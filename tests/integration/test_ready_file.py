"""``serve --ready-file PATH``: once serving, the bound ports and the serving processes'
pids as JSON, which the one launcher (``statehouse.server.testing``) waits for."""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from statehouse.server import testing
from statehouse.server.testing import ServerExited, ServerProcess

EPHEMERAL_LOW = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


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
        # The launcher picked the gRPC and HTTP ports below the kernel's ephemeral
        # range, where no bind to port 0 or outgoing connection can take them while
        # the server restarts; the metrics port was left to the kernel (port 0).
        for port in (ready["grpc_port"], ready["http_port"]):
            assert testing._LOWEST_PORT <= port < EPHEMERAL_LOW
        assert ready["metrics_port"] >= EPHEMERAL_LOW
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


def _listening(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_a_picked_port_taken_before_the_first_start_is_picked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _listening(testing.unclaimed_port()) as taken:
        taken_port = taken.getsockname()[1]
        picks = iter([taken_port])
        real = testing.unclaimed_port
        monkeypatch.setattr(testing, "unclaimed_port", lambda host: next(picks, None) or real(host))
        server = ServerProcess(
            ["--database", f"sqlite:///{tmp_path / 'db.sqlite'}"], log_path=tmp_path / "server.log"
        )
        with server:
            assert server.port != taken_port
            assert _serving(server.target)
            assert f"cannot listen on 127.0.0.1:{taken_port}" in server.logs()
            server.restart()  # and keeps the port it got
            assert _serving(server.target)
        assert server.logs().count("cannot listen on") == 1


def test_a_given_port_that_is_taken_is_an_error_not_a_new_pick(tmp_path: Path) -> None:
    with _listening() as taken:
        port = taken.getsockname()[1]
        server = ServerProcess(
            ["--database", f"sqlite:///{tmp_path / 'db.sqlite'}"],
            log_path=tmp_path / "server.log",
            port=port,
        )
        with pytest.raises(ServerExited, match="exited with status 1 before serving"):
            server.start(timeout=60)
    assert server.logs().count("cannot listen on") == 1
    assert server.port == port


def test_no_room_below_the_ephemeral_range_leaves_the_pick_to_the_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    free = testing.unclaimed_port()
    assert testing._LOWEST_PORT <= free < EPHEMERAL_LOW
    monkeypatch.setattr(testing, "_LOWEST_PORT", EPHEMERAL_LOW - 10)
    assert testing.unclaimed_port() == 0
