"""The CLI's newer commands and output modes against a real server process.

``status``, ``--version``, ``completion``, ``task-runs list|get``, retry
policies on ``task-runs create``, ``metrics record``, ``@FILE`` and ``-`` for
JSON arguments, ``--output json|yaml`` (each the response message), ``-q``,
colour, and the messages of a connection that fails.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import pty
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format
from google.protobuf.message import Message

from statehouse.cli._render import time_text
from statehouse.client import Client
from statehouse.v1 import (
    admin_service_pb2,
    event_service_pb2,
    execution_service_pb2,
    metric_service_pb2,
)
from tests.eventually import NeverHeld, eventually

from .test_cli import DEADLINE, Cli, columns

# A new Python process per command, as in test_cli.py: make test runs these, not test-fast.
pytestmark = pytest.mark.slow

ESC = "\x1b["


@pytest.fixture
def cli(server_process: Any) -> Cli:
    return Cli(server_process.target)


def new_execution(cli: Cli, namespace: str = "demo", flow: str = "hello") -> str:
    return cli.run(
        "executions", "create", "--namespace", namespace, "--flow", flow, "-q"
    ).stdout.strip()


def new_task_run(cli: Cli, execution_id: str, task: str, *options: str) -> str:
    return cli.run(
        "task-runs", "create", "--execution", execution_id, "--task", task, "-q", *options
    ).stdout.strip()


def parses_as(value: Any, message_type: type[Message]) -> Message:
    """``value`` is exactly a ``message_type`` in proto JSON (no unknown field)."""
    message = message_type()
    json_format.ParseDict(value, message, ignore_unknown_fields=False)
    return message


def test_version_is_the_installed_package(cli: Cli) -> None:
    result = cli.run("--version")
    assert result.stdout.strip() == f"statehouse {importlib.metadata.version('statehouse-client')}"


def test_status_reports_the_server_its_log_and_counts_by_state(cli: Cli) -> None:
    first = new_execution(cli)
    new_execution(cli, namespace="other")
    run = new_task_run(cli, first, "extract")
    cli.run("transition", "--task-run", run, "running")

    status = cli.json("status")
    assert status["health"] == "SERVING"
    assert status["target"] == cli.target
    server = parses_as(status["server"], admin_service_pb2.GetServerInfoResponse)
    assert isinstance(server, admin_service_pb2.GetServerInfoResponse)
    assert server.version == importlib.metadata.version("statehouse-server")
    assert server.database_backend in ("sqlite", "postgresql")
    # 2 executions and a task run created, a task run and its execution started
    assert server.head_sequence == 5
    counts = parses_as(status["executions"], execution_service_pb2.CountExecutionsResponse)
    assert isinstance(counts, execution_service_pb2.CountExecutionsResponse)
    by_state = {c.state: c.count for c in counts.counts}
    assert (by_state[1], by_state[2], counts.total) == (1, 1, 2)  # CREATED, RUNNING

    text = cli.run("status").stdout
    assert f"server:     {cli.target}, version {server.version}" in text
    assert "health:     SERVING" in text
    assert f"database:   {server.database_backend}" in text
    assert "head sequence 5" in text
    rows = {line.split()[0]: line.split()[1] for line in text.splitlines()[7:] if line.strip()}
    assert (rows["CREATED"], rows["RUNNING"], rows["FAILED"], rows["total"]) == ("1", "1", "0", "2")
    narrowed = cli.run("status", "--namespace", "other").stdout
    assert "executions in other:" in narrowed
    assert "total          1" in narrowed


def test_status_against_no_server_says_where_it_looked(unused_target: str) -> None:
    result = Cli(unused_target).run("status", ok=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert unused_target in result.stderr
    assert "(UNAVAILABLE)" in result.stderr


@pytest.fixture
def unused_target(tmp_path: Path) -> str:
    import socket

    with socket.socket() as sock:  # a port nobody listens on once this closes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


def test_completion_scripts_for_bash_and_zsh(cli: Cli) -> None:
    bash = cli.run("completion", "bash").stdout
    for word in ("statehouse", "executions", "task-runs", "metrics", "status", "--namespace"):
        assert word in bash
    checked = subprocess.run(["bash", "-n"], input=bash, text=True, capture_output=True)
    assert checked.returncode == 0, checked.stderr
    # Completing "statehouse task-" in bash proposes task-runs.
    probe = (
        bash
        + '\nCOMP_WORDS=(statehouse task-); COMP_CWORD=1; COMP_LINE="statehouse task-";'
        + " COMP_POINT=${#COMP_LINE}; _shtab_statehouse; printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    completed = subprocess.run(["bash"], input=probe, text=True, capture_output=True)
    assert "task-runs" in completed.stdout.split(), completed.stderr
    zsh = cli.run("completion", "zsh").stdout
    assert zsh.startswith("#compdef statehouse")
    if shutil.which("zsh"):
        checked = subprocess.run(["zsh", "-n"], input=zsh, text=True, capture_output=True)
        assert checked.returncode == 0, checked.stderr
    assert cli.run("completion", "fish", ok=False).returncode == 2


def test_task_runs_list_and_get_with_a_retry_policy(cli: Cli) -> None:
    eid = new_execution(cli)
    load = new_task_run(
        cli, eid, "load",
        "--retry", "exponential", "--retry-interval", "500ms", "--retry-max-interval", "1m30s",
        "--retry-factor", "3", "--max-attempts", "4", "--max-duration", "1h",
        "--warning-on-retry",
    )  # fmt: skip
    extract = new_task_run(cli, eid, "extract")
    cli.run("transition", "--task-run", extract, "running")

    listed = cli.json("task-runs", "list", "--execution", eid)
    assert [t["id"] for t in listed["task_runs"]] == [load, extract]
    running = cli.json("task-runs", "list", "--execution", eid, "--state", "running")
    assert [t["id"] for t in running["task_runs"]] == [extract]
    by_task = cli.json("task-runs", "list", "--execution", eid, "--task", "load")
    assert [t["id"] for t in by_task["task_runs"]] == [load]
    assert (
        "no task runs"
        in cli.run("task-runs", "list", "--execution", eid, "--state", "killed").stdout
    )

    # One GetTaskRun: --json prints its response, the execution's revision and state too.
    response = cli.json("task-runs", "get", load)
    assert sorted(response) == ["execution_revision", "execution_state", "task_run"]
    assert response["execution_state"] == "STATE_RUNNING"
    execution = cli.json("executions", "get", eid)["execution"]
    assert response["execution_revision"] == execution["revision"]
    got = response["task_run"]
    assert got["id"] == load and got["execution_id"] == eid
    assert got["retry_policy"] == {
        "exponential": {"interval": "0.500s", "max_interval": "90s", "factor": 3.0},
        "max_attempts": 4,
        "max_duration": "3600s",
        "warning_on_retry": True,
    }
    # --execution, when given, must be the task run's.
    assert cli.json("task-runs", "get", load, "--execution", eid) == response
    running = cli.json("task-runs", "get", extract)["task_run"]
    assert [a["number"] for a in running["attempts"]] == [1]
    text = cli.run("task-runs", "get", load, "--execution", eid).stdout
    assert "retry policy:  exponential from 500ms, x3 up to 1m30s, at most 4 attempts" in text
    assert "WARNING after a retry" in text
    assert text == cli.run("task-runs", "get", load).stdout

    missing = cli.run("task-runs", "get", "nope", ok=False)
    assert missing.returncode == 1
    assert "task run 'nope' not found" in missing.stderr
    missing = cli.run("task-runs", "get", "nope", "--execution", eid, ok=False)
    assert missing.returncode == 1
    assert "task run 'nope' not found" in missing.stderr
    other = new_execution(cli)
    elsewhere = cli.run("task-runs", "get", load, "--execution", other, ok=False)
    assert elsewhere.returncode == 1
    assert f"task run {load} not found in execution {other}" in elsewhere.stderr


def test_task_runs_show_the_worker_and_the_lease_of_the_attempt_under_way(cli: Cli) -> None:
    eid = new_execution(cli, flow="leased")
    leased, bare, waiting = (new_task_run(cli, eid, task) for task in ("a", "b", "c"))
    with Client.connect(cli.target) as client:
        # An hour: the lease must not run out while the CLI runs on a loaded machine.
        claimed = client.claim_task_runs(
            worker_id="worker-7", flow_id="leased", task_ids=["a"], lease_duration=3600
        )
    assert [c.task_run.id for c in claimed] == [leased]
    cli.run("transition", "--task-run", bare, "running", "--worker-id", "worker-8")

    def fields(task_run_id: str) -> dict[str, str]:
        """The ``key: value`` lines of ``task-runs get``, before its tables."""
        text = cli.run("task-runs", "get", task_run_id).stdout
        head = text.split("\n\n")[0].splitlines()
        return {k: v.strip() for k, v in (line.split(":", 1) for line in head)}

    got = fields(leased)
    assert (got["worker"], got["lease"]) == ("worker-7", "1h00m, extended by each heartbeat")
    expiry = claimed[0].lease_expire_time
    assert got["lease until"] == time_text(expiry, millis=True)  # "...T12:00:00.123Z"
    got = fields(bare)
    assert (got["worker"], got["lease"]) == ("worker-8", "none")
    assert "lease until" not in got
    assert "worker" not in fields(waiting) and "lease" not in fields(waiting)
    # --json is the response as it is: the attempt's lease as a duration, its expiry.
    attempt = cli.json("task-runs", "get", leased)["task_run"]["attempts"][0]
    assert (attempt["worker_id"], attempt["lease_duration"]) == ("worker-7", "3600s")
    assert attempt["lease_expire_time"] == expiry.ToJsonString()

    def workers() -> dict[str, tuple[str, str]]:
        header, *rows = cli.run("task-runs", "list", "--execution", eid).stdout.splitlines()
        found = (columns(header, line) for line in rows)
        return {row["ID"]: (row["WORKER"], row["LEASE"]) for row in found}

    assert workers() == {
        leased: ("worker-7", f"until {time_text(expiry)}"),
        bare: ("worker-8", "-"),
        waiting: ("-", "-"),
    }
    # A heartbeat moves the expiry the reads show.
    with Client.connect(cli.target) as client:
        [beat] = client.heartbeat([(leased, claimed[0].attempt)])
    assert not isinstance(beat, Exception)
    moved = beat.lease_expire_time
    assert moved.ToMicroseconds() > expiry.ToMicroseconds()
    assert fields(leased)["lease until"] == time_text(moved, millis=True)
    # An attempt that ended has no worker under way, and no lease.
    cli.run("transition", "--task-run", leased, "success")
    assert workers() == {leased: ("-", "-"), bare: ("worker-8", "-"), waiting: ("-", "-")}
    assert "worker" not in fields(leased) and "lease until" not in fields(leased)
    attempt = cli.json("task-runs", "get", leased)["task_run"]["attempts"][0]
    assert "lease_expire_time" not in attempt


def test_a_constant_retry_policy_retries_the_failed_task_run(cli: Cli) -> None:
    eid = new_execution(cli)
    run = new_task_run(
        cli, eid, "t", "--retry", "constant", "--retry-interval", "0.2s", "--max-attempts", "2"
    )
    cli.run("transition", "--task-run", run, "running")
    failed = cli.json("transition", "--task-run", run, "failed")
    assert failed["task_run"]["state"] == "STATE_RESTARTED"
    assert failed["retry"]["scheduled"] is True
    assert failed["retry"]["next_attempt"] == 2
    text = cli.run("task-runs", "get", run, "--execution", eid).stdout
    assert "next attempt:" in text
    assert "retry policy:  constant 200ms, at most 2 attempts" in text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--retry-interval", "1s"], "need --retry constant, exponential or random"),
        (["--max-attempts", "3"], "need --retry constant, exponential or random"),
        (["--retry", "constant"], "--retry constant needs --retry-interval"),
        (["--retry", "random", "--retry-min-interval", "1s"], "needs --retry-max-interval"),
        (
            ["--retry", "constant", "--retry-interval", "1s", "--retry-factor", "2"],
            "--retry constant takes no --retry-factor",
        ),
        (["--retry", "constant", "--retry-interval", "soon"], "cannot read 'soon' as a duration"),
        (["--retry", "sometimes"], "invalid choice: 'sometimes'"),
    ],
)
def test_bad_retry_options_are_usage_errors(cli: Cli, options: list[str], message: str) -> None:
    eid = new_execution(cli)
    result = cli.run("task-runs", "create", "--execution", eid, "--task", "t", *options, ok=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert cli.json("task-runs", "list", "--execution", eid) == {"task_runs": []}


def test_metrics_record_counters_and_timers_with_tags(cli: Cli) -> None:
    eid = new_execution(cli)
    run = new_task_run(cli, eid, "load")
    cli.run("transition", "--task-run", run, "running")
    recorded = cli.json(
        "metrics", "record", "--task-run", run,
        "--counter", "rows=120", "--counter", "bytes=2.5e3",
        "--timer", "load=1.5s", "--timer", "wait=1m30s", "--tag", "table=users",
    )  # fmt: skip
    assert recorded == {"recorded": 4}
    text = cli.run("metrics", "record", "--task-run", run, "--timer", "load=250ms").stdout
    assert text.strip() == f"recorded 1 metric for task run {run}"

    metrics = cli.json("metrics", "list", "--task-run", run)["metrics"]
    values = {
        m["name"]: m["timer"] if m["type"] == "METRIC_TYPE_TIMER" else m["counter"] for m in metrics
    }
    assert values["rows"] == 120
    assert values["bytes"] == 2500
    assert values["wait"] == "90s"
    loads = sorted((m["timer"], m["tags"].get("table")) for m in metrics if m["name"] == "load")
    assert loads == [("0.250s", None), ("1.500s", "users")]  # other tags: another series
    tags = {m["name"]: m["tags"] for m in metrics}
    assert tags["rows"] == {"table": "users"}

    nothing = cli.run("metrics", "record", "--task-run", run, ok=False)
    assert nothing.returncode == 2
    assert "at least one --counter" in nothing.stderr
    bad = cli.run("metrics", "record", "--task-run", run, "--timer", "load=later", ok=False)
    assert bad.returncode == 2
    assert "expected NAME=DURATION" in bad.stderr


def test_json_arguments_from_a_file_and_from_stdin(cli: Cli, tmp_path: Path) -> None:
    big = {f"key{i:05d}": "x" * 40 for i in range(4000)}  # ~200 KB: over one argument's limit
    path = tmp_path / "inputs.json"
    path.write_text(json.dumps(big))
    execution = cli.execution(
        "executions", "create", "--namespace", "demo", "--flow", "f", "--inputs-json", f"@{path}"
    )
    assert execution["inputs"] == big
    piped = cli.execution(
        "executions", "create", "--namespace", "demo", "--flow", "f", "--inputs-json", "-",
        stdin='{"day": 31}',
    )  # fmt: skip
    assert piped["inputs"] == {"day": 31}
    run = new_task_run(cli, piped["id"], "t")
    cli.run("transition", "--task-run", run, "running")
    outputs = tmp_path / "outputs.json"
    outputs.write_text('{"rows": 3}')
    done = cli.json("transition", "--task-run", run, "success", "--outputs-json", f"@{outputs}")
    assert done["task_run"]["outputs"] == {"rows": 3}

    for argument, message in (
        (f"@{tmp_path / 'missing.json'}", "cannot read"),
        ("@" + str(outputs.with_name("broken.json")), "cannot read"),
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
    ):
        result = cli.run(
            "executions", "create", "--namespace", "demo", "--flow", "f",
            "--inputs-json", argument, ok=False,
        )  # fmt: skip
        assert result.returncode == 2
        assert message in result.stderr
    broken = tmp_path / "bad.json"
    broken.write_text("{oops")
    result = cli.run(
        "executions", "create", "--namespace", "demo", "--flow", "f",
        "--inputs-json", f"@{broken}", ok=False,
    )  # fmt: skip
    assert f"invalid JSON in {broken}" in result.stderr


def test_every_json_output_is_its_response_message(cli: Cli) -> None:
    """Each command's --json output parses as its RPC's response message, nothing more."""
    es, ms = execution_service_pb2, metric_service_pb2
    created = cli.json("executions", "create", "--namespace", "demo", "--flow", "f")
    parses_as(created, es.CreateExecutionResponse)
    eid = created["execution"]["id"]
    parses_as(cli.json("executions", "get", eid), es.GetExecutionResponse)
    parses_as(cli.json("executions", "list"), es.ListExecutionsResponse)
    made = cli.json("task-runs", "create", "--execution", eid, "--task", "t")
    parses_as(made, es.CreateTaskRunResponse)
    run = made["task_run"]["id"]
    parses_as(cli.json("transition", "--task-run", run, "running"), es.TransitionTaskRunResponse)
    parses_as(cli.json("task-runs", "get", run), es.GetTaskRunResponse)
    parses_as(
        cli.json("metrics", "record", "--task-run", run, "--counter", "n=1"),
        ms.RecordMetricsResponse,
    )
    parses_as(cli.json("metrics", "list", "--execution", eid), ms.ListMetricsResponse)
    parses_as(cli.json("pause", eid), es.PauseExecutionResponse)
    parses_as(cli.json("resume", eid), es.ResumeExecutionResponse)
    parses_as(cli.json("kill", eid), es.KillExecutionResponse)
    other = cli.json("executions", "create", "--namespace", "demo", "--flow", "g")
    oid = other["execution"]["id"]
    parses_as(cli.json("transition", "--execution", oid, "running"), es.TransitionExecutionResponse)
    parses_as(cli.json("complete", oid, "--state", "failed"), es.CompleteExecutionResponse)
    parses_as(cli.json("restart", oid), es.RestartExecutionResponse)
    watched = cli.run("--json", "watch", "--from-start", "--limit", "2").stdout.splitlines()
    assert len(watched) == 2
    for line in watched:
        parses_as(json.loads(line), event_service_pb2.SubscribeResponse)
    third = cli.json("executions", "create", "--namespace", "demo", "--flow", "h")
    tid = third["execution"]["id"]
    cli.run("kill", tid)
    assert cli.json("executions", "delete", tid) == {}


def test_yaml_output_is_the_same_message_as_json(cli: Cli) -> None:
    eid = new_execution(cli)
    as_json = cli.json("executions", "get", eid)
    as_yaml = yaml.safe_load(cli.run("executions", "get", eid, "--output", "yaml").stdout)
    assert as_yaml == as_json
    stream = cli.run("-o", "yaml", "watch", "--from-start", "--limit", "1").stdout
    documents = list(yaml.safe_load_all(stream))
    assert len(documents) == 1
    assert documents[0]["event"]["execution_id"] == eid


def test_quiet_prints_only_the_new_id(cli: Cli) -> None:
    eid = new_execution(cli)
    assert len(eid) == 36 and "\n" not in eid
    run = new_task_run(cli, eid, "t")
    assert [t["id"] for t in cli.json("task-runs", "list", "--execution", eid)["task_runs"]] == [
        run
    ]


def test_colour_on_request_and_never_when_piped_or_no_color(cli: Cli) -> None:
    eid = new_execution(cli)
    plain = cli.run("executions", "list").stdout
    assert ESC not in plain  # a pipe: no colour
    coloured = cli.run("--color", "always", "executions", "list").stdout
    assert f"{ESC}2mCREATED{ESC}0m" in coloured
    # Colour does not move the columns: without its codes the text is the plain one.
    assert coloured.replace(f"{ESC}2m", "").replace(f"{ESC}0m", "") == plain
    assert ESC not in cli.run("--color", "always", "--json", "executions", "get", eid).stdout

    def on_a_terminal(env: dict[str, str]) -> str:
        leader, follower = pty.openpty()
        try:
            subprocess.run(
                [sys.executable, "-m", "statehouse.cli", "executions", "list"],
                stdout=follower,
                stderr=subprocess.DEVNULL,
                env=env,
                timeout=60,
                check=True,
            )
            os.close(follower)
            follower = -1
            chunks = []
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the terminal's other end is closed and drained
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks).decode()
        finally:
            os.close(leader)
            if follower >= 0:
                os.close(follower)

    env = {k: v for k, v in cli.env.items() if k not in ("NO_COLOR", "TERM")}
    assert f"{ESC}2mCREATED" in on_a_terminal(env)
    assert ESC not in on_a_terminal({**env, "NO_COLOR": "1"})


def test_transition_names_each_field_once(cli: Cli) -> None:
    eid = new_execution(cli)
    run = new_task_run(cli, eid, "t")
    text = cli.run("transition", "--task-run", run, "running").stdout
    labels = [line.split(":")[0] for line in text.splitlines() if ":" in line[:20]]
    assert labels.count("execution") == 1
    assert labels.count("execution state") == 1


def test_watch_against_no_server_prints_no_header(unused_target: str) -> None:
    result = Cli(unused_target).run("--call-timeout", "3", "watch", ok=False)
    assert result.returncode == 1
    assert result.stdout == ""  # not the table's header, as if connected
    assert unused_target in result.stderr


class Lines:
    """The lines of a process's pipe, read by a thread, taken with a bounded wait."""

    def __init__(self, pipe: Any) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self.thread.start()

    def _read(self, pipe: Any) -> None:
        for line in pipe:
            self.queue.put(line.rstrip("\n"))

    def until(self, text: str, timeout: float = DEADLINE) -> list[str]:
        """The lines up to the first that contains ``text``."""
        seen: list[str] = []

        def reached() -> list[str] | None:
            try:
                seen.append(self.queue.get(timeout=0.1))
            except queue.Empty:
                return None
            return seen if text in seen[-1] else None

        try:
            return eventually(reached, f"a line with {text!r}", within=timeout, step=0)
        except NeverHeld as exc:
            raise AssertionError(f"{exc} in {seen}") from None


