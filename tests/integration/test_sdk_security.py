"""The SDK and the CLI on secured channels.

Against a real Statehouse serving TLS and mTLS with certificates the tests
make: what connects, what fails cleanly, the environment variables, the
``--tls-*`` options. Against a recording gRPC server (the same services,
answers made up): that the bearer token goes with every call and stream, that
refusals map to typed errors that never quote the token, and the AdminService
through the SDK and ``statehouse tokens``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, timestamp_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from statehouse.cli._main import main
from statehouse.client import (
    AsyncClient,
    CallRetry,
    Client,
    PermissionDeniedError,
    Role,
    State,
    TlsConfig,
    UnauthenticatedError,
    UnavailableError,
)
from statehouse.v1 import (
    admin_service_pb2 as apb,
    admin_service_pb2_grpc,
    event_pb2,
    event_service_pb2 as epb,
    event_service_pb2_grpc,
    execution_pb2,
    execution_service_pb2 as xpb,
    execution_service_pb2_grpc,
    state_pb2,
)
from tests.certs import Authority

from .conftest import Running

ADMIN = "sht_a1b2c3_admin-secret"
READER = "sht_d4e5f6_reader-secret"
NO_RETRY = CallRetry.disabled()

Factory = Callable[..., Any]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """TLS does not depend on the backend: SQLite only, to stay fast."""
    return f"sqlite:///{tmp_path / 'statehouse.db'}"


@pytest.fixture
def ca(tmp_path: Path) -> Authority:
    return Authority(tmp_path, "ca")


# A recording server: the Statehouse services, answers made up, every call's
# authorization metadata kept.


def _abort(
    context: grpc.ServicerContext,
    code: grpc.StatusCode,
    reason: str,
    message: str,
    metadata: dict[str, str] | None = None,
) -> None:
    info = error_details_pb2.ErrorInfo(reason=reason, domain="statehouse", metadata=metadata or {})
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
    context.abort_with_status(rpc_status.to_status(status))


def _now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


def _change(state: int, actor: str) -> execution_pb2.StateChange:
    return execution_pb2.StateChange(state=state, time=_now(), reason="made up", actor=actor)  # type: ignore[arg-type]


@dataclass
class Recorder:
    """What the recording server saw, and the credentials it accepts."""

    #: (method, authorization metadata or None), in the order received.
    calls: list[tuple[str, str | None]] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)
    tokens: dict[str, apb.Token] = field(default_factory=dict)
    roles: dict[str, Role] = field(
        default_factory=lambda: {f"Bearer {ADMIN}": Role.ADMIN, f"Bearer {READER}": Role.READER}
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, context: grpc.ServicerContext, method: str, request: Any, needed: Role) -> None:
        auth = dict(context.invocation_metadata()).get("authorization")
        with self.lock:
            self.calls.append((method, auth if isinstance(auth, str) else None))
            self.requests.append(request)
        role = self.roles.get(auth) if isinstance(auth, str) else None
        if role is None:
            _abort(
                context, grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED", "no valid credential"
            )
        elif role < needed:
            _abort(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                "PERMISSION_DENIED",
                f"{method} needs the {needed.name.lower()} role",
                {"role_needed": needed.name.lower()},
            )

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]

    def authorizations(self) -> set[str | None]:
        return {auth for _, auth in self.calls}


class _Executions(execution_service_pb2_grpc.ExecutionServiceServicer):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def GetExecution(self, request: Any, context: Any) -> xpb.GetExecutionResponse:
        self.recorder.check(context, "GetExecution", request, Role.READER)
        execution = execution_pb2.Execution(
            id=request.execution_id,
            namespace="acme.data",
            flow_id="etl",
            state=state_pb2.STATE_RUNNING,
            history=[
                _change(state_pb2.STATE_CREATED, "ci"),
                _change(state_pb2.STATE_RUNNING, "w1"),
            ],
        )
        return xpb.GetExecutionResponse(execution=execution)

    def ListExecutions(self, request: Any, context: Any) -> xpb.ListExecutionsResponse:
        self.recorder.check(context, "ListExecutions", request, Role.READER)
        return xpb.ListExecutionsResponse()


class _Events(event_service_pb2_grpc.EventServiceServicer):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def Subscribe(self, request: Any, context: Any) -> Iterator[epb.SubscribeResponse]:
        self.recorder.check(context, "Subscribe", request, Role.READER)
        yield epb.SubscribeResponse(
            event=event_pb2.StateChangeEvent(
                sequence=request.after_sequence + 1,
                namespace="acme.data",
                flow_id="etl",
                execution_id="e-0123456789",
                state=state_pb2.STATE_RUNNING,
                previous_state=state_pb2.STATE_CREATED,
                time=_now(),
                reason="started",
                actor="worker-7",
            )
        )
        ended = threading.Event()
        context.add_callback(ended.set)
        ended.wait(30)  # until the client cancels

    def FollowExecution(self, request: Any, context: Any) -> Iterator[epb.FollowExecutionResponse]:
        self.recorder.check(context, "FollowExecution", request, Role.READER)
        done = execution_pb2.Execution(
            id=request.execution_id, revision=3, state=state_pb2.STATE_SUCCESS
        )
        yield epb.FollowExecutionResponse(execution=done)


class _Admin(admin_service_pb2_grpc.AdminServiceServicer):
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def CreateToken(self, request: Any, context: Any) -> apb.CreateTokenResponse:
        self.recorder.check(context, "CreateToken", request, Role.ADMIN)
        token = apb.Token(
            name=request.name,
            role=request.role,
            namespaces=request.namespaces,
            certificate_subject=request.certificate_subject,
            create_time=_now(),
            created_by="admin",
        )
        if request.HasField("ttl"):
            token.expire_time.FromDatetime(
                token.create_time.ToDatetime() + request.ttl.ToTimedelta()
            )
        self.recorder.tokens[request.name] = token
        secret = "" if request.certificate_subject else f"sht_k{len(self.recorder.tokens)}_s3cret"
        return apb.CreateTokenResponse(token=token, secret=secret)

    def ListTokens(self, request: Any, context: Any) -> apb.ListTokensResponse:
        self.recorder.check(context, "ListTokens", request, Role.ADMIN)
        return apb.ListTokensResponse(tokens=list(self.recorder.tokens.values()))

    def RevokeToken(self, request: Any, context: Any) -> apb.RevokeTokenResponse:
        self.recorder.check(context, "RevokeToken", request, Role.ADMIN)
        token = self.recorder.tokens.get(request.name)
        if token is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, "CREDENTIAL_NOT_FOUND", "no such credential")
            raise AssertionError("unreachable")
        token.revoke_time.CopyFrom(_now())
        return apb.RevokeTokenResponse(token=token)


@dataclass
class Recording:
    recorder: Recorder
    target: str


def _serve(credentials: grpc.ServerCredentials | None) -> tuple[grpc.Server, Recording]:
    recorder = Recorder()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    execution_service_pb2_grpc.add_ExecutionServiceServicer_to_server(_Executions(recorder), server)
    event_service_pb2_grpc.add_EventServiceServicer_to_server(_Events(recorder), server)
    admin_service_pb2_grpc.add_AdminServiceServicer_to_server(_Admin(recorder), server)
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    return server, Recording(recorder, f"127.0.0.1:{port}")


@pytest.fixture
def recording() -> Iterator[Recording]:
    server, found = _serve(None)
    try:
        yield found
    finally:
        server.stop(0)


# The bearer token on the wire.


def test_the_token_goes_with_every_call_and_stream(recording: Recording) -> None:
    with Client.connect(recording.target, token=ADMIN, metadata={"x-team": "data"}) as client:
        assert client.get_execution("e1").id == "e1"
        assert list(client.list_executions()) == []
        with client.subscribe(from_latest=True) as subscription:
            event = next(subscription)
        assert event.actor == "worker-7"
        assert [e.state for e in client.follow_execution("e1")] == [State.SUCCESS]
        token, secret = client.create_token(
            "ci", role=Role.WRITER, namespaces=["acme.*"], ttl=timedelta(days=30)
        )
        assert client.list_tokens() == [token]
        assert client.revoke_token("ci").HasField("revoke_time")
    assert recording.recorder.methods() == [
        "GetExecution", "ListExecutions", "Subscribe", "FollowExecution",
        "CreateToken", "ListTokens", "RevokeToken",
    ]  # fmt: skip
    assert recording.recorder.authorizations() == {f"Bearer {ADMIN}"}
    assert secret.startswith("sht_")
    assert (token.name, token.role, list(token.namespaces)) == ("ci", Role.WRITER, ["acme.*"])
    request = recording.recorder.requests[4]
    assert request.ttl.ToTimedelta() == timedelta(days=30)


async def test_the_async_client_sends_the_token_from_the_environment(
    recording: Recording, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATEHOUSE_TOKEN", ADMIN)
    async with AsyncClient.connect(recording.target) as client:
        await client.get_execution("e1")
        subscription = client.subscribe(from_latest=True)
        async with subscription:
            await asyncio.wait_for(anext(subscription), 10)
        async for _ in client.follow_execution("e1"):
            pass
        token, secret = await client.create_token(
            "w", role="reader", namespaces=["*"], certificate_subject="CN=w"
        )
        assert secret == "" and token.certificate_subject == "CN=w"
        assert [t.name for t in await client.list_tokens(include_inactive=True)] == ["w"]
        assert (await client.revoke_token("w")).name == "w"
    assert recording.recorder.methods() == [
        "GetExecution", "Subscribe", "FollowExecution", "CreateToken", "ListTokens", "RevokeToken",
    ]  # fmt: skip
    assert recording.recorder.authorizations() == {f"Bearer {ADMIN}"}
    assert recording.recorder.requests[4].include_inactive


def test_without_a_token_nothing_is_sent_and_the_refusal_is_typed(
    recording: Recording, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STATEHOUSE_TOKEN", raising=False)
    with Client.connect(recording.target) as client, pytest.raises(UnauthenticatedError):
        client.get_execution("e1")
    assert recording.recorder.calls == [("GetExecution", None)]


def test_a_refused_token_is_never_quoted(recording: Recording) -> None:
    wrong = "sht_ffffff_wrong-secret"
    with Client.connect(recording.target, token=wrong, retry=NO_RETRY) as client:
        with pytest.raises(UnauthenticatedError) as info:
            client.get_execution("e1")
        with pytest.raises(UnauthenticatedError), client.subscribe() as subscription:
            next(subscription)  # not retried: the same token cannot succeed later
        shown = " ".join([str(info.value), repr(info.value), repr(client)])
    assert wrong not in shown
    assert info.value.reason == "UNAUTHENTICATED"
    assert recording.recorder.methods() == ["GetExecution", "Subscribe"]


async def test_a_missing_role_is_permission_denied(recording: Recording) -> None:
    async with AsyncClient.connect(recording.target, token=READER) as client:
        await client.get_execution("e1")
        with pytest.raises(PermissionDeniedError) as info:
            await client.create_token("x", role="admin", namespaces=["*"])
    assert info.value.role_needed == "admin"
    assert recording.recorder.methods() == ["GetExecution", "CreateToken"]  # not retried


def test_a_token_over_mtls(ca: Authority) -> None:
    pair = ca.issue("server", server=True)
    clients = Authority(ca.directory, "clients-ca")
    me = clients.issue("team-a", server=False)
    server, found = _serve(
        grpc.ssl_server_credentials(
            [(pair.key.read_bytes(), pair.cert.read_bytes())],
            root_certificates=clients.pem,
            require_client_auth=True,
        )
    )
    try:
        tls = TlsConfig(ca=ca.path, cert=me.cert, key=me.key)
        with Client.connect(found.target, tls=tls, token=ADMIN) as client:
            client.get_execution("e1")
            assert "tls=True" in repr(client)
        assert found.recorder.calls == [("GetExecution", f"Bearer {ADMIN}")]
    finally:
        server.stop(0)


# statehouse tokens, and the actor, through the CLI.


def test_cli_tokens_over_the_admin_service(
    recording: Recording, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--target", recording.target, "--token", ADMIN]
    assert main([*base, "tokens", "create", "--name", "ci", "--role", "writer",
                 "--namespace", "acme.*", "--namespace", "ops", "--expires", "30d"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "\nsht_k1_s3cret\n" in text
    assert "This token will not be shown again" in text
    assert "namespaces:  acme.*, ops" in text
    request = recording.recorder.requests[-1]
    assert (request.name, request.role, list(request.namespaces)) == (
        "ci",
        apb.ROLE_WRITER,
        ["acme.*", "ops"],
    )
    assert request.ttl.ToTimedelta() == timedelta(days=30)

    assert main([*base, "--json", "tokens", "create", "--name", "w", "--role", "reader",
                 "--namespace", "*", "--certificate-subject", "CN=w,O=acme"]) == 0  # fmt: skip
    created = json.loads(capsys.readouterr().out)
    assert created["secret"] == ""
    assert created["token"]["certificate_subject"] == "CN=w,O=acme"
    assert "Clients presenting a certificate" not in json.dumps(created)

    assert main([*base, "tokens", "list", "--all"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[:5] == ["NAME", "ROLE", "NAMESPACES", "SUBJECT", "STATUS"]
    assert [r.split()[:5] for r in rows] == [
        ["ci", "writer", "acme.*,ops", "-", "active"],
        ["w", "reader", "*", "CN=w,O=acme", "active"],
    ]
    assert recording.recorder.requests[-1].include_inactive

    assert main([*base, "tokens", "revoke", "ci"]) == 0
    assert capsys.readouterr().out == "revoked token ci\n"
    assert main([*base, "tokens", "revoke", "nobody"]) == 1
    assert capsys.readouterr().err == "error: no such credential (CREDENTIAL_NOT_FOUND)\n"
    assert recording.recorder.authorizations() == {f"Bearer {ADMIN}"}


def test_cli_errors_for_refused_credentials(
    recording: Recording, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--target", recording.target, "--token", READER, "tokens", "list"]) == 1
    assert capsys.readouterr().err == "error: ListTokens needs the admin role (PERMISSION_DENIED)\n"
    wrong = "sht_ffffff_wrong-secret"
    assert main(["--target", recording.target, "--token", wrong, "executions", "get", "e1"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: no valid credential (UNAUTHENTICATED)\n"
        "  the token of --token (else $STATEHOUSE_TOKEN) was refused: unknown, expired or revoked\n"
    )


def test_cli_shows_the_actor_of_each_change(
    recording: Recording, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--target", recording.target, "--token", ADMIN]
    assert main([*base, "executions", "get", "e1"]) == 0
    timeline = capsys.readouterr().out.split("timeline:\n")[1].splitlines()
    assert timeline[0].split() == ["WHAT", "STATE", "START", "END", "DURATION", "ACTOR", "REASON"]
    actor = timeline[0].index("ACTOR")
    assert [line[actor:].split()[0] for line in timeline[1:]] == ["ci", "w1"]
    assert main([*base, "watch", "--limit", "1"]) == 0
    header, line = capsys.readouterr().out.splitlines()
    assert line[header.index("ACTOR") :].split() == ["worker-7", "started"]


def test_the_cli_reads_the_token_from_the_environment(recording: Recording) -> None:
    env = dict(os.environ, STATEHOUSE_TOKEN=ADMIN, STATEHOUSE_TARGET=recording.target)
    result = subprocess.run(
        [sys.executable, "-m", "statehouse.cli", "--json", "tokens", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == {"tokens": []}
    assert recording.recorder.calls == [("ListTokens", f"Bearer {ADMIN}")]


# A real server over TLS and mTLS.


async def _tls_server(
    server_factory: Factory, ca: Authority, *, clients: Authority | None = None
) -> Running:
    """A server with a certificate from ``ca``; mTLS for certificates from ``clients``."""
    pair = ca.issue("server", server=True)
    options: dict[str, object] = {"tls_cert": pair.cert, "tls_key": pair.key}
    if clients is not None:
        options["tls_client_ca"] = clients.path
    running: Running = await server_factory(**options)
    return running


async def test_the_sdk_connects_over_tls_and_fails_cleanly_without(
    server_factory: Factory, ca: Authority
) -> None:
    running = await _tls_server(server_factory, ca)
    async with AsyncClient.connect(running.target, tls=TlsConfig(ca=ca.path)) as client:
        created = await client.create_execution(namespace="tls", flow_id="sdk")

    def blocking() -> str:
        with Client.connect(running.target, tls=TlsConfig(ca=ca.pem)) as client:
            return client.get_execution(created.id).flow_id

    assert await asyncio.to_thread(blocking) == "sdk"
    other = Authority(ca.directory, "other-ca")
    for tls in (False, TlsConfig(ca=other.path)):
        async with AsyncClient.connect(running.target, tls=tls, retry=NO_RETRY) as client:
            with pytest.raises(UnavailableError):
                await client.get_execution(created.id)


async def test_the_sdk_checks_the_name_it_is_told(server_factory: Factory, ca: Authority) -> None:
    pair = ca.issue("server", server=True, names=["statehouse.test"])
    running: Running = await server_factory(tls_cert=pair.cert, tls_key=pair.key)
    named = TlsConfig(ca=ca.path, server_name="statehouse.test")
    async with AsyncClient.connect(running.target, tls=named) as client:
        await client.create_execution(namespace="tls", flow_id="named")
    plain = TlsConfig(ca=ca.path)
    async with AsyncClient.connect(running.target, tls=plain, retry=NO_RETRY) as client:
        with pytest.raises(UnavailableError):  # 127.0.0.1 is not in the certificate
            await client.create_execution(namespace="tls", flow_id="named")


async def test_the_sdk_presents_a_client_certificate_for_mtls(
    server_factory: Factory, ca: Authority, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = Authority(ca.directory, "clients-ca")
    running = await _tls_server(server_factory, ca, clients=clients)
    me = clients.issue("team-a", server=False)
    tls = TlsConfig(ca=ca.path, cert=me.cert, key=me.key)
    async with AsyncClient.connect(running.target, tls=tls) as client:
        await client.create_execution(namespace="tls", flow_id="mtls")
    stranger = ca.issue("stranger", server=False)  # from the server's CA, not the clients'
    for bad in (TlsConfig(ca=ca.path), TlsConfig(ca=ca.path, cert=stranger.cert, key=stranger.key)):
        async with AsyncClient.connect(running.target, tls=bad, retry=NO_RETRY) as client:
            with pytest.raises(UnavailableError):
                await client.create_execution(namespace="tls", flow_id="mtls")
    # The same from the environment alone.
    monkeypatch.setenv("STATEHOUSE_TLS_CA", str(ca.path))
    monkeypatch.setenv("STATEHOUSE_TLS_CERT", str(me.cert))
    monkeypatch.setenv("STATEHOUSE_TLS_KEY", str(me.key))
    async with AsyncClient.connect(running.target) as client:
        await client.create_execution(namespace="tls", flow_id="env")
        assert [e.flow_id async for e in client.list_executions()] == ["env", "mtls"]


async def _cli(*argv: str) -> tuple[int, str, str]:
    """``python -m statehouse.cli`` (the real entry point), off the loop that serves."""

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "statehouse.cli", *argv],
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("STATEHOUSE_")},
            timeout=60,
        )

    result = await asyncio.to_thread(run)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout, result.stderr


async def test_the_cli_connects_with_tls_options(server_factory: Factory, ca: Authority) -> None:
    running = await _tls_server(server_factory, ca)
    target = ["--target", running.target]
    status, out, err = await _cli("--tls-ca", str(ca.path), *target, "--json", "executions",
                                  "create", "--namespace", "tls", "--flow", "cli")  # fmt: skip
    assert (status, err) == (0, "")
    created = json.loads(out)["execution"]["id"]
    status, out, _ = await _cli(*target, "executions", "list", "--tls-ca", str(ca.path))
    assert status == 0 and created in out
    status, out, err = await _cli(*target, "executions", "create", "--namespace", "tls",
                                  "--flow", "plain")  # fmt: skip
    assert (status, out) == (1, "")
    assert err.startswith("error: ") and err.splitlines()[0].endswith("(UNAVAILABLE)")


async def test_the_cli_presents_a_client_certificate(
    server_factory: Factory, ca: Authority, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    clients = Authority(ca.directory, "clients-ca")
    running = await _tls_server(server_factory, ca, clients=clients)
    me = clients.issue("team-a", server=False)
    mtls = ["--tls-ca", str(ca.path), "--tls-cert", str(me.cert), "--tls-key", str(me.key)]
    argv = ["--target", running.target, "executions", "create", "--namespace", "tls", "--flow"]
    assert await asyncio.to_thread(main, [*mtls, *argv, "cli"]) == 0
    assert "flow:       cli (revision 0)" in capsys.readouterr().out
    assert await asyncio.to_thread(main, [*mtls[:2], *argv, "cli"]) == 1
    assert capsys.readouterr().err.splitlines()[0].endswith("(UNAVAILABLE)")
    # --tls-ca on the command line, the client certificate from the environment.
    monkeypatch.setenv("STATEHOUSE_TLS_CERT", str(me.cert))
    monkeypatch.setenv("STATEHOUSE_TLS_KEY", str(me.key))
    assert await asyncio.to_thread(main, [*mtls[:2], *argv, "env"]) == 0


# statehouse tokens --database: on the database itself, without a server.


def test_cli_tokens_on_the_database_directly(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("statehouse.server.security.credentials")
    db = ["--database", database_url]
    assert main(["tokens", "create", *db, "--name", "root", "--role", "admin",
                 "--namespace", "*"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    secret = text.split("\n\n")[1]
    assert secret.startswith("sht_") and "will not be shown again" in text
    assert main(["--json", "tokens", "create", *db, "--name", "ci", "--role", "writer",
                 "--namespace", "acme.*", "--expires", "12h"]) == 0  # fmt: skip
    created = json.loads(capsys.readouterr().out)
    assert created["secret"].startswith("sht_") and created["secret"] != secret
    assert created["token"]["role"] == "ROLE_WRITER"
    assert created["token"]["namespaces"] == ["acme.*"]
    assert created["token"]["expire_time"]

    assert main(["tokens", "revoke", *db, "ci"]) == 0
    assert capsys.readouterr().out == "revoked token ci\n"
    assert main(["--json", "tokens", "list", *db]) == 0
    assert [t["name"] for t in json.loads(capsys.readouterr().out)["tokens"]] == ["root"]
    assert main(["tokens", "list", "--all", *db]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [r.split()[:5] for r in rows] == [
        ["ci", "writer", "acme.*", "-", "revoked"],
        ["root", "admin", "*", "-", "active"],
    ]
    assert secret not in "".join(rows)

    assert main(["tokens", "revoke", *db, "nobody"]) == 1
    assert capsys.readouterr().err == "error: no credential named 'nobody' (NOT_FOUND)\n"
    assert main(["tokens", "create", *db, "--name", "root", "--role", "admin",
                 "--namespace", "*"]) == 1  # fmt: skip
    err = capsys.readouterr().err  # the server's words for a name taken; one clean line
    assert err.startswith("error: ") and "'root'" in err and err.count("\n") == 1


# End to end: a real server with --auth over TLS, the first admin made offline.


async def test_tokens_end_to_end_over_tls_with_auth(
    server_factory: Factory,
    ca: Authority,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("statehouse.server.security.credentials")
    assert main(["--json", "tokens", "create", "--database", database_url, "--name", "root",
                 "--role", "admin", "--namespace", "*"]) == 0  # fmt: skip
    root = json.loads(capsys.readouterr().out)["secret"]
    pair = ca.issue("server", server=True)
    running: Running = await server_factory(tls_cert=pair.cert, tls_key=pair.key, auth=True)
    tls = TlsConfig(ca=ca.path)

    async with AsyncClient.connect(running.target, tls=tls, token=root) as admin:
        _, writer = await admin.create_token("ci", role=Role.WRITER, namespaces=["acme.*"])
        _, reader = await admin.create_token(
            "viewer", role="reader", namespaces=["acme.*"], ttl=timedelta(hours=1)
        )
        assert [t.name for t in await admin.list_tokens()] == ["ci", "root", "viewer"]
    async with AsyncClient.connect(running.target, tls=tls, token=writer) as ci:
        execution = await ci.create_execution(namespace="acme.data", flow_id="etl")
        assert [h.actor for h in execution.history] == ["ci"]
    async with AsyncClient.connect(running.target, tls=tls, token=reader) as viewer:
        assert (await viewer.get_execution(execution.id)).id == execution.id
        with pytest.raises(PermissionDeniedError) as denied:
            await viewer.create_execution(namespace="acme.data", flow_id="etl")
        assert denied.value.role_needed == "writer"
    async with AsyncClient.connect(running.target, tls=tls, token="") as nobody:
        with pytest.raises(UnauthenticatedError):
            await nobody.get_execution(execution.id)

    # The CLI, with the same server: the actor in the timeline, tokens over the AdminService.
    cli = ["--target", running.target, "--tls-ca", str(ca.path)]
    status = await asyncio.to_thread(main, [*cli, "--token", writer, "executions", "get",
                                            execution.id])  # fmt: skip
    assert status == 0
    timeline = capsys.readouterr().out.split("timeline:\n")[1].splitlines()
    assert timeline[1][timeline[0].index("ACTOR") :].split()[0] == "ci"
    assert await asyncio.to_thread(main, [*cli, "--token", root, "tokens", "revoke", "ci"]) == 0
    assert capsys.readouterr().out == "revoked token ci\n"
    assert await asyncio.to_thread(main, [*cli, "--token", writer, "executions", "list"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0].endswith("(UNAUTHENTICATED)") and writer not in err
    assert err.splitlines()[1].startswith(
        "  the token of --token (else $STATEHOUSE_TOKEN) was refused"
    )
