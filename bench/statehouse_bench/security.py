"""What TLS and token checks cost on the transition path: the same load against
a plaintext server without authentication and a TLS server with ``--auth``.

Two Statehouse servers (subprocesses on 127.0.0.1, port 0), each on a fresh
temporary SQLite file with the same settings (the server's defaults: WAL,
``synchronous=NORMAL``):

- plain: no TLS, no authentication;
- secured: ``--tls-cert/--tls-key`` (a CA and an ECDSA P-256 server certificate
  made here with ``cryptography``) and ``--auth``. The clients send a writer
  token (made on the database before the server starts, like the first token
  of a deployment) scoped to ``bench.*``: every call is authenticated and
  checked against the rule of its RPC, and every task run or execution it
  names is looked up for its namespace (a cached lookup after the first). An
  admin token on ``*`` would skip the checks: this is the realistic case.

Before the measurement the secured server is checked: a call without a token
is UNAUTHENTICATED, one naming a namespace outside ``bench.*`` is
PERMISSION_DENIED (else the phase reports an error).

Load: the bench's own client machinery (``load.ClientGroup``, the SDK client), as
its transitions phase: the same client processes and in-flight calls, the SDK's
``AsyncClient`` (with ``credentials=`` and ``metadata=`` for the secured
server). One client group per server, both started first; each creates its
executions and task runs, then the transitions (task runs CREATED -> RUNNING
-> SUCCESS) run in rounds alternating between the servers (plain, secured,
secured, plain, ...: drift in the machine's load falls on both), each round
bounded in count and time and continuing where the previous round of that
server stopped. Reported: transitions/s of all rounds together (and of each
round pair), p50/p99 latency, client and server CPU per transition, creates/s,
and the ratios secured/plain.

Standalone: ``cd bench && ../.venv/bin/python -m statehouse_bench.security [--quick] [--json PATH]
[--variant both|tls|auth]`` (``tls``: TLS alone, ``auth``: the token checks
alone, over plaintext: where the cost goes); ``make bench`` runs ``both`` after
its transitions phase (``bench/run.py --no-security`` skips it).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .common import (
    NAMESPACE,
    ROOT,
    ServerProcess,
    journal_mode as _journal_mode,
    pct as _pct,
    progress,
    server_synchronous as _server_synchronous,
    statehouse_server,
    table as _table,
    terminated as _terminated,
)
from .load import ClientGroup, ClientSpec, Phase, PhaseResult

#: The token's namespaces: a pattern (not ``*``) that covers the bench's namespace.
TOKEN_NAMESPACES = ("bench.*",)
TOKEN_ROLE = "writer"
#: The name the server certificate is issued for and the clients check.
SERVER_NAME = "localhost"
OUTSIDE_NAMESPACE = "elsewhere"
#: What the secured server has: (TLS, authentication, label).
VARIANTS = {
    "both": (True, True, "TLS + auth"),
    "tls": (True, False, "TLS only"),
    "auth": (False, True, "auth only"),
}


@dataclass(frozen=True)
class SecuritySizes:
    """Transitions per server (all rounds), in rounds alternating between the servers."""

    transitions: int = 4_000
    rounds: int = 6
    #: Each round's time limit (a round also stops at transitions / rounds).
    round_seconds: float = 4.0
    create_seconds: float = 25.0

    @classmethod
    def quick(cls) -> SecuritySizes:
        return cls(transitions=800, rounds=2, round_seconds=2.5, create_seconds=8.0)


# -- certificates and the token ------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    ca_pem: bytes
    cert: Path
    key: Path


def make_certificates(directory: Path) -> Certificates:
    """A CA and a server certificate it signs for ``localhost`` and 127.0.0.1 (ECDSA P-256)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common_name: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "statehouse bench"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("bench CA"))
        .issuer_name(name("bench CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name(SERVER_NAME))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(SERVER_NAME),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    certificates = Certificates(
        ca_pem=ca.public_bytes(serialization.Encoding.PEM),
        cert=directory / "server.crt",
        key=directory / "server.key",
    )
    certificates.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    certificates.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    certificates.key.chmod(0o600)
    return certificates


_ISSUE = """
import json, sys
from statehouse.server.security.credentials import issue_offline
info, secret = issue_offline(sys.argv[1], name="bench", role=sys.argv[2],
                             namespaces=json.loads(sys.argv[3]))
json.dump({"secret": secret, "info": info}, sys.stdout, default=str)
"""


def issue_token(python: str, database_url: str, pythonpath: str | None) -> tuple[str, Any]:
    """A token made on the database before its server starts (in a subprocess that
    imports the server from where the server runs, like ``--server-src``)."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(x for x in (pythonpath, env.get("PYTHONPATH")) if x)
    done = subprocess.run(
        [python, "-c", _ISSUE, database_url, TOKEN_ROLE, json.dumps(list(TOKEN_NAMESPACES))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"issuing the token failed:\n{done.stderr[-2000:]}")
    out = json.loads(done.stdout)
    return str(out["secret"]), out["info"]


def check_secured(target: str, ca_pem: bytes | None, token: str) -> dict[str, str]:
    """What the secured server (TLS when ``ca_pem``) answers without a token, and with
    the token outside its namespaces (expected: UNAUTHENTICATED, PERMISSION_DENIED)."""
    import grpc

    from statehouse.client import Client

    security: dict[str, Any] = {}
    if ca_pem is not None:
        security["credentials"] = grpc.ssl_channel_credentials(root_certificates=ca_pem)
        security["options"] = [("grpc.ssl_target_name_override", SERVER_NAME)]
    answers: dict[str, str] = {}
    cases: tuple[tuple[str, list[tuple[str, str]], str], ...] = (
        ("no token", [], NAMESPACE),
        (
            "token, namespace outside bench.*",
            [("authorization", f"Bearer {token}")],
            OUTSIDE_NAMESPACE,
        ),
    )
    for label, metadata, namespace in cases:
        client = Client.connect(target, metadata=metadata, **security)
        try:
            client.create_execution(namespace=namespace, flow_id="bench-security-check")
            answers[label] = "OK"
        except Exception as exc:
            code = getattr(exc, "code", None)
            answers[label] = getattr(code, "name", None) or f"{type(exc).__name__}: {exc}"
        finally:
            client.close()
    return answers


EXPECTED = {"no token": "UNAUTHENTICATED", "token, namespace outside bench.*": "PERMISSION_DENIED"}


# -- the durability settings --------------------------------------------------------


# -- the phase ------------------------------------------------------------------------


class _Side:
    """One server, its client group, and what its rounds added up to."""

    def __init__(self, key: str, server: ServerProcess, database: Path) -> None:
        self.key = key
        self.server = server
        self.database = database
        self.group: ClientGroup | None = None
        self.creates: dict[str, Any] = {}
        self.rounds: list[dict[str, Any]] = []
        self.latencies: list[float] = []
        self.ops = 0
        self.errors = 0
        self.first_error = ""
        self.seconds = 0.0
        self.client_cpu = 0.0
        self.server_cpu = 0.0

    def run(self, name: str, budget: float) -> tuple[Any, list[PhaseResult], float]:
        assert self.group is not None
        cpu0 = self.server.cpu_seconds()
        summary = self.group.run_phase(name, [self.server])
        return summary, self.group.last_results, self.server.cpu_seconds() - cpu0

    def add_round(self, summary: Any, results: list[PhaseResult], server_cpu: float) -> None:
        self.rounds.append(
            {
                "transitions": summary.ops,
                "seconds": summary.seconds,
                "rate": summary.rate,
                "p50_ms": summary.p50_ms,
                "p99_ms": summary.p99_ms,
                "errors": summary.errors,
            }
        )
        self.ops += summary.ops
        self.errors += summary.errors
        self.first_error = self.first_error or summary.first_error
        self.seconds += summary.seconds
        self.client_cpu += sum(r.cpu for r in results)
        self.server_cpu += server_cpu
        self.latencies.extend(x for r in results for x in r.latencies)

    def summary(self) -> dict[str, Any]:
        latencies = sorted(self.latencies)
        ops = max(self.ops, 1)
        return {
            "transitions": self.ops,
            "seconds": round(self.seconds, 3),
            "transitions_per_s": round(self.ops / max(self.seconds, 1e-9), 1),
            "p50_ms": round(_pct(latencies, 0.50) * 1000, 2),
            "p99_ms": round(_pct(latencies, 0.99) * 1000, 2),
            "client_cpu_ms_per_transition": round(1000 * self.client_cpu / ops, 3),
            "server_cpu_ms_per_transition": round(1000 * self.server_cpu / ops, 3),
            "errors": self.errors,
            "first_error": self.first_error,
            "creates": self.creates,
            "rounds": self.rounds,
            "journal_mode": _journal_mode(self.database),
        }


def run_phase(
    sizes: SecuritySizes,
    python: str = sys.executable,
    server_src: Path | None = None,
    tmp: Path | None = None,
    processes: int = 1,
    concurrency: int = 64,
    variant: str = "both",
) -> dict[str, Any]:
    """The whole phase on two servers of its own; the results (``ok`` false on errors).

    Raises only KeyboardInterrupt; every other failure is in ``errors``.
    """
    work = Path(tempfile.mkdtemp(prefix="security-", dir=tmp))
    pythonpath = str(server_src.resolve()) if server_src else None
    errors: list[str] = []
    started = time.monotonic()
    per_round = math.ceil(sizes.transitions / sizes.rounds / processes)
    tls, auth, label = VARIANTS[variant]
    result: dict[str, Any] = {
        "variant": variant,
        "label": label,
        "sizes": asdict(sizes),
        "processes": processes,
        "concurrency": concurrency,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "durability": "",
        "token": {"role": TOKEN_ROLE, "namespaces": list(TOKEN_NAMESPACES)} if auth else None,
        "checks": {},
        "plain": None,
        "secured": None,
        "ratio": math.nan,
        "round_ratios": [],
        "errors": errors,
        "ok": False,
    }

    def server(key: str, extra: list[str], ready: str) -> _Side:
        database = work / f"{key}.db"
        process = statehouse_server(
            f"statehouse ({key})",
            f"sqlite:///{database}",
            work,
            key=key,
            server_src=server_src,
            extra=extra,
            ready=ready,
        )
        return _Side(key, process, database)

    certificates = make_certificates(work)
    plain = server("plain", [], r"statehouse serving on 127\.0\.0\.1:(\d+) \(database")
    secured = server(
        "secured",
        [
            *(["--tls-cert", str(certificates.cert), "--tls-key", str(certificates.key)] * tls),
            *(["--auth"] * auth),
        ],
        r"statehouse serving on 127\.0\.0\.1:(\d+)"
        + (" over TLS" if tls else "")
        + (" with authentication" if auth else "")
        + r" \(database",
    )
    sides = (plain, secured)
    try:
        with contextlib.ExitStack() as stack:
            token = ""
            if auth:
                token, info = issue_token(python, f"sqlite:///{secured.database}", pythonpath)
                result["token"]["issued"] = {
                    k: info.get(k) for k in ("name", "role", "namespaces") if isinstance(info, dict)
                }
            for side in sides:
                stack.callback(side.server.stop)
                side.server.start()
            plain_target = f"127.0.0.1:{plain.server.port}"
            secured_target = f"127.0.0.1:{secured.server.port}"
            progress(
                f"security: plain server on {plain_target}, {label} server on "
                f"{secured_target} ({work})"
            )
            if auth:
                result["checks"] = check_secured(
                    secured_target, certificates.ca_pem if tls else None, token
                )
                for case, expected in EXPECTED.items():
                    if result["checks"].get(case) != expected:
                        errors.append(
                            f"secured server, {case}: {result['checks'].get(case)} "
                            f"(expected {expected})"
                        )
            per_process = concurrency // processes
            base: dict[str, Any] = {
                "client": "sdk",
                "task_runs_per_execution": 4,
                "phases": (
                    Phase("create", per_process, seconds=sizes.create_seconds),
                    *(
                        Phase(
                            "transition",
                            per_process,
                            max_ops=per_round,
                            seconds=sizes.round_seconds,
                        ),
                    )
                    * sizes.rounds,
                ),
            }
            specs = {
                "plain": ClientSpec(targets=(plain_target,), tag="plain", **base),
                "secured": ClientSpec(
                    targets=(secured_target,),
                    tag="secured",
                    tls_ca=certificates.ca_pem.decode() if tls else "",
                    tls_name=SERVER_NAME if tls else "",
                    token=token,
                    **base,
                ),
            }
            for side in sides:
                side.group = stack.enter_context(ClientGroup(specs[side.key], processes))
            for side in sides:
                summary, _results, server_cpu = side.run(
                    f"security {side.key} create", sizes.create_seconds
                )
                side.creates = {
                    "creates": summary.creates,
                    "seconds": summary.seconds,
                    "creates_per_s": summary.rate,
                    "errors": summary.errors,
                    "first_error": summary.first_error,
                }
                if summary.errors:
                    errors.append(
                        f"{side.key} creates: {summary.errors} errors, first: {summary.first_error}"
                    )
                progress(
                    f"security: {side.key} creates: {summary.rate:,.0f}/s ({summary.creates} "
                    f"in {summary.seconds:.1f} s, {summary.errors} errors)"
                )
            for number in range(sizes.rounds):
                order = sides if number % 2 == 0 else sides[::-1]
                rates: dict[str, float] = {}
                for side in order:
                    summary, results, server_cpu = side.run(
                        f"security {side.key} transition", sizes.round_seconds
                    )
                    side.add_round(summary, results, server_cpu)
                    rates[side.key] = summary.rate
                progress(
                    f"security round {number + 1}/{sizes.rounds}: plain "
                    f"{rates['plain']:,.0f}/s, secured {rates['secured']:,.0f}/s"
                )
                if rates["plain"]:
                    result["round_ratios"].append(round(rates["secured"] / rates["plain"], 3))
        result["plain"] = plain.summary()
        result["secured"] = secured.summary()
        for side in sides:
            if side.errors:
                errors.append(
                    f"{side.key} transitions: {side.errors} errors, first: {side.first_error}"
                )
        p, s = result["plain"], result["secured"]
        if p["transitions_per_s"]:
            result["ratio"] = round(s["transitions_per_s"] / p["transitions_per_s"], 3)
        if result["round_ratios"]:
            result["median_round_ratio"] = round(statistics.median(result["round_ratios"]), 3)
        if p["creates"].get("creates_per_s"):
            result["create_ratio"] = round(
                s["creates"]["creates_per_s"] / p["creates"]["creates_per_s"], 3
            )
        result["durability"] = (
            f"SQLite, a fresh file per server, journal_mode="
            f"{'/'.join(sorted({p['journal_mode'], s['journal_mode']}))}, "
            f"synchronous={_server_synchronous()} (the server's defaults, the same for both)"
        )
        progress(
            f"security: plain {p['transitions_per_s']:,.0f} transitions/s, {label} "
            f"{s['transitions_per_s']:,.0f}/s, ratio {result['ratio']:.2f}"
        )
    except KeyboardInterrupt:
        raise
    except Exception:
        errors.append("the phase failed:\n" + traceback.format_exc())
        progress(f"security FAILED: {traceback.format_exc().strip().splitlines()[-1][:300]}")
        for side in sides:
            if side.server.proc is not None:
                progress(f"last lines of the {side.server.name} log:\n{side.server.tail()}")
    finally:
        for side in sides:
            with contextlib.suppress(Exception):
                side.server.stop()
        result["seconds"] = round(time.monotonic() - started, 1)
        result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        shutil.rmtree(work, ignore_errors=True)
    result["ok"] = not errors
    return result


# -- report ------------------------------------------------------------------------


def render(result: dict[str, Any]) -> str:
    if result.get("skipped"):
        return f"\nSecurity (TLS + token checks): skipped ({result['skipped']})"
    sizes = result["sizes"]
    processes, concurrency = result["processes"], result["concurrency"]
    label = result.get("label", "TLS + auth")
    tls, auth, _ = VARIANTS[result.get("variant", "both")]
    secured = " and ".join(
        x
        for x, on in (
            ("TLS (ECDSA P-256 certificate)", tls),
            (
                f"--auth, a {result['token']['role']} token on "
                f"{', '.join(result['token']['namespaces'])} (namespace check of every task run)"
                if result["token"]
                else "",
                auth,
            ),
        )
        if on
    )
    what = {"both": "TLS + token checks", "tls": "TLS", "auth": "token checks"}
    out = [
        f"\nSecurity: {what[result.get('variant', 'both')]} on the transition path, against "
        "the same run without them\n"
        f"  same machine, same client ({processes} process(es) x {concurrency // processes} in "
        f"flight, AsyncClient), same load (task runs CREATED -> RUNNING -> SUCCESS,\n"
        f"  up to {sizes['transitions']:,} per server in {sizes['rounds']} rounds alternating "
        f"between the servers, {sizes['round_seconds']:g} s limit a round)\n"
        f"  durability: {result['durability'] or '?'}\n"
        f"  plain: no TLS, no authentication; {label}: {secured}"
    ]
    if result["checks"]:
        out.append(
            f"  {label} server without a token / outside its namespaces: "
            + " / ".join(f"{v}" for v in result["checks"].values())
        )
    rows = []
    for key, name in (("plain", "plain"), ("secured", label)):
        s = result.get(key)
        if not s:
            continue
        rows.append(
            [
                name,
                f"{s['creates'].get('creates_per_s', math.nan):,.0f}",
                f"{s['transitions_per_s']:,.0f}",
                str(s["transitions"]),
                f"{s['seconds']:.1f}",
                f"{s['p50_ms']:.2f}",
                f"{s['p99_ms']:.2f}",
                f"{s['client_cpu_ms_per_transition']:.2f}",
                f"{s['server_cpu_ms_per_transition']:.2f}",
                str(s["errors"] + s["creates"].get("errors", 0)),
            ]
        )
    if rows:
        out.extend(
            "  " + line
            for line in _table(
                rows,
                [
                    "server",
                    "creates/s",
                    "transitions/s",
                    "count",
                    "secs",
                    "p50 ms",
                    "p99 ms",
                    "client CPU ms/tr",
                    "server CPU ms/tr",
                    "errors",
                ],
            ).splitlines()
        )
    p, s = result.get("plain"), result.get("secured")
    if p and s and not math.isnan(result["ratio"]):
        rounds = ", ".join(f"{r:.2f}" for r in result["round_ratios"])
        out.append(
            f"  {label} / plain: transitions/s {result['ratio']:.2f} (round by round: "
            f"{rounds}; median {result.get('median_round_ratio', math.nan):.2f}); creates/s {result.get('create_ratio', math.nan):.2f}; "
            f"p50 {s['p50_ms'] / max(p['p50_ms'], 1e-9):.2f} x, "
            f"p99 {s['p99_ms'] / max(p['p99_ms'], 1e-9):.2f} x; server CPU per transition "
            f"{s['server_cpu_ms_per_transition'] / max(p['server_cpu_ms_per_transition'], 1e-9):.2f}"
            f" x"
        )
    for error in result["errors"][:5]:
        out.append("  ERROR: " + error.strip().splitlines()[-1][:300])
    return "\n".join(out)


# -- standalone ------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    parser.add_argument("--processes", type=int, default=1, help="client processes (default 1)")
    parser.add_argument(
        "--concurrency", type=int, default=64, help="in-flight calls in total (default 64)"
    )
    parser.add_argument(
        "--server-src", type=Path, metavar="DIR", help="run the servers from this source root"
    )
    parser.add_argument(
        "--variant",
        choices=sorted(VARIANTS),
        default="both",
        help="what the secured server has: TLS and --auth (default), TLS only, --auth only",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    sizes = SecuritySizes.quick() if args.quick else SecuritySizes()
    try:
        result = run_phase(
            sizes,
            sys.executable,
            args.server_src,
            processes=args.processes,
            concurrency=args.concurrency,
            variant=args.variant,
        )
    except KeyboardInterrupt:
        progress("interrupted")
        return 130
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
