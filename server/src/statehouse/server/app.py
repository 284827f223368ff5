"""The server: ``create_server(settings)`` builds it, ``serve()`` runs it until a signal.

Also runnable as ``python -m statehouse.server.app`` (what ``statehouse serve`` calls).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import os
import secrets
import signal
import sys
from collections.abc import Coroutine
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
    AdminServicer,
    EventServicer,
    ExecutionServicer,
    GrpcTransport,
    Guard,
    Limits,
    MetricServicer,
    PageTokens,
)
from .credentials import Authenticator, JwtConfig, JwtVerifier
from .events import EventHub, Retention
from .options import add_serve_arguments, settings_from_args
from .orchestration import Unauthenticated
from .scheduler import TimerScheduler
from .settings import Settings
from .storage import Store, StoreOptions
from .tls import ServerTls, TlsConfigError, TlsFiles

log = logging.getLogger("statehouse.server")

SWITCH_INTERVAL = float(os.environ.get("STATEHOUSE_SWITCH_INTERVAL", "0.0005"))

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
    ) -> None:
        #: The credentials in force, when authentication is on.
        self.authenticator = authenticator
        self.grpc_server = grpc_server
        self.transport = transport
        #: The TLS credentials, when the port serves TLS (``tls.request_reload()``).
        self.tls: ServerTls | None = None
        self.store = store
        self.hub = hub
        self.scheduler = scheduler
        self.health = health_servicer
        self.settings = settings
        self._stopped = False

    async def start(self) -> None:
        await self.grpc_server.start()
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float | None = None) -> None:
        """Stop gracefully: streams end with UNAVAILABLE, unary calls may finish."""
        if self._stopped:
            return
        self._stopped = True
        await self.health.enter_graceful_shutdown()
        await self.scheduler.close()
        if self.authenticator is not None:
            await self.authenticator.close()
        await self.hub.close()
        await self.grpc_server.stop(self.settings.shutdown_grace if grace is None else grace)
        await self.store.aclose()

    async def wait_for_termination(self) -> None:
        await self.grpc_server.wait_for_termination()


async def create_server(settings: Settings) -> tuple[Server, int]:
    """Open the database (migrating it), start the event hub, bind the port.

    Returns the server, not yet started, and the bound port.
    """
    # First, before anything is opened: TlsConfigError on unusable TLS options,
    # ConfigError on an exposed port without protection.
    tls = _server_tls(settings)
    _check_exposure(settings, tls)
    jwt = _jwt_verifier(settings)
    store = Store(
        settings.resolved_database_url(),
        StoreOptions(sqlite_synchronous=settings.sqlite_synchronous),
    )
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
    await hub.start()
    candidate = secrets.token_hex(32)
    secret = await store.write(lambda tx: tx.server_secret("page_tokens", candidate))
    tokens = PageTokens(bytes.fromhex(secret))
    options = [
        ("grpc.max_receive_message_length", L.max_request_bytes(settings.max_payload_bytes)),
        ("grpc.max_send_message_length", L.MAX_RESPONSE_BYTES),
        ("grpc.server.max_pending_requests", settings.max_pending_requests),
        ("grpc.server.max_pending_requests_hard_limit", settings.max_pending_requests),
        ("grpc.so_reuseport", 0),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ]
    interceptors = [] if not settings.auth_enabled else [_ReflectionGuard()]
    grpc_server = grpc.aio.server(options=options, interceptors=interceptors)
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
    transport = GrpcTransport(store, guard, max_payload_bytes=settings.max_payload_bytes)
    for service, impl in zip(
        SERVICES,
        (
            ExecutionServicer(store, limits, tokens, scheduler.wake),
            EventServicer(store, hub),
            MetricServicer(store, limits, tokens),
            AdminServicer(store, authenticator),
        ),
        strict=True,
    ):
        transport.add_service(service, impl)
    grpc_server.add_generic_rpc_handlers(transport.handlers)
    for interceptor in interceptors:
        interceptor.guard = guard
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
    try:
        if tls is None:
            port = grpc_server.add_insecure_port(settings.address)
        else:
            port = grpc_server.add_secure_port(settings.address, tls.credentials)
    except RuntimeError as exc:
        await scheduler.close()
        if authenticator is not None:
            await authenticator.close()
        await hub.close()
        store.close()
        raise OSError(f"cannot listen on {settings.address}: {exc}") from exc
    server = Server(
        grpc_server, store, hub, scheduler, health_servicer, settings, transport, authenticator
    )
    server.tls = tls
    return server, port


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


class _ReflectionGuard(grpc.aio.ServerInterceptor):
    """With authentication on, reflection needs a valid credential (health stays open)."""

    guard: Guard | None = None

    async def intercept_service(
        self,
        continuation: Any,
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        method = handler_call_details.method or ""
        if method.startswith("/grpc.reflection.") and self.guard is not None:
            authorization = None
            for key, value in handler_call_details.invocation_metadata or ():
                if key == "authorization":
                    authorization = value if isinstance(value, str) else value.decode("latin-1")
            try:
                self.guard.authenticate(authorization, None, "reflection")
            except Unauthenticated:
                return grpc.stream_stream_rpc_method_handler(_refuse)
        return await continuation(handler_call_details)


async def _refuse(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "valid credentials are required")


def _display_url(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    # Worker threads (large requests, reads) hand the GIL back to the event loop
    # after at most this long, instead of 5 ms: small calls wait less behind them.
    sys.setswitchinterval(SWITCH_INTERVAL)
    server, port = await create_server(settings)

    await server.start()
    host = settings.address.rsplit(":", 1)[0]
    transport = (
        "" if server.tls is None else " over mTLS" if settings.tls_client_ca else " over TLS"
    )
    if server.authenticator is not None:
        transport += " with authentication"
        if server.authenticator.empty:
            log.warning(
                "authentication is on and no credential exists yet: create the first admin "
                "token with `statehouse tokens create --database URL --name root --role admin "
                "--namespace '*'`"
            )
    elif settings.insecure and not _is_loopback(settings.address):
        log.warning("serving %s without protection (--insecure)", settings.address)
    log.info(
        "statehouse serving on %s:%d%s (database %s)",
        host,
        port,
        transport,
        _display_url(settings.resolved_database_url()),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if server.tls is not None:
        loop.add_signal_handler(signal.SIGHUP, server.tls.request_reload)
    await stop.wait()
    log.info("statehouse shutting down (grace %.1fs)", settings.shutdown_grace)
    await server.stop()
    log.info("statehouse stopped")


def serve_from_args(args: argparse.Namespace) -> None:
    """Configure logging and run :func:`serve` with the parsed options."""
    logging.basicConfig(
        level=str(args.log_level).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    settings = settings_from_args(args)
    try:
        _run(serve(settings))
    except (OSError, TlsConfigError, ConfigError) as exc:
        log.error("%s", exc)
        raise SystemExit(1) from exc


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
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
