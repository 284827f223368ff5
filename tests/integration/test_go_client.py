"""The Go client (client/go/statehouse over gen/go/statehouse/v1) against real
server processes, built with Debian's Go toolchain in GOPATH mode.

- ``go vet`` on the generated package, the client and its example;
- ``go test`` on the client: its unit tests (cursor, retries, errors) and its
  server tests against a plaintext server on each backend (a lifecycle, a
  request id sent twice, an illegal move's ErrorInfo, a BadRequest's fields,
  a replay in order, a ``from_latest`` subscription's position from the start
  header);
- a subscription that has received nothing yet resumes across a server
  restart with no gap: the Go test and this file take turns through files in
  a directory (``subscribed``: the Go side is connected; the server is
  restarted; ``restarted``: the Go side commits events before its
  subscription reconnects, and must receive them);
- a token, a CA, a client certificate and a server name, against ``--auth``
  with mTLS;
- the Go program of docs/clients.md and the commands that run it, as written.

Skipped only when the ``go`` command is missing (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

import pytest

from tests.certs import Authority
from tests.doc_blocks import blocks_tested_by
from tests.eventually import eventually
from tests.tools import load_tool

from .conftest import ServerProcess
from .test_js_client import STATEHOUSE, serve

ROOT = Path(__file__).resolve().parents[2]
CLIENT = "github.com/statehouse/statehouse/client/go/statehouse"
PACKAGES = (
    "github.com/statehouse/statehouse/gen/go/statehouse/v1",
    CLIENT,
    "github.com/statehouse/statehouse/client/go/examples/hello",
)
EXAMPLE = ROOT / "client" / "go" / "examples" / "hello" / "main.go"
#: Variables the Go tests read; none may leak in from the caller's environment.
GO_VARIABLES = (
    "STATEHOUSE_TARGET",
    "STATEHOUSE_GO_RESTART_DIR",
    "STATEHOUSE_SECURE_TARGET",
    "STATEHOUSE_SECURE_TOKEN",
    "STATEHOUSE_TLS_DIR",
    "STATEHOUSE_TOKEN",
)
RESTART_TEST = "^TestASubscriptionResumesAcrossARestart$"
#: Room for a first build of grpc-go on a small, busy machine.
BUILD_TIMEOUT = 240

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("go"),
    pytest.mark.timeout(2 * BUILD_TIMEOUT),
]


def _tool() -> ModuleType:
    return load_tool("gen_go_protos")


@pytest.fixture
def go_env(tmp_path: Path) -> dict[str, str]:
    """The environment of ``go`` in GOPATH mode, this checkout linked into it."""
    if shutil.which("go") is None:
        pytest.skip("the Go toolchain is not installed (.ci/run installs Debian's golang-go)")
    tool = _tool()
    missing = tool.missing_tools()
    assert not missing, f"missing {missing}: apt-get install {' '.join(tool.DEBIAN_PACKAGES)}"
    base = {k: v for k, v in os.environ.items() if k not in GO_VARIABLES}
    env: dict[str, str] = tool.go_env(tmp_path / "gopath", base)
    return env


def go(
    args: Sequence[str], env: dict[str, str], extra: dict[str, str] | None = None, logs: str = ""
) -> str:
    """``go args`` (in ROOT), failing on a non-zero exit; its output."""
    result = subprocess.run(
        ["go", *args],
        cwd=ROOT,
        env={**env, **(extra or {})},
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"go {' '.join(args)} failed:\n{output}\n{logs}"
    return output


def skipped(output: str) -> set[str]:
    return set(re.findall(r"^\s*--- SKIP: (\w+)", output, flags=re.MULTILINE))


def test_go_vet_passes(go_env: dict[str, str]) -> None:
    go(["vet", *PACKAGES], go_env)


def test_go_client_tests_pass_against_the_server(
    server_process: ServerProcess, go_env: dict[str, str]
) -> None:
    output = go(
        ["test", "-count=1", "-v", CLIENT],
        go_env,
        {"STATEHOUSE_TARGET": server_process.target},
        f"server log:\n{server_process.logs()}",
    )
    assert "--- PASS: TestASubscriptionReplaysHistoryInOrderOneByOne" in output, output
    # Only the tests that need a restart or a secure server (below) skip here.
    assert skipped(output) == {"TestASubscriptionResumesAcrossARestart", "TestTokenAndMutualTLS"}


def test_go_subscription_resumes_across_a_server_restart(
    server_process: ServerProcess, go_env: dict[str, str], tmp_path: Path
) -> None:
    signals = tmp_path / "signals"
    signals.mkdir()
    env = {
        **go_env,
        "STATEHOUSE_TARGET": server_process.target,
        "STATEHOUSE_GO_RESTART_DIR": str(signals),
    }
    proc = subprocess.Popen(
        ["go", "test", "-count=1", "-v", "-run", RESTART_TEST, CLIENT],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:

        def subscribed() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"go test ended before subscribing:\n{proc.communicate()[0]}")
            return (signals / "subscribed").exists()

        # The bound includes building the test binary.
        eventually(subscribed, "the Go side subscribed", within=BUILD_TIMEOUT, step=0.05)
        server_process.restart()
        (signals / "restarted").touch()
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode == 0, f"{output}\nserver log:\n{server_process.logs()}"
    assert "--- PASS: TestASubscriptionResumesAcrossARestart" in output, output


@pytest.fixture
def secure_server(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """``serve --auth`` with mTLS (a server certificate for localhost and
    127.0.0.1, clients signed by clients-ca) and an admin token: yields
    (target, token, the directory of ca.pem, client.crt and client.key)."""
    tls = tmp_path / "tls"
    tls.mkdir()
    Authority(tls, "ca").issue("server", server=True)
    Authority(tls, "clients-ca").issue("client", server=False)
    database_url = f"sqlite:///{tmp_path / 'statehouse.db'}"
    created = subprocess.run(
        [str(STATEHOUSE), "tokens", "create", "--database", database_url,
         "--name", "go", "--role", "admin", "--namespace", "*", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert created.returncode == 0, f"tokens create failed:\n{created.stdout}\n{created.stderr}"
    token = json.loads(created.stdout)["secret"]
    with serve(
        tmp_path / "server.log",
        database_url,
        "--auth",
        "--tls-cert", str(tls / "server.crt"), "--tls-key", str(tls / "server.key"),
        "--tls-client-ca", str(tls / "clients-ca.pem"),
    ) as port:  # fmt: skip
        yield f"127.0.0.1:{port}", token, tls


def test_go_client_with_a_token_and_mutual_tls(
    secure_server: tuple[str, str, Path], go_env: dict[str, str]
) -> None:
    target, token, tls = secure_server
    output = go(
        ["test", "-count=1", "-v", "-run", "^TestTokenAndMutualTLS$", CLIENT],
        go_env,
        {
            "STATEHOUSE_SECURE_TARGET": target,
            "STATEHOUSE_SECURE_TOKEN": token,
            "STATEHOUSE_TLS_DIR": str(tls),
        },
    )
    assert "--- PASS: TestTokenAndMutualTLS" in output, output


def test_go_readme_example_runs(server_process: ServerProcess, go_env: dict[str, str]) -> None:
    """The Go program of docs/clients.md is client/go/examples/hello, and its
    commands (``make go``, the GOPATH, ``go run``) run it against a server."""
    if shutil.which("make") is None:
        pytest.fail("make is not installed")
    shell, program = blocks_tested_by("test_go_readme_example_runs")
    assert program.language == "go" and shell.is_shell, (shell.where, program.where)
    assert program.text == EXAMPLE.read_text(), f"{program.where} differs from {EXAMPLE}"
    base = {k: v for k, v in go_env.items() if k not in ("GOPATH", "GO111MODULE")}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", shell.text],
        cwd=ROOT,
        env={**base, "STATEHOUSE_TARGET": server_process.target},
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"{output}\nserver log:\n{server_process.logs()}"
    assert re.search(r"refused: FailedPrecondition INVALID_TRANSITION map\[", output), output
    assert re.search(r"event \d+ STATE_SUCCESS", output), output
