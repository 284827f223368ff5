"""Traces without a server: the OTEL_* variables that turn them on, and the SDK's
``traceparent`` (docs/design.md, "Observability")."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest
from opentelemetry.sdk.trace import TracerProvider

from statehouse.client._tracing import with_trace_context
from statehouse.server.telemetry import Tracing, TracingConfigError, trace_exporters


@pytest.mark.parametrize(
    "environ",
    [{}, {"OTEL_TRACES_EXPORTER": "none"}, {"OTEL_TRACES_EXPORTER": " "}],
    ids=["unset", "none", "blank"],
)
def test_traces_are_off_unless_an_exporter_is_named(environ: dict[str, str]) -> None:
    tracing = Tracing.from_environment(environ)
    assert not tracing.enabled and tracing.provider is None and not tracing.fields


def test_otel_sdk_disabled_turns_them_off() -> None:
    environ = {"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}
    assert not Tracing.from_environment(environ).enabled


def test_console_turns_them_on_with_the_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    tracing = Tracing.from_environment({"OTEL_TRACES_EXPORTER": "console"})
    try:
        assert tracing.enabled and isinstance(tracing.provider, TracerProvider)
        assert tracing.provider.resource.attributes["service.name"] == "statehouse"
        assert "traceparent" in tracing.fields
    finally:
        tracing.shutdown()
    monkeypatch.setenv("OTEL_SERVICE_NAME", "orders-statehouse")
    tracing = Tracing.from_environment({"OTEL_TRACES_EXPORTER": "console"})
    try:
        assert tracing.provider is not None
        assert tracing.provider.resource.attributes["service.name"] == "orders-statehouse"
    finally:
        tracing.shutdown()


def test_an_unknown_exporter_is_refused_with_the_installed_ones() -> None:
    with pytest.raises(TracingConfigError, match=r"nosuch: no such span exporter .*console"):
        trace_exporters({"OTEL_TRACES_EXPORTER": "console,nosuch"})


def test_otlp_without_its_extra_says_what_to_install() -> None:
    points = importlib.metadata.entry_points(
        group="opentelemetry_traces_exporter", name="otlp_proto_grpc"
    )
    if points:
        pytest.skip("the OTLP exporter is installed here")
    with pytest.raises(TracingConfigError, match=r"pip install 'statehouse-server\[otlp\]'"):
        trace_exporters({"OTEL_TRACES_EXPORTER": "otlp"})


def test_an_unknown_otlp_protocol_is_refused() -> None:
    with pytest.raises(TracingConfigError, match="grpc or http/protobuf"):
        trace_exporters(
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}
        )


def test_the_sdk_sends_the_current_span_as_traceparent() -> None:
    metadata = (("authorization", "Bearer x"),)
    assert with_trace_context(metadata) is metadata  # no span current
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("worker") as span:
        sent = dict(with_trace_context(metadata))
    context = span.get_span_context()
    assert sent["authorization"] == "Bearer x"
    assert sent["traceparent"].startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")


def test_the_sdk_does_not_import_opentelemetry_itself() -> None:
    """An application that has not imported OpenTelemetry (or has none) pays nothing."""
    code = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None  # as if it were not installed\n"
        "from statehouse.client import Client\n"
        "from statehouse.client._tracing import with_trace_context\n"
        "assert with_trace_context((('a', 'b'),)) == (('a', 'b'),)\n"
        "assert sys.modules['opentelemetry'] is None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
