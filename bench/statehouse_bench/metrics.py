"""Metrics: RecordMetrics throughput (calls of 100 new metrics, several in flight, on a
few hundred running task runs), then AggregateMetrics latency (hour buckets over one
day, with and without ``group_by_tag``) over ``--metrics`` stored metrics
(1,000,000). Recording them would take longer than ~90 s at the measured rate, so
they are written into the server's SQLite file while it is stopped (schema by its
own migrations, real task runs, times spread over the day in id order), then the
server is restarted."""

from __future__ import annotations

import asyncio
import json
import math
import random
import sqlite3
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .common import NAMESPACE, Deadline, ServerProcess, pct, progress, run_loop
from .load import PhaseResult, record_error


@dataclass(frozen=True)
class MetricsSizes:
    task_runs_per_execution: int = 4
    record_task_runs: int = 300
    record_entries: int = 100
    record_in_flight: int = 8
    record_seconds: float = 6.0
    metrics: int = 1_000_000
    metrics_load_seconds: float = 90.0
    aggregate_calls: int = 20
    aggregate_seconds: float = 25.0

    @classmethod
    def quick(cls, metrics: int = 100_000) -> MetricsSizes:
        return cls(
            record_task_runs=100,
            record_seconds=2.0,
            metrics=metrics,
            aggregate_calls=5,
            aggregate_seconds=4.0,
        )


METRIC_NAME = "bench.task.duration"
METRIC_GROUP_TAG = "worker"
METRIC_WORKERS = 16


@dataclass
class RecordSummary:
    task_runs: int
    entries_per_call: int
    in_flight: int
    calls: int
    metrics: int
    seconds: float
    metrics_per_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_pct: float
    errors: int
    first_error: str


@dataclass
class LoadSummary:
    how: str  # "rpc" or "sqlite"
    metrics: int
    tag_rows: int
    seconds: float
    rows_per_s: float
    day_start: str
    note: str


@dataclass
class AggregateSummary:
    group_by_tag: str
    calls: int
    series: int
    buckets: int
    metrics_counted: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_pct: float
    errors: list[str]


async def _running_task_runs(client: Any, count: int, per: int) -> list[tuple[str, str, str]]:
    """``count`` RUNNING task runs (attempt 1): (task_run_id, execution_id, task_id)."""
    from statehouse.client import State

    found: list[tuple[str, str, str]] = []
    executions = math.ceil(count / per)
    next_execution = [0]

    async def worker() -> None:
        while next_execution[0] < executions:
            n = next_execution[0]
            next_execution[0] += 1
            execution = await client.create_execution(namespace=NAMESPACE, flow_id="metrics")
            for i in range(per):
                task_id = f"task-{n}-{i}"
                response = await client.create_task_run(execution_id=execution.id, task_id=task_id)
                await client.transition_task_run(
                    response.task_run.id, state=State.RUNNING, worker_id=f"w{n % 16}"
                )
                found.append((response.task_run.id, execution.id, task_id))

    await asyncio.gather(*(worker() for _ in range(16)))
    return found[:count]


async def _record_async(
    target: str, server: ServerProcess, sizes: MetricsSizes
) -> tuple[RecordSummary, list[tuple[str, str, str]]]:
    from statehouse.client import AsyncClient, timer

    client = AsyncClient.connect(target)
    result = PhaseResult()
    try:
        await client.wait_for_ready(10)
        task_runs = await _running_task_runs(
            client, sizes.record_task_runs, sizes.task_runs_per_execution
        )
        deadline = Deadline(sizes.record_seconds)
        call_number = [0]
        per = sizes.record_entries

        async def worker() -> None:
            while not deadline.passed():
                n = call_number[0]
                call_number[0] += 1
                # Distinct tags: every entry is a new metric (none combines with another).
                entries = [
                    timer(
                        f"bench.record.{j % 10}",
                        0.001 * (j + 1),
                        tags={"call": str(n), "entry": str(j), "worker": f"w{n % 16}"},
                    )
                    for j in range(per)
                ]
                task_run_id = task_runs[n % len(task_runs)][0]
                t0 = time.perf_counter()
                try:
                    # Not ``result.ops += await ...``: that reads ops before the await.
                    recorded = await client.record_metrics(task_run_id, metrics=entries)
                except Exception as exc:
                    record_error(result, exc)
                    continue
                result.latencies.append(time.perf_counter() - t0)
                result.ops += recorded
                result.creates += 1

        cpu0 = server.cpu_seconds()
        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(sizes.record_in_flight)))
        seconds = time.monotonic() - t0
        server_cpu = server.cpu_seconds() - cpu0
    finally:
        await client.close()
    latencies = sorted(result.latencies)
    summary = RecordSummary(
        task_runs=len(task_runs),
        entries_per_call=sizes.record_entries,
        in_flight=sizes.record_in_flight,
        calls=result.creates,
        metrics=result.ops,
        seconds=round(seconds, 3),
        metrics_per_s=round(result.ops / seconds, 1),
        p50_ms=round(pct(latencies, 0.50) * 1000, 2),
        p99_ms=round(pct(latencies, 0.99) * 1000, 2),
        server_cpu_pct=round(100 * server_cpu / seconds, 1),
        errors=result.errors,
        first_error=result.first_error,
    )
    return summary, task_runs


