"""Telemetry: the server's Prometheus metrics, its traces and its logs.

A leaf of the layers (docs/design.md, "Layers"): it imports nothing of the
server, so that storage, the event hub and the API can all count into it.
``_metrics.py`` is the registry of one server (what is counted where, what is
read at scrape time), ``_http.py`` the listener of ``--metrics-address``,
``_logs.py`` the text and JSON log formats, the request log and the redaction
of secrets, ``_outage.py`` the one log of the database's outages (a line when
one starts, a line when it ends), ``_traces.py`` the OpenTelemetry spans (off unless the ``OTEL_*``
variables turn them on). How it fits: docs/design.md, "Observability".
"""

from ._http import MetricsListener
from ._logs import (
    LOG_FORMATS,
    JsonFormatter,
    RedactSecrets,
    configure_logging,
    log_request,
    redact,
    request_logger,
)
from ._metrics import CONTENT_TYPE, GAUGES, Metrics, code_name
from ._outage import OutageLog
from ._traces import (
    BatchTrace,
    RpcSpan,
    SpanLink,
    Tracing,
    TracingConfigError,
    WriteParent,
    trace_exporters,
)

__all__ = [
    "CONTENT_TYPE",
    "GAUGES",
    "LOG_FORMATS",
    "BatchTrace",
    "JsonFormatter",
    "Metrics",
    "MetricsListener",
    "OutageLog",
    "RedactSecrets",
    "RpcSpan",
    "SpanLink",
    "Tracing",
    "TracingConfigError",
    "WriteParent",
    "code_name",
    "configure_logging",
    "log_request",
    "redact",
    "request_logger",
    "trace_exporters",
]
