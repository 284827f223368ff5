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

from . import batch, echo, fanout, idle, metrics, postgres, report, transitions, write_processes
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
    idle_writes: int = 2000
    writer_rate: fanout.WriterRateSizes = field(default_factory=fanout.WriterRateSizes)
    pg: postgres.PgSizes = field(default_factory=postgres.PgSizes)
    metrics: metrics.MetricsSizes = field(default_factory=metrics.MetricsSizes)
    writes: write_processes.WriteProcessSizes = field(
        default_factory=write_processes.WriteProcessSizes
    )

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
            idle_writes=300,
            writer_rate=fanout.WriterRateSizes.quick(),
            pg=postgres.PgSizes.quick(),
            metrics=metrics.MetricsSizes.quick(),
            writes=write_processes.WriteProcessSizes.quick(),
        )


#: The phases, in the order they run (``--only``, the ``--no-...`` options).
PHASES = {
    "sweep": "the echo baseline, the single-transition sweep, the SDK overhead, the batch RPC",
    "fanout": "fan-out capacity and latency, and the writer's rate beside 100 and 1,000 "
    "subscribers (--fanout-processes)",
    "idle": "idle subscriptions: memory, and write latency with them open against none",
    "sizing": "bytes per execution",
    "postgres": "PostgreSQL, one and two replicas",
    "replicas": "PostgreSQL, 1, 2 and 3 replicas each in the same CPU quota (--replica-cpu)",
    "metrics": "RecordMetrics and AggregateMetrics",
    "security": "TLS and tokens against plaintext",
    "http": "Connect over HTTP beside gRPC",
    "hostile": "a normal client beside a hostile one",
    "workers": "claims/s with 16 workers in batches, heartbeat cost, lease expiry latency",
}


def _phase_list(text: str) -> tuple[str, ...]:
    names = tuple(x.strip() for x in text.split(",") if x.strip())
    unknown = [x for x in names if x not in PHASES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown phase {', '.join(unknown) or '(none)'}: choose from {', '.join(PHASES)}"
        )
    return names


def _counts(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"negative: {text!r}")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Statehouse against a protobuf echo server.",
        epilog="Phases (--only): "
        + "; ".join(f"{name}: {what}" for name, what in PHASES.items())
        + ". Example: the fan-out phases alone, in a few minutes: "
        "bench/run.py --quick --only fanout --fanout-processes 1,2",
    )
    parser.add_argument("--quick", action="store_true", help="a short run (about 2-3 min)")
    parser.add_argument(
        "--only",
        type=_phase_list,
        default=(),
        metavar="PHASES",
        help="run only these phases (comma-separated: " + ",".join(PHASES) + "); the "
        "--no-... options still skip",
    )
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
    parser.add_argument(
        "--replica-cpu",
        type=float,
        default=0.35,
        metavar="CORES",
        help="the CPU quota of each replica in the replicas phase (cgroup v1; default 0.35)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        metavar="N",
        help="rounds of the phases whose figure is a ratio within a run: the writer rate "
        "(alone, then beside subscribers), the idle streams (none open, then open) and the "
        "replicas (1, 2, 3); each figure is the round of median ratio (default 3, --quick 1)",
    )
    parser.add_argument("--no-fanout", action="store_true", help="skip the fan-out phases")
    parser.add_argument(
        "--fanout-batches",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fan-out subscribers ask for up to "
        f"{fanout.MAX_EVENTS_PER_MESSAGE} events per message (max_events_per_message; "
        "default on); --no-fanout-batches: one event per message, to compare",
    )
    parser.add_argument(
        "--fanout-processes",
        type=_counts,
        default=None,
        metavar="N,...",
        help="the writer-rate phase on a fresh server with --processes N for each N "
        "(default 1; e.g. 1,2 to see which to pick on this machine's cores)",
    )
    parser.add_argument(
        "--write-processes",
        type=_counts,
        default=None,
        metavar="N,...",
        help="after the batch RPC, single calls and the batch RPC again on a fresh server "
        "with --processes N for each N, the calls spread over several connections "
        "(default 1,2; 0 skips)",
    )
    parser.add_argument(
        "--writer-rate-subscribers",
        type=_counts,
        default=None,
        metavar="N,...",
        help="subscriber counts of the writer-rate phase, after the writer alone "
        "(default 100,1000; 0 skips the phase)",
    )
    parser.add_argument(
        "--subscriber-quota",
        type=float,
        default=None,
        metavar="CORES",
        help="CPU of each writer-rate subscriber process, a cgroup v1 cpu quota (default "
        "0.3; 0: none; without a writable /sys/fs/cgroup/cpu the run says it had none)",
    )
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
    rate = sizes.writer_rate
    if args.fanout_processes:
        rate = replace(rate, server_processes=tuple(n for n in args.fanout_processes if n > 0))
    if args.writer_rate_subscribers is not None:
        rate = replace(rate, subscribers=tuple(n for n in args.writer_rate_subscribers if n > 0))
    if args.subscriber_quota is not None:
        rate = replace(rate, quota_cores=max(0.0, args.subscriber_quota))
    if args.rounds is not None:
        rate = replace(rate, rounds=max(1, args.rounds))
    sizes = replace(sizes, writer_rate=rate)
    if args.write_processes is not None:
        counts = tuple(n for n in args.write_processes if n > 0)
        sizes = replace(sizes, writes=replace(sizes.writes, processes=counts))
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


