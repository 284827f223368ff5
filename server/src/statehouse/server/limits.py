"""Every bound on what one request may ask of the server, in one table.

The validation boundary (``api/validation.py``) enforces them, the gRPC server
takes its message sizes from them, and the limits table of docs/concepts.md is generated
from :data:`DOCUMENTED` (a test keeps it in step).
"""

from __future__ import annotations

import re
from typing import Final

#: The largest inputs of an execution or outputs of an execution or task run,
#: in bytes of compact UTF-8 JSON (a server setting; this is its default).
MAX_PAYLOAD_BYTES: Final = 1 << 20
#: The most values (object members, list items and scalars, counted together)
#: in one inputs or outputs document.
MAX_PAYLOAD_VALUES: Final = 10_000
#: The deepest nesting of objects and lists in one inputs or outputs document.
MAX_PAYLOAD_DEPTH: Final = 32
#: The longest key of an object in inputs or outputs, in characters.
MAX_PAYLOAD_KEY: Final = 256


def max_request_bytes(max_payload_bytes: int) -> int:
    """The largest request the server accepts on the wire.

    A Struct costs up to about four times its JSON size in protobuf encoding
    (a list of one-digit numbers), plus room for the rest of the request.
    """
    return 4 * max_payload_bytes + (64 << 10)


#: Requests larger than this on the wire are decoded and validated on a worker
#: thread, so that the event loop keeps serving other calls meanwhile.
OFFLOAD_REQUEST_BYTES: Final = 64 << 10
#: The largest response the server sends (a full execution with many task runs).
MAX_RESPONSE_BYTES: Final = 64 << 20
#: A page of a list stops before its encoded size would pass this; the rest
#: comes with the next page token.
MAX_PAGE_BYTES: Final = 4 << 20
#: A request's head on the HTTP port (the request line and its headers), and
#: its metadata on the gRPC port (grpc's measure: names, values and 32 bytes
#: an entry).
MAX_HEADER_BYTES: Final = 32 << 10
#: Header fields of one request on the HTTP port.
MAX_HEADER_FIELDS: Final = 100

# -- strings, in characters ----------------------------------------------------------
MAX_NAMESPACE: Final = 150
#: A namespace: what every other rule about namespaces (patterns, scopes) builds on.
NAMESPACE_RE: Final = re.compile(rf"[a-z0-9][a-z0-9._-]{{0,{MAX_NAMESPACE - 1}}}\Z")
#: The name of a token or certificate grant.
MAX_CREDENTIAL_NAME: Final = 64
CREDENTIAL_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-_@:]{0,63}\Z")
MAX_CERTIFICATE_SUBJECT: Final = 512
#: Namespaces and patterns one credential may hold.
MAX_CREDENTIAL_NAMESPACES: Final = 100
MAX_IDENTIFIER: Final = 100
MAX_RESOURCE_ID: Final = 64
MAX_REQUEST_ID: Final = 128
MAX_REASON: Final = 2048
MAX_VALUE: Final = 1024
MAX_WORKER_ID: Final = 256
MAX_LABEL_KEY: Final = 128
MAX_LABEL_VALUE: Final = 256
MAX_PAGE_TOKEN: Final = 1024
MAX_METRIC_NAME: Final = 128
MAX_METRIC_DESCRIPTION: Final = 1024
MAX_TAG_KEY: Final = 64
MAX_TAG_VALUE: Final = 256

# -- counts ------------------------------------------------------------------------
MAX_LABELS: Final = 64
MAX_LABEL_FILTERS: Final = 16
MAX_STATE_FILTERS: Final = 9
MAX_EXECUTION_ID_FILTERS: Final = 1000
MAX_PAGE_SIZE: Final = 1000
MAX_METRICS_PER_CALL: Final = 1000
#: Items of one TransitionTaskRuns call.
MAX_TRANSITIONS_PER_CALL: Final = 1000
MAX_TAGS: Final = 20
#: Task runs one ClaimTaskRuns call may claim, and task ids its filter may name.
MAX_CLAIM_TASK_RUNS: Final = 100
MAX_CLAIM_TASK_IDS: Final = 100
#: Attempts one Heartbeat call may extend.
MAX_HEARTBEATS_PER_CALL: Final = 1000
MAX_BUCKETS: Final = 2000
#: Series x buckets of one AggregateMetrics response (grouping by a tag).
MAX_AGGREGATE_POINTS: Final = 20_000

# -- numbers -----------------------------------------------------------------------
#: The largest magnitude of a counter's value (beyond it doubles lose integers).
MAX_COUNTER: Final = 1e15
#: An exponential retry's factor.
MIN_RETRY_FACTOR: Final = 1.0
MAX_RETRY_FACTOR: Final = 100.0
MAX_RETRY_ATTEMPTS: Final = 1000
#: Durations (delays, timeouts, retry intervals, timers), in seconds.
MAX_DURATION_SECONDS: Final = 10 * 366 * 86_400
#: Timestamps: from the epoch up to (not including) 2500-01-01T00:00:00Z.
MIN_TIMESTAMP_SECONDS: Final = 0
MAX_TIMESTAMP_SECONDS: Final = 16_725_225_600
#: The longest a ClaimTaskRuns call waits for work, in seconds.
MAX_CLAIM_WAIT_SECONDS: Final = 60
#: An attempt's lease, in seconds.
MIN_LEASE_SECONDS: Final = 1
MAX_LEASE_SECONDS: Final = 3600
#: The shortest deadline of an execution (max_duration, max_created_duration)
#: and attempt timeout of a task run, in seconds.
MIN_DEADLINE_SECONDS: Final = 1
#: The shortest heartbeat interval of a subscription, in seconds.
MIN_HEARTBEAT_SECONDS: Final = 0.1
#: The most events in one message of a subscription (larger requests are capped).
MAX_EVENTS_PER_MESSAGE: Final = 1000

