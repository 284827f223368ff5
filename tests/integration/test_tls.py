"""TLS and mTLS on the gRPC port, with certificates the tests make themselves
(the ``cryptography`` package): plaintext is refused, a client certificate is
required under mTLS, and certificates rotate on reload without dropping
connections."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from statehouse.server.app import create_server
from statehouse.server.security.tls import TlsConfigError
from statehouse.v1 import execution_service_pb2 as pb, execution_service_pb2_grpc
from tests.certs import Authority, Pair

from .conftest import ServerProcess, logged, make_settings

#: Every TLS channel names the server as the certificate does.
OVERRIDE = [("grpc.ssl_target_name_override", "localhost")]


def _create(channel: grpc.aio.Channel) -> object:
    stub = execution_service_pb2_grpc.ExecutionServiceStub(channel)
    return stub.CreateExecution(pb.CreateExecutionRequest(namespace="tls", flow_id="f"), timeout=10)


def _tls_channel(target: str, ca: Authority, client: Pair | None = None) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.pem,
        private_key=client.key.read_bytes() if client else None,
        certificate_chain=client.cert.read_bytes() if client else None,
    )
    return grpc.aio.secure_channel(target, credentials, options=OVERRIDE)


@pytest.fixture
def ca(tmp_path: Path) -> Authority:
    return Authority(tmp_path, "ca")


async def test_tls_serves_and_plaintext_fails(
    server_factory: Callable[..., object], ca: Authority
) -> None:
    pair = ca.issue("server", server=True)
    running = await server_factory(tls_cert=pair.cert, tls_key=pair.key)  # type: ignore[operator]
    async with _tls_channel(running.target, ca) as channel:
        created = await _create(channel)  # type: ignore[misc]
        assert created.execution.namespace == "tls"
    async with grpc.aio.insecure_channel(running.target) as plain:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _create(plain)  # type: ignore[misc]
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    other = Authority(ca.directory, "other-ca")
    async with _tls_channel(running.target, other) as untrusted:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _create(untrusted)  # type: ignore[misc]
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mtls_requires_a_client_certificate_from_its_ca(
    server_factory: Callable[..., object], ca: Authority
) -> None:
    pair = ca.issue("server", server=True)
    clients = Authority(ca.directory, "clients-ca")
    running = await server_factory(  # type: ignore[operator]
        tls_cert=pair.cert, tls_key=pair.key, tls_client_ca=clients.path
    )
    async with _tls_channel(running.target, ca, clients.issue("team-a", server=False)) as good:
        await _create(good)  # type: ignore[misc]
    stranger = ca.issue("stranger", server=False)  # signed by the server's CA, not the clients'
    for client in (None, stranger):
        async with _tls_channel(running.target, ca, client) as bad:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await _create(bad)  # type: ignore[misc]
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_reload_rotates_certificates_without_dropping_connections(
    server_factory: Callable[..., object], ca: Authority
) -> None:
    pair = ca.issue("server", server=True)
    running = await server_factory(tls_cert=pair.cert, tls_key=pair.key)  # type: ignore[operator]
    old = _tls_channel(running.target, ca)
    await _create(old)  # type: ignore[misc]
    # The files are replaced by a certificate of a new CA, then a reload is asked for.
    rotated = Authority(ca.directory, "new-ca")
    fresh = rotated.issue("server-2", server=True)
    pair.cert.write_bytes(fresh.cert.read_bytes())
    pair.key.write_bytes(fresh.key.read_bytes())
    running.server.tls.request_reload()
    async with _tls_channel(running.target, rotated) as new:
        await _create(new)  # type: ignore[misc]
    await _create(old)  # type: ignore[misc]  # the connection made before the rotation goes on
    await old.close()
    async with _tls_channel(running.target, ca) as stale:
        with pytest.raises(grpc.aio.AioRpcError):
            await _create(stale)  # type: ignore[misc]


async def test_a_reload_of_broken_files_keeps_the_previous_certificates(
    server_factory: Callable[..., object], ca: Authority
) -> None:
    pair = ca.issue("server", server=True)
    running = await server_factory(tls_cert=pair.cert, tls_key=pair.key)  # type: ignore[operator]
    pair.cert.write_text("not a certificate")
    running.server.tls.request_reload()
    async with _tls_channel(running.target, ca) as channel:
        await _create(channel)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("cert", "key", "client_ca", "message"),
    [
        (True, False, False, "--tls-cert and --tls-key go together"),
        (False, False, True, "--tls-client-ca needs --tls-cert and --tls-key"),
    ],
)
async def test_incomplete_tls_options_are_refused(
    database_url: str, ca: Authority, cert: bool, key: bool, client_ca: bool, message: str
) -> None:
    from dataclasses import replace

    pair = ca.issue("server", server=True)
    settings = replace(
        make_settings(database_url),
        tls_cert=pair.cert if cert else None,
        tls_key=pair.key if key else None,
        tls_client_ca=ca.path if client_ca else None,
    )
    with pytest.raises(TlsConfigError, match=message):
        await create_server(settings)


def test_sighup_rereads_the_certificates_of_a_serving_process(
    database_url: str, ca: Authority, tmp_path: Path
) -> None:
    pair = ca.issue("server", server=True)
    server = ServerProcess(
        database_url,
        tmp_path / "server.log",
        options=("--tls-cert", str(pair.cert), "--tls-key", str(pair.key)),
    )
    try:
        assert "over TLS" in server.logs()
        server.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
        logged(server, "TLS certificates will be re-read")
        assert server.running
    finally:
        server.close()


async def test_the_sdk_connects_over_mtls(
    server_factory: Callable[..., object], ca: Authority
) -> None:
    from statehouse.client import AsyncClient

    pair = ca.issue("server", server=True)
    clients = Authority(ca.directory, "clients-ca")
    running = await server_factory(  # type: ignore[operator]
        tls_cert=pair.cert, tls_key=pair.key, tls_client_ca=clients.path
    )
    me = clients.issue("team-a", server=False)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.pem,
        private_key=me.key.read_bytes(),
        certificate_chain=me.cert.read_bytes(),
    )
    client = AsyncClient.connect(running.target, credentials=credentials, options=OVERRIDE)
    try:
        execution = await client.create_execution(namespace="tls", flow_id="sdk")
        assert (await client.get_execution(execution.id)).flow_id == "sdk"
    finally:
        await client.close()
