"""The asyncio client, on a ``grpc.aio.Channel``: a thin driver of the RPC definitions.

It has the methods of :class:`statehouse.client.Client` (the one table in
:mod:`statehouse.client._base`): unary calls are coroutines, lists,
subscriptions and follows are async iterators. Here is only how an asyncio
call runs: ``_send``, ``_pages`` and :class:`AsyncStream` (with
:class:`AsyncSubscription`), the twins of the blocking client's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Generic, ParamSpec, Self, TypeVar, cast

import grpc
import grpc.aio

from statehouse.client._base import BaseClient, StreamState, SubscriptionCounters
from statehouse.client._requests import SubscriptionCursor
from statehouse.client._rpc import AnyUnary, Pages, Resumption, Unary
from statehouse.client._tracing import with_trace_context

__all__ = ["AsyncClient", "AsyncSubscription"]

P = ParamSpec("P")
_T = TypeVar("_T")
_OutT = TypeVar("_OutT")


class AsyncStream(StreamState, Generic[_T]):
    """An async iterator over a stream that reopens itself after a transient
    failure (or its end) as its cursor says; ``await close()`` (or cancelling
    the consuming task) ends it."""

    _method: grpc.aio.UnaryStreamMultiCallable[Any, Any]
    _call: grpc.aio.UnaryStreamCall[Any, Any] | None
    _closed = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> _T:
        while not self._closed:
            if self._ready:
                return cast(_T, self._ready.popleft())
            if self._call is None:
                self._call = self._method(
                    self._resumption.open(), metadata=with_trace_context(self._metadata)
                )
            failure: grpc.RpcError | None = None
            try:
                if self._resumption.waits_for_headers:
                    await self._await_headers(self._call)
                response = await self._call.read()
            except grpc.RpcError as exc:
                if self._closed:
                    break
                failure = exc
            else:
                if response is not grpc.aio.EOF:
                    self._ready.extend(self._resumption.receive(response))
                    continue
            self._call = None
            delay = self._resumption.reopen_after(failure)
            if delay is None:
                break
            await asyncio.sleep(delay)
        raise StopAsyncIteration

    async def _await_headers(self, call: grpc.aio.UnaryStreamCall[Any, Any]) -> None:
        """Wait for the stream's headers: the server accepted it (a call that
        failed first is not; read() raises its error)."""
        metadata = await call.initial_metadata()
        if self._closed:
            return
        if call.done() and await call.code() != grpc.StatusCode.OK:
            return
        self._resumption.accepted(metadata)

    async def close(self) -> None:
        """Stop the iteration."""
        self._closed = True
        call, self._call = self._call, None
        if call is not None:
            call.cancel()

    async def aclose(self) -> None:
        """Alias of :meth:`close`, like an async generator's."""
        await self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class AsyncSubscription(SubscriptionCounters, AsyncStream[_T]):
    """An async iterator of events that resumes by itself.

    The asyncio twin of :class:`statehouse.client.Subscription`: it keeps
    ``last_sequence`` (advanced by events and heartbeats), reopens the stream
    with ``after_sequence=last_sequence`` after a transient failure, and
    yields each event once, in order. ``await close()`` (or cancelling the
    consuming task) ends it. It counts ``reconnects`` and
    ``duplicates_dropped`` as the blocking subscription does.
    """

    _resumption: Resumption[SubscriptionCursor]


class AsyncClient(BaseClient[grpc.aio.Channel]):
    """An asyncio Statehouse client, on a ``grpc.aio.Channel``.

    The asyncio twin of :class:`statehouse.client.Client`, method for method:
    create it with :meth:`connect` inside a running event loop and close it
    (``await client.close()`` or ``async with``); unary calls are coroutines,
    lists, subscriptions and follows async iterators. Arguments, results,
    typed errors and retries are the blocking client's.
    """

    _insecure_channel = staticmethod(grpc.aio.insecure_channel)
    _secure_channel = staticmethod(grpc.aio.secure_channel)

    async def close(self) -> None:
        """Close the channel (if the client opened it)."""
        if self._owns_channel:
            await self._channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def wait_for_ready(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until the channel is connected; UnavailableError after ``timeout``."""
        try:
            await asyncio.wait_for(self._channel.channel_ready(), timeout)
        except TimeoutError as exc:
            raise self._not_ready(timeout) from exc

    # How an asyncio call runs (the runners that need no I/O of their own are in the base).

    _stream_type = AsyncStream
    _subscription_type = AsyncSubscription

    async def _send(self, definition: AnyUnary, request: Any) -> Any:
        """Send one request, again after a transient error where the definition allows."""
        method = self._callable(definition)
        attempts = self._attempts(definition, request)
        while True:
            try:
                return await method(
                    request,
                    timeout=self._deadline(definition, request),
                    metadata=with_trace_context(self._metadata),
                )
            except grpc.RpcError as exc:
                delay = attempts.retry_after(exc)
            await asyncio.sleep(delay)

    async def _unary(
        self, definition: Unary[P, Any, Any, _OutT], /, *args: P.args, **kwargs: P.kwargs
    ) -> _OutT:
        return definition.result(await self._send(definition, definition(*args, **kwargs)))

    async def _pages(self, definition: AnyUnary, pages: Pages[Any, Any, _T]) -> AsyncIterator[_T]:
        while not pages.done:
            for item in pages.accept(await self._send(definition, pages.request)):
                yield item