#: (what, limit) rows of the limits table of docs/concepts.md.
DOCUMENTED: Final[list[tuple[str, str]]] = [
    (
        "request size on the wire",
        "4 x the payload limit + 64 KiB (4.06 MiB by default): `RESOURCE_EXHAUSTED` beyond",
    ),
    ("response size", "64 MiB"),
    (
        "request headers",
        f"HTTP: {MAX_HEADER_FIELDS} fields and {MAX_HEADER_BYTES >> 10} KiB with the request "
        f"line (`431` beyond); gRPC: {MAX_HEADER_BYTES >> 10} KiB of metadata",
    ),
    ("a list page", f"at most `page_size` items and about {MAX_PAGE_BYTES >> 20} MiB"),
    (
        "inputs, outputs (each)",
        f"{MAX_PAYLOAD_BYTES >> 20} MiB of compact JSON (`--max-payload-bytes`)",
    ),
    ("values in one inputs or outputs document", f"{MAX_PAYLOAD_VALUES:,}"),
    ("nesting depth of inputs or outputs", f"{MAX_PAYLOAD_DEPTH}"),
    ("object key in inputs or outputs", f"{MAX_PAYLOAD_KEY} characters"),
    ("numbers in inputs, outputs, metrics", "finite (no NaN or Infinity)"),
    ("namespace", f"{MAX_NAMESPACE} characters: `a-z 0-9 . _ -`, starting with a letter or digit"),
    (
        "flow_id, task_id",
        f"{MAX_IDENTIFIER} characters: `A-Z a-z 0-9 . _ -`, starting with a letter or digit",
    ),
    ("execution_id, task_run_id", f"{MAX_RESOURCE_ID} characters"),
    ("request_id", f"{MAX_REQUEST_ID} characters"),
    ("reason", f"{MAX_REASON} characters"),
    ("task run value", f"{MAX_VALUE} characters"),
    ("worker_id", f"{MAX_WORKER_ID} characters"),
    (
        "labels of an execution",
        f"{MAX_LABELS}; keys {MAX_LABEL_KEY} characters, values {MAX_LABEL_VALUE}",
    ),
    ("label filters of ListExecutions", f"{MAX_LABEL_FILTERS}"),
    ("execution_ids of a subscription filter", f"{MAX_EXECUTION_ID_FILTERS:,}"),
    ("page_size", f"{MAX_PAGE_SIZE:,} (larger values are capped)"),
    ("page_token", f"{MAX_PAGE_TOKEN} characters, as returned by the server"),
    ("metrics per RecordMetrics call", f"{MAX_METRICS_PER_CALL:,}; {MAX_TAGS} tags each"),
    (
        "items per TransitionTaskRuns call",
        f"{MAX_TRANSITIONS_PER_CALL:,} (`INVALID_ARGUMENT` for the whole call beyond)",
    ),
    (
        "ClaimTaskRuns",
        f"max_task_runs {MAX_CLAIM_TASK_RUNS}; {MAX_CLAIM_TASK_IDS} task_ids; "
        f"wait at most {MAX_CLAIM_WAIT_SECONDS} s",
    ),
    (
        "lease_duration",
        f"{MIN_LEASE_SECONDS} s to {MAX_LEASE_SECONDS // 60} minutes",
    ),
    ("attempts per Heartbeat call", f"{MAX_HEARTBEATS_PER_CALL:,}"),
    (
        "execution deadlines, attempt_timeout",
        f"{MIN_DEADLINE_SECONDS} s to 10 years",
    ),
    (
        "metric name, tag key, tag value",
        f"{MAX_METRIC_NAME}, {MAX_TAG_KEY}, {MAX_TAG_VALUE} characters",
    ),
    ("counter value", "finite, magnitude at most 1e15"),
    ("buckets of AggregateMetrics", f"{MAX_BUCKETS:,}; {MAX_AGGREGATE_POINTS:,} series x buckets"),
    (
        "retry policy",
        f"at most {MAX_RETRY_ATTEMPTS:,} attempts; exponential factor {MIN_RETRY_FACTOR:g} to {MAX_RETRY_FACTOR:g}",
    ),
    (
        "token or certificate grant",
        f"name {MAX_CREDENTIAL_NAME} characters (`A-Z a-z 0-9 . - _ @ :`); "
        f"{MAX_CREDENTIAL_NAMESPACES} namespace patterns; subject {MAX_CERTIFICATE_SUBJECT} characters",
    ),
    ("durations", "0 to 3,660 days (10 years)"),
    ("timestamps", "1970-01-01T00:00:00Z to 2500-01-01T00:00:00Z"),
    ("heartbeat_interval", "at least 100 ms"),
    (
        "max_events_per_message",
        f"0 to {MAX_EVENTS_PER_MESSAGE:,} (larger values are capped); a message also stops "
        "at about 1 MiB",
    ),
    (
        "strings",
        "valid UTF-8, no control characters (reason and description may hold tab and newline)",
    ),
]


def markdown_table() -> str:
    """The limits table of docs/concepts.md."""
    rows = ["| what | limit |", "|---|---|"]
    rows += [f"| {what} | {limit} |" for what, limit in DOCUMENTED]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
