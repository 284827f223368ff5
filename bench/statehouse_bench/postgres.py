"""PostgreSQL: a throwaway cluster (``tests/pgcluster.py``, imported from the repository
root; skipped with a message when the binaries are missing), Statehouse replicas on one
database, raw-stub clients at 64 in flight split over the replicas.

Runs: with ``fsync=on`` and ``full_page_writes=on`` (durable, as anyone who needs
durability runs it; switched on with ALTER SYSTEM and a reload of the tests' cluster,
which starts with them off) one replica, then two on the same database; then with
``fsync=off`` (the tests' setting, labelled) one replica on a fresh database.
Each: transitions/s, the servers' CPU, the database's CPU (the postmaster and all its
backends, from /proc), statements and commits per state change; a subscriber on
every replica (from_latest, in a process of its own, subscribed before the creates)
must receive every event of the log once, in log order, and the same sequence on
every replica (checked against the events table up to an end marker).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing as mp
import queue
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from .common import (
    NAMESPACE,
    ROOT,
    SENTINEL_FLOW,
    CostMeter,
    Deadline,
    ProcessTreeCPU,
    ServerProcess,
    progress,
    run_loop,
    sdk_counter,
    signals_deferred,
    statehouse_server,
)
from .load import ClientGroup, ClientSpec, Phase

CORES = 2


@dataclass(frozen=True)
class PgSizes:
    concurrency: int = 64
    transitions: int = 8_000
    seconds: float = 12.0
    #: The fsync-off run (labelled; cheap): 0 skips it.
    fsync_off_transitions: int = 6_000

    @classmethod
    def quick(cls) -> PgSizes:
        return cls(transitions=2_000, seconds=3.0, fsync_off_transitions=0)


def _load_pgcluster() -> Any:
    """tests/pgcluster.py, the tests' throwaway cluster (imported from the repository root)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests import pgcluster

    return pgcluster


def start_pg_cluster(pgcluster: Any) -> Any:
    """A PostgresCluster whose tools run in a session of their own: a Ctrl-C at the terminal
    reaches only us (not initdb or pg_ctl half way), and we stop the cluster cleanly."""

    class BenchCluster(pgcluster.PostgresCluster):  # type: ignore[misc]
        def _run(self, tool: str, *args: str) -> None:
            command = [str(self.bin / tool), *args]
            if self.as_root:
                command = ["runuser", "-u", "postgres", "--", *command]
            subprocess.run(
                command, check=True, capture_output=True, timeout=120, start_new_session=True
            )

    return BenchCluster()


def set_durability(cluster: Any, fsync: bool) -> dict[str, str]:
    """fsync and full_page_writes on or off (ALTER SYSTEM, then a reload: both are
    reloadable); what the server reports afterwards."""
    import psycopg

    value = "on" if fsync else "off"
    with psycopg.connect(cluster.url().replace("+psycopg", ""), autocommit=True) as conn:
        for name in ("fsync", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {name} = {value}")
        conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)
        settings = {}
        for name in ("fsync", "full_page_writes", "synchronous_commit", "wal_sync_method"):
            row = conn.execute(f"SHOW {name}").fetchone()
            settings[name] = str(row[0]) if row else "?"
    if settings["fsync"] != value:
        raise RuntimeError(f"fsync is {settings['fsync']}, wanted {value}")
    return settings


@dataclass(frozen=True)
class OrderSpec:
    """One subscriber per target (picklable)."""

    targets: tuple[str, ...]
    heartbeat_interval: float = 0.5
    ready_timeout: float = 30.0


@dataclass
class OrderReport:
    """What the subscriber on one replica received, from its first heartbeat to the end
    marker: (sequence, execution_id, task_run_id, state) of every event."""

    target: str
    start_sequence: int = -1
    events: list[tuple[int, str, str, int]] = field(default_factory=list)
    end_sequence: int = 0  # the end marker's sequence, 0: not received
    errors: list[str] = field(default_factory=list)
    duplicates_dropped: int | None = None
    reconnects: int | None = None


