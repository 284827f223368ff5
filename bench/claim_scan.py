"""How long one ClaimTaskRuns takes with many ready task runs (issue 27).

Not part of ``make bench``: a probe of one statement. It starts an in-process
server on a fresh database (SQLite, or PostgreSQL from ``tests/pgcluster.py``),
makes ``--ready`` ready task runs (ten per execution), then times claims of
``--batch`` task runs, one at a time, and prints the claim query's plan on the
database (``EXPLAIN QUERY PLAN`` on SQLite; on PostgreSQL the generic plan of
the prepared statement, what psycopg runs after its fifth execution).

    .venv/bin/python bench/claim_scan.py --backend sqlite --ready 20000
    .venv/bin/python bench/claim_scan.py --backend postgresql --ready 20000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from statehouse.server.app import create_server  # noqa: E402
from statehouse.server.orchestration.filters import TaskRunFilter  # noqa: E402
from statehouse.server.settings import Settings  # noqa: E402
from statehouse.server.storage import work  # noqa: E402
from statehouse.v1 import execution_service_pb2 as pb, execution_service_pb2_grpc  # noqa: E402

NS = "probe.claims"


async def _make(stub: Any, count: int) -> None:
    sem = asyncio.Semaphore(32)

    async def one(n: int) -> None:
        async with sem:
            ex = (
                await stub.CreateExecution(pb.CreateExecutionRequest(namespace=NS, flow_id="f"))
            ).execution
            for _ in range(n):
                await stub.CreateTaskRun(pb.CreateTaskRunRequest(execution_id=ex.id, task_id="t"))

    await asyncio.gather(*(one(min(10, count - i)) for i in range(0, count, 10)))


def _plan(url: str) -> str:
    flt = TaskRunFilter(namespace=NS, flow_id="f")
    lock = url.startswith("postgresql")
    query = work.ready_query(flt, now_us=time.time_ns() // 1000, limit=10, lock=lock)
    engine = sa.create_engine(url)
    # Expanding IN parameters written out, as the statement runs.
    compiled = query.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
    values = compiled.construct_params()
    try:
        with engine.connect() as conn:
            if not lock:
                names = compiled.positiontup or []
                rows = conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + str(compiled), tuple(values[k] for k in names)
                ).all()
                return str(compiled) + "\n" + "\n".join(str(r[-1]) for r in rows)
            text = str(compiled)
            for i, name in enumerate(values, 1):
                text = text.replace(f"%({name})s", f"${i}")
            conn.exec_driver_sql(f"PREPARE claim AS {text}")
            args = ", ".join(f"'{v}'" if isinstance(v, str) else str(v) for v in values.values())
            out = [text]
            for mode in ("force_generic_plan", "force_custom_plan"):
                conn.exec_driver_sql(f"SET plan_cache_mode = {mode}")
                rows = conn.exec_driver_sql(f"EXPLAIN ANALYZE EXECUTE claim({args})").all()
                out += [f"-- {mode}", *(str(r[0]) for r in rows)]
            return "\n".join(out)
    finally:
        engine.dispose()


async def _probe(url: str, ready: int, batch: int, claims: int) -> dict[str, Any]:
    settings = Settings(address="127.0.0.1:0", database_url=url, poll_interval=0.2)
    server, port = await create_server(settings)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stub = execution_service_pb2_grpc.ExecutionServiceStub(channel)
    try:
        started = time.monotonic()
        await _make(stub, ready)
        made = time.monotonic() - started
        request = pb.ClaimTaskRunsRequest(
            worker_id="probe",
            filter=pb.TaskRunFilter(namespace=NS, flow_id="f"),
            max_task_runs=batch,
        )

        async def timed() -> list[float]:
            times = []
            for _ in range(claims):
                t0 = time.perf_counter()
                got = await stub.ClaimTaskRuns(request)
                times.append(time.perf_counter() - t0)
                assert len(got.task_runs) == batch, len(got.task_runs)
            return sorted(times)

        result: dict[str, Any] = {"made_s": made, "times": await timed()}
        if url.startswith("postgresql"):
            # What autovacuum does within a minute or so of the rows' arrival.
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE task_runs")
                conn.exec_driver_sql("ANALYZE executions")
            engine.dispose()
            result["analyzed"] = await timed()
        return result

    finally:
        await channel.close()
        await server.stop(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--ready", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--claims", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cluster = None
        if args.backend == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'probe.db'}"
        else:
            from tests.pgcluster import PostgresCluster

            cluster = PostgresCluster()
            url = cluster.create_database()
        try:
            result = asyncio.run(_probe(url, args.ready, args.batch, args.claims))
            print(
                f"backend {args.backend}: {args.ready:,} ready task runs (made in "
                f"{result['made_s']:.1f} s), {args.claims} claims of {args.batch} one after another"
            )
            for key, label in (("times", "claim ms"), ("analyzed", "after ANALYZE, claim ms")):
                if key in result:
                    times = result[key]
                    print(
                        f"{label}: median {statistics.median(times) * 1000:.1f}, "
                        f"p90 {times[int(0.9 * len(times))] * 1000:.1f}, max {times[-1] * 1000:.1f}"
                    )
            print("plan of the claim query:")
            print(_plan(url))
        finally:
            if cluster is not None:
                cluster.stop()


if __name__ == "__main__":
    main()
