"""The README as a new user reads it: the "Try it" block pasted into a shell, and
every make target listed where the README and ``make help`` say.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    """The text of the README's ``## title`` section."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, title
    return match.group(1)


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_make_help_and_the_readme_list_every_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M)
    assert phony
    targets = phony.group(1).split()
    helped = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True
    )
    assert helped.returncode == 0, helped.stderr
    listed_in_help = {line.split()[1] for line in helped.stdout.splitlines() if line.strip()}
    table = section("Make targets")
    listed_in_readme = set(re.findall(r"^\| `make ([\w-]+)`", table, re.M))
    assert set(targets) - {"help"} <= listed_in_help, set(targets) - listed_in_help
    assert set(targets) <= listed_in_readme, set(targets) - listed_in_readme


def test_try_it_pasted_into_a_shell(tmp_path: Path) -> None:
    """Every line of "Try it" works as written (``make venv`` has been done: it made
    this interpreter's environment) and prints what the README says it prints."""
    (block, *_) = code_blocks(section("Try it"), "sh")
    lines = block.splitlines()
    assert lines[0].startswith("make venv")
    # The harness's own lines: stop at the first failure, and never leave the server running.
    harness = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    script = "\n".join([*harness, *lines[1:]]) + "\n"
    # A fresh directory that looks like the clone: its .venv is this environment.
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    address = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "STATEHOUSE_ADDRESS": address,  # not the default port, which a user may be using
        "STATEHOUSE_TARGET": address,
        "NO_COLOR": "1",
        "COLUMNS": "120",
    }
    # A session of its own: if the block hangs, the whole group (the server it
    # started in the background included) is killed, not only bash.
    shell = subprocess.Popen(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = shell.communicate(timeout=90)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
        shell.communicate()
    done = subprocess.CompletedProcess(shell.args, shell.returncode, stdout, stderr)
    log = (
        (tmp_path / "statehouse.log").read_text() if (tmp_path / "statehouse.log").exists() else ""
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{log}"
    out = done.stdout
    assert "Traceback" not in done.stderr + log

    # status, as the README shows it: the same labels, in the same order.
    (shown, *_) = code_blocks(section("Try it"), "text")
    labels = [line.split(":")[0] for line in shown.splitlines() if re.match(r"^[a-z ]+:", line)]
    assert labels == ["server", "health", "database", "started", "event log", "executions"]
    printed = [line.split(":")[0] for line in out.splitlines() if re.match(r"^[a-z ]+:", line)]
    assert printed[: len(labels)] == labels
    assert f"server:     {address}, version " in out
    assert "health:     SERVING" in out
    assert "database:   sqlite" in out

    # The execution ran to SUCCESS, with its output, metric and timeline.
    assert "state:      SUCCESS" in out
    assert 'outputs:    {"rows":120}' in out
    assert "timeline:" in out
    # watch --from-start --limit 6: the header and six changes.
    header = next(i for i, line in enumerate(out.splitlines()) if line.startswith("TIME "))
    changes = out.splitlines()[header + 1 : header + 7]
    assert len(changes) == 6 and all(re.match(r"^\d{4}-\d\d-\d\dT", line) for line in changes)
    assert "-> SUCCESS" in "\n".join(changes)
    # metrics aggregate --group-by table: the users series.
    assert re.search(r"^users\s+\S", out, re.M), out
    # The database is where the README says.
    assert (tmp_path / "data").is_dir()


@pytest.mark.parametrize("title", ["Try it", "Explore with buf curl"])
def test_no_npx_buf(title: str) -> None:
    """``npx buf`` fetches an unrelated package until ``make node`` has run."""
    assert "npx buf" not in "\n".join(code_blocks(section(title), "sh"))


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_commands_of_http_and_curl(tmp_path: Path) -> None:
    """The curl lines of "HTTP and curl", against a server's HTTP port (not 8080)."""
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        tmp_path / "server.log",
        options=("--http-address", "127.0.0.1:0"),
    )
    try:
        match = re.search(r" and http://127\.0\.0\.1:(\d+)", server.logs())
        assert match, server.logs()
        base = f"http://127.0.0.1:{match.group(1)}"
        unary, stream, *_ = code_blocks(section("HTTP and curl"), "sh")
        created = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", unary.replace("http://127.0.0.1:8080", base)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert created.returncode == 0, created.stderr
        first, listed = created.stdout.replace("}{", "}\n{").splitlines()
        execution = json.loads(first)["execution"]
        assert (execution["namespace"], execution["flowId"]) == ("demo", "hello")
        assert [e["id"] for e in json.loads(listed)["executions"]] == [execution["id"]]
        # The stream runs until stopped: three seconds of it.
        command = stream.replace("http://127.0.0.1:8080", base).replace(
            "curl -sN", "timeout 3 curl -sN"
        )
        streamed = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=60
        )
        frames = [json.loads(line) for line in streamed.stdout.splitlines() if line.startswith("{")]
        assert frames[0]["event"]["executionId"] == execution["id"], streamed.stdout
        assert frames[0]["event"]["sequence"] == "1"
    finally:
        server.kill()
