"""OpenTelemetry traces of a real server: one span per RPC on both transports, its
parent the client's span, the store's and the hub's spans; none when off.

In-process servers (``create_server(settings, tracing=...)``) with a tracer
provider whose spans go to the SDK's in-memory exporter, and the SDK's
``AsyncClient`` on the same event loop, under a span of a client-side provider
of its own: the SDK injects its ``traceparent``. SQLite only: the spans do not
depend on the backend (``db.system.name`` aside).
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from statehouse.client import AsyncClient, NotFoundError
from statehouse.server import testing as launcher
from statehouse.server.app import Server, create_server
from statehouse.server.telemetry import Tracing
from statehouse.v1 import event_service_pb2, event_service_pb2_grpc
from tests.eventually import eventually_async
from tests.integration.conftest import make_settings

EXECUTION = "statehouse.v1.ExecutionService"


class Traced:
    """A server with traces to memory, and a tracer for the client's own spans."""

    def __init__(self, server: Server, port: int, exporter: InMemorySpanExporter) -> None:
        self.server = server
        self.target = f"127.0.0.1:{port}"
        self.exporter = exporter
        client_provider = TracerProvider()
        self.client_spans = InMemorySpanExporter()
        client_provider.add_span_processor(SimpleSpanProcessor(self.client_spans))
        self.tracer = client_provider.get_tracer("test-client")

    def spans(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if s.name == name]

    async def wait_for(
        self, name: str, where: Callable[[ReadableSpan], bool] = lambda s: True
    ) -> ReadableSpan:
        """The first finished span named ``name`` that ``where`` accepts."""
        found: list[ReadableSpan] = await eventually_async(
            lambda: [s for s in self.spans(name) if where(s)], f"a finished span {name!r}"
        )
        return found[0]


@pytest.fixture
async def traced(tmp_path: Path) -> AsyncIterator[Traced]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # The hub hears of this process's commits only from the commits themselves: the
    # file's change counter and the log's poll could tell it first (then a commit's
    # events arrive without its span, and with nobody to deliver to are skipped).
    settings = replace(
        make_settings(f"sqlite:///{tmp_path / 'statehouse.db'}"),
        http_address="127.0.0.1:0",
        change_poll_interval=0.0,
        poll_interval=3600.0,
    )
    server, port = await create_server(settings, tracing=Tracing(provider))
    await server.start()
    try:
        yield Traced(server, port, exporter)
    finally:
        await server.stop(0)


def _linked(span: ReadableSpan, target: ReadableSpan) -> bool:
    assert target.context is not None
    return any(link.context.span_id == target.context.span_id for link in span.links)


async def test_a_call_is_one_server_span_whose_parent_is_the_clients(traced: Traced) -> None:
    async with AsyncClient.connect(traced.target) as client:
        execution = await client.create_execution(namespace="demo", flow_id="hello")
        created = await client.create_task_run(execution_id=execution.id, task_id="extract")
        with traced.tracer.start_as_current_span("worker", kind=SpanKind.CLIENT) as parent:
            await client.transition_task_run(created.task_run.id, state="RUNNING")
    name = f"{EXECUTION}/TransitionTaskRun"
    span = await traced.wait_for(name)
    assert len(traced.spans(name)) == 1
    assert span.kind is SpanKind.SERVER
    attributes = dict(span.attributes or {})
    assert {k: attributes.get(k) for k in ("rpc.system", "rpc.service", "rpc.method")} == {
        "rpc.system": "grpc",
        "rpc.service": EXECUTION,
        "rpc.method": "TransitionTaskRun",
    }
    assert attributes["rpc.grpc.status_code"] == 0
    assert attributes["statehouse.task_run_id"] == created.task_run.id
    assert span.status.status_code is StatusCode.UNSET
    # The parent is the client's span: same trace, its span id.
    context = parent.get_span_context()
    assert span.context is not None and span.parent is not None
    assert span.context.trace_id == context.trace_id
    assert span.parent.span_id == context.span_id
    assert span.parent.is_remote
    # Calls made with no span current on the client start traces of their own.
    create = traced.spans(f"{EXECUTION}/CreateExecution")
    assert len(create) == 1 and create[0].parent is None
    assert create[0].context is not None and create[0].context.trace_id != context.trace_id


async def test_a_write_is_a_child_span_linked_to_its_batchs_transaction_and_fanout(
    traced: Traced,
) -> None:
    # Someone to deliver to, so that the commit has a fan-out to trace.
    channel = grpc.aio.insecure_channel(traced.target)
    stream = event_service_pb2_grpc.EventServiceStub(channel).Subscribe(
        event_service_pb2.SubscribeRequest(from_latest=True)
    )
    try:
        await eventually_async(lambda: traced.server.hub.subscriptions, "a subscription")
        await _write_and_trace(traced)
    finally:
        stream.cancel()
        await channel.close()


