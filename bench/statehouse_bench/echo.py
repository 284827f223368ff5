"""The baseline: a protobuf echo of TransitionTaskRun (bench/echo_server.py) through
the raw-stub client that drives Statehouse, at each in-flight level of the sweep;
and the SDK's own overhead (the same transitions through ``AsyncClient``)."""

from __future__ import annotations

import contextlib
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from .common import NAMESPACE, ServerProcess, pct, progress, run_loop
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


def _merged(name: str, parts: list[tuple[PhaseSummary, list[float], float]]) -> PhaseSummary:
    """Rounds of one client as one summary: (round, its latencies, its client CPU s)."""
    first = parts[0][0]
    ops = sum(p.ops for p, _, _ in parts)
    calls = sum(p.calls for p, _, _ in parts)
    seconds = max(sum(p.seconds for p, _, _ in parts), 1e-9)
    latencies = sorted(x for _, lat, _ in parts for x in lat)
    cpu = sum(c for _, _, c in parts)
    server = sum(p.server_cpu_pct * p.seconds for p, _, _ in parts)
    return replace(
        first,
        name=name,
        ops=ops,
        calls=calls,
        errors=sum(p.errors for p, _, _ in parts),
        seconds=round(seconds, 3),
        rate=round(ops / seconds, 1),
        calls_per_s=round(calls / seconds, 1),
        p50_ms=round(pct(latencies, 0.50) * 1000, 2),
        p99_ms=round(pct(latencies, 0.99) * 1000, 2),
        client_cpu_pct=round(100 * cpu / seconds, 1),
        server_cpu_pct=round(server / seconds, 1),
        first_error=next((p.first_error for p, _, _ in parts if p.first_error), ""),
    )


def run_sdk(
    statehouse: ServerProcess,
    concurrency: int,
    transitions: int,
    seconds: float,
    rounds: int = 4,
) -> tuple[PhaseSummary, PhaseSummary]:
    """The same transitions through the SDK's AsyncClient and through raw stubs, in rounds
    alternating between the two (sdk, raw, raw, sdk, ...: drift in the machine's load falls
    on both); both clients' creates first."""
    per_round = max(1, transitions // rounds)
    phases = (
        Phase("create", concurrency, seconds=60),
        *(Phase("transition", concurrency, max_ops=per_round, seconds=seconds / rounds),) * rounds,
    )
    parts: dict[str, list[tuple[PhaseSummary, list[float], float]]] = {"sdk": [], "raw": []}
    with contextlib.ExitStack() as stack:
        groups = {
            kind: stack.enter_context(
                ClientGroup(
                    ClientSpec(client=kind, targets=(statehouse.target,), phases=phases, tag=kind)
                )
            )
            for kind in ("sdk", "raw")
        }
        for kind, group in groups.items():
            group.run_phase(f"{kind} create", [statehouse])
        for number in range(rounds):
            order = ("sdk", "raw") if number % 2 == 0 else ("raw", "sdk")
            for kind in order:
                group = groups[kind]
                summary = group.run_phase(
                    f"{kind} transitions, round {number + 1}/{rounds}", [statehouse]
                )
                results = group.last_results
                latencies = [x for r in results for x in r.latencies]
                parts[kind].append((summary, latencies, sum(r.cpu for r in results)))
    return (
        _merged(f"sdk transitions, {concurrency} in flight", parts["sdk"]),
        _merged(f"raw transitions, {concurrency} in flight", parts["raw"]),
    )


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
