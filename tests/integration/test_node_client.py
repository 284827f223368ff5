"""The Node.js client (client/node) against a real server process.

Runs ``node --test client/node/test/`` with STATEHOUSE_TARGET set to a server
started by the ``server_process`` fixture: creating executions and task runs,
a lifecycle, the event stream in order, and google.rpc error details decoded in
JavaScript. ``make test`` installs client/node's packages first (npm ci).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client" / "node"


def test_node_client_suite_passes_against_the_python_server(server_process: ServerProcess) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (Node.js 18 or later is required)")
    if not (CLIENT / "node_modules" / "@grpc" / "grpc-js").exists():
        pytest.fail("client/node has no node_modules: run `make node-client`")
    result = subprocess.run(
        [node, "--test", "--test-reporter=spec", "test/"],
        cwd=CLIENT,
        env=dict(os.environ, STATEHOUSE_TARGET=server_process.target, NO_COLOR="1"),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, (
        f"node --test failed:\n{output}\nserver log:\n{server_process.logs()}"
    )
    assert re.search(r"pass [1-9]", output), f"no test ran:\n{output}"
