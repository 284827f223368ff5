"""The server's OpenTelemetry traces: off by default, every span named once.

Off (the default: ``OTEL_TRACES_EXPORTER`` unset or ``none``), a server's
:class:`Tracing` has no tracer provider at all, and every hook on the request
path is one attribute check (``tracing.enabled``): no span, no context, no
allocation. On, each server has a provider of its own (never the global one:
the tests run many servers in one process), built from the standard ``OTEL_*``
variables: ``OTEL_TRACES_EXPORTER`` (``console``, ``otlp``, any exporter
registered under the SDK's ``opentelemetry_traces_exporter`` entry points,
comma-separated), ``OTEL_EXPORTER_OTLP_*`` (read by the exporter itself),
``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` (the resource;
``service.name`` is ``statehouse`` unless they say otherwise),
``OTEL_TRACES_SAMPLER`` (the SDK's provider reads it), ``OTEL_BSP_*`` (the
batch span processor), ``OTEL_PROPAGATORS`` (what is read from a call:
W3C ``traceparent`` by default).

The spans (docs/design.md, "Observability"):

- ``statehouse.v1.ExecutionService/TransitionTaskRun``: one per RPC, kind
  SERVER, on both transports, with the OTel RPC conventions (``rpc.system``
  ``grpc`` or ``connect_rpc``, ``rpc.service``, ``rpc.method``,
  ``rpc.grpc.status_code``; ``rpc.connect_rpc.error_code`` on a Connect error),
  its parent the caller's trace context;
- ``statehouse.write``: a write's time in the store, child of its RPC: its
  wait in the group-commit queue and its share of the batch, linked to
- ``statehouse.commit``: the batch's database transaction, one per batch (a
  trace of its own: it serves many requests), linked to each request it serves;
- ``statehouse.read``: a read transaction, child of its RPC;
- ``statehouse.fanout``: the delivery of a batch's events to the subscribers,
  off the request path, linked to the batch's ``statehouse.commit``.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import Token
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context, propagate, trace
from opentelemetry.environment_variables import OTEL_TRACES_EXPORTER
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from ._metrics import code_name

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = [
    "BatchTrace",
    "RpcSpan",
    "SpanLink",
    "Tracing",
    "TracingConfigError",
    "WriteParent",
    "trace_exporters",
]

log = logging.getLogger("statehouse.traces")

#: The entry points the SDK's exporters register under (console, otlp_proto_grpc, ...).
EXPORTER_GROUP = "opentelemetry_traces_exporter"
#: Codes that make a server span an error (OTel's gRPC conventions): the server's
#: fault, not the caller's (NOT_FOUND, INVALID_ARGUMENT, ... leave the status unset).
_SERVER_ERRORS = frozenset({2, 4, 12, 13, 14, 15})  # UNKNOWN, DEADLINE_EXCEEDED, ...
#: ``rpc.system`` by transport.
_SYSTEMS = {"grpc": "grpc", "connect": "connect_rpc"}
#: A write's parent: the context of its request's span, and when it was queued (ns).
WriteParent = tuple[otel_context.Context, int]
#: A span to link to (the event hub keeps each pending batch's commit span).
SpanLink = trace.SpanContext


class TracingConfigError(ValueError):
    """``OTEL_TRACES_EXPORTER`` names an exporter that is not installed."""


def _exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The exporters ``OTEL_TRACES_EXPORTER`` asks for; none when unset (off by default,
    unlike the SDK's auto-instrumentation, whose default is ``otlp``)."""
    names = [n.strip().lower() for n in environ.get(OTEL_TRACES_EXPORTER, "").split(",")]
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    return [n for n in names if n and n != "none"]


def _entry_point_name(name: str, environ: Mapping[str, str]) -> str:
    """``otlp`` is ``otlp_proto_grpc`` or ``otlp_proto_http`` by the OTLP protocol, as
    in the SDK's own configuration."""
    if name != "otlp":
        return name
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "grpc"
    ).strip()
    if protocol == "grpc":
        return "otlp_proto_grpc"
    if protocol == "http/protobuf":
        return "otlp_proto_http"
    raise TracingConfigError(
        f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: grpc or http/protobuf"
    )


