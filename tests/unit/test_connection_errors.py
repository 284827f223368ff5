"""gRPC's texts of a channel that could not connect become a ServerUnreachableError
a person can act on; Resumption tells on_connect and on_reconnect (no server)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from statehouse.client import (
    AsyncClient,
    CallRetry,
    Client,
    ConnectInfo,
    ReconnectInfo,
    ServerUnreachableError,
    UnavailableError,
)
from statehouse.client._config import reconnect_backoff_options
from statehouse.client._errors import TLS_HINTS, error_from_rpc, unreachable_error
from statehouse.client._requests import subscribe
from statehouse.client._rpc import Resumption
from statehouse.v1 import event_pb2, event_service_pb2

REFUSED = (
    "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: "
    "Failed to connect to remote host: Connection refused"
)
NO_HOST = (
    "errors resolving nosuchhost.invalid:50051: [field:hostname lookup error:address "
    "lookup failed for nosuchhost.invalid:50051: Domain name not found]"
)
TLS_PLAIN = (
    "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:47007: Tls "
    "handshake failed (TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: error:100000f7:SSL "
    "routines:OPENSSL_internal:WRONG_VERSION_NUMBER: Invalid certificate verification context"
)
TLS_CA = (
    "failed to connect to all addresses; last error: UNKNOWN: ipv6:%5B::1%5D:443: Ssl "
    "handshake failed: SSL_ERROR_SSL: error:1000007d:SSL routines:"
    "OPENSSL_internal:CERTIFICATE_VERIFY_FAILED"
)
TLS_HOSTNAME = (
    "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:57123: Custom "
    "verification check failed with error: UNAUTHENTICATED: Hostname Verification Check failed."
)
HTTP1 = (
    "failed to connect to all addresses; last error: INTERNAL: ipv4:127.0.0.1:8080: Failed "
    "parsing HTTP/2 (Expected SETTINGS frame as the first frame, got frame type 80) (Trying "
    "to connect an http1.x server (HTTP status 400))"
)


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:
        return ()


def test_connection_refused_names_the_address_and_what_to_check() -> None:
    error = error_from_rpc(FakeRpcError(grpc.StatusCode.UNAVAILABLE, REFUSED))
    assert isinstance(error, ServerUnreachableError)
    assert isinstance(error, UnavailableError)
    assert str(error) == (
        "cannot reach the Statehouse server at 127.0.0.1:1 (connection refused): "
        "is it running there?"
    )
    assert (error.target, error.cause, error.tls) == ("127.0.0.1:1", "connection refused", False)
    assert error.detail == REFUSED
    assert error.code == grpc.StatusCode.UNAVAILABLE


def test_the_target_the_client_was_given_is_named() -> None:
    error = error_from_rpc(FakeRpcError(grpc.StatusCode.UNAVAILABLE, REFUSED), "localhost:1")
    assert str(error).startswith("cannot reach the Statehouse server at localhost:1 (")


@pytest.mark.parametrize(
    ("detail", "message"),
    [
        (
            NO_HOST,
            "cannot reach the Statehouse server at nosuchhost.invalid:50051 (no such host): "
            "is the host name right?",
        ),
        (
            TLS_PLAIN,
            "TLS handshake with the Statehouse server at 127.0.0.1:47007 failed "
            "(WRONG_VERSION_NUMBER): does it serve TLS there? (a plaintext server needs tls=False)",
        ),
        (HTTP1, "cannot reach the Statehouse server at 127.0.0.1:8080 (an HTTP/1.x server"),
    ],
)
def test_other_failures(detail: str, message: str) -> None:
    error = unreachable_error(detail, None)
    assert error is not None
    assert str(error).startswith(message)
    assert error.detail == detail


def test_a_certificate_that_does_not_verify() -> None:
    error = unreachable_error(TLS_CA, "statehouse.example:443")
    assert error is not None and error.tls
    assert error.cause == "CERTIFICATE_VERIFY_FAILED"
    assert "TLS handshake with the Statehouse server at statehouse.example:443 failed" in str(error)
    assert "STATEHOUSE_TLS_CA" in str(error)


def test_a_certificate_for_another_host_name() -> None:
    error = unreachable_error(TLS_HOSTNAME, "10.0.0.5:50051")
    assert error is not None and error.tls
    assert error.cause == "HOSTNAME_MISMATCH"
    assert str(error) == (
        "TLS handshake with the Statehouse server at 10.0.0.5:50051 failed (HOSTNAME_MISMATCH): "
        "is its certificate issued for this host name? (else name the one it is issued for: "
        "TlsConfig(server_name=...))"
    )


def test_the_cli_says_every_tls_hint_in_its_own_words() -> None:
    """The SDK's hints name TlsConfig's arguments; the CLI's, for the same reasons, its flags."""
    from statehouse.cli import _main

    assert set(_main.TLS_HINTS) == set(TLS_HINTS)
    for hint in _main.TLS_HINTS.values():
        assert "TlsConfig" not in hint and "tls=" not in hint


def test_other_unavailable_errors_are_left_alone() -> None:
    error = error_from_rpc(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "Socket closed"))
    assert type(error) is UnavailableError
    assert str(error) == "Socket closed"
    assert unreachable_error("the server is shutting down", None) is None
    other = error_from_rpc(FakeRpcError(grpc.StatusCode.INTERNAL, REFUSED))
    assert not isinstance(other, ServerUnreachableError)


