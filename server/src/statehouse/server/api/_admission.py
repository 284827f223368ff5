"""What every transport does with a call, whatever its wire: the steps of
``docs/design.md``, "The life of one request", between the bytes and the handler.

A transport (``grpc_transport.py``, ``connect_transport.py``) finds the caller's
credentials in its own way (gRPC metadata and auth context; HTTP headers), then
hands the raw request bytes here: they are decoded (binary protobuf or proto3
JSON), validated, and authorized the same way for both, and responses are
encoded the same way (``convert.encode``, deterministic).

The per-call bookkeeping is here too, so no transport writes it by hand: a
transport opens a :class:`CallRecord` when a call arrives
(:meth:`Admission.record`: its start time and, traces on, its server span),
runs a unary call through :meth:`Admission.run_unary` (the small-call
priority mark, admission with its deadline check, the handler, the encoding),
and ends the record once with the call's code (:meth:`CallRecord.end`, or
:meth:`CallRecord.fail` with the status an error was mapped to): the RPC
metrics, the request log line and the end of the span (docs/design.md,
"Observability"). Only the wire differs: where the credentials, the deadline
and the trace context are found, and how a status is sent.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2

from .. import limits, priority
from ..orchestration import InvalidArgument
from ..security.access import Principal
from ..security.guard import Guard
from ..storage import Store
from ..telemetry import RpcSpan, code_name, log_request, request_logger
from . import convert
from ._base import Call
from .errors import DeadlineExceeded
from .validation import Payloads, validate

log = logging.getLogger("statehouse.api")

M = TypeVar("M")

#: Turns a request's bytes into its message (raising on bytes that are not one).
Parse = Callable[[type[Message], bytes], Message]
#: The headers of a call (gRPC metadata, HTTP headers), asked for only when needed.
Headers = Callable[[], Iterable[tuple[str, str | bytes]]]


def parse_binary(request_type: type[Message], raw: bytes) -> Message:
    return request_type.FromString(raw)


#: CANCELLED's number: the client cancelled, or went away.
_CANCELLED = 1
#: Codes that are no error of the server's or the caller's (the request log's level).
_QUIET = (0, _CANCELLED)  # OK, CANCELLED
#: UNAVAILABLE: an outage of the database answers every request so; the store's
#: outage log (telemetry.OutageLog) has its start and its end, once.
_UNAVAILABLE = 14


class Admission:
    """Decoding, validation, authorization and encoding, shared by the transports."""

    #: The ``transport`` label of the RPC metrics and the request log.
    transport = "grpc"

    def __init__(
        self, store: Store, guard: Guard, *, max_payload_bytes: int, tls: bool = True
    ) -> None:
        self.guard = guard
        #: Whether calls may carry a verified client certificate (the server has TLS).
        self.tls = tls
        #: Large requests are decoded and large responses encoded on the store's
        #: heavy lane (one thread): they wait for each other, not the event loop.
        self.run_heavy = store.run_heavy
        self.max_payload_bytes = max_payload_bytes
        self.metrics = store.metrics
        #: The server's traces; off, ``tracing.enabled`` is the only cost of a call.
        self.tracing = store.tracing

    def until_revoked(self, call: Call, items: AsyncIterator[M]) -> AsyncIterator[M]:
        """A stream's ``items``, ended with UNAUTHENTICATED once its caller's
        credential stops authenticating (revoked, expired, changed): an open
        stream keeps no right that a new call would not have."""
        return self.guard.until_revoked(call.principal, items)

    def record(self, name: str, headers: Headers, *, stream: bool) -> CallRecord:
        """The bookkeeping of a call of ``name`` that arrives now: its start and,
        traces on, its server span (a unary call's attached to the context, a
        stream's not), its parent the trace context of ``headers``."""
        started = time.perf_counter()
        span = self.begin_span(name, headers(), attach=not stream) if self.tracing.enabled else None
        return CallRecord(self, name, started, stream, span)

    async def run_unary(
        self,
        record: CallRecord,
        raw: bytes,
        admit: Callable[[bool], Awaitable[tuple[Message, Call]]],
        handler: Callable[[Any, Call], Awaitable[Message | bytes]],
        encode: Callable[[Message | bytes, bool], Awaitable[bytes]],
    ) -> bytes:
        """A unary call's response bytes: ``admit`` it (``heavy`` or not), call its
        ``handler``, ``encode`` the response. A small call is marked as one while
        it runs (``priority.small_call``: the heavy lane's long loops yield to it);
        the record learns the request and the call once admitted."""
        heavy = len(raw) > limits.OFFLOAD_REQUEST_BYTES
        with contextlib.nullcontext() if heavy else priority.small_call():
            record.request, record.call = await admit(heavy)
            response = await handler(record.request, record.call)
            return await encode(response, heavy)

    def begin_span(
        self, name: str, headers: Iterable[tuple[str, str | bytes]], *, attach: bool
    ) -> RpcSpan:
        """The server span of a call of ``name`` (traces on: check ``tracing.enabled``
        first), its parent the caller's trace context found in ``headers`` (gRPC
        metadata, HTTP headers: W3C ``traceparent`` and ``tracestate``)."""
        fields = self.tracing.fields
        carrier = {
            key: value if isinstance(value, str) else value.decode("latin-1")
            for key, value in headers
            if key in fields
        }
        return self.tracing.start_rpc(name, self.transport, carrier, attach=attach)

    def _decode(
        self, request_type: type[Message], raw: bytes, parse: Parse = parse_binary
    ) -> tuple[Message, Payloads]:
        try:
            request = parse(request_type, raw)
        except (DecodeError, json_format.ParseError, RecursionError, ValueError) as exc:
            name = request_type.DESCRIPTOR.full_name
            # The request log's WARNING line reports the refusal; the parser's
            # own words are for debugging.
            log.debug("undecodable %s (%d bytes): %s", name, len(raw), exc)
            raise InvalidArgument(
                [("request", f"is not a valid encoding of {name}")], reason="MALFORMED_REQUEST"
            ) from None
        return request, validate(request, max_payload_bytes=self.max_payload_bytes)

    async def _decode_async(
        self, request_type: type[Message], raw: bytes, parse: Parse = parse_binary
    ) -> tuple[Message, Payloads]:
        if len(raw) <= limits.OFFLOAD_REQUEST_BYTES:
            return self._decode(request_type, raw, parse)
        return await self.run_heavy(self._decode, request_type, raw, parse)

    async def _encode(self, response: Message | bytes, heavy: bool) -> bytes:
        """The response's bytes: a heavy call's are encoded on the worker thread.

        Handlers whose responses may be large whatever the request (reads) return
        them already encoded, on the storage thread that read them.
        """
        if isinstance(response, bytes):
            return response
        if not heavy:
            return convert.encode(response)
        return await self.run_heavy(convert.encode, response)

    async def admit(
        self,
        name: str,
        request_type: type[Message],
        raw: bytes,
        principal: Principal,
        heavy: bool,
        parse: Parse = parse_binary,
        remaining: Remaining | None = None,
        *,
        open: bool = False,
    ) -> tuple[Message, Call]:
        """Decode, validate and authorize a request of an authenticated caller
        (``open``: an RPC without access rules, health's, is not authorized),
        then admit it only if its deadline has not passed (``remaining``)."""
        request, payloads = await self._decode_async(request_type, raw, parse)
        if open:
            check_deadline(remaining)
            return request, Call(name, payloads, heavy, principal)
        await self.guard.authorize(name, request, principal)
        check_deadline(remaining)
        return request, Call(name, payloads, heavy, principal, self.guard)


class CallRecord:
    """One call's bookkeeping, from its arrival (:meth:`Admission.record`) to
    its end, reported once: the RPC metrics, the request log line and the end
    of its span. ``request`` and ``call`` stay None when the call ended before
    they were known (refused credentials, an undecodable request)."""

    __slots__ = ("_admission", "call", "name", "request", "span", "started", "stream")

    def __init__(
        self,
        admission: Admission,
        name: str,
        started: float,
        stream: bool,
        span: RpcSpan | None,
    ) -> None:
        self._admission = admission
        self.name = name
        self.started = started
        self.stream = stream
        self.span = span
        self.request: Message | None = None
        self.call: Call | None = None

    def end(self, code: int, message: str = "") -> None:
        """The call ended with ``code`` (0: OK; ``message``: its error's): count
        it, time it (unary calls), log it (DEBUG; WARNING for an error) and end
        its span."""
        admission, request, call = self._admission, self.request, self.call
        seconds = time.perf_counter() - self.started
        admission.metrics.rpc(
            admission.transport, self.name, code, None if self.stream else seconds
        )
        if self.span is not None:
            admission.tracing.end_rpc(
                self.span,
                code,
                message,
                {
                    "statehouse.execution_id": _field(request, "execution_id"),
                    "statehouse.task_run_id": _field(request, "task_run_id"),
                    "statehouse.request_id": _field(request, "request_id"),
                    "statehouse.actor": call.actor if call is not None else "",
                },
            )
        level = logging.DEBUG if code in _QUIET or code == _UNAVAILABLE else logging.WARNING
        if not request_logger.isEnabledFor(level):
            return
        log_request(
            level,
            transport=admission.transport,
            method=self.name,
            code=code_name(code),
            seconds=seconds,
            execution_id=_field(request, "execution_id"),
            task_run_id=_field(request, "task_run_id"),
            actor=call.actor if call is not None else "",
            request_id=_field(request, "request_id"),
            error=message if code not in _QUIET else "",
        )

    def cancelled(self) -> None:
        """The call ended CANCELLED: its client cancelled it, or went away."""
        self.end(_CANCELLED)

    def fail(self, status: status_pb2.Status) -> None:
        """The call ended with the error ``status`` (what it raised, mapped)."""
        self.end(status.code, status.message)


#: How long a call has left, in seconds (None: it has no deadline).
Remaining = Callable[[], float | None]


def check_deadline(remaining: Remaining | None) -> None:
    """Refuse a call whose deadline has passed, before its handler does any of
    its work: the last step of admission on every transport.

    A call's deadline is checked here only: a deadline that passes later, while
    its write waits for or is in its transaction, may leave the write committed
    and the client told DEADLINE_EXCEEDED (docs/concepts.md, "Choices where the
    design is silent", Deadlines).
    """
    if remaining is None:
        return
    left = remaining()
    if left is not None and left <= 0:
        raise DeadlineExceeded()


def _field(request: Message | None, name: str) -> str:
    """The string field ``name`` of ``request``, "" when it has none (or it is unset)."""
    if request is None or name not in request.DESCRIPTOR.fields_by_name:
        return ""
    value = getattr(request, name)
    return value if isinstance(value, str) else ""