def _skipped(args: argparse.Namespace) -> dict[str, str]:
    """The phases not to run, each with the option that says so."""
    skipped = {name: f"--only {','.join(args.only)}" for name in PHASES if name not in args.only}
    if not args.only:
        skipped = {}
    for name in ("fanout", "sizing", "postgres", "security", "http", "hostile"):
        if getattr(args, f"no_{name}"):
            skipped[name] = f"--no-{name}"
    return skipped


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = _sizes(args)
    skipped = _skipped(args)
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
        "skipped": skipped,
    }
    ok = True
    profiler: Profiler | None = None
    try:
        progress(f"starting statehouse (temporary directory {tmp})")
        statehouse.start()
        levels = list(sizes.levels)
        if "sweep" in skipped:
            results["sweep_skipped"] = skipped["sweep"]
            progress(f"statehouse on {statehouse.target}; sweep skipped ({skipped['sweep']})")
        else:
            size = echo.capture_response(statehouse, tmp / "response.bin")
            echoer = echo_server(tmp)
            echoer.options += ["--response", str(tmp / "response.bin")]
            servers.append(echoer)
            echoer.start()
            results["echo_response_bytes"] = size
            progress(
                f"statehouse on {statehouse.target}, echo on {echoer.target} (TransitionTaskRun "
                f"answered with a {size}-byte response captured from Statehouse)"
            )
            echoes = echo.run_echo_sweep(
                echoer,
                levels,
                dict(zip(levels, sizes.echo_seconds, strict=True)),
                sizes.echo_calls,
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
            sdk, raw = echo.run_sdk(
                statehouse, max(levels), sizes.sdk_transitions, sizes.sdk_seconds
            )
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
            if sizes.writes.processes:
                results["write_processes"] = write_processes.run_phase(
                    sizes.writes, tmp, args.server_src
                )
                ok = ok and results["write_processes"]["ok"]
        if "fanout" in skipped:
            results["fanout"] = {"skipped": skipped["fanout"]}
        else:
            with_batches = args.fanout_batches
            capacity = [
                fanout.run_fanout(
                    statehouse,
                    n,
                    events,
                    0.0,
                    sizes.capacity_seconds,
                    "capacity",
                    batches=with_batches,
                )
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
                batches=with_batches,
            )
            results["fanout"] = {
                "batches": with_batches,
                "max_events_per_message": fanout.MAX_EVENTS_PER_MESSAGE if with_batches else 0,
                "capacity": [asdict(s) for s in capacity],
                "latency": asdict(latency),
            }
            ok = ok and all(s.complete for s in (*capacity, latency))
            if sizes.writer_rate.subscribers and sizes.writer_rate.server_processes:
                writer_rate = fanout.run_writer_rate_phase(
                    tmp, args.server_src, sizes.writer_rate, with_batches
                )
                results["fanout"]["writer_rate"] = writer_rate
                ok = ok and writer_rate["ok"]
            else:
                results["fanout"]["writer_rate"] = {
                    "skipped": "no subscriber counts or server processes (--writer-rate-"
                    "subscribers, --fanout-processes)"
                }
        if sizes.idle_streams > 0 and "idle" not in skipped:
            idle_server = statehouse_server(
                "statehouse (idle streams)",
                f"sqlite:///{tmp / 'idle.db'}",
                tmp,
                key="idle",
                server_src=args.server_src,
            )
            servers.append(idle_server)
            summary = idle.run_idle(
                idle_server,
                sizes.idle_streams,
                sizes.idle_streams_per_channel,
                sizes.idle_writes,
                rounds=1 if args.quick else (args.rounds or 3),
            )
            results["idle"] = asdict(summary)
            ok = ok and not summary.errors
        if "sizing" in skipped:
            results["sizing"] = {"skipped": skipped["sizing"], "runs": [], "ok": True}
        else:
            from . import sizing

            results["sizing"] = sizing.run_phase(
                sizing.SizingSizes.quick() if args.quick else sizing.SizingSizes(),
                tmp,
                args.server_src,
                postgres="postgres" not in skipped,
            )
            ok = ok and results["sizing"]["ok"]
        if "postgres" in skipped:
            results["postgresql"] = {"skipped": skipped["postgres"], "error": "", "runs": []}
        else:
            results["postgresql"] = postgres.run_postgres(args.server_src, tmp, sizes.pg)
            ok = ok and postgres.postgres_ok(results["postgresql"])
        if "replicas" in skipped or args.no_postgres:
            results["replicas"] = {
                "skipped": skipped.get("replicas") or "--no-postgres",
                "error": "",
                "runs": [],
            }
        else:
            from . import replicas

            replica_sizes = replicas.ReplicaSizes.quick() if args.quick else replicas.ReplicaSizes()
            replica_sizes = replace(replica_sizes, cores=args.replica_cpu)
            if args.rounds is not None:
                replica_sizes = replace(replica_sizes, rounds=max(1, args.rounds))
            results["replicas"] = replicas.run_replicas(args.server_src, tmp, replica_sizes)
            ok = ok and replicas.replicas_ok(results["replicas"])
        if "workers" in skipped:
            results["workers"] = {"skipped": skipped["workers"]}
        else:
            from . import workers

            results["workers"] = workers.run_phase(
                statehouse, workers.WorkerSizes.quick() if args.quick else workers.WorkerSizes()
            )
            ok = ok and results["workers"]["ok"]
        if sizes.metrics.metrics > 0 and "metrics" not in skipped:
            results["metrics"], metrics_ok = metrics.run_metrics(
                statehouse, database_path, sizes.metrics, args.metrics_load
            )
            ok = ok and metrics_ok
        if "security" in skipped:
            results["security"] = {"skipped": skipped["security"]}
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
        if "http" in skipped:
            results["http"] = {"skipped": skipped["http"]}
        else:
            from . import connect_http

            results["http"] = connect_http.run_phase(
                connect_http.HttpSizes.quick() if args.quick else connect_http.HttpSizes(), tmp
            )
            ok = ok and results["http"]["ok"]
        if "hostile" in skipped:
            results["hostile"] = {"skipped": skipped["hostile"]}
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
            print("\nNOTE: the sweep's last level ran under cProfile (slower than real).")
            print(profiler.report(results["sweep"][-1]["ops"]))
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
