"""An open stream keeps no right that a new call would not have: revoking a
token (here or on another replica), its expiry, a JWT's ``exp`` and a revoked
certificate grant end the caller's open Subscribe streams with UNAUTHENTICATED,
over gRPC (plaintext and TLS) and Connect, while other callers' streams go on.

Every wait is bounded; none asserts a duration (a stream that was not ended
would run to the bound and fail the test)."""

from __future__ import annotations

import asyncio
import http.client
import json
import struct
import time
from pathlib import Path
from typing import Any

import grpc
import jwt as pyjwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from statehouse.server.security.credentials import issue_offline
from statehouse.v1 import (
    admin_service_pb2 as apb,
    event_service_pb2 as evpb,
    event_service_pb2_grpc,
    execution_service_pb2 as pb,
)
from tests.certs import Authority

from . import test_auth
from .test_auth import Caller, Secured, start_secured

#: The secured server of test_auth (an admin token, --auth on each backend).
secured = test_auth.secured

#: How long a stream may take to end once its credential is gone: far above
#: the one-second refresh, so that a loaded machine does not fail the test.
BOUND = 15.0


async def open_stream(channel: grpc.aio.Channel, token: str | None) -> Any:
    """A live Subscribe over gRPC, accepted (its headers received)."""
    stub = event_service_pb2_grpc.EventServiceStub(channel)
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    call = stub.Subscribe(evpb.SubscribeRequest(), metadata=metadata, timeout=60)
    await asyncio.wait_for(call.initial_metadata(), BOUND)
    return call


async def ended_with(call: Any) -> tuple[grpc.StatusCode, str]:
    """How the stream ended: it must end within the bound."""

    async def drain() -> tuple[grpc.StatusCode, str]:
        try:
            while await call.read() is not grpc.aio.EOF:
                pass
        except grpc.aio.AioRpcError as error:
            return error.code(), error.details() or ""
        return grpc.StatusCode.OK, ""

    try:
        return await asyncio.wait_for(drain(), BOUND)
    finally:
        call.cancel()


async def still_delivers(call: Any, admin: Caller) -> None:
    """The stream is alive: it receives the event of a new execution."""
    created = await admin.call(
        "ExecutionService",
        "CreateExecution",
        pb.CreateExecutionRequest(namespace="team-a.x", flow_id="still-here"),
    )
    while True:
        message = await asyncio.wait_for(call.read(), BOUND)
        assert message is not grpc.aio.EOF
        events = list(message.events) or ([message.event] if message.HasField("event") else [])
        if any(e.execution_id == created.execution.id for e in events):
            return


