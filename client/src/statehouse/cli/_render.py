"""The CLI's output: aligned text (coloured on a terminal), JSON and YAML."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

import yaml
from google.protobuf import json_format, struct_pb2, timestamp_pb2
from google.protobuf.message import Message

from statehouse.client import Role, State, StatehouseError, Token
from statehouse.client._convert import role_value
from statehouse.v1 import (
    admin_service_pb2,
    event_pb2,
    execution_pb2,
    execution_service_pb2,
    metric_pb2,
    metric_service_pb2,
)


def message_dict(message: Message) -> dict[str, Any]:
    """A message as a JSON-ready dict with proto field names and every field.

    Fields come in the proto's order; the keys of maps (labels, tags) and of
    Struct values (inputs, outputs) sorted, at every depth: protobuf decodes a
    map in an order that differs between processes, and one command run twice
    prints the same text.
    """
    value = json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )
    return _sort_maps(message.DESCRIPTOR, value)


_JSON_VALUES = {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}


def sorted_keys(value: Any) -> Any:
    """A JSON value with the keys of every object in it sorted."""
    if isinstance(value, dict):
        return {key: sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [sorted_keys(item) for item in value]
    return value


def _sort_maps(descriptor: Any, value: dict[str, Any]) -> dict[str, Any]:
    for field in descriptor.fields:
        kind = field.message_type
        if kind is None or field.name not in value:
            continue
        if kind.GetOptions().map_entry or kind.full_name in _JSON_VALUES:
            value[field.name] = sorted_keys(value[field.name])
        elif kind.full_name.startswith("google.protobuf."):
            continue  # Timestamp, Duration...: not objects in JSON
        elif field.is_repeated:
            value[field.name] = [_sort_maps(kind, item) for item in value[field.name]]
        else:
            value[field.name] = _sort_maps(kind, value[field.name])
    return value


def write_json(out: TextIO, value: Any, *, lines: bool = False) -> None:
    """One JSON document (indented), or one compact line for streams."""
    if lines:
        out.write(json.dumps(value, separators=(",", ":"), sort_keys=False) + "\n")
    else:
        out.write(json.dumps(value, indent=2) + "\n")
    out.flush()


#: The values of --output: the text for people, or the response message as data.
FORMATS = ("text", "json", "yaml")


def write_value(out: TextIO, value: Any, *, fmt: str, lines: bool = False) -> None:
    """``value`` as JSON (a line each for streams) or YAML (a ``---`` document each)."""
    if fmt == "yaml":
        out.write(yaml.safe_dump(value, sort_keys=False, allow_unicode=True, explicit_start=lines))
        out.flush()
    else:
        write_json(out, value, lines=lines)


# Colour: state names, and "error:", on a terminal.

_RESET = "\x1b[0m"
STATE_COLOURS = {
    "CREATED": "\x1b[2m",  # dim
    "RUNNING": "\x1b[34m",  # blue
    "PAUSED": "\x1b[36m",  # cyan
    "SUCCESS": "\x1b[32m",  # green
    "WARNING": "\x1b[33m",  # yellow
    "FAILED": "\x1b[31m",  # red
    "KILLING": "\x1b[35m",  # magenta
    "KILLED": "\x1b[35m",
    "RESTARTED": "\x1b[36m",
}
_STATE_WORD = re.compile(r"\b(" + "|".join(STATE_COLOURS) + r")\b")


def colour_wanted(choice: str, stream: TextIO, env: Mapping[str, str] = os.environ) -> bool:
    """--color auto|always|never: auto colours a terminal, unless NO_COLOR is set or TERM=dumb."""
    if choice != "auto":
        return choice == "always"
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str) -> str:
    """Each state name in ``text`` in its colour (after alignment: codes take no column)."""
    return _STATE_WORD.sub(lambda m: f"{STATE_COLOURS[m.group(1)]}{m.group(1)}{_RESET}", text)


def paint_error(text: str) -> str:
    return f"\x1b[1;31m{text}{_RESET}"


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, right: Iterable[int] = ()
) -> str:
    """An aligned table: two spaces between columns, ``right`` columns right-aligned."""
    body = [list(row) for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    right_set = set(right)

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in right_set else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(row) for row in body)])


def state_name(value: int) -> str:
    try:
        return State(value).name
    except ValueError:
        return str(value)


def time_text(stamp: timestamp_pb2.Timestamp, *, millis: bool = False) -> str:
    """A timestamp as ISO 8601 UTC ("2025-01-31T12:00:00Z"), or "-" when unset."""
    if stamp.seconds == 0 and stamp.nanos == 0:
        return "-"
    moment = stamp.ToDatetime(tzinfo=UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def labels_text(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"


def _plain_numbers(value: Any) -> Any:
    """Struct numbers are doubles: show 3.0 as 3."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    return value


