"""The report: text tables (printed at the end), and the sweep's PNG chart."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .common import rounds_of, table

#: The issue's targets (issue 13), printed beside the figures.
TARGETS = {
    "ratio": 0.85,
    "batch_per_s": 20_000,
    "pg_one_replica_per_s": 2_500,
    "pg_commits_per_change": 0.1,
    "fanout_p99_ms": 10.0,
    "idle_ratio": 2.0,
    #: Issue 24: the writer keeps this much of its rate alone beside 100 subscribers.
    "writer_rate_ratio": 0.8,
    "writer_rate_subscribers": 100,
}


def _f(value: Any, spec: str = ",.0f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def _cost_cells(cost: dict[str, Any] | None, database: bool = False) -> list[str]:
    cost = cost or {}
    cells = [
        _f(cost.get("statements_per_change"), ".2f"),
        _f(cost.get("commits_per_change"), ".3f"),
        _f(cost.get("server_cpu_us_per_change"), ",.0f"),
    ]
    if database:
        cells.append(_f(cost.get("database_cpu_us_per_change"), ",.0f"))
    return cells


def _keywords(cost: dict[str, Any] | None) -> str:
    by = (cost or {}).get("statements_by_keyword_per_change") or {}
    return ", ".join(f"{k} {v:.2f}" for k, v in sorted(by.items(), key=lambda kv: -kv[1]))


def _header(results: dict[str, Any]) -> str:
    env = results["environment"]
    d = env["durability"]
    return (
        f"\nStatehouse bench ({'quick' if results['quick'] else 'default'} run, "
        f"{results.get('seconds', 0):.0f} s), {env['cpus']} CPUs shared by clients and "
        f"servers, Python {env['python']}, grpcio {env['grpcio']}, protobuf "
        f"{env['protobuf']}, SQLAlchemy {env['sqlalchemy']}, {env['loop']}\n"
        f"git {env['git']}, server from {env['server_source']}\n"
        f"durability: {d['sqlite']}; PostgreSQL {d['postgresql']}\n"
        f"load average (1/5/15 min) at start {env['loadavg_start']}, at end "
        f"{env.get('loadavg_end', '?')}: other processes on the machine skew every figure;\n"
        "compare ratios within one run. Every client is one process, raw generated stubs "
        "(statehouse.v1, grpc.aio)\nunless it says SDK; per state change = per transition "
        "acknowledged, counted in the server process\n(commits/chg: commits of transactions that wrote; read-only ones are in the JSON)."
    )


def _unary(results: dict[str, Any]) -> str:
    if not results.get("sweep"):
        skipped = results.get("sweep_skipped")
        return f"\nEcho baseline, sweep, SDK and batch RPC: skipped ({skipped})" if skipped else ""
    out = [
        f"\nEcho baseline and single-transition sweep (TransitionTaskRun; the echo server "
        f"answers the same\nmessage types with a {results.get('echo_response_bytes', '?')}-"
        "byte response captured from Statehouse, no storage):"
    ]
    rows = []
    for e, t, r in zip(results["echo"], results["sweep"], results["ratios"], strict=True):
        rows.append(
            [
                str(r["in_flight"]),
                _f(e["rate"]),
                _f(e["p50_ms"], ".2f"),
                _f(e["p99_ms"], ".2f"),
                _f(t["rate"]),
                _f(t["p50_ms"], ".2f"),
                _f(t["p99_ms"], ".2f"),
                _f(r["ratio"], ".2f"),
                *_cost_cells(t.get("cost")),
                f"{t['server_cpu_pct']:.0f}%",
                str(e["errors"] + t["errors"]),
            ]
        )
    out.append(
        table(
            rows,
            [
                "in flight",
                "echo/s",
                "p50 ms",
                "p99 ms",
                "transitions/s",
                "p50 ms",
                "p99 ms",
                "ratio",
                "stmts/chg",
                "commits/chg",
                "srv CPU us/chg",
                "srv CPU",
                "errors",
            ],
        )
    )
    best = max(results["ratios"], key=lambda r: r["in_flight"])
    out.append(
        f"  at {best['in_flight']} in flight: transitions / echo = {best['ratio']:.2f} "
        f"(target >= {TARGETS['ratio']})"
    )
    last = results["sweep"][-1]
    if last.get("cost"):
        out.append(f"  statements per change at {best['in_flight']}: {_keywords(last['cost'])}")
    sdk = results.get("sdk")
    if sdk:
        out.append(
            f"\nSDK overhead (statehouse.client.AsyncClient against raw stubs, the same "
            f"transitions, {sdk['sdk']['concurrency']} in flight, rounds alternating):\n"
            f"  SDK {sdk['sdk_per_s']:,.0f}/s, raw {sdk['raw_per_s']:,.0f}/s: "
            f"{_f(sdk['ratio'], '.2f')} x; client CPU {sdk['client_cpu_us_per_call_sdk']:.0f}"
            f" / {sdk['client_cpu_us_per_call_raw']:.0f} us per call: the SDK adds "
            f"{sdk['sdk_overhead_us_per_call']:.0f} us per call; p99 "
            f"{sdk['sdk']['p99_ms']:.1f} / {sdk['raw']['p99_ms']:.1f} ms"
        )
    return "\n".join(out)


def _batch(results: dict[str, Any]) -> str:
    rows = []
    # A view column once runs have BASIC-view phases (runs recorded before had none).
    views = any(b.get("view") for b in results.get("batch") or [])
    for b in results.get("batch") or []:
        rows.append(
            [
                *([(b.get("view") or "full").upper()] if views else []),
                str(b["batch"]),
                str(b["concurrency"]),
                _f(b["rate"]),
                _f(b["calls_per_s"], ",.1f"),
                _f(b["p50_ms"], ",.1f"),
                _f(b["p99_ms"], ",.1f"),
                *_cost_cells(b.get("cost")),
                f"{b['server_cpu_pct']:.0f}%",
                str(b["errors"]),
            ]
        )
    if not rows:
        return ""
    best = max(b["rate"] for b in results["batch"] if not b.get("view"))
    basic = [b["rate"] for b in results["batch"] if b.get("view") == "basic"]
    return (
        "\nBatch RPC (ExecutionService.TransitionTaskRuns, one call moves its items CREATED -> "
        "RUNNING, the next\nto SUCCESS; latency per call"
        + ("; view: how much of each task run the results carry" if views else "")
        + "):\n"
        + table(
            rows,
            [
                *(["view"] if views else []),
                "items/call",
                "in flight",
                "transitions/s",
                "calls/s",
                "p50 ms",
                "p99 ms",
                "stmts/chg",
                "commits/chg",
                "srv CPU us/chg",
                "srv CPU",
                "errors",
            ],
        )
        + f"\n  best {best:,.0f} transitions/s"
        + (f" ({max(basic):,.0f} with BASIC results)" if basic else "")
        + f" (target >= {TARGETS['batch_per_s']:,})"
    )


def _per_message(per_message: dict[str, Any] | None) -> list[str]:
    """Cells: messages, then events per message mean, p50, p99, max."""
    m = per_message or {}
    if not m.get("messages"):
        return ["-"] * 5
    return [
        _f(m["messages"]),
        _f(m["mean"], ",.1f"),
        _f(m["p50"], ".0f"),
        _f(m["p99"], ".0f"),
        _f(m["max"], ".0f"),
    ]


def _batches_text(f: dict[str, Any]) -> str:
    if f.get("batches", False):
        return (
            f"subscribers ask for up to {f.get('max_events_per_message', '?')} events per "
            "message (max_events_per_message) and read both `event` and `events`"
        )
    return "subscribers ask for one event per message (--no-fanout-batches)"


def _fanout(results: dict[str, Any]) -> str:
    f = results.get("fanout")
    if not f:
        return ""
    if f.get("skipped"):
        return f"\nFan-out: skipped ({f['skipped']})"
    rows = []
    for s in [*f["capacity"], f["latency"]]:
        paced = (
            f"{s['writer_rate_limit']:,.0f}/s ({s['target_deliveries_per_s']:,.0f} deliv/s)"
            if s["writer_rate_limit"]
            else "unpaced"
        )
        rows.append(
            [
                s["mode"],
                str(s["subscribers"]),
                paced,
                f"{s['events']} @ {s['writer_rate']:,.0f}/s",
                str(s["deliveries"]),
                f"{s['seconds']:.1f}",
                _f(s["deliveries_per_s"]),
                *_per_message(s.get("events_per_message")),
                _f(s["p50_ms"], ",.1f"),
                _f(s["p99_ms"], ",.1f"),
                _f(s["max_ms"], ",.1f"),
                f"{s['client_cpu_pct']:.0f}%",
                f"{s['server_cpu_pct']:.0f}%",
                "all, in order" if s["complete"] else f"{len(s['errors'])} ERRORS",
            ]
        )
    out = [
        "\nFan-out (raw Subscribe streams, from_latest, namespace filter; subscribers in "
        "processes of their own,\nthe writer in another; latency from the COMMIT of each "
        "event (the server's commit listener) to its\nreceipt, the same clock; every event "
        f"counted per subscriber; {_batches_text(f)};\nmsgs: messages that carried "
        "events, ev/msg: events per message, mean and percentiles over the messages):",
        table(
            rows,
            [
                "mode",
                "subs",
                "writer pace",
                "events",
                "deliveries",
                "secs",
                "deliveries/s",
                "msgs",
                "ev/msg",
                "p50",
                "p99",
                "max",
                "p50 ms",
                "p99 ms",
                "max ms",
                "client CPU",
                "server CPU",
                "received",
            ],
        ),
        f"  latency at {f['latency']['target_deliveries_per_s']:,.0f} deliveries/s to "
        f"{f['latency']['subscribers']} subscribers: p99 {_f(f['latency']['p99_ms'], ',.1f')} "
        f"ms (target < {TARGETS['fanout_p99_ms']:.0f} ms)",
    ]
    for s in [*f["capacity"], f["latency"]]:
        for error in s["errors"][:5]:
            out.append(f"  ERROR ({s['mode']}, {s['subscribers']}): {error}")
    writer_rate = _writer_rate(f.get("writer_rate"), results["environment"].get("cpus"))
    if writer_rate:
        out.append(writer_rate)
    return "\n".join(out)


def _rounds_text(runs: list[dict[str, Any]]) -> str:
    """How the rows were chosen among rounds."""
    n = rounds_of(runs)
    if n <= 1:
        return ""
    return (
        f"; {n} rounds on each server, each the writer\nalone then beside each subscriber count; "
        "each row is the round of median ratio (alone: of median rate)"
    )


def _writer_rate(w: dict[str, Any] | None, cpus: Any) -> str:
    """The writer's rate alone and beside subscribers, for each --processes N."""
    if not w:
        return ""
    if w.get("skipped"):
        return f"\nWriter rate beside subscribers: skipped ({w['skipped']})"
    runs = [r for server in w["servers"] for r in server["runs"]]
    quota = w.get("quota") or "no CPU quota (none asked)"
    out = [
        "\nWriter rate beside live subscribers (issue 24: writers never wait for watchers): "
        "TransitionTaskRun, raw stubs,\nunpaced, one writer process without a CPU quota (a "
        "quota would make its rate alone the client's limit\nand hide a slower server); a "
        "fresh SQLite server for each --processes N; subscribers in processes of their\n"
        f"own, every one receiving every event in order; {_batches_text(w)};\nsubscriber "
        f"processes: {quota}.\nratio: the writer's rate / its rate alone on the same server"
        f"{_rounds_text(runs)}; deliveries/s and secs from the writer's\nstart to the last receipt; commit-to-receipt "
        "latency over a sample of subscribers; srv CPU during the\nwriter's transitions; "
        "throttled: seconds the subscriber processes waited for their quota:",
    ]
    rows = []
    for r in runs:
        alone = not r["subscribers"]
        rows.append(
            [
                str(r["server_processes"]),
                str(r["subscribers"]) if not alone else "alone",
                f"{r['events']:,}",
                _f(r["writer_rate"]),
                _f(r["ratio"], ".2f") if not alone else "1",
                _f(r["writer_p99_ms"], ",.1f"),
                f"{r['writer_cpu_pct']:.0f}%",
                f"{r['server_cpu_pct']:.0f}%",
                _f(r["deliveries_per_s"]) if not alone else "-",
                f"{r['seconds']:.1f}" if not alone else "-",
                *_per_message(r["events_per_message"]),
                _f(r["p50_ms"], ",.1f"),
                _f(r["p99_ms"], ",.1f"),
                f"{r['subscriber_cpu_pct']:.0f}%" if not alone else "-",
                f"{r['subscriber_throttled_s']:.1f}" if not alone else "-",
                ("all, in order" if not alone else "ok")
                if r["complete"]
                else f"{len(r['errors'])} ERRORS",
            ]
        )
    if rows:
        out.append(
            table(
                rows,
                [
                    "srv procs",
                    "subs",
                    "events",
                    "writer/s",
                    "ratio",
                    "writer p99 ms",
                    "writer CPU",
                    "srv CPU",
                    "deliveries/s",
                    "secs",
                    "msgs",
                    "ev/msg",
                    "p50",
                    "p99",
                    "max",
                    "p50 ms",
                    "p99 ms",
                    "subs CPU",
                    "throttled s",
                    "received",
                ],
            )
        )
    target, at = TARGETS["writer_rate_ratio"], TARGETS["writer_rate_subscribers"]
    best: tuple[float, int] | None = None
    for server in w["servers"]:
        n = server["server_processes"]
        name = f"--processes {n}"
        if server.get("error"):
            out.append(f"  {name}: FAILED: " + server["error"].strip().splitlines()[-1])
        row = next((r for r in server["runs"] if r["subscribers"] == at), None)
        if row is None:
            continue
        met = row["complete"] and row["ratio"] >= target
        rounds = row.get("rounds") or []
        out.append(
            f"  {name}: with {at} subscribers the writer keeps {_f(row['ratio'], '.2f')} of its "
            f"rate alone ({row['writer_rate']:,.0f}/s)"
            + (
                f", the median of rounds {', '.join(_f(r, '.2f') for r in rounds)}"
                if len(rounds) > 1
                else ""
            )
            + f" (target >= {target}: "
            f"{'met' if met else 'NOT met'}"
            + ("" if row["complete"] else ", and not every event reached every subscriber")
            + ")"
        )
        if row["complete"] and (best is None or row["writer_rate"] > best[0]):
            best = (row["writer_rate"], n)
    if best is not None and len(w["servers"]) > 1:
        out.append(
            f"  the highest writer rate with {at} subscribers on this machine of {cpus} CPUs: "
            f"--processes {best[1]} ({best[0]:,.0f}/s)"
        )
    for r in runs:
        for error in r["errors"][:5]:
            out.append(
                f"  ERROR (--processes {r['server_processes']}, {r['subscribers']}): {error}"
            )
    return "\n".join(out)


