"""Proto3 JSON, in and out: the one place JSON becomes a request message, and a
response message JSON (the Connect transport's ``application/json`` and
``application/connect+json``).

In, strictly. ``json_format.Parse`` without ``ignore_unknown_fields``: a name
the message does not have, or an enum name its enum does not have, is refused,
INVALID_ARGUMENT (reason MALFORMED_REQUEST) with a field violation that says
where (``stat``, ``states[0]``, ``retry_policy.constant.interval``) and what
was expected (for an enum, its names). ``ignore_unknown_fields`` is not used:
it drops an unknown enum name as it drops an unknown field, so a misspelled
``"state": "STATE_SUCESS"`` arrived as no state at all (answered ``state: is
required``) and ``{"states": ["STATE_BOGUS"]}`` as no filter (every execution
listed). The binary encoding still skips unknown fields, as protobuf does (a
newer client's numbered field); its unknown enum numbers are refused by
validation (``validation.Known``), so neither encoding widens a filter with a
value it did not understand.

The parser says what is wrong in its own words, which are refused as they are
(``Failed to parse pageSize field: ...``, implementation details, Python's
names): on the rare failure, :func:`explain` walks the document along the
message's descriptor and names each bad field in the words of ``validation``,
its path as validation writes it (proto field names). What it cannot place is
refused as before, naming only the request.

Out: every field, ``0``, ``""``, ``false`` and ``[]`` included
(``always_print_fields_with_no_presence``; a message field or oneof member
that is not set is still left out), with the keys of every object sorted (maps
iterate in hash order), so one value is one text in every process. Proto3 JSON
may leave defaults out, but a reader of plain JSON (curl, jq, a script) should
not have to know the defaults to read a count of 0: CountExecutions lists
every state with its count, ``total`` is there when it is 0, and so on for
every response.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections import Counter
from typing import Any

import orjson
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from .validation import MAX_REPORTED, Violations, enum_choice

__all__ = ["explain", "parse_json", "to_json"]


def to_json(message: Message) -> bytes:
    """Proto3 JSON with every field and the keys of every object sorted."""
    return orjson.dumps(
        json_format.MessageToDict(message, always_print_fields_with_no_presence=True),
        option=orjson.OPT_SORT_KEYS,
    )


def parse_json(request_type: type[Message], raw: bytes) -> Message:
    """Proto3 JSON (camelCase or proto field names) as a ``request_type``.

    Unknown field names and enum names are refused (INVALID_ARGUMENT, reason
    MALFORMED_REQUEST, a field violation for each); raises the parser's error
    when no field can be blamed (the caller names the request).
    """
    message = request_type()
    try:
        json_format.Parse(raw, message)
    except (json_format.ParseError, RecursionError, ValueError):
        violations = explain(request_type.DESCRIPTOR, raw)  # type: ignore[arg-type]
        if not violations.items:
            raise
        violations.reason = "MALFORMED_REQUEST"
        violations.raise_if_any()
    return message


# -- explaining a refusal ------------------------------------------------------------------

#: Field paths name a map key or an unknown field by its first characters only.
_KEY_IN_PATH = 64
#: Enough violations to report (validation reports MAX_REPORTED and how many more).
_ENOUGH = MAX_REPORTED + 1

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(1 << 31), (1 << 31) - 1),
    FieldDescriptor.TYPE_SINT32: (-(1 << 31), (1 << 31) - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(1 << 31), (1 << 31) - 1),
    FieldDescriptor.TYPE_UINT32: (0, (1 << 32) - 1),
    FieldDescriptor.TYPE_FIXED32: (0, (1 << 32) - 1),
    FieldDescriptor.TYPE_INT64: (-(1 << 63), (1 << 63) - 1),
    FieldDescriptor.TYPE_SINT64: (-(1 << 63), (1 << 63) - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(1 << 63), (1 << 63) - 1),
    FieldDescriptor.TYPE_UINT64: (0, (1 << 64) - 1),
    FieldDescriptor.TYPE_FIXED64: (0, (1 << 64) - 1),
}
_KINDS = {
    FieldDescriptor.TYPE_STRING: "must be a string",
    FieldDescriptor.TYPE_BOOL: "must be true or false",
    FieldDescriptor.TYPE_DOUBLE: 'must be a number (or "NaN", "Infinity", "-Infinity")',
    FieldDescriptor.TYPE_FLOAT: 'must be a number (or "NaN", "Infinity", "-Infinity")',
    FieldDescriptor.TYPE_BYTES: "must be base64 text",
}
_WELL_KNOWN = {
    "google.protobuf.Duration": 'must be a duration in seconds ending in "s", such as "1.5s"',
    "google.protobuf.Timestamp": 'must be an RFC 3339 time, such as "2026-01-02T03:04:05Z"',
    "google.protobuf.Struct": "must be a JSON object",
    "google.protobuf.ListValue": "must be a list",
    "google.protobuf.FieldMask": "must be a string of comma-separated field paths",
}


class _Object(dict[str, Any]):
    """A JSON object as parsed, with the keys it gave more than once."""

    duplicates: list[str]
    #: No key given twice in it, nor in any object inside it.
    clean: bool


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    obj.duplicates = [key for key, n in Counter(key for key, _ in pairs).items() if n > 1]
    obj.clean = not obj.duplicates and all(_clean(value) for _, value in pairs)
    return obj


def _clean(value: Any) -> bool:
    if isinstance(value, _Object):
        return value.clean
    if isinstance(value, list):
        return all(_clean(item) for item in value)
    return True


def explain(descriptor: Descriptor, raw: bytes) -> Violations:
    """The field violations of a JSON document that is not a valid ``descriptor``."""
    v = Violations()
    try:
        document = json.loads(raw, object_pairs_hook=_object)
    except UnicodeDecodeError:
        v.add("request", "is not UTF-8 text")
    except json.JSONDecodeError as exc:
        v.add("request", f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
    except RecursionError:
        v.add("request", "is nested too deeply")
    else:
        try:
            _message(descriptor, document, "", v)
        except RecursionError:
            v.add("request", "is nested too deeply")
    return v


def _message(d: Descriptor, value: Any, prefix: str, v: Violations) -> None:
    if not isinstance(value, dict):
        v.add(prefix.rstrip(".") or "request", f"must be a JSON object ({d.name})")
        return
    for key in getattr(value, "duplicates", ()):
        v.add(prefix + key[:_KEY_IN_PATH], "is given more than once")
    given: dict[str, str] = {}
    for key, item in value.items():
        if len(v.items) >= _ENOUGH:
            return
        fd = _by_json_name(d).get(key) or d.fields_by_name.get(key)
        if fd is None:
            v.add(prefix + key[:_KEY_IN_PATH], _unknown_field(d, key))
            continue
        path = prefix + fd.name
        if fd.name in given:
            v.add(path, f"is given twice, as {given[fd.name]} and {key}")
            continue
        given[fd.name] = key
        if item is None:  # null: the field's default (for google.protobuf.Value, null)
            continue
        _field(fd, key, item, path, v)


def _field(fd: FieldDescriptor, key: str, value: Any, path: str, v: Violations) -> None:
    entry = fd.message_type
    if entry is not None and entry.GetOptions().map_entry:
        if not isinstance(value, dict):
            v.add(path, "must be a JSON object (a map)")
            return
        value_fd = entry.fields_by_name["value"]
        for k, item in value.items():
            if len(v.items) >= _ENOUGH:
                return
            at = f"{path}[{k[:_KEY_IN_PATH]!r}]"
            if item is None:
                v.add(at, "must not be null")
            elif not (_clean(item) and _parses(fd, {key: {k: item}})):
                if _is_message(value_fd):
                    _message(value_fd.message_type, item, at + ".", v)  # type: ignore[arg-type]
                else:
                    v.add(at, _expected(value_fd, item))
    elif fd.is_repeated:
        if not isinstance(value, list):
            v.add(path, "must be a list")
            return
        for i, item in enumerate(value):
            if len(v.items) >= _ENOUGH:
                return
            _value(fd, key, item, [item], f"{path}[{i}]", v)
    else:
        _value(fd, key, value, value, path, v)


def _value(fd: FieldDescriptor, key: str, value: Any, given: Any, path: str, v: Violations) -> None:
    """One value of ``fd`` (``given`` is what its field holds: the value, or a
    list of it): its message's fields walked, else checked alone by the parser."""
    if value is None:
        v.add(path, "must not be null")
    elif _clean(value) and _parses(fd, {key: given}):
        return  # (a message that parses whole is not walked: a long list stays cheap)
    elif _is_message(fd):
        _message(fd.message_type, value, path + ".", v)  # type: ignore[arg-type]
    else:
        v.add(path, _expected(fd, value))


