"""A write's answer (``Store.write(..., answer=)``): built once its transaction
has committed, on the thread that committed it (SQLite's writer thread, off the
event loop; the event loop on PostgreSQL), an error building it the answer of
that write alone, the change standing."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from statehouse.server.orchestration import InvalidTransition, State
from statehouse.server.storage import Tx
from statehouse.v1 import execution_service_pb2 as pb, state_pb2 as st

from .conftest import Running, Stubs
from .test_group_commit import _execution_with_task_runs, _move

pytestmark = pytest.mark.timeout(120)


class Seen:
    """Where and when each answer was built."""

    def __init__(self, running: Running) -> None:
        self.store = running.server.store
        self.threads: list[str] = []
        self.committed: list[str] = []

    def answer(self, task_run_id: str) -> Any:
        def build(result: Any) -> Any:
            self.threads.append(threading.current_thread().name)
            # Another connection sees the change: it has committed.
            self.committed.append(
                self.store.backend.run_sync(lambda tx: _state(tx, task_run_id), write=False)
            )
            return ("answered", result)

        return build


def _state(tx: Tx, task_run_id: str) -> str:
    task_run = tx.get_task_run(task_run_id)
    assert task_run is not None
    return task_run.state.value


async def test_an_answer_is_built_after_the_commit_where_it_committed(
    running_server: Running, stubs: Stubs, database_url: str
) -> None:
    store = running_server.server.store
    _, ids = await _execution_with_task_runs(stubs, 8)
    seen = Seen(running_server)
    answers = await asyncio.gather(
        *(store.write(_move(i, State.RUNNING), task_runs=(i,), answer=seen.answer(i)) for i in ids)
    )
    assert [a[0] for a in answers] == ["answered"] * 8
    assert all(a[1][0] is State.RUNNING for a in answers)
    assert seen.committed == ["RUNNING"] * 8
    loop_thread = threading.current_thread().name
    if database_url.startswith("sqlite"):
        assert set(seen.threads) and all(t.startswith("statehouse-writer") for t in seen.threads)
    else:
        assert set(seen.threads) == {loop_thread}


async def test_an_answer_that_fails_is_its_own_writes_answer_and_the_change_stands(
    running_server: Running, stubs: Stubs
) -> None:
    store = running_server.server.store
    execution_id, (a, b, c) = await _execution_with_task_runs(stubs, 3)
    built: list[str] = []

    def broken(result: Any) -> Any:
        raise RuntimeError("cannot build this one")

    def fine(result: Any) -> Any:
        built.append("fine")
        return result

    def never(result: Any) -> Any:  # its write fails: no answer is built
        built.append("never")
        return result

    outcomes = await asyncio.gather(
        store.write(_move(a, State.RUNNING), task_runs=(a,), answer=broken),
        store.write(_move(b, State.SUCCESS), task_runs=(b,), answer=never),  # CREATED -> SUCCESS
        store.write(_move(c, State.RUNNING), task_runs=(c,), answer=fine),
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], RuntimeError)
    assert isinstance(outcomes[1], InvalidTransition)
    assert outcomes[2][0] is State.RUNNING
    assert built == ["fine"]
    got = await stubs.executions.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
    states = {t.task_id: st.State.Name(t.state) for t in got.execution.task_runs}
    assert states == {"t0": "STATE_RUNNING", "t1": "STATE_CREATED", "t2": "STATE_RUNNING"}


async def test_a_write_of_parts_is_answered_once_with_every_parts_outcome(
    running_server: Running, stubs: Stubs
) -> None:
    store = running_server.server.store
    _, (a, b) = await _execution_with_task_runs(stubs, 2)
    calls: list[list[Any]] = []

    def answer(outcomes: list[Any]) -> int:
        calls.append(outcomes)
        return len(outcomes)

    count = await store.write_many(
        [(_move(a, State.RUNNING), (a,)), (_move(b, State.SUCCESS), (b,))], answer=answer
    )
    assert count == 2 and len(calls) == 1
    assert calls[0][0][0] is State.RUNNING and isinstance(calls[0][1], InvalidTransition)
    assert await store.write_many([], answer=answer) == 0
