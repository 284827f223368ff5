"""Group commit: concurrent writes share one transaction, each undone alone
when it fails, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from statehouse.server import commands
from statehouse.server.orchestration import RevisionMismatch, State
from statehouse.server.storage import Store, Tx
from statehouse.v1 import (
    execution_service_pb2 as pb,
    execution_service_pb2_grpc,
    state_pb2 as st,
)

from .conftest import Running, ServerProcess, Stubs

pytestmark = pytest.mark.timeout(120)


async def _execution_with_task_runs(stubs: Stubs, count: int) -> tuple[str, list[str]]:
    created = await stubs.executions.CreateExecution(
        pb.CreateExecutionRequest(namespace="gc", flow_id="f")
    )
    ids = []
    for i in range(count):
        run = await stubs.executions.CreateTaskRun(
            pb.CreateTaskRunRequest(execution_id=created.execution.id, task_id=f"t{i}")
        )
        ids.append(run.task_run.id)
    return created.execution.id, ids


def _move(task_run_id: str, state: State, expected: int | None = None) -> Any:
    def work(tx: Tx) -> Any:
        task_run, execution, _ = commands.transition_task_run(
            tx,
            task_run_id,
            state,
            reason="",
            worker_id="w",
            outputs=None,
            expected_revision=expected,
        )
        return task_run.state, execution.revision

    return work


class Transactions:
    """Which database transactions ran the writes wrapped by :meth:`record`.

    The server's own writes (timers, compaction) may commit batches beside a
    test's: counting batches would count them too, so a test asks which
    transaction each of its writes ran in.
    """

    def __init__(self) -> None:
        self.seen: list[Any] = []  # kept: identity compared while alive

    def record(self, fn: Any) -> Any:
        def work(tx: Tx) -> Any:
            self.seen.append(tx.conn.get_transaction())
            return fn(tx)

        return work

    def distinct(self) -> int:
        return len({id(t) for t in self.seen})


async def _events_of(store: Store, execution_id: str) -> list[tuple[int, str, str]]:
    def read(tx: Tx) -> list[tuple[int, str, str]]:
        return [
            (e.sequence, e.task_id, e.state.value)
            for e in tx.read_events(0, limit=1000)
            if e.execution_id == execution_id
        ]

    return await store.read(read)


async def _a_taken_request_id(store: Store, request_id: str) -> Any:
    """Store ``request_id``, and return a write that stores it again: the database
    refuses it only when the batch is written (it bypasses get_request)."""
    await store.write(lambda tx: tx.put_request("caller", request_id, "m", "f", b"", 1))

    def reuse(tx: Tx) -> Any:
        tx.put_request("caller", request_id, "m", "f", b"", 2)
        return "stored"

    return reuse


async def test_a_refused_write_is_rolled_back_alone_and_the_others_commit(
    running_server: Running, stubs: Stubs
) -> None:
    store = running_server.server.store
    execution_id, (a, b, c) = await _execution_with_task_runs(stubs, 3)
    batch = Transactions()
    answers = await asyncio.gather(
        store.write(batch.record(_move(a, State.RUNNING))),
        # a stale revision: refused
        store.write(batch.record(_move(b, State.RUNNING, expected=999))),
        store.write(batch.record(_move(c, State.RUNNING))),
        return_exceptions=True,
    )
    # One transaction carried the three writes.
    assert len(batch.seen) == 3 and batch.distinct() == 1
    assert answers[0][0] is State.RUNNING and answers[2][0] is State.RUNNING
    assert isinstance(answers[1], RevisionMismatch)
    got = await stubs.executions.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    states = {t.task_id: st.State.Name(t.state) for t in got.execution.task_runs}
    assert states == {"t0": "STATE_RUNNING", "t1": "STATE_CREATED", "t2": "STATE_RUNNING"}
    # Its events: the committed writes' only, gapless, in arrival order.
    events = await _events_of(store, execution_id)
    tail = events[-3:]
    assert [(task, state) for _, task, state in tail] == [
        ("t0", "RUNNING"),
        ("", "RUNNING"),  # the execution, started by its first task run
        ("t2", "RUNNING"),
    ]
    sequences = [s for s, _, _ in events]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    assert got.execution.revision == answers[2][1]


async def test_writes_to_one_execution_in_one_batch_see_each_other(
    running_server: Running, stubs: Stubs
) -> None:
    store = running_server.server.store
    execution_id, (a,) = await _execution_with_task_runs(stubs, 1)
    got = await stubs.executions.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    revision = got.execution.revision
    batch = Transactions()
    answers = await asyncio.gather(
        store.write(batch.record(_move(a, State.RUNNING, expected=revision))),
        # Written against the revision the first write makes: it must see it.
        store.write(batch.record(_move(a, State.SUCCESS, expected=revision + 1))),
    )
    assert len(batch.seen) == 2 and batch.distinct() == 1
    assert [state for state, _ in answers] == [State.RUNNING, State.SUCCESS]
    assert [rev for _, rev in answers] == [revision + 1, revision + 2]


async def test_concurrent_rpcs_answer_each_their_own(running_server: Running, stubs: Stubs) -> None:
    """Through the real server: many writers at once, half of them refused."""
    store = running_server.server.store
    execution_id, ids = await _execution_with_task_runs(stubs, 40)
    before = (store.batches, store.batched_writes)

    async def move(i: int, task_run_id: str) -> grpc.StatusCode:
        state = st.STATE_RUNNING if i % 2 == 0 else st.STATE_SUCCESS  # CREATED -> SUCCESS: refused
        try:
            await stubs.executions.TransitionTaskRun(
                pb.TransitionTaskRunRequest(task_run_id=task_run_id, state=state)
            )
        except grpc.aio.AioRpcError as error:
            return error.code()
        return grpc.StatusCode.OK

    codes = await asyncio.gather(*(move(i, t) for i, t in enumerate(ids)))
    assert codes == [
        grpc.StatusCode.OK if i % 2 == 0 else grpc.StatusCode.FAILED_PRECONDITION for i in range(40)
    ]
    got = await stubs.executions.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    running = sorted(t.task_id for t in got.execution.task_runs if t.state == st.STATE_RUNNING)
    assert running == sorted(f"t{i}" for i in range(0, 40, 2))
    batches, writes = store.batches - before[0], store.batched_writes - before[1]
    # (the server's own writes, timers and compaction, may run meanwhile)
    assert writes >= 40 and 1 <= batches <= writes


def test_kill_9_under_load_loses_nothing_acknowledged(server_process: ServerProcess) -> None:
    """Sixteen writers (batches of many writes) when the server dies: every
    acknowledged execution is there after the restart."""
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    enough = threading.Event()

    def writer() -> None:
        with grpc.insecure_channel(server_process.target) as channel:
            stub = execution_service_pb2_grpc.ExecutionServiceStub(channel)
            while not stop.is_set():
                try:
                    created = stub.CreateExecution(
                        pb.CreateExecutionRequest(namespace="gc", flow_id="load"), timeout=5
                    )
                except grpc.RpcError:
                    return  # died under this call: not acknowledged
                with lock:
                    acknowledged.append(created.execution.id)
                    if len(acknowledged) >= 300:
                        enough.set()

    threads = [threading.Thread(target=writer) for _ in range(16)]
    for t in threads:
        t.start()
    assert enough.wait(60)
    server_process.kill()
    stop.set()
    for t in threads:
        t.join(30)
    server_process.start()
    with grpc.insecure_channel(server_process.target) as channel:
        stub = execution_service_pb2_grpc.ExecutionServiceStub(channel)
        missing = []
        for execution_id in acknowledged:
            try:
                stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id), timeout=5)
            except grpc.RpcError as error:
                missing.append((execution_id, error.code()))
    assert missing == []
    assert len(acknowledged) >= 300


def _move_then_fail(task_run_id: str) -> Any:
    """Moves a task run (its changes are kept by the Tx), then fails."""

    def work(tx: Tx) -> Any:
        commands.transition_task_run(
            tx,
            task_run_id,
            State.RUNNING,
            reason="",
            worker_id="w",
            outputs=None,
            expected_revision=None,
        )
        raise RuntimeError("failed after its change was kept")

    return work


def _store_a_credential_then_fail() -> Any:
    """Runs a statement at once (a credential is inserted in its savepoint), then fails."""

    def work(tx: Tx) -> Any:
        tx.insert_credential(
            {
                "name": "never-stored",
                "key_id": "k" * 12,
                "secret_hash": "0" * 64,
                "certificate_subject": None,
                "role": "reader",
                "namespaces": "[]",
                "create_time_us": 1,
                "created_by": "test",
                "expire_time_us": None,
                "revoke_time_us": None,
            }
        )
        raise RuntimeError("failed after a statement")

    return work


async def test_a_write_failing_after_its_changes_is_undone_alone(
    running_server: Running, stubs: Stubs
) -> None:
    """A failure after a write's change was kept, or after a statement it ran
    at once, undoes that write only: the others of the batch commit."""
    store = running_server.server.store
    execution_id, (a, b, c) = await _execution_with_task_runs(stubs, 3)
    batch = Transactions()
    answers = await asyncio.gather(
        store.write(batch.record(_move(a, State.RUNNING))),
        store.write(batch.record(_move_then_fail(b))),
        store.write(batch.record(_store_a_credential_then_fail())),
        store.write(batch.record(_move(c, State.RUNNING))),
        return_exceptions=True,
    )
    assert len(batch.seen) == 4 and batch.distinct() == 1
    assert isinstance(answers[1], RuntimeError) and isinstance(answers[2], RuntimeError)
    got = await stubs.executions.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    states = {t.task_id: st.State.Name(t.state) for t in got.execution.task_runs}
    assert states == {"t0": "STATE_RUNNING", "t1": "STATE_CREATED", "t2": "STATE_RUNNING"}
    # Two revisions, one per committed write; the execution's history is whole.
    assert got.execution.revision == answers[3][1]
    assert [st.State.Name(h.state) for h in got.execution.history] == [
        "STATE_CREATED",
        "STATE_RUNNING",
    ]
    assert not await store.read(lambda tx: tx.list_credentials())
    events = await _events_of(store, execution_id)
    assert [(task, state) for _, task, state in events[-3:]] == [
        ("t0", "RUNNING"),
        ("", "RUNNING"),
        ("t2", "RUNNING"),
    ]


async def test_a_conflict_found_at_the_end_runs_the_batch_one_by_one(
    running_server: Running, stubs: Stubs
) -> None:
    """A kept row that the database refuses when the batch is written (here a
    request id stored meanwhile) fails that write alone: the batch runs again,
    one write per transaction, and the others commit."""
    store = running_server.server.store
    execution_id, (a, b) = await _execution_with_task_runs(stubs, 2)
    reuse = await _a_taken_request_id(store, "taken")

    answers = await asyncio.gather(
        store.write(_move(a, State.RUNNING)),
        store.write(reuse),
        store.write(_move(b, State.RUNNING)),
        return_exceptions=True,
    )
    assert isinstance(answers[1], sa.exc.IntegrityError)
    assert answers[0][0] is State.RUNNING and answers[2][0] is State.RUNNING
    got = await stubs.executions.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    assert {st.State.Name(t.state) for t in got.execution.task_runs} == {"STATE_RUNNING"}


async def test_a_batch_costs_the_same_statements_whatever_its_size(
    running_server: Running, stubs: Stubs
) -> None:
    """The statements of a batch of task-run moves do not grow with its size:
    one read of all the task runs, one update per kind of row, one insert of
    the events (executemany), one sequence allocation.

    Each size is measured three times and the fewest kept: a write of the
    server's own (health's write probe, a sweep) that reaches the queue at the
    same moment shares the test's transaction, and its statements with it."""
    store = running_server.server.store
    counts: list[int] = []
    batch = Transactions()
    statements: list[tuple[Any, str]] = []

    def count(conn: sa.Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append((conn.get_transaction(), statement))

    for engine in store.engines():
        sa.event.listen(engine, "before_cursor_execute", count)
    try:
        for size in (2, 40):
            tries = []
            for _ in range(3):
                _, ids = await _execution_with_task_runs(stubs, size)
                batch.seen.clear()
                statements.clear()
                await asyncio.gather(
                    *(
                        store.write(batch.record(_move(i, State.RUNNING)), task_runs=(i,))
                        for i in ids
                    )
                )
                assert len(batch.seen) == size and batch.distinct() == 1
                # The batch's own statements, not those of the server's loops beside
                # it (the event hub's change watch, the timer scheduler's poll).
                ours = [s for t, s in statements if any(t is seen for seen in batch.seen)]
                tries.append(len(ours))
            counts.append(min(tries))
    finally:
        for engine in store.engines():
            sa.event.remove(engine, "before_cursor_execute", count)
    small, large = counts
    assert large == small, counts
    assert large <= 10, counts


async def test_a_write_of_parts_undoes_a_failed_part_alone(
    running_server: Running, stubs: Stubs
) -> None:
    """``write_many`` (a batch RPC's items): one queued write, its parts in one
    transaction in order, each part's failure its own answer, the others kept."""
    store = running_server.server.store
    execution_id, (a, b, c) = await _execution_with_task_runs(stubs, 3)
    batch = Transactions()
    answers = await store.write_many(
        [
            (batch.record(_move(a, State.RUNNING)), (a,)),
            (batch.record(_move_then_fail(b)), (b,)),
            (batch.record(_move(a, State.SUCCESS)), (a,)),  # sees the first part
            (batch.record(_move(c, State.RUNNING, expected=999)), (c,)),
        ]
    )
    assert len(batch.seen) == 4 and batch.distinct() == 1
    assert answers[0][0] is State.RUNNING and answers[2][0] is State.SUCCESS
    assert isinstance(answers[1], RuntimeError) and isinstance(answers[3], RevisionMismatch)
    got = await stubs.executions.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    states = {t.task_id: st.State.Name(t.state) for t in got.execution.task_runs}
    assert states == {"t0": "STATE_SUCCESS", "t1": "STATE_CREATED", "t2": "STATE_CREATED"}
    assert got.execution.revision == answers[2][1]
    assert await store.write_many([]) == []


async def test_a_conflict_in_a_write_of_parts_runs_its_parts_one_by_one(
    running_server: Running, stubs: Stubs
) -> None:
    """A conflict found when the batch is written runs each part of a write of
    parts in a transaction of its own, as separate writes would be."""
    store = running_server.server.store
    execution_id, (a, b) = await _execution_with_task_runs(stubs, 2)
    reuse = await _a_taken_request_id(store, "taken-parts")

    batch = Transactions()
    answers = await store.write_many(
        [
            (batch.record(_move(a, State.RUNNING)), (a,)),
            (batch.record(reuse), ()),
            (batch.record(_move(b, State.RUNNING)), (b,)),
        ]
    )
    assert isinstance(answers[1], sa.exc.IntegrityError)
    assert answers[0][0] is State.RUNNING and answers[2][0] is State.RUNNING
    # Once together, then each alone (the refused one twice: a request id
    # stored meanwhile is looked up once more).
    together, alone = batch.seen[:3], batch.seen[3:]
    assert len({id(t) for t in together}) == 1 and len(alone) >= 3
    assert len({id(t) for t in alone}) == len(alone)
    got = await stubs.executions.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    assert {st.State.Name(t.state) for t in got.execution.task_runs} == {"STATE_RUNNING"}


async def test_a_group_commit_counts_the_parts_of_its_writes(
    running_server: Running, stubs: Stubs
) -> None:
    """Writes of parts share a transaction up to ``group_commit_max`` parts in
    all (100): two writes of 60 parts take two transactions, and one write of
    150 parts takes one."""
    store = running_server.server.store
    assert store.options.group_commit_max == 100
    _, ids = await _execution_with_task_runs(stubs, 120)
    first, second = Transactions(), Transactions()
    await asyncio.gather(
        store.write_many([(first.record(_move(i, State.RUNNING)), (i,)) for i in ids[:60]]),
        store.write_many([(second.record(_move(i, State.RUNNING)), (i,)) for i in ids[60:]]),
    )
    assert first.distinct() == 1 and second.distinct() == 1
    assert first.seen[0] is not second.seen[0]
    whole = Transactions()
    _, more = await _execution_with_task_runs(stubs, 150)
    answers = await store.write_many([(whole.record(_move(i, State.RUNNING)), (i,)) for i in more])
    assert whole.distinct() == 1 and all(a[0] is State.RUNNING for a in answers)


async def test_a_write_of_parts_alone_is_a_shared_transaction(
    running_server: Running, stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alone in its transaction, a write of parts still shares it among its parts:
    the backend is told so, and a statement it refuses at the COMMIT (PostgreSQL's
    pipeline) is then a conflict that runs each part alone, not every part's error."""
    store = running_server.server.store
    _, (a,) = await _execution_with_task_runs(stubs, 1)
    told: list[bool] = []
    transaction = store.backend.transaction

    async def recording(fn: Any, **options: Any) -> Any:
        if options.get("write"):
            told.append(bool(options.get("shared")))
        return await transaction(fn, **options)

    monkeypatch.setattr(store.backend, "transaction", recording)
    answers = await store.write_many([(_move(a, State.RUNNING), (a,))])
    assert answers[0][0] is State.RUNNING
    assert True in told
