"""``--profile``: the server under cProfile during the sweep's last level (64 in flight):
the top functions of the event loop and writer threads, per transition."""

from __future__ import annotations

import pstats
import re
import signal
from pathlib import Path

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
            f"\nServer profile (cProfile, overhead included) of the transitions phase: "
            f"{transitions} transitions. Idle waits of pool threads are left out.",
            file=out,
        )
        groups = {}
        for group in ("loop", "writer", "reader"):
            path = Path(f"{self.path}.{group}")
            if not path.exists():
                continue
            stats = pstats.Stats(str(path), stream=out)
            categories = _categories(stats)
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
