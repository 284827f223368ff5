"""A property-based fuzzer of every RPC, generated from the protobuf descriptors.

Every method of every service in ``statehouse.v1`` (found through the file
descriptors, so a new RPC is fuzzed without a change here) gets requests built
from its request message's descriptor (scalars, enums, maps, repeated fields,
oneofs, nested messages and the well-known types Struct, Value, ListValue,
Duration and Timestamp), sent through the generated stubs to a real server
process on each backend, in three parts:

- a deterministic sweep: a canonical valid request with one field, in turn,
  set to each of the worst values of its type (NUL, control characters, 5,000
  characters, non-BMP text; NaN, Infinity, 60 levels and 3,000 keys in a
  Struct; Durations and Timestamps beyond protobuf's limits; extreme integers;
  unknown enum values; 300 map entries, 1,500 repeated items; altered page
  tokens);
- hypothesis: mostly *nearly valid* requests (valid values: ids from a pool of
  real executions and task runs in various states, real page tokens, request
  ids already used; with one hostile value somewhere), some fully valid ones
  and some fully random hostile ones;
- undecodable bytes (hypothesis too): random bytes, truncated requests, fields
  with any wire type, invalid UTF-8 inside a string field; and once per
  backend a request over the server's size limit.

For every request: the status is a documented one (never UNKNOWN, INTERNAL,
UNAVAILABLE, DATA_LOSS or a client-side deadline; RESOURCE_EXHAUSTED only for
a request over the size limit), an error message shows no Python exception or
SQL, and a rejected request changed nothing in the database (row counts of
every table, the counters, the sum of execution revisions, read directly with
SQLAlchemy).

Failures are collected rather than raised at the first one (the server is
stateful, so a shrunk replay would not be faithful): the test ends with one
report of the distinct failures, each with its smallest request, the status,
and the exception the server logged, followed by the status codes seen per RPC
and kind of request (how deep the requests got).

Knobs: ``STATEHOUSE_FUZZ_EXAMPLES`` (hypothesis requests per RPC and backend,
default 25; undecodable ones are a third of it) and ``STATEHOUSE_FUZZ_SEED``
(the hypothesis seed; the report prints the one a failed run used).
"""

from __future__ import annotations

import base64
import concurrent.futures
import functools
import itertools
import json
import math
import os
import re
import string
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field as dataclass_field
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import (
    duration_pb2,
    message_factory,
    struct_pb2,
    text_format,
    timestamp_pb2,
)
from google.protobuf.descriptor import (
    Descriptor,
    FieldDescriptor,
    MethodDescriptor,
    OneofDescriptor,
    ServiceDescriptor,
)
from google.protobuf.message import Message
from hypothesis import (
    HealthCheck,
    Phase,
    given,
    seed as hypothesis_seed,
    settings,
    strategies as st,
)
from hypothesis.strategies import SearchStrategy

from statehouse.server.limits import max_request_bytes
from statehouse.server.settings import Settings
from statehouse.v1 import (
    event_service_pb2,
    event_service_pb2_grpc,
    execution_pb2,
    execution_service_pb2 as pb,
    execution_service_pb2_grpc,
    metric_pb2,
    metric_service_pb2,
    metric_service_pb2_grpc,
    state_pb2 as st_pb,
)

from .conftest import ServerProcess

#: Typed requests per RPC and backend; undecodable ones are a third of it.
EXAMPLES = int(os.environ.get("STATEHOUSE_FUZZ_EXAMPLES", "25"))
RAW_EXAMPLES = max(5, EXAMPLES // 3)
SEED = int(os.environ.get("STATEHOUSE_FUZZ_SEED") or int.from_bytes(os.urandom(4), "big"))
#: How long a streaming call may take to send its first message before the test cancels it.
STREAM_WAIT = 0.1
#: The test's deadline for one unary call: a request the server has not answered by
#: then is a finding ("status DEADLINE_EXCEEDED"). It is generous because on a
#: loaded machine a write can wait seconds for a core, and a call the client gave
#: up on may still commit after: the next snapshot would then blame the change
#: on the request after it (seen at 5 s with a KillExecution on SQLite).
UNARY_TIMEOUT = 30.0
#: A batch of up to 1,000 writes takes longer than one write (seconds on
#: PostgreSQL while each write of a group commit is still its own statements).
UNARY_TIMEOUTS = {
    "ExecutionService.TransitionTaskRuns": 60.0,
    # A valid claim may wait up to 60 s for work.
    "ExecutionService.ClaimTaskRuns": 70.0,
}


#: The server accepts requests up to this size; beyond it RESOURCE_EXHAUSTED is the answer.
SERVER_MAX_REQUEST_BYTES = max_request_bytes(Settings().max_payload_bytes)

SERVICES = [
    (execution_service_pb2_grpc, pb),
    (event_service_pb2_grpc, event_service_pb2),
    (metric_service_pb2_grpc, metric_service_pb2),
]

OK = grpc.StatusCode.OK
ALLOWED = {
    OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.OUT_OF_RANGE,
}
#: What an error message must never show: Python exceptions, SQL, driver names.
LEAKS = re.compile(
    r"Traceback|SQL|sqlalchemy|sqlite3|psycopg|Exception|\[parameters|File \"|"
    r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)*Error\b"
)
COUNTED_TABLES = (
    "executions",
    "execution_labels",
    "task_runs",
    "events",
    "timers",
    "metrics",
    "metric_tags",
    "requests",
)
#: One round trip: (what, number) rows; timers by id with their due time.
SNAPSHOT_SQL = sa.text(
    " UNION ALL ".join(
        [
            *(f"SELECT 'rows of {t}', COUNT(*) FROM {t}" for t in COUNTED_TABLES),
            "SELECT 'sum of executions.revision', COALESCE(SUM(revision), 0) FROM executions",
            "SELECT 'counter ' || name, value FROM counters",
            "SELECT 'timer ' || id, due_time_us FROM timers",
        ]
    )
)

# -- the RPCs, from the descriptors ------------------------------------------------------


@dataclass(frozen=True)
class Rpc:
    service: ServiceDescriptor
    method: MethodDescriptor
    stub_class: Any

    @property
    def name(self) -> str:
        return f"{self.service.name}.{self.method.name}"

    @property
    def path(self) -> str:
        return f"/{self.service.full_name}/{self.method.name}"

    @property
    def streaming(self) -> bool:
        return bool(self.method.server_streaming)

    @property
    def request_type(self) -> Descriptor:
        return self.method.input_type


def every_rpc() -> list[Rpc]:
    rpcs: list[Rpc] = []
    for grpc_module, module in SERVICES:
        for service in module.DESCRIPTOR.services_by_name.values():
            stub_class = getattr(grpc_module, f"{service.name}Stub")
            rpcs.extend(Rpc(service, method, stub_class) for method in service.methods)
    return rpcs


def new_message(desc: Descriptor) -> Message:
    return message_factory.GetMessageClass(desc)()


def message_name(f: FieldDescriptor) -> str:
    return f.containing_type.name if f.containing_type is not None else ""


def message_of(f: FieldDescriptor) -> Descriptor:
    assert f.message_type is not None, f.full_name
    return f.message_type


def entry_fields(f: FieldDescriptor) -> tuple[FieldDescriptor, FieldDescriptor]:
    """The key and value fields of a map field."""
    entry = message_of(f)
    return entry.fields_by_name["key"], entry.fields_by_name["value"]


def is_map(f: FieldDescriptor) -> bool:
    return f.message_type is not None and f.message_type.GetOptions().map_entry


def is_synthetic(oneof: OneofDescriptor) -> bool:
    """The oneof protoc makes for a proto3 ``optional`` field."""
    return len(oneof.fields) == 1 and oneof.name == "_" + oneof.fields[0].name


STRUCT = "google.protobuf.Struct"
VALUE = "google.protobuf.Value"
LIST_VALUE = "google.protobuf.ListValue"
DURATION = "google.protobuf.Duration"
TIMESTAMP = "google.protobuf.Timestamp"
WELL_KNOWN = {STRUCT, VALUE, LIST_VALUE, DURATION, TIMESTAMP}

# -- hostile values ----------------------------------------------------------------------

