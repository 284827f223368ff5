"""One serving process: ``serve()`` runs a server until SIGTERM or SIGINT.

What the process around the server does: its interpreter tuned (switch
interval, the collector, the file-descriptor limit), the start-up logged,
``--ready-file`` written, SIGHUP re-reading the certificates, the event loop
(uvloop where installed), and a start-up failure reported on one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import resource
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from ..settings import ConfigError, Settings
from ..storage import DatabaseUrlError, StorageUnavailable, display_url
from .server import Server, create_server

log = logging.getLogger("statehouse.server")

SWITCH_INTERVAL = float(os.environ.get("STATEHOUSE_SWITCH_INTERVAL", "0.0005"))
#: The collector's thresholds once serving (generation 0 allocations, then collections of
#: the younger generation per older one); STATEHOUSE_GC=default keeps Python's own, and
#: STATEHOUSE_GC=A,B,C sets others (for make bench's comparisons).
GC_THRESHOLDS = (50_000, 20, 100)

#: What stops a server from starting, reported on one line with exit status 1
#: (TlsConfigError is a ConfigError).
STARTUP_ERRORS = (OSError, ConfigError, DatabaseUrlError, StorageUnavailable)


async def serve(
    settings: Settings,
    *,
    on_ready: Callable[[int], None] | None = None,
    process: tuple[int, int] | None = None,
    on_server: Callable[[Server], None] | None = None,
) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully.

    ``process`` is (index, count) for one of the processes of ``--processes N``;
    ``on_ready(port)`` is called once the port serves; ``on_server(server)``
    once it is built, before it starts (on the event loop: the benchmark's
    instruments install themselves there).
    """
    # Worker threads (large requests, reads, SQLite's writer) hand the GIL back to the loop
    # after at most this long, instead of 5 ms: small calls wait less behind them.
    sys.setswitchinterval(SWITCH_INTERVAL)
    raise_descriptor_limit()
    server, port = await create_server(settings, process=process)
    try:
        if on_server is not None:
            on_server(server)
        await server.start()
    except BaseException:
        await server.stop(0)
        raise
    _tune_gc()
    _log_serving(server, port, process)
    if process is None and settings.ready_file is not None:
        write_ready_file(
            settings.ready_file,
            grpc_port=port,
            http_port=server.http_port if settings.http_address is not None else None,
            metrics_port=server.metrics_listener.port if server.metrics_listener else None,
            pids=[os.getpid()],
        )
    if on_ready is not None:
        on_ready(port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Always: SIGHUP's default would end the process at once (and, under
    # --processes N, which passes it on, the whole service with status 1).
    loop.add_signal_handler(signal.SIGHUP, lambda: _reload_tls(server))
    await stop.wait()
    log.info("statehouse shutting down (grace %.1fs)", settings.shutdown_grace)
    await server.stop()
    log.info("statehouse stopped")


def _log_serving(server: Server, port: int, process: tuple[int, int] | None) -> None:
    settings = server.settings
    bound = settings.address.with_port(port)
    first = process is None or process[0] == 1
    if server.authenticator is not None:
        if server.authenticator.empty and first:
            log.warning(
                "authentication is on and no credential exists yet: create the first admin "
                "token with `statehouse tokens create --database URL --name root --role admin "
                "--namespace '*'`"
            )
    elif settings.insecure and not settings.address.is_loopback and first:
        log.warning("serving %s without protection (--insecure)", settings.address)
    http = http_text(settings, server.http_port)
    if server.metrics_listener is not None and settings.metrics_address is not None and first:
        log.info(
            "statehouse metrics on http://%s/metrics",
            settings.metrics_address.with_port(server.metrics_listener.port),
        )
    if process is None:
        log.info(
            "statehouse serving on %s%s%s (database %s)",
            bound,
            http,
            transport_text(settings, server.tls is not None),
            display_url(settings.resolved_database_url()),
        )
    else:
        log.info(
            "statehouse process %d of %d (pid %d) on %s%s",
            *process,
            os.getpid(),
            bound,
            http,
        )


def raise_descriptor_limit() -> int:
    """Raise this process's file-descriptor soft limit to its hard limit (as Go
    programs do; systemd's default soft limit is 1,024, its hard limit 524,288);
    return the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _tune_gc() -> None:
    """Fewer, shorter collector pauses on the event loop once serving: what start-up
    built (modules, descriptors, tables) is frozen out of every later collection, and
    the young generation is collected every 50,000 allocations rather than 700 (a
    server allocates and frees short-lived objects by the million; cycles are rare).
    ``make bench``'s fan-out latency phases measure what this does to delivery p99."""
    choice = os.environ.get("STATEHOUSE_GC", "")
    if choice == "default":
        return
    thresholds = tuple(int(n) for n in choice.split(",")) if choice else GC_THRESHOLDS
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)


def _reload_tls(server: Server) -> None:
    """SIGHUP: both ports read their certificates again (for new connections)."""
    if server.tls is None:
        log.info("SIGHUP: no TLS certificates to re-read; still serving")
        return
    server.tls.request_reload()
    if server.http is not None:
        server.http.reload_tls(server.tls.files.cert, server.tls.files.key)


def write_ready_file(
    path: Path,
    *,
    grpc_port: int,
    http_port: int | None,
    metrics_port: int | None,
    pids: list[int],
) -> None:
    """``serve --ready-file``: the bound ports and the serving processes' pids, as one
    JSON object, written whole (a reader never sees half of it) once serving."""
    body = json.dumps(
        {"grpc_port": grpc_port, "http_port": http_port, "metrics_port": metrics_port, "pids": pids}
    )
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(body + "\n")
    os.replace(partial, path)


def http_text(settings: Settings, port: int | None) -> str:
    """`` and http://127.0.0.1:8080``: where the HTTP port serves, if it does."""
    if port is None or settings.http_address is None:
        return ""
    scheme = "https" if settings.tls_cert is not None else "http"
    return f" and {scheme}://{settings.http_address.with_port(port)}"


def transport_text(settings: Settings, tls: bool) -> str:
    """`` over TLS with authentication``: how the port is protected, for the log."""
    text = "" if not tls else " over mTLS" if settings.tls_client_ca else " over TLS"
    if settings.auth_enabled:
        text += " with authentication"
    return text


def one_line(error: BaseException) -> str:
    """What stops the server from starting, on one line (a driver's message has several)."""
    text = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
    if isinstance(error, StorageUnavailable):
        return f"cannot use the database: {text}"
    return text


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it is installed (about 15% more calls/s), else asyncio."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional
        asyncio.run(coroutine)
    else:
        uvloop.run(coroutine)
