"""The ``statehouse`` command line against a server process: tables, JSON, errors, watch."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

DEADLINE = 20.0


class Cli:
    def __init__(self, target: str) -> None:
        self.target = target
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", STATEHOUSE_TARGET=target)

    def run(self, *argv: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "statehouse.cli", *argv],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )
        assert "Traceback" not in result.stderr, result.stderr
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    def json(self, *argv: str) -> Any:
        return json.loads(self.run("--json", *argv).stdout)

    def popen(self, *argv: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "statehouse.cli", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )


@pytest.fixture
def cli(server_process: Any) -> Cli:
    return Cli(server_process.target)


def columns(header: str, line: str) -> dict[str, str]:
    """Cut a table line at the header's column starts (the table is aligned)."""
    names = header.split()
    starts = [header.index(name) for name in names]
    ends = [*starts[1:], None]
    return {n: line[s:e].strip() for n, s, e in zip(names, starts, ends, strict=True)}


def test_create_get_and_list_as_json_and_tables(cli: Cli) -> None:
    created = cli.json(
        "executions",
        "create",
        "--namespace",
        "company.team",
        "--flow",
        "etl",
        "--label",
        "env=prod",
        "--input",
        "day=31",
        "--input",
        "name=report",
    )
    assert created["state"] == "STATE_CREATED"
    assert created["labels"] == {"env": "prod"}
    assert created["inputs"] == {"day": 31, "name": "report"}
    execution_id = created["id"]
    other = cli.json(
        "executions", "create", "--namespace", "company.ops", "--flow", "backup",
        "--inputs-json", '{"full": true}',
    )  # fmt: skip
    assert other["inputs"] == {"full": True}

    fetched = cli.json("executions", "get", execution_id)
    assert fetched["id"] == execution_id
    assert fetched["revision"] == created["revision"]

    text = cli.run("executions", "get", execution_id).stdout
    assert f"id:         {execution_id}" in text
    assert "state:      CREATED" in text
    assert "labels:     env=prod" in text
    assert '"day":31' in text

    listed = cli.json("executions", "list")
    assert [e["id"] for e in listed] == [other["id"], execution_id]  # newest first
    assert [e["id"] for e in cli.json("executions", "list", "--namespace", "company.team")] == [
        execution_id
    ]
    assert [e["id"] for e in cli.json("executions", "list", "--label", "env=prod")] == [
        execution_id
    ]
    assert len(cli.json("executions", "list", "--limit", "1")) == 1

    table = cli.run("executions", "list").stdout.splitlines()
    header, *rows = table
    assert header.split() == [
        "ID",
        "NAMESPACE",
        "FLOW",
        "STATE",
        "REV",
        "CREATED",
        "UPDATED",
        "LABELS",
    ]
    assert len(rows) == 2
    row = columns(header, rows[1])
    assert (row["ID"], row["NAMESPACE"], row["FLOW"], row["STATE"], row["LABELS"]) == (
        execution_id, "company.team", "etl", "CREATED", "env=prod",
    )  # fmt: skip


def test_create_is_idempotent_with_a_request_id(cli: Cli) -> None:
    argv = ("executions", "create", "--namespace", "ns", "--flow", "f", "--request-id", "r-1")
    first, again = cli.json(*argv), cli.json(*argv)
    assert first["id"] == again["id"]
    result = cli.run(
        "executions", "create", "--namespace", "ns", "--flow", "g", "--request-id", "r-1", ok=False
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "(REQUEST_ID_REUSED)" in result.stderr


def test_transitions_of_task_runs_and_executions(cli: Cli) -> None:
    execution = cli.json("executions", "create", "--namespace", "ns", "--flow", "f")
    created = cli.json("task-runs", "create", "--execution", execution["id"], "--task", "extract",
                       "--value", "v1")  # fmt: skip
    run = created["task_run"]
    assert (run["state"], run["task_id"], run["value"]) == ("STATE_CREATED", "extract", "v1")

    started = cli.json("transition", "--task-run", run["id"], "RUNNING", "--worker-id", "w1")
    assert started["task_run"]["state"] == "STATE_RUNNING"
    assert started["execution_state"] == "STATE_RUNNING"

    text = cli.run(
        "transition", "--task-run", run["id"], "success", "--outputs-json", '{"rows": 10}',
        "--reason", "all good",
    ).stdout  # fmt: skip
    assert "state:      SUCCESS" in text
    assert '"rows":10' in text
    assert "all good" in text

    current = cli.json("executions", "get", execution["id"])
    done = cli.json(
        "transition", "--execution", execution["id"], "Success",
        "--expected-revision", current["revision"],
    )  # fmt: skip
    assert done["state"] == "STATE_SUCCESS"

    cli.run("executions", "delete", execution["id"])
    missing = cli.run("executions", "get", execution["id"], ok=False)
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        missing.stderr.strip().splitlines()[0]
    ) and missing.stderr.rstrip().endswith("(EXECUTION_NOT_FOUND)")


