"""The kinds of RPC the SDK makes, sans I/O: what both clients share about a call.

An RPC is defined once, in :mod:`statehouse.client._requests`, by decorating
the function that builds its request from the public method's arguments (its
signature and docstring are the method's) with its response message type
(which names the RPC: each response belongs to one) and:

- :func:`unary`: which part of the response is the result, and whether the
  request may be sent again after a transient error;
- :func:`paged`: a list whose pages follow ``next_page_token``;
- :func:`streamed`: a server stream that resumes after a failure from what a
  :class:`StreamCursor` remembers (the builder returns the cursor).

The state machines a call runs through are here too, free of I/O so both
drivers (``Client`` and ``AsyncClient``) step them the same way and tests can
drive them by hand: :class:`Attempts` (retries of a unary call), :class:`Pages`
(page tokens) and :class:`Resumption` (reopening a stream). A driver only sends
requests, waits, and sleeps.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, Protocol, TypeAlias, TypeVar

import grpc
from google.protobuf.descriptor import Descriptor, MethodDescriptor

from statehouse.client._config import CallRetry
from statehouse.client._errors import StatehouseError, error_from_rpc

__all__ = [
    "Attempts",
    "ConnectInfo",
    "Paged",
    "Pages",
    "ReconnectInfo",
    "Resumption",
    "StreamCursor",
    "Streamed",
    "Unary",
    "always",
    "by_request_id",
    "never",
    "paged",
    "rpc_returning",
    "streamed",
    "unary",
    "whole",
]

P = ParamSpec("P")
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
ReqT = TypeVar("ReqT")
RespT = TypeVar("RespT")
OutT = TypeVar("OutT")
ItemT = TypeVar("ItemT")
ReqT_co = TypeVar("ReqT_co", covariant=True)
RespT_contra = TypeVar("RespT_contra", contravariant=True)
ItemT_co = TypeVar("ItemT_co", covariant=True)


class _PageRequest(Protocol):
    page_token: str


class _PageResponse(Protocol):
    @property
    def next_page_token(self) -> str: ...


class _WithRequestId(Protocol):
    @property
    def request_id(self) -> str: ...


PageReqT = TypeVar("PageReqT", bound=_PageRequest)
PageRespT = TypeVar("PageRespT", bound=_PageResponse)


# Idempotence: whether a request may be sent again after a transient error.


def always(request: object) -> bool:
    """A read, or a change that repeating cannot alter: always safe to repeat."""
    return True


def never(request: object) -> bool:
    """A change without a request_id: repeating it could apply it twice."""
    return False


def by_request_id(request: _WithRequestId) -> bool:
    """A mutation is safe to repeat when it carries a request_id."""
    return bool(request.request_id)


def whole(response: T) -> T:
    """The result is the whole response (its fields are all useful)."""
    return response


class _Definition(Generic[P, T_co]):
    """What every definition has: the builder (whose signature and docstring the
    public method takes), the response message type, and from it the RPC."""

    #: Whether the RPC streams its responses.
    streaming = False

    def __init__(self, build: Callable[P, T_co], *, response: type[Any]) -> None:
        self.build = build
        self.response = response
        #: The RPC's descriptor: the one method of the proto file that returns ``response``.
        self.method = rpc_returning(response.DESCRIPTOR)
        if self.method.server_streaming != self.streaming:
            kind = "a streaming" if self.method.server_streaming else "a unary"
            raise TypeError(f"{self.method.full_name} is {kind} RPC, not a {type(self).__name__}")
        #: The method's path on the wire: ``/statehouse.v1.Service/Method``.
        self.path = f"/{self.method.containing_service.full_name}/{self.method.name}"
        functools.update_wrapper(self, build)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T_co:
        return self.build(*args, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path})"


def rpc_returning(response: Descriptor) -> MethodDescriptor:
    """The method of ``response``'s proto file that returns it (each response
    message belongs to one RPC)."""
    found = [
        method
        for service in response.file.services_by_name.values()
        for method in service.methods
        if method.output_type.full_name == response.full_name
    ]
    if len(found) != 1:
        raise LookupError(f"{len(found)} RPCs return {response.full_name}, not one")
    return found[0]


class Unary(_Definition[P, ReqT], Generic[P, ReqT, RespT, OutT]):
    """A unary RPC. Calling it builds the request; ``result`` turns the response
    into what the method returns; ``idempotent(request)`` says whether the
    request may be sent again after a transient error."""

    def __init__(
        self,
        build: Callable[P, ReqT],
        *,
        response: type[RespT],
        result: Callable[[RespT], OutT],
        idempotent: Callable[[Any], bool],
        waits: Callable[[Any], float] | None = None,
    ) -> None:
        super().__init__(build, response=response)
        self.result = result
        self.idempotent = idempotent
        #: How long the server may hold this request by design (a claim's
        #: ``wait``), added to the client's timeout for it.
        self.waits = waits


class Paged(_Definition[P, PageReqT], Generic[P, PageReqT, PageRespT, ItemT]):
    """A list RPC whose responses carry ``next_page_token``; ``items`` picks a
    page's items. Lists are reads: always retried on a transient error."""

    def __init__(
        self,
        build: Callable[P, PageReqT],
        *,
        response: type[PageRespT],
        items: Callable[[PageRespT], Iterable[ItemT]],
    ) -> None:
        super().__init__(build, response=response)
        self.items = items
        self.idempotent = always

    def pages(self, *args: P.args, **kwargs: P.kwargs) -> Pages[PageReqT, PageRespT, ItemT]:
        """The pager of one listing (the request is built now, so bad arguments
        raise at the call, not at the first iteration)."""
        return Pages(self.build(*args, **kwargs), self.items)


