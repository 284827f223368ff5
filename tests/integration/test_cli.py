"""The ``statehouse`` command line against a server process: tables, JSON, errors, watch."""

from __future__ import annotations

import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import timestamp_pb2

from statehouse.cli import _render as render
from statehouse.client import Client, counter, timer
from tests.eventually import eventually

DEADLINE = 20.0

# Every command is a new Python process (its start is most of each test's time):
# make test runs these; make test-fast keeps the CLI's in-process unit tests
# (tests/unit/test_cli_parsing.py, test_cli_render.py) and test_cli_errors.py.
pytestmark = pytest.mark.slow


class Cli:
    def __init__(self, target: str) -> None:
        self.target = target
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", STATEHOUSE_TARGET=target)

    def run(
        self, *argv: str, ok: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "statehouse.cli", *argv],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )
        assert "Traceback" not in result.stderr, result.stderr
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    def json(self, *argv: str, stdin: str | None = None) -> Any:
        """The command's --json output: its response message."""
        return json.loads(self.run("--json", *argv, stdin=stdin).stdout)

    def execution(self, *argv: str, stdin: str | None = None) -> Any:
        """The execution in the response of a command that answers with one."""
        response = self.json(*argv, stdin=stdin)
        assert set(response) == {"execution"}, response
        return response["execution"]

    def popen(self, *argv: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "statehouse.cli", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**self.env, "PYTHONFAULTHANDLER": "1"},  # SIGABRT dumps every thread
        )


@pytest.fixture
def cli(server_process: Any) -> Cli:
    return Cli(server_process.target)


def event_of(line: str) -> dict[str, Any]:
    """The event of a ``watch --json`` line (a SubscribeResponse)."""
    response = json.loads(line)
    assert set(response) == {"event"}, response
    event: dict[str, Any] = response["event"]
    return event


def columns(header: str, line: str) -> dict[str, str]:
    """Cut a table line at the header's column starts (the table is aligned)."""
    names = header.split()
    starts = [header.index(name) for name in names]
    ends = [*starts[1:], None]
    return {n: line[s:e].strip() for n, s, e in zip(names, starts, ends, strict=True)}