def test_errors_are_one_line_with_the_reason(cli: Cli) -> None:
    execution = cli.json("executions", "create", "--namespace", "ns", "--flow", "f")
    illegal = cli.run("transition", "--execution", execution["id"], "success", ok=False)
    assert illegal.returncode == 1
    assert illegal.stdout == ""
    assert illegal.stderr.startswith("error: ")
    assert illegal.stderr.rstrip().endswith("(INVALID_TRANSITION)")

    stale = cli.run(
        "transition", "--execution", execution["id"], "running", "--expected-revision", "999",
        ok=False,
    )  # fmt: skip
    assert stale.returncode == 1
    assert "(REVISION_MISMATCH)" in stale.stderr

    invalid = cli.run("executions", "create", "--namespace", "Bad Name", "--flow", "", ok=False)
    assert invalid.returncode == 1
    assert "(INVALID_ARGUMENT)" in invalid.stderr.splitlines()[0]
    assert "namespace" in invalid.stderr

    usage = cli.run("transition", "--execution", execution["id"], "sleeping", ok=False)
    assert usage.returncode == 2
    assert "usage:" in usage.stderr


def _make_history(cli: Cli) -> str:
    execution = cli.json("executions", "create", "--namespace", "ns", "--flow", "f")
    cli.run("transition", "--execution", execution["id"], "running")
    cli.run("transition", "--execution", execution["id"], "failed", "--reason", "boom")
    return str(execution["id"])


def test_watch_replays_as_json_lines_and_resumes_after_a_sequence(cli: Cli) -> None:
    execution_id = _make_history(cli)
    lines = cli.run("--json", "watch", "--from-start", "--limit", "3").stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["state"] for e in events] == ["STATE_CREATED", "STATE_RUNNING", "STATE_FAILED"]
    assert {e["execution_id"] for e in events} == {execution_id}
    sequences = [int(e["sequence"]) for e in events]
    assert sequences == sorted(sequences)

    resumed = cli.run("--json", "watch", "--after", str(sequences[0]), "--limit", "2").stdout
    assert [int(json.loads(line)["sequence"]) for line in resumed.splitlines()] == sequences[1:]

    failed_only = cli.run("--json", "watch", "--from-start", "--state", "failed", "--limit", "1")
    assert json.loads(failed_only.stdout)["reason"] == "boom"


def test_watch_prints_one_aligned_line_per_event(cli: Cli) -> None:
    execution_id = _make_history(cli)
    header, *lines = cli.run("watch", "--from-start", "--limit", "3").stdout.splitlines()
    assert header.split() == [
        "TIME", "SEQ", "NAMESPACE/FLOW", "EXECUTION", "TASK", "ATT", "TRANSITION", "REASON",
    ]  # fmt: skip
    assert len(lines) == 3
    rows = [columns(header, line) for line in lines]
    assert [r["TRANSITION"] for r in rows] == [
        "- -> CREATED",
        "CREATED -> RUNNING",
        "RUNNING -> FAILED",
    ]
    assert {r["NAMESPACE/FLOW"] for r in rows} == {"ns/f"}
    assert {r["EXECUTION"] for r in rows} == {execution_id[:8]}
    assert rows[2]["REASON"] == "boom"
    assert all(r["TIME"].endswith("Z") for r in rows)


def _reader(stream: Any) -> tuple[queue.Queue[str], threading.Thread]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return lines, thread


def test_watch_streams_live_events_and_exits_cleanly_on_ctrl_c(cli: Cli) -> None:
    watcher = cli.popen("--json", "watch", "--namespace", "live")
    try:
        lines, pump = _reader(watcher.stdout)
        # The watch starts from the latest event: probe until it sees one, so
        # that it is surely subscribed before the events under test.
        deadline = time.monotonic() + DEADLINE
        probe = None
        while probe is None:
            assert time.monotonic() < deadline, "watch never showed an event"
            cli.json("executions", "create", "--namespace", "live", "--flow", "probe")
            try:
                probe = json.loads(lines.get(timeout=0.5))
            except queue.Empty:
                continue
        # Drain probes that arrived late.
        while True:
            try:
                lines.get(timeout=0.3)
            except queue.Empty:
                break
        execution = cli.json("executions", "create", "--namespace", "live", "--flow", "real")
        cli.run("transition", "--execution", execution["id"], "running")
        seen = [json.loads(lines.get(timeout=DEADLINE)) for _ in range(2)]
        assert [(e["execution_id"], e["state"]) for e in seen] == [
            (execution["id"], "STATE_CREATED"),
            (execution["id"], "STATE_RUNNING"),
        ]
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(DEADLINE) == 0
        pump.join(DEADLINE)
        assert watcher.stderr is not None
        assert "Traceback" not in watcher.stderr.read()
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
        for stream in (watcher.stdout, watcher.stderr):
            if stream is not None:
                stream.close()


def test_pause_resume_kill_restart_and_complete(cli: Cli) -> None:
    execution = cli.json("executions", "create", "--namespace", "ns", "--flow", "f")
    eid = execution["id"]
    run = cli.json("task-runs", "create", "--execution", eid, "--task", "t")["task_run"]
    cli.run("transition", "--task-run", run["id"], "running")
    paused = cli.json("pause", eid, "--timeout", "3600", "--on-timeout", "fail")
    assert paused["execution"]["state"] == "STATE_PAUSED"
    assert paused["resume_time"]
    assert cli.json("resume", eid, "--reason", "approved")["state"] == "STATE_RUNNING"
    killed = cli.json("kill", eid)
    assert (killed["changed"], killed["execution"]["state"]) == (True, "STATE_KILLING")
    cli.run("transition", "--task-run", run["id"], "killed")
    text = cli.run("executions", "get", eid).stdout
    assert "state:      KILLED" in text
    assert cli.json("restart", eid)["state"] == "STATE_RESTARTED"
    cli.run("transition", "--task-run", run["id"], "running")
    cli.run("transition", "--task-run", run["id"], "warning")
    done = cli.json("complete", eid)
    assert done["state"] == "STATE_WARNING"
