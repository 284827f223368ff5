"""PostgreSQL's write path (``storage/postgres.py``): a batch's last statements and
its COMMIT go in one pipeline on psycopg's connection, and the events take their
sequences from the counter row inside it. Pinned here: the one order of the log
with two replicas writing at once (a reader never sees a sequence before every
one below it), a statement refused in the pipeline failing its own write alone,
and a connection lost in the pipeline answered UNAVAILABLE (outcome unknown), or
lost after a refusal answered with the refusal."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import grpc
import psycopg
import pytest
import sqlalchemy as sa

from statehouse.server import commands
from statehouse.server.app import create_server
from statehouse.server.orchestration import State
from statehouse.server.storage import Tx
from statehouse.v1 import state_pb2 as st
from tests.eventually import eventually_async
from tests.pgcluster import PostgresCluster

from .conftest import BACKENDS, Running, Stubs, make_settings
from .helpers import create, details, get, move, task_run

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.timeout(120),
    pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL's write path"),
]


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster, pg_template: str) -> str:
    return pg_cluster.create_database(template=pg_template)


@pytest.fixture
async def replicas(pg_url: str) -> AsyncIterator[Callable[[], Any]]:
    started: list[Running] = []

    async def start() -> Running:
        settings = replace(make_settings(pg_url))
        server, port = await create_server(settings)
        await server.start()
        started.append(Running(server, port, settings))
        return started[-1]

    try:
        yield start
    finally:
        for running in started:
            await running.server.stop(0)


def _plain(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sql(url: str, statement: str) -> None:
    with psycopg.connect(_plain(url)) as conn:
        conn.execute(statement)


def _refuse_poison(url: str) -> None:
    """Make the database refuse a task run named ``poison`` entering RUNNING: an
    error raised by its UPDATE, inside the batch's commit pipeline."""
    _sql(
        url,
        """
        CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.task_id = 'poison' AND NEW.state = 'RUNNING' THEN
            RAISE EXCEPTION 'poisoned';
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_poison BEFORE UPDATE ON task_runs
          FOR EACH ROW EXECUTE FUNCTION refuse_poison();
        """,
    )


def _move(task_run_id: str, state: State) -> Any:
    def work(tx: Tx) -> Any:
        moved, _, _ = commands.transition_task_run(
            tx, task_run_id, state, reason="", worker_id="w", outputs=None, expected_revision=None
        )
        return moved.state

    return work


async def test_a_reader_never_sees_a_sequence_before_those_below_it(
    replicas: Callable[[], Any], pg_url: str
) -> None:
    """Two replicas commit batches at once; a reader polling the log finds, at
    every poll, the sequences after its last one without a hole: sequence order
    is commit order."""
    servers = [await replicas(), await replicas()]
    stubs = [Stubs(s.target) for s in servers]
    holes: list[tuple[int, list[int]]] = []
    seen: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        last = 0
        with psycopg.connect(_plain(pg_url), autocommit=True) as conn:
            while not stop.is_set():
                rows = conn.execute(
                    "SELECT sequence FROM events WHERE sequence > %s ORDER BY sequence", (last,)
                ).fetchall()
                got = [int(r[0]) for r in rows]
                if got and got != list(range(last + 1, last + 1 + len(got))):
                    holes.append((last, got[:10]))
                if got:
                    last = got[-1]
                    seen.extend(got)

    async def writer(stub: Stubs, count: int) -> None:
        for _ in range(count):
            ex = await create(stub, namespace="order", flow_id="f")
            runs = [await task_run(stub, ex.id, f"t{i}") for i in range(3)]
            await asyncio.gather(*(move(stub, r.id, st.STATE_RUNNING) for r in runs))
            await asyncio.gather(*(move(stub, r.id, st.STATE_SUCCESS) for r in runs))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        await asyncio.gather(*(writer(stubs[i % 2], 8) for i in range(12)))
    finally:
        stop.set()
        thread.join(30)
    assert not holes, f"a reader saw sequences past a hole: {holes[:3]}"
    assert seen == list(range(seen[0], seen[0] + len(seen)))
    # Both replicas wrote, in batches of several writes.
    for server in servers:
        assert server.server.store.batched_writes > server.server.store.batches > 0
    for stub in stubs:
        await stub.channel.close()