def trace_exporters(
    environ: Mapping[str, str] | None = None,
) -> list[importlib.metadata.EntryPoint]:
    """The exporters ``OTEL_TRACES_EXPORTER`` names, found but not built ([] when off).

    Raises :class:`TracingConfigError` for one that is not installed, with what
    to install (checked once at start, before any process is forked).
    """
    environ = os.environ if environ is None else environ
    found = []
    for name in _exporter_names(environ):
        entry = _entry_point_name(name, environ)
        points = importlib.metadata.entry_points(group=EXPORTER_GROUP, name=entry)
        if not points:
            if name.startswith("otlp"):
                raise TracingConfigError(
                    f"OTEL_TRACES_EXPORTER={name} needs the OTLP exporter, which is not "
                    "installed: pip install 'statehouse-server[otlp]' (opentelemetry-exporter-otlp)"
                )
            known = sorted(p.name for p in importlib.metadata.entry_points(group=EXPORTER_GROUP))
            raise TracingConfigError(
                f"OTEL_TRACES_EXPORTER={name}: no such span exporter is installed "
                f"(installed: {', '.join([*known, 'otlp (statehouse-server[otlp])', 'none'])})"
            )
        found.append(next(iter(points)))
    return found


def _version() -> str:
    try:
        return importlib.metadata.version("statehouse-server")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - not installed
        return "0"


@dataclass(slots=True)
class RpcSpan:
    """The span of one RPC, and the context token to detach when it ends (unary calls)."""

    span: trace.Span
    token: Token[otel_context.Context] | None
    connect: bool


