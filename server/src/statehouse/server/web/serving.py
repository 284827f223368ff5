"""uvicorn on the server's own event loop: a task beside grpc.aio, not a thread or a process.

HTTPS: uvicorn is given one TLS context, whose server-name callback hands each
new handshake the context of the certificates in force. A reload (SIGHUP) reads
the files into a new context and puts it in force only if it loaded whole: a
certificate and a key that do not match, or a file half written, leave the
previous certificates serving. (Loading them into the context in use would not:
OpenSSL would keep the new certificate without a key, and every handshake after
it would fail.) Connections already open keep the certificates they were made with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Generator
from pathlib import Path

import uvicorn

from .asgi import App
from .protocol import Bounds, protocol

log = logging.getLogger("statehouse.http")


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context for the certificate chain ``cert`` and its ``key`` (PEM files)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])
    return context


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal handlers: the server's own stop it (``serve()``)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class HttpServer:
    """The HTTP port, served by uvicorn as a task of the running event loop."""

    def __init__(
        self,
        app: App,
        sock: socket.socket,
        *,
        bounds: Bounds,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        shutdown_grace: float = 5.0,
    ) -> None:
        self.sock = sock
        self.port: int = sock.getsockname()[1]
        self.tls = tls_cert is not None
        #: The TLS context of the certificates in force (HTTPS), switched by :meth:`reload_tls`.
        self._current: ssl.SSLContext | None = None
        served: ssl.SSLContext | None = None
        if tls_cert is not None and tls_key is not None:
            self._current = served = tls_context(tls_cert, tls_key)
            served.sni_callback = self._pick
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,
            # The server's loop is already running (uvloop where installed).
            loop="none",
            # HTTP/1.1 with the port's bounds (protocol.py), and no WebSockets,
            # whatever WebSocket library is installed.
            http=protocol(bounds),
            ws="none",
            h11_max_incomplete_event_size=bounds.max_header_bytes,
            timeout_graceful_shutdown=max(1, int(shutdown_grace)),
            timeout_keep_alive=30,
        )
        config.load()
        # Set after load(), which would make its own from files (and uvicorn >= 0.30
        # has no other way to be given a context).
        config.ssl = served
        # uvicorn's "Started server process" would be misleading here (the same process).
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        self._config = config
        self._server = _Uvicorn(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context new handshakes use (None without HTTPS)."""
        return self._current

    def _pick(self, connection: ssl.SSLObject, server_name: str | None, _: object) -> None:
        # Called at every handshake, with or without SNI, before the certificate is chosen.
        current = self._current
        if current is not None and connection.context is not current:
            connection.context = current

    def reload_tls(self, cert: Path, key: Path) -> bool:
        """Re-read the certificate (SIGHUP): new handshakes use it, open connections keep theirs.

        Returns whether the new certificates are in force (a failure is logged).
        """
        if self._current is None:
            return False
        try:
            context = tls_context(cert, key)
        except (OSError, ssl.SSLError) as exc:
            log.error("HTTPS certificate reload failed, keeping the previous one: %s", exc)
            return False
        self._current = context
        log.info("HTTPS certificates reloaded from %s", cert)
        return True

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self.sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise OSError("the HTTP server stopped at start")
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        """Stop taking connections, let calls finish within the grace, then close."""
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