class Pages(Generic[PageReqT, PageRespT, ItemT]):
    """The position in a paged list: the request for the next page, until a
    response comes without a ``next_page_token``."""

    def __init__(self, request: PageReqT, items: Callable[[PageRespT], Iterable[ItemT]]) -> None:
        self.request = request
        self.done = False
        self._items = items

    def accept(self, response: PageRespT) -> Iterable[ItemT]:
        """Take one page: its items, and the token of the next into ``request``."""
        if response.next_page_token:
            self.request.page_token = response.next_page_token
        else:
            self.done = True
        return self._items(response)


class StreamCursor(Protocol[ReqT_co, RespT_contra, ItemT_co]):
    """What a resumable stream remembers across reconnections."""

    #: The stream's own reconnection policy (None: the client's ``stream_retry``).
    retry: CallRetry | None

    def request(self) -> ReqT_co:
        """The request that opens (or resumes) the stream."""
        ...

    def accept(self, response: RespT_contra) -> Sequence[ItemT_co]:
        """Advance the cursor; return what to hand to the caller, in order (one
        message may carry several items, or none)."""
        ...

    @property
    def complete(self) -> bool:
        """Whether a stream that ends cleanly now is over (else it is reopened)."""
        ...


CursorT = TypeVar("CursorT", bound=StreamCursor[Any, Any, Any])
CursorT_co = TypeVar("CursorT_co", bound=StreamCursor[Any, Any, Any], covariant=True)


class Streamed(_Definition[P, CursorT_co], Generic[P, CursorT_co]):
    """A server-streaming RPC that resumes: calling it builds the cursor."""

    streaming = True


#: Any definition, and any whose requests go to a unary method.
AnyDefinition: TypeAlias = (
    "Unary[Any, Any, Any, Any] | Paged[Any, Any, Any, Any] | Streamed[Any, Any]"
)
AnyUnary: TypeAlias = "Unary[Any, Any, Any, Any] | Paged[Any, Any, Any, Any]"


def unary(
    response: type[RespT],
    *,
    result: Callable[[RespT], OutT],
    idempotent: Callable[[Any], bool],
    waits: Callable[[Any], float] | None = None,
) -> Callable[[Callable[P, ReqT]], Unary[P, ReqT, RespT, OutT]]:
    """Define the unary RPC that returns ``response`` by its request builder
    (see :class:`Unary`)."""

    def define(build: Callable[P, ReqT]) -> Unary[P, ReqT, RespT, OutT]:
        return Unary(build, response=response, result=result, idempotent=idempotent, waits=waits)

    return define


def paged(
    response: type[PageRespT], *, items: Callable[[PageRespT], Iterable[ItemT]]
) -> Callable[[Callable[P, PageReqT]], Paged[P, PageReqT, PageRespT, ItemT]]:
    """Define the list RPC that returns ``response`` by its request builder
    (see :class:`Paged`)."""

    def define(build: Callable[P, PageReqT]) -> Paged[P, PageReqT, PageRespT, ItemT]:
        return Paged(build, response=response, items=items)

    return define


def streamed(response: type[Any]) -> Callable[[Callable[P, CursorT]], Streamed[P, CursorT]]:
    """Define the streaming RPC that streams ``response`` by its cursor builder
    (see :class:`Streamed`)."""

    def define(build: Callable[P, CursorT]) -> Streamed[P, CursorT]:
        return Streamed(build, response=response)

    return define


class Attempts:
    """The retries of one unary call: after each failure, how long to wait
    before the next attempt, or the typed error to raise."""

    def __init__(self, policy: CallRetry, *, idempotent: bool, target: str | None = None) -> None:
        self.policy = policy
        self.idempotent = idempotent
        #: The server's address, named in a ServerUnreachableError.
        self.target = target
        #: Failed attempts so far.
        self.failures = 0

    def retry_after(self, exc: grpc.RpcError) -> float:
        """The backoff before the next attempt; raises the typed error (from
        ``exc``) when the call is not to be repeated."""
        self.failures += 1
        error = error_from_rpc(exc, self.target)
        policy = self.policy
        if self.idempotent and policy.is_transient(error) and policy.allows(self.failures):
            return policy.backoff(self.failures)
        raise error from exc


