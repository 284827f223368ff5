"""The argument parser and the commands of ``statehouse``."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import shlex
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import grpc
from google.protobuf.message import Message

from statehouse.cli import _render as render
from statehouse.client import (
    DEFAULT_STREAM_RETRY,
    Client,
    ConnectInfo,
    MetricBucketWidth,
    MetricType,
    PauseTimeoutAction,
    ReconnectInfo,
    Role,
    ServerUnreachableError,
    State,
    StatehouseError,
    TlsConfig,
    Token,
    UnauthenticatedError,
    counter,
    durations,
    timer,
)
from statehouse.client._errors import error_from_rpc
from statehouse.client._security import TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV, TOKEN_ENV
from statehouse.v1 import (
    admin_service_pb2 as _as,
    execution_pb2,
    execution_service_pb2 as _es,
    metric_service_pb2 as _ms,
)

DEFAULT_TARGET = "127.0.0.1:50051"
#: How long ``watch`` waits for the first connection before it says it cannot reach the server.
CONNECT_TIMEOUT = 10.0
TARGET_ENV = "STATEHOUSE_TARGET"

Handler = Callable[[argparse.Namespace, TextIO], int]


class UsageError(Exception):
    """A bad option value found after parsing; exits with 2."""


# Argument types: each raises ArgumentTypeError, which argparse reports as a
# usage error (exit 2).


def _state(text: str) -> State:
    try:
        state = State.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if state is State.UNSPECIFIED:
        raise argparse.ArgumentTypeError("a state is required")
    return state


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def read_argument(text: str) -> str:
    """A JSON argument's text: itself, ``@FILE``'s contents, or ``-`` for stdin.

    A large value passes through a file or a pipe, not the argument list
    (whose size the system bounds: "Argument list too long").
    """
    if text == "-":
        return sys.stdin.read()
    if text.startswith("@"):
        path = text[1:]
        try:
            with open(path, encoding="utf-8") as source:
                return source.read()
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"cannot read {path}: {exc.strerror}") from None
    return text


def _json_object(text: str) -> dict[str, Any]:
    """A JSON object given inline, as ``@FILE`` or as ``-`` (stdin)."""
    source = "stdin" if text == "-" else text[1:] if text.startswith("@") else ""
    try:
        value = json.loads(read_argument(text))
    except json.JSONDecodeError as exc:
        where = f" in {source}" if source else ""
        raise argparse.ArgumentTypeError(f"invalid JSON{where}: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def _integer(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < minimum:
        kind = "a positive integer" if minimum > 0 else "an integer of 0 or more"
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}")
    return value


def _non_negative(text: str) -> int:
    return _integer(text, 0)


def _positive(text: str) -> int:
    return _integer(text, 1)


def _seconds(text: str) -> float:
    """A positive duration in seconds, in the one grammar of ``statehouse.client.durations``."""
    return durations.positive_argument(text)


def _input_value(text: str) -> Any:
    """A --input value: JSON when it parses (3, true, "x", [1]), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _timeout_action(text: str) -> PauseTimeoutAction:
    try:
        return PauseTimeoutAction.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _metric_type(text: str) -> MetricType:
    try:
        value = MetricType.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value is MetricType.UNSPECIFIED:
        raise argparse.ArgumentTypeError("expected counter or timer")
    return value


def _bucket_width(text: str) -> MetricBucketWidth:
    try:
        value = MetricBucketWidth.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value is MetricBucketWidth.UNSPECIFIED:
        raise argparse.ArgumentTypeError("expected minute, hour, day, week or month")
    return value


def _span(text: str) -> timedelta:
    """A positive duration (``durations``: 30d, 12h, 90m, 1d12h, ...) as a ``timedelta``."""
    return timedelta(seconds=durations.positive_argument(text))


def _metric_value(text: str) -> tuple[str, float]:
    name, value = _key_value(text)
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER, got {text!r}") from None
    return name, number


def _metric_duration(text: str) -> tuple[str, float]:
    """NAME=DURATION: a timer's value, 0 or more (``durations``: 2.5, 2.5s, 1m30s)."""
    name, value = _key_value(text)
    try:
        return name, durations.argument(value)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"expected NAME=DURATION; {name}: {exc}") from None


def _role(text: str) -> Role:
    try:
        role = Role.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if role is Role.UNSPECIFIED:
        raise argparse.ArgumentTypeError("expected reader, writer or admin")
    return role


