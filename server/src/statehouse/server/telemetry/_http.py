"""``--metrics-address``: ``GET /metrics`` on a port of its own, on the server's event loop.

For a server without the HTTP port (``--http-address``, where ``/metrics`` is
served beside the API). A minimal HTTP/1.1 responder on ``asyncio.start_server``:
one request per connection, ``GET``/``HEAD /metrics`` answers the exposition,
anything else 404 (405 for another method); a request head larger than 8 KiB,
or slower than 10 s, ends the connection. No TLS and no credentials: the
metrics name methods, codes and states, never a namespace, an id or a secret;
keep the port where only the scraper reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from ._metrics import CONTENT_TYPE, Metrics

__all__ = ["MetricsListener"]

log = logging.getLogger("statehouse.metrics")

_MAX_HEAD = 8192
_READ_TIMEOUT = 10.0


class MetricsListener:
    """Serves ``/metrics`` of ``metrics`` on ``sock``."""

    def __init__(self, metrics: Metrics, sock: socket.socket) -> None:
        self.metrics = metrics
        self.sock = sock
        self.port: int = sock.getsockname()[1]
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, sock=self.sock, limit=_MAX_HEAD)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            async with asyncio.timeout(_READ_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            await self._answer(head, writer)
        except (
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
        ):
            pass
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, head: bytes, writer: asyncio.StreamWriter) -> None:
        parts = head.split(b"\r\n", 1)[0].split(b" ")
        method, target = (parts[0], parts[1]) if len(parts) == 3 else (b"", b"")
        path = target.split(b"?", 1)[0]
        if path != b"/metrics":
            status, content_type, body, extra = b"404 Not Found", b"text/plain", b"not found\n", b""
        elif method not in (b"GET", b"HEAD"):
            status, content_type, body = b"405 Method Not Allowed", b"text/plain", b""
            extra = b"allow: GET, HEAD\r\n"
        else:
            status, content_type, extra = b"200 OK", CONTENT_TYPE.encode(), b""
            body = await self.metrics.scrape()
        writer.write(
            b"HTTP/1.1 " + status + b"\r\ncontent-type: " + content_type
            + b"\r\ncontent-length: " + str(len(body)).encode()
            + b"\r\ncache-control: no-store\r\nconnection: close\r\n" + extra + b"\r\n"
            + (b"" if method == b"HEAD" else body)
        )  # fmt: skip
        await writer.drain()