def _idle(idle: dict[str, Any] | None) -> str:
    if not idle:
        return ""
    none, opened = idle["write_latency_none"], idle["write_latency_open"]
    return (
        f"\nIdle subscribers (unfiltered, from_latest, no heartbeats, opened in a burst; a "
        f"fresh server of their own):\n"
        f"  {idle['streams']:,} streams on {idle['channels']} connections, all established "
        f"in {idle['established_seconds']:.1f} s ({idle['marker_events']} marker events)\n"
        f"  write (CreateExecution, one at a time): none open p50 {none['p50_ms']:.2f} ms, "
        f"p99 {none['p99_ms']:.2f} ms; {idle['streams']:,} open p50 {opened['p50_ms']:.2f} ms,"
        f" p99 {opened['p99_ms']:.2f} ms ({opened.get('writes', 0):,} writes each)\n"
        f"  server CPU per write (the write and its deliveries): "
        f"{opened.get('server_cpu_ms_per_write', math.nan):.2f} ms with the streams open, "
        f"{none.get('server_cpu_ms_per_write', math.nan):.2f} ms with none\n"
        f"  write p99 with {idle['streams']:,} idle subscriptions / with none = "
        f"{opened['p99_ms']:.2f} / {none['p99_ms']:.2f} ms = {_f(idle['write_p99_ratio'], '.2f')}"
        f" x"
        + (
            f", the median of {len(idle['rounds'])} rounds (each on the server started again: "
            f"none open, then open): {', '.join(_f(r, '.2f') for r in idle['rounds'])}"
            if len(idle.get("rounds") or []) > 1
            else ""
        )
        + f" (target <= {TARGETS['idle_ratio']:.0f} x: "
        f"{'met' if idle['write_p99_ratio'] <= TARGETS['idle_ratio'] else 'NOT met'})\n"
        f"  server RSS: {idle['rss_before_kb'] / 1024:,.1f} MB before, "
        f"{idle['rss_connected_kb'] / 1024:,.1f} MB with the connections, "
        f"{idle['rss_after_kb'] / 1024:,.1f} MB with the streams; per idle stream "
        f"{idle['kb_per_stream']:.1f} KB ({idle['kb_per_stream_without_connections']:.1f} KB "
        f"without its share of the connections)\n"
        "  cancelled or failed: "
        + ("none" if not idle["errors"] else "; ".join(idle["errors"][:5]))
    )


