"""The blocking client, on a ``grpc.Channel``: a thin driver of the RPC definitions.

Its public methods come from the table in :mod:`statehouse.client._base`; here
is only how a blocking call runs: ``_send`` sends (and retries) one request,
``_pages`` follows page tokens, and :class:`Stream` (with
:class:`Subscription`) iterates over a stream that reopens itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, Generic, ParamSpec, Self, TypeVar, cast

import grpc

from statehouse.client._base import (
    BaseClient,
    MetadataLike,
    StreamState,
    SubscriptionCounters,
)
from statehouse.client._requests import SubscriptionCursor, SubscriptionItem
from statehouse.client._rpc import AnyUnary, Pages, Resumption, Unary
from statehouse.client._tracing import with_trace_context

__all__ = ["Client", "MetadataLike", "Subscription", "SubscriptionItem"]

P = ParamSpec("P")
_T = TypeVar("_T")
_OutT = TypeVar("_OutT")


class Stream(StreamState, Generic[_T]):
    """An iterator over a stream that reopens itself after a transient failure
    (or its end) as its cursor says; ``close()`` (from any thread) ends it."""

    _method: grpc.UnaryStreamMultiCallable[Any, Any]
    _call: grpc._CallIterator[Any] | None

    def __init__(
        self,
        method: grpc.UnaryStreamMultiCallable[Any, Any],
        resumption: Resumption[Any],
        *,
        metadata: tuple[tuple[str, str], ...],
    ) -> None:
        super().__init__(method, resumption, metadata=metadata)
        self._closed = threading.Event()
        # Reentrant: a KeyboardInterrupt that lands while the iterating thread
        # holds it must not deadlock that thread's own close() in a finally.
        self._lock = threading.RLock()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> _T:
        while not self._closed.is_set():
            if self._ready:
                return cast(_T, self._ready.popleft())
            call = self._open()
            failure: grpc.RpcError | None = None
            try:
                if self._resumption.waits_for_headers:
                    self._await_headers(call)
                response = next(call)
            except StopIteration:
                pass
            except grpc.RpcError as exc:
                if self._closed.is_set():
                    break
                failure = exc
            else:
                self._ready.extend(self._resumption.receive(response))
                continue
            self._drop(call)
            delay = self._resumption.reopen_after(failure)
            if delay is None:
                break
            self._closed.wait(delay)
        raise StopIteration

    def _await_headers(self, call: Any) -> None:
        """Wait for the stream's headers: the server accepted it (a call that
        failed first is not; next() raises its error)."""
        metadata = call.initial_metadata()
        if self._closed.is_set() or (call.done() and call.code() != grpc.StatusCode.OK):
            return
        self._resumption.accepted(metadata)

    def _open(self) -> grpc._CallIterator[Any]:
        with self._lock:
            if self._call is None:
                self._call = self._method(
                    self._resumption.open(), metadata=with_trace_context(self._metadata)
                )
            return self._call

    def _drop(self, call: object) -> None:
        with self._lock:
            if self._call is call:
                self._call = None

    def close(self) -> None:
        """Stop the iteration (safe from another thread)."""
        self._closed.set()
        with self._lock:
            call, self._call = self._call, None
        if call is not None:
            call.cancel()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Subscription(SubscriptionCounters, Stream[_T]):
    """An iterator of events that resumes by itself.

    It remembers the last sequence received (``last_sequence``, advanced by
    heartbeats too) and, when the stream fails with a transient error
    (UNAVAILABLE: a server restart, a lost connection) or ends, opens it again
    with ``after_sequence=last_sequence`` after a backoff, so each event is
    seen once, in order. A cursor older than the server's history raises
    :class:`SequenceCompactedError`. ``close()`` (from any thread) ends the
    iteration.

    Two counters tell how the stream went, for monitoring and benchmarks:
    ``reconnects`` (how many times the stream was opened again after it
    failed or ended, successful or not) and ``duplicates_dropped`` (events
    received at or below ``last_sequence``, which the subscription dropped
    instead of yielding again; a server that keeps its promise of "each event
    once" leaves it at 0, across reconnections too).
    """

    _resumption: Resumption[SubscriptionCursor]


class Client(BaseClient[grpc.Channel]):
    """A blocking Statehouse client.

    Create it with :meth:`connect` and close it (or use ``with``). Methods take
    keyword arguments with plain Python values and return the generated
    messages (``statehouse.v1``). Failed calls raise :class:`StatehouseError`
    subclasses. Unary calls are retried per ``retry`` when the error is
    transient and the call is safe to repeat (a read, or a mutation with a
    ``request_id``).
    """

    _insecure_channel = staticmethod(grpc.insecure_channel)
    _secure_channel = staticmethod(grpc.secure_channel)

    def close(self) -> None:
        """Close the channel (if the client opened it)."""
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def wait_for_ready(self, timeout: float | None = None) -> None:
        """Block until the channel is connected; UnavailableError after ``timeout``."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError as exc:
            raise self._not_ready(timeout) from exc

    # How a blocking call runs (the runners that need no I/O of their own are in the base).

    _stream_type = Stream
    _subscription_type = Subscription

    def _send(self, definition: AnyUnary, request: Any) -> Any:
        """Send one request, again after a transient error where the definition allows."""
        method = self._callable(definition)
        attempts = self._attempts(definition, request)
        while True:
            try:
                return method(
                    request,
                    timeout=self._deadline(definition, request),
                    metadata=with_trace_context(self._metadata),
                )
            except grpc.RpcError as exc:
                delay = attempts.retry_after(exc)
            time.sleep(delay)

    def _unary(
        self, definition: Unary[P, Any, Any, _OutT], /, *args: P.args, **kwargs: P.kwargs
    ) -> _OutT:
        return definition.result(self._send(definition, definition(*args, **kwargs)))

    def _pages(self, definition: AnyUnary, pages: Pages[Any, Any, _T]) -> Iterator[_T]:
        while not pages.done:
            yield from pages.accept(self._send(definition, pages.request))