async def _write_and_trace(traced: Traced) -> None:
    async with AsyncClient.connect(traced.target) as client:
        execution = await client.create_execution(namespace="demo", flow_id="hello")
        await client.get_execution(execution.id)
    rpc = await traced.wait_for(f"{EXECUTION}/CreateExecution")
    assert rpc.context is not None
    write = await traced.wait_for(
        "statehouse.write",
        lambda s: s.parent is not None and s.parent.span_id == rpc.context.span_id,
    )
    assert write.context is not None and write.context.trace_id == rpc.context.trace_id
    # The batch's transaction: a trace of its own, linked from the write and to the request.
    commit = await traced.wait_for("statehouse.commit", lambda s: _linked(write, s))
    assert commit.parent is None and _linked(commit, rpc)
    assert commit.attributes is not None
    assert commit.attributes["db.system.name"] == "sqlite"
    assert commit.attributes["statehouse.batch.events"] == 1
    assert write.start_time is not None and commit.start_time is not None
    assert write.start_time <= commit.start_time <= commit.end_time <= write.end_time  # type: ignore[operator]
    # The fan-out of its event, after the commit, linked to it.
    fanout = await traced.wait_for("statehouse.fanout", lambda s: _linked(s, commit))
    assert fanout.attributes is not None and fanout.attributes["statehouse.events"] == 1
    # A read is a child of its request.
    get = await traced.wait_for(f"{EXECUTION}/GetExecution")
    assert get.context is not None
    await traced.wait_for(
        "statehouse.read",
        lambda s: s.parent is not None and s.parent.span_id == get.context.span_id,
    )


async def test_an_error_sets_the_code_and_only_server_errors_the_status(traced: Traced) -> None:
    async with AsyncClient.connect(traced.target) as client:
        with pytest.raises(NotFoundError):
            await client.get_execution("no-such-execution")
    span = await traced.wait_for(f"{EXECUTION}/GetExecution")
    assert span.attributes is not None
    assert span.attributes["rpc.grpc.status_code"] == 5  # NOT_FOUND: the caller's, not ours
    assert span.status.status_code is StatusCode.UNSET


async def test_a_stream_is_one_span_ended_with_its_call(traced: Traced) -> None:
    async with AsyncClient.connect(traced.target) as client:
        execution = await client.create_execution(namespace="demo", flow_id="hello")
        with traced.tracer.start_as_current_span("watcher") as parent:
            subscription = client.subscribe(execution_ids=[execution.id])
            async for _ in subscription:
                break
            await subscription.close()
    span = await traced.wait_for("statehouse.v1.EventService/Subscribe")
    assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
    assert span.attributes is not None and span.attributes["rpc.grpc.status_code"] == 1


async def test_connect_calls_are_spans_with_the_traceparent_header_as_parent(
    traced: Traced,
) -> None:
    port = traced.server.http_port
    trace_id, span_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"

    def post() -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/{EXECUTION}/GetExecution",
            data=json.dumps({"executionId": "nope"}).encode(),
            headers={
                "Content-Type": "application/json",
                "traceparent": f"00-{trace_id}-{span_id}-01",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code

    assert await asyncio.to_thread(post) == 404
    span = await traced.wait_for(f"{EXECUTION}/GetExecution")
    assert span.attributes is not None
    assert span.attributes["rpc.system"] == "connect_rpc"
    assert span.attributes["rpc.grpc.status_code"] == 5
    assert span.attributes["rpc.connect_rpc.error_code"] == "not_found"
    assert span.context is not None and span.parent is not None
    assert span.context.trace_id == int(trace_id, 16)
    assert span.parent.span_id == int(span_id, 16)


async def test_traces_are_off_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTEL_TRACES_EXPORTER: no provider, no span, and the global provider untouched."""
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    settings = make_settings(f"sqlite:///{tmp_path / 'statehouse.db'}")
    server, port = await create_server(settings)
    await server.start()
    try:
        tracing = server.store.tracing
        assert not tracing.enabled and tracing.provider is None
        assert server.transport.tracing is tracing and server.hub._tracing is tracing
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        async with AsyncClient.connect(f"127.0.0.1:{port}") as client:
            with provider.get_tracer("test").start_as_current_span("worker"):
                await client.create_execution(namespace="demo", flow_id="hello")
        assert [s.name for s in exporter.get_finished_spans()] == ["worker"]
        assert not hasattr(trace.get_tracer_provider(), "add_span_processor")
    finally:
        await server.stop(0)


def test_an_exporter_that_is_not_installed_is_refused_at_start(tmp_path: Path) -> None:
    server = launcher.ServerProcess(
        ["--data-dir", str(tmp_path)],
        log_path=tmp_path / "server.log",
        env={"PATH": "/usr/bin:/bin", "OTEL_TRACES_EXPORTER": "nosuchexporter"},
    )
    with pytest.raises(launcher.ServerExited):
        server.start()
    assert server.proc is not None and server.proc.returncode == 1, server.logs()
    assert "OTEL_TRACES_EXPORTER=nosuchexporter: no such span exporter" in server.logs()
    assert not (tmp_path / "statehouse.db").exists()
