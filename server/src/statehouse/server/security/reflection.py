"""gRPC reflection behind a valid credential, when authentication is on.

Reflection is grpcio's own servicer, outside the transports and their guard:
this interceptor asks the same guard to authenticate its callers (health stays
open to anyone, docs/design.md, "Security").
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import grpc

from ..orchestration import Unauthenticated
from .guard import Guard


class ReflectionGuard(grpc.aio.ServerInterceptor):
    """With authentication on, reflection needs a valid credential (health stays open)."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    async def intercept_service(
        self,
        continuation: Any,
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method or ""
        if handler is None or not method.startswith("/grpc.reflection."):
            return handler
        # The caller is authenticated in the call, where its peer is known (a
        # failure is counted under the client's address, as on every RPC).
        guard, inner = self.guard, handler.stream_stream

        async def guarded(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            authorization = None
            for key, value in context.invocation_metadata() or ():
                if key == "authorization":
                    authorization = value if isinstance(value, str) else value.decode("latin-1")
            try:
                guard.authenticate(authorization, None, context.peer())
            except Unauthenticated:
                await _refuse(requests, context)
                return
            async for response in inner(requests, context):
                yield response

        return grpc.stream_stream_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


async def _refuse(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    # Read what the client sends, up to its half-close (a few messages, a second at
    # most), before the refusal: a status that overtook the client's own send
    # would fail that send, and the client would see INTERNAL ("Failed
    # execute_batch: SendMessageOperation") instead of UNAUTHENTICATED.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(_REFUSE_READ_SECONDS):
            read = 0
            async for _ in requests:
                read += 1
                if read >= _REFUSE_READ_MESSAGES:
                    break
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "valid credentials are required")


#: How much of a refused reflection call's requests is read before the refusal.
_REFUSE_READ_SECONDS = 1.0
_REFUSE_READ_MESSAGES = 16
