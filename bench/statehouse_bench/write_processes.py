"""Writes with ``serve --processes N`` on SQLite: single TransitionTaskRun calls at 64
in flight and the batch RPC, on a fresh server for each N, with the clients'
calls spread over several connections (the kernel spreads connections over the
processes of one port, not calls). Part of the ``sweep`` phases
(``--write-processes``), so that its figures sit beside the echo's.

N = 1 runs in the same arrangement (the same connections), so that the figures
of each N compare with each other; the sweep's own figures use one connection.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .common import CostMeter, progress, statehouse_server, table
from .load import ClientGroup, ClientSpec, Phase


@dataclass(frozen=True)
class WriteProcessSizes:
    processes: tuple[int, ...] = (1, 2)
    #: Connections of the client process: a few per server process.
    connections: int = 8
    in_flight: int = 64
    transitions: int = 12_000
    seconds: float = 10.0
    batch: int = 500
    batch_in_flight: int = 8
    batch_transitions: int = 60_000

    @classmethod
    def quick(cls) -> WriteProcessSizes:
        return cls(transitions=2_000, seconds=3.0, batch_transitions=6_000)


def run_phase(sizes: WriteProcessSizes, work: Path, server_src: Path | None) -> dict[str, Any]:
    """Each N of ``sizes.processes`` in turn, on a server of its own."""
    runs = []
    for n in sizes.processes:
        server = statehouse_server(
            f"statehouse --processes {n}",
            f"sqlite:///{work / f'writes-p{n}.db'}",
            work,
            key=f"writes-p{n}",
            server_src=server_src,
            extra=["--processes", str(n)],
        )
        progress(f"writes with --processes {n}: starting the server")
        server.start()
        try:
            spec = ClientSpec(
                client="raw",
                targets=(server.target,),
                phases=(
                    Phase("create", sizes.in_flight, seconds=120),
                    Phase(
                        "transition",
                        sizes.in_flight,
                        max_ops=sizes.transitions,
                        seconds=sizes.seconds,
                    ),
                    *(
                        Phase(
                            "batch",
                            sizes.batch_in_flight,
                            max_ops=sizes.batch_transitions,
                            seconds=sizes.seconds,
                            batch=sizes.batch,
                            view=view,
                        )
                        for view in ("", "basic")
                    ),
                ),
                tag=f"writes-p{n}",
                task_runs_per_execution=50,
                connections=sizes.connections,
            )
            with ClientGroup(spec) as group:
                group.run_phase(f"writes --processes {n}: create", [server])
                single = group.run_phase(
                    f"writes --processes {n}: transitions, {sizes.in_flight} in flight",
                    [server],
                    CostMeter([server]),
                )
                batch = group.run_phase(
                    f"writes --processes {n}: batch RPC, {sizes.batch} items x "
                    f"{sizes.batch_in_flight} in flight",
                    [server],
                    CostMeter([server]),
                )
                basic = group.run_phase(
                    f"writes --processes {n}: batch RPC, {sizes.batch} items x "
                    f"{sizes.batch_in_flight} in flight, BASIC view",
                    [server],
                    CostMeter([server]),
                )
        finally:
            server.stop()
        runs.append(
            {
                "processes": n,
                "single": asdict(single),
                "batch": asdict(batch),
                "batch_basic": asdict(basic),
            }
        )
    return {
        "connections": sizes.connections,
        "runs": runs,
        "best_single_processes": max(runs, key=lambda r: r["single"]["rate"])["processes"],
        "best_batch_processes": max(runs, key=lambda r: r["batch"]["rate"])["processes"],
        "ok": all(
            not r["single"]["errors"]
            and not r["batch"]["errors"]
            and not r["batch_basic"]["errors"]
            for r in runs
        ),
    }


def _cpu(phase: dict[str, Any]) -> str:
    return f"{(phase.get('cost') or {}).get('server_cpu_us_per_change', float('nan')):,.0f}"


def render(w: dict[str, Any] | None, echo_64: float | None) -> str:
    if not w or not w.get("runs"):
        return ""
    rows = []
    # The BASIC view's columns once runs have them (runs recorded before had not).
    basic = all("batch_basic" in r for r in w["runs"])
    for r in w["runs"]:
        single, batch = r["single"], r["batch"]
        ratio = f"{single['rate'] / echo_64:.2f}" if echo_64 else "-"
        phases = [batch, r["batch_basic"]] if basic else [batch]
        rows.append(
            [
                str(r["processes"]),
                f"{single['rate']:,.0f}",
                ratio,
                _cpu(single),
                *(cell for phase in phases for cell in (f"{phase['rate']:,.0f}", _cpu(phase))),
                str(single["errors"] + sum(phase["errors"] for phase in phases)),
            ]
        )
    return (
        f"\nWrites with serve --processes N (SQLite; one client process, its calls over "
        f"{w['connections']} connections;\nsingle TransitionTaskRun at 64 in flight, the "
        "batch RPC 500 items a call"
        + ("; BASIC: its results in the BASIC view" if basic else "")
        + "):\n"
        + table(
            rows,
            [
                "processes",
                "single/s",
                "x echo",
                "srv CPU us/chg",
                "batch/s",
                "srv CPU us/chg",
                *(["batch BASIC/s", "srv CPU us/chg"] if basic else []),
                "errors",
            ],
        )
        + f"\n  best for single calls: --processes {w['best_single_processes']}; for the "
        f"batch RPC: --processes {w['best_batch_processes']}"
    )