def _instant(text: str) -> datetime:
    """An ISO 8601 time ("2025-01-31", "2025-01-31T12:00:00Z"); without an offset, UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 time, got {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# The parser.


def _add_client_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """--target and --json, accepted before and after the subcommand."""
    suppress = argparse.SUPPRESS
    parser.add_argument(
        "--target",
        default=os.environ.get(TARGET_ENV, DEFAULT_TARGET) if top else suppress,
        help=f"the server's host:port (default ${TARGET_ENV}, else {DEFAULT_TARGET})",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=render.FORMATS,
        default="text" if top else suppress,
        help=(
            "text (for people, the default), or the response message as json or yaml "
            "(proto field names; a JSON line or a YAML document per item of a stream)"
        ),
    )
    parser.add_argument(
        "--json",
        dest="output",
        action="store_const",
        const="json",
        default=suppress,
        help="the same as --output json",
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto" if top else suppress,
        help="colour state names: auto (on a terminal, unless $NO_COLOR is set), always, never",
    )
    parser.add_argument(
        "--call-timeout",
        type=_seconds,
        default=30.0 if top else suppress,
        metavar="DURATION",
        help="deadline of each call (default 30s)",
    )
    # Security. The dests differ from serve's own --tls-cert and --tls-key.
    # Unset, each falls back to its environment variable (in _connect).
    parser.add_argument(
        "--token",
        dest="client_token",
        default=None if top else suppress,
        metavar="TOKEN",
        help=(
            f"send this bearer token with every call (default ${TOKEN_ENV}, "
            "which other users cannot see in the process list)"
        ),
    )
    parser.add_argument(
        "--tls",
        dest="client_tls",
        action="store_true",
        default=False if top else suppress,
        help="connect over TLS, trusting the system's roots (implied by the --tls-* options)",
    )
    parser.add_argument(
        "--tls-ca",
        dest="client_tls_ca",
        default=None if top else suppress,
        metavar="PEM",
        help=f"connect over TLS, trusting this CA bundle (default ${TLS_CA_ENV})",
    )
    parser.add_argument(
        "--tls-cert",
        dest="client_tls_cert",
        default=None if top else suppress,
        metavar="PEM",
        help=f"mTLS: the client certificate chain (default ${TLS_CERT_ENV})",
    )
    parser.add_argument(
        "--tls-key",
        dest="client_tls_key",
        default=None if top else suppress,
        metavar="PEM",
        help=f"mTLS: the client certificate's private key (default ${TLS_KEY_ENV})",
    )
    parser.add_argument(
        "--tls-server-name",
        dest="client_tls_server_name",
        default=None if top else suppress,
        metavar="NAME",
        help="check the server's certificate for this name instead of the target's host",
    )


def _add_quiet(parser: argparse.ArgumentParser, kind: str) -> None:
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help=f"print only the new {kind}'s id (for scripts: ID=$(statehouse ... -q))",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statehouse",
        description="Statehouse: the system of record for workflow executions.",
    )
    parser.add_argument("--version", action="version", version=f"statehouse {version()}")
    _add_client_options(parser, top=True)
    common = argparse.ArgumentParser(add_help=False)
    _add_client_options(common, top=False)
    # Its commands' parsers are _CommandParser: ArgumentParser, and lazy for serve.
    commands: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_CommandParser
    )

    def command(group: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        short = help_text[0].lower() + help_text[1:].rstrip(".")
        sub: argparse.ArgumentParser = group.add_parser(
            name, help=short, description=help_text, parents=[common]
        )
        sub.set_defaults(handler=handler)
        return sub

    # serve: the options are the server's own (shared with python -m statehouse.server.app),
    # imported only when serve is parsed (_CommandParser); with statehouse-client alone,
    # serve says what to install.
    if importlib.util.find_spec("statehouse.server") is not None:
        serve = commands.add_parser(
            "serve", help="run the server", description="Run the server.", lazy=True
        )
    else:
        serve = commands.add_parser(
            "serve",
            help=f"run the server (needs {SERVER_DISTRIBUTION})",
            description=f"Run the server: needs {SERVER_DISTRIBUTION}, which is not installed.",
        )
        serve.add_argument("options", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    serve.set_defaults(handler=cmd_serve)

    # backup: a copy of the SQLite database, online (server code, imported lazily)
    p = commands.add_parser(
        "backup",
        help="copy the SQLite database, consistently, while the server runs",
        description=(
            "Copy the SQLite database (--database, else $STATEHOUSE_DATABASE_URL, else "
            "the file in --data-dir, as serve) to FILE: a consistent snapshot, taken while "
            "the server runs, of every change acknowledged before the backup began. "
            "For PostgreSQL use pg_dump or pg_basebackup."
        ),
    )
    p.add_argument("--to", required=True, type=Path, metavar="FILE", help="the copy to write")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.add_argument(
        "--step-pages",
        type=int,
        default=4096,
        metavar="N",
        help="database pages copied per step of SQLite's backup API (default 4096: 16 MiB)",
    )
    p.add_argument("--database", metavar="URL", help="the database's SQLAlchemy URL")
    p.add_argument(
        "--data-dir", type=Path, default=Path("data"), help="where the default SQLite file lives"
    )
    p.set_defaults(handler=cmd_backup)

    # executions
    executions = commands.add_parser(
        "executions", help="list, show, create and delete executions", parents=[common]
    )
    ex = executions.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = command(ex, "list", cmd_executions_list, "List executions, newest first.")
    p.add_argument("--namespace", default="")
    p.add_argument("--flow", default="", help="a flow id")
    p.add_argument("--state", type=_state, action="append", default=[], help="repeatable")
    p.add_argument(
        "--label", type=_key_value, action="append", default=[], metavar="K=V", help="repeatable"
    )
    p.add_argument("--limit", type=_positive, default=None, help="at most N executions")

    p = command(
        ex,
        "get",
        cmd_executions_get,
        "Show an execution, its task runs and attempts, and a timeline.",
    )
    p.add_argument("execution_id", metavar="ID")

    p = command(ex, "create", cmd_executions_create, "Create an execution.")
    p.add_argument("--namespace", required=True)
    p.add_argument("--flow", required=True, help="a flow id")
    p.add_argument("--flow-revision", type=_non_negative, default=0)
    p.add_argument(
        "--label", type=_key_value, action="append", default=[], metavar="K=V", help="repeatable"
    )
    inputs = p.add_mutually_exclusive_group()
    inputs.add_argument(
        "--input",
        type=_key_value,
        action="append",
        default=[],
        metavar="K=V",
        help="repeatable; V is parsed as JSON when it can be (3, true, [1]), else a string",
    )
    inputs.add_argument("--inputs-json", type=_json_object, metavar="JSON")
    p.add_argument("--parent", default="", help="the parent execution's id")
    p.add_argument("--request-id", default="", help="makes the call idempotent")
    _add_quiet(p, "execution")

    p = command(ex, "delete", cmd_executions_delete, "Delete a terminal execution.")
    p.add_argument("execution_id", metavar="ID")
    p.add_argument("--expected-revision", type=_non_negative)

    # task-runs
    task_runs = commands.add_parser(
        "task-runs", help="list, show and create task runs", parents=[common]
    )
    tr = task_runs.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = command(tr, "list", cmd_task_runs_list, "List the task runs of an execution.")
    p.add_argument("--execution", required=True, metavar="ID")
    p.add_argument("--task", default="", help="only the task runs of this task id")
    p.add_argument("--state", type=_state, action="append", default=[], help="repeatable")
    p = command(tr, "get", cmd_task_runs_get, "Show a task run, its attempts and its history.")
    p.add_argument("task_run_id", metavar="ID")
    p.add_argument(
        "--execution",
        default="",
        metavar="ID",
        help="the execution the task run must be in (not found if it is in another)",
    )
    p = command(tr, "create", cmd_task_runs_create, "Create a task run in an execution.")
    p.add_argument("--execution", required=True, metavar="ID")
    p.add_argument("--task", required=True, help="the task id")
    p.add_argument("--value", default="", help="the loop value")
    p.add_argument("--parent", default="", help="the parent task run's id")
    p.add_argument("--request-id", default="")
    p.add_argument("--expected-revision", type=_non_negative)
    _add_quiet(p, "task run")
    retry = p.add_argument_group(
        "retry policy",
        "When the task run fails, the server starts a new attempt after a wait: "
        "--retry constant (--retry-interval), exponential (--retry-interval, "
        "--retry-max-interval, --retry-factor) or random (--retry-min-interval, "
        "--retry-max-interval); durations such as 500ms, 2s, 1m30s.",
    )
    retry.add_argument("--retry", choices=RETRY_KINDS, help="how long to wait between attempts")
    retry.add_argument("--retry-interval", type=_seconds, metavar="DURATION")
    retry.add_argument("--retry-min-interval", type=_seconds, metavar="DURATION")
    retry.add_argument("--retry-max-interval", type=_seconds, metavar="DURATION")
    retry.add_argument("--retry-factor", type=float, metavar="F", help="exponential (default 2)")
    retry.add_argument(
        "--max-attempts", type=_positive, metavar="N", help="attempts in all, the first included"
    )
    retry.add_argument(
        "--max-duration",
        type=_seconds,
        metavar="DURATION",
        help="no new attempt this long after the first started",
    )
    retry.add_argument(
        "--warning-on-retry",
        action="store_true",
        help="a task run that succeeds after a retry ends in WARNING",
    )

    # transition
    p = command(
        commands,
        "transition",
        cmd_transition,
        "Move an execution or a task run, or many task runs (--file).",
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--execution", metavar="ID")
    target.add_argument("--task-run", metavar="ID")
    target.add_argument(
        "--file",
        metavar="FILE",
        help="JSON lines, one task run transition each ('-' for stdin): "
        '{"task_run_id": ..., "state": "RUNNING", and optionally "reason", "outputs", '
        '"worker_id", "expected_revision", "request_id"}; one result line per item, '
        "exit 1 if any failed",
    )
    p.add_argument("state", type=_state, nargs="?", metavar="STATE", help="e.g. running, success")
    p.add_argument("--reason", default="")
    p.add_argument("--outputs-json", type=_json_object, metavar="JSON")
    p.add_argument("--expected-revision", type=_non_negative)
    p.add_argument("--worker-id", default="", help="for a task run entering RUNNING")
    p.add_argument("--request-id", default="")

    # kill, restart, pause, resume, complete
    for name, handler, text in (
        ("kill", cmd_kill, "Kill an execution (cascading to its task runs)."),
        ("restart", cmd_restart, "Restart a FAILED or KILLED execution."),
    ):
        p = command(commands, name, handler, text)
        p.add_argument("execution_id", metavar="ID")
        p.add_argument("--reason", default="")
        p.add_argument("--expected-revision", type=_non_negative)
        p.add_argument("--request-id", default="")
    p = command(commands, "pause", cmd_pause, "Pause a running execution, or one task run.")
    p.add_argument("execution_id", metavar="ID")
    p.add_argument("--task-run", default="", metavar="ID", help="pause only this task run")
    timer = p.add_mutually_exclusive_group()
    timer.add_argument("--delay", type=_seconds, metavar="DURATION", help="resume after this")
    timer.add_argument(
        "--timeout",
        dest="pause_timeout",
        type=_seconds,
        metavar="DURATION",
        help="apply --on-timeout after this",
    )
    p.add_argument(
        "--on-timeout", type=_timeout_action, help="resume, warn, fail or kill (with --timeout)"
    )
    p.add_argument("--reason", default="")
    p.add_argument("--expected-revision", type=_non_negative)
    p.add_argument("--request-id", default="")
    p = command(commands, "resume", cmd_resume, "Resume a paused execution, or one task run.")
    p.add_argument("execution_id", metavar="ID")
    p.add_argument("--task-run", default="", metavar="ID", help="resume only this task run")
    p.add_argument("--reason", default="")
    p.add_argument("--expected-revision", type=_non_negative)
    p.add_argument("--request-id", default="")
    p = command(commands, "complete", cmd_complete, "Complete an execution.")
    p.add_argument("execution_id", metavar="ID")
    p.add_argument("--state", type=_state, help="default: derived from the task runs")
    p.add_argument("--outputs-json", type=_json_object, metavar="JSON")
    p.add_argument("--reason", default="")
    p.add_argument("--expected-revision", type=_non_negative)
    p.add_argument("--request-id", default="")

    # watch
    p = command(commands, "watch", cmd_watch, "Stream state changes as they happen.")
    p.add_argument("--namespace", default="")
    p.add_argument("--flow", default="", help="a flow id")
    p.add_argument("--execution", action="append", default=[], metavar="ID", help="repeatable")
    p.add_argument("--state", type=_state, action="append", default=[], help="repeatable")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--after", type=_non_negative, metavar="N", help="resume after sequence N")
    start.add_argument("--from-start", action="store_true", help="replay the retained history")
    p.add_argument("--limit", type=_positive, default=None, help="stop after N events")
    p.add_argument(
        "--reconnects",
        type=_non_negative,
        default=DEFAULT_STREAM_RETRY.max_attempts,
        metavar="N",
        help=(
            "when the connection is lost, try this many times in a row before giving up "
            f"(default {DEFAULT_STREAM_RETRY.max_attempts}, about a minute; 0: never give up)"
        ),
    )

    # metrics
    metrics = commands.add_parser(
        "metrics", help="record, list and aggregate metrics", parents=[common]
    )
    mt = metrics.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = command(
        mt,
        "record",
        cmd_metrics_record,
        "Record counters and timers for a task run's attempt.",
    )
    p.add_argument("--task-run", required=True, metavar="ID")
    p.add_argument(
        "--counter",
        type=_metric_value,
        action="append",
        default=[],
        metavar="NAME=NUMBER",
        help="repeatable, e.g. rows=120",
    )
    p.add_argument(
        "--timer",
        type=_metric_duration,
        action="append",
        default=[],
        metavar="NAME=DURATION",
        help="repeatable, e.g. load=2.5s or load=1m30s (a number is seconds)",
    )
    p.add_argument(
        "--tag",
        type=_key_value,
        action="append",
        default=[],
        metavar="K=V",
        help="repeatable; tags every metric of the call",
    )
    p.add_argument(
        "--attempt", type=_positive, metavar="N", help="default: the task run's current attempt"
    )
    p.add_argument("--request-id", default="", help="makes the call idempotent")
    p = command(mt, "list", cmd_metrics_list, "List the metrics of an execution or task run.")
    of = p.add_mutually_exclusive_group(required=True)
    of.add_argument("--execution", default="", metavar="ID")
    of.add_argument("--task-run", default="", metavar="ID")
    p.add_argument("--task", default="", help="a task id (with --execution)")

    p = command(
        mt,
        "aggregate",
        cmd_metrics_aggregate,
        "Aggregate one metric over time: a table of buckets and a chart.",
    )
    p.add_argument("--namespace", required=True)
    p.add_argument("--name", required=True, help="the metric's name")
    p.add_argument("--type", required=True, type=_metric_type, help="counter or timer")
    p.add_argument("--flow", default="", help="a flow id")
    p.add_argument("--task", default="", help="a task id")
    p.add_argument(
        "--from", dest="start", type=_instant, metavar="ISO", help="default: 24 h before --to"
    )
    p.add_argument("--to", dest="end", type=_instant, metavar="ISO", help="default: now")
    p.add_argument(
        "--bucket",
        type=_bucket_width,
        help="minute, hour, day, week or month (default: chosen by the server from the span)",
    )
    p.add_argument("--group-by", default="", metavar="TAG", help="one series per value of TAG")
    p.add_argument(
        "--stat",
        choices=render.STATS,
        default="sum",
        help="the statistic charted: sum, avg, min, max or count (default sum)",
    )

    # status, completion
    p = command(
        commands,
        "status",
        cmd_status,
        "Show the server: its version, health, database, event log and executions by state.",
    )
    p.add_argument(
        "--wait",
        type=_seconds,
        metavar="DURATION",
        help="wait up to this long for the server to answer (while it starts, say)",
    )
    p.add_argument("--namespace", default="", help="count only the executions of this namespace")
    p = commands.add_parser(
        "completion",
        help="print a shell completion script (bash or zsh)",
        description=(
            "Print a completion script for bash or zsh. bash: "
            "`source <(statehouse completion bash)`, or save it in "
            "~/.local/share/bash-completion/completions/statehouse. zsh: save "
            "`statehouse completion zsh` as _statehouse in a directory of $fpath."
        ),
    )
    p.add_argument("shell", choices=("bash", "zsh"))
    p.set_defaults(handler=cmd_completion, parser=parser)

    # tokens
    tokens = commands.add_parser(
        "tokens",
        help="issue, list and revoke credentials",
        description=(
            "Issue, list and revoke credentials, over the AdminService (admin role), "
            "or with --database on the database itself, without a server: how the "
            "first admin token is made."
        ),
        parents=[common],
    )
    tk = tokens.add_subparsers(dest="action", metavar="ACTION", required=True)

    def offline(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--database",
            metavar="URL",
            help="work on this database directly (a SQLAlchemy URL), not through a server",
        )

    p = command(tk, "create", cmd_tokens_create, "Issue a token, or grant a certificate subject.")
    p.add_argument("--name", required=True, help="a unique name; recorded as the actor")
    p.add_argument("--role", required=True, type=_role, help="reader, writer or admin")
    p.add_argument(
        "--namespace",
        dest="namespaces",
        action="append",
        required=True,
        metavar="PATTERN",
        help="repeatable: a namespace, a prefix pattern such as 'acme.*', or '*'",
    )
    p.add_argument(
        "--expires", type=_span, metavar="DURATION", help="e.g. 30d, 12h, 90m (default: never)"
    )
    p.add_argument(
        "--certificate-subject",
        default="",
        metavar="SUBJECT",
        help="grant the role to this client-certificate subject (CN=...,O=...) instead",
    )
    offline(p)
    p = command(tk, "list", cmd_tokens_list, "List credentials (never their secrets).")
    p.add_argument("--all", action="store_true", help="include revoked and expired ones")
    offline(p)
    p = command(tk, "revoke", cmd_tokens_revoke, "Revoke a credential.")
    p.add_argument("name", metavar="NAME")
    offline(p)
    return parser


# The commands.


def _tls(args: argparse.Namespace) -> TlsConfig | bool | None:
    """TLS from the --tls options, each falling back to its environment variable.

    None (no option given) lets the SDK read the environment itself.
    """
    given = (
        args.client_tls_ca,
        args.client_tls_cert,
        args.client_tls_key,
        args.client_tls_server_name,
    )
    if not args.client_tls and all(value is None for value in given):
        return None
    env = os.environ
    try:
        return TlsConfig(
            ca=args.client_tls_ca or env.get(TLS_CA_ENV) or None,
            cert=args.client_tls_cert or env.get(TLS_CERT_ENV) or None,
            key=args.client_tls_key or env.get(TLS_KEY_ENV) or None,
            server_name=args.client_tls_server_name,
        )
    except ValueError as exc:
        raise UsageError(f"--tls-cert and --tls-key go together ({exc})") from None


def _connect(args: argparse.Namespace) -> Client:
    try:
        return Client.connect(
            args.target, timeout=args.call_timeout, token=args.client_token, tls=_tls(args)
        )
    except ValueError as exc:  # an unreadable certificate, a malformed token
        raise UsageError(str(exc)) from None


def version() -> str:
    """The installed package's version."""
    try:
        return importlib.metadata.version("statehouse-client")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _emit(
    args: argparse.Namespace,
    out: TextIO,
    response: Message | dict[str, Any],
    text: Callable[[], str],
) -> None:
    """A command's result as --output asks: ``text()`` for people, or the response message.

    ``response`` is the RPC's response message; a dict where a command has no
    single RPC (``task-runs list``, ``status``).
    """
    if args.output == "text":
        body = text()
        out.write((render.paint(body) if args.colour else body) + "\n")
    else:
        value = response if isinstance(response, dict) else render.message_dict(response)
        render.write_value(out, value, fmt=args.output)