def _day_start() -> datetime:
    """The start of yesterday (UTC): a whole day, 24 hour buckets."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1)


def _metric_rows(
    first: int,
    count: int,
    total: int,
    task_runs: list[tuple[str, str, str]],
    day_start: datetime,
    first_id: int,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Timer metrics ``first`` .. ``first + count - 1`` of ``total``, with their tags.

    They are spread evenly over the day, in id order (as if recorded as time went
    by, with some jitter), and over the task runs; 16 workers (the grouping tag).
    """
    rng = random.Random(first)
    start_us = int(day_start.timestamp() * 1_000_000)
    step_us = 86_400_000_000 / total
    metrics_rows: list[tuple[Any, ...]] = []
    tag_rows: list[tuple[Any, ...]] = []
    for i in range(first, first + count):
        metric_id = first_id + i
        task_run_id, execution_id, task_id = task_runs[i % len(task_runs)]
        worker = f"w{i % METRIC_WORKERS}"
        seq = str(i)
        tags = json.dumps({METRIC_GROUP_TAG: worker, "seq": seq}, separators=(",", ":"))
        metrics_rows.append(
            (
                metric_id,
                execution_id,
                task_run_id,
                task_id,
                1,
                NAMESPACE,
                "metrics",
                METRIC_NAME,
                "timer",
                "",
                tags,
                rng.expovariate(2.0),
                start_us + int((i + rng.random()) * step_us),
            )
        )
        tag_rows.append((metric_id, METRIC_GROUP_TAG, worker))
        tag_rows.append((metric_id, "seq", seq))
    return metrics_rows, tag_rows


def load_metrics_sqlite(
    path: Path, count: int, task_runs: list[tuple[str, str, str]], day_start: datetime
) -> LoadSummary:
    """Insert ``count`` metrics (and their tags) into the stopped server's SQLite file."""

    t0 = time.monotonic()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MB: the indexes stay in memory
        conn.execute("PRAGMA foreign_keys=ON")
        first_id = (conn.execute("SELECT COALESCE(MAX(id), 0) FROM metrics").fetchone()[0]) + 1
        chunk = 100_000
        tag_rows_total = 0
        for done in range(0, count, chunk):
            n = min(chunk, count - done)
            rows, tag_rows = _metric_rows(done, n, count, task_runs, day_start, first_id)
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO metrics (id, execution_id, task_run_id, task_id, attempt, "
                "namespace, flow_id, name, type, description, tags, value, time_us) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.executemany(
                "INSERT INTO metric_tags (metric_id, key, value) VALUES (?, ?, ?)", tag_rows
            )
            conn.execute("COMMIT")
            tag_rows_total += len(tag_rows)
            progress(
                f"metrics: {done + n:,} of {count:,} written to SQLite "
                f"({time.monotonic() - t0:.1f} s)"
            )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    seconds = time.monotonic() - t0
    return LoadSummary(
        how="sqlite",
        metrics=count,
        tag_rows=tag_rows_total,
        seconds=round(seconds, 1),
        rows_per_s=round(count / seconds, 1),
        day_start=day_start.isoformat(),
        note="written with sqlite3 executemany into the stopped server's database "
        "(schema by its migrations), times spread over the day",
    )


async def _load_rpc_async(
    target: str, count: int, task_runs: list[tuple[str, str, str]], in_flight: int = 4
) -> LoadSummary:
    from statehouse.client import AsyncClient, timer

    client = AsyncClient.connect(target)
    t0 = time.monotonic()
    next_call = [0]
    calls = math.ceil(count / 1000)
    rng = random.Random(42)
    try:
        await client.wait_for_ready(10)

        async def worker() -> None:
            while next_call[0] < calls:
                n = next_call[0]
                next_call[0] += 1
                first = n * 1000
                entries = [
                    timer(
                        METRIC_NAME,
                        rng.expovariate(2.0),
                        tags={METRIC_GROUP_TAG: f"w{i % METRIC_WORKERS}", "seq": str(i)},
                    )
                    for i in range(first, min(first + 1000, count))
                ]
                await client.record_metrics(task_runs[n % len(task_runs)][0], metrics=entries)
                if (n + 1) % 100 == 0:
                    progress(
                        f"metrics: {(n + 1) * 1000:,} of {count:,} recorded "
                        f"({time.monotonic() - t0:.1f} s)"
                    )

        await asyncio.gather(*(worker() for _ in range(in_flight)))
    finally:
        await client.close()
    seconds = time.monotonic() - t0
    return LoadSummary(
        how="rpc",
        metrics=count,
        tag_rows=2 * count,
        seconds=round(seconds, 1),
        rows_per_s=round(count / seconds, 1),
        day_start="",
        note="recorded through RecordMetrics (1000-entry calls): all times are now, "
        "so they fall into the last buckets",
    )