def connect_subscribe(port: int, token: str) -> dict[str, Any]:
    """A Connect JSON Subscribe over plain HTTP, read to its end frame (blocking)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=BOUND * 2)
    try:
        body = b"{}"
        conn.request(
            "POST",
            "/statehouse.v1.EventService/Subscribe",
            body=struct.pack(">BI", 0, len(body)) + body,
            headers={
                "content-type": "application/connect+json",
                "authorization": f"Bearer {token}",
            },
        )
        response = conn.getresponse()
        assert response.status == 200
        while True:
            head = response.read(5)
            assert len(head) == 5, "the stream ended without its end frame"
            flags, length = struct.unpack(">BI", head)
            data = response.read(length)
            if flags & 0x02:
                end: dict[str, Any] = json.loads(data)
                return end
    finally:
        conn.close()


async def revoke(caller: Caller, name: str) -> None:
    await caller.call("AdminService", "RevokeToken", apb.RevokeTokenRequest(name=name))


async def test_a_revoked_token_ends_its_streams_and_spares_the_others(secured: Secured) -> None:
    s = secured
    doomed = await s.issue("doomed", apb.ROLE_READER, ["*"])
    other = await s.issue("other", apb.ROLE_READER, ["*"])
    # A replica with an HTTP port too, where the token is revoked (at once there).
    server, grpc_port = await start_secured(s.database_url, http_address="127.0.0.1:0")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            admin = Caller(channel, s.admin_token)
            port = server.http_port
            assert port is not None
            grpc_stream = await open_stream(channel, doomed)
            spared = await open_stream(channel, other)
            connect = asyncio.ensure_future(asyncio.to_thread(connect_subscribe, port, doomed))
            await still_delivers(grpc_stream, admin)  # live before the revocation
            await revoke(admin, "doomed")
            code, message = await ended_with(grpc_stream)
            assert code == grpc.StatusCode.UNAUTHENTICATED, message
            assert "revoked or have expired" in message
            end = await asyncio.wait_for(connect, BOUND)
            assert end["error"]["code"] == "unauthenticated", end
            await still_delivers(spared, admin)
            # A new stream with the revoked token is refused too.
            refused = await Caller(channel, doomed).code(
                "EventService", "Subscribe", evpb.SubscribeRequest(), True
            )
            assert refused == grpc.StatusCode.UNAUTHENTICATED
            spared.cancel()
    finally:
        await server.stop(0)


async def test_streams_end_on_revocation_elsewhere_and_on_expiry(secured: Secured) -> None:
    s = secured
    second, port = await start_secured(s.database_url)
    try:
        token = await s.issue("ci", apb.ROLE_READER, ["*"])
        short = await s.issue("short", apb.ROLE_READER, ["*"], ttl=2)
        stream = await open_stream(s.channel, token)
        expiring = await open_stream(s.channel, short)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            # Revoked on the other replica: this one learns it at its next refresh.
            await revoke(Caller(channel, s.admin_token), "ci")
        code, _ = await ended_with(stream)
        assert code == grpc.StatusCode.UNAUTHENTICATED
        # Nothing revokes the short one: its expiry alone ends the stream.
        code, _ = await ended_with(expiring)
        assert code == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await second.stop(0)


async def test_a_jwt_stream_ends_at_exp(database_url: str, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = tmp_path / "idp.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    server, port = await start_secured(database_url, jwt_public_key=public)
    try:

        def token(lifetime: int) -> str:
            claims = {
                "sub": "alice",
                "exp": int(time.time()) + lifetime,
                "statehouse_role": "reader",
                "statehouse_namespaces": ["*"],
            }
            return pyjwt.encode(claims, key, algorithm="ES256")

        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            brief = await open_stream(channel, token(2))
            lasting = await open_stream(channel, token(600))
            code, _ = await ended_with(brief)
            assert code == grpc.StatusCode.UNAUTHENTICATED
            # The longer-lived token's stream is still open.
            assert not lasting.done()
            lasting.cancel()
    finally:
        await server.stop(0)


async def test_a_revoked_certificate_grant_ends_its_tls_stream(
    database_url: str, tmp_path: Path
) -> None:
    ca = Authority(tmp_path, "ca")
    clients = Authority(tmp_path, "clients")
    pair = ca.issue("server", server=True)
    _, root = issue_offline(database_url, name="root", role="admin", namespaces=["*"])
    issue_offline(
        database_url,
        name="worker-cert",
        role="reader",
        namespaces=["*"],
        certificate_subject="CN=worker-1,O=statehouse tests",
    )
    server, port = await start_secured(
        database_url, tls_cert=pair.cert, tls_key=pair.key, tls_client_ca=clients.path
    )
    me = clients.issue("worker-1", server=False)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.pem,
        private_key=me.key.read_bytes(),
        certificate_chain=me.cert.read_bytes(),
    )
    try:
        async with grpc.aio.secure_channel(
            f"127.0.0.1:{port}",
            credentials,
            options=[("grpc.ssl_target_name_override", "localhost")],
        ) as channel:
            stream = await open_stream(channel, None)
            await revoke(Caller(channel, root), "worker-cert")
            code, _ = await ended_with(stream)
            assert code == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await server.stop(0)
