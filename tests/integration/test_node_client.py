"""The Node.js client (client/node) against real server processes.

Runs ``node --test`` on client/node's test files with the addresses and
certificates in the environment:

- ``client.test.js`` against a plaintext server on each backend: executions,
  task runs, a lifecycle, the event stream in order, google.rpc error details
  decoded in JavaScript, and a process that breaks out of a subscription exits;
- ``credentials.test.js`` and ``tls.test.js`` with certificates made here and a
  server serving TLS: the bearer token sent on every call and stream (recorded by
  a grpc-js server in the Node process), TLS with the CA succeeding and without
  it failing, mTLS, and ``client.test.js`` again over TLS (STATEHOUSE_TLS_CA);
- ``auth.test.js`` against ``statehouse serve --auth`` with a bootstrap admin
  token, once the server has ``--auth`` (skipped before).

``make test`` installs client/node's packages first (``make node-client``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest

from tests.certs import Authority

from .conftest import READY, ServerProcess

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client" / "node"
#: The CLI of this environment (``tokens create``, ``serve --help``).
STATEHOUSE = Path(sys.executable).with_name("statehouse")
if not STATEHOUSE.exists():
    STATEHOUSE = Path(shutil.which("statehouse") or STATEHOUSE)

#: Variables the Node tests read; none may leak in from the caller's environment.
NODE_VARIABLES = (
    "STATEHOUSE_TARGET",
    "STATEHOUSE_TOKEN",
    "STATEHOUSE_TLS_CA",
    "STATEHOUSE_TLS_TARGET",
    "STATEHOUSE_TEST_TLS_DIR",
    "STATEHOUSE_AUTH_TARGET",
    "STATEHOUSE_AUTH_TOKEN",
)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (Node.js 18 or later is required)")
    if not (CLIENT / "node_modules" / "@grpc" / "grpc-js").exists():
        pytest.fail("client/node has no node_modules: run `make node-client`")
    return node


def run_node_tests(files: Sequence[str], env: dict[str, str], logs: str = "") -> str:
    """``node --test`` on ``files`` (relative to client/node) with ``env``; fails on any failure."""
    base = {k: v for k, v in os.environ.items() if k not in NODE_VARIABLES}
    result = subprocess.run(
        [_node(), "--test", "--test-reporter=spec", *files],
        cwd=CLIENT,
        env={**base, **env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"node --test {' '.join(files)} failed:\n{output}\n{logs}"
    assert re.search(r"pass [1-9]", output), f"no test ran:\n{output}"
    return output


def assert_none_skipped(output: str) -> None:
    """No test or suite skipped for want of its variables (each says which "is not set")."""
    assert re.search(r"skipped 0\b", output), f"some Node tests were skipped:\n{output}"
    assert not re.search(r"\b(is|are) not set\b", output), f"a Node suite was skipped:\n{output}"


@contextmanager
def serve(log: Path, database_url: str, *args: str) -> Iterator[int]:
    """``python -m statehouse.server.app`` on a free port with ``args``; yields the port."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "statehouse.server.app", "--address", "127.0.0.1:0",
             "--database", database_url, *args],
            stdout=out,
            stderr=out,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while (match := READY.search(log.read_text(errors="replace"))) is None:
            assert proc.poll() is None, f"the server exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"the server did not start:\n{log.read_text()}"
            time.sleep(0.02)
        yield int(match.group(1))
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    """ca.pem and a server certificate for localhost and 127.0.0.1 (server.crt,
    server.key), other-ca.pem, and clients-ca.pem with client.crt and client.key."""
    directory = tmp_path / "tls"
    directory.mkdir()
    Authority(directory, "ca").issue("server", server=True)
    Authority(directory, "other-ca")
    Authority(directory, "clients-ca").issue("client", server=False)
    return directory


def test_node_client_suite_passes_against_the_python_server(server_process: ServerProcess) -> None:
    run_node_tests(
        ["test/client.test.js"],
        {"STATEHOUSE_TARGET": server_process.target},
        f"server log:\n{server_process.logs()}",
    )


def test_node_client_credentials_and_tls(tmp_path: Path, tls_dir: Path) -> None:
    log = tmp_path / "server.log"
    with serve(
        log,
        f"sqlite:///{tmp_path / 'statehouse.db'}",
        "--tls-cert", str(tls_dir / "server.crt"), "--tls-key", str(tls_dir / "server.key"),
    ) as port:  # fmt: skip
        target = f"127.0.0.1:{port}"
        output = run_node_tests(
            ["test/credentials.test.js", "test/tls.test.js"],
            {"STATEHOUSE_TLS_TARGET": target, "STATEHOUSE_TEST_TLS_DIR": str(tls_dir)},
            f"server log:\n{log.read_text()}",
        )
        assert_none_skipped(output)
        # The whole suite over TLS, with the CA from the environment.
        run_node_tests(
            ["test/client.test.js"],
            {"STATEHOUSE_TARGET": target, "STATEHOUSE_TLS_CA": str(tls_dir / "ca.pem")},
            f"server log:\n{log.read_text()}",
        )


@cache
def _serve_help() -> str:
    return subprocess.run(
        [str(STATEHOUSE), "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout


def test_node_client_against_a_server_with_auth(tmp_path: Path, tls_dir: Path) -> None:
    if not re.search(r"--auth\b(?!-)", _serve_help()):
        pytest.skip("statehouse serve has no --auth yet")
    database_url = f"sqlite:///{tmp_path / 'statehouse.db'}"
    created = subprocess.run(
        [str(STATEHOUSE), "tokens", "create", "--database", database_url,
         "--name", "admin", "--role", "admin", "--namespace", "*", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert created.returncode == 0, f"tokens create failed:\n{created.stdout}\n{created.stderr}"
    secret = json.loads(created.stdout)["secret"]
    log = tmp_path / "server.log"
    with serve(
        log,
        database_url,
        "--auth",
        "--tls-cert", str(tls_dir / "server.crt"), "--tls-key", str(tls_dir / "server.key"),
    ) as port:  # fmt: skip
        target = f"127.0.0.1:{port}"
        output = run_node_tests(
            ["test/auth.test.js"],
            {
                "STATEHOUSE_AUTH_TARGET": target,
                "STATEHOUSE_AUTH_TOKEN": secret,
                "STATEHOUSE_TEST_TLS_DIR": str(tls_dir),
            },
            f"server log:\n{log.read_text()}",
        )
        assert_none_skipped(output)
        # The whole suite as the admin, with the token and the CA from the environment.
        run_node_tests(
            ["test/client.test.js"],
            {
                "STATEHOUSE_TARGET": target,
                "STATEHOUSE_TOKEN": secret,
                "STATEHOUSE_TLS_CA": str(tls_dir / "ca.pem"),
            },
            f"server log:\n{log.read_text()}",
        )
