"""The batch RPC: ExecutionService.TransitionTaskRuns with 100 and with 500 items a call,
a few calls in flight, with the same per-state-change counters as the sweep; then
the largest size again with the results in the BASIC view (task runs without
their histories), as a worker that only reports would ask."""

from __future__ import annotations

from .common import CostMeter, ServerProcess
from .load import ClientGroup, ClientSpec, Phase, PhaseSummary


def run_batch(
    statehouse: ServerProcess,
    sizes: list[int],
    in_flight: int,
    transitions: int,
    seconds: float,
    connections: int = 1,
) -> list[PhaseSummary]:
    runs = [(b, "") for b in sizes] + [(max(sizes), "basic")]
    phases = (
        Phase("create", 64, seconds=120),
        *(
            Phase("batch", in_flight, max_ops=transitions, seconds=seconds, batch=b, view=v)
            for b, v in runs
        ),
    )
    spec = ClientSpec(
        client="raw",
        targets=(statehouse.target,),
        phases=phases,
        tag="batch",
        task_runs_per_execution=50,
        connections=connections,
    )
    out = []
    with ClientGroup(spec) as group:
        group.run_phase("batch create", [statehouse])
        for b, v in runs:
            out.append(
                group.run_phase(
                    f"batch RPC, {b} items x {in_flight} in flight"
                    + (f", {v.upper()} view" if v else ""),
                    [statehouse],
                    CostMeter([statehouse]),
                )
            )
    return out
