"""How the SDK resolves its token and TLS from arguments and the environment,
without a server: what metadata every call carries, which TLS settings are
refused, and that the token never shows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from statehouse.client import AsyncClient, Client, Role, TlsConfig, _requests as rq
from statehouse.client._security import channel_security, with_token
from statehouse.v1 import admin_service_pb2

SECRET = "sht_0123abcd_s3cr3t-value"
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def resolve(
    *,
    token: str | None = None,
    tls: bool | TlsConfig | None = None,
    credentials: grpc.ChannelCredentials | None = None,
    metadata: tuple[tuple[str, str], ...] = (),
    env: dict[str, str] | None = None,
) -> tuple[bool, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """(secure, options, metadata) of a connect with these arguments."""
    security = channel_security(
        token=token, tls=tls, credentials=credentials, metadata=metadata, environ=env or {}
    )
    return security.credentials is not None, security.options, security.metadata


def test_a_token_becomes_a_bearer_authorization_entry_next_to_other_metadata() -> None:
    secure, _, metadata = resolve(token=SECRET, metadata=(("x-team", "data"),))
    assert not secure
    assert metadata == (("x-team", "data"), ("authorization", f"Bearer {SECRET}"))


def test_the_token_comes_from_the_environment_unless_given() -> None:
    env = {"STATEHOUSE_TOKEN": SECRET}
    assert resolve(env=env)[2] == (("authorization", f"Bearer {SECRET}"),)
    assert resolve(token="sht_other_x", env=env)[2] == (("authorization", "Bearer sht_other_x"),)
    assert resolve(token="", env=env)[2] == ()  # "" sends none, whatever the environment says
    assert resolve(env={})[2] == ()


def test_an_authorization_entry_of_ones_own_wins_over_the_environment() -> None:
    own = (("authorization", "Bearer from-metadata"),)
    assert resolve(metadata=own, env={"STATEHOUSE_TOKEN": SECRET})[2] == own
    with pytest.raises(ValueError, match="not both") as info:
        resolve(token=SECRET, metadata=own)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("bad", ["two words", "line\nbreak", "naïve", "tab\there"])
def test_a_token_gRPC_cannot_send_is_refused_without_quoting_it(bad: str) -> None:
    with pytest.raises(ValueError, match="printable ASCII") as info:
        with_token((), bad)
    assert bad not in str(info.value)


def test_tls_from_the_environment_when_tls_is_not_given(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(PEM)
    secure, options, _ = resolve(env={"STATEHOUSE_TLS_CA": str(ca)})
    assert secure and options == ()
    both = {"STATEHOUSE_TLS_CERT": str(ca), "STATEHOUSE_TLS_KEY": str(ca)}
    assert resolve(env=both)[0]  # mTLS with the system's roots
    assert not resolve(tls=False, env={"STATEHOUSE_TLS_CA": str(ca)})[0]
    assert not resolve(env={})[0]
    with pytest.raises(ValueError, match="STATEHOUSE_TLS_CERT and \\$STATEHOUSE_TLS_KEY"):
        resolve(env={"STATEHOUSE_TLS_CERT": str(ca)})


def test_tls_true_trusts_the_system_roots_and_server_name_overrides_the_host() -> None:
    assert resolve(tls=True) == (True, (), ())
    named = resolve(tls=TlsConfig(ca=PEM.encode(), server_name="statehouse.internal"))
    assert named[1] == (("grpc.ssl_target_name_override", "statehouse.internal"),)


def test_credentials_stand_instead_of_tls() -> None:
    credentials = grpc.ssl_channel_credentials()
    assert resolve(credentials=credentials)[0]
    with pytest.raises(ValueError, match="not both"):
        resolve(credentials=credentials, tls=True)


def test_a_client_certificate_needs_its_key() -> None:
    with pytest.raises(ValueError, match="go together"):
        TlsConfig(cert=PEM)
    with pytest.raises(ValueError, match="go together"):
        TlsConfig(key=PEM)


def test_unreadable_or_non_pem_files_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(ValueError, match=r"cannot read the CA certificates '.*missing\.pem'"):
        TlsConfig(ca=missing).channel_credentials()
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    with pytest.raises(ValueError, match=r"junk\.pem' is not PEM"):
        TlsConfig(ca=str(junk)).channel_credentials()
    with pytest.raises(ValueError, match="the client key is not PEM"):
        TlsConfig(cert=PEM, key=b"raw").channel_credentials()


def test_pem_may_be_given_as_text_or_bytes() -> None:
    TlsConfig(ca=PEM).channel_credentials()
    TlsConfig(ca=PEM.encode(), cert=PEM, key=PEM.encode()).channel_credentials()


def test_the_key_is_not_in_the_repr_of_a_tls_config() -> None:
    config = TlsConfig(ca="ca.pem", cert="me.crt", key=b"-----BEGIN PRIVATE KEY----- secret")
    assert "secret" not in repr(config)
    assert "ca.pem" in repr(config)


def test_the_repr_of_a_client_says_whether_it_has_a_token_never_which() -> None:
    with Client.connect("127.0.0.1:1", token=SECRET) as client:
        text = repr(client)
    assert text == "Client(target='127.0.0.1:1', tls=False, token=True)"
    with Client.connect("127.0.0.1:1", tls=TlsConfig(ca=PEM), token="") as client:
        assert repr(client) == "Client(target='127.0.0.1:1', tls=True, token=False)"


async def test_the_repr_of_an_async_client_hides_the_token_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STATEHOUSE_TOKEN", SECRET)
    async with AsyncClient.connect("127.0.0.1:1") as client:
        assert SECRET not in repr(client)
        assert repr(client) == "AsyncClient(target='127.0.0.1:1', tls=False, token=True)"


def test_a_client_on_its_own_channel_takes_a_token_too() -> None:
    channel = grpc.insecure_channel("127.0.0.1:1")
    client = Client(channel, token=SECRET, metadata={"X-Team": "data"})
    try:
        assert client._metadata == (("x-team", "data"), ("authorization", f"Bearer {SECRET}"))
        assert SECRET not in repr(client)
    finally:
        channel.close()


def test_create_token_requests_carry_role_namespaces_and_ttl() -> None:
    request = rq.create_token(
        "ci", role="writer", namespaces=["acme.*", "ops"], ttl=timedelta(hours=12)
    )
    assert request.role == admin_service_pb2.ROLE_WRITER
    assert list(request.namespaces) == ["acme.*", "ops"]
    assert request.ttl.ToTimedelta() == timedelta(hours=12)
    assert not request.certificate_subject
    grant = rq.create_token(
        "worker", role=Role.READER, namespaces=["*"], ttl=90, certificate_subject="CN=worker"
    )
    assert (grant.role, grant.ttl.seconds, grant.certificate_subject) == (
        admin_service_pb2.ROLE_READER,
        90,
        "CN=worker",
    )
    assert not rq.create_token("x", role=Role.ADMIN, namespaces=["*"]).HasField("ttl")
    with pytest.raises(TypeError, match="not a str"):
        rq.create_token("x", role="admin", namespaces="acme.*")
    with pytest.raises(ValueError, match="unknown Role"):
        rq.create_token("x", role="owner", namespaces=["*"])


def test_roles_parse_like_the_other_enums() -> None:
    assert Role.parse("admin") is Role.ADMIN
    assert Role.parse("ROLE_WRITER") is Role.WRITER
    assert Role.READER == admin_service_pb2.ROLE_READER
    assert Role.READER < Role.WRITER < Role.ADMIN
