"""The server assembled: ``create_server(settings)`` builds it, ``Server`` runs and stops it.

The parts are made in the order they depend on each other, on one
``contextlib.AsyncExitStack``: each part registers its own shutdown as it is
opened or started, so a failure at any step of the start closes exactly what
was started, in reverse order, and ``Server.stop`` is that same stack closed.
The order of the steps is the order of a graceful stop, read backwards: the
store outlives the ports (calls in their grace still read and write), the
ports outlive the event hub (its close ends the streams, with UNAVAILABLE,
before the ports' grace begins), and health turns NOT_SERVING first.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import resource
import secrets
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

from .. import limits as L
from ..api import (
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
from ..background.health import HealthMonitor
from ..background.housekeeping import Housekeeper, HousekeepingPolicy
from ..background.timers import TimerScheduler
from ..events import EventHub, Retention
from ..events.work import WorkWaiters
from ..net import Address, listen
from ..security.credentials import Authenticator
from ..security.guard import Guard
from ..security.jwts import JwtConfig, JwtVerifier
from ..security.reflection import ReflectionGuard
from ..security.tls import ServerTls, TlsFiles
from ..settings import ConfigError, Settings
from ..storage import Store, StoreOptions, Tx
from ..telemetry import MetricsListener, Tracing, TracingConfigError
from ..web import HttpApp, HttpServer
from ..web.protocol import Bounds

log = logging.getLogger("statehouse.server")

#: Connections the HTTP port's kernel queue holds before uvicorn accepts them.
HTTP_BACKLOG = 2048

SERVICES = (
    execution_service_pb2.DESCRIPTOR.services_by_name["ExecutionService"],
    event_service_pb2.DESCRIPTOR.services_by_name["EventService"],
    metric_service_pb2.DESCRIPTOR.services_by_name["MetricService"],
    admin_service_pb2.DESCRIPTOR.services_by_name["AdminService"],
)
SERVICE_NAMES = tuple(s.full_name for s in SERVICES)


class Server:
    """A Statehouse server, built by :func:`create_server`: not yet serving until
    :meth:`start`, stopped (everything it opened closed) by :meth:`stop`."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        hub: EventHub,
        scheduler: TimerScheduler,
        authenticator: Authenticator | None,
        grpc_server: grpc.aio.Server,
        transport: GrpcTransport,
        health_servicer: health.aio.HealthServicer,
        tls: ServerTls | None,
        http: HttpServer | None,
        connect_health: ConnectHealth | None,
        metrics_listener: MetricsListener | None,
        stack: contextlib.AsyncExitStack,
    ) -> None:
        self.settings = settings
        self.store = store
        self.hub = hub
        self.scheduler = scheduler
        #: The credentials in force, when authentication is on.
        self.authenticator = authenticator
        self.grpc_server = grpc_server
        self.transport = transport
        self.health = health_servicer
        #: The TLS credentials, when the port serves TLS (``tls.request_reload()``).
        self.tls = tls
        #: The HTTP port (Connect and the web console), when ``--http-address`` is given.
        self.http = http
        #: Health over Connect, on the HTTP port.
        self.connect_health = connect_health
        #: ``/metrics`` on a port of its own (``--metrics-address``).
        self.metrics_listener = metrics_listener
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
                compaction_interval=settings.compaction_interval,
            ),
            # Counted in statehouse_retention_deleted_total{kind}.
            on_deleted=store.metrics.deleted,
            compact_log=hub.compact if hub.retention.enabled else None,
        )
        #: What closes everything opened so far, in reverse order (see the module docstring).
        self._stack = stack
        self._grace: float | None = None
        self._serving = False

    @property
    def http_port(self) -> int | None:
        """The bound HTTP port, None without ``--http-address``."""
        return self.http.port if self.http is not None else None

    async def start(self) -> None:
        """Serve on the bound ports; on a failure, everything is closed and it is raised."""
        try:
            await self.grpc_server.start()
            self._serving = True
            if self.http is not None:
                await self.http.start()
            if self.metrics_listener is not None:
                await self.metrics_listener.start()
            # Each service's status from the first probe on (docs/design.md, "Health and retention").
            await self.monitor.start()
            self._stack.push_async_callback(self.monitor.close)
            await self.housekeeper.start()
            self._stack.push_async_callback(self.housekeeper.close)
        except BaseException:
            await self.stop(0)
            raise

    async def _publish_health(self, service: str, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse
        await self.health.set(service, status.SERVING if serving else status.NOT_SERVING)

    async def stop(self, grace: float | None = None) -> None:
        """Stop gracefully: streams end with UNAVAILABLE, unary calls may finish
        within ``grace`` (default ``--shutdown-grace``). A second call does nothing."""
        self._grace = self.settings.shutdown_grace if grace is None else grace
        await self._stack.aclose()

    async def wait_for_termination(self) -> None:
        await self.grpc_server.wait_for_termination()

    async def _stop_ports(self) -> None:
        """Both ports stop together, each within the grace."""
        if not self._serving:
            # grpcio frees a server's port and poller only once it has started and
            # stopped (stop() alone or the garbage collector leave them): a server
            # that never served is started and stopped at once.
            self._serving = True
            await self.grpc_server.start()
        stops = [self.grpc_server.stop(self._grace)]
        if self.http is not None:
            stops.append(self.http.stop())
        await asyncio.gather(*stops)


async def create_server(
    settings: Settings,
    *,
    process: tuple[int, int] | None = None,
    tracing: Tracing | None = None,
) -> tuple[Server, int]:
    """Open the database (migrating it), start the event hub, bind the ports.

    ``process`` is (index, count) for one of the processes of ``--processes N``.
    ``tracing``: the server's traces (None: from the ``OTEL_*`` environment
    variables, off unless ``OTEL_TRACES_EXPORTER`` names an exporter; the tests
    pass a provider with an in-memory exporter).
    Returns the server, not yet started, and the bound port. On a failure,
    whatever was opened is closed before the error is raised.
    """
    # First, before anything is opened: TlsConfigError on unusable TLS options,
    # ConfigError on an exposed port without protection.
    settings.check()
    tls = server_tls(settings)
    jwt = jwt_verifier(settings)
    # The server's own stack from here on: what it closes at its stop, or now.
    stack = contextlib.AsyncExitStack()
    try:
        return await _assemble(settings, stack, process, tracing, tls, jwt)
    except BaseException:
        await stack.aclose()
        raise


async def _assemble(
    settings: Settings,
    stack: contextlib.AsyncExitStack,
    process: tuple[int, int] | None,
    tracing: Tracing | None,
    tls: ServerTls | None,
    jwt: JwtVerifier | None,
) -> tuple[Server, int]:
    """The steps of :func:`create_server`, each registering its shutdown on ``stack``."""
    if tracing is None:
        tracing = _tracing_from_environment()
    if tracing.enabled:
        # Last of all: the spans still pending are exported (bounded by OTEL_BSP_EXPORT_TIMEOUT).
        stack.push_async_callback(asyncio.to_thread, tracing.shutdown)
    store = Store(
        settings.resolved_database_url(),
        StoreOptions(
            sqlite_synchronous=settings.sqlite_synchronous,
            request_id_ttl=settings.request_id_ttl,
            sqlite_change_poll_interval=settings.change_poll_interval,
            commit_timeout=settings.commit_timeout,
            sqlite_writer_process=settings.sqlite_writer_process,
        ),
        tracing=tracing,
    )
    stack.push_async_callback(store.aclose)
    if process is not None:
        # Each process has its own registry: its samples say which one answered.
        store.metrics.label_process(process[0])
    if settings.migrate:
        await asyncio.to_thread(store.migrate)
    candidate = secrets.token_hex(32)
    secret = await store.write(
        functools.partial(Tx.server_secret, name="page_tokens", candidate=candidate)
    )
    tokens = PageTokens(bytes.fromhex(secret))

    # The parts, complete but not running yet: nothing of theirs to close.
    hub = EventHub(
        store,
        buffer_size=settings.subscriber_buffer,
        poll_interval=settings.poll_interval,
        retention=Retention(
            max_events=settings.retention_events,
            max_age_seconds=settings.retention_seconds,
        ),
    )
    # Claims waiting for work wake on the batches the hub accepts (any replica's).
    work = WorkWaiters()
    hub.batch_listeners.append(work.offer)
    hub.interest.append(work.any_waiting)  # they need other replicas' events
    kill_deadline_us = int(settings.kill_deadline_seconds * 1_000_000)
    scheduler = TimerScheduler(
        store, kill_deadline_us=kill_deadline_us, poll_interval=settings.timer_poll_interval
    )
    # A commit that set a timer wakes it: the timer may fall due before it looks again.
    store.add_timer_listener(scheduler.wake)
    authenticator = None
    if settings.auth_enabled:
        authenticator = Authenticator(
            lambda: store.read(lambda tx: tx.list_credentials()),
            jwt=jwt,
            refresh_interval=settings.auth_refresh_interval,
        )
    guard = Guard(store, authenticator)
    if authenticator is not None:
        store.add_commit_listener(guard.learn)
    max_connections = _connection_bound(settings.max_connections)
    transport = GrpcTransport(
        store, guard, max_payload_bytes=settings.max_payload_bytes, tls=tls is not None
    )
    limits = Limits(max_payload_bytes=settings.max_payload_bytes, kill_deadline_us=kill_deadline_us)
    info = ServerInfo(processes=process[1] if process is not None else 1)
    impls = (
        ExecutionServicer(store, limits, tokens, work=work),
        EventServicer(store, hub),
        MetricServicer(store, limits, tokens),
        AdminServicer(store, authenticator, info),
    )
    for service, impl in zip(SERVICES, impls, strict=True):
        transport.add_service(service, impl)
    health_servicer = health.aio.HealthServicer()

    # The ports, bound (not yet serving): the HTTP and metrics sockets first, closed
    # as they are; then the gRPC server, whose stop is registered as it is made.
    http = connect_health = None
    if settings.http_address is not None:
        # The same handlers, guard and limits, over the Connect protocol.
        connect = ConnectTransport(store, guard, max_payload_bytes=settings.max_payload_bytes)
        for service, impl in zip(SERVICES, impls, strict=True):
            connect.add_service(service, impl)
        # Health as on the gRPC port: the same servicer, open to anyone.
        connect_health = ConnectHealth(health_servicer)
        connect.add_service(HEALTH_SERVICE, connect_health, open=True)
        sock = listen(
            settings.http_address,
            option="--http-address",
            reuse_port=settings.reuse_port,
            backlog=HTTP_BACKLOG,
        )
        stack.callback(sock.close)
        http = HttpServer(
            HttpApp(connect, serving=connect_health.serving, metrics=store.metrics.scrape),
            sock,
            bounds=Bounds(max_connections, settings.header_timeout),
            tls_cert=settings.tls_cert,
            tls_key=settings.tls_key,
            shutdown_grace=settings.shutdown_grace,
        )
    metrics_listener = None
    if settings.metrics_address is not None:
        metrics_sock = listen(
            settings.metrics_address, option="--metrics-address", reuse_port=settings.reuse_port
        )
        stack.callback(metrics_sock.close)
        metrics_listener = MetricsListener(store.metrics, metrics_sock)
        stack.push_async_callback(metrics_listener.stop)
    grpc_server = grpc.aio.server(
        options=_grpc_options(settings, max_connections),
        interceptors=[] if authenticator is None else [ReflectionGuard(guard)],
    )
    server = Server(
        settings=settings,
        store=store,
        hub=hub,
        scheduler=scheduler,
        authenticator=authenticator,
        grpc_server=grpc_server,
        transport=transport,
        health_servicer=health_servicer,
        tls=tls,
        http=http,
        connect_health=connect_health,
        metrics_listener=metrics_listener,
        stack=stack,
    )
    # Stopped after everything registered below, before the store closes.
    stack.push_async_callback(server._stop_ports)
    grpc_server.add_generic_rpc_handlers(transport.handlers)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, grpc_server)
    reflection.enable_server_reflection(
        (
            *SERVICE_NAMES,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        grpc_server,
    )
    port = _bind_grpc(grpc_server, settings.address, tls)

    # The background parts, started.
    await hub.start()
    stack.push_async_callback(hub.close)  # ends the streams before the ports' grace
    if authenticator is not None:
        await authenticator.start()
        stack.push_async_callback(authenticator.close)
    await scheduler.start()
    stack.push_async_callback(scheduler.close)
    if connect_health is not None:
        stack.callback(connect_health.close)
    # First at a stop (with the monitor and the housekeeper that start() adds):
    # health says NOT_SERVING while the calls under way finish.
    stack.push_async_callback(health_servicer.enter_graceful_shutdown)
    return server, port


def server_tls(settings: Settings) -> ServerTls | None:
    """The TLS credentials the settings ask for (their files read: TlsConfigError
    if they cannot be used), or None for plaintext."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    return ServerTls(TlsFiles(settings.tls_cert, settings.tls_key, settings.tls_client_ca))


def jwt_verifier(settings: Settings) -> JwtVerifier | None:
    """The JWT verifier the settings ask for, its key read (ConfigError if it
    cannot be used), or None."""
    if settings.jwt_public_key is None and settings.jwt_jwks is None:
        return None
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


def _tracing_from_environment() -> Tracing:
    """The traces the ``OTEL_*`` variables ask for (ConfigError: an exporter missing)."""
    try:
        return Tracing.from_environment()
    except TracingConfigError as exc:
        raise ConfigError(str(exc)) from None


def _bind_grpc(grpc_server: grpc.aio.Server, address: Address, tls: ServerTls | None) -> int:
    """The gRPC port, bound by grpc itself (grpc.aio serves no socket bound by
    another, so not by ``net.listen``), from the address's one text form."""
    try:
        if tls is None:
            return grpc_server.add_insecure_port(str(address))
        return grpc_server.add_secure_port(str(address), tls.credentials)
    except RuntimeError as exc:
        raise OSError(f"cannot listen on {address} (--address): {exc}") from exc


def _grpc_options(settings: Settings, max_connections: int) -> list[tuple[str, Any]]:
    return [
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


#: File descriptors kept for what is not a client connection (the database, files,
#: grpc's own), beside the connections of the two ports.
_SPARE_DESCRIPTORS = 256


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
