"""The options of ``statehouse serve``: light to import, shared by the CLI and the app."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from statehouse.client import durations

from .settings import DATABASE_ENV, DEFAULT_ADDRESS, Settings

_DEFAULTS = Settings()
#: The address to listen on when --address is not given.
ADDRESS_ENV = "STATEHOUSE_ADDRESS"


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the server's options to ``parser``."""
    parser.add_argument(
        "--address",
        default=os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS,
        help=(
            f"host:port to listen on (default ${ADDRESS_ENV}, else {DEFAULT_ADDRESS}; "
            "port 0 picks a free one)"
        ),
    )
    parser.add_argument(
        "--http-address",
        default=None,
        metavar="HOST:PORT",
        help=(
            "also serve HTTP here: every RPC over the Connect protocol (JSON or binary, "
            "for browsers and curl) and the web console at / (default: off; port 0 picks one)"
        ),
    )
    parser.add_argument(
        "--metrics-address",
        default=None,
        metavar="HOST:PORT",
        help=(
            "serve the Prometheus metrics at /metrics on this port (default: off; the "
            "HTTP port of --http-address serves /metrics too; port 0 picks one)"
        ),
    )
    parser.add_argument(
        "--database",
        default=None,
        help=f"SQLAlchemy URL (default ${DATABASE_ENV}, else a SQLite file in --data-dir)",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path("data"), help="where the default SQLite file lives"
    )
    parser.add_argument(
        "--commit-timeout",
        type=durations.argument,
        default=_DEFAULTS.commit_timeout,
        metavar="DURATION",
        help="PostgreSQL: answer a write UNAVAILABLE, and turn health NOT_SERVING, when its "
        "commit takes longer than this (default 10s; 0: wait as long as the database does)",
    )
    parser.add_argument(
        "--retention-events",
        type=int,
        default=_DEFAULTS.retention_events,
        help="keep at most this many of the newest events (default 0: no limit)",
    )
    parser.add_argument(
        "--retention-seconds",
        type=durations.argument,
        default=_DEFAULTS.retention_seconds,
        metavar="DURATION",
        help="delete events older than this (default 7d; 0: no limit)",
    )
    parser.add_argument(
        "--request-id-ttl",
        type=durations.argument,
        default=_DEFAULTS.request_id_ttl,
        metavar="DURATION",
        help="remember request ids this long; a repeat after that is a new request "
        "(default 7d; e.g. 36h, 90m, 3600; 0: forever)",
    )
    parser.add_argument(
        "--retention-executions",
        type=durations.argument,
        default=_DEFAULTS.retention_executions,
        metavar="DURATION",
        help="delete terminal executions, with their task runs and metrics, this long "
        "after their last change (e.g. 30d; default 0: keep them; events stay)",
    )
    parser.add_argument(
        "--kill-deadline",
        type=durations.argument,
        default=_DEFAULTS.kill_deadline_seconds,
        metavar="DURATION",
        help="how long a killed execution's running task runs have to report KILLED (default 60s)",
    )
    parser.add_argument(
        "--max-payload-bytes",
        type=_payload_bytes,
        default=_DEFAULTS.max_payload_bytes,
        help="the largest inputs or outputs, in bytes of JSON (default 1 MiB; 1 KiB to 64 MiB)",
    )
    parser.add_argument("--tls-cert", type=Path, help="serve TLS: the certificate chain (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the private key of --tls-cert (PEM)")
    parser.add_argument(
        "--tls-client-ca",
        type=Path,
        help="mTLS: require client certificates signed by this CA (PEM); needs --tls-cert",
    )
    parser.add_argument(
        "--auth",
        action="store_true",
        help="require credentials on every call: tokens (statehouse tokens create), "
        "certificate grants, JWTs",
    )
    parser.add_argument("--jwt-public-key", type=Path, help="accept JWTs signed by this key (PEM)")
    parser.add_argument(
        "--jwt-jwks", type=Path, help="accept JWTs signed by a key of this JWKS file"
    )
    parser.add_argument("--jwt-issuer", help="require this iss claim in JWTs")
    parser.add_argument("--jwt-audience", help="require this aud claim in JWTs")
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="serve a non-loopback address without TLS and authentication (not recommended)",
    )
    parser.add_argument(
        "--max-connections",
        type=_max_connections,
        default=_DEFAULTS.max_connections,
        help="connections each port keeps open at once; more are refused (default "
        f"{_DEFAULTS.max_connections:,}, lowered to what the file-descriptor limit allows)",
    )
    parser.add_argument(
        "--processes",
        type=_processes,
        default=1,
        help="server processes sharing the port (SO_REUSEPORT), supervised by this one (default 1)",
    )
    parser.add_argument(
        "--ready-file",
        type=Path,
        metavar="PATH",
        help=(
            "once serving, write the bound ports here as JSON (grpc_port, http_port, "
            "metrics_port, pids), for whatever started the server with port 0"
        ),
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="log this level and above (default INFO; DEBUG: a line per request)",
    )
    parser.add_argument(
        "--log-format",
        default="text",
        choices=("text", "json"),
        help="text lines, or json: one JSON object per line (default text)",
    )


def _payload_bytes(text: str) -> int:
    value = int(text)
    if not 1 << 10 <= value <= 64 << 20:
        raise argparse.ArgumentTypeError("must be between 1024 and 67108864")
    return value


def _max_connections(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000000")
    return value


def _processes(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError("must be between 1 and 256")
    return value


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from parsed options (options a caller did not define keep their defaults)."""
    return Settings(
        address=args.address,
        http_address=getattr(args, "http_address", None),
        metrics_address=getattr(args, "metrics_address", None),
        database_url=args.database,
        data_dir=Path(args.data_dir),
        commit_timeout=getattr(args, "commit_timeout", _DEFAULTS.commit_timeout),
        retention_events=getattr(args, "retention_events", _DEFAULTS.retention_events),
        retention_seconds=getattr(args, "retention_seconds", _DEFAULTS.retention_seconds),
        request_id_ttl=getattr(args, "request_id_ttl", _DEFAULTS.request_id_ttl),
        retention_executions=getattr(args, "retention_executions", _DEFAULTS.retention_executions),
        kill_deadline_seconds=getattr(args, "kill_deadline", _DEFAULTS.kill_deadline_seconds),
        max_payload_bytes=getattr(args, "max_payload_bytes", _DEFAULTS.max_payload_bytes),
        tls_cert=getattr(args, "tls_cert", None),
        tls_key=getattr(args, "tls_key", None),
        tls_client_ca=getattr(args, "tls_client_ca", None),
        auth=getattr(args, "auth", False),
        jwt_public_key=getattr(args, "jwt_public_key", None),
        jwt_jwks=getattr(args, "jwt_jwks", None),
        jwt_issuer=getattr(args, "jwt_issuer", None),
        jwt_audience=getattr(args, "jwt_audience", None),
        insecure=getattr(args, "insecure", False),
        processes=getattr(args, "processes", 1),
        max_connections=getattr(args, "max_connections", _DEFAULTS.max_connections),
        ready_file=getattr(args, "ready_file", None),
    )
