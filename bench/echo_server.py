"""A plain grpc.aio protobuf echo server: the baseline that ``make bench`` compares against.

It serves ``statehouse.v1.ExecutionService/TransitionTaskRun`` through the
generated servicer (``execution_service_pb2_grpc``), so the client is the very
stub and message types that drive Statehouse: each call parses a
TransitionTaskRunRequest and answers a TransitionTaskRunResponse of the size
Statehouse answers (``--response FILE``: a serialized response captured from a
real transition; the task run's id is set to the request's), with no storage
behind it. It runs on the same kind of event loop as the Statehouse server
(uvloop where installed) and with the channel options that matter for
throughput, so the difference between the two is the service's own work.

Usage: ``python bench/echo_server.py [--address 127.0.0.1:0] [--response FILE]
[--ready-file PATH]``; when ready it logs ``echo serving on HOST:PORT`` on stderr and
writes ``--ready-file`` as ``statehouse serve`` does (the bench starts both servers
with one launcher, ``statehouse.server.testing``); it stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

import grpc

from statehouse.server.app import write_ready_file
from statehouse.server.net import Address
from statehouse.v1 import (
    execution_service_pb2 as es,
    execution_service_pb2_grpc as es_grpc,
    state_pb2,
)

STATE_RUNNING = state_pb2.STATE_RUNNING


class EchoServicer(es_grpc.ExecutionServiceServicer):
    """TransitionTaskRun answered with a same-sized response; nothing else."""

    def __init__(self, template: es.TransitionTaskRunResponse) -> None:
        self.template = template

    async def TransitionTaskRun(
        self, request: es.TransitionTaskRunRequest, context: Any
    ) -> es.TransitionTaskRunResponse:
        response = es.TransitionTaskRunResponse()
        response.CopyFrom(self.template)
        response.task_run.id = request.task_run_id
        response.task_run.state = request.state
        return response


def default_template() -> es.TransitionTaskRunResponse:
    response = es.TransitionTaskRunResponse(execution_revision=3, execution_state=STATE_RUNNING)
    task_run = response.task_run
    task_run.id = "0" * 32
    task_run.execution_id = "1" * 32
    task_run.task_id = "task-0-0"
    return response


async def serve(
    address: str, template: es.TransitionTaskRunResponse, ready_file: Path | None = None
) -> None:
    server = grpc.aio.server(
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.server.max_pending_requests", 100_000),
            ("grpc.server.max_pending_requests_hard_limit", 100_000),
        ]
    )
    es_grpc.add_ExecutionServiceServicer_to_server(EchoServicer(template), server)  # type: ignore[abstract]
    port = server.add_insecure_port(address)
    await server.start()
    print(
        f"echo serving on {Address.parse(address).with_port(port)} "
        f"(response of {template.ByteSize()} bytes)",
        file=sys.stderr,
        flush=True,
    )
    if ready_file is not None:  # what ``statehouse serve --ready-file`` writes
        write_ready_file(
            ready_file, grpc_port=port, http_port=None, metrics_port=None, pids=[os.getpid()]
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:0")
    parser.add_argument("--response", type=Path, help="a serialized TransitionTaskRunResponse")
    parser.add_argument("--ready-file", type=Path, help="once serving, write the port here")
    args = parser.parse_args()
    if args.response is not None:
        template = es.TransitionTaskRunResponse.FromString(args.response.read_bytes())
    else:
        template = default_template()
    try:
        import uvloop
    except ImportError:  # the same fallback as the Statehouse server
        asyncio.run(serve(args.address, template, args.ready_file))
    else:
        uvloop.run(serve(args.address, template, args.ready_file))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
