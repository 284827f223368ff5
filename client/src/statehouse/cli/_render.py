"""Plain-text and JSON rendering of the CLI's output (no third-party library)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC
from typing import Any, TextIO

from google.protobuf import json_format, struct_pb2, timestamp_pb2
from google.protobuf.message import Message

from statehouse.client import State
from statehouse.v1 import event_pb2, execution_pb2, execution_service_pb2


def message_dict(message: Message) -> dict[str, Any]:
    """A message as a JSON-ready dict with proto field names and every field."""
    return json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )


def write_json(out: TextIO, value: Any, *, lines: bool = False) -> None:
    """One JSON document (indented), or one compact line for streams."""
    if lines:
        out.write(json.dumps(value, separators=(",", ":"), sort_keys=False) + "\n")
    else:
        out.write(json.dumps(value, indent=2) + "\n")
    out.flush()


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
    value = _plain_numbers(json_format.MessageToDict(struct))
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
    rows = [[time_text(h.time, millis=True), state_name(h.state), h.reason or "-"] for h in history]
    return table(["TIME", "STATE", "REASON"], rows)


def task_runs_table(task_runs: Iterable[execution_pb2.TaskRun]) -> str:
    rows = [
        [
            t.id,
            t.task_id,
            t.value or "-",
            state_name(t.state),
            str(len(t.attempts)),
            time_text(t.update_time),
        ]
        for t in task_runs
    ]
    return table(["ID", "TASK", "VALUE", "STATE", "ATTEMPTS", "UPDATED"], rows, right=[4])


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def execution_detail(e: execution_pb2.Execution) -> str:
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
    parts = [_fields(pairs), "", "history:", _indent(history_table(e.history))]
    if e.task_runs:
        parts += ["", "task runs:", _indent(task_runs_table(e.task_runs))]
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
    if t.HasField("next_attempt_time"):
        pairs.append(("next attempt", time_text(t.next_attempt_time, millis=True)))
    return "\n".join([_fields(pairs), "", "history:", _indent(history_table(t.history))])


def transition_task_run_text(r: execution_service_pb2.TransitionTaskRunResponse) -> str:
    text = task_run_detail(r.task_run)
    text += f"\n\nexecution:  {state_name(r.execution_state)} (revision {r.execution_revision})"
    if r.HasField("retry") and r.retry.scheduled:
        text += (
            f"\nretry:      attempt {r.retry.next_attempt} "
            f"at {time_text(r.retry.next_attempt_time, millis=True)}"
        )
    return text


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
    ("REASON", 0, False),
)


def _watch_line(cells: Sequence[str]) -> str:
    parts = []
    for (_, width, right), cell in zip(WATCH_COLUMNS, cells, strict=True):
        parts.append(cell.rjust(width) if right else cell.ljust(width))
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
            event.reason,
        ]
    )