async def _order_subscriber(
    client: Any, report: OrderReport, ready: asyncio.Event, heartbeat_interval: float
) -> None:
    from statehouse.client import Heartbeat

    subscription = client.subscribe(
        namespace=NAMESPACE,
        from_latest=True,
        heartbeats=True,
        heartbeat_interval=timedelta(seconds=heartbeat_interval),
    )
    try:
        async for item in subscription:
            if isinstance(item, Heartbeat):
                if not ready.is_set():
                    report.start_sequence = item.sequence
                    ready.set()
                continue
            if not ready.is_set():
                report.errors.append(f"event {item.sequence} before the first heartbeat")
                report.start_sequence = item.sequence - 1
                ready.set()
            if item.flow_id == SENTINEL_FLOW:
                report.end_sequence = item.sequence
                return
            report.events.append(
                (item.sequence, item.execution_id, item.task_run_id, int(item.state))
            )
    finally:
        report.duplicates_dropped = sdk_counter(subscription, "duplicates_dropped")
        report.reconnects = sdk_counter(subscription, "reconnects")
        await subscription.close()


async def _order_async(spec: OrderSpec, stop: Any, out: Any) -> None:
    from statehouse.client import AsyncClient

    clients = [AsyncClient.connect(t) for t in spec.targets]
    reports = [OrderReport(target=t) for t in spec.targets]
    readies = [asyncio.Event() for _ in spec.targets]
    tasks = [
        asyncio.create_task(_order_subscriber(c, r, e, spec.heartbeat_interval))
        for c, r, e in zip(clients, reports, readies, strict=True)
    ]
    try:
        deadline = Deadline(spec.ready_timeout)
        while not all(e.is_set() for e in readies):
            failed = [t for t in tasks if t.done()]
            if failed:
                raise RuntimeError(
                    f"a subscriber ended before its first heartbeat: {failed[0].exception()!r}"
                )
            if deadline.passed():
                raise RuntimeError(f"subscribers not started in {spec.ready_timeout} s")
            await asyncio.sleep(0.05)
        out.put(("ready", [r.start_sequence for r in reports]))
        pending: set[asyncio.Task[None]] = set(tasks)
        while pending and not stop.is_set():
            _done, pending = await asyncio.wait(pending, timeout=0.1)
        for task, report in zip(tasks, reports, strict=True):
            if task.done() and not task.cancelled() and task.exception() is not None:
                report.errors.append(f"subscriber failed: {task.exception()!r}")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            await client.close()
    for report in reports:
        if not report.end_sequence:
            report.errors.append(
                f"no end marker (got {len(report.events)} events after sequence "
                f"{report.start_sequence})"
            )
    out.put(("done", reports))


def order_process_main(spec: OrderSpec, stop: Any, out: Any) -> None:
    """Entry point of the spawned subscriber process of a PostgreSQL run."""
    try:
        run_loop(_order_async(spec, stop, out))
    except KeyboardInterrupt:
        pass
    except BaseException:
        out.put(("error", traceback.format_exc()))


class OrderCheck:
    """A subscriber on each replica (subscribe from_latest), in a process of their own."""

    def __init__(self, targets: list[str]) -> None:
        ctx = mp.get_context("spawn")
        self.out = ctx.Queue()
        self.stop = ctx.Event()
        self.proc = ctx.Process(
            target=order_process_main,
            args=(OrderSpec(tuple(targets)), self.stop, self.out),
            name="bench-pg-subscribers",
            daemon=True,
        )

    def __enter__(self) -> OrderCheck:
        self.proc.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(timeout=5)

    def get(self, kind: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.out.get(timeout=0.5)
            except queue.Empty:
                if self.proc.exitcode not in (None, 0):
                    raise RuntimeError("the subscriber process died") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"subscriber process: no {kind} in {timeout} s") from None
                continue
            if message[0] == "error":
                raise RuntimeError(f"the subscriber process failed:\n{message[1]}")
            if message[0] != kind:
                raise RuntimeError(f"subscriber process: {message[0]} before {kind}")
            return message[1]


