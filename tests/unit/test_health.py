"""What health reports (``statehouse.server.background.health``), without a database: the
store and the hub are stand-ins whose answers the test sets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from statehouse.server.background.health import EVENT_SERVICE, Facts, HealthMonitor
from statehouse.server.storage import StorageUnavailable
from statehouse.server.telemetry import OutageLog

SERVICES = (
    "statehouse.v1.ExecutionService",
    EVENT_SERVICE,
    "statehouse.v1.MetricService",
    "statehouse.v1.AdminService",
)


class FakeStore:
    def __init__(self) -> None:
        self.sequence = 0
        self.reachable = True
        self.migrated = True
        self.listeners: list[Callable[[], None]] = []
        self.outage = OutageLog(logging.getLogger("test.outage"))
        #: Whether a write commits (health's write probe), and the probes made.
        self.commits = True
        self.write_probes = 0

    def add_unavailable_listener(self, listener: Callable[[], None]) -> None:
        self.listeners.append(listener)

    async def read(self, fn: Any) -> int:
        if not self.reachable:
            raise StorageUnavailable("connection refused")
        return self.sequence

    async def probe_write(self) -> None:
        self.write_probes += 1
        if not self.commits:
            for listener in self.listeners:
                listener()
            raise StorageUnavailable("no commit within 10.0 s")

    def schema_is_current(self) -> bool:
        return self.migrated


class FakeHub:
    head = 0
    closed = False


def monitor() -> tuple[HealthMonitor, FakeStore, FakeHub, dict[str, bool]]:
    store, hub = FakeStore(), FakeHub()
    published: dict[str, bool] = {}

    async def publish(service: str, serving: bool) -> None:
        published[service] = serving

    health = HealthMonitor(store, hub, SERVICES, publish, interval=0.01)  # type: ignore[arg-type]
    return health, store, hub, published


@pytest.mark.parametrize(
    ("facts", "overall", "events", "others"),
    [
        (Facts(True, True, True), True, True, True),
        (Facts(False, True, False), False, False, False),
        (Facts(True, False, True), False, False, False),
        (Facts(True, True, False), False, False, True),
    ],
    ids=["ready", "database down", "not migrated", "tailer behind"],
)
def test_each_service_needs_its_own_facts(
    facts: Facts, overall: bool, events: bool, others: bool
) -> None:
    assert facts.serving("") is overall
    assert facts.serving(EVENT_SERVICE) is events
    assert facts.serving("statehouse.v1.ExecutionService") is others


async def test_the_database_going_away_and_back_flips_every_service() -> None:
    health, store, _, published = monitor()
    await health.probe()
    assert published == dict.fromkeys(("", *SERVICES), True)
    store.reachable = False
    await health.probe()
    assert published == dict.fromkeys(("", *SERVICES), False)
    store.reachable = True
    await health.probe()
    assert all(published.values())


async def test_a_write_that_finds_the_database_unreachable_flips_it_at_once() -> None:
    health, store, _, published = monitor()
    await health.probe()
    store.listeners[0]()  # what the store calls on StorageUnavailable
    await asyncio.sleep(0)
    assert not any(published.values())
    await asyncio.sleep(0.05)  # the write probe commits
    await health.probe()  # the database answers again
    assert all(published.values())
    await health.close()


async def test_writes_decide_health_reads_alone_do_not() -> None:
    """A commit that hangs (a primary waiting for a synchronous standby that is
    gone) while reads answer: NOT_SERVING until a write commits again."""
    health, store, _, published = monitor()
    await health.probe()
    store.commits = False
    store.listeners[0]()  # a write found no commit within --commit-timeout
    for _ in range(3):
        await asyncio.sleep(0.03)
        await health.probe()  # reads answer
        assert not any(published.values())
    assert store.write_probes >= 2  # retried every interval
    store.commits = True
    await asyncio.sleep(0.05)
    await health.probe()
    assert all(published.values())
    await health.close()


async def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    health, store, _, _ = monitor()
    with caplog.at_level(logging.INFO, logger="test.outage"):
        await health.probe()
        store.reachable = False
        for _ in range(5):
            store.outage.failed("reads", "connection refused")
            store.outage.failed("writes", "connection refused")
            await health.probe()
        store.outage.ok("reads")
        store.reachable = True
        await health.probe()
        assert len(caplog.records) == 1  # writes have not succeeded yet
        store.outage.ok("writes")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "unavailable (reads: connection refused)" in lines[0]
    assert "available again after" in lines[1]
    assert "10 failed attempts: reads 5, writes 5" in lines[1]


async def test_not_ready_until_migrated() -> None:
    health, store, _, published = monitor()
    store.migrated = False
    await health.probe()
    assert not any(published.values())
    store.migrated = True
    await health.probe()
    assert all(published.values())


async def test_event_service_waits_for_the_tailer_to_catch_up() -> None:
    health, store, hub, published = monitor()
    await health.probe()
    store.sequence = 10  # committed elsewhere; the hub has not read it yet
    await health.probe()
    assert published[EVENT_SERVICE] is True  # only a probe later is it behind
    await health.probe()
    assert published[EVENT_SERVICE] is False and published[""] is False
    assert published["statehouse.v1.ExecutionService"] is True
    hub.head = 10
    await health.probe()
    assert published[EVENT_SERVICE] is True and published[""] is True
