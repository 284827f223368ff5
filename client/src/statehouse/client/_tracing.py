"""The caller's trace context, sent with every call and stream (W3C ``traceparent``).

The SDK does not need OpenTelemetry: it looks for it only once the application
has imported ``opentelemetry.trace`` itself (an application that has not
cannot have a span current), and then injects the current context with the
application's global propagator (``OTEL_PROPAGATORS``; W3C trace context and
baggage by default) into the call's metadata, so the server's span of the call
becomes a child of the caller's. With no span current, or no OpenTelemetry,
the metadata is sent unchanged.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, MutableMapping
from typing import Any

__all__ = ["with_trace_context"]

#: ``opentelemetry.propagate.inject`` once found; False: not importable.
_inject: Callable[[MutableMapping[str, str]], None] | bool | None = None


def _injector() -> Callable[[MutableMapping[str, str]], None] | None:
    global _inject
    if _inject is None:
        if "opentelemetry.trace" not in sys.modules:
            return None  # not imported by the application (yet): no span can be current
        try:
            from opentelemetry import propagate
        except ImportError:  # pragma: no cover - a partial installation
            _inject = False
        else:
            _inject = propagate.inject
    return _inject if callable(_inject) else None


def with_trace_context(metadata: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """``metadata`` with the current trace context added (unchanged when there is none)."""
    inject = _injector()
    if inject is None:
        return metadata
    from opentelemetry import trace

    if not trace.get_current_span().get_span_context().is_valid:
        return metadata
    carrier: dict[str, Any] = {}
    inject(carrier)
    if not carrier:
        return metadata
    return (*metadata, *((key.lower(), str(value)) for key, value in carrier.items()))
