"""The HTTP port's phase: Connect beside gRPC, and what turning HTTP on costs gRPC.

Two servers of its own on SQLite files: ``grpc`` (no HTTP port) and ``both``
(``--http-address``). On each, unary calls/s over gRPC (GetExecution of one
execution, ``concurrency`` in flight, in alternating rounds so that drift of
the machine falls on both alike); the ratio both/grpc is the cost of the HTTP
port to the gRPC path. On ``both``, the same call over Connect (binary and
JSON, connect-python's asyncio client), and stream deliveries/s: ``subscribers``
Subscribe streams over gRPC, then over Connect, each receiving ``events`` events.

Run alone: ``python bench/statehouse_bench/connect_http.py [--quick]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "statehouse_bench"

import grpc
from connectrpc.client import ConnectClient
from connectrpc.method import IdempotencyLevel, MethodInfo

from statehouse.v1 import event_service_pb2 as evpb, execution_service_pb2 as epb

from .common import progress, statehouse_server

GET = "/statehouse.v1.ExecutionService/GetExecution"
HTTP_READY = re.compile(r" and http://127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class HttpSizes:
    rounds: int = 4
    round_seconds: float = 3.0
    concurrency: int = 16
    subscribers: int = 50
    events: int = 1000

    @classmethod
    def quick(cls) -> HttpSizes:
        return cls(rounds=2, round_seconds=1.0, subscribers=20, events=200)


def _info(name: str, service: str, req: Any, res: Any) -> MethodInfo[Any, Any]:
    return MethodInfo(
        name=name,
        service_name=f"statehouse.v1.{service}",
        input=req,
        output=res,
        idempotency_level=IdempotencyLevel.UNKNOWN,
    )


GET_INFO = _info(
    "GetExecution", "ExecutionService", epb.GetExecutionRequest, epb.GetExecutionResponse
)
SUB_INFO = _info("Subscribe", "EventService", evpb.SubscribeRequest, evpb.SubscribeResponse)


async def _calls(call: Any, concurrency: int, seconds: float) -> tuple[int, int]:
    """(calls, errors) of ``concurrency`` loops calling ``call()`` for ``seconds``."""
    end = time.monotonic() + seconds
    counts = [0, 0]

    async def loop() -> None:
        while time.monotonic() < end:
            try:
                await call()
                counts[0] += 1
            except Exception:
                counts[1] += 1

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return counts[0], counts[1]


async def _grpc_rate(target: str, execution_id: str, sizes: HttpSizes) -> tuple[float, int]:
    async with grpc.aio.insecure_channel(target) as channel:
        get = channel.unary_unary(
            GET,
            request_serializer=epb.GetExecutionRequest.SerializeToString,
            response_deserializer=epb.GetExecutionResponse.FromString,
        )
        request = epb.GetExecutionRequest(execution_id=execution_id)
        calls, errors = await _calls(lambda: get(request), sizes.concurrency, sizes.round_seconds)
    return calls / sizes.round_seconds, errors


async def _connect_rate(
    port: int, execution_id: str, sizes: HttpSizes, json: bool
) -> tuple[float, int]:
    client = ConnectClient(f"http://127.0.0.1:{port}", proto_json=json, send_compression=None)
    request = epb.GetExecutionRequest(execution_id=execution_id)
    calls, errors = await _calls(
        lambda: client.execute_unary(request=request, method=GET_INFO),
        sizes.concurrency,
        sizes.round_seconds,
    )
    await client.close()
    return calls / sizes.round_seconds, errors


async def _create(target: str, n: int, flow: str) -> list[str]:
    async with grpc.aio.insecure_channel(target) as channel:
        create = channel.unary_unary(
            "/statehouse.v1.ExecutionService/CreateExecution",
            request_serializer=epb.CreateExecutionRequest.SerializeToString,
            response_deserializer=epb.CreateExecutionResponse.FromString,
        )
        out = []
        for _ in range(n):
            response = await create(epb.CreateExecutionRequest(namespace="bench", flow_id=flow))
            out.append(response.execution.id)
        return out


#: The stream phases' writer, in a process of its own: in the subscribers' process its
#: rate would follow the client library's CPU (connect-python's parsing is Python's),
#: and the ratio would measure the clients, not the server.
_WRITER = """
import sys, grpc
from statehouse.v1 import execution_service_pb2 as epb
target, n, flow = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with grpc.insecure_channel(target) as channel:
    create = channel.unary_unary(
        "/statehouse.v1.ExecutionService/CreateExecution",
        request_serializer=epb.CreateExecutionRequest.SerializeToString,
        response_deserializer=epb.CreateExecutionResponse.FromString,
    )
    futures = []
    for _ in range(n):
        futures.append(create.future(epb.CreateExecutionRequest(namespace="bench", flow_id=flow)))
        if len(futures) >= 8:
            futures.pop(0).result()
    for f in futures:
        f.result()
