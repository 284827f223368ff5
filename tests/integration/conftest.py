"""A real Statehouse on 127.0.0.1: in-process (``server_target``) or as a process
(``server_process``), each on a fresh SQLite file."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa

from statehouse.server import clock, testing as launcher
from statehouse.server.app import Server, create_server
from statehouse.server.settings import Settings
from statehouse.server.storage import Store
from statehouse.v1 import (
    event_service_pb2_grpc,
    execution_service_pb2_grpc,
    metric_service_pb2_grpc,
)
from tests.conftest import shared_directory
from tests.eventually import eventually
from tests.pgcluster import PostgresCluster

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


#: In-process servers write on SQLite's writer thread unless
#: STATEHOUSE_TEST_WRITER_PROCESS=1: a writer process costs about a second of
#: CPU to start, and the suite starts hundreds of servers. Every server the tests
#: start as a process (``ServerProcess``) has one, as ``statehouse serve`` does;
#: test_writer_process.py tests it in-process.
WRITER_PROCESS = os.environ.get("STATEHOUSE_TEST_WRITER_PROCESS") == "1"


def make_settings(database_url: str) -> Settings:
    return Settings(
        address="127.0.0.1:0",
        database_url=database_url,
        poll_interval=0.2,
        shutdown_grace=1.0,
        sqlite_writer_process=WRITER_PROCESS,
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


class ServerProcess(launcher.ServerProcess):
    """``statehouse serve`` (or ``program``) on ``database_url`` in a subprocess,
    started at once, restartable on the same port: the one launcher
    (``statehouse.server.testing``) with this suite's defaults."""

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        program: tuple[str, ...] = launcher.SERVE,
        options: tuple[str, ...] = (),
        *,
        http: bool = False,
    ) -> None:
        super().__init__(
            ("--database", database_url, *options), log_path=log_path, program=program, http=http
        )
        self.database_url = database_url
        self.start()


def logged(server: launcher.ServerProcess, text: str, count: int = 1) -> None:
    """Wait until ``server`` has logged ``text`` (``count`` times): an event it says
    it handled (a reload, a signal), never whether it serves (its ready file)."""

    def seen() -> bool:
        assert server.running, f"the server exited:\n{server.tail()}"
        return server.logs().count(text) >= count

    eventually(seen, f"{text!r} logged {count} time(s)")


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
