"""docs/tutorial.md's programs, run as written against a real server: the
producer's task runs are claimed by two workers, fail once, are retried by the
server and succeed, with outputs and metrics; the watcher prints every change,
rides out a server restart and resumes from its cursor."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from statehouse.client import Client, State, TaskRetryPolicy

from .conftest import ServerProcess

#: Whole programs and workers: make test runs them, make test-fast not.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "tutorial"
TIMEOUT = 90


def start(program: str, target: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(EXAMPLES / program), *args],
        env=dict(os.environ, STATEHOUSE_TARGET=target, PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )


def finish(proc: subprocess.Popen[str]) -> str:
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"{proc.args} did not stop by itself:\n{out}") from None
    assert proc.returncode == 0, out
    return out


def test_the_tutorial_runs_as_written(server_process: ServerProcess, tmp_path: Path) -> None:
    target = server_process.target
    produced = finish(start("producer.py", target, "--count", "3"))
    runs = re.findall(r"with task run (\S+):", produced)
    assert len(runs) == 3, produced

    cursor = tmp_path / "watcher.cursor"
    watcher = start("watcher.py", target, "--cursor", str(cursor), "--exit-when-idle", "8")
    workers = [
        start(
            "worker.py", target, "--fail-first-attempt", "--exit-when-idle", "3", "--worker-id", w
        )
        for w in ("w1", "w2")
    ]
    logs = [finish(worker) for worker in workers]
    # The server restarts under the watcher: it says so, reconnects and goes on.
    server_process.restart()
    watched = finish(watcher)
    assert "connection lost (" in watched
    assert re.search(r"^reconnected, resuming after sequence \d+$", watched, re.M), watched

    # Every task run was claimed once per attempt, by one worker or the other.
    both = "\n".join(logs)
    for run in runs:
        assert len(re.findall(rf"^claimed {run} \(count-words, attempt 1\)$", both, re.M)) == 1
        assert len(re.findall(rf"^claimed {run} \(count-words, attempt 2\)$", both, re.M)) == 1
        assert re.search(
            rf"^failed {run} attempt 1: simulated failure; the server retries", both, re.M
        )
        assert re.search(rf"^succeeded {run} attempt 2: ", both, re.M)
    assert sum(int(re.findall(r"(\d+) task runs ended", log)[-1]) for log in logs) == 3

    with Client.connect(target) as client:
        executions = list(client.list_executions(namespace="tutorial"))
        assert len(executions) == 3
        for basic in executions:
            execution = client.get_execution(basic.id)
            assert State(execution.state) is State.SUCCESS
            (run,) = execution.task_runs
            assert State(run.state) is State.SUCCESS
            assert [State(a.state) for a in run.attempts] == [State.FAILED, State.SUCCESS]
            assert {a.worker_id for a in run.attempts} <= {"w1", "w2"}
            assert TaskRetryPolicy.from_proto(run.retry_policy) == TaskRetryPolicy.constant(
                "1s", max_attempts=3
            )
            words = len(str(execution.inputs["text"]).split())
            assert run.outputs["words"] == words
            metrics = {m.name: m for m in client.list_metrics(task_run_id=run.id)}
            assert set(metrics) == {"words", "duration"}
            assert metrics["words"].counter == words
            assert metrics["words"].attempt == 2

    # The watcher saw each change: the failure, the retry and the success of every run.
    assert watched.startswith("connected, resuming after sequence 0\n"), watched
    for run in runs:
        for change in (
            "CREATED -> RUNNING",
            "RUNNING -> FAILED (RuntimeError: simulated failure)",
            "FAILED -> RESTARTED (retry: attempt 2 scheduled)",
            "RESTARTED -> RUNNING",
            "RUNNING -> SUCCESS",
        ):
            assert re.search(
                rf"task run {run} \(count-words[^)]*\): {re.escape(change)}", watched
            ), (
                change,
                watched,
            )
    sequences = [int(s) for s in re.findall(r"^\s+(\d+)  ", watched, re.M)]
    assert sequences == list(range(1, len(sequences) + 1))
    assert int(cursor.read_text()) >= sequences[-1]

    # Run again with its cursor: it resumes after the last change, and prints no old one.
    again = finish(start("watcher.py", target, "--cursor", str(cursor), "--exit-when-idle", "2"))
    assert again.splitlines()[0] == f"connected, resuming after sequence {cursor.read_text()}"
    assert not re.search(r"^\s+\d+  ", again, re.M), again


def test_a_killed_worker_s_work_is_finished_by_another(
    server_process: ServerProcess, tmp_path: Path
) -> None:
    """A worker killed with SIGKILL mid-task stops heartbeating: its lease
    expires, the server fails the attempt (actor `system`, the lost lease named)
    and retries it per its policy, and a second worker claims attempt 2 and
    finishes it."""
    target = server_process.target
    produced = finish(start("producer.py", target, "--count", "1"))
    [run] = re.findall(r"with task run (\S+):", produced)

    doomed = start("worker.py", target, "--worker-id", "doomed", "--lease", "2", "--sleep", "60")
    assert doomed.stdout is not None
    line = doomed.stdout.readline()
    while not line.startswith("claimed "):
        assert line, "the first worker stopped before claiming"
        line = doomed.stdout.readline()
    assert line.strip() == f"claimed {run} (count-words, attempt 1)"
    time.sleep(3)  # past one lease: only its heartbeats keep the attempt
    with Client.connect(target) as client:
        kept = client.get_task_run(run).task_run
        assert State(kept.state) is State.RUNNING and len(kept.attempts) == 1
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.communicate(timeout=TIMEOUT)

    rescuer = finish(start("worker.py", target, "--worker-id", "rescuer", "--exit-when-idle", "8"))
    assert f"claimed {run} (count-words, attempt 2)" in rescuer, rescuer
    assert re.search(rf"^succeeded {run} attempt 2: ", rescuer, re.M), rescuer
    with Client.connect(target) as client:
        done = client.get_task_run(run).task_run
        assert State(done.state) is State.SUCCESS
        first, second = done.attempts
        assert (first.worker_id, second.worker_id) == ("doomed", "rescuer")
        assert State(first.state) is State.FAILED
        assert first.history[-1].actor == "system"
        assert "lease lost" in first.history[-1].reason