def _postgres(pg: dict[str, Any] | None) -> str:
    if not pg:
        return ""
    if pg.get("skipped"):
        return f"\nPostgreSQL: skipped ({pg['skipped']})"
    out = [
        f"\n{pg.get('version', 'PostgreSQL')}, a throwaway cluster on 127.0.0.1, on the same 2 "
        "CPUs as the servers and clients;\nraw-stub clients, the workers split over the "
        "replicas; db CPU = the postmaster and all its backends (/proc):"
    ]
    rows = []
    for run in pg["runs"]:
        t = run["transition"]
        order = run["order"]
        settings = run.get("settings", {})
        rows.append(
            [
                run["label"]
                + (
                    f" ({settings.get('wal_sync_method', '?')})"
                    if run["label"] == "fsync on"
                    else ""
                ),
                str(run["replicas"]),
                str(t["concurrency"]),
                _f(run["creates_per_s"]),
                _f(t["rate"]),
                _f(t["p50_ms"], ".1f"),
                _f(t["p99_ms"], ".1f"),
                *_cost_cells(t.get("cost"), database=True),
                f"{t['server_cpu_pct']:.0f}%",
                f"{run['database_cpu_pct']:.0f}%",
                str(t["errors"] + run["create"]["errors"]),
                (
                    f"{order['subscribers']} agree on {order['events_logged']}"
                    if order["agreed"]
                    else f"{len(order['errors'])} ERRORS"
                ),
            ]
        )
    if rows:
        out.append(
            table(
                rows,
                [
                    "durability",
                    "replicas",
                    "in flight",
                    "creates/s",
                    "transitions/s",
                    "p50 ms",
                    "p99 ms",
                    "stmts/chg",
                    "commits/chg",
                    "srv CPU us/chg",
                    "db CPU us/chg",
                    "servers CPU",
                    "db CPU",
                    "errors",
                    "subscribers",
                ],
            )
        )
    on = [r for r in pg["runs"] if r["label"] == "fsync on"]
    if len(on) == 2 and on[0]["transitions_per_s"]:
        out.append(
            f"  fsync on, 2 replicas / 1 replica: "
            f"{on[1]['transitions_per_s'] / on[0]['transitions_per_s']:.2f}; 1 replica "
            f"{on[0]['transitions_per_s']:,.0f}/s (target >= "
            f"{TARGETS['pg_one_replica_per_s']:,}), commits per change "
            f"{_f((on[0]['transition'].get('cost') or {}).get('commits_per_change'), '.3f')} "
            f"(target <= {TARGETS['pg_commits_per_change']})"
        )
    b = pg.get("bound")
    if b:
        out.append(
            f"  What bounds N replicas (fsync on, 1 replica): the database spends "
            f"{b['database_cpu_us_per_change']:,.0f} us of CPU per state change, so its "
            f"{b['cores']} cores alone could carry\n"
            f"  {b['cores']} x 1,000,000 / {b['database_cpu_us_per_change']:,.0f} = "
            f"{b['database_bound_per_s']:,} state changes/s; one replica does "
            f"{b['one_replica_per_s']:,.0f}/s, so about {b['database_bound_per_s']:,} / "
            f"{b['one_replica_per_s']:,.0f} = {b['max_useful_replicas']:.1f} replicas (each on "
            "cores of its own)\n"
            f"  before the database's CPU is the limit. On this one machine, servers and "
            f"database together cost {b['server_cpu_us_per_change']:,.0f} + "
            f"{b['database_cpu_us_per_change']:,.0f} us per change:\n"
            f"  {b['cores']} x 1,000,000 / "
            f"{b['server_cpu_us_per_change'] + b['database_cpu_us_per_change']:,.0f} = "
            f"{b['same_machine_bound_per_s']:,} changes/s at most, however many replicas. "
            "(CPU only: WAL flushes wait on the disk, not the CPU.)"
        )
    for run in pg["runs"]:
        for error in run["order"]["errors"][:5]:
            out.append(f"  ERROR ({run['label']}, {run['replicas']}): {error}")
    if pg["error"]:
        out.append("  ERROR: the phase failed: " + pg["error"].strip().splitlines()[-1])
    return "\n".join(out)