#: A field left at its default (not set at all).
UNSET: Any = object()
#: A google.protobuf.Value with no kind set.
EMPTY_VALUE: Any = object()

NOW = int(time.time())
CONTROL = [chr(c) for c in (*range(0x20), 0x7F, 0x85, 0x9B, 0x200B, 0x2028, 0x202E, 0xFEFF)]
SPECIAL_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\t\n\r",
    "'",
    '"',
    "\\",
    "%",
    "_",
    "%_%",
    "' OR '1'='1",
    "'; DROP TABLE executions; --",
    "../../etc/passwd",
    "null",
    "NaN",
    "-1",
    "1e309",
    "\u202e\u0635\u0644",
    "\ufeff",
    "\U0001f600",
    "\U0010ffff",
    "\u0301",
    "İı",
    "ﬃ",
    *("a" * n for n in (64, 65, 100, 101, 128, 129, 150, 151, 256, 257, 1024, 1025, 2048, 2049)),
    "\U0001f600" * 100,
    "é" * 2000,
]
HOSTILE_TEXT: SearchStrategy[str] = st.one_of(
    st.sampled_from(SPECIAL_TEXT),
    st.text(max_size=30),
    st.text(st.characters(min_codepoint=0x10000), min_size=1, max_size=10),
    st.text(st.sampled_from(CONTROL), min_size=1, max_size=10),
    st.builds(
        lambda a, c, b: a + c + b,
        st.text(string.ascii_lowercase, max_size=8),
        st.sampled_from(CONTROL),
        st.text(string.ascii_lowercase, max_size=8),
    ),
    # Long strings, cheap to draw: a short piece repeated up to 5,000 characters.
    st.builds(
        lambda piece, n: (piece * n)[:5000],
        st.text(min_size=1, max_size=4),
        st.integers(1, 5000),
    ),
)
INT32_EDGES = [0, 1, -1, 2, 63, 64, 65, 100, 999, 1000, 1001, 2**31 - 1, -(2**31), 2**31 - 2]
INT64_EDGES = [*INT32_EDGES, 2**63 - 1, -(2**63), 2**53, 2**53 + 1, -(2**53) - 1, 2**32, 2**62]
DOUBLE_EDGES = [
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -1e308,
    1.7976931348623157e308,
    -0.0,
    0.0,
    5e-324,
    2.2250738585072014e-308,
    1e-300,
    1e15,
    1e15 + 1,
    1e16,
    -1e16,
    2.0**53 + 1,
    0.1,
    -1.0,
]
HOSTILE_DOUBLE = st.one_of(st.sampled_from(DOUBLE_EDGES), st.floats())
SCALAR_HOSTILE: dict[int, SearchStrategy[Any]] = {
    FieldDescriptor.TYPE_STRING: HOSTILE_TEXT,
    FieldDescriptor.TYPE_BYTES: st.binary(max_size=64),
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_DOUBLE: HOSTILE_DOUBLE,
    FieldDescriptor.TYPE_FLOAT: HOSTILE_DOUBLE,
}
for _t in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32):
    SCALAR_HOSTILE[_t] = st.one_of(st.sampled_from(INT32_EDGES), st.integers(-(2**31), 2**31 - 1))
for _t in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64):
    SCALAR_HOSTILE[_t] = st.one_of(st.sampled_from(INT64_EDGES), st.integers(-(2**63), 2**63 - 1))
for _t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
    SCALAR_HOSTILE[_t] = st.one_of(
        st.sampled_from([0, 1, 2**31, 2**32 - 1]), st.integers(0, 2**32 - 1)
    )
for _t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
    SCALAR_HOSTILE[_t] = st.one_of(
        st.sampled_from([0, 1, 2**63, 2**64 - 1]), st.integers(0, 2**64 - 1)
    )

#: Seconds of Durations and Timestamps at protobuf's documented limits and beyond.
DURATION_SECONDS = [
    0,
    1,
    -1,
    59,
    10 * 366 * 86_400,
    10 * 366 * 86_400 + 1,
    315_576_000_000,
    -315_576_000_000,
    315_576_000_001,
    -315_576_000_001,
    2**62,
    -(2**62),
    2**63 - 1,
    -(2**63),
]
TIMESTAMP_SECONDS = [
    0,
    -1,
    1,
    NOW,
    -62_135_596_800,  # 0001-01-01, protobuf's minimum
    -62_135_596_801,
    253_402_300_799,  # 9999-12-31T23:59:59, protobuf's maximum
    253_402_300_800,
    16_725_225_600,
    2**62,
    -(2**62),
    2**63 - 1,
    -(2**63),
]
NANOS = [0, 1, -1, 999_999_999, -999_999_999, 1_000_000_000, -1_000_000_000, 2**31 - 1, -(2**31)]


def _time_value(cls: Any, edges: list[int]) -> SearchStrategy[Any]:
    return st.builds(
        lambda s, n: cls(seconds=s, nanos=n),
        st.one_of(
            st.sampled_from(edges), st.integers(-(2**63), 2**63 - 1), st.integers(-100, 10**6)
        ),
        st.one_of(st.sampled_from(NANOS), st.integers(-(2**31), 2**31 - 1)),
    )


HOSTILE_DURATION = _time_value(duration_pb2.Duration, DURATION_SECONDS)
HOSTILE_TIMESTAMP = _time_value(timestamp_pb2.Timestamp, TIMESTAMP_SECONDS)


def duration(seconds: float) -> duration_pb2.Duration:
    whole = int(seconds)
    return duration_pb2.Duration(seconds=whole, nanos=round((seconds - whole) * 1e9))


def timestamp(seconds: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds)


# JSON-like values for Structs: None, bool, float, str, list, dict, EMPTY_VALUE.
HOSTILE_KEY = st.one_of(
    st.sampled_from(["", "\x00", "a\x00b", "a.b", "$", "k" * 300]), HOSTILE_TEXT
)
HOSTILE_LEAF: SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), HOSTILE_DOUBLE, HOSTILE_TEXT, st.just(EMPTY_VALUE)
)


def _nest(leaf: Any, depth: int, pattern: int, key: str) -> dict[str, Any]:
    """``leaf`` inside ``depth`` objects and lists (the bits of ``pattern`` choose)."""
    value = leaf
    for level in range(depth):
        value = [value] if pattern >> (level % 62) & 1 else {key: value}
    return {key: value}


SHORT_LEAF: SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), HOSTILE_DOUBLE, st.text(max_size=10), st.just(EMPTY_VALUE)
)
HOSTILE_JSON_OBJECT: SearchStrategy[dict[str, Any]] = st.one_of(
    # Nearly valid: one hostile member, at the top or nested.
    st.builds(
        lambda base, key, leaf, depth: {**base, **_nest(leaf, depth, 0, key)},
        st.deferred(lambda: VALID_JSON_OBJECT),
        st.one_of(st.sampled_from(["a", "rows"]), HOSTILE_KEY),
        st.one_of(st.sampled_from(DOUBLE_EDGES[:6]), HOSTILE_LEAF),
        st.integers(0, 3),
    ),
    st.dictionaries(
        HOSTILE_KEY,
        st.recursive(
            HOSTILE_LEAF,
            lambda inner: (
                st.lists(inner, max_size=4) | st.dictionaries(HOSTILE_KEY, inner, max_size=4)
            ),
            max_leaves=8,
        ),
        max_size=5,
    ),
    # Deep: up to 60 levels of objects and lists.
    st.builds(_nest, HOSTILE_LEAF, st.integers(1, 60), st.integers(0, 2**62), HOSTILE_KEY),
    # Wide: many keys.
    st.builds(lambda leaf, n: {f"k{i}": leaf for i in range(n)}, SHORT_LEAF, st.integers(50, 3000)),
    # Many values in a list.
    st.builds(lambda leaf, n: {"list": [leaf] * n}, SHORT_LEAF, st.integers(50, 12_000)),
)
VALID_LEAF: SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000).map(float),
    st.text(string.ascii_letters + " ", max_size=10),
)
VALID_JSON_OBJECT: SearchStrategy[dict[str, Any]] = st.dictionaries(
    st.sampled_from(["a", "b", "rows", "day", "nested"]),
    st.recursive(
        VALID_LEAF,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("xyz"), inner, max_size=3)
        ),
        max_leaves=5,
    ),
    max_size=3,
)


