"""grpc.health.v1.Health over Connect, from the gRPC port's own health servicer.

One servicer (grpcio-health-checking's, ``health.aio.HealthServicer``) holds the
status of every service; the gRPC port serves it as it is, and the Connect
transport serves ``Check`` and ``Watch`` (``List``: UNIMPLEMENTED on both) through :class:`ConnectHealth`, which
calls the same servicer with a small stand-in for grpc's servicer context. So
both ports answer the same status at every moment: SERVING once the server has
started, NOT_SERVING from the start of a graceful shutdown. Health needs no
credentials on either port (load balancers have none).

``GET /healthz`` (``web/asgi.py``) asks :meth:`ConnectHealth.serving`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.rpc import code_pb2, status_pb2
from grpc_health.v1 import health, health_pb2

from ..events import HubClosed
from ._base import Call

__all__ = ["SERVICE", "ConnectHealth", "RpcStatus"]

#: The service descriptor of grpc.health.v1.Health.
SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"]


class RpcStatus(Exception):
    """An error that is a status already (code and message, no details)."""

    def __init__(self, status: status_pb2.Status) -> None:
        super().__init__(status.message)
        self.status = status


class _Context:
    """What grpc_health's servicer uses of a ``grpc.aio.ServicerContext``."""

    def __init__(self) -> None:
        self.sent: asyncio.Queue[health_pb2.HealthCheckResponse] = asyncio.Queue()

    async def abort(self, code: grpc.StatusCode, details: str = "", *_: Any) -> None:
        number = code.value[0]
        raise RpcStatus(status_pb2.Status(code=number, message=details or _MESSAGES[number]))

    async def write(self, message: health_pb2.HealthCheckResponse) -> None:
        await self.sent.put(message)


_MESSAGES = {code_pb2.NOT_FOUND: "unknown service"}


class ConnectHealth:
    """``Check`` and ``Watch`` with the transport-neutral handler signature."""

    def __init__(self, servicer: health.aio.HealthServicer) -> None:
        self.servicer = servicer
        self._closed = asyncio.Event()

    async def Check(
        self, request: health_pb2.HealthCheckRequest, call: Call
    ) -> health_pb2.HealthCheckResponse:
        response = await self.servicer.Check(request, _Context())
        assert isinstance(response, health_pb2.HealthCheckResponse)  # else it aborted (NOT_FOUND)
        return response

    async def Watch(
        self, request: health_pb2.HealthCheckRequest, call: Call
    ) -> AsyncIterator[health_pb2.HealthCheckResponse]:
        """The status now, then each change (SERVICE_UNKNOWN for a service not known yet).

        At shutdown (:meth:`close`) the stream sends the last status (NOT_SERVING)
        and ends with UNAVAILABLE (SHUTTING_DOWN), like a Subscribe, instead of
        holding the HTTP server's graceful stop until its grace runs out.
        """
        context = _Context()
        watch = asyncio.ensure_future(self.servicer.Watch(request, context))
        closed = asyncio.ensure_future(self._closed.wait())
        last = None
        try:
            while True:
                sent = asyncio.ensure_future(context.sent.get())
                await asyncio.wait({sent, watch, closed}, return_when=asyncio.FIRST_COMPLETED)
                if sent.done():
                    last = sent.result().status
                    yield sent.result()
                    continue
                sent.cancel()
                if watch.done():
                    watch.result()  # raises what ended it
                    return
                status = await self._status(request.service)
                if status != last:
                    yield health_pb2.HealthCheckResponse(status=status)
                raise HubClosed()
        finally:
            watch.cancel()
            closed.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watch

    def close(self) -> None:
        """End the Watch streams (the server is stopping; call after NOT_SERVING is set)."""
        self._closed.set()

    async def _status(self, service: str) -> int:
        try:
            response = await self.Check(health_pb2.HealthCheckRequest(service=service), Call(""))
        except RpcStatus:
            return int(health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
        return int(response.status)

    async def List(self, request: Any, call: Call) -> Any:
        """Not implemented by grpc_health's servicer, so UNIMPLEMENTED on both ports."""
        raise RpcStatus(
            status_pb2.Status(code=code_pb2.UNIMPLEMENTED, message="Method not implemented!")
        )

    async def serving(self, service: str = "") -> bool:
        """Whether ``service`` (the server as a whole: "") is SERVING now."""
        return await self._status(service) == int(health_pb2.HealthCheckResponse.SERVING)
