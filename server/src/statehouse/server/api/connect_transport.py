"""The Connect transport: the same handlers as gRPC, over HTTP/1.1 for browsers and curl.

An ASGI application speaking the Connect protocol (https://connectrpc.com/docs/protocol)
for every RPC of every service added, built from the service descriptors like
``grpc_transport.py``: ``POST /statehouse.v1.ExecutionService/CreateExecution``
with ``application/json`` (proto3 JSON) or ``application/proto`` (binary) for
unary calls, ``application/connect+json`` or ``application/connect+proto``
(enveloped frames, an end-of-stream frame with the status) for server streams.

The steps are those of gRPC (``_admission.py``), in the same order:

0. authenticate from the ``Authorization`` header, before the body is read;
1. read the body up to the largest request accepted (RESOURCE_EXHAUSTED past it;
   gzip request bodies are inflated, within the same bound), decode it (an
   undecodable one is INVALID_ARGUMENT, reason MALFORMED_REQUEST; JSON strictly,
   an unknown field or enum name refused with its path: ``_json.py``), on the
   heavy lane when large;
2. validate and authorize it;
3. call the handler, within ``Connect-Timeout-Ms`` when given (DEADLINE_EXCEEDED;
   a call whose deadline passed before it was admitted is refused, undone);
4. encode the response: binary with ``convert.encode`` (deterministic; the bytes
   handlers return are sent as they are), JSON from that message with every
   field (0 and empty ones too) and every object's keys sorted, so one value is
   one text in every process (``_json.to_json``);
5. map errors with ``errors.status_of`` to Connect's error JSON, ``{code,
   message, details: [{type, value (base64), debug}]}``, with the same code,
   ErrorInfo, BadRequest and PreconditionFailure as over gRPC.

Traces on, a call's server span begins before step 0, its parent the
``traceparent`` header (``Admission.record``), and ends with the call. The
per-call bookkeeping (the record of the call, the small-call priority mark,
admission and its deadline check) is ``_admission.py``'s, shared with gRPC.

Why not connect-python's own ASGI application: it decodes the request with its
codec before any application code runs, and encodes responses itself
(``SerializeToString()``/``MessageToJson``). That would decode before
authenticating, decode large requests on the event loop, answer a malformed body
with UNKNOWN and the parser's text, encode maps in hash order, and re-decode
the bytes our reads and the event fan-out encode once. The protocol is small;
connect-python's client is what the tests check this one against.

One file of about 500 lines: the protocol's wire (envelopes, timeouts,
compression, the media types) is one mechanism, read in the order of a call;
Connect's error JSON is ``_connect_errors.py``'s, and what the transport shares
with gRPC (admission, the per-call bookkeeping) is ``_admission.py``'s.
"""

from __future__ import annotations

import asyncio
import logging
import re
import struct
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2

from .. import limits
from ..orchestration import ANONYMOUS, InvalidArgument
from ..security.access import Principal, Role
from ..security.guard import Guard
from ..storage import Store
from ._admission import Admission, Parse, Remaining, parse_binary
from ._base import Call
from ._connect_errors import HTTP_STATUS, connect_error, connect_error_json
from ._json import parse_json, to_json
from .errors import status_of
from .health import RpcStatus

__all__ = ["ConnectTransport", "connect_error_json"]

log = logging.getLogger("statehouse.api")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_UNARY_TYPES = {"application/json": "json", "application/proto": "proto"}
_STREAM_TYPES = {"application/connect+json": "json", "application/connect+proto": "proto"}
_ACCEPT_POST = (
    b"application/json, application/proto, application/connect+json, application/connect+proto"
)
_END_STREAM = 0x02
_COMPRESSED = 0x01
_TIMEOUT = re.compile(r"[0-9]{1,10}")
#: Encoded events converted to JSON, by their bytes: one conversion per event, not
#: one per subscriber (the bytes are the event servicer's cached ones, whose
#: hash Python keeps).
_JSON_CACHE_SIZE = 4096


