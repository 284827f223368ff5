"""The edges of the ports (issue 23, item 4), on a real server on 127.0.0.1 with
small bounds: a WebSocket upgrade, request heads too large, requests that
never finish, more connections than allowed; and grpc's counterparts on the
gRPC port. None of this depends on the database backend (SQLite here).

Nothing waits for time: each test waits, within a generous bound, for what
the server does (an answer, a closed connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from statehouse.server.app import Server, create_server
from statehouse.server.settings import Settings
from statehouse.v1 import execution_service_pb2 as pb, execution_service_pb2_grpc

#: The bounds the tests' server runs with.
MAX_CONNECTIONS = 6
HEADER_TIMEOUT = 2.0
#: How long a test waits for what the server does (never reached when it works).
PATIENCE = 30.0


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    """The server (its gRPC port: :func:`grpc_port`)."""
    settings = Settings(
        address="127.0.0.1:0",
        http_address="127.0.0.1:0",
        database_url=f"sqlite:///{tmp_path / 'edges.db'}",
        shutdown_grace=1.0,
        max_connections=MAX_CONNECTIONS,
        header_timeout=HEADER_TIMEOUT,
    )
    server, port = await create_server(settings)
    await server.start()
    _GRPC_PORTS[id(server)] = port
    try:
        yield server
    finally:
        await server.stop(0)
        del _GRPC_PORTS[id(server)]


_GRPC_PORTS: dict[int, int] = {}


@pytest.fixture
def grpc_port(server: Server) -> int:
    return _GRPC_PORTS[id(server)]


def http_port(server: Server) -> int:
    assert server.http_port is not None
    return server.http_port


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
    sock.settimeout(PATIENCE)
    return sock


def until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    with contextlib.closing(sock):
        for _ in range(10_000):  # bounded: the server closes, or recv times out
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
    raise AssertionError(f"the server kept sending: {data[:200]!r}")


def exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` on a new connection; the response's first bytes (status line)."""
    with contextlib.closing(connect(port)) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {data!r}"
            data += chunk
        return data


def get(path: str, extra: bytes = b"") -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


async def test_a_websocket_upgrade_is_refused_cleanly(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    """It answered 500 ('ASGI callable returned without completing handshake')
    where a WebSocket library is installed, as in the dev environment."""
    caplog.set_level(logging.WARNING)
    upgrade = (
        b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    )
    port = http_port(server)
    for path in ("/", "/healthz", "/statehouse.v1.EventService/Subscribe"):
        response = await asyncio.to_thread(exchange, port, get(path, upgrade))
        assert status(response) == 400, response
    assert status(await asyncio.to_thread(exchange, port, get("/healthz"))) == 200
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("uvicorn")]
    assert logged == []


async def test_request_heads_are_bounded_in_fields_and_bytes(server: Server) -> None:
    """10,000 headers (about 110 KB) were accepted, at 60 to 90 ms each."""
    port = http_port(server)

    def fields(n: int) -> bytes:
        return b"".join(b"X-%d: y\r\n" % i for i in range(n))

    # Host and 99 more: 100 fields, the most accepted.
    assert status(await asyncio.to_thread(exchange, port, get("/healthz", fields(99)))) == 200
    for extra in (fields(100), fields(10_000), b"X-Big: " + b"a" * (40 << 10) + b"\r\n"):
        response = await asyncio.to_thread(exchange, port, get("/healthz", extra))
        assert status(response) == 431

    def slowly(extra: bytes) -> bytes:
        # The head in small pieces: refused as soon as it passes the bound.
        sock = connect(port)
        head = get("/healthz", extra)
        with contextlib.suppress(OSError):
            for i in range(0, len(head), 1000):
                sock.sendall(head[i : i + 1000])
        return until_closed(sock)

    assert status(await asyncio.to_thread(slowly, fields(10_000))) == 431
    assert status(await asyncio.to_thread(slowly, b"X-Big: " + b"a" * (40 << 10))) == 431


async def test_grpc_metadata_is_bounded(server: Server, grpc_port: int) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = execution_service_pb2_grpc.ExecutionServiceStub(channel)
        await stub.CountExecutions(
            pb.CountExecutionsRequest(), metadata=(("x-big", "a" * 10_000),), timeout=PATIENCE
        )
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.CountExecutions(
                pb.CountExecutionsRequest(), metadata=(("x-big", "a" * 40_000),), timeout=PATIENCE
            )
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_requests_that_never_finish_are_closed(server: Server) -> None:
    """Connections whose headers never finished were never closed."""
    port = http_port(server)

    def half_head() -> bytes:
        sock = connect(port)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        return until_closed(sock)

    def nothing() -> bytes:
        return until_closed(connect(port))

    def half_body() -> bytes:
        sock = connect(port)
        sock.sendall(
            b"POST /statehouse.v1.ExecutionService/CountExecutions HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        return until_closed(sock)

    answers = await asyncio.gather(*(asyncio.to_thread(f) for f in (half_head, nothing, half_body)))
    assert status(answers[0]) == 408
    assert answers[1] == b""
    assert answers[2] == b""
    assert status(await asyncio.to_thread(exchange, port, get("/healthz"))) == 200


async def test_connections_past_the_bound_are_refused_and_grpc_still_serves(
    server: Server, grpc_port: int
) -> None:
    """1,100 half-sent connections under a 1,024 descriptor limit stopped new
    HTTP connections and new gRPC channels."""
    port = http_port(server)

    def hold() -> list[socket.socket]:
        held = []
        for _ in range(MAX_CONNECTIONS):
            sock = connect(port)
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")
            held.append(sock)
        return held

    held = await asyncio.to_thread(hold)
    try:
        # The next one is answered 503 and closed (the kernel queues connections
        # in order, so the held ones were taken first).
        refused = await asyncio.to_thread(lambda: until_closed(connect(port)))
        assert status(refused) == 503
        # A new gRPC channel is served meanwhile.
        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            stub = execution_service_pb2_grpc.ExecutionServiceStub(channel)
            await stub.CountExecutions(pb.CountExecutionsRequest(), timeout=PATIENCE)
        # The held ones time out; then new connections are served again.
        answers = await asyncio.gather(*(asyncio.to_thread(until_closed, s) for s in held))
        assert {status(a) for a in answers} == {408}
    finally:
        for sock in held:
            sock.close()
    assert status(await asyncio.to_thread(exchange, port, get("/healthz"))) == 200


async def test_the_grpc_port_bounds_connections_and_handshakes(
    server: Server, grpc_port: int
) -> None:
    """A connection that never says a word is closed after the handshake
    timeout; past the bound, a new connection is refused."""
    silent = await asyncio.to_thread(lambda: until_closed(connect(grpc_port)))
    assert b"handshake timeout" in silent
    channels = [
        grpc.aio.insecure_channel(
            f"127.0.0.1:{grpc_port}", options=[("grpc.use_local_subchannel_pool", 1)]
        )
        for _ in range(MAX_CONNECTIONS + 1)
    ]
    try:
        codes = []
        for channel in channels:
            stub = execution_service_pb2_grpc.ExecutionServiceStub(channel)
            try:
                await stub.CountExecutions(pb.CountExecutionsRequest(), timeout=PATIENCE)
                codes.append(grpc.StatusCode.OK)
            except grpc.aio.AioRpcError as exc:
                codes.append(exc.code())
        assert codes == [grpc.StatusCode.OK] * MAX_CONNECTIONS + [grpc.StatusCode.UNAVAILABLE]
    finally:
        for channel in channels:
            await channel.close()
