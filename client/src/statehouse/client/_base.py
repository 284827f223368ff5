"""What the blocking and the asyncio client share: connection set-up, options,
the retry and resumption state of calls, and the table of public methods.

The public methods are written once, at the end of :class:`BaseClient`, as
a table of the RPC definitions of :mod:`statehouse.client._requests`. Each
entry names the runner of its kind of call: ``_unary``, ``_paged``,
``_stream`` or ``_subscription``. The runners that need no I/O of their own
are here; a driver (``Client``, ``AsyncClient``) supplies ``_unary`` (a
coroutine function on ``AsyncClient``), ``_pages`` (the requests of a
pager) and the types of its streams. When a driver class is defined, every
entry becomes a real method of it, a function (a coroutine function where
the runner is one) with the definition's signature and docstring that
passes its arguments to the runner. The entries' static types (the
descriptors below) give each driver's methods their exact signatures and
return types.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Concatenate,
    Final,
    Generic,
    ParamSpec,
    Protocol,
    Self,
    TypeVar,
    cast,
    overload,
)

import grpc
import grpc.aio
from google.protobuf.message import Message

from statehouse.client import _requests as rq
from statehouse.client._config import (
    DEFAULT_CALL_RETRY,
    DEFAULT_STREAM_RETRY,
    DEFAULT_TIMEOUT,
    CallRetry,
    reconnect_backoff_options,
)
from statehouse.client._errors import ServerUnreachableError, UnavailableError
from statehouse.client._rpc import (
    AnyDefinition,
    AnyUnary,
    Attempts,
    CursorT,
    Paged,
    Pages,
    Resumption,
    StreamCursor,
    Streamed,
    Unary,
)
from statehouse.client._security import ChannelSecurity, TlsConfig, channel_security, with_token

if TYPE_CHECKING:
    from statehouse.client._aio import AsyncClient, AsyncSubscription
    from statehouse.client._client import Client, Subscription
    from statehouse.v1.event_pb2 import StateChangeEvent

__all__ = ["BaseClient", "MetadataLike", "StreamState", "SubscriptionCounters"]

P = ParamSpec("P")
OutT = TypeVar("OutT")
ItemT = TypeVar("ItemT")
OutT_co = TypeVar("OutT_co", covariant=True)
ItemT_co = TypeVar("ItemT_co", covariant=True)
ChannelT = TypeVar("ChannelT", grpc.Channel, grpc.aio.Channel)

#: Metadata sent with every call: a mapping or (key, value) pairs.
MetadataLike = Mapping[str, str] | Sequence[tuple[str, str]]

# Ask gRPC to register each method with the channel once, as the generated stubs do.
_REGISTERED: Final[dict[str, Any]] = {"_registered_method": True}


def normalize_metadata(metadata: MetadataLike | None) -> tuple[tuple[str, str], ...]:
    if metadata is None:
        return ()
    items = metadata.items() if isinstance(metadata, Mapping) else metadata
    return tuple((str(k).lower(), str(v)) for k, v in items)


def _seconds(value: float | timedelta | None) -> float | None:
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def client_repr(
    kind: str, target: str | None, secure: bool | None, metadata: tuple[tuple[str, str], ...]
) -> str:
    """What a client shows of itself: where it connects and how, never the token."""
    parts = [f"target={target!r}"] if target is not None else []
    if secure is not None:
        parts.append(f"tls={secure}")
    parts.append(f"token={any(key == 'authorization' for key, _ in metadata)}")
    return f"{kind}({', '.join(parts)})"


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


# The static types of the table's entries: descriptors that give each driver
# its own method type (a coroutine function on AsyncClient).


class UnaryMethod(Protocol[P, OutT_co]):
    @overload
    def __get__(
        self, obj: None, owner: type[Client]
    ) -> Callable[Concatenate[Client, P], OutT_co]: ...
    @overload
    def __get__(
        self, obj: None, owner: type[AsyncClient]
    ) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, OutT_co]]: ...
    @overload
    def __get__(self, obj: Client, owner: type[Any]) -> Callable[P, OutT_co]: ...
    @overload
    def __get__(
        self, obj: AsyncClient, owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, OutT_co]]: ...


class IteratorMethod(Protocol[P, ItemT_co]):
    @overload
    def __get__(
        self, obj: None, owner: type[Client]
    ) -> Callable[Concatenate[Client, P], Iterator[ItemT_co]]: ...
    @overload
    def __get__(
        self, obj: None, owner: type[AsyncClient]
    ) -> Callable[Concatenate[AsyncClient, P], AsyncIterator[ItemT_co]]: ...
    @overload
    def __get__(self, obj: Client, owner: type[Any]) -> Callable[P, Iterator[ItemT_co]]: ...
    @overload
    def __get__(
        self, obj: AsyncClient, owner: type[Any]
    ) -> Callable[P, AsyncIterator[ItemT_co]]: ...


class SubscribeMethod(Protocol):
    @overload
    def __get__(
        self, obj: None, owner: type[Client]
    ) -> Callable[..., Subscription[rq.SubscriptionItem]]: ...
    @overload
    def __get__(
        self, obj: None, owner: type[AsyncClient]
    ) -> Callable[..., AsyncSubscription[rq.SubscriptionItem]]: ...
    @overload
    def __get__(
        self, obj: Client, owner: type[Any]
    ) -> rq.Subscribe[Subscription[StateChangeEvent], Subscription[rq.SubscriptionItem]]: ...
    @overload
    def __get__(
        self, obj: AsyncClient, owner: type[Any]
    ) -> rq.Subscribe[
        AsyncSubscription[StateChangeEvent], AsyncSubscription[rq.SubscriptionItem]
    ]: ...


class _Entry:
    """An entry of the table: a definition and the name of its runner."""

    def __init__(self, definition: AnyDefinition, runner: str) -> None:
        self.definition = definition
        self.runner = runner


def unary_method(definition: Unary[P, Any, Any, OutT]) -> UnaryMethod[P, OutT]:
    return cast("UnaryMethod[P, OutT]", _Entry(definition, "_unary"))


def paged_method(definition: Paged[P, Any, Any, ItemT]) -> IteratorMethod[P, ItemT]:
    return cast("IteratorMethod[P, ItemT]", _Entry(definition, "_paged"))


def stream_method(
    definition: Streamed[P, StreamCursor[Any, Any, ItemT]],
) -> IteratorMethod[P, ItemT]:
    return cast("IteratorMethod[P, ItemT]", _Entry(definition, "_stream"))


def subscription_method(definition: Streamed[..., rq.SubscriptionCursor]) -> SubscribeMethod:
    return cast(SubscribeMethod, _Entry(definition, "_subscription"))


def _method(owner: type, name: str, entry: _Entry) -> object:
    """The method of a driver for one entry: a function (a coroutine function if
    the runner is one) that passes the definition and its arguments to the runner."""
    runner = getattr(owner, entry.runner)
    definition = entry.definition

    async def coroutine_method(self: Any, /, *args: Any, **kwargs: Any) -> Any:
        return await runner(self, definition, *args, **kwargs)

    def plain_method(self: Any, /, *args: Any, **kwargs: Any) -> Any:
        return runner(self, definition, *args, **kwargs)

    method: Any = coroutine_method if inspect.iscoroutinefunction(runner) else plain_method
    signature = inspect.signature(definition.build)
    this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    method.__signature__ = signature.replace(
        parameters=[this, *signature.parameters.values()],
        return_annotation=inspect.Signature.empty,
    )
    method.__name__ = name
    method.__qualname__ = f"{owner.__qualname__}.{name}"
    method.__module__ = owner.__module__
    method.__doc__ = definition.__doc__
    return method


class StreamState:
    """What a stream of either driver holds: the method that opens it, its
    resumption (cursor and retries), the metadata, and the call now open."""

    def __init__(
        self, method: Any, resumption: Resumption[Any], *, metadata: tuple[tuple[str, str], ...]
    ) -> None:
        self._method = method
        self._resumption = resumption
        self._metadata = metadata
        self._call: Any = None
        #: Items received and not yet handed over (a message may carry several).
        self._ready: deque[Any] = deque()


class SubscriptionCounters:
    """The counters of a subscription, the same for both drivers."""

    _resumption: Resumption[rq.SubscriptionCursor]

    @property
    def last_sequence(self) -> int:
        """The sequence of the last event (or heartbeat) received."""
        return self._resumption.cursor.last_sequence

    @property
    def reconnects(self) -> int:
        """How many times the stream was opened again after a failure or its end."""
        return self._resumption.reconnects

    @property
    def duplicates_dropped(self) -> int:
        """Events received again (at or below ``last_sequence``) and not yielded."""
        return self._resumption.cursor.duplicates_dropped


class BaseClient(Generic[ChannelT]):
    """The state and set-up both clients share; see ``Client`` and ``AsyncClient``."""

    def __init__(
        self,
        channel: ChannelT,
        *,
        timeout: float | timedelta | None = DEFAULT_TIMEOUT,
        retry: CallRetry = DEFAULT_CALL_RETRY,
        stream_retry: CallRetry = DEFAULT_STREAM_RETRY,
        metadata: MetadataLike | None = None,
        token: str | None = None,
        owns_channel: bool = False,
    ) -> None:
        self._channel: ChannelT = channel
        self._owns_channel = owns_channel
        self._target: str | None = None
        self._secure: bool | None = None
        self._timeout = _seconds(timeout)
        self._retry = retry
        self._stream_retry = stream_retry
        self._metadata = with_token(normalize_metadata(metadata), token)
        self._callables: dict[str, Any] = {}

    @property
    def channel(self) -> ChannelT:
        """The gRPC channel, for services beside Statehouse's own (health, reflection)."""
        return self._channel

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The metadata sent with every call (the bearer token among it, when set)."""
        return self._metadata

    @classmethod
    def connect(
        cls,
        target: str,
        *,
        timeout: float | timedelta | None = DEFAULT_TIMEOUT,
        retry: CallRetry = DEFAULT_CALL_RETRY,
        stream_retry: CallRetry = DEFAULT_STREAM_RETRY,
        metadata: MetadataLike | None = None,
        token: str | None = None,
        tls: bool | TlsConfig | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, str | int]] = (),
    ) -> Self:
        """Open a channel to ``target`` ("host:port").

        The channel connects lazily; ``timeout`` is the deadline of each unary
        call (None: none); ``retry`` governs unary calls and ``stream_retry``
        the reconnections of subscriptions and follows; the channel's own
        reconnections keep in step with both (``reconnect_backoff_options``:
        a server back after a restart is reached within ``max_backoff``), unless
        ``options`` sets grpc's ``grpc.*_reconnect_backoff_ms`` itself.

        ``token`` is sent as ``authorization: Bearer <token>`` with every call
        and stream (None: ``$STATEHOUSE_TOKEN`` if set; ``""``: no token).
        ``tls``: a :class:`TlsConfig` (CA, client certificate and key for
        mTLS), True for TLS with the system's roots, False for plaintext; None
        uses ``$STATEHOUSE_TLS_CA``, ``$STATEHOUSE_TLS_CERT`` and
        ``$STATEHOUSE_TLS_KEY`` when set, else plaintext. ``credentials``
        (any ``grpc.ChannelCredentials``) may stand instead of ``tls``.
        """
        security: ChannelSecurity = channel_security(
            token=token, tls=tls, credentials=credentials, metadata=normalize_metadata(metadata)
        )
        given = {key for key, _ in options}
        reconnects: list[tuple[str, int]] = [
            o for o in reconnect_backoff_options(retry, stream_retry) if o[0] not in given
        ]
        all_options = [*security.options, *reconnects, *options]
        if security.credentials is None:
            channel = cls._insecure_channel(target, options=all_options)
        else:
            channel = cls._secure_channel(target, security.credentials, options=all_options)
        client = cls(
            channel,
            timeout=timeout,
            retry=retry,
            stream_retry=stream_retry,
            metadata=security.metadata,
            owns_channel=True,
        )
        client._target = target
        client._secure = security.credentials is not None
        return client

    #: The driver's channel factories, plaintext and TLS.
    _insecure_channel: ClassVar[Callable[..., Any]]
    _secure_channel: ClassVar[Callable[..., Any]]

    def __repr__(self) -> str:
        return client_repr(type(self).__name__, self._target, self._secure, self._metadata)

    def _not_ready(self, timeout: float | None) -> UnavailableError:
        return ServerUnreachableError(
            target=self._target or "the channel's address",
            cause=f"not connected within {timeout} s",
            detail="the channel did not become ready",
            hint="is it running there?",
        )

    # What the runners share.

    def _callable(self, definition: AnyDefinition) -> Any:
        """The channel's multi-callable of a definition (made once per client)."""
        found = self._callables.get(definition.path)
        if found is None:
            make = (
                self._channel.unary_stream
                if isinstance(definition, Streamed)
                else self._channel.unary_unary
            )
            found = make(
                definition.path,
                request_serializer=_serialize,
                response_deserializer=definition.response.FromString,
                **_REGISTERED,
            )
            self._callables[definition.path] = found
        return found

    def _deadline(self, definition: AnyUnary, request: Any) -> float | None:
        """The timeout of one call: the client's, plus what the request asks the
        server to wait (a claim's ``wait``)."""
        waits = getattr(definition, "waits", None)
        if self._timeout is None or waits is None:
            return self._timeout
        return self._timeout + float(waits(request))

    def _attempts(self, definition: AnyUnary, request: Any) -> Attempts:
        return Attempts(self._retry, idempotent=definition.idempotent(request), target=self._target)

    def _resumption(self, cursor: CursorT) -> Resumption[CursorT]:
        return Resumption(cursor, self._stream_retry, target=self._target)

    # The runners that need no I/O of their own; the driver supplies ``_unary``
    # (a coroutine function on AsyncClient), ``_pages`` (which sends the
    # requests of a pager) and the types of its streams.

    _stream_type: ClassVar[Callable[..., Any]]
    _subscription_type: ClassVar[Callable[..., Any]]

    def _pages(self, definition: AnyUnary, pages: Pages[Any, Any, Any]) -> Any:
        raise NotImplementedError

    def _paged(
        self, definition: Paged[P, Any, Any, Any], /, *args: P.args, **kwargs: P.kwargs
    ) -> Any:
        return self._pages(definition, definition.pages(*args, **kwargs))

    def _stream(self, definition: Streamed[P, Any], /, *args: P.args, **kwargs: P.kwargs) -> Any:
        resumption = self._resumption(definition(*args, **kwargs))
        return self._stream_type(self._callable(definition), resumption, metadata=self._metadata)

    def _subscription(
        self, definition: Streamed[P, Any], /, *args: P.args, **kwargs: P.kwargs
    ) -> Any:
        resumption = self._resumption(definition(*args, **kwargs))
        return self._subscription_type(
            self._callable(definition), resumption, metadata=self._metadata
        )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, entry in vars(BaseClient).items():
            if isinstance(entry, _Entry) and getattr(cls, name) is entry:
                setattr(cls, name, _method(cls, name, entry))

    # The public methods, one entry per RPC (their docstrings are the definitions').

    # ExecutionService
    create_execution = unary_method(rq.create_execution)
    get_execution = unary_method(rq.get_execution)
    get_task_run = unary_method(rq.get_task_run)
    list_executions = paged_method(rq.list_executions)
    count_executions = unary_method(rq.count_executions)
    delete_execution = unary_method(rq.delete_execution)
    create_task_run = unary_method(rq.create_task_run)
    transition_execution = unary_method(rq.transition_execution)
    transition_task_run = unary_method(rq.transition_task_run)
    transition_task_runs = unary_method(rq.transition_task_runs)
    claim_task_runs = unary_method(rq.claim_task_runs)
    heartbeat = unary_method(rq.heartbeat)
    pause_execution = unary_method(rq.pause_execution)
    resume_execution = unary_method(rq.resume_execution)
    kill_execution = unary_method(rq.kill_execution)
    restart_execution = unary_method(rq.restart_execution)
    complete_execution = unary_method(rq.complete_execution)
    # MetricService
    record_metrics = unary_method(rq.record_metrics)
    list_metrics = paged_method(rq.list_metrics)
    aggregate_metrics = unary_method(rq.aggregate_metrics)
    # AdminService
    create_token = unary_method(rq.create_token)
    list_tokens = unary_method(rq.list_tokens)
    revoke_token = unary_method(rq.revoke_token)
    get_server_info = unary_method(rq.get_server_info)
    # EventService
    subscribe = subscription_method(rq.subscribe)
    follow_execution = stream_method(rq.follow_execution)
