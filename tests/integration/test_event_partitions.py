"""The event log partitioned by sequence on PostgreSQL (``storage/partitions.py``).

Partitions of 10 or 20 events here (the ``counters`` row of the width), so
that a few hundred events cross many boundaries: partitions are made ahead as
the log grows and no insert ever fails (the tail takes what comes before the
housekeeper); retention drops whole partitions and deletes only the boundary
partition's rows, keeps every event it must, and subscribers see what they saw
before (OUT_OF_RANGE with the first sequence kept); two replicas append across
boundaries at once; and a log written before partitioning migrates and is
served byte for byte. The housekeeper's loop and the hub's compaction are run
by the tests (their intervals are an hour), so what each finds is known.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from importlib import resources
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from google.protobuf import duration_pb2

from statehouse.server.app import create_server
from statehouse.server.events import Retention
from statehouse.server.storage import partitions
from statehouse.v1 import (
    event_pb2,
    event_service_pb2 as epb,
    state_pb2 as st,
)
from tests.eventually import eventually_async
from tests.pgcluster import PostgresCluster

from .conftest import BACKENDS, ManualClock, Running, Stubs, make_settings
from .helpers import create, details, move, task_run

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        "postgresql" not in BACKENDS,
        reason="partitions are PostgreSQL's (STATEHOUSE_TEST_BACKENDS)",
    ),
]

Factory = Callable[..., Awaitable[Running]]
HOUR = 3600.0
DEADLINE = 30.0


def engine(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.NullPool)


def small_partitions(url: str, size: int) -> None:
    """An empty, migrated log laid out again in partitions of ``size`` sequences."""
    db = engine(url)
    try:
        with db.begin() as conn:
            for partition in partitions.list_partitions(conn) or []:
                conn.exec_driver_sql(f"DROP TABLE {partition.name}")
            conn.execute(
                sa.text("UPDATE counters SET value = :size WHERE name = :name"),
                {"size": size, "name": partitions.WIDTH_COUNTER},
            )
            partitions.make_room(conn, wait=True)
    finally:
        db.dispose()


def layout(url: str) -> list[partitions.Partition]:
    db = engine(url)
    try:
        with db.connect() as conn:
            return partitions.list_partitions(conn) or []
    finally:
        db.dispose()


def rows_by_partition(url: str) -> list[tuple[int, str]]:
    """Every event's sequence with the partition that holds it, in order."""
    db = engine(url)
    try:
        with db.connect() as conn:
            return [
                (int(r[0]), str(r[1]))
                for r in conn.exec_driver_sql(
                    "SELECT sequence, tableoid::regclass::text FROM events ORDER BY sequence"
                )
            ]
    finally:
        db.dispose()


def assert_well_formed(url: str) -> None:
    """Partitions contiguous from the first to the tail, each row inside its own."""
    found = layout(url)
    assert found and found[-1].name == partitions.TAIL and found[-1].upper is None
    for below, above in itertools.pairwise(found):
        assert below.upper == above.lower, (below, above)
    bounds = {p.name: p for p in found}
    for sequence, name in rows_by_partition(url):
        p = bounds[name]
        assert (p.lower is None or p.lower <= sequence) and (
            p.upper is None or sequence < p.upper
        ), (sequence, p)


@pytest.fixture
def database_url(pg_cluster: PostgresCluster, pg_template: str) -> str:
    """A fresh PostgreSQL database, its log in partitions of 10 events."""
    url = pg_cluster.create_database(template=pg_template)
    small_partitions(url, 10)
    return url


async def start(server_factory: Factory, **overrides: object) -> Running:
    """A replica whose housekeeper and compaction the test runs itself."""
    running = await server_factory(
        housekeeping_interval=HOUR, compaction_interval=HOUR, **overrides
    )
    await running.server.housekeeper.close()  # its loop; make_room() is the test's
    return running


async def log_of(stubs: Stubs, after: int, upto: int, **request: Any) -> list[bytes]:
    """The events after ``after`` up to ``upto`` by Subscribe (matching its filter),
    each as its bytes; up to a heartbeat that covers ``upto``."""
    call = stubs.events.Subscribe(
        epb.SubscribeRequest(
            after_sequence=after,
            max_events_per_message=7,
            heartbeat_interval=duration_pb2.Duration(nanos=100_000_000),
            **request,
        )
    )
    got: list[bytes] = []

    async def read() -> None:
        async for response in call:
            if response.HasField("heartbeat") and response.heartbeat.sequence >= upto:
                return
            events = [response.event] if response.HasField("event") else list(response.events)
            for event in events:
                got.append(event.SerializeToString(deterministic=True))
                if event.sequence >= upto:
                    return

    try:
        await asyncio.wait_for(read(), DEADLINE)
    finally:
        call.cancel()
    return got


