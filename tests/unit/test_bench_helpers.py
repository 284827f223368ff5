"""The bench's pure helpers (bench/statehouse_bench): no servers, no processes."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from statehouse_bench import postgres, report
from statehouse_bench.common import (
    CommitTimes,
    Cost,
    CostMeter,
    latency_summary,
    pct,
    table,
)


def test_pct_and_latency_summary() -> None:
    values = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    assert pct(values, 0.5) == pytest.approx(0.050)
    assert pct(values, 0.99) == pytest.approx(0.099)
    assert math.isnan(pct([], 0.5))
    summary = latency_summary(list(reversed(values)))
    assert summary["p50_ms"] == 50.0
    assert summary["max_ms"] == 100.0


def test_commit_times_map_each_sequence_to_its_batch() -> None:
    # Batches ending at sequences 3, 7 and 10, committed at t = 100, 200, 300.
    commits = CommitTimes([(7, 200), (3, 100), (10, 300)])
    assert commits.at(1) == 100
    assert commits.at(3) == 100
    assert commits.at(4) == 200
    assert commits.at(10) == 300
    assert commits.at(11) is None


def test_cost_per_change() -> None:
    cost = Cost(
        state_changes=200,
        statements=700,
        commits=30,
        write_commits=20,
        events=200,
        server_cpu_s=0.1,
        database_cpu_s=0.02,
        by_keyword={"SELECT": 300, "UPDATE": 400},
    )
    per = cost.per_change()
    assert per["statements_per_change"] == 3.5
    assert per["commits_per_change"] == 0.1
    assert per["all_commits_per_change"] == 0.15
    assert per["server_cpu_us_per_change"] == 500.0
    assert per["database_cpu_us_per_change"] == 100.0
    assert per["statements_by_keyword_per_change"] == {"SELECT": 1.5, "UPDATE": 2.0}


class _FakeServer:
    def __init__(self) -> None:
        self.dumps = [
            {"statements": 10, "commits": 2, "write_commits": 1, "events": 0, "by_keyword": {}},
            {
                "statements": 110,
                "commits": 12,
                "write_commits": 11,
                "events": 50,
                "by_keyword": {"INSERT": 100},
            },
        ]
        self.cpu = [1.0, 1.5]

    def counters(self) -> dict[str, object]:
        return self.dumps.pop(0)

    def cpu_seconds(self) -> float:
        return self.cpu.pop(0)


def test_cost_meter_differences() -> None:
    meter = CostMeter([_FakeServer()])  # type: ignore[list-item]
    meter.start()
    cost = meter.stop(50)
    assert (cost.statements, cost.commits, cost.write_commits, cost.events) == (100, 10, 10, 50)
    assert cost.server_cpu_s == pytest.approx(0.5)
    assert cost.by_keyword == {"INSERT": 100}


def test_table_aligns_columns() -> None:
    text = table([["a", "1"], ["bbb", "22"]], ["name", "n"])
    lines = text.splitlines()
    assert lines[0] == "name   n"
    assert lines[2] == "a      1"
    assert lines[3] == "bbb   22"


def test_replica_bound_arithmetic() -> None:
    one = {
        "transitions_per_s": 500.0,
        "transition": {
            "cost": {"database_cpu_us_per_change": 400.0, "server_cpu_us_per_change": 1600.0}
        },
    }
    b = postgres.bound(one)
    assert b["database_bound_per_s"] == 5000
    assert b["max_useful_replicas"] == 10.0
    assert b["same_machine_bound_per_s"] == 1000


def test_postgres_report_says_fsync() -> None:
    assert "skipped" in report._postgres({"skipped": "--no-postgres", "error": "", "runs": []})