"""


async def _create_elsewhere(target: str, n: int, flow: str) -> None:
    """``n`` events by a writer process of its own (8 in flight)."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", _WRITER, target, str(n), flow)
    if await proc.wait():
        raise RuntimeError(f"the stream phase's writer exited with {proc.returncode}")


async def _deliveries(target: str, port: int, over: str, sizes: HttpSizes, flow: str) -> float:
    """Deliveries/s (events, not messages) of ``sizes.events`` new events to
    ``sizes.subscribers`` streams that accept several events per message."""
    request = evpb.SubscribeRequest(from_latest=True, max_events_per_message=1000)
    request.filter.flow_id = flow
    ready = asyncio.Semaphore(0)
    done: list[float] = []

    async def grpc_sub(channel: grpc.aio.Channel) -> None:
        stream = channel.unary_stream(
            "/statehouse.v1.EventService/Subscribe",
            request_serializer=evpb.SubscribeRequest.SerializeToString,
            response_deserializer=evpb.SubscribeResponse.FromString,
        )(request)
        await stream.initial_metadata()
        ready.release()
        got = 0
        async for item in stream:
            got += item.HasField("event") + len(item.events)
            if got == sizes.events:
                done.append(time.monotonic())
                stream.cancel()
                return

    async def connect_sub(client: ConnectClient) -> None:
        got = 0
        ready.release()  # the server sends the headers at once; a margin below covers it
        async for item in client.execute_server_stream(request=request, method=SUB_INFO):
            got += item.HasField("event") + len(item.events)
            if got == sizes.events:
                done.append(time.monotonic())
                return

    async with grpc.aio.insecure_channel(target) as channel:
        client = ConnectClient(f"http://127.0.0.1:{port}", send_compression=None)
        subs = [
            asyncio.create_task(grpc_sub(channel) if over == "grpc" else connect_sub(client))
            for _ in range(sizes.subscribers)
        ]
        for _ in subs:
            await ready.acquire()
        await asyncio.sleep(0.5)
        start = time.monotonic()
        await _create_elsewhere(target, sizes.events, flow)
        try:
            await asyncio.wait_for(asyncio.gather(*subs), 60)
        finally:
            for s in subs:
                s.cancel()
            await client.close()
    seconds = max(done) - start if len(done) == sizes.subscribers else float("nan")
    return sizes.events * sizes.subscribers / seconds