def _emit_item(args: argparse.Namespace, out: TextIO, value: dict[str, Any], text: str) -> None:
    """One item of a stream: a line of text, a JSON line or a YAML document."""
    if args.output == "text":
        out.write((render.paint(text) if args.colour else text) + "\n")
        out.flush()
    else:
        render.write_value(out, value, fmt=args.output, lines=True)


#: The distribution of ``statehouse serve`` and of the commands that open the database.
SERVER_DISTRIBUTION = "statehouse-server"


class _CommandParser(argparse.ArgumentParser):
    """A command's parser; with ``lazy=True`` (``serve``), the server's options are
    added only when the command is parsed (its ``--help`` included), so that the
    other commands import nothing of the server."""

    def __init__(self, *args: Any, lazy: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def load(self) -> None:
        """Add the server's options now, if they are still to come."""
        if self._lazy:
            self._lazy = False
            from statehouse.server.options import add_serve_arguments

            add_serve_arguments(self)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self.load()
        return super().parse_known_args(args, namespace)


def _needs_server(what: str) -> None:
    """Refuse ``what`` in one line where the server is not installed."""
    if importlib.util.find_spec("statehouse.server") is None:
        raise UsageError(
            f"{what} needs the server, which is not installed here: install "
            f"{SERVER_DISTRIBUTION} (it includes this client)"
        )


def cmd_backup(args: argparse.Namespace, out: TextIO) -> int:
    _needs_server("statehouse backup")
    from statehouse.server.settings import Settings
    from statehouse.server.storage.backup import BackupError, backup_sqlite

    url = Settings(database_url=args.database, data_dir=args.data_dir).resolved_database_url()
    shown = [-1]

    def progress(done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if total >= 64 << 20 and tenth != shown[0]:  # a large file: every 10%
            shown[0] = tenth
            sys.stderr.write(f"backup: {done / 2**20:,.0f} of {total / 2**20:,.0f} MiB\n")

    try:
        result = backup_sqlite(
            url, args.to, force=args.force, progress=progress, pages_per_step=args.step_pages
        )
    except BackupError as exc:
        raise StatehouseError(str(exc), reason="BACKUP_FAILED") from exc
    out.write(
        f"backed up {result.source} to {result.destination} ({result.bytes:,} bytes, "
        f"events through sequence {result.last_sequence})\n"
    )
    return 0


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    _needs_server("statehouse serve")
    from statehouse.server.app import serve_from_args

    serve_from_args(args)
    return 0


def cmd_executions_list(args: argparse.Namespace, out: TextIO) -> int:
    page_size = min(args.limit, 1000) if args.limit else 0
    with _connect(args) as client:
        found = client.list_executions(
            namespace=args.namespace,
            flow_id=args.flow,
            states=args.state,
            labels=dict(args.label),
            page_size=page_size,
        )
        executions = []
        for execution in found:
            executions.append(execution)
            if args.limit and len(executions) >= args.limit:
                break
    _emit(
        args,
        out,
        _es.ListExecutionsResponse(executions=executions),
        lambda: render.executions_table(executions) if executions else "no executions",
    )
    return 0


def cmd_executions_get(args: argparse.Namespace, out: TextIO) -> int:
    with _connect(args) as client:
        execution = client.get_execution(args.execution_id)
    _emit(
        args,
        out,
        _es.GetExecutionResponse(execution=execution),
        lambda: render.execution_report(execution, datetime.now(UTC)),
    )
    return 0


def _show_execution(args: argparse.Namespace, out: TextIO, response: Any) -> None:
    """A response that holds an execution (``response.execution``)."""
    _emit(args, out, response, lambda: render.execution_detail(response.execution))


def cmd_executions_create(args: argparse.Namespace, out: TextIO) -> int:
    inputs = args.inputs_json if args.inputs_json is not None else None
    if args.input:
        inputs = {key: _input_value(value) for key, value in args.input}
    with _connect(args) as client:
        execution = client.create_execution(
            namespace=args.namespace,
            flow_id=args.flow,
            flow_revision=args.flow_revision,
            labels=dict(args.label),
            inputs=inputs,
            parent_execution_id=args.parent,
            request_id=args.request_id,
        )
    if args.quiet:
        out.write(execution.id + "\n")
    else:
        _show_execution(args, out, _es.CreateExecutionResponse(execution=execution))
    return 0


def cmd_executions_delete(args: argparse.Namespace, out: TextIO) -> int:
    with _connect(args) as client:
        client.delete_execution(args.execution_id, expected_revision=args.expected_revision)
    _emit(
        args, out, _es.DeleteExecutionResponse(), lambda: f"deleted execution {args.execution_id}"
    )
    return 0


def cmd_task_runs_create(args: argparse.Namespace, out: TextIO) -> int:
    with _connect(args) as client:
        response = client.create_task_run(
            execution_id=args.execution,
            task_id=args.task,
            value=args.value,
            parent_task_run_id=args.parent,
            request_id=args.request_id,
            expected_revision=args.expected_revision,
            retry_policy=_retry_policy(args),
        )
    if args.quiet:
        out.write(response.task_run.id + "\n")
        return 0
    _emit(
        args,
        out,
        response,
        lambda: (
            render.task_run_detail(response.task_run)
            + f"\n\nexecution revision: {response.execution_revision}"
        ),
    )
    return 0


RETRY_KINDS = ("constant", "exponential", "random")
_RETRY_SHAPES = {
    # kind: (required options, allowed options)
    "constant": ({"retry_interval"}, {"retry_interval"}),
    "exponential": ({"retry_interval"}, {"retry_interval", "retry_max_interval", "retry_factor"}),
    "random": (
        {"retry_min_interval", "retry_max_interval"},
        {"retry_min_interval", "retry_max_interval"},
    ),
}
_RETRY_INTERVALS = ("retry_interval", "retry_min_interval", "retry_max_interval", "retry_factor")


def _option(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _retry_policy(args: argparse.Namespace) -> execution_pb2.RetryPolicy | None:
    """The task run's retry policy from the --retry options; None when none is given."""
    given = {dest for dest in _RETRY_INTERVALS if getattr(args, dest) is not None}
    others = args.max_attempts is not None or args.max_duration is not None
    if args.retry is None:
        if given or others or args.warning_on_retry:
            raise UsageError("the retry options need --retry constant, exponential or random")
        return None
    required, allowed = _RETRY_SHAPES[args.retry]
    if missing := sorted(required - given):
        raise UsageError(f"--retry {args.retry} needs {', '.join(map(_option, missing))}")
    if extra := sorted(given - allowed):
        raise UsageError(f"--retry {args.retry} takes no {', '.join(map(_option, extra))}")

    def duration(seconds: float) -> Any:
        return timedelta(seconds=seconds)

    policy = execution_pb2.RetryPolicy(
        max_attempts=args.max_attempts or 0, warning_on_retry=args.warning_on_retry
    )
    if args.max_duration is not None:
        policy.max_duration.FromTimedelta(duration(args.max_duration))
    if args.retry == "constant":
        policy.constant.interval.FromTimedelta(duration(args.retry_interval))
    elif args.retry == "exponential":
        policy.exponential.interval.FromTimedelta(duration(args.retry_interval))
        if args.retry_max_interval is not None:
            policy.exponential.max_interval.FromTimedelta(duration(args.retry_max_interval))
        if args.retry_factor is not None:
            policy.exponential.factor = args.retry_factor
    else:
        policy.random.min_interval.FromTimedelta(duration(args.retry_min_interval))
        policy.random.max_interval.FromTimedelta(duration(args.retry_max_interval))
    return policy


def _task_runs_of(args: argparse.Namespace) -> tuple[Any, list[Any]]:
    """The execution of --execution, and its task runs that --task and --state select."""
    with _connect(args) as client:
        execution = client.get_execution(args.execution)
    states = set(getattr(args, "state", []))
    task = getattr(args, "task", "")
    chosen = [
        t
        for t in execution.task_runs
        if (not task or t.task_id == task) and (not states or t.state in states)
    ]
    return execution, chosen


def cmd_task_runs_list(args: argparse.Namespace, out: TextIO) -> int:
    _, task_runs = _task_runs_of(args)
    _emit(
        args,
        out,
        {"task_runs": [render.message_dict(t) for t in task_runs]},
        lambda: render.task_runs_table(task_runs) if task_runs else "no task runs",
    )
    return 0


def cmd_task_runs_get(args: argparse.Namespace, out: TextIO) -> int:
    """One GetTaskRun; --execution, if given, must be the task run's execution."""
    with _connect(args) as client:
        response = client.get_task_run(args.task_run_id)
    task_run = response.task_run
    if args.execution and task_run.execution_id != args.execution:
        raise StatehouseError(
            f"task run {args.task_run_id} not found in execution {args.execution}",
            reason="NOT_FOUND",
        )
    _emit(
        args,
        out,
        response,
        lambda: render.task_run_report(task_run, datetime.now(UTC)),
    )
    return 0


#: Items per TransitionTaskRuns call (the server's bound); longer files take several calls.
BATCH_SIZE = 1000
_ITEM_KEYS = {
    "task_run_id",
    "state",
    "reason",
    "outputs",
    "worker_id",
    "expected_revision",
    "request_id",
}


def _transition_items(lines: TextIO) -> list[tuple[int, dict[str, Any]]]:
    """(line number, transition_task_run arguments) of each non-blank line."""
    items: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"line {number}: invalid JSON: {exc}") from None
        if not isinstance(item, dict):
            raise UsageError(f"line {number}: expected a JSON object")
        unknown = sorted(set(item) - _ITEM_KEYS)
        if unknown:
            raise UsageError(f"line {number}: unknown keys {', '.join(unknown)}")
        if not isinstance(item.get("task_run_id"), str) or not item["task_run_id"]:
            raise UsageError(f"line {number}: task_run_id (a string) is required")
        state = item.get("state")
        try:
            if isinstance(state, str):
                item["state"] = State.parse(state)
            elif isinstance(state, int) and not isinstance(state, bool):
                item["state"] = State(state)
            else:
                raise ValueError("state (a name such as RUNNING) is required")
        except ValueError as exc:
            raise UsageError(f"line {number}: {exc}") from None
        if item.get("outputs") is not None and not isinstance(item["outputs"], dict):
            raise UsageError(f"line {number}: outputs must be a JSON object")
        items.append((number, item))
    return items


def _transition_file(args: argparse.Namespace, out: TextIO) -> int:
    given = [
        option
        for option, value in (
            ("STATE", args.state),
            ("--reason", args.reason),
            ("--outputs-json", args.outputs_json),
            ("--expected-revision", args.expected_revision),
            ("--worker-id", args.worker_id),
            ("--request-id", args.request_id),
        )
        if value not in (None, "")
    ]
    if given:
        raise UsageError(f"with --file each line gives its own fields, not {', '.join(given)}")
    if args.file == "-":
        items = _transition_items(sys.stdin)
    else:
        try:
            with open(args.file, encoding="utf-8") as lines:
                items = _transition_items(lines)
        except OSError as exc:
            raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    failed = 0
    with _connect(args) as client:
        for start in range(0, len(items), BATCH_SIZE):
            chunk = items[start : start + BATCH_SIZE]
            results = client.transition_task_runs([item for _, item in chunk])
            for (number, item), result in zip(chunk, results, strict=True):
                failed += isinstance(result, StatehouseError)
                _emit_item(
                    args,
                    out,
                    render.batch_result_dict(number, item["task_run_id"], result),
                    render.batch_result_line(number, item["task_run_id"], result),
                )
    if failed:
        sys.stderr.write(f"{failed} of {len(items)} transitions failed\n")
    return 1 if failed else 0


def cmd_transition(args: argparse.Namespace, out: TextIO) -> int:
    if args.file is not None:
        return _transition_file(args, out)
    if args.state is None:
        raise UsageError("STATE is required")
    with _connect(args) as client:
        if args.execution:
            execution = client.transition_execution(
                args.execution,
                state=args.state,
                reason=args.reason,
                outputs=args.outputs_json,
                request_id=args.request_id,
                expected_revision=args.expected_revision,
            )
            _show_execution(args, out, _es.TransitionExecutionResponse(execution=execution))
            return 0
        response = client.transition_task_run(
            args.task_run,
            state=args.state,
            reason=args.reason,
            outputs=args.outputs_json,
            worker_id=args.worker_id,
            request_id=args.request_id,
            expected_revision=args.expected_revision,
        )
    _emit(args, out, response, lambda: render.transition_task_run_text(response))
    return 0


def _mutation_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "reason": args.reason,
        "request_id": args.request_id,
        "expected_revision": args.expected_revision,
    }


def cmd_kill(args: argparse.Namespace, out: TextIO) -> int:
    with _connect(args) as client:
        response = client.kill_execution(args.execution_id, **_mutation_options(args))
    nothing = (
        ""
        if response.changed
        else ("nothing to kill: the execution is terminal or already being killed\n\n")
    )
    _emit(args, out, response, lambda: nothing + render.execution_detail(response.execution))
    return 0


def cmd_restart(args: argparse.Namespace, out: TextIO) -> int:
    with _connect(args) as client:
        execution = client.restart_execution(args.execution_id, **_mutation_options(args))
    _show_execution(args, out, _es.RestartExecutionResponse(execution=execution))
    return 0


def cmd_resume(args: argparse.Namespace, out: TextIO) -> int:
    with _connect(args) as client:
        execution = client.resume_execution(
            args.execution_id, task_run_id=args.task_run, **_mutation_options(args)
        )
    _show_execution(args, out, _es.ResumeExecutionResponse(execution=execution))
    return 0


def cmd_pause(args: argparse.Namespace, out: TextIO) -> int:
    delay = timedelta(seconds=args.delay) if args.delay else None
    timeout = timedelta(seconds=args.pause_timeout) if args.pause_timeout else None
    if args.on_timeout is not None and timeout is None:
        raise UsageError("--on-timeout needs --timeout")
    with _connect(args) as client:
        response = client.pause_execution(
            args.execution_id,
            task_run_id=args.task_run,
            delay=delay,
            timeout=timeout,
            on_timeout=args.on_timeout,
            **_mutation_options(args),
        )

    def text() -> str:
        body = render.execution_detail(response.execution)
        if response.HasField("resume_time"):
            body += f"\n\nresumes at: {render.time_text(response.resume_time, millis=True)}"
        return body

    _emit(args, out, response, text)
    return 0


def cmd_complete(args: argparse.Namespace, out: TextIO) -> int:
    with _connect(args) as client:
        execution = client.complete_execution(
            args.execution_id,
            state=args.state,
            outputs=args.outputs_json,
            **_mutation_options(args),
        )
    _show_execution(args, out, _es.CompleteExecutionResponse(execution=execution))
    return 0


def _resume_command(args: argparse.Namespace, last_sequence: int) -> str:
    """The ``statehouse watch`` that goes on after ``last_sequence``, with the same filters."""
    words = ["statehouse", "watch", "--after", str(last_sequence)]
    if args.target != DEFAULT_TARGET:
        words += ["--target", args.target]
    for option, values in (
        ("--namespace", [args.namespace] if args.namespace else []),
        ("--flow", [args.flow] if args.flow else []),
        ("--execution", args.execution),
        ("--state", [state.name for state in args.state]),
    ):
        for value in values:
            words += [option, shlex.quote(value)]
    if args.output != "text":
        words += ["--output", args.output]
    return " ".join(words)


def cmd_watch(args: argparse.Namespace, out: TextIO) -> int:
    from_latest = args.after is None and not args.from_start
    err = sys.stderr

    def connected(info: ConnectInfo) -> None:
        if info.reconnected:
            where = "" if info.last_sequence is None else f" after sequence {info.last_sequence}"
            err.write(f"watch: reconnected to {args.target}, resuming{where}\n")
            err.flush()
        elif args.output == "text":  # the header once connected: not for a wrong address
            out.write(render.watch_header() + "\n")
            out.flush()

    def reconnecting(info: ReconnectInfo) -> None:
        why = _message(info.error) if info.error is not None else "the stream ended"
        limit = f" of {info.max_attempts}" if info.max_attempts else ""
        err.write(
            f"watch: connection lost ({why}); reconnecting in {info.delay:.1f} s"
            f" (attempt {info.attempt}{limit})\n"
        )
        err.flush()

    with _connect(args) as client:
        # A wrong address fails here, quickly, rather than after the stream's retries.
        client.wait_for_ready(timeout=min(args.call_timeout, CONNECT_TIMEOUT))
        subscription = client.subscribe(
            namespace=args.namespace,
            flow_id=args.flow,
            execution_ids=args.execution,
            states=args.state,
            after_sequence=args.after or 0,
            from_latest=from_latest,
            on_connect=connected,
            on_reconnect=reconnecting,
            retry=dataclasses.replace(DEFAULT_STREAM_RETRY, max_attempts=args.reconnects or None),
        )
        seen = 0
        # Ctrl-C closes the subscription, which ends the loop below, rather than
        # raising KeyboardInterrupt wherever the main thread is (inside gRPC's
        # own locks, say, which it then never releases: the exit hung).
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, lambda _sig, _frame: subscription.close())
        try:
            for event in subscription:
                _emit_item(
                    args,
                    out,
                    # One event a line, as a SubscribeResponse of one event
                    # (its empty ``events`` left out: the SDK hands events one by one).
                    {"event": render.message_dict(event)},
                    render.watch_line(event),
                )
                seen += 1
                if args.limit is not None and seen >= args.limit:
                    break
        except KeyboardInterrupt:
            pass
        except StatehouseError as exc:
            # Gave up: say so, and how to go on from the last event received.
            _report(exc, err, args)
            last = exc.last_sequence if exc.last_sequence is not None else args.after
            if last is not None:
                err.write(f"watch: to resume where it stopped: {_resume_command(args, last)}\n")
            else:
                err.write("watch: no event was received; run it again once the server is back\n")
            return 1
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            subscription.close()
    return 0


