"""grpc.health.v1 and reflection, as generic tools (buf curl, grpcurl) use them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from .conftest import ServerProcess, Stubs

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "statehouse.v1.ExecutionService",
    "statehouse.v1.EventService",
    "statehouse.v1.MetricService",
}


async def test_health_reports_serving_for_each_service(stubs: Stubs) -> None:
    health = health_pb2_grpc.HealthStub(stubs.channel)
    for service in ["", *sorted(SERVICES)]:
        response = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_services(stubs: Stubs) -> None:
    reflection = reflection_pb2_grpc.ServerReflectionStub(stubs.channel)
    call = reflection.ServerReflectionInfo()
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    response = await call.read()
    await call.done_writing()
    names = {s.name for s in response.list_services_response.service}
    assert names >= SERVICES


def _buf() -> str:
    local = ROOT / "node_modules" / ".bin" / "buf"
    found = str(local) if local.exists() else shutil.which("buf")
    if found is None:
        pytest.fail("buf is missing: run `make node` (make test installs it)")
    return found


def test_buf_curl_lists_services_and_creates_an_execution(server_process: ServerProcess) -> None:
    base = ["--protocol", "grpc", "--http2-prior-knowledge"]
    url = f"http://{server_process.target}"
    listed = subprocess.run(
        [_buf(), "curl", *base, "--list-services", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert set(listed.stdout.split()) >= SERVICES
    created = subprocess.run(
        [
            _buf(),
            "curl",
            *base,
            "-d",
            json.dumps({"namespace": "demo", "flow_id": "hello"}),
            f"{url}/statehouse.v1.ExecutionService/CreateExecution",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    execution = json.loads(created.stdout)["execution"]
    assert execution["state"] == "STATE_CREATED"
    assert execution["flowId"] == "hello"