def fill_value(obj: Any, out: struct_pb2.Value) -> None:
    if obj is EMPTY_VALUE:
        return
    if obj is None:
        out.null_value = struct_pb2.NULL_VALUE
    elif isinstance(obj, bool):
        out.bool_value = obj
    elif isinstance(obj, int | float):
        out.number_value = float(obj)
    elif isinstance(obj, str):
        out.string_value = obj
    elif isinstance(obj, list):
        out.list_value.SetInParent()
        for item in obj:
            fill_value(item, out.list_value.values.add())
    else:
        out.struct_value.SetInParent()
        fill_struct(obj, out.struct_value)


def fill_struct(obj: dict[str, Any], out: struct_pb2.Struct) -> None:
    for key, value in obj.items():
        fill_value(value, out.fields[key])


def to_struct(obj: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    fill_struct(obj, out)
    return out


def to_value(obj: Any) -> struct_pb2.Value:
    out = struct_pb2.Value()
    fill_value(obj, out)
    return out


def to_list_value(obj: list[Any]) -> struct_pb2.ListValue:
    return to_value(obj).list_value


HOSTILE_WELL_KNOWN: dict[str, SearchStrategy[Message]] = {
    STRUCT: HOSTILE_JSON_OBJECT.map(to_struct),
    VALUE: st.one_of(HOSTILE_LEAF, HOSTILE_JSON_OBJECT).map(to_value),
    LIST_VALUE: HOSTILE_JSON_OBJECT.map(lambda obj: to_list_value(list(obj.values()))),
    DURATION: HOSTILE_DURATION,
    TIMESTAMP: HOSTILE_TIMESTAMP,
}
VALID_WELL_KNOWN: dict[str, SearchStrategy[Message]] = {
    STRUCT: VALID_JSON_OBJECT.map(to_struct),
    VALUE: VALID_LEAF.map(to_value),
    LIST_VALUE: st.lists(VALID_LEAF, max_size=3).map(to_list_value),
    DURATION: st.integers(1, 3600).map(duration),
    TIMESTAMP: st.integers(NOW - 2 * 86_400, NOW + 2 * 86_400).map(timestamp),
}


def mutate_text(valid: str, how: int, extra: str, times: int) -> str:
    """A valid value with one hostile change."""
    half = len(valid) // 2
    variants = [
        valid + extra,
        extra + valid,
        valid[:half] + extra + valid[half:],
        ((valid or "x") * times)[:5000],
        valid + "\x00",
        valid.upper(),
        " " + valid,
        valid + "\n",
        valid[:-1],
        valid * 2,
        valid + "\u0301",
        valid[::-1],
    ]
    return variants[how % len(variants)]


# -- page tokens ---------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64_json(obj: Any) -> str:
    return b64(json.dumps(obj).encode())


def flip_chars(token: str, edits: list[tuple[int, str]]) -> str:
    chars = list(token) or ["A"]
    for position, char in edits:
        chars[position % len(chars)] = char
    return "".join(chars)


def _json_part(token: str) -> tuple[int, Any]:
    """(index, content) of the first '.'-separated part of a token that is base64url JSON."""
    for index, part in enumerate(token.split(".")):
        try:
            return index, json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        except ValueError:  # binascii.Error, UnicodeDecodeError, JSONDecodeError
            continue
    raise ValueError("no JSON in the token")


def _paths(obj: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, (*path, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield from _paths(value, (*path, index))


def retamper(token: str, replacement: Any, choice: int) -> str:
    """A real token with one value inside its JSON replaced (the rest, a MAC say, kept)."""
    try:
        index, obj = _json_part(token)
    except ValueError:
        return token[::-1]
    paths = list(_paths(obj))
    path = paths[choice % len(paths)]
    if not path:
        obj = replacement
    else:
        parent = obj
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = replacement
    parts = token.split(".")
    parts[index] = b64_json(obj)
    return ".".join(parts)


TOKEN_CHARS = string.ascii_letters + string.digits + "-_=+/!%\x00é"
JSON_ANY: SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from([0, -1, 2**31, 2**63, -(2**63) - 1, 10**30, -(10**30)]),
        st.integers(),
        st.floats(),
        st.text(max_size=10),
    ),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


def token_strategy(real: list[str]) -> SearchStrategy[str]:
    tokens = st.sampled_from(real)
    return st.one_of(
        tokens,
        st.builds(
            flip_chars,
            tokens,
            st.lists(
                st.tuples(st.integers(0, 10**6), st.sampled_from(TOKEN_CHARS)),
                min_size=1,
                max_size=3,
            ),
        ),
        st.builds(lambda t, n: t[: n % max(1, len(t))], tokens, st.integers(0, 10**6)),
        st.builds(
            lambda t, s: t + s, tokens, st.sampled_from(["=", "==", "A", "!", "\x00", "%3D", "."])
        ),
        st.builds(retamper, tokens, JSON_ANY, st.integers(0, 10**6)),
        st.builds(b64_json, JSON_ANY),
        st.builds(b64, st.binary(max_size=48)),
        HOSTILE_TEXT,
    )


# -- the real ids ----------------------------------------------------------------------

NAMESPACE = "fuzz.team"
FLOW = "etl"


@dataclass
class World:
    """Real executions and task runs, in various states, and what refers to them."""

    execution_ids: list[str]
    task_run_ids: list[str]
    request_ids: list[str]
    page_tokens: list[str]
    #: A RUNNING execution and its RUNNING task run (with metrics).
    running_execution: str
    running_task_run: str


def build_world(channel: grpc.Channel, generation: int) -> World:
    ex = execution_service_pb2_grpc.ExecutionServiceStub(channel)
    mx = metric_service_pb2_grpc.MetricServiceStub(channel)
    s = st_pb
    request_ids = [f"fuzz-{generation}-create", f"fuzz-{generation}-move", "fuzz-shared"]

    def create(**kwargs: Any) -> str:
        kwargs.setdefault("namespace", NAMESPACE)
        kwargs.setdefault("flow_id", FLOW)
        return str(ex.CreateExecution(pb.CreateExecutionRequest(**kwargs)).execution.id)

    def task(execution_id: str, task_id: str = "extract", **kwargs: Any) -> str:
        request = pb.CreateTaskRunRequest(execution_id=execution_id, task_id=task_id, **kwargs)
        return str(ex.CreateTaskRun(request).task_run.id)

    def move(task_run_id: str, *states: Any, **kwargs: Any) -> None:
        for state in states:
            ex.TransitionTaskRun(
                pb.TransitionTaskRunRequest(task_run_id=task_run_id, state=state, **kwargs)
            )

    def created_chain() -> list[str]:
        created = create(
            labels={"team": "data", "env": "prod"},
            inputs=to_struct({"day": "2026-01-01", "n": 1.0}),
            request_id=request_ids[0],
        )
        return [created, create(parent_execution_id=created, flow_id="load")]

    def running_chain() -> list[str]:
        running = create(labels={"team": "data"})
        t_running = task(
            running,
            retry_policy=execution_pb2.RetryPolicy(
                constant=execution_pb2.RetryPolicy.Constant(interval=duration(1)), max_attempts=3
            ),
        )
        move(t_running, s.STATE_RUNNING, worker_id="worker-1")
        t_created = task(running, "load", parent_task_run_id=t_running, value="v1")
        t_paused = task(running, "wait")
        move(t_paused, s.STATE_RUNNING)
        ex.PauseExecution(
            pb.PauseExecutionRequest(
                execution_id=running,
                task_run_id=t_paused,
                timeout=duration(3600),
                on_timeout=pb.PAUSE_TIMEOUT_ACTION_FAIL,
            )
        )
        t_succeeded = task(running, "check")
        move(t_succeeded, s.STATE_RUNNING)
        move(
            t_succeeded,
            s.STATE_SUCCESS,
            outputs=to_struct({"rows": 3.0}),
            request_id=request_ids[1],
        )
        mx.RecordMetrics(
            metric_service_pb2.RecordMetricsRequest(
                task_run_id=t_running,
                metrics=[
                    metric_pb2.MetricEntry(name="rows", counter=3, tags={"table": "orders"}),
                    metric_pb2.MetricEntry(name="rows", counter=5, tags={"table": "users"}),
                    metric_pb2.MetricEntry(name="duration", timer=duration(1.5)),
                ],
            )
        )
        return [running, t_running, t_created, t_paused, t_succeeded]

    def paused_chain() -> list[str]:  # PAUSED, with a delay
        paused = create()
        t_paused = task(paused)
        move(t_paused, s.STATE_RUNNING)
        ex.PauseExecution(pb.PauseExecutionRequest(execution_id=paused, delay=duration(3600)))
        return [paused, t_paused]

    def ended_chain(end: int) -> list[str]:  # SUCCESS or FAILED
        execution = create()
        task_run = task(execution)
        move(task_run, s.STATE_RUNNING, end)
        ex.CompleteExecution(pb.CompleteExecutionRequest(execution_id=execution))
        return [execution, task_run]

    def killing_chain() -> list[str]:  # KILLING, its task run KILLING
        killing = create()
        task_run = task(killing)
        move(task_run, s.STATE_RUNNING)
        ex.KillExecution(pb.KillExecutionRequest(execution_id=killing))
        return [killing, task_run]

    def killed_chain() -> list[str]:  # KILLED at once: nothing was running
        killed = create()
        task_run = task(killed)
        ex.KillExecution(pb.KillExecutionRequest(execution_id=killed))
        return [killed, task_run]

    def restarted_chain() -> list[str]:  # RESTARTED after FAILED
        execution, task_run = ended_chain(s.STATE_FAILED)
        ex.RestartExecution(pb.RestartExecutionRequest(execution_id=execution))
        return [execution, task_run]

    # Independent chains, in parallel.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        chains = [
            pool.submit(chain)
            for chain in (
                created_chain,
                running_chain,
                paused_chain,
                lambda: ended_chain(s.STATE_SUCCESS),
                lambda: ended_chain(s.STATE_FAILED),
                killing_chain,
                killed_chain,
                restarted_chain,
            )
        ]
        (created, child), running_ids, *others = [c.result() for c in chains]
    running, t_running, t_created, t_paused, t_succeeded = running_ids

    tokens = [
        ex.ListExecutions(pb.ListExecutionsRequest(page_size=1)).next_page_token,
        ex.ListExecutions(
            pb.ListExecutionsRequest(namespace=NAMESPACE, flow_id=FLOW, page_size=2)
        ).next_page_token,
        mx.ListMetrics(
            metric_service_pb2.ListMetricsRequest(execution_id=running, page_size=1)
        ).next_page_token,
        mx.ListMetrics(
            metric_service_pb2.ListMetricsRequest(task_run_id=t_running, page_size=1)
        ).next_page_token,
    ]
    assert all(tokens), f"expected a next page from every list: {tokens}"
    return World(
        execution_ids=[created, child, running, *(chain[0] for chain in others)],
        task_run_ids=[t_running, t_created, t_paused, t_succeeded, *(c[1] for c in others)],
        request_ids=request_ids,
        page_tokens=tokens,
        running_execution=running,
        running_task_run=t_running,
    )


# -- requests from descriptors -----------------------------------------------------------

VALID, ONE, RANDOM = "valid", "one hostile field", "random"
#: Fresh request ids.
FRESH = itertools.count()
#: Fields mostly left unset in a valid request (set, they mostly fail: ABORTED).
RARE = {"expected_revision"}
#: Fields often left unset in a valid request.
OPTIONAL = {
    "request_id",
    "page_token",
    "parent_execution_id",
    "parent_task_run_id",
    "delay",
    "timeout",
    "on_timeout",
    "retry_policy",
    "group_by_tag",
    "bucket_width",
    "heartbeat_interval",
    "after_sequence",
    "from_latest",
    "inputs",
    "outputs",
    "value",
    "worker_id",
    "description",
    "reason",
    "page_size",
    "view",
    "attempt",
    "flow_revision",
    "max_duration",
    "warning_on_retry",
    "PauseExecutionRequest.task_run_id",
    "ResumeExecutionRequest.task_run_id",
    "CompleteExecutionRequest.state",
    "ListExecutionsRequest.namespace",
    "ListExecutionsRequest.flow_id",
    "CountExecutionsRequest.namespace",
    "CountExecutionsRequest.flow_id",
    "ListMetricsRequest.execution_id",
    "ListMetricsRequest.task_run_id",
    "ListMetricsRequest.task_id",
    "AggregateMetricsRequest.flow_id",
    "AggregateMetricsRequest.task_id",
    "SubscribeRequest.filter",
    "EventFilter.namespace",
    "EventFilter.flow_id",
}


def sometimes(value: SearchStrategy[Any], eighths: int) -> SearchStrategy[Any]:
    """``value`` in about ``eighths`` of 8 draws, else UNSET (set at both ends: hypothesis
    favours the ends of a choice)."""
    flags = [True, *[False] * (8 - eighths), *[True] * (eighths - 1)]
    return st.tuples(st.sampled_from(flags), value).map(lambda t: t[1] if t[0] else UNSET)


class Requests:
    """Hypothesis strategies for any message, from its descriptor.

    Valid values come from ``hints``, keyed by field name (for a repeated
    field: its elements; for a map: its keys and values), else from the
    field's type; hostile values from the type (and mutations of valid ones).
    """

    def __init__(self, world: World) -> None:
        # Mostly real ids, some unknown ones, some of the other kind (real ones at both
        # ends of the list: hypothesis favours the ends).
        unknown = [str(uuid.uuid4()) for _ in range(3)]
        execution_id = st.sampled_from(
            [*world.execution_ids, *unknown, *world.task_run_ids[:2], *world.execution_ids]
        )
        task_run_id = st.sampled_from(
            [*world.task_run_ids, *unknown, *world.execution_ids[:2], *world.task_run_ids]
        )
        short_text = st.text(string.ascii_letters + string.digits + " .-é", max_size=20)
        self.tokens = token_strategy(world.page_tokens)
        self.hints: dict[str, SearchStrategy[Any]] = {
            "namespace": st.sampled_from([NAMESPACE, NAMESPACE, "demo", "a", "a" * 150]),
            "flow_id": st.sampled_from([FLOW, FLOW, "load", "A", "A-1.b_c", "f" * 100]),
            "task_id": st.sampled_from(["extract", "load", "wait", "check", "T-1.x_y"]),
            "execution_id": execution_id,
            "parent_execution_id": execution_id,
            "execution_ids": execution_id,
            "task_run_id": task_run_id,
            "parent_task_run_id": task_run_id,
            # Mostly fresh, sometimes one already used (for this method or another).
            "request_id": st.one_of(
                *[st.builds(lambda: f"fuzz-{next(FRESH)}")] * 4, st.sampled_from(world.request_ids)
            ),
            "page_token": st.sampled_from(world.page_tokens),
            "reason": short_text,
            "value": short_text,
            "worker_id": short_text,
            "description": short_text,
            "name": st.sampled_from(["rows", "duration", "bytes.out"]),
            "group_by_tag": st.just("table"),
            "labels": st.tuples(
                st.sampled_from(["team", "env", "a/b.c-d_e"]), st.sampled_from(["data", "prod", ""])
            ),
            "tags": st.tuples(
                st.sampled_from(["table", "db"]), st.sampled_from(["orders", "users"])
            ),
            "page_size": st.one_of(st.integers(1, 3), st.just(1000)),
            "flow_revision": st.integers(0, 3),
            "attempt": st.integers(0, 2),
            "after_sequence": st.integers(0, 40),
            "expected_revision": st.integers(0, 12),
            "counter": st.floats(0, 1000),
            "timer": st.floats(0, 100).map(duration),
            "factor": st.floats(1, 5),
            "max_attempts": st.integers(1, 5),
            "delay": st.sampled_from([600, 3600, 86_400]).map(duration),
            "timeout": st.sampled_from([600, 3600, 86_400]).map(duration),
            "heartbeat_interval": st.floats(0.1, 1).map(duration),
            "start_time": st.integers(NOW - 3 * 86_400, NOW).map(timestamp),
            "end_time": st.integers(NOW, NOW + 86_400).map(timestamp),
        }

    # -- whole requests

    def request(self, desc: Descriptor) -> SearchStrategy[tuple[str, Message]]:
        """(what kind of request, the request): mostly one hostile field in a valid request."""

        @st.composite
        def build(draw: st.DrawFn) -> tuple[str, Message]:
            mode = draw(st.sampled_from([VALID, ONE, ONE, ONE, RANDOM]))
            message, where = self.draw_message(draw, desc, mode)
            return (f"{mode}: {where}" if where else mode), message

        return build()

    def message(self, desc: Descriptor, mode: str, depth: int = 0) -> SearchStrategy[Message]:
        if desc.full_name in WELL_KNOWN:
            return (VALID_WELL_KNOWN if mode == VALID else HOSTILE_WELL_KNOWN)[desc.full_name]

        @st.composite
        def build(draw: st.DrawFn) -> Message:
            return self.draw_message(draw, desc, mode, depth)[0]

        return build()

    def draw_message(
        self, draw: st.DrawFn, desc: Descriptor, mode: str, depth: int = 0
    ) -> tuple[Message, str]:
        """A message, and in ONE mode the path of the field that got the hostile value."""
        if desc.full_name in WELL_KNOWN:
            return draw(self.message(desc, mode)), ""
        message = new_message(desc)
        fields = list(desc.fields)
        target = draw(st.sampled_from(fields)) if mode == ONE and fields else None
        where = ""
        skipped: set[str] = set()
        for oneof in desc.oneofs:
            if is_synthetic(oneof):
                continue
            members = list(oneof.fields)
            keep: FieldDescriptor | None
            if target in members:
                keep = target
            elif mode == VALID:
                keep = draw(st.sampled_from(members))
            else:
                keep = draw(st.sampled_from([*members, None]))
            skipped.update(f.name for f in members if f is not keep)
        for f in fields:
            if f.name in skipped:
                continue
            if f is target:
                if self.is_plain_message(f) and depth < 3:
                    sub, inner = self.draw_message(draw, message_of(f), ONE, depth + 1)
                    getattr(message, f.name).CopyFrom(sub)
                    where = f"{f.name}.{inner}" if inner else f.name
                else:
                    set_field(message, f, draw(self.hostile(f, depth)))
                    where = f.name
                continue
            if mode == RANDOM:
                value = draw(st.one_of(st.just(UNSET), self.hostile(f, depth)))
            else:
                value = draw(self.valid(f, depth))
            if value is not UNSET:
                set_field(message, f, value)
        return message, where

    @staticmethod
    def is_plain_message(f: FieldDescriptor) -> bool:
        return (
            f.message_type is not None
            and not f.is_repeated
            and f.message_type.full_name not in WELL_KNOWN
        )

    # -- valid values

    def valid(self, f: FieldDescriptor, depth: int) -> SearchStrategy[Any]:
        """A valid value for ``f``, or UNSET."""
        if is_map(f):
            key, value = entry_fields(f)
            hint = self.hints.get(f.name)
            pairs = (
                hint
                if hint is not None
                else st.tuples(self.valid_element(key, depth), self.valid_element(value, depth))
            )
            return st.lists(pairs, max_size=3).map(dict)
        if f.is_repeated:
            return st.lists(self.valid_element(f, depth), max_size=3)
        element = self.valid_element(f, depth)
        if f.name in RARE:
            return sometimes(element, 2)
        if f.name in OPTIONAL or f"{message_name(f)}.{f.name}" in OPTIONAL:
            return sometimes(element, 4)
        if f.enum_type is not None:  # UNSPECIFIED (unset) is sometimes right
            return sometimes(element, 7)
        return element

    def valid_element(self, f: FieldDescriptor, depth: int) -> SearchStrategy[Any]:
        hint = self.hints.get(f.name)
        if hint is not None:
            return hint
        if f.message_type is not None:
            return self.message(f.message_type, VALID, depth + 1)
        if f.enum_type is not None:
            return st.sampled_from([v.number for v in f.enum_type.values if v.number] or [0])
        if f.type == FieldDescriptor.TYPE_STRING:
            return st.text(string.ascii_letters + string.digits, min_size=1, max_size=8)
        if f.type == FieldDescriptor.TYPE_BOOL:
            return st.booleans()
        if f.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return st.floats(0, 100)
        if f.type == FieldDescriptor.TYPE_BYTES:
            return st.binary(max_size=8)
        return st.integers(0, 10)

    # -- hostile values

    def hostile(self, f: FieldDescriptor, depth: int) -> SearchStrategy[Any]:
        """A hostile value for ``f`` (never UNSET)."""
        if is_map(f):
            key, value = entry_fields(f)
            hint = self.hints.get(f.name)
            valid_pair = (
                hint
                if hint is not None
                else st.tuples(self.valid_element(key, depth), self.valid_element(value, depth))
            )
            pair = st.one_of(
                valid_pair,
                st.tuples(self.hostile_element(key, depth), self.hostile_element(value, depth)),
                st.tuples(valid_pair.map(lambda p: p[0]), self.hostile_element(value, depth)),
                st.tuples(self.hostile_element(key, depth), valid_pair.map(lambda p: p[1])),
            )
            return st.one_of(
                st.lists(pair, max_size=50).map(dict),
                # Many entries (300 labels, say), cheap to draw.
                st.builds(
                    lambda p, n: {f"{p[0]}{i}": p[1] for i in range(n)},
                    valid_pair,
                    st.integers(51, 400),
                ),
            )
        element = st.one_of(self.valid_element(f, depth), self.hostile_element(f, depth))
        if f.is_repeated:
            return st.one_of(
                st.lists(element, max_size=50),
                st.builds(lambda e, n: [e] * n, element, st.integers(51, 1500)),
            )
        return self.hostile_element(f, depth)

    def hostile_element(self, f: FieldDescriptor, depth: int) -> SearchStrategy[Any]:
        if f.message_type is not None:
            if f.message_type.full_name in WELL_KNOWN:
                return HOSTILE_WELL_KNOWN[f.message_type.full_name]
            if depth >= 3:
                return st.just(new_message(f.message_type))
            return st.one_of(
                self.message(f.message_type, ONE, depth + 1),
                self.message(f.message_type, RANDOM, depth + 1),
            )
        if f.enum_type is not None:
            known = [v.number for v in f.enum_type.values]
            return st.sampled_from([len(known), 99, -1, 1000, 2**31 - 1, -(2**31), *known])
        if f.type == FieldDescriptor.TYPE_STRING:
            mutated = st.builds(
                mutate_text,
                self.valid_element(f, depth),
                st.integers(0, 100),
                HOSTILE_TEXT,
                st.integers(2, 5000),
            )
            if f.name == "page_token":
                return st.one_of(self.tokens, self.tokens, mutated, HOSTILE_TEXT)
            return st.one_of(mutated, mutated, HOSTILE_TEXT)
        return SCALAR_HOSTILE[f.type]

    # -- undecodable bytes

    def raw(self, desc: Descriptor) -> SearchStrategy[tuple[str, bytes, str]]:
        """(what kind, the bytes, the request they came from) that should not decode."""
        valid = self.message(desc, VALID)
        strategies = [
            st.binary(max_size=200).map(lambda b: ("random bytes", b, "")),
            st.builds(truncated, valid, st.integers(0, 10**6)),
            st.builds(wrong_wire_types, st.lists(wire_field(desc), min_size=1, max_size=5)),
        ]
        slots = string_slots(desc)
        if slots:
            strategies.append(
                st.builds(bad_utf8, valid, st.sampled_from(slots), st.sampled_from(BAD_UTF8))
            )
        return st.one_of(*strategies)


# -- a deterministic sweep: every field of a valid request, in turn, with the worst values


#: One canonical element (for a repeated message field).
ONE_ELEMENT: Any = object()


def canonical_values(world: World) -> dict[str, Any]:
    """The fields a canonical valid request sets (by name, or "Message.name"), others unset."""
    return {
        "namespace": NAMESPACE,
        "flow_id": FLOW,
        "task_id": "extract",
        "execution_id": world.running_execution,
        "execution_ids": [world.running_execution],
        "task_run_id": world.running_task_run,
        "state": st_pb.STATE_SUCCESS,
        "states": [st_pb.STATE_RUNNING],
        "name": "rows",
        "type": metric_pb2.METRIC_TYPE_COUNTER,
        "start_time": timestamp(NOW - 86_400),
        "end_time": timestamp(NOW + 3_600),
        "metrics": ONE_ELEMENT,
        "counter": 1.0,
        "interval": duration(1),
        "min_interval": duration(1),
        "max_interval": duration(10),
        "factor": 2.0,
        "max_attempts": 3,
        # Optional filters and choices stay unset.
        "ListExecutionsRequest.namespace": UNSET,
        "ListExecutionsRequest.flow_id": UNSET,
        "ListExecutionsRequest.states": UNSET,
        "ListMetricsRequest.task_run_id": UNSET,
        "ListMetricsRequest.task_id": UNSET,
        "PauseExecutionRequest.task_run_id": UNSET,
        "ResumeExecutionRequest.task_run_id": UNSET,
        "CompleteExecutionRequest.state": UNSET,
        "AggregateMetricsRequest.flow_id": UNSET,
        "AggregateMetricsRequest.task_id": UNSET,
        "EventFilter.execution_ids": UNSET,
        "EventFilter.states": UNSET,
    }


def canonical(desc: Descriptor, values: dict[str, Any]) -> Message:
    message = new_message(desc)
    for f in desc.fields:
        value = values.get(f"{desc.name}.{f.name}", values.get(f.name, UNSET))
        if value is ONE_ELEMENT:
            value = [canonical(message_of(f), values)]
        if value is not UNSET:
            set_field(message, f, value)
    return message


SWEEP_TEXT: list[tuple[str, Callable[[str], str]]] = [
    ("NUL", lambda v: v + "\x00"),
    ("an escape sequence", lambda v: v + "\x1b[2J"),
    ("5,000 characters", lambda v: (v or "x") + "é" * 4999),
    ("non-BMP characters", lambda v: "\U0001f600\U0010ffff" + v),
]
SWEEP_STRUCT: list[tuple[str, Any]] = [
    ("NaN", {"a": math.nan}),
    ("Infinity", {"a": {"b": [-math.inf]}}),
    ("NUL in a key", {"a\x00b": 1.0}),
    ("NUL in a string", {"s": "\x00"}),
    ("60 levels", _nest(1.0, 60, 0x5555_5555_5555_5555, "k")),
    ("3,000 keys", {f"k{i}": i * 1.0 for i in range(3000)}),
    ("a Value with no kind", {"v": EMPTY_VALUE}),
]
SWEEP_SECONDS = {
    DURATION: [(315_576_000_001, 0), (-315_576_000_001, 0), (2**62, 0), (1, -1), (0, 10**9)],
    TIMESTAMP: [(2**62, 0), (-(2**62), 0), (253_402_300_800, 0), (NOW, 10**9)],
}
SWEEP_SCALARS: dict[int, list[Any]] = {
    FieldDescriptor.TYPE_INT32: [-1, 2**31 - 1, -(2**31)],
    FieldDescriptor.TYPE_INT64: [-1, 2**63 - 1, -(2**63)],
    FieldDescriptor.TYPE_DOUBLE: [math.nan, math.inf, 1e308],
    FieldDescriptor.TYPE_BOOL: [True],
}
#: JSON values that replace, in turn, each value inside a real page token.
SWEEP_TOKEN_VALUES: list[Any] = [10**30, "x", None, [], -1, 1.5, {"a": 1}, [1, 2, 3]]


def sweep_values(f: FieldDescriptor, base: Any, world: World) -> Iterator[tuple[str, Any]]:
    """(what, value) for a singular field: the worst values of its type."""
    if f.message_type is not None:
        name = f.message_type.full_name
        if name == STRUCT:
            for what, obj in SWEEP_STRUCT:
                yield what, to_struct(obj)
        elif name in SWEEP_SECONDS:
            cls = duration_pb2.Duration if name == DURATION else timestamp_pb2.Timestamp
            for seconds, nanos in SWEEP_SECONDS[name]:
                yield f"seconds={seconds} nanos={nanos}", cls(seconds=seconds, nanos=nanos)
    elif f.enum_type is not None:
        yield "an unknown enum value", 99
    elif f.type == FieldDescriptor.TYPE_STRING:
        for what, change in SWEEP_TEXT:
            yield what, change(base if isinstance(base, str) else "")
        if f.name == "page_token":
            yield from sweep_tokens(world.page_tokens)
    else:
        for value in SWEEP_SCALARS.get(f.type, []):
            yield repr(value), value


def sweep_tokens(tokens: list[str]) -> Iterator[tuple[str, str]]:
    for number, token in enumerate(tokens):
        yield (
            f"token {number} with a character changed",
            flip_chars(token, [(len(token) // 2, "!")]),
        )
        yield f"token {number} truncated", token[: len(token) // 2]
        parts = token.split(".")
        if len(parts) > 1:
            yield f"token {number} without its last part", ".".join(parts[:-1])
            yield f"token {number} with its parts swapped", ".".join(reversed(parts))
        try:
            obj = _json_part(token)[1]
        except ValueError:
            continue
        for index, path in enumerate(list(_paths(obj))[1:]):
            for replacement in SWEEP_TOKEN_VALUES[index % 4 :: 4]:
                yield (
                    f"token {number} with {'/'.join(map(str, path))}={replacement!r}",
                    retamper(token, replacement, index + 1),
                )


def scalar_example(f: FieldDescriptor) -> Any:
    if f.enum_type is not None:
        return max(v.number for v in f.enum_type.values)
    return {FieldDescriptor.TYPE_STRING: "x", FieldDescriptor.TYPE_BOOL: True}.get(f.type, 1)


def sweep(
    desc: Descriptor, values: dict[str, Any], world: World, depth: int = 0
) -> Iterator[tuple[str, Message]]:
    """A canonical valid request with one field, in turn, set to each of its worst values."""
    base = canonical(desc, values)

    def variant(f: FieldDescriptor, value: Any) -> Message:
        message = type(base)()
        message.CopyFrom(base)
        message.ClearField(f.name)
        set_field(message, f, value)
        return message

    for f in desc.fields:
        current = getattr(base, f.name)
        if is_map(f):
            key_field, value_field = entry_fields(f)
            if value_field.message_type is None:
                yield f"{f.name}: 300 entries", variant(f, {f"k{i}": "v" for i in range(300)})
                for what, key in sweep_values(key_field, "k", world):
                    yield f"{f.name}: {what} in a key", variant(f, {key: "v"})
                for what, value in sweep_values(value_field, "v", world):
                    yield f"{f.name}: {what} in a value", variant(f, {"k": value})
        elif f.is_repeated:
            element = (
                canonical(f.message_type, values)
                if f.message_type is not None
                else (current[0] if current else scalar_example(f))
            )
            yield f"{f.name}: 1,500 items", variant(f, [element] * 1500)
            bad: list[tuple[str, Any]] = []
            if f.message_type is not None and depth < 2:
                bad = list(sweep(f.message_type, values, world, depth + 1))
                for what, item in bad:
                    yield f"{f.name}[0].{what}", variant(f, [item])
            elif f.message_type is None:
                bad = list(sweep_values(f, element, world))
                for what, value in bad:
                    yield f"{f.name}[0]: {what}", variant(f, [value])
            if bad:  # every item wrong: the error must still fit in a response
                what, value = bad[0]
                yield f"{f.name}: 1,500 items with {what}", variant(f, [value] * 1500)
        elif (
            f.message_type is not None and f.message_type.full_name not in WELL_KNOWN and depth < 2
        ):
            for what, sub in sweep(f.message_type, values, world, depth + 1):
                yield f"{f.name}.{what}", variant(f, sub)
        else:
            for what, value in sweep_values(f, current, world):
                yield f"{f.name}: {what}", variant(f, value)


def set_field(message: Message, f: FieldDescriptor, value: Any) -> None:
    container = getattr(message, f.name)
    if is_map(f):
        if entry_fields(f)[1].message_type is not None:
            for key, item in value.items():
                container[key].CopyFrom(item)
        else:
            container.update(value)
    elif f.is_repeated and f.message_type is not None:
        # One by one: extend() copies through a parse, which refuses an item
        # nested as deep as the protobuf runtime allows (a Struct 60 levels deep
        # in a batch's item); the server must then answer MALFORMED_REQUEST.
        for item in value:
            container.add().CopyFrom(item)
    elif f.is_repeated:
        container.extend(value)
    elif f.message_type is not None:
        container.CopyFrom(value)
    else:
        setattr(message, f.name, value)


def truncated(message: Message, cut: int) -> tuple[str, bytes, str]:
    data = message.SerializeToString()
    if len(data) < 2:
        data = b"\x0a\x05abcde"
    return "a valid request truncated", data[: 1 + cut % (len(data) - 1)], show(message)


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def wire_field(desc: Descriptor) -> SearchStrategy[bytes]:
    """One field on the wire with any wire type, length and payload (mostly a declared number)."""
    numbers = [f.number for f in desc.fields] or [1]
    return st.builds(
        lambda number, wire_type, payload, length: (
            _varint(number << 3 | wire_type)
            + (
                _varint(length) + payload
                if wire_type == 2
                else payload[: {0: 10, 1: 8, 5: 4}.get(wire_type, len(payload))]
            )
        ),
        st.one_of(st.sampled_from(numbers), st.integers(1, 2**29 - 1)),
        st.integers(0, 7),
        st.binary(max_size=16),
        st.one_of(st.integers(0, 20), st.sampled_from([2**31, 2**32 + 1, 2**63])),
    )


def wrong_wire_types(fields: list[bytes]) -> tuple[str, bytes, str]:
    return "fields with any wire type", b"".join(fields), ""


PLACEHOLDER = "Zq7fuzzPLACEHOLDERq7Z"
BAD_UTF8 = [b"\xff\xfe", b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82", b"\x80", b"\xf4\x90\x80\x80"]
Slot = tuple[Any, ...]


def string_slots(desc: Descriptor, depth: int = 0) -> list[Slot]:
    """Every place a string can go: fields, repeated items, map keys and values, in Structs."""
    slots: list[Slot] = []
    for f in desc.fields:
        if is_map(f):
            for part in ("key", "value"):
                if message_of(f).fields_by_name[part].type == FieldDescriptor.TYPE_STRING:
                    slots.append((f, part))
        elif f.type == FieldDescriptor.TYPE_STRING:
            slots.append((f,))
        elif f.message_type is not None and f.message_type.full_name == STRUCT:
            slots.extend([(f, "struct key"), (f, "struct string")])
        elif (
            f.message_type is not None and f.message_type.full_name not in WELL_KNOWN and depth < 3
        ):
            slots.extend((f, *sub) for sub in string_slots(f.message_type, depth + 1))
    return slots


def put_placeholder(message: Message, slot: Slot) -> None:
    f, *rest = slot
    container = getattr(message, f.name)
    if not rest:
        if f.is_repeated:
            container.append(PLACEHOLDER)
        else:
            setattr(message, f.name, PLACEHOLDER)
    elif rest == ["key"]:
        container[PLACEHOLDER] = "v"
    elif rest == ["value"]:
        container["k"] = PLACEHOLDER
    elif rest == ["struct key"]:
        container.fields[PLACEHOLDER].string_value = "v"
    elif rest == ["struct string"]:
        container.fields["k"].string_value = PLACEHOLDER
    else:
        put_placeholder(container.add() if f.is_repeated else container, tuple(rest))


def bad_utf8(message: Message, slot: Slot, bad: bytes) -> tuple[str, bytes, str]:
    """The request with invalid UTF-8 in one string (same length, so the framing holds)."""
    copy = type(message)()
    copy.CopyFrom(message)
    put_placeholder(copy, slot)
    data = copy.SerializeToString()
    placeholder = PLACEHOLDER.encode()
    assert placeholder in data
    data = data.replace(placeholder, bad + placeholder[len(bad) :])
    where = ".".join(part.name if isinstance(part, FieldDescriptor) else part for part in slot)
    return f"invalid UTF-8 in {where}", data, show(copy)


def show(request: Message | bytes, limit: int = 500) -> str:
    if isinstance(request, bytes):
        text = f"{len(request)} bytes: {request[:200]!r}"
    else:
        try:
            text = text_format.MessageToString(request, as_utf8=True, as_one_line=True)
        except Exception as error:  # too deep for text_format (it copies map entries)
            data = request.SerializeToString()
            text = f"({type(error).__name__} printing it) {len(data)} bytes: {data[:200]!r}"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


# -- sending and checking -----------------------------------------------------------------


@dataclass
class Snapshot:
    values: dict[str, int]
    timers: dict[str, int]


@dataclass
class Failure:
    rpc: str
    problem: str
    code: str
    details: str
    count: int = 0
    kinds: set[str] = dataclass_field(default_factory=set)
    request: str = ""
    request_size: int = -1
    origin: str = ""
    server_log: str = ""


class ServerDied(Exception):
    pass


class Fuzzer:
    """Sends requests to one server and records what went wrong."""

    def __init__(self, server: ServerProcess, database_url: str) -> None:
        self.server = server
        self.channel = grpc.insecure_channel(
            server.target,
            options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)],
        )
        self.engine = sa.create_engine(database_url)
        self.stubs: dict[str, Any] = {}
        self.failures: dict[tuple[str, str, str, str], Failure] = {}
        self.codes: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
        self.seconds: dict[str, float] = defaultdict(float)
        self.background_changes = 0
        self.last_snapshot: Snapshot | None = None

    def close(self) -> None:
        self.channel.close()
        self.engine.dispose()

    # -- the database

    def snapshot(self) -> Snapshot:
        started = time.monotonic()
        with self.engine.connect() as conn:
            rows = [(str(what), int(number)) for what, number in conn.execute(SNAPSHOT_SQL)]
        self.seconds["database snapshots"] += time.monotonic() - started
        return Snapshot(
            {what: n for what, n in rows if not what.startswith("timer ")},
            {what: n for what, n in rows if what.startswith("timer ")},
        )

    def changes(self, before: Snapshot, after: Snapshot) -> str:
        """What changed, unless a due timer fired meanwhile (the server's own write)."""
        changed = [
            f"{key} {before.values.get(key)} -> {after.values.get(key)}"
            for key in sorted(before.values.keys() | after.values.keys())
            if before.values.get(key) != after.values.get(key)
        ]
        if not changed:
            return ""
        # A timer that fired is gone afterwards, or back under its own id with a new due time
        # (deadlines and leases are named after what they guard); the one due takes others
        # not yet due with it (a deadline that ends an execution ends its leases).
        fired = [due for timer, due in before.timers.items() if after.timers.get(timer) != due]
        if fired and min(fired) <= time.time() * 1e6 + 1e6:
            self.background_changes += 1
            return ""
        return ", ".join(changed)

    # -- calls

    def stub(self, rpc: Rpc) -> Any:
        if rpc.service.full_name not in self.stubs:
            self.stubs[rpc.service.full_name] = rpc.stub_class(self.channel)
        return getattr(self.stubs[rpc.service.full_name], rpc.method.name)

    def call(self, rpc: Rpc, request: Message | bytes) -> tuple[grpc.StatusCode, str, bool]:
        """(code, details, whether the test's own deadline or cancel ended a stream)."""
        if isinstance(request, bytes):
            if rpc.streaming:
                callable_: Any = self.channel.unary_stream(
                    rpc.path, request_serializer=None, response_deserializer=None
                )
            else:
                callable_ = self.channel.unary_unary(
                    rpc.path, request_serializer=None, response_deserializer=None
                )
        else:
            callable_ = self.stub(rpc)
        try:
            if not rpc.streaming:
                callable_(request, timeout=UNARY_TIMEOUTS.get(rpc.name, UNARY_TIMEOUT))
                return OK, "", False
            call = callable_(request, timeout=STREAM_WAIT)
            try:
                next(call)
            except StopIteration:
                pass
            finally:
                call.cancel()
            return OK, "", False
        except grpc.RpcError as error:
            code, details = error.code(), error.details() or ""
            if rpc.streaming and code in (
                grpc.StatusCode.DEADLINE_EXCEEDED,
                grpc.StatusCode.CANCELLED,
            ):
                return OK, "", True
            return code, details, False

    def send(self, rpc: Rpc, request: Message | bytes, kind: str, origin: str = "") -> None:
        size = len(request) if isinstance(request, bytes) else request.ByteSize()
        # The snapshot after a rejected request is the one before the next request.
        before = self.last_snapshot or self.snapshot()
        self.last_snapshot = None
        log_offset = self.log_size()
        code, details, waited = self.call(rpc, request)
        mode = "undecodable" if isinstance(request, bytes) else kind.split(":")[0]
        self.codes[rpc.name][mode, "OK (waited)" if waited else code.name] += 1
        problems = []
        if code not in ALLOWED and not (
            code == grpc.StatusCode.RESOURCE_EXHAUSTED and size > SERVER_MAX_REQUEST_BYTES
        ):
            problems.append(f"status {code.name}")
        if code != OK:
            if LEAKS.search(details):
                problems.append("the error message shows internals")
            self.last_snapshot = self.snapshot()
            changed = self.changes(before, self.last_snapshot)
            if changed:
                problems.append(f"a rejected request changed the database: {changed}")
        if (
            code == grpc.StatusCode.UNAVAILABLE
            and self.server.proc
            and self.server.proc.poll() is not None
        ):
            raise ServerDied(
                f"the server exited ({self.server.proc.returncode}) on {rpc.name}: {show(request)}"
            )
        if problems:
            problem = "; ".join(problems)
            self.record(rpc, problem, code, details, kind, request, size, origin, log_offset)

    def log_size(self) -> int:
        try:
            return self.server.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def server_exception(self, offset: int) -> str:
        """The last exception line the server logged since ``offset``."""
        for _ in range(10):
            with self.server.log_path.open("rb") as log:
                log.seek(offset)
                lines = log.read().decode(errors="replace").splitlines()
            found = ""
            in_traceback = False
            for line in lines:
                if line.startswith("Traceback (most recent call last)"):
                    in_traceback = True
                elif in_traceback and line and not line[0].isspace():
                    found, in_traceback = line, False
            if found:
                return found[:300]
            time.sleep(0.02)
        return ""

    def record(
        self,
        rpc: Rpc,
        problem: str,
        code: grpc.StatusCode,
        details: str,
        kind: str,
        request: Message | bytes,
        size: int,
        origin: str,
        log_offset: int,
    ) -> None:
        headline = re.sub(r"\d+ -> \d+", "changed", problem)
        key = (rpc.name, headline, code.name, normalize(details))
        failure = self.failures.get(key)
        if failure is None:
            failure = self.failures[key] = Failure(rpc.name, headline, code.name, details)
        failure.count += 1
        failure.kinds.add(re.sub(r"\[\d+\]", "[]", kind))
        if failure.request_size < 0 or size < failure.request_size:
            failure.request, failure.request_size, failure.origin = show(request), size, origin
            if code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL):
                failure.server_log = self.server_exception(log_offset) or failure.server_log

    # -- the report

    def report(self) -> str:
        lines = [
            f"{len(self.failures)} distinct failures (STATEHOUSE_FUZZ_SEED={SEED}, "
            f"STATEHOUSE_FUZZ_EXAMPLES={EXAMPLES}):",
        ]
        for f in sorted(self.failures.values(), key=lambda f: (f.rpc, f.problem, f.code)):
            lines.append("")
            lines.append(f"* {f.rpc}: {f.problem} (x{f.count}; {'; '.join(sorted(f.kinds))[:300]})")
            lines.append(f"  status: {f.code}: {f.details[:300]!r}")
            if f.server_log:
                lines.append(f"  server log: {f.server_log}")
            lines.append(f"  smallest request ({f.request_size} bytes): {f.request}")
            if f.origin:
                lines.append(f"  made from: {f.origin}")
        lines.append("")
        lines.append(self.coverage())
        return "\n".join(lines)

    def coverage(self) -> str:
        """Status codes per RPC and kind of request (OK (waited): a stream sent nothing yet)."""
        lines = ["status codes per RPC and kind of request:"]
        for name, codes in sorted(self.codes.items()):
            by_mode: dict[str, list[str]] = defaultdict(list)
            for (mode, code), n in sorted(codes.items(), key=lambda item: -item[1]):
                by_mode[mode].append(f"{code} {n}")
            lines.append(f"  {name} ({self.seconds[name]:.1f} s)")
            lines.extend(f"    {mode}: {', '.join(found)}" for mode, found in by_mode.items())
        lines.append(f"  world setups {self.seconds['world setup']:.1f} s")
        lines.append(f"  database snapshots {self.seconds['database snapshots']:.1f} s")
        lines.append(f"  changes left out as a due timer's own: {self.background_changes}")
        return "\n".join(lines)


def normalize(details: str) -> str:
    """Details without what varies between requests (numbers, ids, quoted values)."""
    text = re.sub(r"'[^']{12,}'|\"[^\"]{12,}\"", "'…'", details)
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", text)
    text = re.sub(r"\d+", "#", text)
    return text[:160]


@functools.cache
def oversized(number: int) -> bytes:
    """Field ``number`` as a length-delimited value just over the server's limit."""
    length = SERVER_MAX_REQUEST_BYTES + 1
    return _varint(number << 3 | 2) + _varint(length) + b"a" * length


# -- the test ----------------------------------------------------------------------------

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=False,
    # Failures are recorded, not raised, so there is nothing to shrink.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
    print_blob=False,
)


def fuzz(rpc: Rpc, fuzzer: Fuzzer, world: World, seed: int, oversize: bool) -> None:
    requests = Requests(world)
    desc = rpc.request_type
    fuzzer.send(rpc, new_message(desc), "an empty request")
    values = canonical_values(world)
    fuzzer.send(rpc, canonical(desc, values), "sweep: the canonical request")
    for what, request in sweep(desc, values, world):
        fuzzer.send(rpc, request, f"sweep: {what}")
    # Raised after hypothesis returns: for hypothesis every example passes (failures are
    # recorded), and an error of the test itself or a dead server surfaces unchanged.
    errors: list[BaseException] = []

    def guarded(send: Callable[[], None]) -> None:
        if errors:
            return
        try:
            send()
        except Exception as error:
            errors.append(error)

    @hypothesis_seed(seed)
    @FUZZ_SETTINGS
    @given(requests.request(desc))
    def typed(case: tuple[str, Message]) -> None:
        kind, request = case
        guarded(lambda: fuzzer.send(rpc, request, kind))

    @hypothesis_seed(seed + 1)
    @settings(FUZZ_SETTINGS, max_examples=RAW_EXAMPLES)
    @given(requests.raw(desc))
    def undecodable(case: tuple[str, bytes, str]) -> None:
        kind, data, origin = case
        guarded(lambda: fuzzer.send(rpc, data, kind, origin))

    typed()
    undecodable()
    if errors:
        raise errors[0]
    if oversize:
        fuzzer.send(rpc, oversized(desc.fields[0].number), "a request over the size limit")


TIMEOUT = 120 + len(every_rpc()) * (EXAMPLES + RAW_EXAMPLES) // 4


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT)
def test_every_rpc_answers_hostile_requests_with_documented_errors(
    server_process: ServerProcess, database_url: str
) -> None:
    rpcs = every_rpc()
    assert {r.service.name for r in rpcs} == {"ExecutionService", "EventService", "MetricService"}
    fuzzer = Fuzzer(server_process, database_url)
    try:
        oversize = {rpcs[0].name, next(r.name for r in rpcs if r.streaming)}
        world: World | None = None
        built: dict[str, int] = {}
        for index, rpc in enumerate(rpcs):
            # A fresh pool of real ids whenever earlier requests changed something.
            started = time.monotonic()
            current = fuzzer.snapshot()
            if world is None or current.values != built:
                world = build_world(fuzzer.channel, index)
                current = fuzzer.snapshot()
                built = current.values
            fuzzer.last_snapshot = current
            fuzzer.seconds["world setup"] += time.monotonic() - started
            started = time.monotonic()
            fuzz(rpc, fuzzer, world, SEED + 2 * index, rpc.name in oversize)
            fuzzer.seconds[rpc.name] += time.monotonic() - started
    except ServerDied as died:
        pytest.fail(f"{died}\n\n{fuzzer.report()}\n\nserver log:\n{server_process.logs()[-5000:]}")
    finally:
        fuzzer.close()
    print(fuzzer.coverage())
    if fuzzer.failures:
        pytest.fail(fuzzer.report(), pytrace=False)