def cmd_metrics_record(args: argparse.Namespace, out: TextIO) -> int:
    tags = dict(args.tag)
    entries = [counter(name, value, tags=tags) for name, value in args.counter]
    entries += [timer(name, value, tags=tags) for name, value in args.timer]
    if not entries:
        raise UsageError("give at least one --counter NAME=NUMBER or --timer NAME=DURATION")
    with _connect(args) as client:
        recorded = client.record_metrics(
            args.task_run,
            metrics=entries,
            attempt=args.attempt or 0,
            request_id=args.request_id,
        )
    plural = "" if recorded == 1 else "s"
    _emit(
        args,
        out,
        _ms.RecordMetricsResponse(recorded=recorded),
        lambda: f"recorded {recorded} metric{plural} for task run {args.task_run}",
    )
    return 0


def cmd_metrics_list(args: argparse.Namespace, out: TextIO) -> int:
    if args.task and not args.execution:
        raise UsageError("--task needs --execution")
    with _connect(args) as client:
        metrics = list(
            client.list_metrics(
                execution_id=args.execution, task_run_id=args.task_run, task_id=args.task
            )
        )
    _emit(args, out, _ms.ListMetricsResponse(metrics=metrics), lambda: _metrics_text(metrics))
    return 0


def _metrics_text(metrics: Sequence[Any]) -> str:
    if not metrics:
        return "no metrics"
    rows = []
    for m in metrics:
        value = (
            f"{m.timer.ToTimedelta().total_seconds():g}s"
            if m.HasField("timer")
            else f"{m.counter:g}"
        )
        rows.append(
            [
                m.task_id,
                str(m.attempt),
                m.name,
                value,
                render.labels_text(m.tags),
                render.time_text(m.time),
            ]
        )
    return render.table(["TASK", "ATT", "NAME", "VALUE", "TAGS", "TIME"], rows, right=[1, 3])


