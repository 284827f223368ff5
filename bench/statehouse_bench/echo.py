"""The baseline: a protobuf echo of TransitionTaskRun (bench/echo_server.py) through
the raw-stub client that drives Statehouse, at each in-flight level of the sweep;
and the SDK's own overhead (the same transitions through ``AsyncClient``)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from .common import NAMESPACE, ServerProcess, progress, run_loop
from .load import ClientGroup, ClientSpec, Phase, PhaseSummary


async def _capture(target: str) -> bytes:
    """One real transition on Statehouse: its serialized TransitionTaskRunResponse."""
    import grpc

    from statehouse.v1 import execution_service_pb2 as es, execution_service_pb2_grpc

    async with grpc.aio.insecure_channel(target) as channel:
        stub = execution_service_pb2_grpc.ExecutionServiceStub(channel)
        execution = await stub.CreateExecution(
            es.CreateExecutionRequest(namespace=NAMESPACE, flow_id="flow-capture"), timeout=10
        )
        task_run = await stub.CreateTaskRun(
            es.CreateTaskRunRequest(execution_id=execution.execution.id, task_id="task-0-0"),
            timeout=10,
        )
        response = await stub.TransitionTaskRun(
            es.TransitionTaskRunRequest(
                task_run_id=task_run.task_run.id,
                state=2,  # type: ignore[arg-type]
                worker_id="w0",
            ),
            timeout=10,
        )
        return bytes(response.SerializeToString())


def capture_response(statehouse: ServerProcess, path: Path) -> int:
    """Write a real TransitionTaskRunResponse to ``path`` for the echo server; its size."""
    data: bytes = run_loop(_capture(statehouse.target))
    path.write_bytes(data)
    return len(data)


def run_echo_sweep(
    echo: ServerProcess, levels: list[int], seconds: dict[int, float], max_calls: int
) -> list[PhaseSummary]:
    spec = ClientSpec(
        client="raw",
        targets=(echo.target,),
        phases=tuple(
            Phase("echo", n, max_ops=max_calls, seconds=seconds[n], label=f"echo x{n}")
            for n in levels
        ),
    )
    out = []
    with ClientGroup(spec) as group:
        for n in levels:
            out.append(group.run_phase(f"echo, {n} in flight", [echo]))
    return out


def run_sdk(
    statehouse: ServerProcess, concurrency: int, transitions: int, seconds: float
) -> tuple[PhaseSummary, PhaseSummary]:
    """The same transitions through the SDK's AsyncClient, then through raw stubs, back to
    back (creates first, shared by both)."""
    phases = (
        Phase("create", concurrency, seconds=60),
        Phase("transition", concurrency, max_ops=transitions, seconds=seconds, label="sdk"),
    )
    with ClientGroup(
        ClientSpec(client="sdk", targets=(statehouse.target,), phases=phases, tag="sdk")
    ) as group:
        group.run_phase("sdk create", [statehouse])
        sdk = group.run_phase(f"sdk transitions, {concurrency} in flight", [statehouse])
    with ClientGroup(
        ClientSpec(client="raw", targets=(statehouse.target,), phases=phases, tag="raw-vs-sdk")
    ) as group:
        group.run_phase("raw create", [statehouse])
        raw = group.run_phase(f"raw transitions, {concurrency} in flight", [statehouse])
    return sdk, raw


def sdk_overhead(sdk: PhaseSummary, raw: PhaseSummary) -> dict[str, Any]:
    def client_us(s: PhaseSummary) -> float:
        return round(1e6 * (s.client_cpu_pct / 100 * s.seconds) / max(s.ops, 1), 1)

    result: dict[str, Any] = {
        "sdk": asdict(sdk),
        "raw": asdict(raw),
        "sdk_per_s": sdk.rate,
        "raw_per_s": raw.rate,
        "ratio": round(sdk.rate / raw.rate, 3) if raw.rate else None,
        "client_cpu_us_per_call_sdk": client_us(sdk),
        "client_cpu_us_per_call_raw": client_us(raw),
    }
    result["sdk_overhead_us_per_call"] = round(
        result["client_cpu_us_per_call_sdk"] - result["client_cpu_us_per_call_raw"], 1
    )
    progress(
        f"SDK vs raw stubs: {sdk.rate:,.0f} / {raw.rate:,.0f} transitions/s "
        f"({result['ratio']}), client CPU {result['client_cpu_us_per_call_sdk']:.0f} / "
        f"{result['client_cpu_us_per_call_raw']:.0f} us per call"
    )
    return result
