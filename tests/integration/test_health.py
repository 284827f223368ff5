"""Health follows the database: NOT_SERVING while it is unreachable, SERVING
again once it is back, on gRPC Health (Check and Watch), for every service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from .conftest import Running

Factory = Callable[..., Awaitable[Running]]
Status = health_pb2.HealthCheckResponse
SERVICES = (
    "",
    "statehouse.v1.ExecutionService",
    "statehouse.v1.EventService",
    "statehouse.v1.MetricService",
    "statehouse.v1.AdminService",
)


async def statuses(health: health_pb2_grpc.HealthStub) -> set[int]:
    found = set()
    for service in SERVICES:
        response = await health.Check(health_pb2.HealthCheckRequest(service=service))
        found.add(response.status)
    return found


@pytest.mark.xdist_group("pg-restart")
async def test_health_is_not_serving_while_the_database_is_down(
    request: pytest.FixtureRequest, server_factory: Factory, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a database server restart only exists on PostgreSQL")
    cluster = request.getfixturevalue("private_pg_cluster")
    running = await server_factory(
        database_url=cluster.create_database(), health_interval=0.2, health_timeout=1.0
    )
    channel = grpc.aio.insecure_channel(running.target)
    health = health_pb2_grpc.HealthStub(channel)
    loop = asyncio.get_running_loop()
    try:
        assert await statuses(health) == {Status.SERVING}
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
        assert (await asyncio.wait_for(watch.read(), 10)).status == Status.SERVING
        await loop.run_in_executor(None, cluster.stop_server)
        try:
            # Within a probe or two (0.2 s apart, each bounded by 1 s).
            changed = await asyncio.wait_for(watch.read(), 10)
            assert changed.status == Status.NOT_SERVING
            assert await statuses(health) == {Status.NOT_SERVING}
        finally:
            await loop.run_in_executor(None, cluster.start_server)
        back = await asyncio.wait_for(watch.read(), 20)
        assert back.status == Status.SERVING
        assert await statuses(health) == {Status.SERVING}
        watch.cancel()
    finally:
        await channel.close()


async def test_health_is_serving_once_ready(server_target: str) -> None:
    async with grpc.aio.insecure_channel(server_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        assert await statuses(health) == {Status.SERVING}