DEFAULT_SPAN = timedelta(hours=24)


def cmd_metrics_aggregate(args: argparse.Namespace, out: TextIO) -> int:
    end: datetime = args.end or datetime.now(UTC)
    start: datetime = args.start or end - DEFAULT_SPAN
    if start >= end:
        raise UsageError("--from must be before --to")
    with _connect(args) as client:
        response = client.aggregate_metrics(
            namespace=args.namespace,
            name=args.name,
            type=args.type,
            start_time=start,
            end_time=end,
            flow_id=args.flow,
            task_id=args.task,
            bucket_width=args.bucket,
            group_by_tag=args.group_by,
        )
    _emit(
        args,
        out,
        response,
        lambda: render.aggregate_report(
            response,
            name=args.name,
            timer=args.type is MetricType.TIMER,
            start=start,
            end=end,
            group_by=args.group_by,
            stat=args.stat,
            width=shutil.get_terminal_size().columns,
        ),
    )
    return 0


def _health(client: Client, timeout: float) -> str:
    """The server's overall health status (SERVING, NOT_SERVING...)."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        reply = health_pb2_grpc.HealthStub(client.channel).Check(
            health_pb2.HealthCheckRequest(service=""),
            timeout=timeout,
            metadata=client.metadata,
        )
    except grpc.RpcError as exc:
        raise error_from_rpc(exc) from None
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    with _connect(args) as client:
        if args.wait:
            client.wait_for_ready(timeout=args.wait)
        health = _health(client, args.call_timeout)
        info = client.get_server_info()
        counts = client.count_executions(namespace=args.namespace)
    _emit(
        args,
        out,
        {
            "target": args.target,
            "health": health,
            "server": render.message_dict(info),
            "executions": render.message_dict(counts),
        },
        lambda: render.status_text(args.target, health, info, counts, namespace=args.namespace),
    )
    return 0


def cmd_completion(args: argparse.Namespace, out: TextIO) -> int:
    import shtab

    out.write(shtab.complete(args.parser, shell=args.shell))
    return 0


# tokens: over the AdminService, or on the database itself with --database.


def _offline_error(exc: Exception) -> StatehouseError:
    """A StatehouseError for what the server's offline functions raise."""
    if isinstance(exc, LookupError):
        message = str(exc.args[0]) if exc.args else str(exc)
        return StatehouseError(message, reason="NOT_FOUND")
    return StatehouseError(
        getattr(exc, "message", str(exc)), reason=getattr(exc, "reason", None) or "INVALID_ARGUMENT"
    )


