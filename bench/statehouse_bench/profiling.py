"""``--profile``: the server under cProfile during the sweep's last level (64 in flight):
the top functions of the event loop and writer threads, per transition."""

from __future__ import annotations

import pstats
import re
import signal
from pathlib import Path
from typing import Any

from .common import ServerProcess

#: Where idle pool threads wait for work (left out of the profile summary).
IDLE_FUNCTIONS = {
    "<method 'get' of '_queue.SimpleQueue' objects>",
    "<method 'acquire' of '_thread.lock' objects>",
}


class Profiler:
    """Drives bench/bench_server.py's profiler: SIGUSR2 starts it, the next stops and writes."""

    def __init__(self, server: ServerProcess, path: Path) -> None:
        self.server = server
        self.path = path

    def __call__(self, what: str) -> None:
        if what == "start":
            self.server.signal(signal.SIGUSR2)
            self.server.wait_for(re.compile(r"profiling started"), 30)
        else:
            self.server.signal(signal.SIGUSR2)
            self.server.wait_for(re.compile(r"profile written"), 60)

    def report(self, transitions: int, top: int = 25) -> str:
        """Top functions of the event loop thread and of the writer thread, per transition."""
        import io

        out = io.StringIO()
        n = max(transitions, 1)
        print(
            f"\nServer profile (cProfile on each thread's CPU time, its overhead included) of the transitions phase: "
            f"{transitions} transitions. Idle waits of pool threads are left out.",
            file=out,
        )
        groups = {}
        layers: dict[str, dict[str, float]] = {}
        for group in ("loop", "writer", "reader"):
            path = Path(f"{self.path}.{group}")
            if not path.exists():
                continue
            stats = pstats.Stats(str(path), stream=out)
            categories = _categories(stats)
            layers[group] = layer_budget(stats)
            stats.strip_dirs()
            idle = 0.0
            for key in list(stats.stats):  # type: ignore[attr-defined]
                if key[2] in IDLE_FUNCTIONS:
                    idle += stats.stats[key][2]  # type: ignore[attr-defined]
                    del stats.stats[key]  # type: ignore[attr-defined]
            busy = stats.total_tt - idle  # type: ignore[attr-defined]
            groups[group] = (stats, busy)
            print(
                f"  {group} thread(s): {busy:.2f} s busy, {1e6 * busy / n:.0f} us per transition",
                file=out,
            )
            if busy / n > 20e-6:
                own = ", ".join(
                    f"{name} {1e6 * seconds / n:.0f}"
                    for name, seconds in sorted(categories.items(), key=lambda kv: -kv[1])
                    if seconds / n >= 5e-6
                )
                print(f"    own time by package, us per transition: {own}", file=out)
        print(_layer_table(layers, n), file=out)
        for group in ("loop", "writer"):
            if group not in groups or groups[group][1] / n < 20e-6:
                continue
            stats, busy = groups[group]
            stats.total_tt = busy  # type: ignore[attr-defined]
            title = "event loop thread" if group == "loop" else "writer thread (database work)"
            print(f"\n=== {title}: top {top} by cumulative time ===", file=out)
            stats.sort_stats("cumulative").print_stats(top)
            print(f"\n=== {title}: top {top} by total (own) time ===", file=out)
            stats.sort_stats("tottime").print_stats(top)
        return out.getvalue()


#: The layers of one state change (docs/design.md, "The life of one request"), by the
#: server file a function lives in; the first match wins.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "transport and admission",
        (
            "/api/grpc_transport.py",
            "/api/_admission.py",
            "/api/connect_transport.py",
            "/priority.py",
            "/telemetry/",
        ),
    ),
    ("validation", ("/api/validation.py",)),
    ("authorization", ("/security/guard.py", "/security/access.py", "/security/credentials.py")),
    ("rules", ("/orchestration/", "/commands.py")),
    ("storage", ("/storage/",)),
    ("encoding (responses)", ("/api/convert.py",)),
    ("fan-out hand-off", ("/events/", "/api/event_service.py")),
    ("handlers", ("/api/",)),
    ("other server code", ("/statehouse/server/",)),
)
#: Time spent outside any server function's call (the event loop itself, grpc's
#: own callbacks, idle pool machinery).
RUNTIME = "runtime (asyncio, grpc, threads)"