def run_phase(sizes: HttpSizes, tmp: Path | None = None) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="http-", dir=tmp))
    result: dict[str, Any] = {"sizes": asdict(sizes), "errors": [], "ok": False}
    grpc_only = statehouse_server(
        "statehouse (grpc)", f"sqlite:///{work / 'grpc.db'}", work, key="grpc"
    )
    both = statehouse_server(
        "statehouse (grpc + http)",
        f"sqlite:///{work / 'both.db'}",
        work,
        key="both",
        extra=["--http-address", "127.0.0.1:0"],
    )
    with contextlib.ExitStack() as stack:
        for server in (grpc_only, both):
            stack.callback(server.stop)
            server.start()
        match = HTTP_READY.search(both.log_path.read_text())
        assert match, both.log_path.read_text()
        port = int(match.group(1))
        progress(f"http: gRPC-only on {grpc_only.target}, gRPC + HTTP on {both.target} and :{port}")

        async def measure() -> None:
            ids = {s.target: (await _create(s.target, 1, "one"))[0] for s in (grpc_only, both)}
            rates: dict[str, list[float]] = {"grpc_only": [], "grpc_with_http": []}
            connect: dict[str, list[float]] = {"binary": [], "json": []}
            errors = 0
            for _ in range(sizes.rounds):
                for key, server in (("grpc_only", grpc_only), ("grpc_with_http", both)):
                    rate, e = await _grpc_rate(server.target, ids[server.target], sizes)
                    rates[key].append(rate)
                    errors += e
                for codec in ("binary", "json"):
                    rate, e = await _connect_rate(port, ids[both.target], sizes, codec == "json")
                    connect[codec].append(rate)
                    errors += e
            result["unary_calls_per_s"] = {
                "grpc_only": round(sum(rates["grpc_only"]) / sizes.rounds),
                "grpc_with_http": round(sum(rates["grpc_with_http"]) / sizes.rounds),
                "connect_binary": round(sum(connect["binary"]) / sizes.rounds),
                "connect_json": round(sum(connect["json"]) / sizes.rounds),
            }
            result["round_ratios"] = [
                round(b / a, 3)
                for a, b in zip(rates["grpc_only"], rates["grpc_with_http"], strict=True)
            ]
            u = result["unary_calls_per_s"]
            result["grpc_ratio_with_http"] = round(u["grpc_with_http"] / u["grpc_only"], 3)
            # Alternating rounds, a flow each (every subscriber counts only its own).
            streams: dict[str, list[float]] = {"grpc": [], "connect": []}
            for r in range(sizes.rounds):
                for over in ("grpc", "connect"):
                    rate = await _deliveries(both.target, port, over, sizes, f"s-{over}-{r}")
                    streams[over].append(rate)
            result["stream_deliveries_per_s"] = {
                over: round(statistics.median(rates)) for over, rates in streams.items()
            }
            result["stream_round_ratios"] = [
                round(c / g, 3) for g, c in zip(streams["grpc"], streams["connect"], strict=True)
            ]
            if errors:
                result["errors"].append(f"{errors} calls failed")

        asyncio.run(measure())
    result["ok"] = not result["errors"]
    return result


def render(result: dict[str, Any]) -> str:
    if "unary_calls_per_s" not in result:
        return f"HTTP (Connect): {result.get('skipped') or result.get('errors')}"
    u, s = result["unary_calls_per_s"], result["stream_deliveries_per_s"]
    z = result["sizes"]
    return "\n".join(
        [
            f"HTTP (Connect) beside gRPC: GetExecution, {z['concurrency']} in flight, "
            f"{z['rounds']} alternating rounds of {z['round_seconds']}s",
            f"  gRPC, server without HTTP     {u['grpc_only']:>8} calls/s",
            f"  gRPC, server with HTTP on     {u['grpc_with_http']:>8} calls/s  "
            f"(ratio {result['grpc_ratio_with_http']}, rounds {result['round_ratios']})",
            f"  Connect binary (same server)  {u['connect_binary']:>8} calls/s",
            f"  Connect JSON (same server)    {u['connect_json']:>8} calls/s",
            f"  stream deliveries, {z['subscribers']} subscribers x {z['events']} events (the "
            f"writer in a process of its own; median of {z['rounds']} alternating rounds): "
            f"gRPC {s['grpc']}/s, Connect {s['connect']}/s: "
            f"{s['connect'] / s['grpc']:.2f} (rounds {result.get('stream_round_ratios')}; "
            "target >= 0.8)",
        ]
    )


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    outcome = run_phase(HttpSizes.quick() if quick else HttpSizes())
    print(render(outcome))
    sys.exit(0 if outcome["ok"] else 1)