def _is_message(fd: FieldDescriptor) -> bool:
    """A message of ours (walked field by field), not a well-known type (a JSON scalar)."""
    t = fd.message_type
    return t is not None and not t.full_name.startswith("google.protobuf.")


def _parses(fd: FieldDescriptor, document: dict[str, Any]) -> bool:
    """Whether the parser takes ``document``, one field of ``fd``'s message."""
    holder = fd.containing_type
    assert holder is not None
    try:
        json_format.ParseDict(document, _message_class(holder)())
    except (json_format.ParseError, RecursionError, ValueError, TypeError):
        return False
    return True


def _message_class(d: Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(d)


def _expected(fd: FieldDescriptor, value: Any) -> str:
    shown = json.dumps(value)[:_KEY_IN_PATH]
    if fd.enum_type is not None:
        return f"{shown} {enum_choice(fd.enum_type)}"
    if fd.message_type is not None:
        name = fd.message_type.full_name
        return _WELL_KNOWN.get(name, f"is not a valid {name}")
    if fd.type in _INT_RANGES:
        low, high = _INT_RANGES[fd.type]
        text = f"must be an integer from {low} to {high}"
        return text + " (a number or a string)" if high > 1 << 32 else text
    return _KINDS.get(fd.type, f"is not a valid {fd.type}")


@functools.cache
def _by_json_name(d: Descriptor) -> dict[str, FieldDescriptor]:
    """The fields by their JSON names (camelCase), as the parser finds them."""
    return {fd.json_name: fd for fd in d.fields}


def _unknown_field(d: Descriptor, key: str) -> str:
    """``is not a field of X: did you mean taskRunId?``, or X's fields when nothing is close."""
    names = {fd.json_name: fd.json_name for fd in d.fields}
    names.update({fd.name: fd.json_name for fd in d.fields})
    folded = {name.lower().replace("_", ""): json_name for name, json_name in names.items()}
    close = folded.get(key.lower().replace("_", "").replace("-", ""))
    if close is None:
        matches = difflib.get_close_matches(key, list(names), n=1)
        close = names[matches[0]] if matches else None
    text = f"is not a field of {d.name}"
    if close is not None:
        return f"{text}: did you mean {close}?"
    return f"{text} (its fields: {', '.join(fd.json_name for fd in d.fields) or 'none'})"