def sequences(encoded: list[bytes]) -> list[int]:
    out = []
    for data in encoded:
        event = event_pb2.StateChangeEvent()
        event.ParseFromString(data)
        out.append(event.sequence)
    return out


async def write_events(stubs: Stubs, count: int) -> None:
    """``count`` events: one execution created per event."""
    for _ in range(count):
        await create(stubs)


async def grow(running: Running, stubs: Stubs, count: int) -> None:
    """``count`` events, the housekeeper making room after every 5: partitions of
    the width, none of the events in the tail."""
    for _ in range(0, count, 5):
        await write_events(stubs, 5)
        await running.server.housekeeper.make_room(wait=True)


async def head_of(running: Running) -> int:
    return await running.server.store.read(lambda tx: tx.last_sequence())


@contextlib.contextmanager
def statements(running: Running) -> Iterator[list[tuple[str, int]]]:
    """The statements the replica's store runs meanwhile, with the rows each changed."""
    seen: list[tuple[str, int]] = []

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append((statement, getattr(cursor, "rowcount", -1)))

    engines = running.server.store.engines()
    for each in engines:
        sa.event.listen(each, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        for each in engines:
            sa.event.remove(each, "after_cursor_execute", after)


# -- made ahead as the log grows ---------------------------------------------------


async def test_the_tail_takes_what_comes_before_the_housekeeper_then_is_bounded(
    server_factory: Factory, database_url: str
) -> None:
    running = await start(server_factory)
    stubs = Stubs(running.target)
    try:
        # Partitions [0, 10), [10, 20), then the tail from 20: 60 events, none refused.
        await write_events(stubs, 60)
        assert {name for _, name in rows_by_partition(database_url)} >= {partitions.TAIL}
        before = await log_of(stubs, 0, 60)
        assert sequences(before) == list(range(1, 61))
        room = await running.server.housekeeper.make_room(wait=True)
        # The tail (41 events, 20..60) became [20, 70), then [70, 80), a new tail.
        assert (room.created, room.spilled) == (2, 41)
        assert [(p.lower, p.upper) for p in layout(database_url)] == [
            (0, 10),
            (10, 20),
            (20, 70),
            (70, 80),
            (80, None),
        ]
        assert_well_formed(database_url)
        assert await log_of(stubs, 0, 60) == before
        # Nothing more to do until the head comes within a partition of the tail.
        assert (await running.server.housekeeper.make_room(wait=True)).created == 0
        await write_events(stubs, 10)
        assert (await running.server.housekeeper.make_room(wait=True)).created == 1
        assert [p.lower for p in layout(database_url)][-3:] == [70, 80, 90]
        assert all(name != partitions.TAIL for _, name in rows_by_partition(database_url))
    finally:
        await stubs.channel.close()


async def test_partitions_are_made_ahead_as_the_log_grows_and_reads_are_pruned(
    server_factory: Factory, database_url: str
) -> None:
    running = await server_factory(housekeeping_interval=0.02, compaction_interval=HOUR)
    stubs = Stubs(running.target)
    try:
        # Eight writers, one event each per call: the housekeeper makes room meanwhile.
        await asyncio.gather(*(write_events(stubs, 40) for _ in range(8)))
        await running.server.housekeeper.close()  # its loop; then once more, to be sure
        await running.server.housekeeper.make_room(wait=True)
        head = await head_of(running)
        assert head == 320
        assert_well_formed(database_url)
        found = layout(database_url)
        assert found[-1].lower is not None and found[-1].lower > head + 10  # room ahead
        assert sequences(await log_of(stubs, 0, head)) == list(range(1, head + 1))
        # A read after a cursor touches only the partitions from the cursor's on, on
        # their primary keys, in order (no sort). (Partitions of 10 rows are read
        # whole by the planner's choice: with whole reads off, it shows the path a
        # partition of a million rows takes.)
        db = engine(database_url)
        try:
            with db.connect() as conn:
                conn.exec_driver_sql("SET enable_seqscan = off")
                conn.exec_driver_sql("SET enable_bitmapscan = off")
                plan = "\n".join(
                    r[0]
                    for r in conn.exec_driver_sql(
                        "EXPLAIN SELECT * FROM events WHERE sequence > 305 "
                        "ORDER BY sequence LIMIT 100"
                    )
                )
        finally:
            db.dispose()
        scanned = {p.name for p in found if p.name in plan}
        assert scanned == {p.name for p in found if p.upper is None or p.upper > 306}, plan
        assert "Index Scan using" in plan and "Sort" not in plan, plan
    finally:
        await stubs.channel.close()


# -- retention ------------------------------------------------------------------------


@pytest.mark.parametrize(("keep", "boundary_rows"), [(25, 1), (26, 0)])
async def test_retention_drops_whole_partitions_and_deletes_only_the_boundary_rows(
    server_factory: Factory, database_url: str, keep: int, boundary_rows: int
) -> None:
    running = await start(server_factory)
    stubs = Stubs(running.target)
    hub = running.server.hub
    try:
        await grow(running, stubs, 95)
        before = await log_of(stubs, 0, 95)
        live = asyncio.create_task(log_of(stubs, 95, 100))
        # Subscribed (registered with the hub): from here it is live.
        await eventually_async(lambda: hub.subscriptions, "the live stream subscribed")
        cutoff = 95 - keep  # 70: [0, 10) .. [60, 70) whole, row 70 alone; 69: no row
        hub.retention = Retention(max_events=keep)
        with statements(running) as seen:
            assert await hub.compact() == cutoff
        dropped = [s for s, _ in seen if s.startswith("DROP TABLE")]
        assert len(dropped) == 7
        deletes = [n for s, n in seen if s.startswith("DELETE FROM events")]
        assert deletes == [boundary_rows]
        assert layout(database_url)[0].lower == 70
        assert_well_formed(database_url)
        scraped = (await running.server.store.metrics.scrape()).decode()
        assert f'statehouse_retention_deleted_total{{kind="event"}} {float(cutoff)}' in scraped
        # Kept: every event after the cutoff, byte for byte.
        assert await log_of(stubs, cutoff, 95) == before[cutoff:]
        assert await log_of(stubs, 0, 95) == before[cutoff:]  # 0: all retained history
        # A cursor in what was dropped: OUT_OF_RANGE, with the first sequence kept.
        call = stubs.events.Subscribe(epb.SubscribeRequest(after_sequence=10))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await asyncio.wait_for(call.read(), DEADLINE)
        assert info.value.code() == grpc.StatusCode.OUT_OF_RANGE
        assert details(info.value)[:2] == (
            "SEQUENCE_COMPACTED",
            {"first_sequence": str(cutoff + 1)},
        )
        # The live subscriber goes on as if nothing happened.
        await write_events(stubs, 5)
        assert sequences(await live) == [96, 97, 98, 99, 100]
    finally:
        await stubs.channel.close()


async def test_retention_by_age_drops_only_partitions_whose_every_event_is_old(
    server_factory: Factory, database_url: str, manual_clock: ManualClock
) -> None:
    running = await start(server_factory)
    stubs = Stubs(running.target)
    hub = running.server.hub
    try:
        now = manual_clock.now
        manual_clock.now = now - int(2 * HOUR * 1_000_000)
        await grow(running, stubs, 35)  # 1..35: two hours old
        manual_clock.now = now
        await grow(running, stubs, 10)  # 36..45: new
        before = await log_of(stubs, 0, 45)
        hub.retention = Retention(max_age_seconds=HOUR)
        with statements(running) as seen:
            assert await hub.compact() == 35
        assert len([s for s, _ in seen if s.startswith("DROP TABLE")]) == 3  # up to 29
        assert [n for s, n in seen if s.startswith("DELETE FROM events")] == [6]  # 30..35
        assert layout(database_url)[0].lower == 30
        assert await log_of(stubs, 0, 45) == before[35:]
        # Nothing older than an hour is left, nothing younger was touched.
        assert await hub.compact() == 0
    finally:
        await stubs.channel.close()


# -- replicas -----------------------------------------------------------------------


async def test_two_replicas_append_across_partition_boundaries(
    server_factory: Factory, database_url: str
) -> None:
    # Both housekeepers make room every 20 ms: they meet at the advisory lock.
    a = await server_factory(housekeeping_interval=0.02, compaction_interval=HOUR)
    b = await server_factory(housekeeping_interval=0.02, compaction_interval=HOUR)
    stubs = [Stubs(a.target), Stubs(b.target)]
    executions: list[str] = []

    async def writer(n: int) -> None:
        s = stubs[n % 2]
        for _ in range(6):
            ex = await create(s, flow_id=f"w{n}")
            tr = await task_run(s, ex.id)
            await move(s, tr.id, st.STATE_RUNNING)  # the execution goes RUNNING too
            await move(s, tr.id, st.STATE_SUCCESS)
            executions.append(ex.id)

    try:
        followers = [asyncio.create_task(log_of(s, 0, 8 * 6 * 5)) for s in stubs]
        await asyncio.sleep(0.2)
        await asyncio.gather(*(writer(n) for n in range(8)))
        total = 8 * 6 * 5  # created, task run created, 2 x RUNNING, SUCCESS
        assert await head_of(a) == total
        on_a, on_b = await asyncio.gather(*followers)
        assert on_a == on_b and sequences(on_a) == list(range(1, total + 1))
        for each in (a, b):
            await each.server.housekeeper.close()
            await each.server.housekeeper.make_room(wait=True)
        assert_well_formed(database_url)
        assert [s for s, _ in rows_by_partition(database_url)] == list(range(1, total + 1))
        # Both compact at once: one drops, the other finds nothing or the rows; a suffix.
        for each in (a, b):
            each.server.hub.retention = Retention(max_events=33)
        await asyncio.gather(a.server.hub.compact(), b.server.hub.compact())
        kept = [s for s, _ in rows_by_partition(database_url)]
        assert kept == list(range(total - 33 + 1, total + 1))
        assert await log_of(stubs[1], 0, total) == on_a[-33:]
    finally:
        for s in stubs:
            await s.channel.close()


# -- the migration ------------------------------------------------------------------


def migrate_to(url: str, revision: str, *, down: bool = False) -> None:
    db = engine(url)
    try:
        with db.connect() as conn:
            config = Config()
            location = resources.files("statehouse.server.storage") / "migrations"
            config.set_main_option("script_location", str(location))
            config.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(config, revision)
            conn.commit()
    finally:
        db.dispose()


def stored_rows(url: str) -> list[tuple[Any, ...]]:
    db = engine(url)
    try:
        with db.connect() as conn:
            return [
                tuple(r) for r in conn.exec_driver_sql("SELECT * FROM events ORDER BY sequence")
            ]
    finally:
        db.dispose()


@pytest.fixture
async def serve(pg_cluster: PostgresCluster) -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    started: list[Running] = []

    async def run(url: str, **overrides: object) -> Running:
        settings = replace(make_settings(url), **overrides)  # type: ignore[arg-type]
        server, port = await create_server(settings)
        await server.start()
        started.append(Running(server, port, settings))
        return started[-1]

    yield run
    for running in started:
        with contextlib.suppress(Exception):
            await running.server.stop(0)


async def reads(stubs: Stubs, head: int, namespace: str) -> list[list[bytes]]:
    """The log by every kind of read: all of it, from a cursor, by namespace."""
    return [
        await log_of(stubs, 0, head),
        await log_of(stubs, head // 2, head),
        await log_of(
            stubs,
            0,
            head,
            filter=event_pb2.EventFilter(namespace=namespace),
        ),
    ]


async def test_a_log_written_before_partitioning_migrates_and_reads_byte_for_byte(
    pg_cluster: PostgresCluster, serve: Callable[..., Awaitable[Running]]
) -> None:
    url = pg_cluster.create_database()
    migrate_to(url, "0007")  # the schema the current main writes: one events table
    old = await serve(url, migrate=False, housekeeping_interval=HOUR)
    stubs = Stubs(old.target)
    namespace = "team.x-1"
    for i in range(12):
        ex = await create(stubs, namespace=namespace if i % 3 else "other", flow_id=f"f{i}")
        tr = await task_run(stubs, ex.id, "t" * 100)
        await move(stubs, tr.id, st.STATE_RUNNING, worker_id="w🚀")
        await move(stubs, tr.id, st.STATE_FAILED, reason="why:\n\t" + "r" * 500 + " 𝄞")
    head = await head_of(old)
    assert head == 12 * 4 + 12  # + each execution's RUNNING
    before_rows = stored_rows(url)
    before = await reads(stubs, head, namespace)
    await stubs.channel.close()
    await old.server.stop(0)

    new = await serve(url, housekeeping_interval=HOUR)  # migrates
    stubs = Stubs(new.target)
    try:
        assert [(p.lower, p.upper) for p in layout(url)] == [
            (None, 1_000_000),
            (1_000_000, 2_000_000),
            (2_000_000, None),
        ]
        assert stored_rows(url) == before_rows
        assert await reads(stubs, head, namespace) == before
        await create(stubs, namespace=namespace)
        assert sequences(await log_of(stubs, head, head + 1)) == [head + 1]
        assert stored_rows(url)[:-1] == before_rows
    finally:
        await stubs.channel.close()
        await new.server.stop(0)
    # And back, and forth again: the same rows.
    rows = stored_rows(url)
    migrate_to(url, "0007", down=True)
    assert layout(url) == [] and stored_rows(url) == rows
    migrate_to(url, "head")
    assert stored_rows(url) == rows and len(layout(url)) == 3
