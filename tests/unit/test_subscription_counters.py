"""Subscriptions count their reconnections and the repeated events they drop,
against a tiny in-process server that repeats events on purpose."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from grpc_status import rpc_status

from statehouse.client import AsyncClient, CallRetry, Client
from statehouse.v1 import event_pb2, event_service_pb2

from .test_client_errors import rich_status

FAST = CallRetry(max_attempts=5, initial_backoff=0.001, max_backoff=0.01)


class RepeatingEvents:
    """Subscribe: the first stream sends events 1-3 then fails with UNAVAILABLE;
    the next ones send from 2 (ignoring after_sequence, as a faulty server
    would) up to 5 and end."""

    def __init__(self) -> None:
        self.requests: list[event_service_pb2.SubscribeRequest] = []
        self.lock = threading.Lock()

    def subscribe(
        self, request: event_service_pb2.SubscribeRequest, context: grpc.ServicerContext
    ) -> Iterator[event_service_pb2.SubscribeResponse]:
        with self.lock:
            self.requests.append(request)
            first = len(self.requests) == 1
        for sequence in range(1, 4) if first else range(2, 6):
            yield event_service_pb2.SubscribeResponse(
                event=event_pb2.StateChangeEvent(sequence=sequence, execution_id=f"e{sequence}")
            )
        if first:
            status = rich_status(grpc.StatusCode.UNAVAILABLE, "restarting", reason="SHUTTING_DOWN")
            context.abort_with_status(rpc_status.to_status(status))


@pytest.fixture
def repeating() -> Iterator[tuple[RepeatingEvents, str]]:
    servicer = RepeatingEvents()
    handlers = {
        "Subscribe": grpc.unary_stream_rpc_method_handler(
            servicer.subscribe,
            request_deserializer=event_service_pb2.SubscribeRequest.FromString,
            response_serializer=event_service_pb2.SubscribeResponse.SerializeToString,
        ),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("statehouse.v1.EventService", handlers),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        server.stop(None)


def test_the_blocking_subscription_counts_reconnects_and_dropped_duplicates(
    repeating: tuple[RepeatingEvents, str],
) -> None:
    servicer, target = repeating
    with Client.connect(target, stream_retry=FAST) as client:
        subscription = client.subscribe(after_sequence=0)
        assert (subscription.reconnects, subscription.duplicates_dropped) == (0, 0)
        first = [next(subscription).sequence for _ in range(3)]
        assert (subscription.reconnects, subscription.duplicates_dropped) == (0, 0)
        rest = [next(subscription).sequence for _ in range(2)]
        subscription.close()
    assert first + rest == [1, 2, 3, 4, 5]  # each once, in order
    assert (subscription.reconnects, subscription.duplicates_dropped) == (1, 2)
    assert [r.after_sequence for r in servicer.requests] == [0, 3]


async def test_the_async_subscription_counts_reconnects_and_dropped_duplicates(
    repeating: tuple[RepeatingEvents, str],
) -> None:
    servicer, target = repeating
    async with AsyncClient.connect(target, stream_retry=FAST) as client:
        subscription = client.subscribe(after_sequence=0)
        seen = [(await asyncio.wait_for(anext(subscription), 10)).sequence for _ in range(5)]
        await subscription.close()
    assert seen == [1, 2, 3, 4, 5]
    assert (subscription.reconnects, subscription.duplicates_dropped) == (1, 2)
    assert [r.after_sequence for r in servicer.requests] == [0, 3]
