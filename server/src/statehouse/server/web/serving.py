"""uvicorn on the server's own event loop: a task beside grpc.aio, not a thread or a process."""

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

log = logging.getLogger("statehouse.http")


def bind(address: str, *, reuse_port: bool = False) -> socket.socket:
    """A listening socket on ``address`` (``host:port``; port 0 picks one).

    Bound here rather than by uvicorn, so that the port is known at once and the
    processes of ``--processes N`` can share it (SO_REUSEPORT).
    """
    host, _, port_text = address.rpartition(":")
    host = host.strip("[]")
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(
            host or None, int(port_text), type=socket.SOCK_STREAM
        )[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(sockaddr)
            sock.listen(2048)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
    except (OSError, ValueError) as exc:
        raise OSError(f"cannot listen on {address} (--http-address): {exc}") from exc
    return sock


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
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        shutdown_grace: float = 5.0,
    ) -> None:
        self.sock = sock
        self.port: int = sock.getsockname()[1]
        self.tls = tls_cert is not None
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,
            # The server's loop is already running (uvloop where installed).
            loop="none",
            ssl_certfile=tls_cert,
            ssl_keyfile=tls_key,
            timeout_graceful_shutdown=max(1, int(shutdown_grace)),
            timeout_keep_alive=30,
        )
        config.load()
        # uvicorn's "Started server process" would be misleading here (the same process).
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        self._config = config
        self._server = _Uvicorn(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        return self._config.ssl

    def reload_tls(self, cert: Path, key: Path) -> None:
        """Re-read the certificate (SIGHUP): new handshakes use it, open connections keep theirs."""
        context = self._config.ssl
        if context is None:
            return
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            log.error("HTTPS certificate reload failed, keeping the previous one: %s", exc)
        else:
            log.info("HTTPS certificates reloaded from %s", cert)

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