async def _aggregate_async(
    target: str, server: ServerProcess, sizes: MetricsSizes, start: datetime, expected: int
) -> list[AggregateSummary]:
    from statehouse.client import AsyncClient, MetricBucketWidth, MetricType

    client = AsyncClient.connect(target, timeout=120)
    summaries = []
    try:
        await client.wait_for_ready(10)
        for group_by in ("", METRIC_GROUP_TAG):

            async def call(group_by: str = group_by) -> Any:
                return await client.aggregate_metrics(
                    namespace=NAMESPACE,
                    name=METRIC_NAME,
                    type=MetricType.TIMER,
                    start_time=start,
                    end_time=start + timedelta(days=1),
                    bucket_width=MetricBucketWidth.HOUR,
                    group_by_tag=group_by,
                )

            errors: list[str] = []
            await call()  # warm-up, not counted (the first call reads the pages from disk)
            latencies: list[float] = []
            response: Any = None
            cpu0 = server.cpu_seconds()
            t_start = time.monotonic()
            deadline = Deadline(sizes.aggregate_seconds)
            while len(latencies) < sizes.aggregate_calls and not deadline.passed():
                t0 = time.perf_counter()
                response = await call()
                latencies.append(time.perf_counter() - t0)
            server_cpu = server.cpu_seconds() - cpu0
            wall = time.monotonic() - t_start
            counted = sum(b.count for s in response.series for b in s.buckets)
            buckets = len(response.series[0].buckets) if response.series else 0
            if counted != expected:
                errors.append(f"buckets count {counted} metrics, {expected} were stored")
            if buckets != 24:
                errors.append(f"{buckets} hour buckets over one day, expected 24")
            if group_by and len(response.series) != METRIC_WORKERS:
                errors.append(
                    f"{len(response.series)} series grouped by {group_by}, "
                    f"expected {METRIC_WORKERS}"
                )
            latencies.sort()
            summaries.append(
                AggregateSummary(
                    group_by_tag=group_by,
                    calls=len(latencies),
                    series=len(response.series),
                    buckets=buckets,
                    metrics_counted=counted,
                    p50_ms=round(pct(latencies, 0.50) * 1000, 1),
                    p99_ms=round(pct(latencies, 0.99) * 1000, 1),
                    max_ms=round(latencies[-1] * 1000, 1),
                    server_cpu_pct=round(100 * server_cpu / max(wall, 1e-9), 1),
                    errors=errors,
                )
            )
            progress(
                f"AggregateMetrics over {expected:,} metrics, hour buckets over one day"
                f"{f', grouped by {group_by}' if group_by else ''}: p50 "
                f"{summaries[-1].p50_ms:,.0f} ms, p99 {summaries[-1].p99_ms:,.0f} ms "
                f"({len(latencies)} calls, {len(response.series)} series), {len(errors)} errors"
            )
            for error in errors:
                progress(f"  ERROR: {error}")
    finally:
        await client.close()
    return summaries


def run_metrics(
    server: ServerProcess, database: Path, sizes: MetricsSizes, how: str
) -> tuple[dict[str, Any], bool]:
    """RecordMetrics throughput, then AggregateMetrics over ``sizes.metrics`` stored metrics.

    The server is restarted when the metrics are written into its database directly.
    """
    target = f"127.0.0.1:{server.port}"
    record, task_runs = run_loop(_record_async(target, server, sizes))
    progress(
        f"RecordMetrics: {record.metrics_per_s:,.0f} metrics/s ({record.calls} calls of "
        f"{record.entries_per_call} entries, {record.in_flight} in flight, on {record.task_runs} "
        f"running task runs; p50 {record.p50_ms:.0f} ms, p99 {record.p99_ms:.0f} ms per call, "
        f"server CPU {record.server_cpu_pct:.0f}%, {record.errors} errors)"
    )
    if record.errors:
        progress(f"  RecordMetrics: first error: {record.first_error}")
    estimate = sizes.metrics / max(record.metrics_per_s, 1e-9)
    if how == "auto":
        how = "rpc" if estimate <= sizes.metrics_load_seconds else "sqlite"
    progress(
        f"metrics: loading {sizes.metrics:,} through RecordMetrics would take about "
        f"{estimate:,.0f} s: {'recording them' if how == 'rpc' else 'writing them to SQLite'}"
    )
    if how == "rpc":
        load = run_loop(_load_rpc_async(target, sizes.metrics, task_runs))
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    else:
        server.stop()
        start = _day_start()
        load = load_metrics_sqlite(database, sizes.metrics, task_runs, start)
        server.start()
        target = f"127.0.0.1:{server.port}"
        progress(f"statehouse restarted on {target}")
    progress(
        f"metrics: {load.metrics:,} stored in {load.seconds:.1f} s "
        f"({load.rows_per_s:,.0f} metrics/s, {load.how})"
    )
    aggregates = run_loop(_aggregate_async(target, server, sizes, start, sizes.metrics))
    ok = not record.errors and not any(a.errors for a in aggregates)
    return {
        "record": asdict(record),
        "load": asdict(load),
        "aggregate": [asdict(a) for a in aggregates],
        "estimated_rpc_load_seconds": round(estimate, 1),
    }, ok


# -- PostgreSQL: one replica, then two on the same database -------------------------------