def _metrics(metrics: dict[str, Any]) -> str:
    out: list[str] = []
    if metrics:
        r = metrics["record"]
        out.append(
            f"\nMetrics\n  RecordMetrics: {r['metrics_per_s']:,.0f} metrics/s "
            f"({r['calls']} calls of {r['entries_per_call']} entries, {r['in_flight']} in "
            f"flight, on {r['task_runs']} running task runs, every entry a new metric; "
            f"{r['seconds']:.1f} s)\n"
            f"    per call p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; server CPU "
            f"{r['server_cpu_pct']:.0f}%; errors {r['errors']}"
            + (f" (first: {r['first_error']})" if r["errors"] else "")
        )
        load = metrics["load"]
        out.append(
            f"  stored for aggregation: {load['metrics']:,} metrics ({load['tag_rows']:,} tag "
            f"rows) in {load['seconds']:.1f} s, {load['note']}"
            + (f"; day from {load['day_start']}" if load["day_start"] else "")
        )
        rows = []
        for a in metrics["aggregate"]:
            rows.append(
                [
                    a["group_by_tag"] or "(none)",
                    str(a["calls"]),
                    f"{a['series']} x {a['buckets']}",
                    f"{a['metrics_counted']:,}",
                    f"{a['p50_ms']:,.1f}",
                    f"{a['p99_ms']:,.1f}",
                    f"{a['max_ms']:,.1f}",
                    f"{a['server_cpu_pct']:.0f}%",
                    "none" if not a["errors"] else "; ".join(a["errors"]),
                ]
            )
        out.append(
            f"  AggregateMetrics over {load['metrics']:,} metrics, hour buckets over one day "
            f"(one call at a time, after one warm-up call):"
        )
        text = table(
            rows,
            [
                "group_by_tag",
                "calls",
                "series x buckets",
                "metrics counted",
                "p50 ms",
                "p99 ms",
                "max ms",
                "server CPU",
                "errors",
            ],
        )
        out.append("\n".join("    " + line for line in text.splitlines()))
    return "\n".join(out)


