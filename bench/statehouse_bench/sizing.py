"""Sizing: database bytes per execution and per event, on SQLite and PostgreSQL.

Each execution is the README's typical one: small inputs, 10 task runs with
small outputs, 1.2 attempts each on average (every fifth task run fails once
and is restarted), completed with small outputs. Written through a server of
its own with raw stubs, then measured table by table, indexes included:
SQLite's ``dbstat`` (pages in use, after a checkpoint) and PostgreSQL's
``pg_total_relation_size`` (as written, dead row versions of the updates
included, before any vacuum). The event log is measured apart, as its
retention is apart (``--retention-seconds``, ``--retention-events``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import grpc
import sqlalchemy as sa
from google.protobuf import struct_pb2

from statehouse.v1 import (
    execution_service_pb2 as pb,
    execution_service_pb2_grpc as pbg,
    state_pb2 as st,
)

from .common import NAMESPACE, progress, run_loop, statehouse_server

TASK_RUNS = 10
#: Every RETRY_EVERY-th task run fails once: 1 + 1/5 = 1.2 attempts on average.
RETRY_EVERY = 5


@dataclass(frozen=True)
class SizingSizes:
    executions: int = 500
    in_flight: int = 8

    @classmethod
    def quick(cls) -> SizingSizes:
        return cls(executions=150)


@dataclass
class Sizing:
    backend: str
    executions: int
    task_runs: int
    attempts: int
    events: int
    execution_bytes: int
    event_bytes: int
    bytes_per_execution: float
    bytes_per_event: float
    events_per_execution: float
    tables: dict[str, int]


def _struct(**values: object) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(values)
    return s


async def _one(stub: pbg.ExecutionServiceStub, number: int) -> int:
    """One typical execution; returns its attempts."""
    ex = (
        await stub.CreateExecution(
            pb.CreateExecutionRequest(
                namespace=NAMESPACE,
                flow_id="etl.daily",
                labels={"team": "data"},
                inputs=_struct(date="2026-12-02", source="s3://bucket/input", n=number),
            )
        )
    ).execution
    attempts = 0

    async def move(task_run_id: str, state: int, **kw: Any) -> None:
        await stub.TransitionTaskRun(
            pb.TransitionTaskRunRequest(task_run_id=task_run_id, state=state, **kw)
        )

    for i in range(TASK_RUNS):
        tr = (
            await stub.CreateTaskRun(
                pb.CreateTaskRunRequest(execution_id=ex.id, task_id=f"task_{i}")
            )
        ).task_run
        await move(tr.id, st.STATE_RUNNING)
        attempts += 1
        if i % RETRY_EVERY == RETRY_EVERY - 1:
            await move(tr.id, st.STATE_FAILED, reason="exit status 1")
            await move(tr.id, st.STATE_RESTARTED)
            await move(tr.id, st.STATE_RUNNING)
            attempts += 1
        await move(tr.id, st.STATE_SUCCESS, outputs=_struct(rows=1000 + i, ok=True))
    await stub.CompleteExecution(
        pb.CompleteExecutionRequest(execution_id=ex.id, outputs=_struct(rows=10_000))
    )
    return attempts


async def _write(target: str, sizes: SizingSizes) -> int:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pbg.ExecutionServiceStub(channel)
        queue = list(range(sizes.executions))
        attempts: list[int] = []

        async def worker() -> None:
            while queue:
                attempts.append(await _one(stub, queue.pop()))

        await asyncio.gather(*(worker() for _ in range(sizes.in_flight)))
        return sum(attempts)


def _sqlite_tables(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master").fetchall())
        sizes: dict[str, int] = {}
        for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            sizes[table] = sizes.get(table, 0) + int(size)
        return sizes


def _pg_tables(url: str) -> dict[str, int]:
    """Bytes per table, indexes and TOAST included; a partitioned table's are its
    partitions' (the event log is partitioned by sequence range)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT coalesce(parent.relname, c.relname), "
                    "sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                    "LEFT JOIN pg_inherits i ON i.inhrelid = c.oid "
                    "LEFT JOIN pg_class parent ON parent.oid = i.inhparent "
                    "WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace "
                    "GROUP BY 1"
                )
            )
            return {str(name): int(size) for name, size in rows}
    finally:
        engine.dispose()


