"""/metrics and the logs of a real server process: the counters move with real calls.

One server process with gRPC and HTTP (port 0 both), JSON logs at DEBUG and
authentication on; the test scrapes ``/metrics`` on the HTTP port before and
after calls and compares series. A second process has ``--metrics-address``
alone. SQLite only: what is counted does not depend on the backend (the pool
gauges of both are checked by the unit tests' registry).
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2

from statehouse.server.security.credentials import issue_offline
from statehouse.v1 import (
    event_service_pb2 as evpb,
    event_service_pb2_grpc,
    execution_service_pb2 as epb,
    execution_service_pb2_grpc,
    state_pb2,
)
from tests.eventually import TIMEOUT, eventually
from tests.integration.conftest import ServerProcess

SAMPLE = re.compile(r"^(\w+)(?:\{(.*)\})? (\S+)$")
EXECUTION = "statehouse.v1.ExecutionService"

pytestmark = pytest.mark.xdist_group("observability")


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``/metrics``: (name, labels) -> value."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        body = response.read().decode()
        assert response.status == 200, body
        assert response.getheader("content-type", "").startswith("text/plain")
    finally:
        conn.close()
    samples = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, line
        name, labels, value = match.groups()
        pairs = frozenset(re.findall(r'(\w+)="([^"]*)"', labels or ""))
        samples[(name, pairs)] = float(value)
    return samples


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    eventually(condition, str(condition), within=max(timeout, TIMEOUT), step=0.05)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    url = f"sqlite:///{tmp_path / 'statehouse.db'}"
    _, token = issue_offline(url, name="root", role="admin", namespaces=["*"])
    proc = ServerProcess(
        url,
        tmp_path / "server.log",
        options=(
            "--http-address", "127.0.0.1:0", "--auth",
            "--log-format", "json", "--log-level", "DEBUG",
        ),
    )  # fmt: skip
    try:
        yield proc, token
    finally:
        proc.kill()


def http_port(proc: ServerProcess) -> int:
    assert proc.http_port is not None, "started without --http-address"
    return proc.http_port


def test_calls_move_the_counters_and_the_logs_carry_their_fields(
    server: tuple[ServerProcess, str],
) -> None:
    proc, token = server
    port = http_port(proc)
    metadata = (("authorization", f"Bearer {token}"),)
    with grpc.insecure_channel(proc.target) as channel:
        executions = execution_service_pb2_grpc.ExecutionServiceStub(channel)
        events = event_service_pb2_grpc.EventServiceStub(channel)
        execution = executions.CreateExecution(
            epb.CreateExecutionRequest(namespace="obs", flow_id="f"), metadata=metadata
        ).execution
        task_run = executions.CreateTaskRun(
            epb.CreateTaskRunRequest(execution_id=execution.id, task_id="t"), metadata=metadata
        ).task_run
        before = scrape(port)

        # A transition: the RPC counter with its code, the state change, a batch.
        executions.TransitionTaskRun(
            epb.TransitionTaskRunRequest(
                task_run_id=task_run.id, state=state_pb2.STATE_RUNNING, request_id="req-1"
            ),
            metadata=metadata,
        )
        # An error: its code's series.
        with pytest.raises(grpc.RpcError) as refused:
            executions.TransitionTaskRun(
                epb.TransitionTaskRunRequest(
                    task_run_id=task_run.id, state=state_pb2.STATE_CREATED
                ),
                metadata=metadata,
            )
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        after = scrape(port)
        rpc = {"service": EXECUTION, "method": "TransitionTaskRun", "transport": "grpc"}
        assert value(after, "statehouse_rpcs_total", code="OK", **rpc) == 1 + value(
            before, "statehouse_rpcs_total", code="OK", **rpc
        )
        assert value(after, "statehouse_rpcs_total", code="FAILED_PRECONDITION", **rpc) == 1
        assert value(after, "statehouse_rpc_duration_seconds_count", **rpc) == 2
        running = {"kind": "task_run", "state": "RUNNING"}
        assert value(after, "statehouse_state_changes_total", **running) == 1 + value(
            before, "statehouse_state_changes_total", **running
        )
        assert value(after, "statehouse_commit_batch_writes_count") > value(
            before, "statehouse_commit_batch_writes_count"
        )
        assert value(after, "statehouse_log_head_sequence") >= 4  # 2 created, 2 running
        assert value(after, "statehouse_db_connections_max", pool="sqlite") > 0

        # A subscriber appears while its stream is open, and disappears after.
        stream = events.Subscribe(evpb.SubscribeRequest(), metadata=metadata)
        first = threading.Event()
        reader = threading.Thread(target=lambda: (next(stream), first.set()), daemon=True)
        reader.start()
        assert first.wait(10)

        def subscribers() -> float:
            now = scrape(port)
            return value(now, "statehouse_subscribers", state="live") + value(
                now, "statehouse_subscribers", state="catching_up"
            )

        wait_for(lambda: subscribers() == 1)
        stream.cancel()
        wait_for(lambda: subscribers() == 0)
        wait_for(
            lambda: (
                value(
                    scrape(port),
                    "statehouse_rpcs_total",
                    service="statehouse.v1.EventService",
                    method="Subscribe",
                    transport="grpc",
                    code="CANCELLED",
                )
                == 1
            )
        )

        # A pause with a delay: a timer pending, then fired.
        executions.PauseExecution(
            epb.PauseExecutionRequest(
                execution_id=execution.id, delay=duration_pb2.Duration(nanos=300_000_000)
            ),
            metadata=metadata,
        )
        paused = scrape(port)
        fired_before = value(paused, "statehouse_timers_fired_total", kind="PAUSE")
        assert (
            value(paused, "statehouse_timers_pending", kind="PAUSE") == 1
            or value(paused, "statehouse_timers_fired_total", kind="PAUSE") == 1
        )

        def fired() -> bool:
            now = scrape(port)
            return (
                value(now, "statehouse_timers_fired_total", kind="PAUSE") == 1
                and value(now, "statehouse_timers_pending", kind="PAUSE") == 0
            )

        wait_for(fired)
        assert fired_before <= 1

    # The same calls over Connect count under transport="connect".
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(
        "POST",
        f"/{EXECUTION}/GetExecution",
        body=json.dumps({"executionId": "no-such-execution"}),
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    assert conn.getresponse().status == 404
    conn.close()
    over_connect = scrape(port)
    assert (
        value(
            over_connect,
            "statehouse_rpcs_total",
            service=EXECUTION,
            method="GetExecution",
            transport="connect",
            code="NOT_FOUND",
        )
        == 1
    )

    # The logs: JSON lines, the request log with its fields, no token anywhere.
    text = proc.logs()
    assert token not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message"} <= set(r) for r in lines)
    requests = [r for r in lines if r["logger"] == "statehouse.requests"]
    ok = next(r for r in requests if r.get("request_id") == "req-1")
    assert ok["level"] == "DEBUG"
    assert (ok["method"], ok["code"], ok["actor"], ok["task_run_id"], ok["transport"]) == (
        f"{EXECUTION}/TransitionTaskRun",
        "OK",
        "root",
        task_run.id,
        "grpc",
    )
    assert ok["duration_ms"] >= 0
    error = next(r for r in requests if r["code"] == "FAILED_PRECONDITION")
    assert error["level"] == "WARNING" and "cannot go to CREATED" in error["error"]
    paused_line = next(r for r in requests if r["method"].endswith("/PauseExecution"))
    assert paused_line["execution_id"] == execution.id
    connect_line = next(r for r in requests if r["transport"] == "connect")
    assert (connect_line["code"], connect_line["execution_id"]) == (
        "NOT_FOUND",
        "no-such-execution",
    )


def test_a_refused_token_is_not_logged_at_debug(server: tuple[ServerProcess, str]) -> None:
    proc, token = server
    wrong = token[:-6] + "ZZZZZZ"
    with grpc.insecure_channel(proc.target) as channel:
        executions = execution_service_pb2_grpc.ExecutionServiceStub(channel)
        for secret in (wrong, token):
            with pytest.raises(grpc.RpcError):
                executions.GetExecution(
                    epb.GetExecutionRequest(execution_id="missing"),
                    metadata=(("authorization", f"Bearer {secret}"),),
                )
    conn = http.client.HTTPConnection("127.0.0.1", http_port(proc), timeout=10)
    conn.request(
        "POST",
        f"/{EXECUTION}/GetExecution",
        body=b"{}",
        headers={"content-type": "application/json", "authorization": f"Bearer {wrong}"},
    )
    assert conn.getresponse().status == 401
    conn.close()
    wait_for(lambda: proc.logs().count('"code":"UNAUTHENTICATED"') >= 2)
    text = proc.logs()
    assert token not in text and wrong not in text
    assert token.split("_")[1] not in text  # not even the token's id part
    assert '"level":"DEBUG"' in text


def test_metrics_address_alone_serves_metrics(tmp_path: Path) -> None:
    proc = ServerProcess(
        f"sqlite:///{tmp_path / 'statehouse.db'}",
        tmp_path / "server.log",
        options=("--metrics-address", "127.0.0.1:0"),
    )
    try:
        port = proc.metrics_port
        assert port is not None
        assert f"statehouse metrics on http://127.0.0.1:{port}/metrics" in proc.logs()
        with grpc.insecure_channel(proc.target) as channel:
            execution_service_pb2_grpc.ExecutionServiceStub(channel).CreateExecution(
                epb.CreateExecutionRequest(namespace="obs", flow_id="f")
            )
        samples = scrape(port)
        assert (
            value(
                samples,
                "statehouse_rpcs_total",
                service=EXECUTION,
                method="CreateExecution",
                transport="grpc",
                code="OK",
            )
            == 1
        )
        assert (
            value(samples, "statehouse_state_changes_total", kind="execution", state="CREATED") == 1
        )
        # Only /metrics is served there.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/")
        assert conn.getresponse().status == 404
        conn.close()
        # Text logs by default.
        assert "INFO statehouse.server: statehouse serving on" in proc.logs()
    finally:
        proc.kill()