def render(results: dict[str, Any]) -> str:
    from .write_processes import render as writes_render

    echoes = results.get("echo") or []
    parts = [_header(results), _unary(results), _batch(results)]
    parts.append(
        writes_render(results.get("write_processes"), echoes[-1]["rate"] if echoes else None)
    )
    parts.append(_fanout(results))
    parts.append(_idle(results.get("idle")))
    parts.append(_postgres(results.get("postgresql")))
    if results.get("replicas"):
        from . import replicas

        parts.append(replicas.render(results["replicas"]))
    if results.get("metrics"):
        parts.append(_metrics(results["metrics"]))
    skipped = results.get("skipped") or {}
    if skipped.get("sizing"):
        parts.append(f"\nSizing: skipped ({skipped['sizing']})")
    elif results.get("sizing"):
        from . import sizing

        parts.append(sizing.render(results["sizing"]))
    if results.get("http"):
        from . import connect_http

        parts.append(connect_http.render(results["http"]))
    if results.get("security"):
        from . import security

        parts.append(security.render(results["security"]))
    if results.get("hostile"):
        from . import hostile

        parts.append(hostile.render(results["hostile"]))
    if results.get("workers"):
        from . import workers

        parts.append(workers.render(results["workers"]))
    if results.get("chart"):
        parts.append(f"\nChart of the sweep: {results['chart']}")
    parts.append("\nresult: " + ("ok" if results.get("ok") else "ERRORS (see above)"))
    return "\n".join(p for p in parts if p)


