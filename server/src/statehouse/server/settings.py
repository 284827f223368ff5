"""Server settings: defaults that suit `make run`, overridable by flags and environment.

Each option of ``statehouse serve`` is declared once, here, on the field it
sets: :func:`option` puts its flag, help, parser, environment variable and the
docs table's wording in the field's metadata (an :class:`Option`). From that
one declaration ``options.py`` builds the argparse options and
``settings_from_args``, and ``tools/gen_serve_options.py`` writes the table of
docs/operations.md ("Running the server"). Fields without an option are tuning
that tests and embedders set in code.

Over 500 lines on purpose: the help and the documented meaning of every option
live beside its field, so that nothing about an option is written anywhere else.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from statehouse.client import durations

from .limits import MAX_PAYLOAD_BYTES
from .net import Address, AddressError

DEFAULT_ADDRESS = "127.0.0.1:50051"
DATABASE_ENV = "STATEHOUSE_DATABASE_URL"
#: The address to listen on when --address is not given.
ADDRESS_ENV = "STATEHOUSE_ADDRESS"
DEFAULT_MAX_CONNECTIONS = 4096
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")


class ConfigError(Exception):
    """Options that would make the server unsafe or cannot work together."""


class TlsConfigError(ConfigError, ValueError):
    """The TLS options do not make a usable configuration."""


@dataclass(frozen=True, slots=True)
class Option:
    """How a :class:`Settings` field is given to ``statehouse serve``."""

    #: The flag, ``--kill-deadline``; its argparse dest (``kill_deadline``) follows.
    flag: str
    #: The ``--help`` text.
    help: str
    #: The default as the docs table shows it: code-quoted values (read with
    #: ``parse`` by the table's test), ``$NAME`` for an environment variable, prose.
    shown: str
    #: The docs table's meaning (the help where None).
    doc: str | None = None
    #: Reads the flag's value (an argparse ``type``); None: the text as it is. A
    #: bool field is a switch (``store_true``) and reads no value.
    parse: Callable[[str], Any] | None = None
    #: An environment variable read when the flag is absent.
    env: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    #: Shares the docs table's row of the option declared just before it.
    same_row: bool = False


def option(flag: str, help: str, shown: str = "", **more: Any) -> dict[str, Option]:
    """The metadata of a Settings field that is also an option of ``serve``
    (``field(default=..., metadata=option(...))``; see :class:`Option`)."""
    return {"option": Option(flag, help, shown, **more)}


def serve_options() -> Iterator[tuple[dataclasses.Field[Any], Option]]:
    """Every option of ``serve``, with its field, in the order of ``--help``."""
    for found in dataclasses.fields(Settings):
        declared = found.metadata.get("option")
        if declared is not None:
            yield found, declared


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def read(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    read.__name__ = "int"  # argparse's "invalid int value: 'x'"
    return read


def _address(text: str) -> Address:
    """An argparse type: ``host:port`` (argparse names the option in its message)."""
    try:
        return Address.parse(text)
    except AddressError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


#: The address fields, with their options (a str given in code is read as the flag's value).
_ADDRESSES = {
    "address": "--address",
    "http_address": "--http-address",
    "metrics_address": "--metrics-address",
}
_DURATION = {"parse": durations.argument, "metavar": "DURATION"}


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a server needs to start: the options of ``serve`` first, in the
    order of ``--help``, then tuning without a flag."""

    #: host:port to listen on; port 0 picks a free port (see create_server's result).
    address: Address = field(
        default=Address.parse(DEFAULT_ADDRESS),
        metadata=option(
            "--address",
            f"host:port to listen on (default ${ADDRESS_ENV}, else {DEFAULT_ADDRESS}; "
            "port 0 picks a free one)",
            f"`${ADDRESS_ENV}`, else `{DEFAULT_ADDRESS}`",
            doc="host:port to listen on (port 0 picks a free port; the ready line says which)",
            env=ADDRESS_ENV,
            parse=_address,
        ),
    )
    #: host:port of the HTTP port (the Connect protocol and the web console); None: off.
    http_address: Address | None = field(
        default=None,
        metadata=option(
            "--http-address",
            "also serve HTTP here: every RPC over the Connect protocol (JSON or binary, "
            "for browsers and curl) and the web console at / (default: off; port 0 picks one)",
            "(off)",
            doc="also serve HTTP on host:port: every RPC over the Connect protocol (JSON and "
            "binary), `grpc.health.v1.Health`, `GET /healthz` and the web console at `/` (port 0 "
            "picks one; the ready line says which: `... on 127.0.0.1:50051 and "
            "http://127.0.0.1:8080 ...`). HTTPS with `--tls-cert`/`--tls-key` (re-read on "
            "SIGHUP, as the gRPC port's are); refused with `--tls-client-ca`, on the port of "
            "`--address`, and on a non-loopback address without TLS and `--auth` (unless "
            "`--insecure`); shared by `--processes N`",
            metavar="HOST:PORT",
            parse=_address,
        ),
    )
    #: host:port of a port serving only ``/metrics`` (Prometheus); None: off (the
    #: HTTP port serves ``/metrics`` too).
    metrics_address: Address | None = field(
        default=None,
        metadata=option(
            "--metrics-address",
            "serve the Prometheus metrics at /metrics on this port (default: off; the "
            "HTTP port of --http-address serves /metrics too; port 0 picks one)",
            "(off)",
            doc="serve `/metrics` on host:port (port 0 picks one; logged as `statehouse metrics "
            "on http://HOST:PORT/metrics`); the HTTP port serves `/metrics` too",
            metavar="HOST:PORT",
            parse=_address,
        ),
    )
    #: A SQLAlchemy URL; unset means $STATEHOUSE_DATABASE_URL, else a SQLite file in data_dir.
    database_url: str | None = field(
        default=None,
        metadata=option(
            "--database",
            f"SQLAlchemy URL (default ${DATABASE_ENV}, else a SQLite file in --data-dir)",
            f"`${DATABASE_ENV}`, else `sqlite:///<data-dir>/statehouse.db`",
            doc="`sqlite:///PATH` or `postgresql+psycopg://USER@HOST:PORT/DB`; several "
            "PostgreSQL hosts as `USER@H1:P1,H2:P2/DB` or `USER@/DB?host=H1:P1&host=H2:P2` (see "
            "[Failover](deployment.md#failover-a-primary-with-a-synchronous-standby)); anything "
            "else is refused at start in one line",
        ),
    )
    #: Where the default SQLite database lives.
    data_dir: Path = field(
        default=Path("data"),
        metadata=option(
            "--data-dir", "where the default SQLite file lives", "`./data`", parse=Path
        ),
    )
    #: PostgreSQL: how long a write may take from its arrival to its commit before
    #: it is answered UNAVAILABLE and health turns NOT_SERVING (seconds; 0: no bound).
    commit_timeout: float = field(
        default=10.0,
        metadata=option(
            "--commit-timeout",
            "PostgreSQL: answer a write UNAVAILABLE, and turn health NOT_SERVING, when its "
            "commit takes longer than this (default 10s; 0: wait as long as the database does)",
            "`10s`",
            doc="PostgreSQL: a write not committed this long after it arrived is answered "
            "`UNAVAILABLE` and health turns NOT_SERVING until a write commits again (0: wait as "
            "long as the database does)",
            **_DURATION,
        ),
    )
    #: Keep at most this many of the newest events in the log (0: no limit).
    retention_events: int = field(
        default=0,
        metadata=option(
            "--retention-events",
            "keep at most this many of the newest events (default 0: no limit)",
            "`0` (no limit)",
            doc="keep at most this many of the newest events in the log",
            parse=int,
        ),
    )
    #: Delete events older than this (seconds; 0: no limit). Default: 7 days.
    retention_seconds: float = field(
        default=7 * 24 * 3600.0,
        metadata=option(
            "--retention-seconds",
            "delete events older than this (default 7d; 0: no limit)",
            "`7d`",
            doc="delete events older than this (a [duration](cli.md#conventions); 0: no limit); "
            "applied every minute",
            **_DURATION,
        ),
    )
    #: How long a request_id is remembered (seconds): a repeat after that is a new
    #: request. Default: 7 days.
    request_id_ttl: float = field(
        default=7 * 24 * 3600.0,
        metadata=option(
            "--request-id-ttl",
            "remember request ids this long; a repeat after that is a new request "
            "(default 7d; e.g. 36h, 90m, 3600; 0: forever)",
            "`7d`",
            doc="how long a request id is remembered (0: forever); a repeat after it is a new request",
            **_DURATION,
        ),
    )
    #: Delete terminal executions (with their task runs and metrics) this long after
    #: their last change (seconds; 0: keep them).
    retention_executions: float = field(
        default=0.0,
        metadata=option(
            "--retention-executions",
            "delete terminal executions, with their task runs and metrics, this long "
            "after their last change (e.g. 30d; default 0: keep them; events stay)",
            "`0` (off)",
            doc="delete terminal executions (with their task runs, attempts, outputs and "
            "metrics) this long after their last change, e.g. `30d`; events stay",
            **_DURATION,
        ),
    )
    #: How long running task runs of a killed execution have to report KILLED (seconds).
    kill_deadline_seconds: float = field(
        default=60.0,
        metadata=option(
            "--kill-deadline",
            "how long a killed execution's running task runs have to report KILLED (default 60s)",
            "`60s`",
            doc="how long a killed execution's running task runs have to report KILLED before "
            "they are forced to it",
            **_DURATION,
        ),
    )
    #: The largest inputs or outputs of one execution or task run, in bytes of JSON.
    max_payload_bytes: int = field(
        default=MAX_PAYLOAD_BYTES,
        metadata=option(
            "--max-payload-bytes",
            "the largest inputs or outputs, in bytes of JSON (default 1 MiB; 1 KiB to 64 MiB)",
            f"`{MAX_PAYLOAD_BYTES}` (1 MiB)",
            doc="the largest inputs or outputs, in bytes of compact JSON; the largest request "
            "accepted follows from it (see [Limits](concepts.md#limits))",
            parse=_int_between(1 << 10, 64 << 20),
        ),
    )

    #: TLS: the server's certificate chain and key (PEM); both or neither.
    tls_cert: Path | None = field(
        default=None,
        metadata=option(
            "--tls-cert",
            "serve TLS: the certificate chain (PEM)",
            "(plaintext)",
            doc="serve TLS with this certificate chain and key (PEM files); re-read on SIGHUP",
            parse=Path,
        ),
    )
    tls_key: Path | None = field(
        default=None,
        metadata=option(
            "--tls-key", "the private key of --tls-cert (PEM)", parse=Path, same_row=True
        ),
    )
    #: mTLS: require client certificates signed by this CA (PEM); needs tls_cert.
    tls_client_ca: Path | None = field(
        default=None,
        metadata=option(
            "--tls-client-ca",
            "mTLS: require client certificates signed by this CA (PEM); needs --tls-cert",
            "(none)",
            doc="mTLS: require client certificates signed by this CA (PEM); needs `--tls-cert`",
            parse=Path,
        ),
    )

    #: Require credentials (tokens, certificate grants, JWTs) on every call.
    auth: bool = field(
        default=False,
        metadata=option(
            "--auth",
            "require credentials on every call: tokens (statehouse tokens create), "
            "certificate grants, JWTs",
            "off",
            doc="require credentials on every call (see [Security](security.md))",
        ),
    )
    #: JWTs: a PEM public key or a JWKS file, and the issuer and audience to require.
    jwt_public_key: Path | None = field(
        default=None,
        metadata=option(
            "--jwt-public-key",
            "accept JWTs signed by this key (PEM)",
            "(none)",
            doc="accept JWTs signed by this PEM public key, or by a key of this JWKS file; "
            "turns `--auth` on",
            parse=Path,
        ),
    )
    jwt_jwks: Path | None = field(
        default=None,
        metadata=option(
            "--jwt-jwks",
            "accept JWTs signed by a key of this JWKS file",
            parse=Path,
            same_row=True,
        ),
    )
    jwt_issuer: str | None = field(
        default=None,
        metadata=option(
            "--jwt-issuer",
            "require this iss claim in JWTs",
            "(not checked)",
            doc="require these `iss` and `aud` claims in JWTs",
        ),
    )
    jwt_audience: str | None = field(
        default=None,
        metadata=option("--jwt-audience", "require this aud claim in JWTs", same_row=True),
    )
    #: Serve a non-loopback address without TLS and authentication anyway.
    insecure: bool = field(
        default=False,
        metadata=option(
            "--insecure",
            "serve a non-loopback address without TLS and authentication (not recommended)",
            "off",
            doc="serve a non-loopback address without TLS and authentication (refused otherwise)",
        ),
    )
    #: Connections each port (gRPC, HTTP) keeps open at once; more are refused.
    #: Lowered at start to what the file-descriptor limit allows (``app/server.py``).
    max_connections: int = field(
        default=DEFAULT_MAX_CONNECTIONS,
        metadata=option(
            "--max-connections",
            "connections each port keeps open at once; more are refused (default "
            f"{DEFAULT_MAX_CONNECTIONS:,}, lowered to what the file-descriptor limit allows)",
            f"`{DEFAULT_MAX_CONNECTIONS}`",
            doc="connections each port keeps open at once; past it a new one is refused (HTTP: "
            "`503`; gRPC: closed). Lowered at start, with a warning, to what the file-descriptor "
            "limit allows (see below)",
            parse=_int_between(1, 1_000_000),
        ),
    )
    #: Server processes sharing the port (SO_REUSEPORT), each with its own store,
    #: hub and scheduler, supervised by a parent process (``serve --processes``).
    processes: int = field(
        default=1,
        metadata=option(
            "--processes",
            "server processes sharing the port (SO_REUSEPORT), supervised by this one (default 1)",
            "`1`",
            doc="server processes sharing the port (see below)",
            parse=_int_between(1, 256),
        ),
    )
    #: Once serving, write the bound ports here as JSON (``app.write_ready_file``), for
    #: a supervisor or a test that asked for port 0; None: nothing written.
    ready_file: Path | None = field(
        default=None,
        metadata=option(
            "--ready-file",
            "once serving, write the bound ports here as JSON (grpc_port, http_port, "
            "metrics_port, pids), for whatever started the server with port 0",
            "(none)",
            doc='once serving, write the bound ports as one JSON object to this path (`{"grpc_port":'
            ' 50051, "http_port": 8080, "metrics_port": null, "pids": [1234]}`; under '
            "`--processes N` the supervisor writes it once every process serves, with their "
            "pids): for whatever started the server with port 0. "
            "`statehouse.server.testing.ServerProcess` starts a server in a subprocess and waits "
            "for it",
            parse=Path,
            metavar="PATH",
        ),
    )
    #: The log's level and format (``telemetry.configure_logging``), set before the
    #: server starts.
    log_level: str = field(
        default="INFO",
        metadata=option(
            "--log-level",
            "log this level and above (default INFO; DEBUG: a line per request)",
            "`INFO`",
            doc="`DEBUG`, `INFO`, `WARNING` or `ERROR`; `DEBUG` adds one line per request",
            parse=str.upper,
            choices=LOG_LEVELS,
        ),
    )
    log_format: str = field(
        default="text",
        metadata=option(
            "--log-format",
            "text lines, or json: one JSON object per line (default text)",
            "`text`",
            doc="`text`, or `json`: one JSON object per line",
            choices=LOG_FORMATS,
        ),
    )

    # Tuning without a flag.

    #: Apply pending migrations at start (safe to repeat).
    migrate: bool = True
    #: Events buffered per subscriber before it is served from the stored log.
    subscriber_buffer: int = 1024
    #: How often the event hub checks the log for other processes' writes (seconds).
    poll_interval: float = 0.5
    #: SQLite: how often the hub looks at the file's change counter (``PRAGMA
    #: data_version``, a few microseconds) and reads the log when another
    #: connection committed; bounds the delay of other processes' events (0: off).
    change_poll_interval: float = 0.015
    #: Bind the port with SO_REUSEPORT (set for the processes of ``--processes N``).
    reuse_port: bool = False
    #: How long in-flight calls may finish on shutdown (seconds).
    shutdown_grace: float = 5.0
    #: Seconds for a request head to arrive whole on the HTTP port (and for its
    #: body not to stall), and for a new connection's handshake on the gRPC port.
    header_timeout: float = 10.0
    #: Streams and calls grpc may queue before the application picks them up; grpc's
    #: default (1,000) cancels subscriptions opened in a burst.
    max_pending_requests: int = 100_000
    #: How often the retention is applied (seconds).
    compaction_interval: float = 60.0
    #: How often expired request ids and old executions are swept (seconds).
    housekeeping_interval: float = 10.0
    #: How often health probes the database and the event hub (seconds).
    health_interval: float = 1.0
    #: How long one probe may take before the database counts as unreachable.
    health_timeout: float = 2.0
    #: How often durable timers are looked for (seconds); local changes wake it at once.
    timer_poll_interval: float = 0.25
    #: SQLite's synchronous pragma (NORMAL survives kill -9 in WAL mode; FULL a power loss).
    sqlite_synchronous: str = "NORMAL"
    #: SQLite: write in a process of its own (``storage/writer_process.py``), a
    #: second core for the transactions.
    sqlite_writer_process: bool = True
    #: How often every replica reloads the credentials (a revocation's delay), seconds.
    auth_refresh_interval: float = 1.0

    def __post_init__(self) -> None:
        """Addresses given as text in code (``Settings(address="127.0.0.1:0")``) are
        read here, once, and refused naming their option; "" is no address."""
        for name, flag in _ADDRESSES.items():
            value = getattr(self, name)
            if isinstance(value, str):
                given = Address.parse(value, flag) if value or name == "address" else None
                object.__setattr__(self, name, given)

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
        if self.insecure or self.address.is_loopback:
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
        port = self.http_address.port
        if port != 0 and port == self.address.port:
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
        if self.insecure or self.http_address.is_loopback:
            return
        if self.tls_cert is not None and self.auth_enabled:
            return
        missing = "TLS and authentication" if self.tls_cert is None else "authentication"
        raise ConfigError(
            f"refusing to serve {self.http_address} (--http-address) without {missing}: "
            "anyone who can reach it could read and change every execution. Give --tls-cert "
            "and --tls-key with --auth, or --insecure to serve it unprotected anyway."
        )
