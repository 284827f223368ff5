"""Syntax and size rules for what clients send, checked before anything is written."""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import InvalidArgument

NAMESPACE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,149}$")
IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
LABEL_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")
MAX_LABELS = 64
MAX_LABEL_VALUE = 256
MAX_REQUEST_ID = 128
MAX_REASON = 2048
MAX_VALUE = 1024
MAX_WORKER_ID = 256
MAX_RESOURCE_ID = 64


class Violations:
    """Collects field violations so that a request reports all of them at once."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field: str, text: str) -> None:
        self.items.append((field, text))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(list(self.items))

    def required_id(self, field: str, value: str) -> None:
        if not value:
            self.add(field, "is required")
        elif len(value) > MAX_RESOURCE_ID or not value.isprintable():
            self.add(field, "is not a valid identifier")

    def namespace(self, field: str, value: str, *, required: bool = True) -> None:
        if not value:
            if required:
                self.add(field, "is required")
        elif not NAMESPACE_RE.match(value):
            self.add(
                field,
                "must be lowercase letters, digits, '.', '_' or '-', starting with a "
                "letter or digit, at most 150 characters",
            )

    def identifier(self, field: str, value: str, *, required: bool = True) -> None:
        if not value:
            if required:
                self.add(field, "is required")
        elif not IDENTIFIER_RE.match(value):
            self.add(
                field,
                "must be letters, digits, '.', '_' or '-', starting with a letter or "
                "digit, at most 100 characters",
            )

    def labels(self, field: str, labels: dict[str, str]) -> None:
        if len(labels) > MAX_LABELS:
            self.add(field, f"at most {MAX_LABELS} labels")
        for key, value in labels.items():
            if not LABEL_KEY_RE.match(key):
                self.add(
                    f"{field}[{key!r}]",
                    "label keys are letters, digits, '.', '_', '-' or '/', "
                    "starting with a letter or digit, at most 128 characters",
                )
            if len(value) > MAX_LABEL_VALUE:
                self.add(f"{field}[{key!r}]", f"label values are at most {MAX_LABEL_VALUE} chars")

    def bounded_text(self, field: str, value: str, limit: int) -> None:
        if len(value) > limit:
            self.add(field, f"is longer than {limit} characters")

    def request_id(self, value: str) -> None:
        self.bounded_text("request_id", value, MAX_REQUEST_ID)

    def revision(self, value: int | None) -> None:
        if value is not None and value < 0:
            self.add("expected_revision", "must not be negative")


def payload_size(value: Any) -> int:
    """The size in bytes of a JSON-like value, as stored (compact UTF-8 JSON)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def check_payload_size(field: str, value: Any, limit: int) -> None:
    """Reject a payload (outputs, inputs) larger than ``limit`` bytes, naming the limit."""
    if value is None:
        return
    size = payload_size(value)
    if size > limit:
        raise InvalidArgument(
            [(field, f"is {size} bytes, more than the limit of {limit} bytes")],
            reason="PAYLOAD_TOO_LARGE",
            metadata={"limit_bytes": str(limit), "size_bytes": str(size), "field": field},
        )