def chart(results: dict[str, Any], path: Path) -> str:
    """Throughput and p99 against in-flight requests (echo and transitions); the path
    written, or why not."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        return f"not written ({exc}: pip install matplotlib)"
    if not results.get("ratios"):
        return "not written (no sweep)"
    levels = [r["in_flight"] for r in results["ratios"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    series = (
        ("echo (no storage)", results["echo"], "tab:gray"),
        ("TransitionTaskRun", results["sweep"], "tab:blue"),
    )
    for label, rows, color in series:
        left.plot(levels, [r["rate"] for r in rows], marker="o", label=label, color=color)
        right.plot(levels, [r["p99_ms"] for r in rows], marker="o", label=label, color=color)
        right.plot(
            levels,
            [r["p50_ms"] for r in rows],
            marker=".",
            linestyle="--",
            color=color,
            label=f"{label} p50",
        )
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xticks(levels, [str(n) for n in levels])
        ax.set_xlabel("requests in flight (one client process, raw stubs)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    left.set_ylabel("calls/s")
    left.set_ylim(bottom=0)
    left.set_title("throughput")
    for n, r in zip(levels, results["ratios"], strict=True):
        left.annotate(
            f"{r['ratio']:.2f}x",
            (n, r["transitions_per_s"]),
            textcoords="offset points",
            xytext=(0, -14),
            ha="center",
            fontsize=8,
        )
    right.set_ylabel("latency, ms")
    right.set_yscale("log")
    right.set_title("p99 (solid) and p50 (dashed)")
    env = results["environment"]
    fig.suptitle(
        f"Statehouse sweep, SQLite WAL synchronous=NORMAL, git {env['git']}, "
        f"{env['cpus']} CPUs shared",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
