"""The ASGI application of the HTTP port: RPCs at ``/pkg.Service/Method``, the console at ``/``.

- ``POST /statehouse.v1.<Service>/<Method>``: the Connect transport (any path of
  the form ``/<package>.<Service>/<Method>`` goes there; an unknown one is 404).
- ``GET``/``HEAD /healthz``: ``200 SERVING`` or ``503 NOT_SERVING`` (text), for
  load balancers that cannot call ``grpc.health.v1.Health/Check`` (served over
  Connect like every RPC); no credentials needed.
- ``GET``/``HEAD /metrics``: the Prometheus metrics of this process (text
  exposition), when given; no credentials needed (they name no namespace, id
  or secret).
- ``GET``/``HEAD`` anything else: a file of ``static/`` (the web console's built
  assets, with their content types); ``/`` and every ``/executions/...`` path
  (the single-page app's deep links) answer ``index.html``. Without a built
  console, ``/`` answers a short page saying so.
- A WebSocket upgrade, on any path: ``400`` (no WebSockets are served).
"""

from __future__ import annotations

import asyncio
import mimetypes
import re
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from ..telemetry import CONTENT_TYPE

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
#: Whether the server is serving now (``/healthz``).
Serving = Callable[[], Awaitable[bool]]
#: The metrics' text exposition (``/metrics``).
Scrape = Callable[[], Awaitable[bytes]]

#: Where the web console's build puts its files (index.html, assets/...).
STATIC_DIR = Path(__file__).resolve().parent / "static"

_RPC = re.compile(r"/[A-Za-z_][\w.]*\.[A-Za-z_]\w*/[A-Za-z_]\w*")
#: Paths of the single-page app that the browser may load directly.
_APP_ROUTES = re.compile(r"/(executions(/.*)?)?")
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
    ".woff2": "font/woff2",
}
NOT_BUILT = (
    b"<!doctype html><meta charset=utf-8><title>Statehouse</title>"
    b"<p>The Statehouse web console is not built in this installation. "
    b"The API is served here over the Connect protocol: "
    b"<code>POST /statehouse.v1.ExecutionService/ListExecutions</code> "
    b"with <code>Content-Type: application/json</code>.</p>\n"
)


class HttpApp:
    """Routes RPC paths to ``rpc`` and the rest to the files of ``static_dir``."""

    def __init__(
        self,
        rpc: App,
        static_dir: Path = STATIC_DIR,
        *,
        serving: Serving | None = None,
        metrics: Scrape | None = None,
    ) -> None:
        self.rpc = rpc
        self.static_dir = static_dir
        self.serving = serving
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            # A WebSocket (uvicorn runs without them: ``ws="none"``): closed
            # before it is accepted, which uvicorn answers 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        path: str = scope["path"]
        if _wants_websocket(scope):
            body = b"WebSockets are not served here\n"
            await _answer(send, scope, 400, "text/plain; charset=utf-8", body)
        elif _RPC.fullmatch(path):
            await self.rpc(scope, receive, send)
        elif path == "/healthz" and self.serving is not None:
            await self.healthz(scope, send)
        elif path == "/metrics" and self.metrics is not None:
            await self.scrape(scope, send)
        else:
            await self.static(scope, send)

    async def healthz(self, scope: Scope, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            headers = [(b"allow", b"GET, HEAD")]
            await _answer(send, scope, 405, "text/plain; charset=utf-8", b"", headers)
            return
        assert self.serving is not None
        up = await self.serving()
        await _answer(
            send,
            scope,
            200 if up else 503,
            "text/plain; charset=utf-8",
            b"SERVING\n" if up else b"NOT_SERVING\n",
            [(b"cache-control", b"no-store")],
        )

    async def scrape(self, scope: Scope, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            headers = [(b"allow", b"GET, HEAD")]
            await _answer(send, scope, 405, "text/plain; charset=utf-8", b"", headers)
            return
        assert self.metrics is not None
        body = await self.metrics()
        await _answer(send, scope, 200, CONTENT_TYPE, body, [(b"cache-control", b"no-store")])

    async def static(self, scope: Scope, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            headers = [(b"allow", b"GET, HEAD")]
            await _answer(send, scope, 405, "text/plain; charset=utf-8", b"", headers)
            return
        # Files are read on a thread: the event loop serves RPCs meanwhile.
        status, content_type, body, headers = await asyncio.to_thread(
            lookup, self.static_dir, scope["path"]
        )
        await _answer(send, scope, status, content_type, body, headers)


def _wants_websocket(scope: Scope) -> bool:
    """Whether the request asks to upgrade to a WebSocket (served as plain HTTP)."""
    return any(
        key == b"upgrade" and value.strip().lower() == b"websocket"
        for key, value in scope.get("headers", ())
    )


Found = tuple[int, str, bytes, list[tuple[bytes, bytes]]]


def lookup(static_dir: Path, path: str) -> Found:
    """What a GET of ``path`` answers: status, content type, body, headers."""
    if _APP_ROUTES.fullmatch(path):
        index = static_dir / "index.html"
        if not _is_file(index):
            return 200, "text/html; charset=utf-8", NOT_BUILT, [(b"cache-control", b"no-cache")]
        return _file(index)
    target = _inside(static_dir, path)
    if target is None or not _is_file(target):
        return _NOT_FOUND
    return _file(target)


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file; False for a name the file system refuses (a path
    segment of 256 bytes or more: ENAMETOOLONG, which ``Path.is_file`` raises)."""
    try:
        return path.is_file()
    except OSError:
        return False


_NOT_FOUND: Found = (404, "text/plain; charset=utf-8", b"not found\n", [])


def _inside(root: Path, path: str) -> Path | None:
    """The file ``path`` names under ``root``, or None if it would leave ``root``."""
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") or "\\" in p or "\0" in p for p in parts):
        return None
    target = root.joinpath(*parts)
    try:
        target.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return None
    return target


def _file(path: Path) -> Found:
    try:
        body = path.read_bytes()
    except OSError:
        return _NOT_FOUND
    content_type = _TYPES.get(path.suffix.lower()) or (
        mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )
    # index.html is asked for again on every load; the assets it names change
    # names when they change (the console's build hashes them).
    cache = b"no-cache" if path.name == "index.html" else b"public, max-age=3600"
    return 200, content_type, body, [(b"cache-control", cache)]


async def _answer(
    send: Send,
    scope: Scope,
    status: int,
    content_type: str,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    out = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
