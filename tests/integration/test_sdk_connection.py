"""Connections a person can follow: a closed port or a TLS mismatch says where
and what to check; a subscription says when it connects, when it reconnects,
and when it gives up, where to resume (a real server stopped and restarted)."""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from statehouse.client import (
    AsyncClient,
    CallRetry,
    Client,
    ConnectInfo,
    ReconnectInfo,
    ServerUnreachableError,
    StateChangeEvent,
    TlsConfig,
)
from tests.certs import Authority
from tests.eventually import eventually_async

from .conftest import Running, ServerProcess

FAST = CallRetry(max_attempts=3, initial_backoff=0.01, max_backoff=0.05)
DEADLINE = 20.0


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_closed_port_names_the_address_blocking() -> None:
    target = f"127.0.0.1:{closed_port()}"
    with Client.connect(target, retry=FAST, stream_retry=FAST) as client:
        with pytest.raises(ServerUnreachableError) as caught:
            client.get_execution("x")
        error = caught.value
        assert str(error) == (
            f"cannot reach the Statehouse server at {target} (connection refused): "
            "is it running there?"
        )
        assert "failed to connect to all addresses" in error.detail
        assert error.__cause__ is not None  # chained from the grpc.RpcError

        reconnects: list[ReconnectInfo] = []
        connects: list[ConnectInfo] = []
        subscription = client.subscribe(
            after_sequence=41, on_reconnect=reconnects.append, on_connect=connects.append
        )
        with pytest.raises(ServerUnreachableError) as gave_up:
            next(subscription)
        assert gave_up.value.last_sequence == 41
        assert connects == []
        assert [r.attempt for r in reconnects] == [1, 2]
        assert all(isinstance(r.error, ServerUnreachableError) for r in reconnects)
        assert all(r.last_sequence == 41 for r in reconnects)

        with pytest.raises(ServerUnreachableError, match=f"at {target} .*within 0.2 s"):
            client.wait_for_ready(0.2)


async def test_a_closed_port_names_the_address_asyncio() -> None:
    target = f"localhost:{closed_port()}"
    async with AsyncClient.connect(target, retry=FAST, stream_retry=FAST) as client:
        with pytest.raises(ServerUnreachableError) as caught:
            await client.create_execution(namespace="ns", flow_id="f", request_id="r")
        assert str(caught.value).startswith(f"cannot reach the Statehouse server at {target} (")
        assert "is it running there?" in str(caught.value)

        reconnects: list[ReconnectInfo] = []
        subscription = client.subscribe(from_latest=True, on_reconnect=reconnects.append)
        with pytest.raises(ServerUnreachableError) as gave_up:
            await anext(subscription)
        assert gave_up.value.last_sequence is None  # from_latest, nothing received
        assert len(reconnects) == 2


async def test_tls_mismatches_say_so(
    server_factory: Any, running_server: Running, tmp_path: Path
) -> None:
    ca = Authority(tmp_path, "ca")
    pair = ca.issue("server", server=True)
    tls_server = await server_factory(tls_cert=pair.cert, tls_key=pair.key)
    stranger = Authority(tmp_path, "stranger-ca")
    async with AsyncClient.connect(
        tls_server.target, retry=FAST, tls=TlsConfig(ca=stranger.path)
    ) as client:
        with pytest.raises(ServerUnreachableError) as caught:
            await client.get_execution("x")
    assert caught.value.tls
    assert str(caught.value).startswith(
        f"TLS handshake with the Statehouse server at {tls_server.target} failed ("
    )
    # TLS to a plaintext server.
    async with AsyncClient.connect(
        running_server.target, retry=FAST, tls=TlsConfig(ca=ca.path)
    ) as client:
        with pytest.raises(ServerUnreachableError) as plain:
            await client.get_execution("x")
    assert plain.value.tls
    assert "does it serve TLS there?" in str(plain.value)


async def test_on_connect_comes_before_any_event(server_target: str) -> None:
    connects: list[ConnectInfo] = []
    async with AsyncClient.connect(server_target) as client:
        subscription = client.subscribe(from_latest=True, on_connect=connects.append)
        pending = asyncio.ensure_future(anext(subscription))
        await eventually_async(lambda: connects, "on_connect called", step=0.02)
        # Connected though nothing happened yet: a live subscription with no event,
        # whose position the server's headers told (the newest event: none yet).
        assert connects == [ConnectInfo(opens=1, last_sequence=0)]
        created = await client.create_execution(namespace="ns", flow_id="f")
        event = await asyncio.wait_for(pending, DEADLINE)
        assert event.execution_id == created.id
        await subscription.close()


@pytest.mark.slow
def test_a_subscription_tells_its_reconnections_and_where_to_resume(
    server_process: ServerProcess,
) -> None:
    proc = server_process
    patient = CallRetry(max_attempts=200, initial_backoff=0.05, max_backoff=0.2)
    # About 20 s of attempts: a restart on a loaded machine fits, and the channel
    # reconnects as often (connect's stream_retry); giving up below still ends.
    reconnecting = CallRetry(max_attempts=100, initial_backoff=0.05, max_backoff=0.2)
    seen: queue.Queue[Any] = queue.Queue()

    with Client.connect(proc.target, retry=patient, stream_retry=reconnecting) as client:
        subscription = client.subscribe(
            after_sequence=0,
            on_connect=lambda info: seen.put(info),
            on_reconnect=lambda info: seen.put(info),
            retry=reconnecting,
        )

        def consume() -> None:
            try:
                for event in subscription:
                    seen.put(event)
            except BaseException as exc:
                seen.put(exc)

        thread = threading.Thread(target=consume, daemon=True)
        thread.start()
        first = seen.get(timeout=DEADLINE)
        assert first == ConnectInfo(opens=1, last_sequence=0)
        client.create_execution(namespace="ns", flow_id="f", request_id="one")
        event = seen.get(timeout=DEADLINE)
        assert isinstance(event, StateChangeEvent)

        proc.stop()
        reconnect = seen.get(timeout=DEADLINE)
        assert isinstance(reconnect, ReconnectInfo)
        assert reconnect.attempt == 1
        assert reconnect.last_sequence == event.sequence
        assert reconnect.delay > 0
        proc.start()  # the same port and database
        client.create_execution(namespace="ns", flow_id="f", request_id="two")
        items = []
        while not any(isinstance(i, StateChangeEvent) for i in items):
            item = seen.get(timeout=DEADLINE)
            if isinstance(item, BaseException):
                raise AssertionError(f"the subscription ended after {items}") from item
            items.append(item)
        connected = [i for i in items if isinstance(i, ConnectInfo)]
        assert len(connected) == 1 and connected[0].reconnected
        assert connected[0].last_sequence == event.sequence
        assert items.index(connected[0]) < len(items) - 1  # before the event
        assert items[-1].sequence == event.sequence + 1
        assert subscription.reconnects >= 1

        # Gone for good: it gives up after its attempts, saying where to resume.
        proc.stop()
        while True:
            item = seen.get(timeout=60)
            if isinstance(item, BaseException):
                break
            assert isinstance(item, ReconnectInfo)
        assert isinstance(item, ServerUnreachableError)
        assert item.last_sequence == event.sequence + 1
        thread.join(DEADLINE)
        assert not thread.is_alive()
