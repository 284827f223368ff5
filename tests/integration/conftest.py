"""A real Statehouse on 127.0.0.1: in-process (``server_target``) or as a process
(``server_process``), each on a fresh SQLite file."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa

from statehouse.server import clock
from statehouse.server.app import Server, create_server
from statehouse.server.settings import Settings
from statehouse.server.storage import Store
from statehouse.v1 import (
    event_service_pb2_grpc,
    execution_service_pb2_grpc,
    metric_service_pb2_grpc,
)
from tests.conftest import shared_directory
from tests.pgcluster import PostgresCluster

READY = re.compile(r"statehouse serving on 127\.0\.0\.1:(\d+)")

#: The backends every integration test runs on (STATEHOUSE_TEST_BACKENDS=sqlite to narrow).
BACKENDS = [
    b.strip() for b in os.environ.get("STATEHOUSE_TEST_BACKENDS", "sqlite,postgresql").split(",")
]


@pytest.fixture(scope="session")
def pg_cluster() -> PostgresCluster:
    """The run's cluster, shared by the parallel workers (stopped at the end of the run)."""
    return PostgresCluster.shared(shared_directory())


@pytest.fixture
def private_pg_cluster() -> Iterator[PostgresCluster]:
    """A cluster of this test's own: for a test that stops and starts the server."""
    cluster = PostgresCluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PostgresCluster) -> str:
    """A database with the schema migrated once, copied for every test."""
    url = pg_cluster.create_database()
    store = Store(url)
    store.migrate()
    store.close()
    return sa.make_url(url).database or ""


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database for one test, on each backend in turn (SQLite file, PostgreSQL)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'statehouse.db'}"
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(template=request.getfixturevalue("pg_template"))


def make_settings(database_url: str) -> Settings:
    return Settings(
        address="127.0.0.1:0",
        database_url=database_url,
        poll_interval=0.2,
        shutdown_grace=1.0,
    )


@dataclass
class Running:
    server: Server
    port: int
    settings: Settings

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
async def running_server(database_url: str) -> AsyncIterator[Running]:
    settings = make_settings(database_url)
    server, port = await create_server(settings)
    await server.start()
    try:
        yield Running(server, port, settings)
    finally:
        await server.stop(0)


class ManualClock:
    """The in-process server's clock (``statehouse.server.clock.now_us``), moved
    only by the test: timers fall due when the test says, whatever the load.
    Each reading is a microsecond after the last, so that times still order."""

    def __init__(self) -> None:
        self.now = time.time_ns() // 1_000

    def __call__(self) -> int:
        self.now += 1
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1_000_000)


@pytest.fixture
def manual_clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    manual = ManualClock()
    monkeypatch.setattr(clock, "now_us", manual)
    return manual


@pytest.fixture
async def server_target(running_server: Running) -> str:
    return running_server.target


class Stubs:
    """Raw generated stubs on one grpc.aio channel."""

    def __init__(self, target: str) -> None:
        self.channel = grpc.aio.insecure_channel(target)
        self.executions = execution_service_pb2_grpc.ExecutionServiceStub(self.channel)
        self.events = event_service_pb2_grpc.EventServiceStub(self.channel)
        self.metrics = metric_service_pb2_grpc.MetricServiceStub(self.channel)


@pytest.fixture
async def stubs(server_target: str) -> AsyncIterator[Stubs]:
    s = Stubs(server_target)
    try:
        yield s
    finally:
        await s.channel.close()


class ServerProcess:
    """``python -m statehouse.server.app`` (or ``program``) in a subprocess,
    restartable on the same port."""

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        program: tuple[str, ...] = ("-m", "statehouse.server.app"),
        options: tuple[str, ...] = (),
    ) -> None:
        self.database_url = database_url
        self.log_path = log_path
        self.program = program
        self.options = options
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> None:
        # A bound for a server that cannot start, not a measure of how fast it
        # starts: on a machine loaded by other work, starting (migrations
        # included) has taken over 30 s.
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                *self.program,
                "--address",
                f"127.0.0.1:{self.port}",
                "--database",
                self.database_url,
                *self.options,
            ],
            stdout=log,
            stderr=log,
            env=env,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()[offset:].decode(errors="replace")
            match = READY.search(text)
            if match:
                self.port = int(match.group(1))
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.02)
        self.kill()
        raise RuntimeError("server did not become ready:\n" + self.log_path.read_text())

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: a graceful shutdown."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: a crash."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(15)

    def restart(self) -> None:
        """A new process on the same database and port (stop it first, or kill it)."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        self.start()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def server_process(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(database_url, tmp_path / "server.log")
    try:
        yield proc
    finally:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.kill()


@pytest.fixture
async def server_factory(database_url: str) -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    """Start in-process servers with overridden settings (stopped at the end)."""
    started: list[Running] = []

    async def start(**overrides: object) -> Running:
        settings = replace(make_settings(database_url), **overrides)  # type: ignore[arg-type]
        server, port = await create_server(settings)
        await server.start()
        running = Running(server, port, settings)
        started.append(running)
        return running

    try:
        yield start
    finally:
        for running in started:
            await running.server.stop(0)