class _ProtocolError(Exception):
    """A request this transport answers with a plain HTTP status (not an RPC error)."""

    def __init__(self, status: int, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
        super().__init__(status)
        self.status = status
        self.headers = list(headers)


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    """The client went away before its request was read."""


@dataclass(frozen=True, slots=True)
class _Method:
    name: str
    request_type: type[Message]
    response_type: type[Message]
    handler: Callable[[Any, Call], Any]
    streaming: bool
    #: Served without credentials and without an access rule (health).
    open: bool = False


class ConnectTransport(Admission):
    """An ASGI application serving the services added over the Connect protocol."""

    transport = "connect"

    def __init__(
        self,
        store: Store,
        guard: Guard,
        *,
        max_payload_bytes: int,
        max_request_bytes: int | None = None,
    ) -> None:
        # No client certificates over HTTP (Settings.check refuses --tls-client-ca with it).
        super().__init__(store, guard, max_payload_bytes=max_payload_bytes, tls=False)
        self.max_request_bytes = max_request_bytes or limits.max_request_bytes(max_payload_bytes)
        self._methods: dict[str, _Method] = {}
        self._json: OrderedDict[bytes, bytes] = OrderedDict()

    @property
    def paths(self) -> list[str]:
        """``/statehouse.v1.ExecutionService/CreateExecution``, ... of every RPC served."""
        return sorted(self._methods)

    def add_service(self, service: ServiceDescriptor, impl: object, *, open: bool = False) -> None:
        """Serve every RPC of ``service`` with the method of ``impl`` of the same name.

        ``open``: to anyone, without credentials or access rules (grpc.health.v1,
        as on the gRPC port); the request is still bounded and validated.
        """
        for m in service.methods:
            name = f"/{service.full_name}/{m.name}"
            if not open:
                self.guard.rule(name)  # fail closed: an RPC without an access rule is not served
            self._methods[name] = _Method(
                name,
                message_factory.GetMessageClass(m.input_type),
                message_factory.GetMessageClass(m.output_type),
                getattr(impl, m.name),
                m.server_streaming,
                open,
            )

    def serves(self, path: str) -> bool:
        return path in self._methods

    # -- ASGI -----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = self._methods.get(scope["path"])
        try:
            if method is None:
                raise _ProtocolError(404)
            if scope["method"] != "POST":
                raise _ProtocolError(405, [(b"allow", b"POST")])
            headers = _headers(scope)
            media = headers.get(b"content-type", b"").decode("latin-1")
            media = media.split(";", 1)[0].strip().lower()
            if media in _STREAM_TYPES:
                codec, stream = _STREAM_TYPES[media], True
            elif media in _UNARY_TYPES and not method.streaming:
                codec, stream = _UNARY_TYPES[media], False
            else:
                raise _ProtocolError(415, [(b"accept-post", _ACCEPT_POST)])
        except _ProtocolError as exc:
            await _plain(send, exc.status, exc.headers)
            return
        if stream:
            await self._stream(method, codec, headers, scope, receive, send)
        else:
            await self._unary(method, codec, headers, scope, receive, send)

    def _principal(self, method: _Method, headers: dict[bytes, bytes], scope: Scope) -> Principal:
        if method.open:
            return _NOBODY
        if not self.guard.enabled:
            return self.guard.authenticate(None, None, "")
        value = headers.get(b"authorization")
        authorization = value.decode("latin-1") if value is not None else None
        client = scope.get("client")
        peer = f"http:{client[0]}:{client[1]}" if client else "http"
        return self.guard.authenticate(authorization, None, peer)

    async def _body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        """The request's body, refused past the largest request accepted."""
        limit = self.max_request_bytes
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise _TooLarge()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _TooLarge()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _inflate(self, data: bytes, encoding: bytes | None) -> bytes:
        name = (encoding or b"identity").decode("latin-1").strip().lower()
        if name == "identity":
            return data
        if name != "gzip":
            raise _Unimplemented(f"unknown compression {name!r}: supported are gzip, identity")
        inflater = zlib.decompressobj(wbits=31)
        try:
            out = inflater.decompress(data, self.max_request_bytes + 1)
        except zlib.error:
            raise InvalidArgument(
                [("request", "is not valid gzip")], reason="MALFORMED_REQUEST"
            ) from None
        if len(out) > self.max_request_bytes or inflater.unconsumed_tail:
            raise _TooLarge()
        return out

    async def _admit(
        self,
        method: _Method,
        codec: str,
        principal: Principal,
        raw: bytes,
        heavy: bool,
        remaining: Remaining | None,
    ) -> tuple[Message, Call]:
        parse: Parse = parse_json if codec == "json" else parse_binary
        return await self.admit(
            method.name,
            method.request_type,
            raw,
            principal,
            heavy,
            parse,
            remaining,
            open=method.open,
        )

    async def _respond(
        self, method: _Method, codec: str, response: Message | bytes, heavy: bool
    ) -> bytes:
        if codec == "proto":
            return await self._encode(response, heavy)
        if heavy or (isinstance(response, bytes) and len(response) > limits.OFFLOAD_REQUEST_BYTES):
            return await self.run_heavy(self._to_json, method.response_type, response)
        return self._to_json(method.response_type, response)

    @staticmethod
    def _to_json(response_type: type[Message], response: Message | bytes) -> bytes:
        if isinstance(response, bytes):
            response = response_type.FromString(response)
        return to_json(response)

    def _stream_json(self, response_type: type[Message], item: Message | bytes) -> bytes:
        if not isinstance(item, bytes):
            return to_json(item)
        cache = self._json
        text = cache.get(item)
        if text is None:
            text = cache[item] = to_json(response_type.FromString(item))
            if len(cache) > _JSON_CACHE_SIZE:
                cache.popitem(last=False)
        else:
            cache.move_to_end(item)
        return text

    # -- unary ----------------------------------------------------------------------

    async def _unary(
        self,
        method: _Method,
        codec: str,
        headers: dict[bytes, bytes],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        record = self.record(method.name, lambda: _items(headers), stream=False)
        try:
            timeout = _timeout(headers)
            remaining = _remaining(timeout)
            principal = self._principal(method, headers, scope)
            raw = self._inflate(
                await self._body(headers, receive), headers.get(b"content-encoding")
            )

            def admit(heavy: bool) -> Awaitable[tuple[Message, Call]]:
                return self._admit(method, codec, principal, raw, heavy, remaining)

            def encode(response: Message | bytes, heavy: bool) -> Awaitable[bytes]:
                return self._respond(method, codec, response, heavy)

            async with asyncio.timeout(timeout):
                body = await self.run_unary(record, raw, admit, method.handler, encode)
        except asyncio.CancelledError:
            record.cancelled()
            raise
        except _Disconnected:
            record.cancelled()
            return
        except Exception as exc:  # every error becomes a status, below
            status = _status_of(method.name, exc)
            record.fail(status)
            await _send(
                send,
                HTTP_STATUS.get(status.code, 500),
                [(b"content-type", b"application/json")],
                connect_error_json(status),
            )
            return
        record.end(0)
        await _send(send, 200, [(b"content-type", f"application/{codec}".encode())], body)

    # -- server streams ---------------------------------------------------------------

    async def _stream(
        self,
        method: _Method,
        codec: str,
        headers: dict[bytes, bytes],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        headers_sent = False

        async def send_headers(extra: dict[str, str] | None = None) -> None:
            nonlocal headers_sent
            if not headers_sent:
                headers_sent = True
                content_type = f"application/connect+{codec}".encode()
                response_headers = [(b"content-type", content_type)]
                for key, value in (extra or {}).items():
                    response_headers.append((key.encode("latin-1"), value.encode("latin-1")))
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": response_headers,
                    }
                )

        disconnected = asyncio.Event()
        watcher: asyncio.Task[None] | None = None
        end: dict[str, Any] = {}
        code = 0
        record = self.record(method.name, lambda: _items(headers), stream=True)
        try:
            timeout = _timeout(headers)
            remaining = _remaining(timeout)
            principal = self._principal(method, headers, scope)
            body = await self._body(headers, receive)
            raw = self._unenvelope(body, headers.get(b"connect-content-encoding"))
            async with asyncio.timeout(timeout):
                request, call = await self._admit(method, codec, principal, raw, False, remaining)
                record.request, record.call = request, call
                if method.streaming:
                    items: AsyncIterator[Message | bytes] = self.until_revoked(
                        call, method.handler(request, call)
                    )
                else:
                    items = _one(method.handler(request, call))
                # The stream is accepted: send the headers at once (with any the
                # handler set), so that a client knows it is connected before the
                # first message (gRPC does the same).
                await send_headers(call.headers)
                watcher = asyncio.create_task(_watch(receive, disconnected, asyncio.current_task()))
                try:
                    async for item in items:
                        if codec == "proto":
                            data = await self._encode(item, False)
                        else:
                            data = self._stream_json(method.response_type, item)
                        await send(
                            {
                                "type": "http.response.body",
                                "body": struct.pack(">BI", 0, len(data)) + data,
                                "more_body": True,
                            }
                        )
                finally:
                    aclose = getattr(items, "aclose", None)
                    if aclose is not None:
                        await aclose()
        except asyncio.CancelledError:
            code = code_pb2.CANCELLED
            if not disconnected.is_set():
                raise
            return  # the client went away: nobody to tell
        except _Disconnected:
            code = code_pb2.CANCELLED
            return
        except Exception as exc:  # every error becomes a status, in the end frame
            status = _status_of(method.name, exc)
            code = status.code
            end = {"error": connect_error(status)}
        finally:
            if watcher is not None:
                watcher.cancel()
            record.end(code, end["error"]["message"] if end else "")
        await send_headers()
        data = orjson.dumps(end)
        await send(
            {
                "type": "http.response.body",
                "body": struct.pack(">BI", _END_STREAM, len(data)) + data,
                "more_body": False,
            }
        )

    def _unenvelope(self, body: bytes, encoding: bytes | None) -> bytes:
        """The one message of a stream request's body."""
        if len(body) < 5:
            raise InvalidArgument(
                [("request", "a stream request holds one enveloped message")],
                reason="MALFORMED_REQUEST",
            )
        flags, length = struct.unpack(">BI", body[:5])
        if flags & _END_STREAM or len(body) != 5 + length:
            raise InvalidArgument(
                [("request", "a stream request holds exactly one enveloped message")],
                reason="MALFORMED_REQUEST",
            )
        data = body[5:]
        return self._inflate(data, encoding) if flags & _COMPRESSED else data


class _Unimplemented(Exception):
    pass


#: The caller of an open RPC (health): nobody in particular, allowed nothing else.
_NOBODY = Principal(identity="", actor=ANONYMOUS, role=Role.READER, namespaces=())


async def _one(response: Awaitable[Message | bytes]) -> AsyncIterator[Message | bytes]:
    yield await response


async def _watch(
    receive: Receive, disconnected: asyncio.Event, task: asyncio.Task[Any] | None
) -> None:
    """Cancel the stream when its client disconnects (uvicorn's send does not fail)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            disconnected.set()
            if task is not None:
                task.cancel()
            return


def _status_of(name: str, exc: Exception) -> status_pb2.Status:
    """``errors.status_of``, and the errors of this transport's own wire."""
    if isinstance(exc, _TooLarge):
        return status_pb2.Status(
            code=code_pb2.RESOURCE_EXHAUSTED,
            message="the request is larger than the server accepts",
        )
    if isinstance(exc, TimeoutError):
        return status_pb2.Status(code=code_pb2.DEADLINE_EXCEEDED, message="deadline exceeded")
    if isinstance(exc, RpcStatus):
        return exc.status
    if isinstance(exc, _Unimplemented):
        return status_pb2.Status(code=code_pb2.UNIMPLEMENTED, message=str(exc))
    return status_of(name, exc)


def _timeout(headers: dict[bytes, bytes]) -> float | None:
    value = headers.get(b"connect-timeout-ms")
    if value is None:
        return None
    text = value.decode("latin-1").strip()
    if not _TIMEOUT.fullmatch(text):
        raise InvalidArgument([("Connect-Timeout-Ms", "must be at most 10 digits")])
    return int(text) / 1000


def _remaining(timeout: float | None) -> Remaining | None:
    """How long a call with this ``Connect-Timeout-Ms`` has left, counted from now."""
    if timeout is None:
        return None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    return lambda: deadline - loop.time()


def _items(headers: dict[bytes, bytes]) -> Iterable[tuple[str, bytes]]:
    """The headers as ``Admission.record`` reads them (where the trace context is)."""
    return ((key.decode("latin-1"), value) for key, value in headers.items())


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {key.lower(): value for key, value in scope.get("headers", ())}


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _plain(send: Send, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    await _send(send, status, [(b"content-type", b"text/plain; charset=utf-8"), *headers], b"")
