"""The server: ``create_server(settings)`` builds it, ``serve()`` runs it until a signal.

Also runnable as ``python -m statehouse.server.app`` (what ``statehouse serve`` calls).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import ipaddress
import json
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import resource
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from statehouse.v1 import (
    admin_service_pb2,
    event_service_pb2,
    execution_service_pb2,
    metric_service_pb2,
)

from . import limits as L
from .api import (
    HEALTH_SERVICE,
    AdminServicer,
    ConnectHealth,
    ConnectTransport,
    EventServicer,
    ExecutionServicer,
    GrpcTransport,
    Limits,
    MetricServicer,
    PageTokens,
    ServerInfo,
)
from .events import EventHub, Retention
from .events.work import WorkWaiters
from .health import HealthMonitor
from .housekeeping import Housekeeper, HousekeepingPolicy
from .options import add_serve_arguments, settings_from_args
from .scheduler import TimerScheduler
from .security.credentials import Authenticator
from .security.guard import Guard
from .security.jwts import JwtConfig, JwtVerifier
from .security.reflection import ReflectionGuard
from .security.tls import ServerTls, TlsConfigError, TlsFiles
from .settings import Settings
from .storage import DatabaseUrlError, StorageUnavailable, Store, StoreOptions, display_url
from .telemetry import (
    MetricsListener,
    Tracing,
    TracingConfigError,
    bind_metrics,
    configure_logging,
    trace_exporters,
)
from .web import HttpApp, HttpServer, bind
from .web.protocol import Bounds

log = logging.getLogger("statehouse.server")

SWITCH_INTERVAL = float(os.environ.get("STATEHOUSE_SWITCH_INTERVAL", "0.0005"))
#: The collector's thresholds once serving (generation 0 allocations, then collections of
#: the younger generation per older one); STATEHOUSE_GC=default keeps Python's own, and
#: STATEHOUSE_GC=A,B,C sets others (for make bench's comparisons).
GC_THRESHOLDS = (50_000, 20, 100)

SERVICES = (
    execution_service_pb2.DESCRIPTOR.services_by_name["ExecutionService"],
    event_service_pb2.DESCRIPTOR.services_by_name["EventService"],
    metric_service_pb2.DESCRIPTOR.services_by_name["MetricService"],
    admin_service_pb2.DESCRIPTOR.services_by_name["AdminService"],
)
SERVICE_NAMES = tuple(s.full_name for s in SERVICES)


class Server:
    """A running Statehouse: the grpc server, the store and the event hub."""

    def __init__(
        self,
        grpc_server: grpc.aio.Server,
        store: Store,
        hub: EventHub,
        scheduler: TimerScheduler,
        health_servicer: health.aio.HealthServicer,
        settings: Settings,
        transport: GrpcTransport,
        authenticator: Authenticator | None = None,
        http: HttpServer | None = None,
    ) -> None:
        #: The credentials in force, when authentication is on.
        self.authenticator = authenticator
        self.grpc_server = grpc_server
        self.transport = transport
        #: The HTTP port (Connect and the web console), when ``--http-address`` is given.
        self.http = http
        #: The TLS credentials, when the port serves TLS (``tls.request_reload()``).
        self.tls: ServerTls | None = None
        #: Health over Connect, on the HTTP port.
        self.connect_health: ConnectHealth | None = None
        #: ``/metrics`` on a port of its own (``--metrics-address``).
        self.metrics_listener: MetricsListener | None = None
        self.store = store
        self.hub = hub
        self.scheduler = scheduler
        self.health = health_servicer
        self.settings = settings
        self._stopped = False
        #: What health reports, probed in the background; set by the gRPC health servicer.
        self.monitor = HealthMonitor(
            store,
            hub,
            SERVICE_NAMES,
            self._publish_health,
            interval=settings.health_interval,
            timeout=settings.health_timeout,
        )
        #: Expired request ids and old terminal executions, deleted in small batches.
        self.housekeeper = Housekeeper(
            store,
            HousekeepingPolicy(
                request_id_ttl=settings.request_id_ttl,
                retention_executions=settings.retention_executions,
                interval=settings.housekeeping_interval,
            ),
            # Counted in statehouse_retention_deleted_total{kind}.
            on_deleted=store.metrics.deleted,
        )

    @property
    def http_port(self) -> int | None:
        """The bound HTTP port, None without ``--http-address``."""
        return self.http.port if self.http is not None else None

    async def start(self) -> None:
        await self.grpc_server.start()
        if self.http is not None:
            await self.http.start()
        if self.metrics_listener is not None:
            await self.metrics_listener.start()
        # Each service's status from the first probe on (docs/design.md, "Health and retention").
        await self.monitor.start()
        await self.housekeeper.start()

    async def _publish_health(self, service: str, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse
        await self.health.set(service, status.SERVING if serving else status.NOT_SERVING)

    async def stop(self, grace: float | None = None) -> None:
        """Stop gracefully: streams end with UNAVAILABLE, unary calls may finish."""
        if self._stopped:
            return
        self._stopped = True
        if self.metrics_listener is not None:
            await self.metrics_listener.stop()
        await self.monitor.close()
        await self.health.enter_graceful_shutdown()
        if self.connect_health is not None:
            self.connect_health.close()
        await self.scheduler.close()
        await self.housekeeper.close()
        if self.authenticator is not None:
            await self.authenticator.close()
        await self.hub.close()
        grace = self.settings.shutdown_grace if grace is None else grace
        if self.http is None:
            await self.grpc_server.stop(grace)
        else:
            await asyncio.gather(self.grpc_server.stop(grace), self.http.stop())
        await self.store.aclose()
        # Traces on: the spans still pending are exported (bounded by OTEL_BSP_EXPORT_TIMEOUT).
        if self.store.tracing.enabled:
            await asyncio.get_running_loop().run_in_executor(None, self.store.tracing.shutdown)

    async def wait_for_termination(self) -> None:
        await self.grpc_server.wait_for_termination()


async def create_server(
    settings: Settings,
    *,
    process: tuple[int, int] | None = None,
    tracing: Tracing | None = None,
) -> tuple[Server, int]:
    """Open the database (migrating it), start the event hub, bind the port.

    ``process`` is (index, count) for one of the processes of ``--processes N``.
    ``tracing``: the server's traces (None: from the ``OTEL_*`` environment
    variables, off unless ``OTEL_TRACES_EXPORTER`` names an exporter; the tests
    pass a provider with an in-memory exporter).
    Returns the server, not yet started, and the bound port.
    """
    info = ServerInfo(processes=process[1] if process is not None else 1)
    # First, before anything is opened: TlsConfigError on unusable TLS options,
    # ConfigError on an exposed port without protection.
    tls = _server_tls(settings)
    _check_exposure(settings, tls)
    _check_http(settings)
    jwt = _jwt_verifier(settings)
    if tracing is None:
        tracing = _tracing_from_environment()
    store = Store(
        settings.resolved_database_url(),
        StoreOptions(
            sqlite_synchronous=settings.sqlite_synchronous,
            request_id_ttl=settings.request_id_ttl,
            sqlite_change_poll_interval=settings.change_poll_interval,
            commit_timeout=settings.commit_timeout,
        ),
        tracing=tracing,
    )
    if process is not None:
        # Each process has its own registry: its samples say which one answered.
        store.metrics.label_process(process[0])
    loop = asyncio.get_running_loop()
    if settings.migrate:
        await loop.run_in_executor(None, store.migrate)
    hub = EventHub(
        store,
        buffer_size=settings.subscriber_buffer,
        poll_interval=settings.poll_interval,
        retention=Retention(
            max_events=settings.retention_events,
            max_age_seconds=settings.retention_seconds,
            interval=settings.compaction_interval,
        ),
    )
    # Claims waiting for work wake on the batches the hub accepts (any replica's).
    work = WorkWaiters()
    hub.batch_listeners.append(work.offer)
    await hub.start()
    candidate = secrets.token_hex(32)
    secret = await store.write(lambda tx: tx.server_secret("page_tokens", candidate))
    tokens = PageTokens(bytes.fromhex(secret))
    max_connections = _connection_bound(settings.max_connections)
    options = [
        ("grpc.max_receive_message_length", L.max_request_bytes(settings.max_payload_bytes)),
        ("grpc.max_send_message_length", L.MAX_RESPONSE_BYTES),
        ("grpc.server.max_pending_requests", settings.max_pending_requests),
        ("grpc.server.max_pending_requests_hard_limit", settings.max_pending_requests),
        # Only the processes of ``--processes N`` share a port: elsewhere a second
        # server on the same port must fail to start, not split the traffic.
        ("grpc.so_reuseport", 1 if settings.reuse_port else 0),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        # The bounds of the HTTP port (web/protocol.py), as grpc has them: metadata
        # (soft and hard limits alike, so the refusal does not depend on chance), a
        # connection's TLS and HTTP/2 handshake, connections open at once.
        ("grpc.max_metadata_size", L.MAX_HEADER_BYTES),
        ("grpc.absolute_max_metadata_size", L.MAX_HEADER_BYTES),
        ("grpc.server_handshake_timeout_ms", int(settings.header_timeout * 1000)),
        ("grpc.max_allowed_incoming_connections", max_connections),
    ]
    kill_deadline_us = int(settings.kill_deadline_seconds * 1_000_000)
    limits = Limits(max_payload_bytes=settings.max_payload_bytes, kill_deadline_us=kill_deadline_us)
    scheduler = TimerScheduler(
        store, kill_deadline_us=kill_deadline_us, poll_interval=settings.timer_poll_interval
    )
    await scheduler.start()
    authenticator = None
    if settings.auth_enabled:
        authenticator = Authenticator(
            lambda: store.read(lambda tx: tx.list_credentials()),
            jwt=jwt,
            refresh_interval=settings.auth_refresh_interval,
        )
        await authenticator.start()
    guard = Guard(store, authenticator)
    if authenticator is not None:
        store.add_commit_listener(guard.learn)
    interceptors = [] if authenticator is None else [ReflectionGuard(guard)]
    grpc_server = grpc.aio.server(options=options, interceptors=interceptors)
    transport = GrpcTransport(
        store, guard, max_payload_bytes=settings.max_payload_bytes, tls=tls is not None
    )
    impls = (
        ExecutionServicer(store, limits, tokens, scheduler.wake, work=work),
        EventServicer(store, hub),
        MetricServicer(store, limits, tokens),
        AdminServicer(store, authenticator, info),
    )
    for service, impl in zip(SERVICES, impls, strict=True):
        transport.add_service(service, impl)
    grpc_server.add_generic_rpc_handlers(transport.handlers)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, grpc_server)
    reflection.enable_server_reflection(
        (
            *SERVICE_NAMES,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        grpc_server,
    )
    http = None
    connect_health = None
    metrics_listener = None
    try:
        if tls is None:
            port = grpc_server.add_insecure_port(settings.address)
        else:
            port = grpc_server.add_secure_port(settings.address, tls.credentials)
        if settings.http_address:
            # The same handlers, guard and limits, over the Connect protocol.
            connect = ConnectTransport(store, guard, max_payload_bytes=settings.max_payload_bytes)
            for service, impl in zip(SERVICES, impls, strict=True):
                connect.add_service(service, impl)
            # Health as on the gRPC port: the same servicer, open to anyone.
            connect_health = ConnectHealth(health_servicer)
            connect.add_service(HEALTH_SERVICE, connect_health, open=True)
            http = HttpServer(
                HttpApp(connect, serving=connect_health.serving, metrics=store.metrics.scrape),
                bind(settings.http_address, reuse_port=settings.reuse_port),
                bounds=Bounds(max_connections, settings.header_timeout),
                tls_cert=settings.tls_cert,
                tls_key=settings.tls_key,
                shutdown_grace=settings.shutdown_grace,
            )
        if settings.metrics_address:
            metrics_listener = MetricsListener(
                store.metrics,
                bind_metrics(settings.metrics_address, reuse_port=settings.reuse_port),
            )
    except (RuntimeError, OSError) as exc:
        if http is not None:
            http.sock.close()
        await scheduler.close()
        if authenticator is not None:
            await authenticator.close()
        await hub.close()
        store.close()
        if isinstance(exc, OSError):
            raise
        raise OSError(f"cannot listen on {settings.address}: {exc}") from exc
    server = Server(
        grpc_server,
        store,
        hub,
        scheduler,
        health_servicer,
        settings,
        transport,
        authenticator,
        http,
    )
    server.tls = tls
    server.connect_health = connect_health
    server.metrics_listener = metrics_listener
    return server, port


def _tracing_from_environment() -> Tracing:
    """The traces the ``OTEL_*`` variables ask for (ConfigError: an exporter missing)."""
    try:
        return Tracing.from_environment()
    except TracingConfigError as exc:
        raise ConfigError(str(exc)) from None


def _server_tls(settings: Settings) -> ServerTls | None:
    """The TLS credentials the settings ask for, or None for plaintext."""
    if settings.tls_cert is None and settings.tls_key is None:
        if settings.tls_client_ca is not None:
            raise TlsConfigError("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    if settings.tls_cert is None or settings.tls_key is None:
        raise TlsConfigError("--tls-cert and --tls-key go together")
    return ServerTls(TlsFiles(settings.tls_cert, settings.tls_key, settings.tls_client_ca))


class ConfigError(Exception):
    """Options that would make the server unsafe or cannot work together."""


def _is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_exposure(settings: Settings, tls: ServerTls | None) -> None:
    """Refuse to serve a reachable address to anyone who can reach it."""
    if settings.insecure or _is_loopback(settings.address):
        return
    if tls is not None and (settings.auth_enabled or settings.tls_client_ca is not None):
        return
    missing = "TLS and authentication" if tls is None else "authentication"
    raise ConfigError(
        f"refusing to serve {settings.address} without {missing}: anyone who can reach "
        "it could read and change every execution. Give --tls-cert and --tls-key with "
        "--auth (or --tls-client-ca), or --insecure to serve it unprotected anyway."
    )


def _check_http(settings: Settings) -> None:
    """The HTTP port: as protected as the gRPC port, or refused."""
    if not settings.http_address:
        return
    port = settings.http_address.rpartition(":")[2]
    if port not in ("", "0") and port == settings.address.rpartition(":")[2]:
        # One process would fail to bind it; the processes of --processes N, which
        # bind both with SO_REUSEPORT, would split its connections between gRPC and HTTP.
        raise ConfigError(
            f"--http-address {settings.http_address} and --address {settings.address} "
            "have the same port: give the HTTP port another one (or 0 to pick one)"
        )
    if settings.tls_client_ca is not None:
        # uvicorn does not hand the application the client's certificate, so a
        # certificate's identity could be neither checked nor recorded over HTTP.
        raise ConfigError(
            "--http-address cannot be used with --tls-client-ca: client certificates "
            "are not available to the HTTP port; use tokens or JWTs (--auth) with "
            "--tls-cert and --tls-key instead"
        )
    if settings.insecure or _is_loopback(settings.http_address):
        return
    if settings.tls_cert is not None and settings.auth_enabled:
        return
    missing = "TLS and authentication" if settings.tls_cert is None else "authentication"
    raise ConfigError(
        f"refusing to serve {settings.http_address} (--http-address) without {missing}: "
        "anyone who can reach it could read and change every execution. Give --tls-cert "
        "and --tls-key with --auth, or --insecure to serve it unprotected anyway."
    )


def _jwt_verifier(settings: Settings) -> JwtVerifier | None:
    if settings.jwt_public_key is None and settings.jwt_jwks is None:
        return None
    if settings.jwt_public_key is not None and settings.jwt_jwks is not None:
        raise ConfigError("--jwt-public-key and --jwt-jwks: give one")
    try:
        return JwtVerifier(
            JwtConfig(
                public_key=settings.jwt_public_key,
                jwks=settings.jwt_jwks,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
            )
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot use the JWT key: {exc}") from exc
    except Exception as exc:  # PyJWT's own errors on a malformed key or JWKS
        raise ConfigError(f"cannot use the JWT key: {exc}") from exc


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
    if on_server is not None:
        on_server(server)
    await server.start()
    _tune_gc()
    host = settings.address.rsplit(":", 1)[0]
    transport = _transport_text(settings, server.tls is not None)
    first = process is None or process[0] == 1
    if server.authenticator is not None:
        if server.authenticator.empty and first:
            log.warning(
                "authentication is on and no credential exists yet: create the first admin "
                "token with `statehouse tokens create --database URL --name root --role admin "
                "--namespace '*'`"
            )
    elif settings.insecure and not _is_loopback(settings.address) and first:
        log.warning("serving %s without protection (--insecure)", settings.address)
    http = _http_text(settings, server.http_port)
    if server.metrics_listener is not None and first:
        log.info(
            "statehouse metrics on http://%s:%d/metrics",
            (settings.metrics_address or "").rsplit(":", 1)[0],
            server.metrics_listener.port,
        )
    if process is None:
        log.info(
            "statehouse serving on %s:%d%s%s (database %s)",
            host,
            port,
            http,
            transport,
            display_url(settings.resolved_database_url()),
        )
    else:
        log.info(
            "statehouse process %d of %d (pid %d) on %s:%d%s",
            *process,
            os.getpid(),
            host,
            port,
            http,
        )
    if process is None and settings.ready_file is not None:
        write_ready_file(
            settings.ready_file,
            grpc_port=port,
            http_port=server.http_port if settings.http_address else None,
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


#: File descriptors kept for what is not a client connection (the database, files,
#: grpc's own), beside the connections of the two ports.
_SPARE_DESCRIPTORS = 256


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


def _connection_bound(wanted: int) -> int:
    """``--max-connections``, lowered so that both ports full leave descriptors
    to spare (a flood of connections must not stop the database or the other port)."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return wanted
    fits = max(1, (soft - _SPARE_DESCRIPTORS) // 2)
    if wanted > fits:
        log.warning(
            "the file-descriptor limit (%d) allows %d connections per port, not %d "
            "(--max-connections): raise it to at least %d (LimitNOFILE= in a systemd unit)",
            soft,
            fits,
            wanted,
            2 * wanted + _SPARE_DESCRIPTORS,
        )
        return fits
    return wanted


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


def _port_of(address: str | None) -> int | None:
    return int(address.rsplit(":", 1)[1]) if address else None


def _http_text(settings: Settings, port: int | None) -> str:
    """`` and http://127.0.0.1:8080``: where the HTTP port serves, if it does."""
    if port is None or not settings.http_address:
        return ""
    host = settings.http_address.rsplit(":", 1)[0]
    scheme = "https" if settings.tls_cert is not None else "http"
    return f" and {scheme}://{host}:{port}"


def _transport_text(settings: Settings, tls: bool) -> str:
    text = "" if not tls else " over mTLS" if settings.tls_client_ca else " over TLS"
    if settings.auth_enabled:
        text += " with authentication"
    return text


def serve_from_args(args: argparse.Namespace) -> None:
    """Configure logging and run :func:`serve` (or :func:`supervise`) with the parsed options."""
    log_format = getattr(args, "log_format", "text")
    configure_logging(str(args.log_level), log_format)
    settings = settings_from_args(args)
    try:
        # OTEL_TRACES_EXPORTER naming an exporter that is missing: refused before anything starts.
        try:
            trace_exporters()
        except TracingConfigError as exc:
            raise ConfigError(str(exc)) from None
        if settings.processes > 1:
            status = supervise(settings, str(args.log_level), log_format)
            if status:
                raise SystemExit(status)
            return
        run(serve(settings))
    except (OSError, TlsConfigError, ConfigError, DatabaseUrlError, StorageUnavailable) as exc:
        log.error("%s", _one_line(exc))
        raise SystemExit(1) from exc


def _one_line(error: BaseException) -> str:
    """What stops the server from starting, on one line (a driver's message has several)."""
    text = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
    if isinstance(error, StorageUnavailable):
        return f"cannot use the database: {text}"
    return text


# -- several processes on one port ---------------------------------------------------


def supervise(settings: Settings, log_level: str = "INFO", log_format: str = "text") -> int:
    """Run ``settings.processes`` server processes on one port and supervise them.

    The options are checked and the schema migrated once, here; then each process
    (spawned, not forked) binds the port with SO_REUSEPORT, so that the kernel
    spreads connections over them, and runs its own store, event hub and timer
    scheduler, tailing the shared log like any replica. SIGTERM or SIGINT stops
    them all gracefully (exit status 0); SIGHUP is passed on (TLS reload). If a
    process dies, the others are stopped and the status is 1: restarting is left
    to whatever supervises this process (systemd, Kubernetes), which also sees
    the failure. Returns the exit status.
    """
    count = settings.processes
    tls = _server_tls(settings)
    _check_exposure(settings, tls)
    _check_http(settings)
    _jwt_verifier(settings)
    reservation, port = _reserve_port(settings.address)
    reservations = [reservation]
    http_address = settings.http_address
    if http_address:
        # The HTTP port is shared the same way: uvicorn serves the socket each
        # process binds with SO_REUSEPORT (web.bind).
        try:
            http_reservation, http_port = _reserve_port(http_address)
        except OSError:
            reservation.close()
            raise
        reservations.append(http_reservation)
        http_address = f"{http_address.rsplit(':', 1)[0]}:{http_port}"
    metrics_address = settings.metrics_address
    if metrics_address:
        # --metrics-address too: each process serves its own metrics there.
        try:
            metrics_reservation, metrics_port = _reserve_port(metrics_address)
        except OSError:
            for held in reservations:
                held.close()
            raise
        reservations.append(metrics_reservation)
        metrics_address = f"{metrics_address.rsplit(':', 1)[0]}:{metrics_port}"
    host = settings.address.rsplit(":", 1)[0]
    children: list[multiprocessing.process.BaseProcess] = []
    stopping: list[int] = []

    def on_stop(signum: int, frame: object) -> None:
        stopping.append(signum)

    def on_hangup(signum: int, frame: object) -> None:
        for child in children:
            if child.pid is not None and child.exitcode is None:
                os.kill(child.pid, signal.SIGHUP)

    previous = {
        sig: signal.signal(sig, handler)
        for sig, handler in (
            (signal.SIGTERM, on_stop),
            (signal.SIGINT, on_stop),
            (signal.SIGHUP, on_hangup),
        )
    }
    try:
        if settings.migrate:
            # Once, before any process opens the database (SQLite cannot migrate
            # concurrently; PostgreSQL could, under its advisory lock).
            store = Store(
                settings.resolved_database_url(),
                StoreOptions(sqlite_synchronous=settings.sqlite_synchronous),
            )
            try:
                store.migrate()
            finally:
                store.close()
        child_settings = dataclasses.replace(
            settings,
            ready_file=None,  # the supervisor writes it, once every process serves
            address=f"{host}:{port}",
            http_address=http_address,
            metrics_address=metrics_address,
            migrate=False,
            processes=1,
            reuse_port=True,
        )
        context = multiprocessing.get_context("spawn")
        waiting: dict[
            multiprocessing.connection.Connection, multiprocessing.process.BaseProcess
        ] = {}
        for index in range(1, count + 1):
            reader, writer = context.Pipe(duplex=False)
            child = context.Process(
                target=_child_main,
                args=(child_settings, log_level, log_format, index, count, writer, os.getpid()),
                name=f"statehouse-{index}",
            )
            child.start()
            writer.close()
            children.append(child)
            waiting[reader] = child
        return _watch_children(
            children,
            waiting,
            reservations,
            stopping,
            child_settings,
            host,
            port,
            tls is not None,
            settings.ready_file,
        )
    finally:
        for held in reservations:
            held.close()
        _stop_children(children, settings.shutdown_grace + 10.0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _watch_children(
    children: list[multiprocessing.process.BaseProcess],
    waiting: dict[multiprocessing.connection.Connection, multiprocessing.process.BaseProcess],
    reservations: list[socket.socket],
    stopping: list[int],
    settings: Settings,
    host: str,
    port: int,
    tls: bool,
    ready_file: Path | None = None,
) -> int:
    """Wait for a signal (status 0) or for a process to die (status 1); ``ready_file``
    is written once every process serves."""
    sentinels = {child.sentinel: child for child in children}
    ready_count = 0
    while not stopping:
        ready = multiprocessing.connection.wait([*sentinels, *waiting], timeout=0.2)
        for item in ready:
            if isinstance(item, multiprocessing.connection.Connection):
                waiting.pop(item, None)
                try:
                    item.recv()
                    ready_count += 1
                except (EOFError, OSError):
                    pass  # died before it served: its sentinel says so
                item.close()
                if ready_count == len(children):
                    for held in reservations:
                        held.close()
                    http_port = None
                    if settings.http_address:
                        http_port = int(settings.http_address.rsplit(":", 1)[1])
                    log.info(
                        "statehouse serving on %s:%d%s%s (database %s, %d processes: pids %s)",
                        host,
                        port,
                        _http_text(settings, http_port),
                        _transport_text(settings, tls),
                        display_url(settings.resolved_database_url()),
                        len(children),
                        ", ".join(str(c.pid) for c in children),
                    )
                    if ready_file is not None:
                        write_ready_file(
                            ready_file,
                            grpc_port=port,
                            http_port=http_port,
                            metrics_port=_port_of(settings.metrics_address),
                            pids=[c.pid for c in children if c.pid is not None],
                        )
            elif isinstance(item, int) and not stopping:
                child = sentinels[item]
                child.join()
                log.error(
                    "statehouse process %s (pid %s) exited with status %s: stopping the others",
                    child.name.rsplit("-", 1)[-1],
                    child.pid,
                    child.exitcode,
                )
                return 1
    log.info("statehouse stopping %d processes", len(children))
    return 0 if _stop_children(children, settings.shutdown_grace + 10.0) else 1


def _stop_children(children: list[multiprocessing.process.BaseProcess], timeout: float) -> bool:
    """SIGTERM to every live process, wait, SIGKILL what is left; True if all exited 0."""
    for child in children:
        if child.exitcode is None and child.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.exitcode is None:
            log.error("statehouse process %s (pid %s) did not stop: killed", child.name, child.pid)
            child.kill()
            child.join(5)
    return all(child.exitcode == 0 for child in children)


def _reserve_port(address: str) -> tuple[socket.socket, int]:
    """Check that nothing listens on ``address``, pick its port if it is 0, and hold
    the port (bound with SO_REUSEPORT, not listening) until the processes have it."""
    host, _, port_text = address.rpartition(":")
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host or None, int(port_text), type=socket.SOCK_STREAM)
        family, _, _, _, sockaddr = infos[0]
        # Without SO_REUSEPORT first: a port in use by anyone is an error, not shared.
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(sockaddr)
            port = probe.getsockname()[1]
        reservation = socket.socket(family, socket.SOCK_STREAM)
        reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reservation.bind((sockaddr[0], port, *sockaddr[2:]))
    except (OSError, ValueError) as exc:
        raise OSError(f"cannot listen on {address}: {exc}") from exc
    return reservation, port


def _child_main(
    settings: Settings,
    log_level: str,
    log_format: str,
    index: int,
    count: int,
    ready: multiprocessing.connection.Connection,
    parent: int,
) -> None:
    """One of the processes of ``--processes N`` (spawned by :func:`supervise`)."""
    # Stopped by the parent (SIGTERM), not by a terminal's Ctrl-C to the group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(parent)
    configure_logging(log_level, log_format, process=True)

    def on_ready(port: int) -> None:
        ready.send(port)
        ready.close()

    try:
        run(serve(settings, on_ready=on_ready, process=(index, count)))
    except (OSError, TlsConfigError, ConfigError, DatabaseUrlError, StorageUnavailable) as exc:
        log.error("%s", _one_line(exc))
        raise SystemExit(1) from exc


def _die_with(parent: int) -> None:
    """Linux: get SIGTERM when the parent dies (even by kill -9), not linger."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent:  # the parent died before prctl
        os.kill(os.getpid(), signal.SIGTERM)


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it is installed (about 15% more calls/s), else asyncio."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional
        asyncio.run(coroutine)
    else:
        uvloop.run(coroutine)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="statehouse serve", description="Run the server.")
    add_serve_arguments(parser)
    serve_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
