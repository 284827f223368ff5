"""Installed as a user installs it: the wheels built from this tree, in new
virtualenvs. statehouse-server (with statehouse-client, no extras) serves on the
embedded SQLite database (health, a transition, its event); statehouse-client
alone has nothing of the server and its command drives a server."""

from __future__ import annotations

import os
import re
import subprocess
import venv
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from statehouse.server import testing as launcher
from statehouse.v1 import (
    event_service_pb2 as epb,
    event_service_pb2_grpc,
    execution_service_pb2 as pb,
    execution_service_pb2_grpc,
    state_pb2 as st,
)
from tests import builds

ROOT = Path(__file__).resolve().parents[2]

#: The first test of a run waits for the wheels and a virtualenv to be built (up to
#: 161 s in a slow run beside two others, against the watchdog's 120 + 60 s).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _venv(where: Path, *wheels: Path) -> None:
    """A new virtualenv with these wheels (and their dependencies) installed."""
    venv.create(where, with_pip=True)
    subprocess.run(
        [str(where / "bin" / "python"), "-m", "pip", "install", "--quiet", *map(str, wheels)],
        check=True,
        timeout=builds.BUILD_TIMEOUT,
    )


@pytest.fixture(scope="module")
def wheels() -> dict[str, Path]:
    """The two wheels built from this tree (once per run: tests/builds.py)."""
    return builds.wheels()


@pytest.fixture(scope="module")
def installed(wheels: dict[str, Path]) -> Path:
    """statehouse-server, and the statehouse-client it depends on, without extras
    (one virtualenv per run, which the tests only read)."""
    return builds.shared_build(
        "venv-server", lambda where: _venv(where, wheels["client"], wheels["server"])
    )


@pytest.fixture(scope="module")
def client_only(wheels: dict[str, Path]) -> Path:
    """statehouse-client alone, as a worker image installs it."""
    return builds.shared_build("venv-client", lambda where: _venv(where, wheels["client"]))


@pytest.fixture
def served(installed: Path, tmp_path: Path) -> Iterator[str]:
    """The wheel's own ``statehouse serve`` on the launcher (its ready file)."""
    server = launcher.ServerProcess(
        ["--data-dir", str(tmp_path / "data")],
        log_path=tmp_path / "server.log",
        python=str(installed / "bin" / "statehouse"),
        program=["serve"],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "STATEHOUSE_DATABASE_URL"},
    )
    with server:
        yield server.target


def test_the_wheel_without_extras_serves_on_sqlite(served: str) -> None:
    with grpc.insecure_channel(served) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        executions = execution_service_pb2_grpc.ExecutionServiceStub(channel)
        ex = executions.CreateExecution(
            pb.CreateExecutionRequest(namespace="demo", flow_id="hello")
        ).execution
        tr = executions.CreateTaskRun(
            pb.CreateTaskRunRequest(execution_id=ex.id, task_id="t")
        ).task_run
        moved = executions.TransitionTaskRun(
            pb.TransitionTaskRunRequest(task_run_id=tr.id, state=st.STATE_RUNNING)
        )
        assert moved.task_run.state == st.STATE_RUNNING
        stream = event_service_pb2_grpc.EventServiceStub(channel).Subscribe(
            epb.SubscribeRequest(), timeout=30
        )
        states = []
        for item in stream:
            states.append(item.event.state)
            if len(states) == 4:
                break
        stream.cancel()
        assert states[-1] == st.STATE_RUNNING


def test_the_wheels_command_line_needs_nothing_more(installed: Path, served: str) -> None:
    """The CLI's status, YAML output and completion run from the wheel's base dependencies."""
    env = {**os.environ, "STATEHOUSE_TARGET": served, "NO_COLOR": "1"}
    cli = str(installed / "bin" / "statehouse")

    def run(*argv: str) -> str:
        done = subprocess.run([cli, *argv], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "health:     SERVING" in run("status")
    eid = run("executions", "create", "--namespace", "demo", "--flow", "hello", "-q").strip()
    assert f"id: {eid}" in run("executions", "get", eid, "-o", "yaml")
    assert "_shtab_statehouse" in run("completion", "bash")


def test_the_wheel_carries_the_built_web_console(installed: Path) -> None:
    """index.html and every asset it names are installed with the package."""
    (site,) = (installed / "lib").glob("python3*/site-packages")
    static = site / "statehouse" / "server" / "web" / "static"
    index = (static / "index.html").read_text()
    assets = re.findall(r'(?:src|href)="/(assets/[^"]+)"', index)
    assert len(assets) == 2, index
    for asset in assets:
        assert (static / asset).is_file(), asset


def test_the_wheels_carry_the_license(installed: Path) -> None:
    """Apache-2.0, with its text: LICENSE in each installed dist-info."""
    (site,) = (installed / "lib").glob("python3*/site-packages")
    for name in ("statehouse_client", "statehouse_server"):
        (dist_info,) = site.glob(f"{name}-*.dist-info")
        assert (dist_info / "licenses" / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
        metadata = (dist_info / "METADATA").read_text()
        assert "License-Expression: Apache-2.0\n" in metadata
        assert "License-File: LICENSE\n" in metadata


#: What a client never needs: the server's own dependencies.
SERVER_ONLY = (
    "sqlalchemy",
    "alembic",
    "uvicorn",
    "prometheus-client",
    "opentelemetry-sdk",
    "pyjwt",
)


def test_the_client_wheel_alone_has_nothing_of_the_server(
    client_only: Path, served: str, tmp_path: Path
) -> None:
    """Installed alone it brings no server dependency; its SDK and its command's
    client commands drive a server; serve and backup say what to install."""
    listed = subprocess.run(
        [str(client_only / "bin" / "python"), "-m", "pip", "list", "--format", "freeze"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.lower()
    installed_names = {line.split("==")[0] for line in listed.splitlines()}
    assert "statehouse-client" in installed_names
    assert not installed_names & {"statehouse-server", *SERVER_ONLY}, installed_names
    program = (
        "from statehouse.client import Client\n"
        "import importlib.util, sys\n"
        "assert importlib.util.find_spec('statehouse.server') is None\n"
        f"with Client.connect({served!r}) as client:\n"
        "    ex = client.create_execution(namespace='demo', flow_id='from-the-client-wheel')\n"
        "    print(client.get_execution(ex.id).flow_id)\n"
    )
    done = subprocess.run(
        [str(client_only / "bin" / "python"), "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "from-the-client-wheel"
    env = {**os.environ, "STATEHOUSE_TARGET": served, "NO_COLOR": "1"}
    cli = str(client_only / "bin" / "statehouse")

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [cli, *argv], capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path
        )

    assert "health:     SERVING" in run("status").stdout
    made = run("executions", "create", "--namespace", "demo", "--flow", "cli", "-q")
    assert made.returncode == 0, made.stderr
    assert (
        f"id: {made.stdout.strip()}"
        in run("executions", "get", made.stdout.strip(), "-o", "yaml").stdout
    )
    for argv in (("serve",), ("backup", "--to", str(tmp_path / "copy.db"))):
        refused = run(*argv)
        assert refused.returncode == 2, refused
        assert "needs the server, which is not installed here: install statehouse-server" in (
            refused.stderr
        )
        assert "Traceback" not in refused.stderr
