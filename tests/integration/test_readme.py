"""The README and the documents of docs/ as a new user reads them: their shell
blocks pasted into a shell (each one marked ``<!-- tested: test_name -->`` is
taken here by that name, see tests/doc_blocks.py), and every make target
listed where CONTRIBUTING.md and ``make help`` say.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from statehouse.client import Client, TlsConfig
from tests.doc_blocks import blocks_tested_by, section
from tests.eventually import eventually
from tests.pgcluster import PostgresCluster

from .conftest import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CONTRIBUTING = ROOT / "CONTRIBUTING.md"


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: The harness's own lines: stop at the first failure, and never leave a server running.
HARNESS = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"


def in_a_clone(directory: Path) -> Path:
    """``directory`` made to look like the clone after ``make venv``: its .venv is
    this environment."""
    (directory / ".venv").symlink_to(Path(sys.prefix))
    return directory


def paste(
    script: str, cwd: Path, env: dict[str, str], timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """``script`` pasted into bash in ``cwd``, after the harness's lines.

    A session of its own: if the script hangs, the whole group (a server it
    started in the background included) is killed, not only bash."""
    shell = subprocess.Popen(
        ["bash", "-c", HARNESS + script],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "120", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = shell.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
        shell.communicate()
    return subprocess.CompletedProcess(shell.args, shell.returncode, stdout, stderr)


def test_make_help_and_contributing_list_every_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M)
    assert phony
    targets = phony.group(1).split()
    helped = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True
    )
    assert helped.returncode == 0, helped.stderr
    listed_in_help = {line.split()[1] for line in helped.stdout.splitlines() if line.strip()}
    table = section(CONTRIBUTING, "Make targets")
    listed_in_contributing = set(re.findall(r"^\| `make ([\w-]+)`", table, re.M))
    assert set(targets) - {"help"} <= listed_in_help, set(targets) - listed_in_help
    assert set(targets) <= listed_in_contributing, set(targets) - listed_in_contributing


def test_try_it_pasted_into_a_shell(tmp_path: Path) -> None:
    """Every line of "Try it" works as written (``make venv`` has been done: it made
    this interpreter's environment) and prints what the README says it prints."""
    (block,) = blocks_tested_by("test_try_it_pasted_into_a_shell")
    lines = block.text.splitlines()
    assert lines[0].startswith("make venv")
    address = f"127.0.0.1:{free_port()}"
    env = {
        "STATEHOUSE_ADDRESS": address,  # not the default port, which a user may be using
        "STATEHOUSE_TARGET": address,
    }
    done = paste("\n".join(lines[1:]) + "\n", in_a_clone(tmp_path), env)
    log = (
        (tmp_path / "statehouse.log").read_text() if (tmp_path / "statehouse.log").exists() else ""
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{log}"
    out = done.stdout
    assert "Traceback" not in done.stderr + log

    # status, as the README shows it: the same labels, in the same order.
    (shown, *_) = code_blocks(section(README, "Try it"), "text")
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


@pytest.mark.parametrize(
    ("document", "title"),
    [
        ("README.md", "Try it"),
        ("docs/cli.md", "Any gRPC tool"),
        ("docs/http.md", "Explore with buf curl"),
    ],
)
def test_no_npx_buf(document: str, title: str) -> None:
    """``npx buf`` fetches an unrelated package until ``make node`` has run."""
    assert "npx buf" not in "\n".join(code_blocks(section(ROOT / document, title), "sh"))


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_commands_of_http_and_curl(tmp_path: Path) -> None:
    """The curl blocks of docs/http.md, against a server's HTTP port (not 8080)."""
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        tmp_path / "server.log",
        options=("--http-address", "127.0.0.1:0"),
    )
    try:
        match = re.search(r" and http://127\.0\.0\.1:(\d+)", server.logs())
        assert match, server.logs()
        base = f"http://127.0.0.1:{match.group(1)}"
        unary, stream, health = (
            block.text for block in blocks_tested_by("test_the_curl_commands_of_http_and_curl")
        )
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
        # A line is a frame's JSON after what is printable of its length (none, "F"...).
        frames = [json.loads(line[line.index("{") :]) for line in streamed.stdout.splitlines()]
        assert frames[0]["event"]["executionId"] == execution["id"], streamed.stdout
        assert frames[0]["event"]["sequence"] == "1"
        # Health: /healthz as text, and grpc.health.v1 over Connect.
        healthy = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", health.replace("http://127.0.0.1:8080", base)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert healthy.returncode == 0, healthy.stderr
        assert re.match(r"HTTP/1\.1 200 ", healthy.stdout), healthy.stdout
        assert healthy.stdout.rstrip().endswith('SERVING\n{"status":"SERVING"}'), healthy.stdout
    finally:
        server.kill()


def test_the_buf_curl_lines_of_the_command_line(tmp_path: Path) -> None:
    """The repository's buf, from the root of the clone, lists the methods and
    creates an execution (on a free port, not 50051)."""
    (block,) = blocks_tested_by("test_the_buf_curl_lines_of_the_command_line")
    server = ServerProcess(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "server.log")
    try:
        script = block.text.replace("127.0.0.1:50051", server.target)
        done = paste(script, ROOT, {}, timeout=120)
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        assert "statehouse.v1.ExecutionService/CreateExecution" in done.stdout, done.stdout
        created = json.loads(done.stdout[done.stdout.index("{") :])
        assert (created["execution"]["namespace"], created["execution"]["flowId"]) == (
            "demo",
            "hello",
        )
    finally:
        server.kill()


def test_the_certificate_recipe_serves_tls_and_mtls(tmp_path: Path) -> None:
    """The openssl lines of "Certificates for TLS" (docs/security.md) make a CA, a
    server certificate for localhost and 127.0.0.1 and a client certificate: its server
    requires TLS and a client certificate with them, and its client connects."""
    recipe, served = blocks_tested_by("test_the_certificate_recipe_serves_tls_and_mtls")
    address = f"127.0.0.1:{free_port()}"
    env = {"STATEHOUSE_ADDRESS": address, "STATEHOUSE_TARGET": address}
    done = paste(recipe.text + served.text, in_a_clone(tmp_path), env)
    log = (tmp_path / "statehouse.log").read_text(errors="replace")
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{log}"
    assert "over mTLS" in log, log
    assert "health:     SERVING" in done.stdout, done.stdout

    # The same certificates: the SDK connects by either name the certificate
    # holds, and the client certificate's subject is who made the change.
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        tmp_path / "server.log",
        options=(
            *("--tls-cert", str(tmp_path / "server.crt")),
            *("--tls-key", str(tmp_path / "server.key")),
            *("--tls-client-ca", str(tmp_path / "ca.pem")),
        ),
    )
    try:
        tls = TlsConfig(
            ca=tmp_path / "ca.pem", cert=tmp_path / "client.crt", key=tmp_path / "client.key"
        )
        for host in ("localhost", "127.0.0.1"):
            with Client.connect(f"{host}:{server.port}", tls=tls) as client:
                created = client.create_execution(namespace="acme", flow_id=host)
                assert created.history[0].actor == "CN=worker,O=acme"
    finally:
        server.kill()


