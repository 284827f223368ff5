"""The Java client (client/java) against real server processes.

client/java/build.sh compiles it with javac against Debian's jars (once per
run, shared with the conformance suite: tests/builds.py); its plain test runner
(``io.statehouse.client.ClientTests``, ending with ``N passed, N failed``) then
runs against:

- a plaintext server: executions and task runs through a lifecycle, the
  google.rpc details of refusals (ErrorInfo reason and metadata, BadRequest,
  PreconditionFailure), a lost answer retried with the same request_id (and
  a change without one not retried), the token on calls and streams, the
  event stream in order, from the latest event, and an unreachable address;
- a server restarted in the middle of two subscriptions (one from the start
  of the log, one from the latest event that has received nothing yet): this
  side restarts it when the runner prints ``RESTART <namespace>``, writes
  events while the streams are down, and answers on the runner's stdin;
- a server asking for client certificates (mutual TLS, a server name other
  than the address).

And the Java example of docs/clients.md, compiled and run as written but for the port.
Skipped only where the Java toolchain (javac, Debian's grpc-java jars) is
absent: .ci/run installs it.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from statehouse.client import Client
from tests.builds import JavaBuild, java_client as build_java_client
from tests.certs import Authority
from tests.doc_blocks import blocks_tested_by

from .conftest import ServerProcess

JARS = Path("/usr/share/java")
#: Variables the runner reads; none may leak in from the caller's environment.
JAVA_VARIABLES = (
    "STATEHOUSE_TARGET",
    "STATEHOUSE_TOKEN",
    "STATEHOUSE_TLS_CA",
    "STATEHOUSE_TLS_CERT",
    "STATEHOUSE_TLS_KEY",
    "STATEHOUSE_TLS_TARGET",
    "STATEHOUSE_TEST_TLS_DIR",
    "STATEHOUSE_RESTART",
)
#: The runner's tests that need only a plaintext server (or nothing).
PLAINTEXT_TESTS = (
    "cursor_asks_for_batches_and_resumes_after_the_last_sequence",
    "cursor_drops_duplicates_and_moves_on_heartbeats",
    "cursor_from_latest_starts_at_the_start_header",
    "retry_policy_backoff_grows_to_its_bound",
    "retried_calls_dial_the_server_again",
    "reconnecting_subscription_dials_the_server_again",
    "execution_and_task_run_through_a_lifecycle",
    "illegal_move_has_reason_metadata_and_precondition_failure",
    "malformed_request_has_field_violations",
    "revision_conflict_has_both_revisions",
    "unknown_execution_is_not_found",
    "unavailable_call_with_request_id_is_retried_with_the_same_id",
    "unavailable_change_without_request_id_is_not_retried",
    "generated_request_ids_make_changes_retried",
    "token_is_sent_on_calls_and_streams",
    "subscription_delivers_history_then_live_events_in_order",
    "subscription_from_latest_sees_only_new_events",
    "unreachable_server_names_the_address",
)


def _missing_toolchain() -> str | None:
    for tool in ("javac", "java"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (openjdk-17-jdk-headless)"
    for jar in ("grpc-netty", "grpc-stub", "protobuf", "netty-codec-http2", "perfmark-api"):
        if not (JARS / f"{jar}.jar").exists():
            return f"{JARS / jar}.jar is missing (see client/java/README.md)"
    return None


pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("java"),
    pytest.mark.skipif(_missing_toolchain() is not None, reason=str(_missing_toolchain())),
]


@pytest.fixture(scope="module")
def java_build() -> JavaBuild:
    return build_java_client()


def java_env(**variables: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in JAVA_VARIABLES}
    return {**base, **variables}


def check_output(result: subprocess.CompletedProcess[str], ran: int, logs: str = "") -> None:
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"the Java tests failed:\n{output}\n{logs}"
    summary = re.search(r"^(\d+) passed, (\d+) failed, (\d+) skipped$", result.stdout, re.M)
    assert summary, f"no summary line:\n{output}"
    assert summary.groups() == (str(ran), "0", "0"), f"not every test ran:\n{output}"


def run_java(build: JavaBuild, tests: Sequence[str], env: dict[str, str], logs: str = "") -> None:
    result = subprocess.run(
        build.command("io.statehouse.client.ClientTests", *tests),
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    check_output(result, len(tests), logs)


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server process on SQLite: the Java tests are about the client, the
    backends are tested through the Python SDK."""
    proc = ServerProcess(f"sqlite:///{tmp_path / 'statehouse.db'}", tmp_path / "server.log")
    try:
        yield proc
    finally:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.kill()


