"""Server settings: defaults that suit `make run`, overridable by flags and environment."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from .limits import MAX_PAYLOAD_BYTES

DEFAULT_ADDRESS = "127.0.0.1:50051"
DATABASE_ENV = "STATEHOUSE_DATABASE_URL"


class ConfigError(Exception):
    """Options that would make the server unsafe or cannot work together."""


class TlsConfigError(ConfigError, ValueError):
    """The TLS options do not make a usable configuration."""


def is_loopback(address: str) -> bool:
    """Whether ``host:port`` is reachable from this machine only."""
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a server needs to start."""

    #: host:port to listen on; port 0 picks a free port (see create_server's result).
    address: str = DEFAULT_ADDRESS
    #: host:port of the HTTP port (the Connect protocol and the web console); None: off.
    http_address: str | None = None
    #: host:port of a port serving only ``/metrics`` (Prometheus); None: off (the
    #: HTTP port serves ``/metrics`` too).
    metrics_address: str | None = None
    #: A SQLAlchemy URL; unset means $STATEHOUSE_DATABASE_URL, else a SQLite file in data_dir.
    database_url: str | None = None
    #: Where the default SQLite database lives.
    data_dir: Path = Path("data")
    #: Apply pending migrations at start (safe to repeat).
    migrate: bool = True
    #: The largest inputs or outputs of one execution or task run, in bytes of JSON.
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    #: Events buffered per subscriber before it is served from the stored log.
    subscriber_buffer: int = 1024
    #: How often the event hub checks the log for other processes' writes (seconds).
    poll_interval: float = 0.5
    #: SQLite: how often the hub looks at the file's change counter (``PRAGMA
    #: data_version``, a few microseconds) and reads the log when another
    #: connection committed; bounds the delay of other processes' events (0: off).
    change_poll_interval: float = 0.015
    #: Server processes sharing the port (SO_REUSEPORT), each with its own store,
    #: hub and scheduler, supervised by a parent process (``serve --processes``).
    processes: int = 1
    #: Bind the port with SO_REUSEPORT (set for the processes of ``--processes N``).
    reuse_port: bool = False
    #: How long in-flight calls may finish on shutdown (seconds).
    shutdown_grace: float = 5.0
    #: Connections each port (gRPC, HTTP) keeps open at once; more are refused.
    #: Lowered at start to what the file-descriptor limit allows (``app/server.py``).
    max_connections: int = 4096
    #: Seconds for a request head to arrive whole on the HTTP port (and for its
    #: body not to stall), and for a new connection's handshake on the gRPC port.
    header_timeout: float = 10.0
    #: Streams and calls grpc may queue before the application picks them up; grpc's
    #: default (1,000) cancels subscriptions opened in a burst.
    max_pending_requests: int = 100_000
    #: Keep at most this many of the newest events in the log (0: no limit).
    retention_events: int = 0
    #: Delete events older than this (seconds; 0: no limit). Default: 7 days.
    retention_seconds: float = 7 * 24 * 3600.0
    #: How often the retention is applied (seconds).
    compaction_interval: float = 60.0
    #: How long a request_id is remembered (seconds): a repeat after that is a new
    #: request. Default: 7 days.
    request_id_ttl: float = 7 * 24 * 3600.0
    #: Delete terminal executions (with their task runs and metrics) this long after
    #: their last change (seconds; 0: keep them).
    retention_executions: float = 0.0
    #: How often expired request ids and old executions are swept (seconds).
    housekeeping_interval: float = 10.0
    #: How often health probes the database and the event hub (seconds).
    health_interval: float = 1.0
    #: How long one probe may take before the database counts as unreachable.
    health_timeout: float = 2.0
    #: PostgreSQL: how long a write may take from its arrival to its commit before
    #: it is answered UNAVAILABLE and health turns NOT_SERVING (seconds; 0: no bound).
    commit_timeout: float = 10.0
    #: How long running task runs of a killed execution have to report KILLED (seconds).
    kill_deadline_seconds: float = 60.0
    #: How often durable timers are looked for (seconds); local changes wake it at once.
    timer_poll_interval: float = 0.25
    #: SQLite's synchronous pragma (NORMAL survives kill -9 in WAL mode; FULL a power loss).
    sqlite_synchronous: str = "NORMAL"

    #: TLS: the server's certificate chain and key (PEM); both or neither.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: mTLS: require client certificates signed by this CA (PEM); needs tls_cert.
    tls_client_ca: Path | None = None

    #: Require credentials (tokens, certificate grants, JWTs) on every call.
    auth: bool = False
    #: JWTs: a PEM public key or a JWKS file, and the issuer and audience to require.
    jwt_public_key: Path | None = None
    jwt_jwks: Path | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    #: How often every replica reloads the credentials (a revocation's delay), seconds.
    auth_refresh_interval: float = 1.0
    #: Serve a non-loopback address without TLS and authentication anyway.
    insecure: bool = False
    #: Once serving, write the bound ports here as JSON (``app.write_ready_file``), for
    #: a supervisor or a test that asked for port 0; None: nothing written.
    ready_file: Path | None = None

    @property
    def auth_enabled(self) -> bool:
        """Authentication is on with --auth, or as soon as JWTs are configured."""
        return self.auth or self.jwt_public_key is not None or self.jwt_jwks is not None

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        from_env = os.environ.get(DATABASE_ENV)
        if from_env:
            return from_env
        return f"sqlite:///{(self.data_dir / 'statehouse.db').resolve()}"

    def check(self) -> None:
        """Refuse, before anything is opened, options that cannot work together or
        would serve a reachable port unprotected: TlsConfigError for incomplete TLS
        options, ConfigError for the others. (Whether the files named can be used is
        found when they are read: the TLS pair and the JWT key, in ``app``.)"""
        self._check_tls()
        self._check_exposure()
        self._check_http()
        if self.jwt_public_key is not None and self.jwt_jwks is not None:
            raise ConfigError("--jwt-public-key and --jwt-jwks: give one")

    @property
    def tls(self) -> bool:
        """The ports serve TLS (``--tls-cert`` and ``--tls-key``)."""
        return self.tls_cert is not None and self.tls_key is not None

    def _check_tls(self) -> None:
        if self.tls_cert is None and self.tls_key is None:
            if self.tls_client_ca is not None:
                raise TlsConfigError("--tls-client-ca needs --tls-cert and --tls-key")
        elif self.tls_cert is None or self.tls_key is None:
            raise TlsConfigError("--tls-cert and --tls-key go together")

    def _check_exposure(self) -> None:
        """Refuse to serve a reachable address to anyone who can reach it."""
        if self.insecure or is_loopback(self.address):
            return
        if self.tls and (self.auth_enabled or self.tls_client_ca is not None):
            return
        missing = "TLS and authentication" if not self.tls else "authentication"
        raise ConfigError(
            f"refusing to serve {self.address} without {missing}: anyone who can reach "
            "it could read and change every execution. Give --tls-cert and --tls-key with "
            "--auth (or --tls-client-ca), or --insecure to serve it unprotected anyway."
        )

    def _check_http(self) -> None:
        """The HTTP port: as protected as the gRPC port, or refused."""
        if not self.http_address:
            return
        port = self.http_address.rpartition(":")[2]
        if port not in ("", "0") and port == self.address.rpartition(":")[2]:
            # One process would fail to bind it; the processes of --processes N, which
            # bind both with SO_REUSEPORT, would split its connections between gRPC and HTTP.
            raise ConfigError(
                f"--http-address {self.http_address} and --address {self.address} "
                "have the same port: give the HTTP port another one (or 0 to pick one)"
            )
        if self.tls_client_ca is not None:
            # uvicorn does not hand the application the client's certificate, so a
            # certificate's identity could be neither checked nor recorded over HTTP.
            raise ConfigError(
                "--http-address cannot be used with --tls-client-ca: client certificates "
                "are not available to the HTTP port; use tokens or JWTs (--auth) with "
                "--tls-cert and --tls-key instead"
            )
        if self.insecure or is_loopback(self.http_address):
            return
        if self.tls_cert is not None and self.auth_enabled:
            return
        missing = "TLS and authentication" if self.tls_cert is None else "authentication"
        raise ConfigError(
            f"refusing to serve {self.http_address} (--http-address) without {missing}: "
            "anyone who can reach it could read and change every execution. Give --tls-cert "
            "and --tls-key with --auth, or --insecure to serve it unprotected anyway."
        )