async def test_a_statement_refused_in_the_commit_pipeline_fails_its_write_alone(
    replicas: Callable[[], Any], pg_url: str
) -> None:
    """The update of one task run is refused by the database (a trigger) in the
    pipeline that carries the batch's COMMIT: nothing of the batch is stored, the
    writes run again one per transaction, and each gets its own answer."""
    running = await replicas()
    stubs = Stubs(running.target)
    ex = await create(stubs)
    runs = [await task_run(stubs, ex.id, f"t{i}") for i in range(4)]
    poison = await task_run(stubs, ex.id, "poison")
    _refuse_poison(pg_url)
    store = running.server.store
    before = store.batches
    ids = [r.id for r in runs[:2]] + [poison.id] + [r.id for r in runs[2:]]
    answers = await asyncio.gather(
        *(store.write(_move(i, State.RUNNING), task_runs=[i]) for i in ids),
        return_exceptions=True,
    )
    assert store.batches > before
    for task_run_id, answer in zip(ids, answers, strict=True):
        if task_run_id == poison.id:
            assert isinstance(answer, sa.exc.DBAPIError) and "poisoned" in str(answer)
        else:
            assert answer is State.RUNNING
    got = await get(stubs, ex.id)
    states = {t.task_id: st.State.Name(t.state) for t in got.task_runs}
    assert states == {
        **{f"t{i}": "STATE_RUNNING" for i in range(4)},
        "poison": "STATE_CREATED",
    }
    # The log: gapless, the committed writes' events only.
    with psycopg.connect(_plain(pg_url)) as conn:
        rows = conn.execute(
            "SELECT sequence, task_run_id, state FROM events WHERE execution_id = %s "
            "ORDER BY sequence",
            (ex.id,),
        ).fetchall()
        last = conn.execute("SELECT value FROM counters WHERE name = 'event_sequence'").fetchone()
    sequences = [int(r[0]) for r in rows]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    assert last is not None and int(last[0]) == sequences[-1]
    assert (poison.id, "RUNNING") not in {(r[1], r[2]) for r in rows}
    await stubs.channel.close()


async def test_a_connection_lost_in_the_commit_pipeline_answers_unavailable(
    replicas: Callable[[], Any], pg_url: str
) -> None:
    """The database ends the session in the middle of the commit's pipeline: the
    write's outcome is unknown, so it is answered UNAVAILABLE
    (COMMIT_OUTCOME_UNKNOWN), never INTERNAL; the replica then writes again."""
    running = await replicas()
    stubs = Stubs(running.target)
    ex = await create(stubs)
    lost = await task_run(stubs, ex.id, "lost")
    other = await task_run(stubs, ex.id, "other")
    _sql(
        pg_url,
        """
        CREATE FUNCTION end_session() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.task_id = 'lost' AND NEW.state = 'RUNNING' THEN
            PERFORM pg_terminate_backend(pg_backend_pid());
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER end_session BEFORE UPDATE ON task_runs
          FOR EACH ROW EXECUTE FUNCTION end_session();
        """,
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await move(stubs, lost.id, st.STATE_RUNNING)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert details(caught.value)[0] == "COMMIT_OUTCOME_UNKNOWN"
    # Not stored (the session ended before its COMMIT), and the replica writes on.
    got = await get(stubs, ex.id)
    assert {t.task_id: t.state for t in got.task_runs}["lost"] == st.STATE_CREATED

    async def written() -> bool:
        try:
            await move(stubs, other.id, st.STATE_RUNNING)
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            return False
        return True

    await eventually_async(written, "a write accepted again", step=0.1)
    await stubs.channel.close()


async def test_a_refused_write_whose_connection_is_lost_before_rollback_keeps_its_answer(
    replicas: Callable[[], Any], pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement refused in the pipeline (nothing stored), then the connection
    lost before its ROLLBACK (a primary killed meanwhile, seen in the failover
    test): the write is answered with its refusal, not with the lost ROLLBACK's
    error (which became INTERNAL), and the connection is discarded."""
    from sqlalchemy.ext.asyncio import AsyncConnection

    running = await replicas()
    stubs = Stubs(running.target)
    ex = await create(stubs)
    poison = await task_run(stubs, ex.id, "poison")
    _refuse_poison(pg_url)
    close = AsyncConnection.close
    lost: list[AsyncConnection] = []

    async def close_on_a_lost_connection(self: AsyncConnection) -> None:
        if self.in_transaction() and not lost:  # the refused write's rollback
            lost.append(self)
            raise sa.exc.OperationalError(
                "ROLLBACK",
                None,
                psycopg.OperationalError("consuming input failed: server closed the connection"),
            )
        await close(self)

    monkeypatch.setattr(AsyncConnection, "close", close_on_a_lost_connection)
    with pytest.raises(sa.exc.DBAPIError, match="poisoned"):
        await running.server.store.write(_move(poison.id, State.RUNNING), task_runs=[poison.id])
    assert lost and lost[0].closed
    monkeypatch.undo()
    got = await get(stubs, ex.id)
    assert got.task_runs[0].state == st.STATE_CREATED
    await stubs.channel.close()