def test_java_client_suite_against_a_server(
    java_build: JavaBuild, sqlite_server: ServerProcess
) -> None:
    run_java(
        java_build,
        PLAINTEXT_TESTS,
        java_env(STATEHOUSE_TARGET=sqlite_server.target),
        f"server log:\n{sqlite_server.logs()}",
    )


def _lines(stream: object, into: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)
    into.put(None)


def test_java_subscriptions_resume_across_a_server_restart(
    java_build: JavaBuild, sqlite_server: ServerProcess
) -> None:
    proc = subprocess.Popen(
        java_build.command(
            "io.statehouse.client.ClientTests", "subscriptions_resume_across_a_server_restart"
        ),
        env=java_env(STATEHOUSE_TARGET=sqlite_server.target, STATEHOUSE_RESTART="stdio"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        # Not a poll: the runner's lines are read as they come, within one bound.
        deadline = time.monotonic() + 60
        namespace = None
        while namespace is None:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail("the runner did not ask for a restart in time:\n" + "".join(seen))
            assert line is not None, "the runner ended before asking for a restart:\n" + "".join(
                seen
            )
            seen.append(line)
            if line.startswith("RESTART "):
                namespace = line.split()[1]
        sqlite_server.restart()
        # Committed while both streams are down or reconnecting.
        with Client.connect(sqlite_server.target, tls=False, token="") as client:
            for _ in range(3):
                client.create_execution(namespace=namespace, flow_id="python")
        assert proc.stdin is not None
        proc.stdin.write("3\n")
        proc.stdin.flush()
        proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        try:
            while (line := lines.get(timeout=10)) is not None:
                seen.append(line)
        except queue.Empty:
            seen.append("(the runner's output did not end)\n")
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
    output = "".join(seen)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, output, "")
    check_output(result, 1, f"server log:\n{sqlite_server.logs()}")


def test_java_client_over_mutual_tls(java_build: JavaBuild, tmp_path: Path) -> None:
    tls = tmp_path / "tls"
    tls.mkdir()
    Authority(tls, "ca").issue("server", server=True)
    Authority(tls, "clients-ca").issue("client", server=False)
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'statehouse.db'}",
        tmp_path / "server.log",
        options=(
            "--tls-cert", str(tls / "server.crt"), "--tls-key", str(tls / "server.key"),
            "--tls-client-ca", str(tls / "clients-ca.pem"),
        ),
    )  # fmt: skip
    try:
        run_java(
            java_build,
            [
                "tls_with_ca_client_certificate_and_server_name",
                "tls_without_the_ca_fails_the_handshake",
            ],
            java_env(STATEHOUSE_TLS_TARGET=server.target, STATEHOUSE_TEST_TLS_DIR=str(tls)),
            f"server log:\n{server.logs()}",
        )
    finally:
        server.kill()


def test_java_readme_example_compiles_and_runs(
    java_build: JavaBuild, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    (block,) = blocks_tested_by("test_java_readme_example_compiles_and_runs")
    assert block.language == "java", block.where
    source = block.text.replace("127.0.0.1:50051", sqlite_server.target)
    name = re.search(r"public class (\w+)", source)
    assert name, f"{block.where}: no public class"
    (tmp_path / f"{name.group(1)}.java").write_text(source)
    compiled = subprocess.run(
        ["javac", "-cp", java_build.classpath, "-d", str(tmp_path), f"{name.group(1)}.java"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert compiled.returncode == 0, f"{block.where} does not compile:\n{compiled.stderr}"
    ran = subprocess.run(
        ["java", "-cp", f"{java_build.classpath}:{tmp_path}", name.group(1)],
        env=java_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, f"{block.where} failed:\n{ran.stdout}\n{ran.stderr}"
    assert re.search(r"created \S+ in STATE_CREATED", ran.stdout), ran.stdout
    assert re.search(r"event \d+: \S+ STATE_RUNNING", ran.stdout), ran.stdout