def test_watch_says_when_it_reconnects_and_how_to_resume(server_process: Any, cli: Cli) -> None:
    first = new_execution(cli)
    patient = cli.popen("watch", "--reconnects", "0")  # never gives up
    hasty = cli.popen("watch", "--reconnects", "2", "--namespace", "demo")
    readers: list[Lines] = []
    try:
        patient_out, patient_err = Lines(patient.stdout), Lines(patient.stderr)
        hasty_err = Lines(hasty.stderr)
        readers += [patient_out, patient_err, hasty_err]
        assert patient_out.until("TIME")[-1].split()[:2] == ["TIME", "SEQ"]
        second = new_execution(cli)
        patient_out.until(second[:8])

        server_process.stop()
        lost = patient_err.until("reconnecting in")[-1]
        assert lost.startswith("watch: connection lost (")
        # The hasty one gives up, and says how to go on from the last event it saw.
        assert hasty.wait(timeout=60) == 1
        said = "\n".join(hasty_err.until("to resume where it stopped"))
        assert "watch: connection lost" in said
        assert "(UNAVAILABLE)" in said
        assert said.endswith(
            f"statehouse watch --after 2 --target {cli.target} --namespace demo"
        ), said

        server_process.start()  # the same port and database
        back = patient_err.until("reconnected")[-1]
        assert back == f"watch: reconnected to {cli.target}, resuming after sequence 2"
        third = new_execution(cli)
        line = patient_out.until(third[:8])[-1]
        assert line.split()[1] == "3"  # no event lost or repeated across the restart
        assert first  # created before the watch: not shown (it starts at the head)
        patient.send_signal(signal.SIGINT)
        assert patient.wait(timeout=DEADLINE) == 0
    finally:
        for proc in (patient, hasty):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for lines in readers:
            lines.thread.join(DEADLINE)  # at the end of its pipe, now the process is gone
        for proc in (patient, hasty):
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