def _count(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def _measure(
    backend: str, url: str, tmp: Path, server_src: Path | None, sizes: SizingSizes, tables: Any
) -> Sizing:
    server = statehouse_server(
        f"statehouse (sizing, {backend})", url, tmp, key=f"sizing-{backend}", server_src=server_src
    )
    try:
        server.start()
        empty = tables()
        attempts = run_loop(_write(server.target, sizes))
    finally:
        server.stop()
    full = tables()
    grown = {t: full.get(t, 0) - empty.get(t, 0) for t in full}
    events = _count(url, "events")
    event_bytes = grown.pop("events", 0)
    execution_bytes = sum(v for t, v in grown.items() if t not in ("alembic_version", "counters"))
    n = sizes.executions
    return Sizing(
        backend=backend,
        executions=n,
        task_runs=_count(url, "task_runs"),
        attempts=attempts,
        events=events,
        execution_bytes=execution_bytes,
        event_bytes=event_bytes,
        bytes_per_execution=round(execution_bytes / n),
        bytes_per_event=round(event_bytes / max(events, 1)),
        events_per_execution=round(events / n, 1),
        tables={t: v for t, v in sorted(grown.items()) if v},
    )


def run_phase(
    sizes: SizingSizes, tmp: Path, server_src: Path | None, postgres: bool
) -> dict[str, Any]:
    """SQLite, then PostgreSQL on a throwaway cluster (unless ``postgres`` is False)."""
    result: dict[str, Any] = {"runs": [], "skipped": "", "ok": True}
    path = tmp / "sizing.db"
    progress(f"sizing on SQLite: {sizes.executions} executions of {TASK_RUNS} task runs")
    try:
        result["runs"].append(
            asdict(
                _measure(
                    "sqlite",
                    f"sqlite:///{path}",
                    tmp,
                    server_src,
                    sizes,
                    lambda: _sqlite_tables(path) if path.exists() else {},
                )
            )
        )
    except Exception as exc:  # reported, not fatal to the other phases
        result["ok"] = False
        result["error"] = f"sqlite: {exc}"
    if not postgres:
        result["skipped"] = "--no-postgres"
        return result
    from . import postgres as pg

    try:
        pgcluster = pg._load_pgcluster()
        if pgcluster.find_bin_dir() is None:
            result["skipped"] = "PostgreSQL binaries not found"
            return result
    except ImportError as exc:
        result["skipped"] = str(exc)
        return result
    cluster = None
    try:
        progress("sizing on PostgreSQL: a throwaway cluster")
        cluster = pg.start_pg_cluster(pgcluster)
        url = cluster.create_database()
        # The schema first, so that the empty database is measured migrated.
        from statehouse.server.storage import Store

        store = Store(url)
        store.migrate()
        store.close()
        result["runs"].append(
            asdict(_measure("postgresql", url, tmp, server_src, sizes, lambda: _pg_tables(url)))
        )
    except Exception as exc:
        result["ok"] = False
        result["error"] = f"postgresql: {exc}"
    finally:
        if cluster is not None:
            cluster.stop()
    return result


def render(result: dict[str, Any]) -> str:
    lines = [
        "",
        "## Sizing (bytes on disk, indexes included)",
        "",
        f"One execution: {TASK_RUNS} task runs, 1.2 attempts each on average, small inputs "
        "and outputs; the event log apart.",
        "",
        "| database | executions | events | bytes per execution | events per execution "
        "| bytes per event |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result.get("runs", []):
        lines.append(
            f"| {r['backend']} | {r['executions']:,} | {r['events']:,} | "
            f"{r['bytes_per_execution']:,.0f} | {r['events_per_execution']} | "
            f"{r['bytes_per_event']:,.0f} |"
        )
    if result.get("skipped"):
        lines.append(f"\nPostgreSQL skipped: {result['skipped']}")
    if result.get("error"):
        lines.append(f"\nERROR: {result['error']}")
    return "\n".join(lines)