def struct_text(struct: struct_pb2.Struct) -> str:
    value = _plain_numbers(sorted_keys(json_format.MessageToDict(struct)))
    return json.dumps(value, separators=(",", ":")) if value else "-"


def executions_table(executions: Iterable[execution_pb2.Execution]) -> str:
    rows = [
        [
            e.id,
            e.namespace,
            e.flow_id,
            state_name(e.state),
            str(e.revision),
            time_text(e.create_time),
            time_text(e.update_time),
            labels_text(e.labels),
        ]
        for e in executions
    ]
    headers = ["ID", "NAMESPACE", "FLOW", "STATE", "REV", "CREATED", "UPDATED", "LABELS"]
    return table(headers, rows, right=[4])


def _fields(pairs: Sequence[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in pairs) + 1
    return "\n".join(f"{(k + ':').ljust(width)}  {v}" for k, v in pairs)


def history_table(history: Iterable[execution_pb2.StateChange]) -> str:
    rows = [
        [time_text(h.time, millis=True), state_name(h.state), h.actor or "-", h.reason or "-"]
        for h in history
    ]
    return table(["TIME", "STATE", "ACTOR", "REASON"], rows)


def open_attempt(t: execution_pb2.TaskRun) -> execution_pb2.Attempt | None:
    """The task run's attempt still under way (its last, not ended), if any."""
    if t.attempts and not _is_terminal(t.attempts[-1].state):
        return t.attempts[-1]
    return None


def lease_text(a: execution_pb2.Attempt) -> str:
    """An open attempt's lease: ``30s, extended by each heartbeat``, or ``none``
    (its expiry is :func:`lease_until_text`)."""
    if not a.HasField("lease_duration"):
        return "none"
    return f"{duration_text(a.lease_duration.ToMicroseconds())}, extended by each heartbeat"


def lease_until_text(a: execution_pb2.Attempt | None, *, millis: bool = False) -> str:
    """When an open attempt's lease expires (``Attempt.lease_expire_time``, as of
    the read: each heartbeat moves it later), or "-" without one."""
    if a is None or not a.HasField("lease_expire_time"):
        return "-"
    return time_text(a.lease_expire_time, millis=millis)


def _until(text: str) -> str:
    return "-" if text == "-" else f"until {text}"


def task_runs_table(task_runs: Iterable[execution_pb2.TaskRun]) -> str:
    """One row per task run; WORKER is the worker of the attempt under way and
    LEASE when its lease expires (``until <time>``)."""
    rows = []
    for t in task_runs:
        running = open_attempt(t)
        rows.append(
            [
                t.id,
                t.task_id,
                t.value or "-",
                state_name(t.state),
                str(len(t.attempts)),
                (running.worker_id or "-") if running else "-",
                _until(lease_until_text(running)),
                time_text(t.update_time),
            ]
        )
    headers = ["ID", "TASK", "VALUE", "STATE", "ATTEMPTS", "WORKER", "LEASE", "UPDATED"]
    return table(headers, rows, right=[4])


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _execution_pairs(e: execution_pb2.Execution) -> list[tuple[str, str]]:
    pairs = [
        ("id", e.id),
        ("namespace", e.namespace),
        ("flow", f"{e.flow_id} (revision {e.flow_revision})"),
        ("state", state_name(e.state)),
        ("revision", str(e.revision)),
        ("created", time_text(e.create_time, millis=True)),
        ("updated", time_text(e.update_time, millis=True)),
        ("labels", labels_text(e.labels)),
        ("inputs", struct_text(e.inputs)),
        ("outputs", struct_text(e.outputs)),
    ]
    if e.parent_execution_id:
        pairs.append(("parent", e.parent_execution_id))
    if e.restart_count:
        pairs.append(("restarts", str(e.restart_count)))
    return pairs


def execution_detail(e: execution_pb2.Execution) -> str:
    parts = [_fields(_execution_pairs(e)), "", "history:", _indent(history_table(e.history))]
    if e.task_runs:
        parts += ["", "task runs:", _indent(task_runs_table(e.task_runs))]
    return "\n".join(parts)


def duration_text(microseconds: int) -> str:
    """A duration for humans: 350ms, 1.2s, 3m04s, 2h05m, 3d04h (negative counts as 0)."""
    us = max(microseconds, 0)
    if us < 1_000_000:
        return f"{us // 1000}ms"
    tenths = us // 100_000
    if tenths < 600:
        return f"{tenths // 10}.{tenths % 10}s"
    seconds = us // 1_000_000
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    minutes = seconds // 60
    if minutes < 24 * 60:
        return f"{minutes // 60}h{minutes % 60:02d}m"
    hours = minutes // 60
    return f"{hours // 24}d{hours % 24:02d}h"


def _micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def _is_terminal(value: int) -> bool:
    try:
        return State(value).is_terminal
    except ValueError:  # a state newer than this CLI
        return False


def _spans(
    history: Sequence[execution_pb2.StateChange], current: int, now: datetime
) -> list[tuple[execution_pb2.StateChange, str, str]]:
    """(entry, end, duration) for each state entered.

    A state ends when the next one is entered. The current state of something
    still active ends "now" (its duration so far); a terminal state has no end.
    """
    spans = []
    for i, entry in enumerate(history):
        start = entry.time.ToMicroseconds()
        if i + 1 < len(history):
            following = history[i + 1].time
            spans.append(
                (
                    entry,
                    time_text(following, millis=True),
                    duration_text(following.ToMicroseconds() - start),
                )
            )
        elif _is_terminal(current):
            spans.append((entry, "", ""))
        else:
            spans.append((entry, "now", duration_text(_micros(now) - start)))
    return spans


def task_run_label(t: execution_pb2.TaskRun) -> str:
    """How a task run is named in a timeline: its task, value and short id."""
    value = f"[{t.value}]" if t.value else ""
    return f"{t.task_id}{value} ({t.id[:8]})"


def timeline_table(e: execution_pb2.Execution, now: datetime) -> str:
    """Every state the execution and each task run entered, with start, end and duration."""
    rows = []
    subjects: list[tuple[str, Sequence[execution_pb2.StateChange], int]] = [
        ("execution", e.history, e.state),
        *((task_run_label(t), t.history, t.state) for t in e.task_runs),
    ]
    for label, history, current in subjects:
        for entry, end, duration in _spans(history, current, now):
            rows.append(
                [
                    label,
                    state_name(entry.state),
                    time_text(entry.time, millis=True),
                    end,
                    duration,
                    entry.actor or "-",
                    entry.reason or "",
                ]
            )
    headers = ["WHAT", "STATE", "START", "END", "DURATION", "ACTOR", "REASON"]
    return table(headers, rows, right=[4])


def attempts_table(task_runs: Iterable[execution_pb2.TaskRun], now: datetime) -> str:
    """One row per attempt: from its first state to its end (or "now" while it runs)."""
    rows = []
    for t in task_runs:
        for a in t.attempts:
            if not a.history:
                continue
            start = a.history[0].time
            if _is_terminal(a.state):
                last = a.history[-1].time
                end = time_text(last, millis=True)
                took = last.ToMicroseconds() - start.ToMicroseconds()
            else:
                end, took = "now", _micros(now) - start.ToMicroseconds()
            rows.append(
                [
                    task_run_label(t),
                    str(a.number),
                    state_name(a.state),
                    a.worker_id or "-",
                    time_text(start, millis=True),
                    end,
                    duration_text(took),
                ]
            )
    headers = ["TASK", "ATTEMPT", "STATE", "WORKER", "START", "END", "DURATION"]
    return table(headers, rows, right=[1, 6])


def execution_report(e: execution_pb2.Execution, now: datetime) -> str:
    """``executions get``: the execution, its task runs and their attempts, and a timeline."""
    parts = [_fields(_execution_pairs(e))]
    if e.task_runs:
        parts += ["", "task runs:", _indent(task_runs_table(e.task_runs))]
        if any(t.attempts for t in e.task_runs):
            parts += ["", "attempts:", _indent(attempts_table(e.task_runs, now))]
    parts += ["", "timeline:", _indent(timeline_table(e, now))]
    return "\n".join(parts)


def task_run_detail(t: execution_pb2.TaskRun) -> str:
    pairs = [
        ("id", t.id),
        ("execution", t.execution_id),
        ("task", t.task_id),
        ("value", t.value or "-"),
        ("state", state_name(t.state)),
        ("attempts", str(len(t.attempts))),
        ("outputs", struct_text(t.outputs)),
    ]
    running = open_attempt(t)
    if running is not None:
        pairs.append(("worker", running.worker_id or "-"))
        pairs.append(("lease", lease_text(running)))
        if running.HasField("lease_expire_time"):
            pairs.append(("lease until", lease_until_text(running, millis=True)))
    if t.HasField("next_attempt_time"):
        pairs.append(("next attempt", time_text(t.next_attempt_time, millis=True)))
    return "\n".join([_fields(pairs), "", "history:", _indent(history_table(t.history))])


def retry_policy_text(policy: execution_pb2.RetryPolicy) -> str:
    """``constant 2s, at most 3 attempts``, say; "-" without a policy."""

    def seconds(duration: Any) -> str:
        return duration_text(duration.ToMicroseconds())

    kind = policy.WhichOneof("interval")
    if kind == "constant":
        text = f"constant {seconds(policy.constant.interval)}"
    elif kind == "exponential":
        e = policy.exponential
        text = f"exponential from {seconds(e.interval)}, x{e.factor or 2:g}"
        if e.HasField("max_interval"):
            text += f" up to {seconds(e.max_interval)}"
    elif kind == "random":
        text = (
            f"random {seconds(policy.random.min_interval)}..{seconds(policy.random.max_interval)}"
        )
    else:
        return "-"
    if policy.max_attempts:
        text += f", at most {policy.max_attempts} attempts"
    if policy.HasField("max_duration"):
        text += f", for at most {seconds(policy.max_duration)}"
    if policy.warning_on_retry:
        text += ", WARNING after a retry"
    return text


def task_run_report(t: execution_pb2.TaskRun, now: datetime) -> str:
    """``task-runs get``: the task run, its retry policy and its attempts."""
    text = task_run_detail(t)
    if t.HasField("retry_policy"):
        text += f"\n\nretry policy:  {retry_policy_text(t.retry_policy)}"
    if any(a.history for a in t.attempts):
        text += "\n\nattempts:\n" + _indent(attempts_table([t], now))
    return text


def status_text(
    target: str,
    health: str,
    info: admin_service_pb2.GetServerInfoResponse,
    counts: execution_service_pb2.CountExecutionsResponse,
    *,
    namespace: str = "",
) -> str:
    """``statehouse status``: the server, its event log, and its executions by state."""
    processes = f" ({info.processes} processes)" if info.processes > 1 else ""
    pairs = [
        ("server", f"{target}, version {info.version}{processes}"),
        ("health", health),
        ("database", info.database_backend),
        ("started", time_text(info.start_time)),
        (
            "event log",
            f"head sequence {info.head_sequence} (retained from {info.first_available_sequence})",
        ),
    ]
    where = f" in {namespace}" if namespace else ""
    rows = [[state_name(c.state), str(c.count)] for c in counts.counts]
    rows.append(["total", str(counts.total)])
    return "\n".join(
        [
            _fields(pairs),
            "",
            f"executions{where}:",
            _indent(table(["STATE", "COUNT"], rows, right=[1])),
        ]
    )


def transition_task_run_text(r: execution_service_pb2.TransitionTaskRunResponse) -> str:
    text = task_run_detail(r.task_run)
    text += (
        f"\n\nexecution state:  {state_name(r.execution_state)} (revision {r.execution_revision})"
    )
    if r.HasField("retry") and r.retry.scheduled:
        text += (
            f"\nretry:            attempt {r.retry.next_attempt} "
            f"at {time_text(r.retry.next_attempt_time, millis=True)}"
        )
    return text


def batch_result_line(
    line: int, task_run_id: str, result: execution_service_pb2.TransitionTaskRunResponse | Exception
) -> str:
    """One item of ``transition --file``: its line, its task run, and what became of it."""
    if isinstance(result, StatehouseError):
        label = result.reason or result.code.name
        text = f"line {line}: {task_run_id} error: {result.message} ({label})"
        for field, description in result.field_violations:
            if f"{field}: {description}" != result.message:
                text += f"; {field}: {description}"
        return text
    assert isinstance(result, execution_service_pb2.TransitionTaskRunResponse)
    text = (
        f"line {line}: {task_run_id} {state_name(result.task_run.state)}"
        f" (execution {state_name(result.execution_state)}, revision {result.execution_revision})"
    )
    if result.HasField("retry") and result.retry.scheduled:
        text += f", retry: attempt {result.retry.next_attempt}"
    return text


def batch_result_dict(
    line: int, task_run_id: str, result: execution_service_pb2.TransitionTaskRunResponse | Exception
) -> dict[str, Any]:
    """One item of ``transition --file --json``."""
    out: dict[str, Any] = {"line": line, "task_run_id": task_run_id}
    if isinstance(result, StatehouseError):
        out["error"] = {
            "code": result.code.name,
            "reason": result.reason,
            "message": result.message,
            "field_violations": [
                {"field": f, "description": d} for f, d in result.field_violations
            ],
        }
    else:
        assert isinstance(result, execution_service_pb2.TransitionTaskRunResponse)
        out["response"] = message_dict(result)
    return out


# One event per line, in fixed-width columns so that a live stream stays aligned.
WATCH_COLUMNS: tuple[tuple[str, int, bool], ...] = (
    # (header, width, right-aligned)
    ("TIME", 24, False),
    ("SEQ", 7, True),
    ("NAMESPACE/FLOW", 28, False),
    ("EXECUTION", 9, False),
    ("TASK", 16, False),
    ("ATT", 3, True),
    ("TRANSITION", 22, False),
    ("ACTOR", 16, False),
    ("REASON", 0, False),
)


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, its last one an ellipsis when cut."""
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _watch_line(cells: Sequence[str]) -> str:
    """A line of fixed columns: a longer text is clipped (numbers are not), keeping them aligned."""
    parts = []
    for (_, width, right), cell in zip(WATCH_COLUMNS, cells, strict=True):
        if right:
            parts.append(cell.rjust(width))
        else:
            parts.append(clip(cell, width).ljust(width) if width else cell)
    return "  ".join(parts).rstrip()


def watch_header() -> str:
    return _watch_line([name for name, _, _ in WATCH_COLUMNS])


def watch_line(event: event_pb2.StateChangeEvent) -> str:
    previous = state_name(event.previous_state) if event.previous_state else "-"
    return _watch_line(
        [
            time_text(event.time, millis=True),
            str(event.sequence),
            f"{event.namespace}/{event.flow_id}",
            event.execution_id[:8],
            event.task_id or "-",
            str(event.attempt) if event.attempt else "-",
            f"{previous} -> {state_name(event.state)}",
            event.actor or "-",
            event.reason,
        ]
    )


# Credentials.


def _stamp(micros: int | None) -> timestamp_pb2.Timestamp | None:
    if micros is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromMicroseconds(int(micros))
    return stamp


def token_from_dict(info: Mapping[str, Any]) -> Token:
    """A ``Token`` from the dict the server's offline functions return, so that
    both ways of managing credentials print the same."""
    return admin_service_pb2.Token(
        name=info["name"],
        role=role_value(str(info["role"])),
        namespaces=list(info.get("namespaces") or ()),
        certificate_subject=info.get("certificate_subject") or "",
        create_time=_stamp(info.get("create_time_us")),
        expire_time=_stamp(info.get("expire_time_us")),
        revoke_time=_stamp(info.get("revoke_time_us")),
        created_by=info.get("created_by") or "",
    )


def role_name(value: int) -> str:
    try:
        return Role(value).name.lower()
    except ValueError:
        return str(value)


def credential_kind(token: Token) -> str:
    return "certificate grant" if token.certificate_subject else "token"


def token_status(token: Token, now: datetime) -> str:
    """active, revoked or expired."""
    if token.HasField("revoke_time"):
        return "revoked"
    if token.HasField("expire_time") and token.expire_time.ToDatetime(tzinfo=UTC) <= now:
        return "expired"
    return "active"


def _expiry_text(token: Token) -> str:
    return time_text(token.expire_time) if token.HasField("expire_time") else "never"


def tokens_table(tokens: Iterable[Token], now: datetime) -> str:
    rows = [
        [
            t.name,
            role_name(t.role),
            ",".join(t.namespaces) or "-",
            t.certificate_subject or "-",
            token_status(t, now),
            time_text(t.create_time),
            _expiry_text(t),
            t.created_by or "-",
        ]
        for t in tokens
    ]
    headers = ["NAME", "ROLE", "NAMESPACES", "SUBJECT", "STATUS", "CREATED", "EXPIRES", "BY"]
    return table(headers, rows)


def token_created_text(token: Token, secret: str) -> str:
    """``tokens create``: the credential, then the secret, once."""
    pairs = [
        ("name", token.name),
        ("role", role_name(token.role)),
        ("namespaces", ", ".join(token.namespaces)),
    ]
    if token.certificate_subject:
        pairs.append(("subject", token.certificate_subject))
    pairs.append(("expires", _expiry_text(token)))
    parts = [_fields(pairs)]
    if secret:
        parts += [
            "",
            secret,
            "",
            "This token will not be shown again: store it now (send it as "
            "authorization: Bearer <token>, or set STATEHOUSE_TOKEN).",
        ]
    else:
        parts += [
            "",
            f"Clients presenting a certificate for {token.certificate_subject} now hold this role.",
        ]
    return "\n".join(parts)


# Metrics: aggregates as a table of buckets and a sparkline per series.

STATS = ("sum", "avg", "min", "max", "count")
SPARKS = "▁▂▃▄▅▆▇█"
NO_VALUE = "·"  # avg, min or max of an empty bucket
BUCKET_NAMES = {
    metric_pb2.METRIC_BUCKET_WIDTH_MINUTE: "minute",
    metric_pb2.METRIC_BUCKET_WIDTH_HOUR: "hour",
    metric_pb2.METRIC_BUCKET_WIDTH_DAY: "day",
    metric_pb2.METRIC_BUCKET_WIDTH_WEEK: "week",
    metric_pb2.METRIC_BUCKET_WIDTH_MONTH: "month",
}


def number_text(value: float) -> str:
    """3.0 as "3", 7.5 as "7.5", 1/3 as "0.333333"."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def _value_text(value: float, *, timer: bool) -> str:
    return duration_text(round(value * 1_000_000)) if timer else number_text(value)


def stat_value(bucket: metric_pb2.MetricBucket, stat: str) -> float | None:
    """A bucket's statistic; None for avg, min and max of an empty bucket."""
    if stat == "count":
        return float(bucket.count)
    if stat == "sum":
        return bucket.sum
    if bucket.count == 0:
        return None
    return float(getattr(bucket, stat))


def combine(buckets: Sequence[metric_pb2.MetricBucket]) -> metric_pb2.MetricBucket:
    """Adjacent buckets as one (to fit a chart in a terminal)."""
    full = [b for b in buckets if b.count]
    total = sum(b.count for b in full)
    merged = metric_pb2.MetricBucket(count=total, sum=sum(b.sum for b in buckets))
    merged.start_time.CopyFrom(buckets[0].start_time)
    if full:
        merged.avg = sum(b.avg * b.count for b in full) / total
        merged.min = min(b.min for b in full)
        merged.max = max(b.max for b in full)
    return merged


def fit(buckets: Sequence[metric_pb2.MetricBucket], width: int) -> list[metric_pb2.MetricBucket]:
    """At most ``width`` buckets, merging runs of adjacent ones."""
    if len(buckets) <= width:
        return list(buckets)
    step = -(-len(buckets) // max(width, 1))
    return [combine(buckets[i : i + step]) for i in range(0, len(buckets), step)]


def sparkline(values: Sequence[float | None], low: float, high: float) -> str:
    """One bar per value on the scale [low, high] (NO_VALUE where there is none)."""
    bars = []
    for value in values:
        if value is None:
            bars.append(NO_VALUE)
        elif high <= low:
            bars.append(SPARKS[0])
        else:
            level = int((value - low) / (high - low) * (len(SPARKS) - 1) + 0.5)
            bars.append(SPARKS[min(max(level, 0), len(SPARKS) - 1)])
    return "".join(bars)


def aggregate_report(
    response: metric_service_pb2.AggregateMetricsResponse,
    *,
    name: str,
    timer: bool,
    start: datetime,
    end: datetime,
    group_by: str = "",
    stat: str = "sum",
    width: int = 80,
) -> str:
    """``metrics aggregate``: the non-empty buckets, then the chosen statistic charted.

    Series share one scale, from 0 (or the lowest value, if negative) to the
    highest, so their bars compare; empty buckets chart as 0 for sum and
    count, as NO_VALUE for avg, min and max.
    """
    bucket = BUCKET_NAMES.get(response.bucket_width, "?")
    kind = "timer" if timer else "counter"
    span = f"{_instant_text(start)} to {_instant_text(end)}"
    grouped = f", by {group_by}" if group_by else ""
    parts = [f"{name} ({kind}) from {span}, per {bucket}{grouped}"]

    def label(series: metric_pb2.MetricSeries) -> str:
        return (series.tag_value or "-") if group_by else name

    headers = ["START", "COUNT", "SUM", "AVG", "MIN", "MAX"]
    rows = []
    empty = 0
    for series in response.series:
        for b in series.buckets:
            if not b.count:
                empty += 1
                continue
            values = [_value_text(v, timer=timer) for v in (b.sum, b.avg, b.min, b.max)]
            row = [time_text(b.start_time), str(b.count), *values]
            rows.append([label(series), *row] if group_by else row)
    if rows:
        if group_by:
            headers = [group_by.upper(), *headers]
        right = [i + (1 if group_by else 0) for i in range(1, 6)]
        parts += ["", table(headers, rows, right=right)]
        if empty:
            parts.append(f"({empty} empty buckets not shown)")
    else:
        # Nothing to chart either: no table, no chart of an empty series.
        where = f" of {kind} {name!r}" if name else ""
        parts += ["", f"no values{where} in this range (try a wider --from/--to, or check --type)"]
        return "\n".join(parts)

    labels = [label(s) for s in response.series]
    label_width = max((len(text) for text in labels), default=0)
    fitted = [fit(s.buckets, max(width - label_width - 2, 10)) for s in response.series]
    charted = [[stat_value(b, stat) for b in buckets] for buckets in fitted]
    present = [v for line in charted for v in line if v is not None]
    if present:
        low, high = min(0.0, min(present)), max(present)
        in_seconds = timer and stat != "count"
        scale = f"{SPARKS[0]} {_value_text(low, timer=in_seconds)} .. "
        scale += f"{SPARKS[-1]} {_value_text(high, timer=in_seconds)}"
        if any(len(f) < len(s.buckets) for f, s in zip(fitted, response.series, strict=True)):
            scale += ", adjacent buckets merged to fit"
        parts += ["", f"{stat} per {bucket} ({scale}):"]
        for text, line in zip(labels, charted, strict=True):
            parts.append(f"{text.ljust(label_width)}  {sparkline(line, low, high)}")
    return "\n".join(parts)


def _instant_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
