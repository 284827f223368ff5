"""The concurrency sweep: single TransitionTaskRun RPCs through raw stubs at 1, 16 and 64
in flight, with the server's statements, commits and CPU per state change."""

from __future__ import annotations

from collections.abc import Callable

from .common import CostMeter, ServerProcess
from .load import ClientGroup, ClientSpec, Phase, PhaseSummary


def run_sweep(
    statehouse: ServerProcess,
    levels: list[int],
    transitions: dict[int, int],
    seconds: dict[int, float],
    profile: Callable[[str], None] | None = None,
) -> list[PhaseSummary]:
    """One client process; the last level runs under the profiler when given."""
    phases = (
        Phase("create", max(levels), seconds=90),
        *(
            Phase("transition", n, max_ops=transitions[n], seconds=seconds[n], label=f"x{n}")
            for n in levels
        ),
    )
    spec = ClientSpec(client="raw", targets=(statehouse.target,), phases=phases, tag="sweep")
    out = []
    with ClientGroup(spec) as group:
        group.run_phase("sweep create", [statehouse])
        for n in levels:
            profiled = profile is not None and n == levels[-1]
            if profiled and profile is not None:
                profile("start")
            out.append(
                group.run_phase(
                    f"transitions, {n} in flight" + (" (profiled)" if profiled else ""),
                    [statehouse],
                    CostMeter([statehouse]),
                )
            )
            if profiled and profile is not None:
                profile("stop")
    return out
