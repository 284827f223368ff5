"""The server's logs: text or JSON lines, one line per request, and no secrets.

``configure_logging(level, format)`` sets up the root logger once
(``serve --log-level``, ``--log-format``):

- ``text``: ``2026-12-02 14:37:15,123 INFO statehouse.server: message`` (the
  processes of ``--processes N`` add ``[pid]`` to the logger's name);
- ``json``: one JSON object per line: ``time`` (ISO 8601 UTC, milliseconds),
  ``level``, ``logger``, ``message``, ``pid``, the record's own fields (what a
  call passes as ``extra=``: the request log's ``method``, ``code``, ...), and
  ``exception`` (the traceback) when there is one.

**Requests** (:func:`log_request`, logger ``statehouse.requests``): one line
per RPC at DEBUG, and one at WARNING for an error (any code but OK, CANCELLED
and UNAVAILABLE: an outage of the database answers every call UNAVAILABLE, and
the outage log, ``_outage.py``, has its start and end once), with the method, code, duration, execution id and task run id (when the
request names them), actor, request id and transport, in the message (text) and as
fields (JSON). Nothing of a request's headers or body is logged beyond those ids.

**Secrets** are never logged: the code never puts a credential into a log call,
and, behind that, every handler carries :class:`RedactSecrets`, which replaces
anything that looks like a bearer token, a Statehouse token (``sht_...``), a
JWT or a PEM private key in the formatted line with ``[REDACTED]``.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

__all__ = [
    "LOG_FORMATS",
    "JsonFormatter",
    "RedactSecrets",
    "configure_logging",
    "redact",
    "request_logger",
]

LOG_FORMATS = ("text", "json")

#: The request log (one line per RPC at DEBUG, per error at WARNING).
request_logger = logging.getLogger("statehouse.requests")

_SECRETS = re.compile(
    r"(?i:bearer)\s+\S+"  # an Authorization header's value
    r"|sht_[A-Za-z0-9_\-]+"  # a Statehouse token
    r"|eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"  # a JWT
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
    re.DOTALL,
)
REDACTED = "[REDACTED]"


def redact(text: str) -> str:
    """``text`` with anything that looks like a credential replaced by ``[REDACTED]``."""
    return _SECRETS.sub(REDACTED, text)


#: The attributes every LogRecord has: what is left are the fields of ``extra=``.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)


class RedactSecrets(logging.Filter):
    """Replaces credentials in a record's message and fields (a second line of
    defence: no code logs one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        for key, value in record.__dict__.items():
            if key not in _STANDARD and isinstance(value, str):
                cleaned = redact(value)
                if cleaned != value:
                    record.__dict__[key] = cleaned
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in out:
                out[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(out, default=str).decode()


def configure_logging(
    level: str = "INFO",
    log_format: str = "text",
    *,
    stream: TextIO | None = None,
    process: bool = False,
) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) as text or JSON lines, at
    ``level`` and above; ``process``: one of ``--processes N`` (text lines name
    the pid). Replaces the root logger's handlers; returns the new handler."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}: text or json")
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        name = "%(name)s[%(process)d]" if process else "%(name)s"
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {name}: %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


def log_request(
    level: int,
    *,
    transport: str,
    method: str,
    code: str,
    seconds: float,
    execution_id: str = "",
    task_run_id: str = "",
    actor: str = "",
    request_id: str = "",
    error: str = "",
) -> None:
    """The request log's line for one RPC (see the module docstring)."""
    fields: dict[str, Any] = {
        "method": method.lstrip("/"),
        "code": code,
        "duration_ms": round(seconds * 1000, 3),
        "transport": transport,
    }
    if execution_id:
        fields["execution_id"] = execution_id
    if task_run_id:
        fields["task_run_id"] = task_run_id
    if actor:
        fields["actor"] = actor
    if request_id:
        fields["request_id"] = request_id
    if error:
        fields["error"] = error
    text = " ".join(f"{key}={value}" for key, value in fields.items() if key != "error")
    if error:
        text += f": {error}"
    request_logger.log(level, "rpc %s", text, extra=fields)