def _logged_sequences(url: str, after: int, before: int) -> list[int]:
    """The sequences of the bench namespace's events in the log, after < sequence < before."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        rows = conn.execute(
            "SELECT sequence FROM events WHERE namespace = %s AND sequence > %s "
            "AND sequence < %s ORDER BY sequence",
            (NAMESPACE, after, before),
        ).fetchall()
    return [int(row[0]) for row in rows]


def check_order(reports: list[OrderReport], url: str) -> dict[str, Any]:
    """Every subscriber got every event of the log once, in log order, and all the same."""
    errors: list[str] = []
    for number, report in enumerate(reports, 1):
        errors.extend(f"subscriber {number}: {e}" for e in report.errors)
        if report.duplicates_dropped:
            errors.append(
                f"subscriber {number}: the SDK dropped {report.duplicates_dropped} duplicates"
            )
        if report.reconnects:
            errors.append(f"subscriber {number}: {report.reconnects} reconnects")
    starts = sorted({r.start_sequence for r in reports})
    ends = sorted({r.end_sequence for r in reports if r.end_sequence})
    if len(starts) != 1:
        errors.append(f"subscribers started at different sequences: {starts}")
    if len(ends) > 1:
        errors.append(f"subscribers got the end marker at different sequences: {ends}")
    logged: list[int] = []
    if ends:
        logged = _logged_sequences(url, min(starts), ends[0])
    for number, report in enumerate(reports, 1):
        sequences = [e[0] for e in report.events]
        if sequences == logged:
            continue
        received = set(sequences)
        missing = [s for s in logged if s not in received]
        repeated = len(sequences) - len(received)
        disorder = sum(b <= a for a, b in itertools.pairwise(sequences))
        errors.append(
            f"subscriber {number} ({report.target}): {len(sequences)} events, the log has "
            f"{len(logged)}: {len(missing)} missing (first {missing[:5]}), {repeated} "
            f"repeated, {disorder} out of order"
        )
    first = reports[0].events
    same = all(r.events == first for r in reports[1:])
    if not same:
        diff = next(
            (
                i
                for i, pair in enumerate(zip(*(r.events for r in reports), strict=False))
                if len(set(pair)) > 1
            ),
            min(len(r.events) for r in reports),
        )
        errors.append(
            f"the subscribers' sequences differ, first at position {diff}: "
            + "; ".join(f"{r.events[diff : diff + 1]}" for r in reports)
        )
    return {
        "subscribers": len(reports),
        "start_sequence": starts[0] if starts else -1,
        "end_sequence": ends[0] if ends else 0,
        "events_logged": len(logged),
        "events_received": [len(r.events) for r in reports],
        "same_sequences": same,
        "agreed": same and not errors,
        "errors": errors[:20] + ([f"... {len(errors) - 20} more"] if len(errors) > 20 else []),
    }


def _send_end_marker(target: str) -> None:
    from statehouse.client import Client

    with Client.connect(target) as client:
        client.create_execution(namespace=NAMESPACE, flow_id=SENTINEL_FLOW)


def _pg_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def run_pg_workload(
    replicas: list[ServerProcess],
    url: str,
    database_cpu: ProcessTreeCPU,
    sizes: PgSizes,
    transitions: int,
    label: str,
    subscribed: int | None = None,
) -> dict[str, Any]:
    """Raw-stub transitions, the workers split over the replicas, with a subscriber on
    every replica (``subscribed``: on the first ones only) from before the create phase
    to an end marker."""
    targets = tuple(r.target for r in replicas)
    n = len(replicas)
    spec = ClientSpec(
        client="raw",
        targets=targets,
        phases=(
            Phase("create", sizes.concurrency, seconds=90),
            Phase("transition", sizes.concurrency, max_ops=transitions, seconds=sizes.seconds),
        ),
        tag=f"pg-{label.replace(' ', '-')}-{n}",
    )
    watched = list(targets[: subscribed or len(targets)])
    with ClientGroup(spec) as group, OrderCheck(watched) as check:
        check.get("ready", 60)
        creates = group.run_phase(f"postgresql {label}, {n} replica(s): creates", replicas)
        meter = CostMeter(replicas, database_cpu)
        t0 = time.monotonic()
        transition = group.run_phase(
            f"postgresql {label}, {n} replica(s): transitions", replicas, meter
        )
        wall = time.monotonic() - t0
        _send_end_marker(targets[0])
        drain = threading.Timer(20, check.stop.set)
        drain.start()
        try:
            reports: list[OrderReport] = check.get("done", 40)
        finally:
            drain.cancel()
    order = check_order(reports, url)
    cost = transition.cost or {}
    database_us = cost.get("database_cpu_us_per_change", 0.0)
    database_cpu_pct = database_us * transition.ops / 1e4 / max(wall, 1e-9)
    progress(
        f"  postgresql {label}, {n} replica(s): database CPU {database_us:.0f} us per change "
        f"({database_cpu_pct:.0f}%); subscribers: "
        + (
            f"each received all {order['events_logged']} events of the log once, in order"
            if order["agreed"]
            else f"{len(order['errors'])} ERRORS"
        )
    )
    for error in order["errors"]:
        progress(f"  ERROR: {error}")
    return {
        "label": label,
        "replicas": n,
        "concurrency": sizes.concurrency,
        "creates_per_s": creates.rate,
        "transitions_per_s": transition.rate,
        "database_cpu_pct": round(database_cpu_pct, 1),
        "create": asdict(creates),
        "transition": asdict(transition),
        "order": order,
    }


def bound(one: dict[str, Any]) -> dict[str, Any]:
    """What the database's CPU per state change allows N replicas to do on this machine."""
    cost = one["transition"].get("cost") or {}
    db_us = float(cost.get("database_cpu_us_per_change") or 0.0)
    server_us = float(cost.get("server_cpu_us_per_change") or 0.0)
    rate = float(one["transitions_per_s"])
    if db_us <= 0 or rate <= 0:
        return {}
    db_bound = CORES * 1e6 / db_us
    both_bound = CORES * 1e6 / (db_us + server_us)
    return {
        "cores": CORES,
        "database_cpu_us_per_change": db_us,
        "server_cpu_us_per_change": server_us,
        "one_replica_per_s": rate,
        "database_bound_per_s": round(db_bound),
        "max_useful_replicas": round(db_bound / rate, 1),
        "same_machine_bound_per_s": round(both_bound),
    }


