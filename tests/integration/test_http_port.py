"""The HTTP port (``--http-address``) beyond the RPCs themselves (``test_connect.py``):
HTTPS and its certificate rotation, the options refused at start, health for
load balancers, and the port shared by ``--processes N``.

Every test runs real server processes on 127.0.0.1 on a SQLite file: none of
this depends on the database backend.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import ssl
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from statehouse.server import testing as launcher
from statehouse.server.app import ConfigError
from statehouse.server.settings import Settings
from statehouse.v1 import execution_service_pb2 as pb, execution_service_pb2_grpc
from tests.certs import Authority
from tests.eventually import eventually

from .conftest import ServerProcess, logged
from .test_connect import envelope, frames

E = "/statehouse.v1.ExecutionService/"


def serve(tmp_path: Path, *options: str, name: str = "server") -> ServerProcess:
    """``statehouse serve --http-address 127.0.0.1:0 ...`` on a fresh SQLite file."""
    database = f"sqlite:///{tmp_path / f'{name}.db'}"
    return ServerProcess(database, tmp_path / f"{name}.log", options=options, http=True)


@pytest.fixture
def ca(tmp_path: Path) -> Authority:
    return Authority(tmp_path, "ca")


def trusting(ca: Authority) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca.path))


def https(port: int, ca: Authority) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=trusting(ca))


def call(
    conn: http.client.HTTPConnection,
    path: str,
    body: bytes,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    conn.request("POST", path, body=body, headers={"content-type": content_type, **(headers or {})})
    response = conn.getresponse()
    return response.status, response.read()


def create(conn: http.client.HTTPConnection, namespace: str = "h") -> dict[str, Any]:
    status, data = call(
        conn, E + "CreateExecution", b'{"namespace": "%s", "flowId": "f"}' % namespace.encode()
    )
    assert status == 200, data
    return json.loads(data)["execution"]  # type: ignore[no-any-return]


def once(port: int, ca: Authority, path: str = E + "CountExecutions") -> tuple[int, bytes]:
    """One call on a new HTTPS connection (a new handshake)."""
    with contextlib.closing(https(port, ca)) as conn:
        return call(conn, path, b"{}")


def grpc_create(target: str, ca: Authority) -> None:
    credentials = grpc.ssl_channel_credentials(root_certificates=ca.pem)
    options = [("grpc.ssl_target_name_override", "localhost")]
    with grpc.secure_channel(target, credentials, options=options) as channel:
        execution_service_pb2_grpc.ExecutionServiceStub(channel).CreateExecution(
            pb.CreateExecutionRequest(namespace="h", flow_id="f"), timeout=10
        )


def test_https_serves_connect_refuses_strangers_and_rotates_on_sighup(
    tmp_path: Path, ca: Authority
) -> None:
    pair = ca.issue("server", server=True)
    served = serve(tmp_path, "--tls-cert", str(pair.cert), "--tls-key", str(pair.key))
    try:
        assert served.http_url.startswith("https://") and " over TLS" in served.logs()
        # A unary call and a stream, JSON, over HTTPS trusting the test CA.
        kept = https(served.http_port, ca)
        made = create(kept)
        status, data = call(
            kept,
            "/statehouse.v1.EventService/Subscribe",
            envelope(b'{"heartbeatInterval": "0.2s"}'),
            "application/connect+json",
            {"connect-timeout-ms": "700"},
        )
        messages, end = frames(data)
        assert status == 200 and json.loads(messages[0])["event"]["executionId"] == made["id"]
        assert end["error"]["code"] == "deadline_exceeded"
        # Plain HTTP to the HTTPS port: no answer.
        plain = http.client.HTTPConnection("127.0.0.1", served.http_port, timeout=10)
        with contextlib.closing(plain), pytest.raises((http.client.HTTPException, OSError)):
            call(plain, E + "CountExecutions", b"{}")
        # A client that does not trust the CA refuses the server.
        stranger = Authority(tmp_path, "stranger-ca")
        with pytest.raises(ssl.SSLCertVerificationError):
            once(served.http_port, stranger)

        # A reload of files that do not go together (a new certificate, the old key):
        # refused, and the previous certificate keeps serving, on both ports.
        rotated = Authority(tmp_path, "new-ca")
        fresh = rotated.issue("server-2", server=True)
        pair.cert.write_bytes(fresh.cert.read_bytes())
        served.proc.send_signal(signal.SIGHUP)
        logged(served, "HTTPS certificate reload failed, keeping the previous one")
        assert once(served.http_port, ca)[0] == 200
        grpc_create(served.target, ca)
        logged(served, "TLS reload failed, keeping the previous certificates")

        # The key too, and SIGHUP: new connections get the new certificate.
        pair.key.write_bytes(fresh.key.read_bytes())
        served.proc.send_signal(signal.SIGHUP)
        logged(served, "HTTPS certificates reloaded from")
        assert once(served.http_port, rotated)[0] == 200
        with pytest.raises(ssl.SSLCertVerificationError):
            once(served.http_port, ca)
        grpc_create(served.target, rotated)
        # The connection made before the rotation goes on with its certificate.
        create(kept)
        kept.close()
        assert served.stop() == 0
    finally:
        if served.proc.poll() is None:
            served.proc.kill()


def _refused(tmp_path: Path, *options: str) -> tuple[int | None, str]:
    """The exit status and the log of a server that must refuse to start."""
    server = launcher.ServerProcess(
        ["--database", f"sqlite:///{tmp_path / 'refused.db'}", *options],
        log_path=tmp_path / "refused.log",
    )
    with pytest.raises(launcher.ServerExited):
        server.start()
    assert server.proc is not None
    return server.proc.returncode, server.logs()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ("--http-address", "127.0.0.1:0", "--tls-client-ca", "{ca}"),
            "--http-address cannot be used with --tls-client-ca: client certificates are "
            "not available to the HTTP port; use tokens or JWTs (--auth) with --tls-cert "
            "and --tls-key instead",
        ),
        (
            ("--http-address", "0.0.0.0:0"),
            "refusing to serve 0.0.0.0:0 (--http-address) without TLS and authentication: "
            "anyone who can reach it could read and change every execution. Give --tls-cert "
            "and --tls-key with --auth, or --insecure to serve it unprotected anyway.",
        ),
        (
            ("--http-address", "[::]:0", "--processes", "2"),
            "refusing to serve [::]:0 (--http-address) without TLS and authentication",
        ),
        (
            ("--http-address", "0.0.0.0:0", "--tls-cert", "{cert}", "--tls-key", "{key}"),
            "refusing to serve 0.0.0.0:0 (--http-address) without authentication",
        ),
        (
            ("--address", "127.0.0.1:1", "--http-address", "127.0.0.1:1", "--processes", "2"),
            "--http-address 127.0.0.1:1 and --address 127.0.0.1:1 have the same port: give "
            "the HTTP port another one (or 0 to pick one)",
        ),
    ],
    ids=["tls-client-ca", "exposed", "exposed-processes", "exposed-with-tls", "same-port"],
)
def test_the_http_port_refuses_unsafe_options_at_start(
    tmp_path: Path, ca: Authority, options: tuple[str, ...], message: str
) -> None:
    pair = ca.issue("server", server=True)
    with_files = {"ca": str(ca.path), "cert": str(pair.cert), "key": str(pair.key)}
    tls = (
        ()
        if "--tls-cert" in options
        else ("--tls-cert", str(pair.cert), "--tls-key", str(pair.key))
    )
    argv = [o.format(**with_files) for o in options]
    if "--tls-client-ca" in options:
        argv += tls
    status, log = _refused(tmp_path, *argv)
    assert status == 1, log
    assert message in log
    assert "Traceback" not in log
    assert not (tmp_path / "refused.db").exists()  # refused before anything is opened


def test_insecure_or_tls_with_auth_allow_an_exposed_http_port(tmp_path: Path) -> None:
    """The other side of the refusals above, on the check itself (``Settings.check``:
    nothing is bound)."""
    exposed = Settings(address="127.0.0.1:0", http_address="0.0.0.0:8080")
    with pytest.raises(ConfigError):
        exposed.check()
    Settings(address="127.0.0.1:0", http_address="0.0.0.0:8080", insecure=True).check()
    Settings(
        address="127.0.0.1:0",
        http_address="0.0.0.0:8080",
        tls_cert=tmp_path / "c",
        tls_key=tmp_path / "k",
        auth=True,
    ).check()
    for loopback in ("127.0.0.1:8080", "localhost:8080", "[::1]:8080"):
        Settings(address="127.0.0.1:0", http_address=loopback).check()


def _read_frame(response: http.client.HTTPResponse) -> tuple[int, Any]:
    flags, length = struct.unpack(">BI", response.read(5))
    return flags, json.loads(response.read(length))


def test_health_over_http_is_open_and_ends_with_the_server(tmp_path: Path) -> None:
    served = serve(tmp_path, "--auth")
    try:
        H = "/grpc.health.v1.Health/"
        conn = http.client.HTTPConnection("127.0.0.1", served.http_port, timeout=10)
        # No credentials, with --auth: health answers, the API does not.
        status, data = call(conn, H + "Check", b"{}")
        assert (status, json.loads(data)) == (200, {"status": "SERVING"})
        status, data = call(conn, H + "Check", b'{"service": "statehouse.v1.EventService"}')
        assert (status, json.loads(data)) == (200, {"status": "SERVING"})
        status, data = call(
            conn,
            H + "Check",
            health_pb2.HealthCheckRequest().SerializeToString(),
            "application/proto",
        )
        assert status == 200
        assert (
            health_pb2.HealthCheckResponse.FromString(data).status
            == health_pb2.HealthCheckResponse.SERVING
        )
        status, data = call(conn, H + "Check", b'{"service": "no.Such"}')
        assert (status, json.loads(data)["code"]) == (404, "not_found")
        status, data = call(conn, H + "List", b"{}")
        assert (status, json.loads(data)["code"]) == (501, "unimplemented")
        status, data = call(conn, E + "CountExecutions", b"{}")
        assert (status, json.loads(data)["code"]) == (401, "unauthenticated")
        for method in ("GET", "HEAD"):
            conn.request(method, "/healthz")
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200 and response.getheader("cache-control") == "no-store"
            assert body == (b"SERVING\n" if method == "GET" else b"")
        status, _ = call(conn, "/healthz", b"")
        assert status == 405
        # gRPC's health says the same, without credentials either.
        with grpc.insecure_channel(served.target) as channel:
            got = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10
            )
            assert got.status == health_pb2.HealthCheckResponse.SERVING
        # SIGHUP without TLS: nothing to re-read, and the process goes on
        # (the signal's default would have ended it).
        served.proc.send_signal(signal.SIGHUP)
        logged(served, "SIGHUP: no TLS certificates to re-read; still serving")
        conn.request("GET", "/healthz")
        assert conn.getresponse().read() == b"SERVING\n"
        # Watch: SERVING now; at SIGTERM NOT_SERVING, then the end of the stream.
        watch = http.client.HTTPConnection("127.0.0.1", served.http_port, timeout=10)
        watch.request(
            "POST",
            H + "Watch",
            body=envelope(b"{}"),
            headers={"content-type": "application/connect+json"},
        )
        response = watch.getresponse()
        assert response.status == 200
        assert _read_frame(response) == (0, {"status": "SERVING"})
        served.proc.send_signal(signal.SIGTERM)
        assert _read_frame(response) == (0, {"status": "NOT_SERVING"})
        flags, end = _read_frame(response)
        assert flags == 2 and end["error"]["code"] == "unavailable"
        assert served.proc.wait(30) == 0
        # Not held by the open Watch until the HTTP server's grace ran out (uvicorn
        # says so when it has to cancel what is still running): the Watch ended.
        assert "timeout graceful shutdown exceeded" not in served.logs()
        conn.close()
        watch.close()
    finally:
        if served.proc.poll() is None:
            served.proc.kill()


@pytest.mark.parametrize("options", [(), ("--auth",)], ids=["open", "auth"])
def test_a_path_segment_too_long_for_the_file_system_is_not_found(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    """Issue 23: 256 bytes in one segment answered 500 with a traceback in the log
    (ENAMETOOLONG from the static files' lookup), without credentials too."""
    served = serve(tmp_path, *options)
    try:
        long = "a" * 256
        for path in (f"/{long}", f"/assets/{long}", f"/assets/{long}.js", f"/{'b' * 5000}"):
            conn = http.client.HTTPConnection("127.0.0.1", served.http_port, timeout=10)
            with contextlib.closing(conn):
                conn.request("GET", path)
                response = conn.getresponse()
                assert (response.status, response.read()) == (404, b"not found\n"), path
    finally:
        served.stop()
    assert "Traceback" not in served.logs()
    assert "File name too long" not in served.logs()


async def test_healthz_answers_503_when_not_serving(tmp_path: Path) -> None:
    from statehouse.server.app import create_server

    settings = Settings(
        address="127.0.0.1:0",
        http_address="127.0.0.1:0",
        database_url=f"sqlite:///{tmp_path / 'h.db'}",
        shutdown_grace=1.0,
    )
    server, _ = await create_server(settings)
    await server.start()
    try:
        import asyncio

        def get() -> tuple[int, bytes]:
            port = server.http_port or 0
            with contextlib.closing(http.client.HTTPConnection("127.0.0.1", port)) as conn:
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                return response.status, response.read()

        assert await asyncio.to_thread(get) == (200, b"SERVING\n")
        await server.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        assert await asyncio.to_thread(get) == (503, b"NOT_SERVING\n")
    finally:
        await server.stop(0)


# -- --processes N -------------------------------------------------------------------

SUBSCRIBED = re.compile(r"subscribe in process (\d+): after \d+, namespace '(ch\d+)'")


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[ServerProcess]:
    """``--processes 2`` sharing both ports: ``pids`` are the two processes."""
    sup = ServerProcess(
        f"sqlite:///{tmp_path / 'p.db'}",
        tmp_path / "server.log",
        options=("--processes", "2", "--log-level", "DEBUG"),
        http=True,
    )
    try:
        yield sup
    finally:
        sup.close()
        for pid in sup.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _new_connection(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def test_processes_share_the_http_port_and_deliver_each_others_events(
    supervised: ServerProcess,
) -> None:
    # Calls on new connections are answered by both processes (each has its start time).
    started: set[str] = set()
    for _ in range(40):
        conn = _new_connection(supervised.http_port)
        status, data = call(conn, "/statehouse.v1.AdminService/GetServerInfo", b"{}")
        conn.close()
        assert status == 200, data
        info = json.loads(data)
        assert info["processes"] == 2
        started.add(info["startTime"])
        if len(started) == 2:
            break
    assert len(started) == 2, "the kernel put every connection on one process"

    # Connect Subscribes on new connections, until both processes serve some; the
    # log says which process serves which (each has its own namespace filter).
    streams: list[tuple[str, http.client.HTTPConnection, http.client.HTTPResponse]] = []
    served: dict[str, int] = {}
    while set(served.values()) != set(supervised.pids):
        assert len(streams) < 30, f"every stream on one process: {served}"
        namespace = f"ch{len(streams)}"
        conn = _new_connection(supervised.http_port)
        conn.request(
            "POST",
            "/statehouse.v1.EventService/Subscribe",
            body=envelope(json.dumps({"filter": {"namespace": namespace}}).encode()),
            headers={"content-type": "application/connect+json", "connect-timeout-ms": "30000"},
        )
        response = conn.getresponse()  # the headers come once the stream is admitted
        assert response.status == 200
        streams.append((namespace, conn, response))

        def subscribed(namespace: str = namespace) -> dict[str, int] | None:
            found = {ns: int(pid) for pid, ns in SUBSCRIBED.findall(supervised.logs())}
            return found if namespace in found else None

        served = eventually(subscribed, f"the subscription of {namespace} logged")

    # Every write through one connection (one process) reaches its stream, in
    # whichever process that stream is: some are in the other one.
    writer = _new_connection(supervised.http_port)
    made = {namespace: create(writer, namespace)["id"] for namespace, _, _ in streams}
    writer.close()
    for namespace, conn, response in streams:
        flags, message = _read_frame(response)
        assert flags == 0, (namespace, served[namespace], message)
        assert message["event"]["executionId"] == made[namespace]
        conn.close()
    # SIGHUP (passed on to the processes; no TLS here) stops nothing.
    supervised.proc.send_signal(signal.SIGHUP)
    logged(supervised, "SIGHUP: no TLS certificates to re-read", count=2)
    conn = _new_connection(supervised.http_port)
    assert call(conn, "/grpc.health.v1.Health/Check", b"{}")[0] == 200
    conn.close()
    supervised.proc.send_signal(signal.SIGTERM)
    assert supervised.proc.wait(30) == 0
    assert supervised.logs().count("statehouse stopped") == 2