def _offline_call(work: Callable[[Any], Any]) -> Any:
    """Run ``work(statehouse.server.security.credentials)``, reporting errors as the server would."""
    _needs_server("--database (the credentials on the database itself)")
    from statehouse.server.orchestration import DomainError
    from statehouse.server.security import credentials

    try:
        return work(credentials)
    except (LookupError, DomainError) as exc:
        raise _offline_error(exc) from exc


def cmd_tokens_create(args: argparse.Namespace, out: TextIO) -> int:
    if args.database:
        info, secret = _offline_call(
            lambda c: c.issue_offline(
                args.database,
                name=args.name,
                role=args.role.name.lower(),
                namespaces=args.namespaces,
                ttl_seconds=args.expires.total_seconds() if args.expires else None,
                certificate_subject=args.certificate_subject,
            )
        )
        token = render.token_from_dict(info)
    else:
        with _connect(args) as client:
            token, secret = client.create_token(
                args.name,
                role=args.role,
                namespaces=args.namespaces,
                ttl=args.expires,
                certificate_subject=args.certificate_subject,
            )
    _emit(
        args,
        out,
        _as.CreateTokenResponse(token=token, secret=secret),
        lambda: render.token_created_text(token, secret),
    )
    return 0


def cmd_tokens_list(args: argparse.Namespace, out: TextIO) -> int:
    tokens: list[Token]
    if args.database:
        found = _offline_call(lambda c: c.list_offline(args.database, include_inactive=args.all))
        tokens = [render.token_from_dict(info) for info in found]
    else:
        with _connect(args) as client:
            tokens = client.list_tokens(include_inactive=args.all)
    _emit(
        args,
        out,
        _as.ListTokensResponse(tokens=tokens),
        lambda: render.tokens_table(tokens, datetime.now(UTC)) if tokens else "no credentials",
    )
    return 0