class Tracing:
    """The traces of one server: off (no provider) or on (see the module docstring)."""

    def __init__(self, provider: TracerProvider | None = None, *, owned: bool = False) -> None:
        #: The one check on the request path: False means no span is ever made.
        self.enabled = provider is not None
        self.provider = provider
        #: Whether :meth:`shutdown` shuts the provider down (one built from the environment).
        self._owned = owned
        self._tracer: trace.Tracer = (
            provider.get_tracer("statehouse.server", _version())
            if provider is not None
            else trace.NoOpTracer()
        )
        self._db_system = ""
        #: The names a caller's trace context may come in (``traceparent``, ...).
        self.fields: frozenset[str] = (
            frozenset(propagate.get_global_textmap().fields) if provider else frozenset()
        )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Tracing:
        """Off unless ``OTEL_TRACES_EXPORTER`` names exporters; then a provider of the
        server's own with a batch span processor per exporter."""
        environ = os.environ if environ is None else environ
        points = trace_exporters(environ)
        if not points:
            return cls()
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        detected = Resource.create()  # OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME
        ours: dict[str, str] = {"service.version": _version()}
        if str(detected.attributes.get("service.name", "")).startswith("unknown_service"):
            ours["service.name"] = "statehouse"
        provider = TracerProvider(resource=detected.merge(Resource(ours)))
        for point in points:
            exporter: SpanExporter = point.load()()
            provider.add_span_processor(BatchSpanProcessor(exporter))
        log.info("traces exported to %s", ", ".join(p.name for p in points))
        return cls(provider, owned=True)

    def set_database(self, system: str) -> None:
        """``db.system.name`` of the transaction spans (``sqlite``, ``postgresql``)."""
        self._db_system = system

    def shutdown(self) -> None:
        """Export what is pending and stop (a provider built from the environment)."""
        if self._owned and self.provider is not None:
            self.provider.shutdown()

    # -- RPCs ---------------------------------------------------------------------

    def start_rpc(
        self, name: str, transport: str, carrier: Mapping[str, str], *, attach: bool
    ) -> RpcSpan:
        """The server span of ``name`` (``/pkg.Service/Method``), its parent taken from
        ``carrier`` (the call's ``traceparent``...); ``attach``: current from now on in
        this task, so the store's spans become its children (not for streams, whose
        generator may be closed in another context)."""
        parent = propagate.extract(carrier) if carrier else None
        path = name.lstrip("/")
        service, _, method = path.partition("/")
        span = self._tracer.start_span(
            path,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "rpc.system": _SYSTEMS.get(transport, transport),
                "rpc.service": service,
                "rpc.method": method,
            },
        )
        token = otel_context.attach(trace.set_span_in_context(span)) if attach else None
        return RpcSpan(span, token, transport == "connect")

    def end_rpc(self, rpc: RpcSpan, code: int, message: str, attributes: Mapping[str, str]) -> None:
        """End the span of a call that ended with ``code``, with the request's ids."""
        span = rpc.span
        span.set_attribute("rpc.grpc.status_code", code)
        if rpc.connect and code != 0:
            name = code_name(code).lower()
            span.set_attribute("rpc.connect_rpc.error_code", "canceled" if code == 1 else name)
        for key, value in attributes.items():
            if value:
                span.set_attribute(key, value)
        if code in _SERVER_ERRORS:
            span.set_status(Status(StatusCode.ERROR, message or code_name(code)))
        span.end()
        if rpc.token is not None:
            otel_context.detach(rpc.token)

    # -- storage --------------------------------------------------------------------

    def write_parent(self) -> WriteParent | None:
        """What a queued write needs for its span: the current context when a span is
        recording there (an RPC's), and the time (None: nothing to be a child of)."""
        if not trace.get_current_span().is_recording():
            return None
        return otel_context.get_current(), time.time_ns()

    def start_batch(self, parents: Sequence[WriteParent | None]) -> BatchTrace:
        """The spans of a batch beginning: its transaction, and each traced write's."""
        links = []
        for parent in parents:
            if parent is not None:
                links.append(Link(trace.get_current_span(parent[0]).get_span_context()))
        batch = self._tracer.start_span(
            "statehouse.commit",
            context=otel_context.Context(),  # a root: it serves many requests
            kind=SpanKind.INTERNAL,
            links=links,
            attributes={"db.system.name": self._db_system, "statehouse.batch.writes": len(parents)},
        )
        to_batch = [Link(batch.get_span_context())]
        writes: list[trace.Span | None] = [
            None
            if parent is None
            else self._tracer.start_span(
                "statehouse.write",
                context=parent[0],
                links=to_batch,
                start_time=parent[1],
                attributes={"statehouse.batch.writes": len(parents)},
            )
            for parent in parents
        ]
        return BatchTrace(batch, writes)

    def start_read(self) -> trace.Span | None:
        """A read transaction's span, when it is part of a traced request."""
        if not trace.get_current_span().is_recording():
            return None
        return self._tracer.start_span(
            "statehouse.read", attributes={"db.system.name": self._db_system}
        )

    # -- the event hub ----------------------------------------------------------------

    def current_span_context(self) -> SpanLink | None:
        """The span current here (a batch's, while its listeners run), for a link."""
        context = trace.get_current_span().get_span_context()
        return context if context.is_valid else None

    @contextmanager
    def fanout(self, link: SpanLink, events: int) -> Iterator[trace.Span]:
        """The span of one batch's delivery to the subscribers, linked to its commit."""
        span = self._tracer.start_span(
            "statehouse.fanout",
            context=otel_context.Context(),
            links=[Link(link)],
            attributes={"statehouse.events": events},
        )
        try:
            yield span
        finally:
            span.end()


class BatchTrace:
    """The spans of one group-commit batch: its transaction and each traced write."""

    __slots__ = ("batch", "writes")

    def __init__(self, batch: trace.Span, writes: list[trace.Span | None]) -> None:
        self.batch = batch
        self.writes = writes

    def committed(self, events: int) -> None:
        self.batch.set_attribute("statehouse.batch.events", events)
        self.batch.end()

    def failed(self, exc: BaseException) -> None:
        self.batch.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        self.batch.end()
        for span in self.writes:
            if span is not None:
                span.set_attribute("error.type", type(exc).__name__)
                span.end()

    @contextmanager
    def current(self) -> Iterator[None]:
        """The batch's span current (while its commit listeners run: the hub links to it)."""
        token = otel_context.attach(trace.set_span_in_context(self.batch))
        try:
            yield
        finally:
            otel_context.detach(token)

    def answered(self, index: int, error: BaseException | None) -> None:
        """Write ``index`` was answered (``error``: its own, the batch committed)."""
        span = self.writes[index]
        if span is None:
            return
        if error is not None:
            span.set_attribute("error.type", type(error).__name__)
        span.end()
