"""A plain grpc.aio unary echo server: the baseline that ``bench/run.py`` compares against.

One generic handler, ``/bench.Echo/Echo``, returns the request bytes as they
came (no protobuf parsing on either side). It runs on the same kind of event
loop as the Statehouse server (uvloop where installed) and with the same
channel options that matter for throughput, so the difference between the two
is the service's own work.

Usage: ``python bench/echo_server.py [--address 127.0.0.1:0]``; it logs
``echo serving on HOST:PORT`` on stderr when ready and stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

import grpc

METHOD = "/bench.Echo/Echo"


async def _echo(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    return request


class EchoHandler(grpc.GenericRpcHandler):
    """Answers every unary call on ``METHOD`` with its request bytes."""

    def __init__(self) -> None:
        # No (de)serializers: the handler sees and returns raw bytes.
        self._handler = grpc.unary_unary_rpc_method_handler(_echo)

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        if handler_call_details.method == METHOD:  # type: ignore[attr-defined]
            return self._handler
        return None


async def serve(address: str) -> None:
    server = grpc.aio.server(
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.server.max_pending_requests", 100_000),
            ("grpc.server.max_pending_requests_hard_limit", 100_000),
        ]
    )
    server.add_generic_rpc_handlers((EchoHandler(),))
    port = server.add_insecure_port(address)
    await server.start()
    host = address.rsplit(":", 1)[0]
    print(f"echo serving on {host}:{port}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:0")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:  # the same fallback as the Statehouse server
        asyncio.run(serve(args.address))
    else:
        uvloop.run(serve(args.address))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