def _cursor(**kwargs: Any) -> Any:
    return subscribe(after_sequence=7, **kwargs)


def _event(sequence: int) -> event_service_pb2.SubscribeResponse:
    return event_service_pb2.SubscribeResponse(event=event_pb2.StateChangeEvent(sequence=sequence))


def test_resumption_tells_on_connect_once_per_opening_and_on_reconnect_before_each_wait() -> None:
    connects: list[ConnectInfo] = []
    reconnects: list[ReconnectInfo] = []
    policy = CallRetry(max_attempts=3, initial_backoff=0.5, jitter=0)
    cursor = _cursor(on_connect=connects.append, on_reconnect=reconnects.append)
    resumption = Resumption(cursor, policy, target="127.0.0.1:1")
    resumption.open()
    assert resumption.waits_for_headers
    resumption.connected()
    resumption.connected()
    assert connects == [ConnectInfo(opens=1, last_sequence=7)]
    assert not connects[0].reconnected
    assert not resumption.waits_for_headers
    resumption.receive(_event(8))
    assert len(connects) == 1

    failure = FakeRpcError(grpc.StatusCode.UNAVAILABLE, REFUSED)
    assert resumption.reopen_after(failure) == 0.5
    (info,) = reconnects
    assert (info.attempt, info.max_attempts, info.delay, info.last_sequence) == (1, 3, 0.5, 8)
    assert isinstance(info.error, ServerUnreachableError)
    assert "127.0.0.1:1" in str(info.error)

    resumption.open()
    resumption.receive(_event(9))  # a message connects too
    assert connects[-1] == ConnectInfo(opens=2, last_sequence=8)  # told before the event
    assert connects[-1].reconnected

    # Three failures in a row: it gives up, and the error says where to resume.
    assert resumption.reopen_after(failure) is not None
    assert resumption.reopen_after(failure) is not None
    with pytest.raises(ServerUnreachableError) as raised:
        resumption.reopen_after(failure)
    assert raised.value.last_sequence == 9
    assert [r.attempt for r in reconnects] == [1, 1, 2]


def test_a_from_latest_subscription_that_received_nothing_has_no_resume_point() -> None:
    cursor = subscribe(from_latest=True)
    resumption = Resumption(cursor, CallRetry(max_attempts=1))
    resumption.open()
    assert resumption.waits_for_headers  # they say where it starts
    with pytest.raises(ServerUnreachableError) as raised:
        resumption.reopen_after(FakeRpcError(grpc.StatusCode.UNAVAILABLE, REFUSED))
    assert raised.value.last_sequence is None  # refused before its headers


def test_a_from_latest_subscription_knows_its_start_from_the_headers() -> None:
    cursor = subscribe(from_latest=True)
    resumption = Resumption(cursor, CallRetry(max_attempts=3))
    assert resumption.open().from_latest
    resumption.accepted((("statehouse-start-sequence", "41"), ("other", "x")))
    assert resumption.is_connected and resumption.resume_point == 41
    again = resumption.open()
    assert (again.from_latest, again.after_sequence) == (False, 41)
    resumption.accepted((("statehouse-start-sequence", "99"),))  # known: kept
    assert resumption.resume_point == 41


def test_the_channel_reconnects_in_step_with_the_retries() -> None:
    # Left to grpc, a channel waits 1 s, then 1.6 times longer each time (up to
    # 2 minutes) between connection attempts: retries meanwhile fail at once.
    fast = CallRetry(initial_backoff=0.05, max_backoff=0.2)
    slow = CallRetry(initial_backoff=0.1, max_backoff=3.0)
    assert reconnect_backoff_options(slow, fast) == [
        ("grpc.initial_reconnect_backoff_ms", 50),
        ("grpc.max_reconnect_backoff_ms", 200),
    ]
    # No busy loop for a policy without waits; never a longest wait below the first.
    assert reconnect_backoff_options(CallRetry(initial_backoff=0, max_backoff=0)) == [
        ("grpc.initial_reconnect_backoff_ms", 10),
        ("grpc.max_reconnect_backoff_ms", 10),
    ]
    assert reconnect_backoff_options(CallRetry(initial_backoff=2, max_backoff=1))[1] == (
        "grpc.max_reconnect_backoff_ms",
        2000,
    )


@pytest.mark.parametrize("client_type", [Client, AsyncClient])
def test_connect_gives_the_channel_its_reconnect_backoff_unless_told_otherwise(
    client_type: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[tuple[str, Any]]] = []

    def channel(target: str, *, options: list[tuple[str, Any]]) -> Any:
        seen.append(list(options))
        return grpc.insecure_channel(target)

    monkeypatch.setattr(client_type, "_insecure_channel", staticmethod(channel))
    retry = CallRetry(initial_backoff=0.1, max_backoff=3.0)
    stream_retry = CallRetry(initial_backoff=0.05, max_backoff=2.0)
    client_type.connect("127.0.0.1:1", retry=retry, stream_retry=stream_retry)
    options = dict(seen[-1])
    assert options["grpc.initial_reconnect_backoff_ms"] == 50
    assert options["grpc.max_reconnect_backoff_ms"] == 2000
    # The caller's own setting wins, once.
    client_type.connect("127.0.0.1:1", options=[("grpc.max_reconnect_backoff_ms", 120_000)])
    assert [v for k, v in seen[-1] if k == "grpc.max_reconnect_backoff_ms"] == [120_000]
    assert dict(seen[-1])["grpc.initial_reconnect_backoff_ms"] == 50