def test_the_postgresql_deployment_as_written(
    private_pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """docs/deployment.md, "Several replicas on one database": psql creates the role and the database, the
    first admin token is made on it, and the replica's command, on a non-loopback
    address with TLS and --auth, starts and answers that token over TLS (the
    database at the test's cluster, free ports in place of 50051 and 8080)."""
    psql, serve = blocks_tested_by("test_the_postgresql_deployment_as_written")
    (recipe, _) = blocks_tested_by("test_the_certificate_recipe_serves_tls_and_mtls")
    clone = in_a_clone(tmp_path)
    made = paste(recipe.text, clone, {})
    assert made.returncode == 0, made.stderr

    cluster = private_pg_cluster
    env = {
        "PATH": f"{os.environ['PATH']}:{cluster.bin}",  # psql, where it is not on the PATH
        "PGHOST": "127.0.0.1",
        "PGPORT": str(cluster.port),
        "PGUSER": "postgres",
    }
    created = paste(psql.text, clone, env)
    assert created.returncode == 0, created.stderr

    script = (
        serve.text.replace("db.example:5432", f"127.0.0.1:{cluster.port}")
        .replace("0.0.0.0:50051", "0.0.0.0:0")
        .replace("0.0.0.0:8080", "0.0.0.0:0")
    )
    assert script != serve.text
    # Serving is known from its ready file (the launcher's way); the log line is checked below.
    ready_path = tmp_path / "replica.ready.json"
    script = script.rstrip() + f" --ready-file {ready_path}\n"
    log_path = tmp_path / "replica.log"
    with log_path.open("w") as log:
        replica = subprocess.Popen(
            ["bash", "-c", HARNESS + script],
            cwd=clone,
            env={**os.environ, "NO_COLOR": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    try:
        ready = re.compile(
            r"statehouse serving on 0\.0\.0\.0:(\d+) and https://0\.0\.0\.0:(\d+) "
            r"over TLS with authentication \(database postgresql\+psycopg://statehouse:\*+@"
        )

        def served() -> bool:
            assert replica.poll() is None, log_path.read_text(errors="replace")
            return ready_path.exists()

        eventually(served, "the replica's ready file", within=60)
        match = ready.search(log_path.read_text(errors="replace"))
        assert match, log_path.read_text(errors="replace")
        grpc_port, http_port = match.groups()
        assert json.loads(ready_path.read_text())["grpc_port"] == int(grpc_port)
        (secret,) = re.findall(r"\bsht_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", log_path.read_text())
        tls = TlsConfig(ca=clone / "ca.pem")
        with Client.connect(f"127.0.0.1:{grpc_port}", token=secret, tls=tls) as client:
            execution = client.create_execution(namespace="deployed", flow_id="hello")
            assert execution.history[0].actor == "root"
            assert client.get_server_info().database_backend == "postgresql"
        # The load balancer's health check: HTTPS, no credentials.
        context = ssl.create_default_context(cafile=str(clone / "ca.pem"))
        url = f"https://127.0.0.1:{http_port}/healthz"
        with urllib.request.urlopen(url, context=context, timeout=30) as answer:
            assert answer.status == 200
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(replica.pid, signal.SIGTERM)
        try:
            replica.wait(30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(replica.pid, signal.SIGKILL)
            replica.wait(5)


def test_the_systemd_unit_runs_the_tested_replica_command(tmp_path: Path) -> None:
    """The unit of docs/deployment.md starts the command the test above
    runs (the certificates in /etc/statehouse), from the venv in its working
    directory, and systemd accepts it."""
    deployment = section(ROOT / "docs" / "deployment.md", "Several replicas on one database")
    (unit_text,) = code_blocks(deployment, "ini")
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keys as written
    unit.read_string(unit_text)
    service = unit["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[0] == f"{service['WorkingDirectory']}/.venv/bin/statehouse"
    (_, serve) = blocks_tested_by("test_the_postgresql_deployment_as_written")
    tested = shlex.split(serve.text.replace("\\\n", " ").splitlines()[-1])
    assert tested[0] == ".venv/bin/statehouse"
    assert [Path(arg).name for arg in command[1:]] == tested[1:]
    assert "STATEHOUSE_DATABASE_URL=" in unit_text and service["EnvironmentFile"]
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"  # rereads the certificates

    if shutil.which("systemd-analyze") is None:
        return
    # Where the unit's working directory is a clone with its venv.
    path = tmp_path / "statehouse.service"
    path.write_text(unit_text.replace("/opt/statehouse", str(in_a_clone(tmp_path))))
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    assert (verified.returncode, verified.stderr) == (0, ""), verified.stderr  # no unknown key