def test_create_get_and_list_as_json_and_tables(cli: Cli) -> None:
    created = cli.execution(
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
    other = cli.execution(
        "executions", "create", "--namespace", "company.ops", "--flow", "backup",
        "--inputs-json", '{"full": true}',
    )  # fmt: skip
    assert other["inputs"] == {"full": True}

    fetched = cli.execution("executions", "get", execution_id)
    assert fetched["id"] == execution_id
    assert fetched["revision"] == created["revision"]

    text = cli.run("executions", "get", execution_id).stdout
    assert f"id:         {execution_id}" in text
    assert "state:      CREATED" in text
    assert "labels:     env=prod" in text
    assert '"day":31' in text

    listed = cli.json("executions", "list")["executions"]
    assert [e["id"] for e in listed] == [other["id"], execution_id]  # newest first
    assert [
        e["id"] for e in cli.json("executions", "list", "--namespace", "company.team")["executions"]
    ] == [execution_id]
    assert [
        e["id"] for e in cli.json("executions", "list", "--label", "env=prod")["executions"]
    ] == [execution_id]
    assert len(cli.json("executions", "list", "--limit", "1")["executions"]) == 1

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
    first, again = cli.execution(*argv), cli.execution(*argv)
    assert first["id"] == again["id"]
    result = cli.run(
        "executions", "create", "--namespace", "ns", "--flow", "g", "--request-id", "r-1", ok=False
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "(REQUEST_ID_REUSED)" in result.stderr


def test_transitions_of_task_runs_and_executions(cli: Cli) -> None:
    execution = cli.execution("executions", "create", "--namespace", "ns", "--flow", "f")
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

    current = cli.execution("executions", "get", execution["id"])
    done = cli.execution(
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


def test_transition_file_moves_many_task_runs_with_one_line_per_item(
    cli: Cli, tmp_path: Path
) -> None:
    execution = cli.execution("executions", "create", "--namespace", "ns", "--flow", "f")
    a, b = (
        cli.json("task-runs", "create", "--execution", execution["id"], "--task", t)["task_run"][
            "id"
        ]
        for t in ("a", "b")
    )
    lines = [
        {"task_run_id": a, "state": "RUNNING", "worker_id": "w1", "request_id": "a-1"},
        {"task_run_id": a, "state": "success", "outputs": {"rows": 2}, "reason": "done"},
        {"task_run_id": b, "state": "SUCCESS"},
        {"task_run_id": "no-such-run", "state": "RUNNING"},
    ]
    path = tmp_path / "moves.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines[:2]) + "\n\n"
                    + "\n".join(json.dumps(line) for line in lines[2:]) + "\n")  # fmt: skip
    result = cli.run("transition", "--file", str(path), ok=False)
    assert result.returncode == 1
    out = result.stdout.splitlines()
    assert len(out) == 4
    assert out[0].startswith(f"line 1: {a} RUNNING (execution RUNNING, revision ")
    assert out[1].startswith(f"line 2: {a} SUCCESS")
    assert out[2].startswith(f"line 4: {b} error: ") and out[2].endswith("(INVALID_TRANSITION)")
    assert out[3].startswith("line 5: no-such-run error: ")
    assert out[3].endswith("(TASK_RUN_NOT_FOUND)")
    assert result.stderr == "2 of 4 transitions failed\n"

    # From stdin, as JSON lines; the repeated request_id gives the first answer.
    first = json.dumps(lines[0])
    again = cli.run("--json", "transition", "--file", "-", stdin=first + "\n" + json.dumps(
        {"task_run_id": b, "state": "RUNNING"}) + "\n")  # fmt: skip
    assert again.returncode == 0, again.stderr
    records = [json.loads(line) for line in again.stdout.splitlines()]
    assert [r["line"] for r in records] == [1, 2]
    assert records[0]["response"]["task_run"]["state"] == "STATE_RUNNING"
    assert records[1]["response"]["task_run"]["state"] == "STATE_RUNNING"
    failed = cli.run("--json", "transition", "--file", "-", ok=False,
                     stdin=json.dumps({"task_run_id": b, "state": "CREATED"}))  # fmt: skip
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["error"]["reason"] == "INVALID_TRANSITION"

    # Bad lines and options are usage errors, found before anything is sent.
    for stdin, argv in (
        ('{"task_run_id": "x", "state": "RUNNING"}\nnot json\n', ()),
        ('{"task_run_id": "x", "state": "SLEEPING"}\n', ()),
        ('{"state": "RUNNING"}\n', ()),
        ('{"task_run_id": "x", "state": "RUNNING", "colour": 1}\n', ()),
        ('{"task_run_id": "x", "state": "RUNNING"}\n', ("RUNNING",)),
    ):
        usage = cli.run("transition", "--file", "-", *argv, ok=False, stdin=stdin)
        assert usage.returncode == 2, (stdin, usage.stderr)
        assert usage.stdout == ""


def test_errors_are_one_line_with_the_reason(cli: Cli) -> None:
    execution = cli.execution("executions", "create", "--namespace", "ns", "--flow", "f")
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
    execution = cli.execution("executions", "create", "--namespace", "ns", "--flow", "f")
    cli.run("transition", "--execution", execution["id"], "running")
    cli.run("transition", "--execution", execution["id"], "failed", "--reason", "boom")
    return str(execution["id"])


def test_watch_replays_as_json_lines_and_resumes_after_a_sequence(cli: Cli) -> None:
    execution_id = _make_history(cli)
    lines = cli.run("--json", "watch", "--from-start", "--limit", "3").stdout.splitlines()
    events = [event_of(line) for line in lines]
    assert [e["state"] for e in events] == ["STATE_CREATED", "STATE_RUNNING", "STATE_FAILED"]
    assert {e["execution_id"] for e in events} == {execution_id}
    sequences = [int(e["sequence"]) for e in events]
    assert sequences == sorted(sequences)

    resumed = cli.run("--json", "watch", "--after", str(sequences[0]), "--limit", "2").stdout
    assert [int(event_of(line)["sequence"]) for line in resumed.splitlines()] == sequences[1:]

    failed_only = cli.run("--json", "watch", "--from-start", "--state", "failed", "--limit", "1")
    assert event_of(failed_only.stdout)["reason"] == "boom"


def test_watch_prints_one_aligned_line_per_event(cli: Cli) -> None:
    execution_id = _make_history(cli)
    header, *lines = cli.run("watch", "--from-start", "--limit", "3").stdout.splitlines()
    assert header.split() == [
        "TIME", "SEQ", "NAMESPACE/FLOW", "EXECUTION", "TASK", "ATT", "TRANSITION", "ACTOR",
        "REASON",
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
        def probed() -> dict[str, Any] | None:
            cli.execution("executions", "create", "--namespace", "live", "--flow", "probe")
            try:
                return event_of(lines.get(timeout=0.5))
            except queue.Empty:
                return None

        eventually(probed, "an event shown by watch", within=DEADLINE, step=0)
        # Drain probes that arrived late (reading until quiet, not a wait for a condition).
        while True:
            try:
                lines.get(timeout=0.3)
            except queue.Empty:
                break
        execution = cli.execution("executions", "create", "--namespace", "live", "--flow", "real")
        cli.run("transition", "--execution", execution["id"], "running")
        seen = [event_of(lines.get(timeout=DEADLINE)) for _ in range(2)]
        assert [(e["execution_id"], e["state"]) for e in seen] == [
            (execution["id"], "STATE_CREATED"),
            (execution["id"], "STATE_RUNNING"),
        ]
        watcher.send_signal(signal.SIGINT)
        try:
            watcher.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            # Where it hangs: its signal masks, and every thread's stack (faulthandler).
            status = Path(f"/proc/{watcher.pid}/status").read_text()
            watcher.send_signal(signal.SIGABRT)
            watcher.wait(DEADLINE)
            assert watcher.stderr is not None
            raise AssertionError(
                f"watch did not exit on SIGINT\n{status}\n{watcher.stderr.read()}"
            ) from None
        assert watcher.returncode == 0
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
    execution = cli.execution("executions", "create", "--namespace", "ns", "--flow", "f")
    eid = execution["id"]
    run = cli.json("task-runs", "create", "--execution", eid, "--task", "t")["task_run"]
    cli.run("transition", "--task-run", run["id"], "running")
    paused = cli.json("pause", eid, "--timeout", "3600", "--on-timeout", "fail")
    assert paused["execution"]["state"] == "STATE_PAUSED"
    assert paused["resume_time"]
    assert cli.execution("resume", eid, "--reason", "approved")["state"] == "STATE_RUNNING"
    killed = cli.json("kill", eid)
    assert (killed["changed"], killed["execution"]["state"]) == (True, "STATE_KILLING")
    cli.run("transition", "--task-run", run["id"], "killed")
    text = cli.run("executions", "get", eid).stdout
    assert "state:      KILLED" in text
    assert cli.execution("restart", eid)["state"] == "STATE_RESTARTED"
    cli.run("transition", "--task-run", run["id"], "running")
    cli.run("transition", "--task-run", run["id"], "warning")
    done = cli.execution("complete", eid)
    assert done["state"] == "STATE_WARNING"


# executions get: task runs, attempts and a timeline

TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


def section(text: str, title: str) -> list[str]:
    """The indented lines under ``title:`` (its table: header first)."""
    lines = text.splitlines()
    start = lines.index(f"{title}:") + 1
    body = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        body.append(line[2:])
    return body


def table_rows(text: str, title: str) -> list[dict[str, str]]:
    header, *lines = section(text, title)
    return [columns(header, line) for line in lines]


def micros(text: str) -> int:
    moment = datetime.strptime(text, TIME).replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def stamp_micros(text: str) -> int:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromJsonString(text)
    return stamp.ToMicroseconds()


def test_executions_get_shows_task_runs_attempts_and_a_timeline(cli: Cli) -> None:
    eid = cli.execution("executions", "create", "--namespace", "ns", "--flow", "f")["id"]
    run = cli.json("task-runs", "create", "--execution", eid, "--task", "extract", "--value", "v1")
    tid = run["task_run"]["id"]
    cli.run("transition", "--task-run", tid, "running", "--worker-id", "w1")
    cli.run("transition", "--task-run", tid, "failed", "--reason", "boom")
    cli.run("complete", eid)
    cli.run("restart", eid)
    cli.run("transition", "--task-run", tid, "running", "--worker-id", "w2")

    text = cli.run("executions", "get", eid).stdout
    assert "state:      RUNNING" in text
    label = f"extract[v1] ({tid[:8]})"
    (task_row,) = table_rows(text, "task runs")
    assert (task_row["ID"], task_row["STATE"], task_row["ATTEMPTS"]) == (tid, "RUNNING", "2")

    attempts = table_rows(text, "attempts")
    assert [(a["TASK"], a["ATTEMPT"], a["STATE"], a["WORKER"]) for a in attempts] == [
        (label, "1", "FAILED", "w1"),
        (label, "2", "RUNNING", "w2"),
    ]
    assert attempts[0]["END"].endswith("Z")
    assert attempts[1]["END"] == "now"
    raw = cli.execution("executions", "get", eid)
    first = [stamp_micros(h["time"]) for h in raw["task_runs"][0]["attempts"][0]["history"]]
    assert attempts[0]["DURATION"] == render.duration_text(first[-1] - first[0])

    timeline = table_rows(text, "timeline")
    execution_rows = [r for r in timeline if r["WHAT"] == "execution"]
    task_rows = [r for r in timeline if r["WHAT"] == label]
    assert len(execution_rows) + len(task_rows) == len(timeline)
    assert [r["STATE"] for r in execution_rows] == [
        "CREATED", "RUNNING", "FAILED", "RESTARTED", "RUNNING",
    ]  # fmt: skip
    assert [r["STATE"] for r in task_rows] == [
        "CREATED", "RUNNING", "FAILED", "RESTARTED", "RUNNING",
    ]  # fmt: skip
    assert task_rows[2]["REASON"] == "boom"
    for rows, history in (
        (execution_rows, raw["history"]),
        (task_rows, raw["task_runs"][0]["history"]),
    ):
        # Each state ends when the next one starts; the current one runs until now.
        for entry, following in itertools.pairwise(rows):
            assert entry["END"] == following["START"]
            assert micros(entry["END"]) >= micros(entry["START"])
        stored = [stamp_micros(h["time"]) for h in history]
        assert [render.duration_text(b - a) for a, b in itertools.pairwise(stored)] == [
            r["DURATION"] for r in rows[:-1]
        ]
        assert rows[-1]["END"] == "now"
        assert rows[-1]["DURATION"].endswith("s")

    # Once everything is terminal, the last states have no end.
    cli.run("transition", "--task-run", tid, "success")
    cli.run("complete", eid)
    timeline = table_rows(cli.run("executions", "get", eid).stdout, "timeline")
    last = {r["WHAT"]: r for r in timeline}
    assert (last["execution"]["STATE"], last["execution"]["END"]) == ("SUCCESS", "")
    assert (last[label]["STATE"], last[label]["END"], last[label]["DURATION"]) == (
        "SUCCESS", "", "",
    )  # fmt: skip

    raw = cli.execution("executions", "get", eid)  # --json stays the raw proto JSON
    assert raw["id"] == eid and "timeline" not in raw
    assert [a["number"] for a in raw["task_runs"][0]["attempts"]] == [1, 2]


# kill, restart, pause, resume, complete


def events_of(cli: Cli, execution_id: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` events of an execution; waits (bounded) until there are that many."""
    result = cli.run(
        "--json", "--call-timeout", str(DEADLINE), "watch", "--from-start",
        "--execution", execution_id, "--limit", str(count),
    )  # fmt: skip
    return [event_of(line) for line in result.stdout.splitlines()]


def running_execution(cli: Cli, *tasks: str) -> tuple[str, list[str]]:
    eid = cli.execution("executions", "create", "--namespace", "ns", "--flow", "f")["id"]
    runs = []
    for task in tasks:
        runs.append(cli.json("task-runs", "create", "--execution", eid, "--task", task)["task_run"])
    for run in runs:
        cli.run("transition", "--task-run", run["id"], "running")
    return eid, [run["id"] for run in runs]


def test_kill_cascades_in_text_and_says_when_nothing_changed(cli: Cli) -> None:
    eid, (running, waiting) = running_execution(cli, "a", "b")
    cli.run("transition", "--task-run", waiting, "paused")
    text = cli.run("kill", eid, "--reason", "operator").stdout
    assert "state:      KILLING" in text
    assert {r["ID"]: r["STATE"] for r in table_rows(text, "task runs")} == {
        running: "KILLING",
        waiting: "KILLED",
    }
    again = cli.run("kill", eid).stdout
    assert again.startswith("nothing to kill")
    cli.run("transition", "--task-run", running, "killed")
    done = cli.execution("executions", "get", eid)
    assert done["state"] == "STATE_KILLED"
    assert [h["reason"] for h in done["history"] if h["state"] == "STATE_KILLING"] == ["operator"]
    assert cli.json("kill", eid)["changed"] is False


def test_restart_reopens_failed_task_runs_and_refuses_a_running_execution(cli: Cli) -> None:
    eid, (ok, bad) = running_execution(cli, "ok", "bad")
    refused = cli.run("restart", eid, ok=False)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr.startswith("error: ")
    assert refused.stderr.rstrip().endswith("(INVALID_TRANSITION)")

    cli.run("transition", "--task-run", ok, "success")
    cli.run("transition", "--task-run", bad, "failed")
    assert cli.execution("complete", eid)["state"] == "STATE_FAILED"
    stale = cli.run("restart", eid, "--expected-revision", "1", ok=False)
    assert (stale.returncode, "(REVISION_MISMATCH)" in stale.stderr) == (1, True)
    restarted = cli.execution("restart", eid, "--reason", "fixed", "--request-id", "restart-1")
    assert restarted["state"] == "STATE_RESTARTED"
    assert {t["task_id"]: t["state"] for t in restarted["task_runs"]} == {
        "ok": "STATE_SUCCESS",
        "bad": "STATE_RESTARTED",
    }
    assert (
        cli.execution("restart", eid, "--reason", "fixed", "--request-id", "restart-1") == restarted
    )
    rerun = cli.json("transition", "--task-run", bad, "running")["task_run"]
    assert [a["number"] for a in rerun["attempts"]] == [1, 2]


def test_pause_with_a_delay_resumes_by_itself(cli: Cli) -> None:
    eid, _ = running_execution(cli, "t")
    paused = cli.json("pause", eid, "--delay", "0.3")
    assert paused["execution"]["state"] == "STATE_PAUSED"
    assert paused["resume_time"]
    # created, task run created, running (execution and task run), paused, then resumed
    events = events_of(cli, eid, 6)
    assert [(e["task_run_id"] == "", e["state"]) for e in events[-2:]] == [
        (True, "STATE_PAUSED"),
        (True, "STATE_RUNNING"),
    ]
    assert cli.execution("executions", "get", eid)["state"] == "STATE_RUNNING"


def watch_until(
    cli: Cli, execution_id: str, state: str, *, task_run: str = "", after: int = 0
) -> list[Any]:
    """The events of an execution after sequence ``after`` up to the first one of
    ``task_run`` (default: the execution itself) entering ``state``, as they come."""
    start = ("--after", str(after)) if after else ("--from-start",)
    watcher = cli.popen("--json", "watch", *start, "--execution", execution_id)
    lines, pump = _reader(watcher.stdout)
    try:
        seen = []
        while True:
            event = event_of(lines.get(timeout=DEADLINE))
            seen.append(event)
            if (event["task_run_id"], event["state"]) == (task_run, state):
                return seen
    finally:
        watcher.kill()
        watcher.wait()
        pump.join(DEADLINE)  # at the end of its output: closing it under the pump would fail
        for stream in (watcher.stdout, watcher.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize(
    ("action", "final"),
    [("fail", "STATE_FAILED"), ("warn", "STATE_WARNING"), ("resume", "STATE_RUNNING")],
)
def test_pause_with_a_timeout_applies_its_action(cli: Cli, action: str, final: str) -> None:
    eid, _ = running_execution(cli, "t")
    text = cli.run("pause", eid, "--timeout", "0.3", "--on-timeout", action).stdout
    assert "state:      PAUSED" in text
    assert "resumes at: " in text
    paused = watch_until(cli, eid, "STATE_PAUSED")[-1]
    fired = watch_until(cli, eid, final, after=int(paused["sequence"]))
    assert fired[-1]["reason"]  # the server says why
    done = cli.execution("executions", "get", eid)
    assert done["state"] == final
    task_state = {"fail": "STATE_FAILED", "warn": "STATE_WARNING"}.get(action, "STATE_RUNNING")
    assert done["task_runs"][0]["state"] == task_state


def test_pause_with_a_timeout_that_kills(cli: Cli) -> None:
    eid, (run,) = running_execution(cli, "t")
    cli.run("pause", eid, "--timeout", "0.3", "--on-timeout", "kill")
    paused = watch_until(cli, eid, "STATE_PAUSED")[-1]
    watch_until(cli, eid, "STATE_KILLING", after=int(paused["sequence"]))
    assert cli.execution("executions", "get", eid)["task_runs"][0]["state"] == "STATE_KILLING"
    cli.run("transition", "--task-run", run, "killed")  # the worker reports it
    assert cli.execution("executions", "get", eid)["state"] == "STATE_KILLED"


def test_pause_and_resume_one_task_run(cli: Cli) -> None:
    eid, (gate, other) = running_execution(cli, "gate", "other")
    paused = cli.json("pause", eid, "--task-run", gate, "--reason", "approval")
    assert paused["execution"]["state"] == "STATE_RUNNING"
    assert {t["id"]: t["state"] for t in paused["execution"]["task_runs"]} == {
        gate: "STATE_PAUSED",
        other: "STATE_RUNNING",
    }
    not_paused = cli.run("resume", eid, ok=False)
    assert (not_paused.returncode, not_paused.stderr.rstrip()[-20:]) == (1, "(INVALID_TRANSITION)")
    resumed = cli.execution("resume", eid, "--task-run", gate, "--reason", "approved")
    gate_run = next(t for t in resumed["task_runs"] if t["id"] == gate)
    assert gate_run["state"] == "STATE_RUNNING"
    assert gate_run["history"][-1]["reason"] == "approved"
    assert len(gate_run["attempts"]) == 1  # a resumed pause continues the same attempt


def test_complete_with_a_state_and_outputs_and_refused_while_task_runs_are_active(
    cli: Cli,
) -> None:
    eid, (run,) = running_execution(cli, "t")
    active = cli.run("complete", eid, ok=False)
    assert active.returncode == 1
    assert active.stderr.rstrip().endswith("(TASK_RUNS_ACTIVE)")
    cli.run("transition", "--task-run", run, "success")
    text = cli.run(
        "complete", eid, "--state", "warning", "--outputs-json", '{"rows": 3}',
        "--reason", "partial",
    ).stdout  # fmt: skip
    assert "state:      WARNING" in text
    assert 'outputs:    {"rows":3}' in text
    done = cli.execution("executions", "get", eid)
    assert (done["state"], done["outputs"]) == ("STATE_WARNING", {"rows": 3})
    again = cli.run("complete", eid, ok=False)
    assert again.returncode == 1 and "(INVALID_TRANSITION)" in again.stderr


# metrics


def record_metrics(cli: Cli) -> tuple[str, str, str]:
    """An execution with two task runs and metrics on each: (execution, load run, save run)."""
    eid, (load, save) = running_execution(cli, "load", "save")
    with Client.connect(cli.target) as client:
        client.record_metrics(
            load,
            metrics=[
                counter("rows", 10, tags={"table": "a"}),
                counter("rows", 4, tags={"table": "b"}),
                timer("took", timedelta(milliseconds=1500)),
            ],
        )
        client.record_metrics(save, metrics=[counter("rows", 6, tags={"table": "a"})])
    return eid, load, save


def test_metrics_list_by_execution_task_and_task_run(cli: Cli) -> None:
    eid, load, save = record_metrics(cli)
    header, *lines = cli.run("metrics", "list", "--execution", eid).stdout.splitlines()
    assert header.split() == ["TASK", "ATT", "NAME", "VALUE", "TAGS", "TIME"]
    rows = sorted(
        (r["TASK"], r["ATT"], r["NAME"], r["VALUE"], r["TAGS"])
        for r in (columns(header, line) for line in lines)
    )
    assert rows == [
        ("load", "1", "rows", "10", "table=a"),
        ("load", "1", "rows", "4", "table=b"),
        ("load", "1", "took", "1.5s", "-"),
        ("save", "1", "rows", "6", "table=a"),
    ]
    by_task = cli.json("metrics", "list", "--execution", eid, "--task", "save")["metrics"]
    assert [(m["task_run_id"], m["counter"]) for m in by_task] == [(save, 6)]
    by_run = cli.json("metrics", "list", "--task-run", load)["metrics"]
    assert sorted(m["name"] for m in by_run) == ["rows", "rows", "took"]
    assert cli.run("metrics", "list", "--task-run", save, "--task", "x", ok=False).returncode == 2
    assert cli.run("metrics", "list", "--execution", "nope").stdout == "no metrics\n"


def test_metrics_aggregate_prints_buckets_and_a_chart_per_group(cli: Cli) -> None:
    record_metrics(cli)  # within one hour bucket, unless written across an hour's edge
    now = datetime.now(UTC)
    window = (
        "--from", (now - timedelta(hours=5)).isoformat(),
        "--to", (now + timedelta(hours=5)).isoformat(),
    )  # fmt: skip
    argv = ("metrics", "aggregate", "--namespace", "ns", "--name", "rows", "--type", "counter",
            "--bucket", "hour", "--group-by", "table", *window)  # fmt: skip
    raw = cli.json(*argv)
    assert raw["bucket_width"] == "METRIC_BUCKET_WIDTH_HOUR"
    full = {
        s["tag_value"]: [
            (b["start_time"], b["count"], b["sum"]) for b in s["buckets"] if int(b["count"])
        ]
        for s in raw["series"]
    }
    ((start, _, _),) = full["a"]
    assert full == {"a": [(start, "2", 16)], "b": [(start, "1", 4)]}
    width = len(raw["series"][0]["buckets"])
    hot = [b["count"] != "0" for b in raw["series"][0]["buckets"]].index(True)

    text = cli.run(*argv).stdout
    lines = text.splitlines()
    assert lines[0].startswith("rows (counter) from ")
    assert lines[0].endswith(", per hour, by table")
    header = lines[2]
    assert header.split() == ["TABLE", "START", "COUNT", "SUM", "AVG", "MIN", "MAX"]
    rows = [dict(zip(header.split(), line.split(), strict=True)) for line in lines[3:5]]
    assert [(r["TABLE"], r["COUNT"], r["SUM"], r["AVG"], r["MIN"], r["MAX"]) for r in rows] == [
        ("a", "2", "16", "8", "6", "10"),
        ("b", "1", "4", "4", "4", "4"),
    ]
    assert rows[0]["START"] == start.replace(".000", "").replace("+00:00", "Z")[:19] + "Z"
    assert "sum per hour (▁ 0 .. █ 16):" in lines
    chart = {line[:1]: line[3:] for line in lines[lines.index("sum per hour (▁ 0 .. █ 16):") + 1 :]}
    # One bar per bucket on one scale: 16 is full height, 4 a quarter of it, 0 the lowest.
    assert chart == {
        "a": "▁" * hot + "█" + "▁" * (width - hot - 1),
        "b": "▁" * hot + "▃" + "▁" * (width - hot - 1),
    }

    counted = cli.run(*argv, "--stat", "count").stdout.splitlines()
    assert "count per hour (▁ 0 .. █ 2):" in counted
    averaged = cli.run(*argv, "--stat", "avg").stdout.splitlines()
    a_line = averaged[averaged.index("avg per hour (▁ 0 .. █ 8):") + 1]
    assert a_line == "a  " + "·" * hot + "█" + "·" * (width - hot - 1)  # no value: no bar


def test_metrics_aggregate_defaults_to_the_last_day_and_charts_timers(cli: Cli) -> None:
    record_metrics(cli)
    text = cli.run(
        "metrics", "aggregate", "--namespace", "ns", "--name", "took", "--type", "timer",
        "--flow", "f", "--task", "load",
    ).stdout  # fmt: skip
    lines = text.splitlines()
    first, until = lines[0].removeprefix("took (timer) from ").split(", ")[0].split(" to ")
    span = datetime.fromisoformat(until) - datetime.fromisoformat(first)
    assert span == timedelta(hours=24)
    header = lines[2]
    (row,) = [
        dict(zip(header.split(), line.split(), strict=True))
        for line in lines[3:]
        if line and line[0].isdigit()
    ]
    assert (row["COUNT"], row["SUM"], row["AVG"]) == ("1", "1.5s", "1.5s")
    chart_title = next(line for line in lines if line.startswith("sum per "))
    assert chart_title.endswith("(▁ 0ms .. █ 1.5s):")
    (bars,) = lines[lines.index(chart_title) + 1 :]
    assert bars.startswith("took  ") and bars.count("█") == 1

    nothing = cli.run(
        "metrics", "aggregate", "--namespace", "ns", "--name", "absent", "--type", "counter",
    ).stdout  # fmt: skip
    assert "no values of counter" in nothing and "in this range" in nothing
    backwards = cli.run(
        "metrics", "aggregate", "--namespace", "ns", "--name", "rows", "--type", "counter",
        "--from", "2025-02-01", "--to", "2025-01-01", ok=False,
    )  # fmt: skip
    assert backwards.returncode == 2 and "--from must be before --to" in backwards.stderr
