"""The SQLite writer's kept rows: the next state change of a task run neither
reads nor decodes it again, until another connection commits to the file
(``storage/sqlite.py``, ``KeptRows``)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from statehouse.server import commands
from statehouse.server.orchestration import (
    Attempt,
    Execution,
    InvalidTransition,
    NotFound,
    RetryKind,
    RetryPolicy,
    State,
    StateChange,
    TaskRun,
)
from statehouse.server.storage import Store, Tx, codec
from statehouse.server.storage.sqlite import KeptRows
from statehouse.server.storage.tx.changes import _as_decoded, _execution_as_decoded
from statehouse.server.storage.tx.core import SeenRows

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "kept.sqlite"
    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.close()
    return path


@pytest.fixture
async def store(database: Path) -> AsyncIterator[Store]:
    store = Store(f"sqlite:///{database}")
    try:
        yield store
    finally:
        await store.aclose()


def _create(tx: Tx) -> str:
    execution = commands.create_execution(
        tx, commands.NewExecution(namespace="kept", flow_id="f", labels={"b": "2", "a": "1"})
    )
    task_run, _ = commands.create_task_run(
        tx,
        commands.NewTaskRun(
            execution_id=execution.id,
            task_id="t",
            retry_policy=RetryPolicy(RetryKind.CONSTANT, max_attempts=3, interval_us=1_000_000),
            attempt_timeout_us=60_000_000,
        ),
        None,
    )
    return task_run.id


def _move(task_run_id: str, state: State, outputs: Any = None) -> Any:
    def work(tx: Tx) -> Any:
        task_run, _, _ = commands.transition_task_run(
            tx,
            task_run_id,
            state,
            reason="",
            worker_id="w",
            outputs=outputs,
            expected_revision=None,
            lease_us=30_000_000 if state is State.RUNNING else None,
        )
        return task_run

    return work


def _stored(task_run_id: str) -> Any:
    def read(tx: Tx) -> Any:
        found = tx.read_task_run(task_run_id)
        assert found is not None
        return found.task_run

    return read


class Statements:
    """The statements each transaction of a store ran."""

    def __init__(self, store: Store) -> None:
        self.seen: list[tuple[Any, str]] = []
        self.engine = store.engines()[0]
        sa.event.listen(self.engine, "before_cursor_execute", self._record)

    def _record(self, conn: sa.Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        self.seen.append((conn.get_transaction(), statement))

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)


def _recorded(fn: Any, into: list[Any]) -> Any:
    def work(tx: Tx) -> Any:
        into.append(tx.conn.get_transaction())
        return fn(tx)

    return work


async def test_a_task_run_moved_again_is_neither_read_nor_decoded_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_run_id = await store.write(_create)
    statements = Statements(store)
    decoded: list[str] = []
    decode = codec.task_run_from_row
    monkeypatch.setattr(
        codec, "task_run_from_row", lambda row: decoded.append(row["id"]) or decode(row)
    )
    ours: list[Any] = []
    try:
        running = await store.write(
            _recorded(_move(task_run_id, State.RUNNING), ours), task_runs=(task_run_id,)
        )
        done = await store.write(
            _recorded(_move(task_run_id, State.SUCCESS, {"z": 1, "a": [1, 2]}), ours),
            task_runs=(task_run_id,),
        )
    finally:
        statements.close()
    reads = [s for t, s in statements.seen if any(t is o for o in ours) and "FROM task_runs" in s]
    assert reads == [], reads
    assert decoded == []
    assert running.state is State.RUNNING and done.state is State.SUCCESS
    # What the writes saw is what is stored: the same task run read afresh.
    stored = await store.read(_stored(task_run_id))
    assert stored.state is State.SUCCESS
    assert [h.state for h in stored.history] == [State.CREATED, State.RUNNING, State.SUCCESS]
    assert stored.outputs == {"a": [1, 2], "z": 1}
    # The next write's copy is what the row decodes to: outputs in their stored
    # key order (the write's own answer kept them as they came).
    kept = await store.write(lambda tx: tx.get_task_run(task_run_id))
    assert kept == stored and list(kept.outputs) == ["a", "z"]
    assert list(done.outputs) == ["z", "a"]


async def test_a_change_another_connection_commits_is_seen(store: Store, database: Path) -> None:
    task_run_id = await store.write(_create)
    await store.write(_move(task_run_id, State.RUNNING), task_runs=(task_run_id,))
    # Another writer of the file (a second process's store) ends the task run.
    other = Store(f"sqlite:///{database}")
    try:
        await other.write(_move(task_run_id, State.FAILED), task_runs=(task_run_id,))
    finally:
        await other.aclose()
    # This store's writer kept the task run RUNNING: it must read it again.
    with pytest.raises(InvalidTransition):
        await store.write(_move(task_run_id, State.SUCCESS), task_runs=(task_run_id,))
    # Failed with retries left: restarted, as the other store left it.
    assert (await store.read(_stored(task_run_id))).state is State.RESTARTED


async def test_a_change_made_by_hand_is_seen(store: Store, database: Path) -> None:
    task_run_id = await store.write(_create)
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE task_runs SET value = 'set by hand' WHERE id = ?", (task_run_id,))
    moved = await store.write(_move(task_run_id, State.RUNNING), task_runs=(task_run_id,))
    assert moved.value == "set by hand"


async def test_a_failed_transaction_leaves_no_kept_row(store: Store) -> None:
    task_run_id = await store.write(_create)

    def move_then_fail(tx: Tx) -> None:
        _move(task_run_id, State.RUNNING)(tx)
        raise RuntimeError("failed after its change was kept")

    with pytest.raises(RuntimeError):
        await store.write(move_then_fail, task_runs=(task_run_id,))
    # The move was rolled back: RUNNING is still a move to make, not a repeat.
    moved = await store.write(_move(task_run_id, State.RUNNING), task_runs=(task_run_id,))
    assert [h.state for h in moved.history] == [State.CREATED, State.RUNNING]
    assert len(moved.attempts) == 1


async def test_deleted_executions_are_not_kept(store: Store) -> None:
    task_run_id = await store.write(_create)
    execution_id = (await store.read(_stored(task_run_id))).execution_id
    await store.write(lambda tx: tx.delete_execution(execution_id))
    with pytest.raises(NotFound):
        await store.write(_move(task_run_id, State.RUNNING), task_runs=(task_run_id,))


async def test_writes_of_one_batch_and_the_next_see_each_other(store: Store) -> None:
    ids = [await store.write(_create) for _ in range(8)]
    for state in (State.RUNNING, State.SUCCESS):
        moved = await asyncio.gather(*(store.write(_move(i, state), task_runs=(i,)) for i in ids))
        assert {m.state for m in moved} == {state}
    for i in ids:
        stored = await store.read(_stored(i))
        assert [h.state for h in stored.history] == [State.CREATED, State.RUNNING, State.SUCCESS]


def test_kept_rows_last_while_no_other_connection_commits(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite"
    writer = sqlite3.connect(path, isolation_level=None)
    other = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x)")
    kept = KeptRows(limit=100)

    def transaction(connection: sqlite3.Connection) -> SeenRows:
        connection.execute("BEGIN IMMEDIATE")
        rows = kept.take(connection)
        connection.execute("INSERT INTO t VALUES (1)")
        connection.execute("COMMIT")
        kept.committed()
        return rows

    transaction(writer).task_runs["a"] = {"id": "a"}
    assert transaction(writer).task_runs == {"a": {"id": "a"}}  # its own commit
    other.execute("INSERT INTO t VALUES (2)")
    assert transaction(writer).task_runs == {}  # another connection's
    transaction(writer).task_runs["b"] = {"id": "b"}
    second = sqlite3.connect(path, isolation_level=None)
    assert transaction(second).task_runs == {}  # another connection of its own
    kept.forget()
    assert transaction(second).task_runs == {}


def test_kept_rows_keep_the_latest_seen() -> None:
    kept = KeptRows(limit=8)
    rows = kept.rows
    for i in range(20):
        rows.task_runs[f"t{i}"] = {"id": f"t{i}"}
        rows.executions[f"e{i}"] = {"id": f"e{i}"}
        rows.history_len[f"e{i}"] = 1
    kept.committed()
    for table in (rows.task_runs, rows.executions, rows.history_len):
        assert 0 < len(table) <= 8
    assert list(rows.task_runs)[-1] == "t19" and "t0" not in rows.task_runs


def test_what_a_write_keeps_is_what_its_row_decodes_to() -> None:
    """A write keeps the task run and execution it saved as their new rows
    decode (documents in their stored key order, no lease expiry), not as the
    objects the rules changed, so that the next write's copy is a decode's."""
    history = [StateChange(State.CREATED, 1, "created", "a"), StateChange(State.RUNNING, 2)]
    task_run = TaskRun(
        id="t",
        execution_id="e",
        task_id="task",
        state=State.RUNNING,
        history=list(history),
        create_time_us=1,
        update_time_us=2,
        value="v",
        attempts=[
            Attempt(1, State.FAILED, list(history), "w1"),
            Attempt(2, State.RUNNING, list(history), "w2", lease_us=5, lease_expire_time_us=9),
        ],
        outputs={"z": {"y": 1, "b": 2}, "a": 1.5},
        retry_policy=RetryPolicy(RetryKind.CONSTANT, max_attempts=3, interval_us=7),
        next_attempt_time_us=11,
        attempt_timeout_us=13,
    )
    row = codec.task_run_row(task_run)
    kept = _as_decoded(task_run, row)
    assert kept == codec.task_run_from_row(row)
    assert list(kept.outputs or {}) == ["a", "z"] and list((kept.outputs or {})["z"]) == ["b", "y"]
    kept.history.append(StateChange(State.SUCCESS, 3))
    kept.attempts[-1].history.append(StateChange(State.SUCCESS, 3))
    assert len(task_run.history) == 2 and len(task_run.attempts[-1].history) == 2

    execution = Execution(
        id="e",
        namespace="n",
        flow_id="f",
        state=State.RUNNING,
        history=list(history),
        revision=4,
        create_time_us=1,
        update_time_us=2,
        labels={"b": "2", "a": "1"},
        inputs={"k": [1, {"y": 2, "x": 3}]},
        outputs={"o": None},
    )
    row = codec.execution_row(execution)
    kept_execution = _execution_as_decoded(execution, row)
    assert kept_execution == codec.execution_from_row(row)
    assert list(kept_execution.labels) == ["a", "b"]