@dataclass(frozen=True, slots=True)
class ReconnectInfo:
    """What ``on_reconnect`` is told before a stream is reopened."""

    #: The consecutive failed (or ended) opening this is, 1-based; it restarts
    #: with each message received.
    attempt: int
    #: The most attempts allowed in a row (``CallRetry.max_attempts``; None: no limit).
    max_attempts: int | None
    #: Why: the typed error (None when the stream ended without one).
    error: StatehouseError | None
    #: The wait before the stream is opened again, in seconds.
    delay: float
    #: Where the stream resumes: the last sequence received (None when a
    #: ``from_latest`` subscription received nothing yet, or for a follow).
    last_sequence: int | None


@dataclass(frozen=True, slots=True)
class ConnectInfo:
    """What ``on_connect`` is told when a stream is open: the server accepted it."""

    #: How many times the stream was opened so far (1: the first connection).
    opens: int
    #: Where the stream resumes (see :attr:`ReconnectInfo.last_sequence`).
    last_sequence: int | None

    @property
    def reconnected(self) -> bool:
        """Whether this is a reconnection (not the first connection)."""
        return self.opens > 1


class Resumption(Generic[CursorT]):
    """The reconnections of one resumable stream.

    ``open()`` gives the request of each (re)opening; ``connected()`` says the
    server accepted it (its headers, or its first message, arrived);
    ``receive()`` passes a response through the cursor (and restarts the count
    of consecutive failures); ``reopen_after()`` decides, when the stream
    failed or ended, whether and after how long to open it again, or raises
    the error (carrying ``last_sequence``). The cursor's optional
    ``on_connect`` and ``on_reconnect`` callbacks are called from here.
    """

    def __init__(
        self, cursor: CursorT, default_retry: CallRetry, *, target: str | None = None
    ) -> None:
        self.cursor = cursor
        self.retry = cursor.retry or default_retry
        #: The server's address, named in a ServerUnreachableError.
        self.target = target
        #: How many times the stream was opened.
        self.opens = 0
        #: Consecutive failed (or ended) streams since the last message.
        self.failures = 0
        #: Whether the stream now open was accepted by the server.
        self.is_connected = False
        self._on_connect: Callable[[ConnectInfo], object] | None = getattr(
            cursor, "on_connect", None
        )
        self._on_reconnect: Callable[[ReconnectInfo], object] | None = getattr(
            cursor, "on_reconnect", None
        )

    @property
    def waits_for_headers(self) -> bool:
        """Whether the driver should read the stream's headers before its first
        message: someone listens for the connection and is not told yet, or the
        cursor learns its position from them (``headers``)."""
        if self.is_connected:
            return False
        return self._on_connect is not None or hasattr(self.cursor, "headers")

    def accepted(self, metadata: Any) -> None:
        """The stream's headers arrived (it is accepted): the cursor reads them
        (where a subscription starts), then ``connected()``."""
        read = getattr(self.cursor, "headers", None)
        if read is not None and metadata is not None:
            read({k: v for k, v in metadata if isinstance(v, str)})
        self.connected()

    @property
    def resume_point(self) -> int | None:
        """The cursor's last sequence, when it has one."""
        point = getattr(self.cursor, "resume_point", None)
        return point if isinstance(point, int) else None

    @property
    def reconnects(self) -> int:
        """How many times the stream was opened again after a failure or its end."""
        return max(self.opens - 1, 0)

    def open(self) -> Any:
        self.opens += 1
        self.is_connected = False
        return self.cursor.request()

    def connected(self) -> None:
        """The stream now open was accepted (once per opening): tell ``on_connect``."""
        if self.is_connected:
            return
        self.is_connected = True
        if self._on_connect is not None:
            self._on_connect(ConnectInfo(opens=self.opens, last_sequence=self.resume_point))

    def receive(self, response: Any) -> Sequence[Any]:
        self.connected()
        self.failures = 0
        return self.cursor.accept(response)

    def reopen_after(self, exc: grpc.RpcError | None) -> float | None:
        """The stream failed with ``exc`` (None: it ended): the backoff before
        reopening it (after telling ``on_reconnect``), None when the iteration
        is over, or raises the typed error, its ``last_sequence`` set."""
        error: StatehouseError | None = None if exc is None else error_from_rpc(exc, self.target)
        self.is_connected = False
        if error is None and self.cursor.complete:
            return None
        self.failures += 1
        transient = error is None or self.retry.is_transient(error)
        if transient and self.retry.allows(self.failures):
            delay = self.retry.backoff(self.failures)
            if self._on_reconnect is not None:
                self._on_reconnect(
                    ReconnectInfo(
                        attempt=self.failures,
                        max_attempts=self.retry.max_attempts,
                        error=error,
                        delay=delay,
                        last_sequence=self.resume_point,
                    )
                )
            return delay
        if error is None:
            return None
        error.last_sequence = self.resume_point
        raise error from exc
