"""The gRPC transport: raw bytes in, a handler called, bytes or a rich status out.

Every RPC of every service goes through :class:`GrpcTransport`, built from the
service descriptors, so the same steps hold for all of them:

0. authenticate the caller (``_guard.Guard``: UNAUTHENTICATED before any
   byte of the request is decoded);
1. decode the request (an undecodable one is INVALID_ARGUMENT, reason
   MALFORMED_REQUEST, with one log line and no traceback); requests larger
   than ``limits.OFFLOAD_REQUEST_BYTES`` are decoded and validated on a worker
   thread, so that the event loop keeps serving other calls (and so are large
   responses encoded, and the transactions of large requests run);
2. validate it completely (``validation.validate``): nothing runs on bad input;
   then authorize it (the role and namespaces of ``access.RULES``), and refuse
   it with DEADLINE_EXCEEDED, undone, if the call's deadline has passed;
3. call the handler, ``async def Method(request, call) -> response`` (or an
   async iterator of responses for a server stream), which knows nothing of
   gRPC: it returns a message or raises a domain error;
4. serialize the response here, so that a response that cannot be encoded is
   an error of this call like any other;
5. map what was raised to a ``google.rpc.Status``: domain errors to their
   codes and details, a lost database to UNAVAILABLE, a shutdown to
   UNAVAILABLE (SHUTTING_DOWN), and anything unexpected to INTERNAL with an
   error id that is also in the server log, never with exception text, SQL or
   parameters;
6. report the end of the call once (``CallRecord.end``: the RPC metrics,
   the request log and, traces on, the end of its span), with its code.

Traces on, a call's server span begins before step 0, its parent the
``traceparent`` of the call's metadata (``Admission.record``). Steps 1 to 4
of a unary call, with the small-call priority mark, are
``Admission.run_unary``, the same for both transports.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from grpc_status import rpc_status

from ..security.access import Principal
from ..security.guard import Guard
from ..storage import Store
from ._admission import Admission
from ._base import Call
from .errors import status_of

__all__ = ["GrpcTransport", "status_of"]

Context = grpc.aio.ServicerContext[Any, Any]


class _ClientGone(logging.Filter):
    """grpc logs a send that failed because the call's client had already gone
    (it closed the stream or its connection while a message was on its way: a
    stream's next batch, the end of a cancelled call) as an ERROR with a
    traceback. No error of the server's, and nothing lost that anyone awaits:
    it is kept at DEBUG."""

    PREFIX = "ExecuteBatchError raised in core by servicer method"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and str(record.msg).startswith(self.PREFIX):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.exc_info, record.exc_text = None, None
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


logging.getLogger("grpc._cython.cygrpc").addFilter(_ClientGone())


class GrpcTransport(Admission):
    """Generic gRPC handlers for services whose handlers are plain objects."""

    def __init__(
        self, store: Store, guard: Guard, *, max_payload_bytes: int, tls: bool = True
    ) -> None:
        super().__init__(store, guard, max_payload_bytes=max_payload_bytes, tls=tls)
        self._handlers: list[grpc.GenericRpcHandler] = []

    @property
    def handlers(self) -> list[grpc.GenericRpcHandler]:
        return list(self._handlers)

    def add_service(self, service: ServiceDescriptor, impl: object) -> None:
        """Serve every RPC of ``service`` with the method of ``impl`` of the same name."""
        for m in service.methods:
            # Fail closed: an RPC without an access rule is never served.
            self.guard.rule(f"{service.full_name}/{m.name}")
        methods = {m.name: self._method_handler(m, impl) for m in service.methods}
        self._handlers.append(grpc.method_handlers_generic_handler(service.full_name, methods))

    def _principal(self, context: Context) -> Principal:
        """The caller. Only what can matter is asked of gRPC (each costs a call
        into its core): the certificate where the server has TLS, the metadata
        and the peer where authentication is on."""
        subject = None
        if self.tls:
            auth = context.auth_context()
            if list(auth.get("transport_security_type", ())) == [b"ssl"]:
                subjects = list(auth.get("x509_subject", ()))
                subject = subjects[0].decode("utf-8", "replace") if subjects else None
        if not self.guard.enabled:
            return self.guard.authenticate(None, subject, "")
        authorization = None
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                authorization = value if isinstance(value, str) else value.decode("latin-1")
                break
        return self.guard.authenticate(authorization, subject, context.peer())

    async def _admit(
        self, name: str, request_type: type[Message], raw: bytes, context: Context, heavy: bool
    ) -> tuple[Message, Call]:
        """Authenticate, decode, validate, authorize and check the deadline: the
        request and its call."""
        principal = self._principal(context)
        return await self.admit(
            name, request_type, raw, principal, heavy, remaining=context.time_remaining
        )

    # -- handlers -----------------------------------------------------------------

    def _method_handler(
        self, method: MethodDescriptor, impl: object
    ) -> grpc.RpcMethodHandler[Any, Any]:
        request_type = message_factory.GetMessageClass(method.input_type)
        handler = getattr(impl, method.name)
        name = f"/{method.containing_service.full_name}/{method.name}"
        if method.server_streaming:
            return grpc.unary_stream_rpc_method_handler(self._stream(name, request_type, handler))
        return grpc.unary_unary_rpc_method_handler(self._unary(name, request_type, handler))

    def _unary(
        self,
        name: str,
        request_type: type[Message],
        handler: Callable[[Any, Call], Awaitable[Message | bytes]],
    ) -> Callable[[bytes, Context], Awaitable[bytes]]:
        async def unary(raw: bytes, context: Context) -> bytes:
            record = self.record(name, lambda: context.invocation_metadata() or (), stream=False)

            def admit(heavy: bool) -> Awaitable[tuple[Message, Call]]:
                return self._admit(name, request_type, raw, context, heavy)

            try:
                body = await self.run_unary(record, raw, admit, handler, self._encode)
            except asyncio.CancelledError:
                record.cancelled()
                raise
            except Exception as exc:  # every error becomes a status, below
                status = status_of(name, exc)
            else:
                record.end(0)
                return body
            record.fail(status)
            await context.abort_with_status(rpc_status.to_status(status))
            raise AssertionError("abort_with_status returned")  # pragma: no cover

        return unary

    def _stream(
        self,
        name: str,
        request_type: type[Message],
        handler: Callable[[Any, Call], AsyncIterator[Message | bytes]],
    ) -> Callable[[bytes, Context], AsyncIterator[bytes]]:
        async def stream(raw: bytes, context: Context) -> AsyncIterator[bytes]:
            record = self.record(name, lambda: context.invocation_metadata() or (), stream=True)
            try:
                request, call = await self._admit(name, request_type, raw, context, False)
                record.request, record.call = request, call
                items = self.until_revoked(call, handler(request, call))
                # The stream is accepted: say so at once (the headers, with any the
                # handler set), so that a client knows it is connected before the
                # first message, which may be long in coming (a live subscription).
                await context.send_initial_metadata(tuple(call.headers.items()))
                async for item in items:
                    yield await self._encode(item, False)
            except (asyncio.CancelledError, GeneratorExit):
                # The client went away (or gave up): grpc.aio cancels the stream.
                record.cancelled()
                raise
            except Exception as exc:  # every error becomes a status, below
                status = status_of(name, exc)
            else:
                record.end(0)
                return
            record.fail(status)
            await context.abort_with_status(rpc_status.to_status(status))

        return stream
