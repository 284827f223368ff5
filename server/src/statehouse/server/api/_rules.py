"""Rules for one field's value, and what a request's check collects: the
mechanism of ``validation.py``, whose table names the rule of every field.

A :class:`Rule` checks one value (a field's, one item of a repeated field or
map) and adds what is wrong to the request's :class:`Violations`, with its
field path; :class:`Payload` also turns a ``google.protobuf.Struct`` into
plain JSON, into :class:`Payloads`. The bounds come from
:mod:`statehouse.server.limits`; a namespace pattern's grammar is
``orchestration/patterns.py``'s.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf.descriptor import EnumDescriptor

from .. import limits as L, priority
from ..orchestration import InvalidArgument, JsonObject, patterns

# -- the violations of one request ------------------------------------------------------

#: Violations reported per request: the error's details travel in a gRPC header,
#: which clients cap (8 KiB soft, 16 KiB hard by default).
MAX_REPORTED = 10
#: Field paths name a map key or a Struct key by its first characters only.
_KEY_IN_PATH = 64


@dataclass(slots=True)
class Violations:
    """The field violations of one request, collected so all are reported at once."""

    items: list[tuple[str, str]] = field(default_factory=list)
    reason: str = "INVALID_ARGUMENT"
    metadata: dict[str, str] = field(default_factory=dict)

    def add(self, path: str, text: str) -> None:
        self.items.append((path, text))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        items = self.items[:MAX_REPORTED]
        if len(self.items) > MAX_REPORTED:
            items.append(("", f"and {len(self.items) - MAX_REPORTED} more violations"))
        raise InvalidArgument(items, reason=self.reason, metadata=self.metadata)


@dataclass(slots=True)
class Payloads:
    """What validation learned of a request that handlers use: its payloads
    (Struct fields) as JSON, by field path."""

    #: Each Struct field's JSON, by its field path.
    by_path: dict[str, JsonObject] = field(default_factory=dict)

    def payload(self, name: str) -> JsonObject | None:
        return self.by_path.get(name)


# -- rules for one field's value ---------------------------------------------------------


class Rule:
    """Checks one value (a field's, or one item of a repeated field or map)."""

    #: Whether the rule holds for a field left at its default (empty string, zero):
    #: only required fields are checked then.
    def check(self, value: Any, path: str, v: Violations, ctx: Context) -> None:
        raise NotImplementedError


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class Text(Rule):
    """A string: at most ``max_len`` characters, no control characters, an
    optional pattern. Valid UTF-8 is the protobuf runtime's check, at decoding."""

    max_len: int
    pattern: re.Pattern[str] | None = None
    explain: str = ""
    multiline: bool = False

    def check(self, value: Any, path: str, v: Violations, ctx: Context) -> None:
        if not value:
            return
        if len(value) > self.max_len:
            v.add(path, f"is longer than {self.max_len} characters")
        elif self.pattern is not None:
            if not self.pattern.match(value):
                v.add(path, self.explain)
        elif (_CONTROL_MULTILINE if self.multiline else _CONTROL).search(value):
            allowed = " (tab and newline are allowed)" if self.multiline else ""
            v.add(path, f"must not contain control characters{allowed}")


@dataclass(frozen=True, slots=True)
class NamespacePattern(Rule):
    """A namespace pattern, by the one grammar (``orchestration/patterns.py``)."""

    max_len: int

    def check(self, value: Any, path: str, v: Violations, ctx: Context) -> None:
        if not value:
            return
        if len(value) > self.max_len:
            v.add(path, f"is longer than {self.max_len} characters")
        elif why := patterns.problem(value):
            v.add(path, why)


@dataclass(frozen=True, slots=True)
class Whole(Rule):
    """An integer within [low, high]."""

    low: int = 0
    high: int = (1 << 63) - 1
    note: str = ""

    def check(self, value: Any, path: str, v: Violations, ctx: Context) -> None:
        if value < self.low:
            note = f" ({self.note})" if self.note else ""
            v.add(
                path, f"must be at least {self.low}{note}" if self.low else "must not be negative"
            )
        elif value > self.high:
            v.add(path, f"must be at most {self.high}")


@dataclass(frozen=True, slots=True)
class Real(Rule):
    """A finite number within [low, high]."""

    low: float
    high: float

    def check(self, value: Any, path: str, v: Violations, ctx: Context) -> None:
        if not math.isfinite(value):
            v.add(path, "must be a finite number")
        elif not self.low <= value <= self.high:
            v.add(path, f"must be between {self.low:g} and {self.high:g}")


def enum_choice(enum: EnumDescriptor) -> str:
    """What an unknown value of ``enum`` is told: ``is not a known value of State;
    expected one of STATE_CREATED, ...`` (its names but the zero one, which is unset)."""
    names = ", ".join(value.name for value in enum.values if value.number != 0)
    return f"is not a known value of {enum.name}; expected one of {names}"


@dataclass(frozen=True, slots=True)
class Known(Rule):
    """An enum value the contract defines; ``unset`` allows its zero value.

    A number the enum does not define is refused (proto3 enums are open: the
    runtime keeps it), never taken as unset: a filter is not widened by a value
    the server does not understand. Over JSON an unknown name never gets here
    (``_json.py`` refuses it).
    """

    unset: bool = True

    def check(self, value: Any, path: str, v: Violations, ctx: Context) -> None:
        if value == 0:
            if not self.unset:
                v.add(path, "is required")
        elif ctx.enum is None or value not in ctx.enum.values_by_number:
            choice = enum_choice(ctx.enum) if ctx.enum is not None else "is not a known value"
            v.add(path, f"{value} {choice}")


_DURATION_LIMIT = 315_576_000_000
_TIMESTAMP_MIN, _TIMESTAMP_MAX = -62_135_596_800, 253_402_300_799


@dataclass(frozen=True, slots=True)
class Span(Rule):
    """A google.protobuf.Duration: well formed, within [low, high] seconds."""

    low: float = 0.0
    high: float = float(L.MAX_DURATION_SECONDS)

    def check(self, value: Any, path: str, v: Violations, ctx: Context) -> None:
        seconds, nanos = value.seconds, value.nanos
        if (
            abs(seconds) > _DURATION_LIMIT
            or abs(nanos) > 999_999_999
            or (seconds > 0 and nanos < 0)
            or (seconds < 0 and nanos > 0)
        ):
            v.add(path, "is not a valid duration")
            return
        total = seconds + nanos / 1e9
        if total < self.low:
            v.add(
                path,
                "must not be negative" if self.low == 0 else f"must be at least {self.low:g} s",
            )
        elif total > self.high:
            v.add(path, f"must be at most {self.high:g} s")


@dataclass(frozen=True, slots=True)
class Instant(Rule):
    """A google.protobuf.Timestamp: well formed, within the documented range."""

    def check(self, value: Any, path: str, v: Violations, ctx: Context) -> None:
        seconds, nanos = value.seconds, value.nanos
        if not (_TIMESTAMP_MIN <= seconds <= _TIMESTAMP_MAX and 0 <= nanos <= 999_999_999):
            v.add(path, "is not a valid timestamp")
        elif not L.MIN_TIMESTAMP_SECONDS <= seconds < L.MAX_TIMESTAMP_SECONDS:
            v.add(path, "must be between 1970-01-01T00:00:00Z and 2500-01-01T00:00:00Z")


@dataclass(frozen=True, slots=True)
class Many(Rule):
    """A repeated field: at most ``max_count`` items, each checked by ``item``."""

    max_count: int
    item: Rule | None = None

    def check(self, value: Any, path: str, v: Violations, ctx: Context) -> None:
        if len(value) > self.max_count:
            v.add(path, f"at most {self.max_count} items")
            return
        item = self.item or ctx.item_rule
        for i, x in enumerate(value):
            item.check(x, f"{path}[{i}]", v, ctx)


@dataclass(frozen=True, slots=True)
class Unchecked(Rule):
    """An item its handler validates by itself (a batch's items fail one by one)."""

    def check(self, value: Any, path: str, v: Violations, ctx: Context) -> None:
        return


@dataclass(frozen=True, slots=True)
class Pairs(Rule):
    """A map: at most ``max_count`` entries, keys and values checked."""

    max_count: int
    key: Rule
    value: Rule

    def check(self, value: Any, path: str, v: Violations, ctx: Context) -> None:
        if len(value) > self.max_count:
            v.add(path, f"at most {self.max_count} entries")
            return
        for k, x in value.items():
            at = f"{path}[{k[:_KEY_IN_PATH]!r}]"
            if not k:
                v.add(at, "keys must not be empty")
            else:
                self.key.check(k, at, v, ctx)
            self.value.check(x, at, v, ctx)


class Payload(Rule):
    """A google.protobuf.Struct (inputs, outputs): checked and turned into JSON.

    Numbers finite, keys non-empty and at most MAX_PAYLOAD_KEY characters, no
    NUL in keys or strings (PostgreSQL cannot store it), nesting at most
    MAX_PAYLOAD_DEPTH, at most MAX_PAYLOAD_VALUES values, and at most the
    payload limit in bytes of compact JSON (PAYLOAD_TOO_LARGE).
    """

    def check(self, value: Any, path: str, v: Violations, ctx: Context) -> None:
        walk = _PayloadWalk(path, v)
        document = walk.struct(value, path, 1)
        if walk.failed:
            return
        size = len(orjson.dumps(document))
        limit = ctx.max_payload_bytes
        if size > limit:
            v.add(path, f"is {size} bytes, more than the limit of {limit} bytes")
            v.reason = "PAYLOAD_TOO_LARGE"
            v.metadata.update(limit_bytes=str(limit), size_bytes=str(size), field=path)
            return
        ctx.payloads.by_path[path] = document


class _PayloadWalk:
    __slots__ = ("budget", "failed", "root", "v")

    def __init__(self, root: str, v: Violations) -> None:
        self.root = root
        self.v = v
        self.budget = L.MAX_PAYLOAD_VALUES
        self.failed = False

    def fail(self, path: str, text: str) -> None:
        if not self.failed:
            self.failed = True
            self.v.add(path, text)

    def spend(self, path: str) -> bool:
        self.budget -= 1
        if not self.budget & 255:
            priority.step_aside()
        if self.budget < 0:
            self.fail(self.root, f"holds more than {L.MAX_PAYLOAD_VALUES} values")
        return not self.failed

    def struct(self, s: Any, path: str, depth: int) -> JsonObject:
        if depth > L.MAX_PAYLOAD_DEPTH:
            self.fail(path, f"is nested deeper than {L.MAX_PAYLOAD_DEPTH} levels")
            return {}
        out: JsonObject = {}
        fields = s.fields
        # In key order: the document is stored, returned and checked (the first
        # bad key is the one reported) the same way whatever order it arrived in.
        for key in sorted(fields):
            if self.failed or not self.spend(path):
                break
            value = fields[key]
            at = f"{path}.{key[:_KEY_IN_PATH]}"
            if not key or len(key) > L.MAX_PAYLOAD_KEY or "\x00" in key:
                self.fail(at, f"keys must be 1 to {L.MAX_PAYLOAD_KEY} characters, without NUL")
                break
            out[key] = self.value(value, at, depth)
        return out

    def value(self, value: Any, path: str, depth: int) -> Any:
        kind = value.WhichOneof("kind")
        if kind == "string_value":
            text = value.string_value
            if "\x00" in text:
                self.fail(path, "strings must not contain NUL")
            return text
        if kind == "number_value":
            number = value.number_value
            if not math.isfinite(number):
                self.fail(path, "numbers must be finite")
            return number
        if kind == "bool_value":
            return value.bool_value
        if kind == "null_value":
            return None
        if kind == "struct_value":
            return self.struct(value.struct_value, path, depth + 1)
        if kind == "list_value":
            if depth + 1 > L.MAX_PAYLOAD_DEPTH:
                self.fail(path, f"is nested deeper than {L.MAX_PAYLOAD_DEPTH} levels")
                return []
            items = []
            for i, item in enumerate(value.list_value.values):
                if self.failed or not self.spend(path):
                    break
                items.append(self.value(item, f"{path}[{i}]", depth + 1))
            return items
        self.fail(path, "a value must be set (null, number, string, bool, object or list)")
        return None


# -- what a rule knows of its field -----------------------------------------------------------

#: The rule of a repeated field's items when the field names none (rules are frozen:
#: one instance serves every field).
TEXT_ITEM: Rule = Text(256)


@dataclass(slots=True)
class Context:
    """What a rule knows besides the value: where payloads go, the payload limit,
    the field's enum and the rule of its items."""

    payloads: Payloads
    max_payload_bytes: int
    #: The enum of the field (of its items, of its map's values), when it has one.
    enum: EnumDescriptor | None = None
    item_rule: Rule = TEXT_ITEM
