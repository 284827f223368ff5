"""The metrics registry, the Grafana dashboard's queries and the log formats, without a server."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from statehouse.server.telemetry import GAUGES, JsonFormatter, Metrics, configure_logging, redact

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"


@pytest.fixture(autouse=True)
def _root_logger() -> Iterator[None]:
    """configure_logging replaces the root logger's handlers and level: put them back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def _exprs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [e for value in node.values() for e in _exprs(value)]
    if isinstance(node, list):
        return [e for value in node for e in _exprs(value)]
    return []


def test_every_metric_the_dashboard_queries_exists_in_the_registry() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = _exprs(dashboard)
    assert len(exprs) >= 10, "the dashboard has a query per panel"
    used = {name for expr in exprs for name in re.findall(r"\bstatehouse_\w+", expr)}
    known = Metrics().names()
    assert used - known == set()
    # And the dashboard shows most of what is there (every family but one or two).
    families = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in known}
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in used}
    assert len(families - shown) <= 2, families - shown


def test_names_follow_prometheus_conventions() -> None:
    for name in Metrics().names():
        assert re.fullmatch(r"statehouse_[a-z_]+", name), name
        if name.endswith("_seconds_bucket") or "duration" in name:
            assert "_seconds" in name, name
    for gauge in GAUGES:
        assert not gauge.name.endswith("_total"), gauge.name


async def test_two_servers_in_one_process_have_their_own_registries() -> None:
    a, b = Metrics(), Metrics()
    a.rpc("grpc", "/statehouse.v1.ExecutionService/GetExecution", 0, 0.001)
    assert b"GetExecution" in await a.scrape()
    assert b"GetExecution" not in await b.scrape()


async def test_an_rpc_counts_by_transport_service_method_and_code() -> None:
    m = Metrics()
    m.rpc("connect", "/statehouse.v1.ExecutionService/TransitionTaskRun", 9, 0.002)
    m.rpc("grpc", "/statehouse.v1.EventService/Subscribe", 1, None)
    text = (await m.scrape()).decode()
    assert (
        'statehouse_rpcs_total{code="FAILED_PRECONDITION",method="TransitionTaskRun",'
        'service="statehouse.v1.ExecutionService",transport="connect"} 1.0'
    ) in text
    assert 'code="CANCELLED",method="Subscribe"' in text
    # A stream is counted, not timed.
    assert 'statehouse_rpc_duration_seconds_count{method="Subscribe"' not in text


async def test_a_commit_counts_its_batch_and_state_changes() -> None:
    m = Metrics()
    m.committed(3, 0.004, [(True, "RUNNING"), (True, "RUNNING"), (False, "RUNNING")])
    text = (await m.scrape()).decode()
    assert 'statehouse_state_changes_total{kind="task_run",state="RUNNING"} 2.0' in text
    assert 'statehouse_state_changes_total{kind="execution",state="RUNNING"} 1.0' in text
    assert "statehouse_events_appended_total 3.0" in text
    assert "statehouse_commit_batch_writes_sum 3.0" in text
    assert 'statehouse_db_transaction_duration_seconds_count{kind="write"} 1.0' in text


async def test_retention_kinds_are_singular() -> None:
    m = Metrics()
    m.deleted("executions", 4)
    m.deleted("event", 2)
    m.deleted("request_ids", 0)
    text = (await m.scrape()).decode()
    assert 'statehouse_retention_deleted_total{kind="execution"} 4.0' in text
    assert 'statehouse_retention_deleted_total{kind="event"} 2.0' in text
    assert 'kind="request_id"' not in text


async def test_gauges_are_read_at_scrape_time_and_a_failing_one_stays_empty() -> None:
    m = Metrics()
    value = {"head": 1}
    m.set_gauge("statehouse_log_head_sequence", lambda: {(): value["head"]})
    m.set_gauge("statehouse_subscribers", lambda: 1 / 0)  # type: ignore[arg-type,return-value]
    value["head"] = 42
    text = (await m.scrape()).decode()
    assert "statehouse_log_head_sequence 42.0" in text
    assert "# TYPE statehouse_subscribers gauge" in text
    with pytest.raises(KeyError):
        m.set_gauge("statehouse_no_such_gauge", dict)


async def test_a_refresher_runs_before_the_scrape_and_a_slow_one_does_not_block_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from statehouse.server.telemetry import _metrics

    monkeypatch.setattr(_metrics, "REFRESH_TIMEOUT", 0.05)
    m = Metrics()
    pending = {"PAUSE": 0}

    async def refresh() -> None:
        pending["PAUSE"] = 3

    async def stuck() -> None:
        await asyncio.sleep(10)

    m.add_refresher(refresh)
    m.set_gauge("statehouse_timers_pending", lambda: {("PAUSE",): pending["PAUSE"]})
    assert 'statehouse_timers_pending{kind="PAUSE"} 3.0' in (await m.scrape()).decode()
    m.add_refresher(stuck)
    assert b"statehouse_timers_pending" in await m.scrape()


async def test_one_of_several_processes_labels_every_sample() -> None:
    m = Metrics(process=2)
    m.rpc("grpc", "/statehouse.v1.ExecutionService/GetExecution", 0, 0.001)
    lines = [line for line in (await m.scrape()).decode().splitlines() if not line.startswith("#")]
    assert lines and all('process="2"' in line for line in lines), lines


def test_json_logs_are_one_object_per_line_with_the_fields() -> None:
    out = io.StringIO()
    handler = configure_logging("DEBUG", "json", stream=out)
    try:
        logging.getLogger("statehouse.test").info(
            "hello %s", "world", extra={"method": "m", "code": "OK"}
        )
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("statehouse.test").exception("failed")
    finally:
        logging.getLogger().removeHandler(handler)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "hello world"
    assert (first["level"], first["logger"], first["method"], first["code"]) == (
        "INFO",
        "statehouse.test",
        "m",
        "OK",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["time"])
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exception"]
    assert isinstance(JsonFormatter(), logging.Formatter)


def test_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log format"):
        configure_logging("INFO", "xml")


@pytest.mark.parametrize(
    "secret",
    [
        "Bearer sht_3f9c0a1b2d4e_abcdefABCDEF0123",
        "sht_3f9c0a1b2d4e_abcdefABCDEF0123",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrZXIifQ.c2lnbmF0dXJl",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----",
    ],
)
def test_secrets_are_redacted_from_log_lines(secret: str) -> None:
    assert "[REDACTED]" in redact(f"got {secret} here")
    assert secret not in redact(f"got {secret} here")
    out = io.StringIO()
    handler = configure_logging("DEBUG", "text", stream=out)
    try:
        logging.getLogger("statehouse.test").warning("header %s", secret, extra={"x": secret})
    finally:
        logging.getLogger().removeHandler(handler)
    assert secret not in out.getvalue() and "[REDACTED]" in out.getvalue()


def test_a_send_to_a_client_that_has_gone_is_not_logged_as_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """grpc's own ERROR (with a traceback) for a stream send that failed because
    the client had gone is kept at DEBUG; grpc's other errors stay errors."""
    import logging

    import statehouse.server.api.grpc_transport  # noqa: F401 (installs the filter)

    grpc_log = logging.getLogger("grpc._cython.cygrpc")
    with caplog.at_level(logging.INFO):
        try:
            raise RuntimeError("Failed execute_batch")
        except RuntimeError:
            grpc_log.exception(
                "ExecuteBatchError raised in core by servicer method [%s]",
                "/statehouse.v1.EventService/Subscribe",
            )
        grpc_log.error("some other failure")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "some other failure")
    ]