def cmd_tokens_revoke(args: argparse.Namespace, out: TextIO) -> int:
    if args.database:
        info = _offline_call(lambda c: c.revoke_offline(args.database, args.name))
        token = render.token_from_dict(info)
    else:
        with _connect(args) as client:
            token = client.revoke_token(args.name)
    _emit(
        args,
        out,
        _as.RevokeTokenResponse(token=token),
        lambda: f"revoked {render.credential_kind(token)} {token.name}",
    )
    return 0


#: What to check after a failed TLS handshake, by its reason: the SDK's hints
#: (``statehouse.client._errors.TLS_HINTS``, which name ``TlsConfig``'s
#: arguments) in the command line's words, its flags.
TLS_HINTS = {
    "WRONG_VERSION_NUMBER": (
        "does it serve TLS there? (for a plaintext server, leave out --tls, "
        f"the --tls-* options and ${TLS_CA_ENV})"
    ),
    "CERTIFICATE_VERIFY_FAILED": (
        f"is its certificate signed by the CA you trust (--tls-ca, ${TLS_CA_ENV}) "
        "and issued for this host name?"
    ),
    "HOSTNAME_MISMATCH": (
        "is its certificate issued for this host name? (else name the one it is issued for: "
        "--tls-server-name)"
    ),
}