def run_postgres(server_src: Path | None, tmp: Path, sizes: PgSizes) -> dict[str, Any]:
    """fsync on: 1 replica, then 2 on the same database; fsync off: 1 replica."""
    result: dict[str, Any] = {"skipped": "", "error": "", "runs": []}
    try:
        import psycopg  # noqa: F401

        pgcluster = _load_pgcluster()
    except ImportError as exc:
        result["skipped"] = f"{exc} (pip install 'statehouse[postgres]'; tests/pgcluster.py)"
    else:
        if pgcluster.find_bin_dir() is None:
            result["skipped"] = "PostgreSQL binaries not found (apt-get install -y postgresql-15)"
    if result["skipped"]:
        progress(f"postgresql: SKIPPED: {result['skipped']}")
        return result
    cluster: Any = None
    replicas: list[ServerProcess] = []
    plan = [("fsync on", True, [1, 2], sizes.transitions)]
    if sizes.fsync_off_transitions:
        plan.append(("fsync off", False, [1], sizes.fsync_off_transitions))
    try:
        progress("postgresql: starting a throwaway cluster")
        with signals_deferred():  # raises only once ``cluster`` is set: stopped below
            cluster = start_pg_cluster(pgcluster)
        postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
        database_cpu = ProcessTreeCPU(postmaster)
        for label, fsync, counts, transitions in plan:
            settings = set_durability(cluster, fsync)
            url = cluster.create_database()
            result["version"] = _pg_version(url)
            result.setdefault("settings", {})[label] = settings
            progress(f"postgresql {label}: {settings}")
            for number in counts:
                while len(replicas) < number:
                    replica = statehouse_server(
                        f"statehouse (postgresql {label} replica {len(replicas) + 1})",
                        url,
                        tmp,
                        key=f"pg-{label.replace(' ', '-')}-{len(replicas) + 1}",
                        server_src=server_src,
                    )
                    replicas.append(replica)
                    replica.start(60)
                run = run_pg_workload(replicas, url, database_cpu, sizes, transitions, label)
                run["settings"] = settings
                result["runs"].append(run)
            for replica in replicas:
                replica.stop()
            replicas = []
        one = next(
            (r for r in result["runs"] if r["label"] == "fsync on" and r["replicas"] == 1), None
        )
        if one:
            result["bound"] = bound(one)
    except Exception:
        result["error"] = traceback.format_exc()
        progress("postgresql phase failed:\n" + result["error"])
        for replica in replicas:
            progress(f"last lines of the {replica.name} log:\n{replica.tail()}")
    finally:
        for replica in replicas:
            with contextlib.suppress(Exception):
                replica.stop()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.stop()
    return result


def postgres_ok(pg: dict[str, Any] | None) -> bool:
    if not pg or pg["skipped"]:
        return True
    if pg["error"]:
        return False
    return all(
        not run["transition"]["errors"] and not run["create"]["errors"] and run["order"]["agreed"]
        for run in pg["runs"]
    )
