"""``make bench``: the phases in order, on servers of their own, and the report."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from . import batch, echo, fanout, idle, metrics, postgres, report, transitions
from .common import (
    ROOT,
    SQLITE_DURABILITY,
    ServerProcess,
    echo_server,
    git_describe,
    loop_kind,
    progress,
    statehouse_server,
    terminated,
    version,
)
from .profiling import Profiler


@dataclass(frozen=True)
class Sizes:
    """How much each phase does: a count and a time limit, whichever comes first."""

    levels: tuple[int, ...] = (1, 16, 64)
    echo_seconds: tuple[float, ...] = (3.0, 4.0, 6.0)
    echo_calls: int = 60_000
    sweep_transitions: tuple[int, ...] = (2_500, 8_000, 12_000)
    sweep_seconds: tuple[float, ...] = (5.0, 8.0, 10.0)
    sdk_transitions: int = 6_000
    sdk_seconds: float = 6.0
    batch_sizes: tuple[int, ...] = (100, 500)
    batch_in_flight: int = 4
    batch_transitions: int = 12_000
    batch_seconds: float = 10.0
    capacity_subscribers: tuple[int, ...] = (100, 1000)
    #: Events per capacity run, up to 100 subscribers and above: fewer than the server's
    #: subscriber buffer (1,024), so that a subscriber behind is not cut off.
    capacity_events: tuple[int, int] = (1_000, 150)
    capacity_seconds: float = 40.0
    latency_subscribers: int = 100
    latency_deliveries_per_s: float = 10_000.0
    latency_events: int = 1_000
    idle_streams: int = 5_000
    idle_streams_per_channel: int = 50
    idle_writes: int = 300
    pg: postgres.PgSizes = field(default_factory=postgres.PgSizes)
    metrics: metrics.MetricsSizes = field(default_factory=metrics.MetricsSizes)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            echo_seconds=(1.5, 1.5, 2.0),
            sweep_transitions=(400, 1_500, 2_000),
            sweep_seconds=(1.5, 2.0, 3.0),
            sdk_transitions=1_500,
            sdk_seconds=2.0,
            batch_transitions=2_000,
            batch_seconds=3.0,
            capacity_events=(200, 30),
            capacity_seconds=15.0,
            latency_events=200,
            idle_streams=2_000,
            idle_writes=150,
            pg=postgres.PgSizes.quick(),
            metrics=metrics.MetricsSizes.quick(),
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Statehouse against a protobuf echo server.")
    parser.add_argument("--quick", action="store_true", help="a short run (about 2-3 min)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write every figure as JSON")
    parser.add_argument(
        "--chart",
        type=Path,
        metavar="PATH",
        help="the sweep's PNG chart (default: beside --json, else bench-sweep.png in the "
        "temporary directory)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the server (cProfile) during the sweep's last level",
    )
    parser.add_argument(
        "--profile-out", type=Path, metavar="PATH", help="keep the pstats file here"
    )
    parser.add_argument(
        "--server-src",
        type=Path,
        metavar="DIR",
        help="run the server from this source root (e.g. an exported commit's server/src) "
        "instead of the working tree",
    )
    parser.add_argument(
        "--levels", default="", help="in-flight requests of the sweep (default 1,16,64)"
    )
    parser.add_argument(
        "--subscribers",
        default="",
        help="subscriber counts of the fan-out capacity runs (default 100,1000)",
    )
    parser.add_argument(
        "--idle-streams",
        type=int,
        default=None,
        metavar="N",
        help="idle subscriptions (default 5000, --quick 2000; 0 skips the phase)",
    )
    parser.add_argument(
        "--metrics",
        type=int,
        default=None,
        metavar="N",
        help="stored metrics to aggregate over (default 1,000,000, --quick 100,000; 0 skips "
        "the metrics phase)",
    )
    parser.add_argument(
        "--metrics-load",
        choices=("auto", "rpc", "sqlite"),
        default="auto",
        help="how to store them: through RecordMetrics, or written into the stopped server's "
        "SQLite file (default auto)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL phase")
    parser.add_argument("--no-fanout", action="store_true", help="skip the fan-out phase")
    parser.add_argument(
        "--no-sizing", action="store_true", help="skip the sizing phase (bytes per execution)"
    )
    parser.add_argument("--no-hostile", action="store_true", help="skip the hostile-client phase")
    parser.add_argument(
        "--no-http",
        action="store_true",
        help="skip the HTTP phase (Connect beside gRPC; gRPC with and without --http-address)",
    )
    parser.add_argument(
        "--no-security",
        action="store_true",
        help="skip the security phase (TLS + token checks against plaintext without them)",
    )
    return parser.parse_args(argv)


def _sizes(args: argparse.Namespace) -> Sizes:
    sizes = Sizes.quick() if args.quick else Sizes()
    if args.idle_streams is not None:
        sizes = replace(sizes, idle_streams=args.idle_streams)
    if args.metrics is not None:
        sizes = replace(sizes, metrics=replace(sizes.metrics, metrics=args.metrics))
    if args.subscribers:
        counts = tuple(int(x) for x in args.subscribers.split(",") if x)
        sizes = replace(sizes, capacity_subscribers=counts)
    if args.levels:
        levels = tuple(int(x) for x in args.levels.split(",") if x)
        n = len(levels)

        def spread(values: tuple[Any, ...]) -> tuple[Any, ...]:
            return tuple(values[min(i, len(values) - 1)] for i in range(n))

        sizes = replace(
            sizes,
            levels=levels,
            echo_seconds=spread(sizes.echo_seconds),
            sweep_transitions=spread(sizes.sweep_transitions),
            sweep_seconds=spread(sizes.sweep_seconds),
        )
    return sizes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = _sizes(args)
    # SIGTERM stops everything like Ctrl-C: servers, client processes, the PostgreSQL cluster.
    signal.signal(signal.SIGTERM, terminated)
    tmp = Path(tempfile.mkdtemp(prefix="statehouse-bench-"))
    chart = args.chart or (
        args.json.with_suffix(".png")
        if args.json
        else Path(tempfile.gettempdir()) / "bench-sweep.png"
    )
    database_path = tmp / "statehouse.db"
    profile_path = (args.profile_out or tmp / "server.prof") if args.profile else None
    statehouse = statehouse_server(
        "statehouse",
        f"sqlite:///{database_path}",
        tmp,
        key="statehouse",
        server_src=args.server_src,
        profile_out=profile_path,
    )
    servers: list[ServerProcess] = [statehouse]
    started = time.monotonic()
    results: dict[str, Any] = {
        "quick": args.quick,
        "environment": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "grpcio": version("grpcio"),
            "protobuf": version("protobuf"),
            "sqlalchemy": version("sqlalchemy"),
            "loop": loop_kind(),
            "durability": {
                "sqlite": SQLITE_DURABILITY,
                "postgresql": "fsync=on and full_page_writes=on for the main runs; "
                "fsync=off labelled",
            },
            "server_source": str(args.server_src or ROOT / "server" / "src"),
            "git": git_describe(),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        },
        "sizes": asdict(sizes),
    }
    ok = True
    profiler: Profiler | None = None
    try:
        progress(f"starting statehouse (temporary directory {tmp})")
        statehouse.start()
        size = echo.capture_response(statehouse, tmp / "response.bin")
        echoer = echo_server(tmp)
        echoer.argv += ["--response", str(tmp / "response.bin")]
        servers.append(echoer)
        echoer.start()
        results["echo_response_bytes"] = size
        progress(
            f"statehouse on {statehouse.target}, echo on {echoer.target} (TransitionTaskRun "
            f"answered with a {size}-byte response captured from Statehouse)"
        )
        levels = list(sizes.levels)
        echoes = echo.run_echo_sweep(
            echoer, levels, dict(zip(levels, sizes.echo_seconds, strict=True)), sizes.echo_calls
        )
        echoer.stop()
        results["echo"] = [asdict(s) for s in echoes]
        if profile_path is not None:
            profiler = Profiler(statehouse, profile_path)
        sweep = transitions.run_sweep(
            statehouse,
            levels,
            dict(zip(levels, sizes.sweep_transitions, strict=True)),
            dict(zip(levels, sizes.sweep_seconds, strict=True)),
            profiler,
        )
        results["sweep"] = [asdict(s) for s in sweep]
        results["ratios"] = [
            {
                "in_flight": n,
                "echo_per_s": e.rate,
                "transitions_per_s": t.rate,
                "ratio": round(t.rate / e.rate, 3) if e.rate else math.nan,
            }
            for n, e, t in zip(levels, echoes, sweep, strict=True)
        ]
        sdk, raw = echo.run_sdk(statehouse, max(levels), sizes.sdk_transitions, sizes.sdk_seconds)
        results["sdk"] = echo.sdk_overhead(sdk, raw)
        batches = batch.run_batch(
            statehouse,
            list(sizes.batch_sizes),
            sizes.batch_in_flight,
            sizes.batch_transitions,
            sizes.batch_seconds,
        )
        results["batch"] = [asdict(s) for s in batches]
        ok = ok and not any(s.errors for s in (*echoes, *sweep, sdk, raw, *batches))
        if args.no_fanout:
            results["fanout"] = {"skipped": "--no-fanout"}
        else:
            capacity = [
                fanout.run_fanout(statehouse, n, events, 0.0, sizes.capacity_seconds, "capacity")
                for n, events in (
                    (n, sizes.capacity_events[n > 100]) for n in sizes.capacity_subscribers
                )
            ]
            rate = sizes.latency_deliveries_per_s / sizes.latency_subscribers
            latency = fanout.run_fanout(
                statehouse,
                sizes.latency_subscribers,
                sizes.latency_events,
                rate,
                sizes.latency_events / rate + 20,
                "latency",
            )
            results["fanout"] = {
                "capacity": [asdict(s) for s in capacity],
                "latency": asdict(latency),
            }
            ok = ok and all(s.complete for s in (*capacity, latency))
        if sizes.idle_streams > 0:
            idle_server = statehouse_server(
                "statehouse (idle streams)",
                f"sqlite:///{tmp / 'idle.db'}",
                tmp,
                key="idle",
                server_src=args.server_src,
            )
            servers.append(idle_server)
            summary = idle.run_idle(
                idle_server, sizes.idle_streams, sizes.idle_streams_per_channel, sizes.idle_writes
            )
            results["idle"] = asdict(summary)
            ok = ok and not summary.errors
        if args.no_sizing:
            results["sizing"] = {"skipped": "--no-sizing", "runs": [], "ok": True}
        else:
            from . import sizing

            results["sizing"] = sizing.run_phase(
                sizing.SizingSizes.quick() if args.quick else sizing.SizingSizes(),
                tmp,
                args.server_src,
                postgres=not args.no_postgres,
            )
            ok = ok and results["sizing"]["ok"]
        if args.no_postgres:
            results["postgresql"] = {"skipped": "--no-postgres", "error": "", "runs": []}
        else:
            results["postgresql"] = postgres.run_postgres(args.server_src, tmp, sizes.pg)
            ok = ok and postgres.postgres_ok(results["postgresql"])
        if sizes.metrics.metrics > 0:
            results["metrics"], metrics_ok = metrics.run_metrics(
                statehouse, database_path, sizes.metrics, args.metrics_load
            )
            ok = ok and metrics_ok
        if args.no_security:
            results["security"] = {"skipped": "--no-security"}
        else:
            from . import security

            results["security"] = security.run_phase(
                security.SecuritySizes.quick() if args.quick else security.SecuritySizes(),
                sys.executable,
                args.server_src,
                tmp,
                processes=1,
                concurrency=max(levels),
            )
            ok = ok and results["security"]["ok"]
        if args.no_http:
            results["http"] = {"skipped": "--no-http"}
        else:
            from . import connect_http

            results["http"] = connect_http.run_phase(
                connect_http.HttpSizes.quick() if args.quick else connect_http.HttpSizes(), tmp
            )
            ok = ok and results["http"]["ok"]
        if args.no_hostile:
            results["hostile"] = {"skipped": "--no-hostile"}
        else:
            from . import hostile

            results["hostile"] = hostile.run_phase(
                hostile.HostileSizes.quick() if args.quick else hostile.HostileSizes(),
                sys.executable,
                args.server_src,
                tmp,
            )
            ok = ok and results["hostile"]["ok"]
        results["seconds"] = round(time.monotonic() - started, 1)
        results["environment"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        results["ok"] = ok
        results["chart"] = report.chart(results, chart)
        print(report.render(results))
        if profiler is not None:
            profiled = sweep[-1]
            print("\nNOTE: the sweep's last level ran under cProfile (slower than real).")
            print(profiler.report(profiled.ops))
            results["profile"] = str(profiler.path)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
            progress(f"results written to {args.json}")
        progress(f"done in {results['seconds']:.0f} s" + ("" if ok else " WITH ERRORS"))
    except KeyboardInterrupt:
        progress("interrupted")
        return 130
    except Exception:
        progress("bench failed:\n" + traceback.format_exc())
        for server in servers:
            if server.proc is not None:
                progress(f"last lines of the {server.name} log:\n{server.tail()}")
        return 1
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                server.stop()
        if args.profile and args.profile_out is None:
            progress(f"profile data kept in {tmp} (delete it when done)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1