def _message(error: StatehouseError) -> str:
    """The error's message, its advice in the command line's words."""
    if isinstance(error, ServerUnreachableError) and error.tls and error.cause in TLS_HINTS:
        return ServerUnreachableError(
            target=error.target,
            cause=error.cause,
            detail=error.detail,
            tls=True,
            hint=TLS_HINTS[error.cause],
        ).message
    return error.message


def _credentials_hint(args: argparse.Namespace) -> str:
    """How to give credentials, after the server refused the ones given (or none)."""
    if getattr(args, "client_token", None) or os.environ.get(TOKEN_ENV):
        return f"the token of --token (else ${TOKEN_ENV}) was refused: unknown, expired or revoked"
    return (
        f"no token was given: pass one with --token TOKEN or in ${TOKEN_ENV} "
        "(an admin issues one with `statehouse tokens create`)"
    )


def _report(error: StatehouseError, err: TextIO, args: argparse.Namespace) -> None:
    label = error.reason or error.code.name
    colour = render.colour_wanted(args.color, err)
    prefix = render.paint_error("error:") if colour else "error:"
    message = _message(error)
    err.write(f"{prefix} {message} ({label})\n")
    if isinstance(error, ServerUnreachableError):
        err.write(f"  the address is --target, else ${TARGET_ENV}, else {DEFAULT_TARGET}\n")
    if isinstance(error, UnauthenticatedError):
        err.write(f"  {_credentials_hint(args)}\n")
    for field, description in error.field_violations:
        line = f"{field}: {description}"
        if line != message:  # a single violation is often the message itself
            err.write(f"  {line}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, 1 on errors, 2 on usage errors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    out = sys.stdout
    args.colour = render.colour_wanted(args.color, out)
    try:
        return handler(args, out)
    except UsageError as exc:
        parser.error(str(exc))
    except StatehouseError as exc:
        _report(exc, sys.stderr, args)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`statehouse ... | head`): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
