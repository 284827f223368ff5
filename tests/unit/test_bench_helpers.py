"""The bench's pure helpers (bench/statehouse_bench): no servers, no processes."""

from __future__ import annotations

import math
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from statehouse_bench import main, postgres, report
from statehouse_bench.common import (
    CommitTimes,
    Cost,
    CostMeter,
    CpuQuota,
    cgroup_of,
    child_path,
    events_per_message,
    latency_summary,
    merge_counters,
    pct,
    quota_us,
    table,
)

from tests.eventually import eventually


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
    # Without the bench server's thread times, no budget by thread.
    assert "server_cpu_us_per_change_by_thread" not in per
    threads = {"writer": 0.03, "loop": 0.06, "grpc": 0.01, "readers": 0.0}
    per = Cost(200, 700, 30, 20, 200, 0.1, threads_s=threads).per_change()
    by_thread = per["server_cpu_us_per_change_by_thread"]
    assert by_thread == {"loop": 300.0, "writer": 150.0, "grpc": 50.0}
    assert list(by_thread) == ["loop", "writer", "grpc"]  # the largest first, none idle


class _FakeServer:
    def __init__(self) -> None:
        self.dumps = [
            {
                "statements": 10,
                "commits": 2,
                "write_commits": 1,
                "events": 0,
                "by_keyword": {},
                "threads": {"loop": 1.0, "writer": 0.5},
            },
            {
                "statements": 110,
                "commits": 12,
                "write_commits": 11,
                "events": 50,
                "by_keyword": {"INSERT": 100},
                "threads": {"loop": 1.25, "writer": 0.75, "grpc": 0.125},
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
    # A kind of thread first seen at the end (grpc's, started meanwhile) counts from 0.
    assert cost.threads_s == {"loop": 0.25, "writer": 0.25, "grpc": 0.125}


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


def test_events_per_message_from_a_histogram() -> None:
    # 98 messages of one event, one of 10, one of 1000.
    summary = events_per_message({1: 98, 10: 1, 1000: 1})
    assert summary["messages"] == 100
    assert summary["events"] == 98 + 10 + 1000
    assert summary["mean"] == pytest.approx(11.08)
    assert summary["p50"] == 1
    assert summary["p99"] == 10  # the 99th of 100, as pct() counts
    assert summary["max"] == 1000
    empty = events_per_message({})
    assert empty["messages"] == 0 and math.isnan(empty["mean"])


def test_cgroup_paths_and_quota() -> None:
    text = "12:memory:/m\n4:cpu,cpuacct:/bench/a\n0::/unified\n"
    assert cgroup_of(text) == "/bench/a"
    assert cgroup_of("1:cpu:/\n") == "/"
    assert cgroup_of("0::/only-v2\n") == "/"
    assert quota_us(0.3) == 30_000
    assert quota_us(2) == 200_000
    assert quota_us(0.001) == 1000  # the kernel's least


def test_cpu_quota_without_the_controller_holds_nothing(tmp_path: Path) -> None:
    with CpuQuota("t", 0.3, root=tmp_path / "absent") as quota:
        assert not quota.applied
        assert "no CPU quota" in quota.note and "absent" in quota.note
        assert quota.add(12345) is False
        assert quota.throttled_seconds() == 0.0
    with CpuQuota("t", 0.0, root=tmp_path) as quota:
        assert not quota.applied and "none asked" in quota.note


def test_the_files_and_counters_of_server_processes() -> None:
    assert child_path(Path("/t/k.counters.json"), 2) == Path("/t/k.counters.json.2")
    merged = merge_counters(
        [
            {
                "pid": 7,
                "events": 3,
                "commits": 2,
                "by_keyword": {"INSERT": 4},
                "commit_times": [[3, 30]],
                "threads": {"loop": 1.5, "writer": 0.5},
            },
            {
                "pid": 8,
                "events": 2,
                "commits": 1,
                "by_keyword": {"INSERT": 1, "SELECT": 2},
                "commit_times": [[5, 50]],
                "threads": {"loop": 2.0, "grpc": 0.25},
            },
        ]
    )
    assert merged["events"] == 5 and merged["commits"] == 3
    assert merged["by_keyword"] == {"INSERT": 5, "SELECT": 2}
    assert merged["pids"] == [7, 8] and merged["processes"] == 2
    assert merged["threads"] == {"loop": 3.5, "writer": 0.5, "grpc": 0.25}
    # Sequences are global: the merged ring maps each to its own process's commit.
    commits = CommitTimes(merged["commit_times"])
    assert commits.at(4) == 50 and commits.at(1) == 30


def test_only_and_the_skip_options() -> None:
    args = main.parse_args(["--only", "fanout,idle", "--no-fanout"])
    skipped = main._skipped(args)
    assert "idle" not in skipped
    assert skipped["fanout"] == "--no-fanout"
    assert skipped["sweep"] == "--only fanout,idle"
    assert main._skipped(main.parse_args([])) == {}
    with pytest.raises(SystemExit):
        main.parse_args(["--only", "nope"])
    sizes = main._sizes(
        main.parse_args(
            [
                "--quick",
                "--fanout-processes",
                "1,2",
                "--subscriber-quota",
                "0.5",
                "--no-fanout-batches",
            ]
        )
    )
    assert sizes.writer_rate.server_processes == (1, 2)
    assert sizes.writer_rate.quota_cores == 0.5


def _rate_row(processes: int, subscribers: int, rate: float, ratio: float) -> dict[str, object]:
    return {
        "server_processes": processes,
        "subscribers": subscribers,
        "events": 1000,
        "writer_rate": rate,
        "ratio": ratio,
        "writer_p99_ms": 30.0,
        "writer_cpu_pct": 40.0,
        "server_cpu_pct": 95.0,
        "deliveries_per_s": rate * subscribers,
        "seconds": 2.0,
        "events_per_message": events_per_message({1: 10, 500: 2} if subscribers else {}),
        "p50_ms": 5.0 if subscribers else math.nan,
        "p99_ms": 50.0 if subscribers else math.nan,
        "subscriber_cpu_pct": 30.0,
        "subscriber_throttled_s": 1.5,
        "complete": True,
        "errors": [],
    }


def test_writer_rate_report_states_the_ratio_and_the_target() -> None:
    w = {
        "batches": True,
        "max_events_per_message": 1000,
        "quota": "each cgroup v1 cpu quota of 0.30 core (30000 us per 100000 us)",
        "servers": [
            {
                "server_processes": n,
                "error": "",
                "runs": [
                    _rate_row(n, 0, 1000.0 * n, 1.0),
                    _rate_row(n, 100, 900.0 * n if n == 1 else 700.0 * n, 0.9 if n == 1 else 0.7),
                ],
            }
            for n in (1, 2)
        ],
    }
    text = report._writer_rate(w, 2)
    assert "--processes 1: with 100 subscribers the writer keeps 0.90" in text
    assert "(target >= 0.8: met)" in text
    assert "--processes 2: with 100 subscribers the writer keeps 0.70" in text
    assert "NOT met" in text
    assert "--processes 2 (1,400/s)" in text
    assert "each cgroup v1 cpu quota of 0.30 core" in text
    assert "skipped (x)" in report._writer_rate({"skipped": "x"}, 2)


def test_idle_report_states_the_write_p99_ratio() -> None:
    idle = {
        "streams": 5000,
        "channels": 100,
        "established_seconds": 3.0,
        "marker_events": 4,
        "write_latency_none": {"p50_ms": 1.0, "p99_ms": 2.0},
        "write_latency_open": {"p50_ms": 1.5, "p99_ms": 5.0},
        "write_p99_ratio": 2.5,
        "rss_before_kb": 1024,
        "rss_connected_kb": 2048,
        "rss_after_kb": 4096,
        "kb_per_stream": 0.6,
        "kb_per_stream_without_connections": 0.4,
        "errors": [],
    }
    text = report._idle(idle)
    assert "write p99 with 5,000 idle subscriptions / with none = 5.00 / 2.00 ms = 2.50 x" in text
    assert "(target <= 2 x: NOT met)" in text
    rounds = report._idle({**idle, "write_p99_ratio": 1.6, "rounds": [2.0, 1.6, 1.34]})
    assert "= 1.60 x, the median of 3 rounds" in rounds
    assert "2.00, 1.60, 1.34 (target <= 2 x: met)" in rounds


def test_the_workers_phase_is_printed_with_its_figures() -> None:
    from statehouse_bench import workers

    result = {
        "ok": True,
        "claims": {
            "task_runs": 20_000,
            "workers": 16,
            "batch": 10,
            "seconds": 10.0,
            "claims_per_s": 2_000.0,
            "call_p50_ms": 50.0,
            "call_p99_ms": 90.0,
        },
        "heartbeats": {
            "held": 20_000,
            "items_per_call": 1000,
            "us_per_attempt": 21.0,
            "attempts_per_s": 47_000.0,
        },
        "lease_expiry": {
            "leases": 1000,
            "acted_on": 1000,
            "p50_ms": 800.0,
            "p99_ms": 1100.0,
            "mean_ms": 810.0,
        },
    }
    text = workers.render(result)
    assert "2,000 claims/s by 16 workers claiming batches of 10 over 20,000 ready" in text
    assert "21 us per held attempt" in text
    assert "p50 800 ms, p99 1,100 ms (1,000 of 1,000 leases of 1 s)" in text
    assert "Workers: skipped (--only idle)" in workers.render({"skipped": "--only idle"})


def test_writer_rate_rows_are_the_median_round() -> None:
    from statehouse_bench import fanout

    def run(subscribers: int, rate: float, ratio: float, complete: bool = True) -> Any:
        row = _rate_row(1, subscribers, rate, ratio)
        row.update(
            subscriber_processes=1,
            channels=1,
            batches=True,
            writer_p50_ms=1.0,
            expected_deliveries=0,
            deliveries=0,
            max_ms=1.0,
            latency_samples=0,
            latency_subscribers=0,
            quota="",
            complete=complete,
            errors=[] if complete else ["gap"],
        )
        return fanout.WriterRateRun(**row)  # type: ignore[arg-type]

    chosen = fanout._median_round([run(100, 900, 0.9), run(100, 700, 0.7), run(100, 800, 0.8)])
    assert (chosen.writer_rate, chosen.ratio, chosen.rounds) == (800, 0.8, [0.9, 0.7, 0.8])
    alone = fanout._median_round([run(0, 2900, 1), run(0, 2500, 1)])
    assert (alone.writer_rate, alone.rounds) == (2500, [2900, 2500])  # the lower of two
    # A round that lost an event makes the whole count incomplete, its error kept.
    failed = fanout._median_round([run(100, 900, 0.9), run(100, 800, 0.8, complete=False)])
    assert not failed.complete and failed.errors == ["gap"]
    w = {
        "batches": True,
        "max_events_per_message": 1000,
        "quota": "",
        "servers": [{"server_processes": 1, "error": "", "runs": [asdict(alone), asdict(chosen)]}],
    }
    text = report._writer_rate(w, 2)
    assert "3 rounds on each server" in text
    assert "keeps 0.80 of its rate alone (800/s), the median of rounds 0.90, 0.70, 0.80" in text


class _Item:
    def __init__(self, sequence: int, flow_id: str = "f") -> None:
        self.sequence = sequence
        self.flow_id = flow_id


def test_a_bench_subscriber_counts_a_message_at_once_only_when_it_is_exact() -> None:
    from statehouse_bench import fanout

    sub = fanout._Subscriber(0)
    sub.ready.set()
    sub.expected = 10
    assert sub._check_batch([_Item(10), _Item(11), _Item(12)], now=5)
    assert (sub.expected, sub.received, list(sub.sequences)) == (13, 3, [10, 11, 12])
    # A gap, a repeat or reordering, and the end marker go one by one (and are reported).
    assert not sub._check_batch([_Item(13), _Item(15)], now=6)
    assert not sub._check_batch([_Item(14), _Item(13)], now=6)
    assert not sub._check_batch([_Item(13), _Item(14, fanout.SENTINEL_FLOW)], now=6)
    assert (sub.expected, sub.received, sub.errors) == (13, 3, [])


def test_replica_rows_are_the_round_of_median_scaling() -> None:
    from statehouse_bench import replicas

    def run(count: int, rate: float) -> dict[str, Any]:
        return {
            "replicas": count,
            "transitions_per_s": rate,
            "transition": {"rate": rate, "errors": 0, "p50_ms": 1.0},
            "create": {"errors": 0},
            "order": {"agreed": True, "subscribers": 1, "events_logged": 10, "errors": []},
        }

    rounds = [
        [run(1, 1000), run(2, 1500), run(3, 2500)],  # 1.5, 2.5
        [run(1, 800), run(2, 1440), run(3, 1600)],  # 1.8, 2.0
        [run(1, 900), run(2, 1530), run(3, 2070)],  # 1.7, 2.3
    ]
    rows = {r["replicas"]: r for r in replicas._median_rounds(rounds)}
    assert rows[1]["transitions_per_s"] == 900 and rows[1]["rounds"] == [1000, 800, 900]
    assert (rows[2]["scaling"], rows[2]["rounds"]) == (1.7, [1.5, 1.8, 1.7])
    assert (rows[3]["scaling"], rows[3]["rounds"]) == (2.3, [2.5, 2.0, 2.3])
    text = replicas.render({"runs": list(rows.values()), "version": "PostgreSQL 15"})
    assert "2.30 x [2.50, 2.00, 2.30] (target >= 2.4 x)" in text
    assert "3 rounds of 1, 2, 3 replicas" in text
    # A result from before the load per replica was recorded says how it ran.
    assert "64 in flight split over the replicas" in text and "machine idle" not in text
    for row in rows.values():
        row["transition"]["cost"] = {"machine_idle_pct": 12.0}
    text = replicas.render(
        {"runs": list(rows.values()), "version": "PostgreSQL 15", "in_flight_per_replica": 64}
    )
    assert "64 in flight per replica" in text and "machine idle %" in text
    # The load grows with the replicas: each gets what saturates one.
    assert [replicas.ReplicaSizes().in_flight(n) for n in (1, 2, 3)] == [64, 128, 192]
    # A round whose subscriber disagreed fails the phase, even when not the median.
    rounds[0][2]["order"]["agreed"] = False
    result = {"skipped": "", "error": "", "runs": list(rows.values())}
    result["all_runs"] = [r for runs in rounds for r in runs]
    assert not replicas.replicas_ok(result)


def test_write_processes_option_and_report() -> None:
    """``--write-processes``: the counts to run (0 skips), and the report's rows:
    each N's single-call rate against the echo at 64 in flight, and the best N."""
    from statehouse_bench import write_processes

    sizes = main._sizes(main.parse_args(["--write-processes", "1,3"]))
    assert sizes.writes.processes == (1, 3)
    assert main._sizes(main.parse_args(["--write-processes", "0"])).writes.processes == ()
    assert main._sizes(main.parse_args([])).writes.processes == (1, 2)

    def run(n: int, single: float, batch: float) -> dict[str, Any]:
        cost = {"server_cpu_us_per_change": 300.0}
        return {
            "processes": n,
            "single": {"rate": single, "errors": 0, "cost": cost},
            "batch": {"rate": batch, "errors": 0, "cost": cost},
        }

    w = {
        "connections": 8,
        "runs": [run(1, 3000.0, 16000.0), run(2, 3600.0, 15000.0)],
        "best_single_processes": 2,
        "best_batch_processes": 1,
    }
    text = write_processes.render(w, 6000.0)
    assert "0.50" in text and "0.60" in text  # 3,000 and 3,600 against the echo's 6,000
    assert "single calls: --processes 2" in text and "batch RPC: --processes 1" in text
    assert write_processes.render({"runs": []}, 6000.0) == ""


def test_machine_idle_share() -> None:
    from statehouse_bench.common import Cost, idle_share, machine_cpu_ticks

    assert idle_share((100, 1000), (150, 1200)) == 0.25
    assert idle_share(None, (150, 1200)) is None
    assert idle_share((100, 1000), (100, 1000)) is None  # no time passed
    now = machine_cpu_ticks()
    assert now is not None and 0 <= now[0] <= now[1]
    cost = Cost(10, 0, 1, 1, 10, 0.001, machine_idle=0.123)
    assert cost.per_change()["machine_idle_pct"] == 12.3
    assert "machine_idle_pct" not in Cost(10, 0, 1, 1, 10, 0.001).per_change()


def _phase(rate: float, view: str = "", cpu: float = 60.0) -> dict[str, Any]:
    return {
        "batch": 500,
        "concurrency": 4,
        "rate": rate,
        "calls_per_s": rate / 500,
        "p50_ms": 100.0,
        "p99_ms": 150.0,
        "server_cpu_pct": 98.0,
        "errors": 0,
        "cost": {"server_cpu_us_per_change": cpu},
        "view": view,
    }


def test_the_batch_tables_show_the_basic_view_only_when_runs_have_it() -> None:
    from statehouse_bench import write_processes

    old = [_phase(13_000.0), _phase(14_000.0)]
    for entry in old:
        del entry["view"]  # recorded before the view existed
    assert "view" not in report._batch({"batch": old})
    new = report._batch({"batch": [_phase(14_000.0), _phase(19_000.0, "basic", 50.0)]})
    assert "BASIC" in new and "FULL" in new
    assert "best 14,000 transitions/s (19,000 with BASIC results)" in new

    runs = [{"processes": 1, "single": _phase(3_000.0), "batch": _phase(17_000.0)}]
    assert "BASIC" not in write_processes.render(
        {"connections": 8, "runs": runs, "best_single_processes": 1, "best_batch_processes": 1},
        6_000.0,
    )
    runs[0]["batch_basic"] = _phase(21_000.0, "basic", 45.0)
    text = write_processes.render(
        {"connections": 8, "runs": runs, "best_single_processes": 1, "best_batch_processes": 1},
        6_000.0,
    )
    assert "batch BASIC/s" in text and "21,000" in text and "17,000" in text


def test_the_bench_server_sorts_its_threads_into_kinds(tmp_path: Path) -> None:
    import threading

    import bench_server

    assert bench_server.thread_kind("MainThread") == "loop"
    assert bench_server.thread_kind("statehouse-writer_0") == "writer"
    assert bench_server.thread_kind("statehouse-reader_3") == "readers"
    assert bench_server.thread_kind("statehouse-heavy_0") == "heavy"
    assert bench_server.thread_kind("Thread-1 (_poll_wrapper)") == "grpc"
    assert bench_server.thread_kind(None) == "grpc"  # a thread of grpc's core
    assert bench_server.thread_kind("statehouse-sqlite-watch") == "other"

    # A busy thread named as SQLite's writer is counted as the writer, in this process.
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    before = bench_server.thread_cpu()
    worker = threading.Thread(target=spin, name="statehouse-writer_0")
    worker.start()
    try:
        eventually(
            lambda: (
                bench_server.thread_cpu().get("writer", 0.0) - before.get("writer", 0.0) >= 0.05
            ),
            "the writer's CPU",
        )
    finally:
        stop.set()
        worker.join()
    assert bench_server.thread_cpu().get("loop", 0.0) > 0.0
    # Without /proc, nothing rather than an error.
    assert bench_server.thread_cpu(tmp_path / "missing") == {}