def _layer_of_file(filename: str) -> str | None:
    if "/statehouse/server/" not in filename:
        return None
    for layer, parts in LAYERS:
        if any(part in filename for part in parts):
            return layer
    return None


def layer_budget(stats: pstats.Stats) -> dict[str, float]:
    """Seconds per layer: each function's own time goes to its layer; a library
    function's (SQLAlchemy, sqlite3, protobuf, asyncio...) to the layers of the
    server functions that called it, in proportion to the time of each call
    path, so that SQLAlchemy under ``storage/`` counts as storage and
    protobuf under ``api/convert.py`` as encoding. Idle waits are left out."""
    table = stats.stats  # type: ignore[attr-defined]
    shares: dict[Any, dict[str, float]] = {}

    def share(func: Any, seen: frozenset[Any]) -> dict[str, float]:
        if func in shares:
            return shares[func]
        layer = _layer_of_file(func[0])
        if layer is not None:
            result = {layer: 1.0}
        else:
            callers = table[func][4] if func in table else {}
            weights = {c: edge[3] for c, edge in callers.items() if c not in seen}
            total = sum(weights.values())
            if not weights or total <= 0:
                result = {RUNTIME: 1.0}
            else:
                result = {}
                for caller, weight in weights.items():
                    for name, part in share(caller, seen | {func}).items():
                        result[name] = result.get(name, 0.0) + part * weight / total
        shares[func] = result
        return result

    totals: dict[str, float] = {}
    for func, row in table.items():
        if func[2] in IDLE_FUNCTIONS:
            continue
        for name, part in share(func, frozenset()).items():
            totals[name] = totals.get(name, 0.0) + row[2] * part
    return totals


def _layer_table(layers: dict[str, dict[str, float]], n: int) -> str:
    """µs per transition by layer and thread group (the budget of issue 25)."""
    names = [name for name, _ in LAYERS] + [RUNTIME]
    groups = [g for g in ("loop", "writer", "reader") if g in layers]
    lines = [
        "\nBudget per layer, us per transition (library time counted in the layer that called it):",
        f"  {'layer':<34}" + "".join(f"{g:>9}" for g in groups) + f"{'total':>9}",
    ]
    for name in names:
        row = [1e6 * layers[g].get(name, 0.0) / n for g in groups]
        if sum(row) >= 0.5:
            lines.append(f"  {name:<34}" + "".join(f"{v:>9.0f}" for v in row) + f"{sum(row):>9.0f}")
    sums = [1e6 * sum(layers[g].values()) / n for g in groups]
    lines.append(f"  {'all':<34}" + "".join(f"{v:>9.0f}" for v in sums) + f"{sum(sums):>9.0f}")
    return "\n".join(lines)


def _categories(stats: pstats.Stats) -> dict[str, float]:
    """Own (tottime) seconds by package, idle waits left out."""
    totals: dict[str, float] = {}
    for (filename, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        if name in IDLE_FUNCTIONS:
            continue
        where = f"{filename} {name}"
        if "sqlite3" in where:
            category = "sqlite3 (C)"
        elif "sqlalchemy" in where:
            category = "SQLAlchemy"
        elif "protobuf" in where or "_upb" in where or "_pb2" in where:
            category = "protobuf"
        elif "grpc" in where:
            category = "grpc (Python parts)"
        elif "statehouse" in where:
            category = "statehouse server code"
        elif "asyncio" in where or "uvloop" in where:
            category = "asyncio"
        elif "json" in where:
            category = "json"
        elif "uuid" in where:
            category = "uuid"
        else:
            category = "other (builtins, stdlib)"
        totals[category] = totals.get(category, 0.0) + row[2]
    return totals


# -- report ------------------------------------------------------------------------
