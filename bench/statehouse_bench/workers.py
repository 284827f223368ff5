"""Workers (issue 27): claims/s with 16 workers claiming in batches, the cost of
a heartbeat per held attempt, and how long an expired lease takes to be acted
on (from its expiry to the attempt's FAILED, as the server recorded it).

The 16 workers are asyncio tasks of this process, each on its own channel:
the client's CPU shares the machine with the server's (2 cores here), so the
claims/s are a floor for separate worker machines.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import duration_pb2

from statehouse.v1 import execution_service_pb2 as pb, execution_service_pb2_grpc, state_pb2

from .common import ServerProcess, progress, run_loop

NS = "bench.workers"


@dataclass(frozen=True)
class WorkerSizes:
    task_runs: int = 20_000
    workers: int = 16
    batch: int = 10
    expiring: int = 1_000

    @classmethod
    def quick(cls) -> WorkerSizes:
        return cls(task_runs=2_000, expiring=200)


def _seconds(value: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(value * 1e9))
    return d


async def _make(stub: Any, count: int, flow: str) -> None:
    """``count`` ready task runs, ten per execution, 32 calls in flight."""
    sem = asyncio.Semaphore(32)

    async def one(n: int) -> None:
        async with sem:
            ex = (
                await stub.CreateExecution(pb.CreateExecutionRequest(namespace=NS, flow_id=flow))
            ).execution
            for _ in range(n):
                await stub.CreateTaskRun(pb.CreateTaskRunRequest(execution_id=ex.id, task_id="t"))

    await asyncio.gather(*(one(min(10, count - i)) for i in range(0, count, 10)))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _run(target: str, sizes: WorkerSizes) -> dict[str, Any]:
    channels = [grpc.aio.insecure_channel(target) for _ in range(sizes.workers)]
    stubs = [execution_service_pb2_grpc.ExecutionServiceStub(c) for c in channels]
    try:
        progress(f"workers: making {sizes.task_runs:,} ready task runs")
        await _make(stubs[0], sizes.task_runs, "claims")

        held: list[tuple[str, int]] = []
        latencies: list[float] = []

        async def worker(i: int) -> None:
            request = pb.ClaimTaskRunsRequest(
                worker_id=f"w{i}",
                filter=pb.TaskRunFilter(namespace=NS, flow_id="claims"),
                max_task_runs=sizes.batch,
                lease_duration=_seconds(600),
            )
            while True:
                t0 = time.perf_counter()
                got = (await stubs[i].ClaimTaskRuns(request, timeout=60)).task_runs
                latencies.append(time.perf_counter() - t0)
                if not got:
                    return
                held.extend((c.task_run.id, c.attempt) for c in got)

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(sizes.workers)))
        elapsed = time.perf_counter() - started
        ids = [task_run_id for task_run_id, _ in held]
        assert len(ids) == len(set(ids)) == sizes.task_runs, (len(ids), len(set(ids)))
        claims = {
            "task_runs": len(held),
            "workers": sizes.workers,
            "batch": sizes.batch,
            "seconds": elapsed,
            "claims_per_s": len(held) / elapsed,
            "call_p50_ms": _pct(latencies, 0.5) * 1e3,
            "call_p99_ms": _pct(latencies, 0.99) * 1e3,
        }
        progress(
            f"workers: {claims['claims_per_s']:,.0f} claims/s ({sizes.workers} workers, batches "
            f"of {sizes.batch}; claim call p50 {claims['call_p50_ms']:.1f} ms, "
            f"p99 {claims['call_p99_ms']:.1f} ms), each task run claimed once"
        )

        # Heartbeats: every held attempt, 1,000 a call, a few rounds.
        rounds, per_call = 3, 1000
        t0 = time.perf_counter()
        for _ in range(rounds):
            calls = [
                stubs[n % sizes.workers].Heartbeat(
                    pb.HeartbeatRequest(
                        attempts=[
                            pb.HeartbeatItem(task_run_id=t, attempt=a)
                            for t, a in held[k : k + per_call]
                        ]
                    ),
                    timeout=60,
                )
                for n, k in enumerate(range(0, len(held), per_call))
            ]
            for response in await asyncio.gather(*calls):
                assert not any(r.HasField("error") for r in response.results)
        beat_s = time.perf_counter() - t0
        heartbeats = {
            "held": len(held),
            "items_per_call": per_call,
            "us_per_attempt": beat_s / (rounds * len(held)) * 1e6,
            "attempts_per_s": rounds * len(held) / beat_s,
        }
        progress(
            f"workers: heartbeat {heartbeats['us_per_attempt']:.0f} us per held attempt "
            f"({heartbeats['attempts_per_s']:,.0f} attempts/s, {per_call} a call, "
            f"{len(held):,} held)"
        )

        # Lease expiry: claim with a 1 s lease, never heartbeat, read when each failed.
        await _make(stubs[0], sizes.expiring, "expiry")
        expiring: list[tuple[str, float]] = []
        request = pb.ClaimTaskRunsRequest(
            worker_id="doomed",
            filter=pb.TaskRunFilter(namespace=NS, flow_id="expiry"),
            max_task_runs=100,
            lease_duration=_seconds(1),
        )
        while len(expiring) < sizes.expiring:
            got = (await stubs[0].ClaimTaskRuns(request, timeout=60)).task_runs
            if not got:
                break
            expiring.extend(
                (c.task_run.id, c.lease_expire_time.ToMicroseconds() / 1e6) for c in got
            )
        delays: list[float] = []
        deadline = time.monotonic() + 120
        pending = dict(expiring)
        while pending and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            for task_run_id in list(pending):
                tr = (
                    await stubs[0].GetTaskRun(pb.GetTaskRunRequest(task_run_id=task_run_id))
                ).task_run
                ended = tr.attempts[0].history[-1]
                if ended.state == state_pb2.STATE_FAILED:
                    delays.append(ended.time.ToMicroseconds() / 1e6 - pending.pop(task_run_id))
        expiry = {
            "leases": len(expiring),
            "acted_on": len(delays),
            "p50_ms": _pct(delays, 0.5) * 1e3 if delays else None,
            "p99_ms": _pct(delays, 0.99) * 1e3 if delays else None,
            "mean_ms": statistics.fmean(delays) * 1e3 if delays else None,
        }
        progress(
            f"workers: an expired lease acted on after p50 {expiry['p50_ms']:.0f} ms, "
            f"p99 {expiry['p99_ms']:.0f} ms ({len(delays)} of {len(expiring)} leases of 1 s)"
        )
        return {"claims": claims, "heartbeats": heartbeats, "lease_expiry": expiry}
    finally:
        for c in channels:
            await c.close()


def run_phase(statehouse: ServerProcess, sizes: WorkerSizes) -> dict[str, Any]:
    try:
        result = run_loop(_run(statehouse.target, sizes))
    except Exception as error:
        progress(f"workers: failed: {error!r}")
        return {"ok": False, "error": repr(error)}
    return {"ok": result["lease_expiry"]["acted_on"] == result["lease_expiry"]["leases"], **result}


def render(workers: dict[str, Any]) -> str:
    """The workers phase as the report prints it."""
    if workers.get("skipped"):
        return f"\nWorkers: skipped ({workers['skipped']})"
    if "claims" not in workers:
        return f"\nWorkers: FAILED ({workers.get('error', 'no result')})"
    c, h, e = workers["claims"], workers["heartbeats"], workers["lease_expiry"]
    lines = [
        "\nWorkers (ClaimTaskRuns, Heartbeat, lease expiry; raw stubs, SQLite):",
        f"  claims: {c['claims_per_s']:,.0f} claims/s by {c.get('workers', '?')} workers claiming "
        f"batches of {c.get('batch', '?')} over {c.get('task_runs', 0):,} ready task runs, "
        f"each claimed once; claim call p50 {c['call_p50_ms']:.1f} ms, p99 {c['call_p99_ms']:.1f} ms",
        f"  heartbeat: {h['us_per_attempt']:.0f} us per held attempt ({h['attempts_per_s']:,.0f} "
        f"attempts/s, {h['items_per_call']:,} a call, {h['held']:,} held)",
    ]
    if e.get("p50_ms") is not None:
        lines.append(
            f"  an expired lease acted on (expiry to FAILED as recorded): p50 {e['p50_ms']:,.0f} ms,"
            f" p99 {e['p99_ms']:,.0f} ms ({e['acted_on']:,} of {e['leases']:,} leases of 1 s)"
        )
    return "\n".join(lines)
