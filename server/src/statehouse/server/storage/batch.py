"""A batch of writes: what one transaction of the store's group commit runs.

The store queues each write as a :class:`Write` and hands a :class:`Batch` of
them to its backend, which runs it in one transaction (see "Group commit" in
``store.py``) and, once it has committed, builds each write's answer
(:meth:`Batch.answer`). A batch is plain data and module-level functions, so
that SQLite's backend can run it in its writer process (``writer_process.py``)
as well as on its writer thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..orchestration import Event
from ..telemetry import WriteParent
from .errors import BatchConflict, is_unreachable
from .tx import Tx


@dataclass(slots=True)
class Write:
    """One queued write: its function, then its result or its own error."""

    fn: Callable[[Tx], Any]
    #: Its caller's future (none in SQLite's writer process, which only runs it).
    future: asyncio.Future[Any]
    heavy: bool = False
    task_runs: tuple[str, ...] = ()
    result: Any = None
    error: BaseException | None = None
    #: Its request's trace context and when it was queued (traces on, a traced request).
    trace: WriteParent | None = None
    #: When it must be answered by (the event loop's clock; None: no bound).
    deadline: float | None = None
    #: What its caller gets, built from its result once committed (None: the result).
    answer: Callable[[Any], Any] | None = None


class Parts:
    """The function of a write of several parts (:meth:`Store.write_many`): the batch
    runs each part as a write of its own (undone alone when it fails), and the
    write's result is the list of their results or errors."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[Callable[[Tx], Any]]) -> None:
        self.parts = parts

    def __call__(self, tx: Tx) -> Any:  # pragma: no cover - run_batch runs the parts
        raise TypeError("a write of parts runs through run_batch")


def size_of(write: Write) -> int:
    return len(write.fn.parts) if isinstance(write.fn, Parts) else 1


class Batch:
    """Writes run in one transaction: ``batch(tx)`` runs them (:func:`run_batch`),
    :meth:`answer` builds their answers once it has committed."""

    __slots__ = ("armed", "writes")

    def __init__(self, writes: list[Write], armed: list[bool] | None = None) -> None:
        self.writes = writes
        #: ``armed[0]`` becomes True when the transaction set a timer.
        self.armed = armed

    def __call__(self, tx: Tx) -> list[Event]:
        return run_batch(tx, self.writes, self.armed)

    def answer(self) -> None:
        answer_writes(self.writes)


def run_batch(tx: Tx, writes: list[Write], armed: list[bool] | None = None) -> list[Event]:
    """Run ``writes`` in the transaction of ``tx``; return the events to commit
    (and set ``armed[0]`` when the transaction set a timer).

    A lone write runs as is: its error rolls the transaction back. In a batch,
    and for each part of a write of parts (:class:`Parts`), each write's error (a
    domain error, a constraint) undoes that write alone and becomes its answer; an error that breaks the transaction itself (a statement
    failing outside a savepoint, a deadlock) raises :class:`BatchConflict`. Then
    the kept changes are written and the events get their sequences.
    """
    if len(writes) == 1 and not isinstance(writes[0].fn, Parts):
        writes[0].result = writes[0].fn(tx)
    else:
        tx.shared = True
        try:
            tx.prefetch_task_runs([i for write in writes for i in write.task_runs])
        except sa.exc.DBAPIError as exc:
            if is_unreachable(exc):
                raise
            raise BatchConflict(str(exc)) from exc
        for write in writes:
            if isinstance(write.fn, Parts):
                outcomes = [_run_part(tx, part) for part in write.fn.parts]
                write.result = [o.error if isinstance(o, _Failed) else o for o in outcomes]
                continue
            outcome = _run_part(tx, write.fn)
            if isinstance(outcome, _Failed):
                write.error = outcome.error
            else:
                write.result = outcome
    appended = tx.finish()
    if armed is not None and tx.timers_armed:
        armed[0] = True
    return appended


def answer_writes(writes: list[Write]) -> None:
    """Each write's answer from its result, once their transaction has committed
    (the backend's ``after``, on the thread that committed): an error building
    it is that write's answer alone."""
    for write in writes:
        if write.answer is None or write.error is not None:
            continue
        try:
            write.result = write.answer(write.result)
        except Exception as exc:
            write.error = exc
        write.answer = None  # answered once, even if the batch runs again


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


def _run_part(tx: Tx, fn: Callable[[Tx], Any]) -> Any:
    """One write of a batch: its result, or its error (as ``_Failed``) with its
    changes undone; an error that breaks the transaction raises BatchConflict."""
    tx.begin_write()
    try:
        result = fn(tx)
    except BatchConflict:
        raise
    except sa.exc.DBAPIError as exc:
        if is_unreachable(exc):
            raise
        if not tx.in_savepoint:
            raise BatchConflict(str(exc)) from exc
        tx.end_write(False)
        return _Failed(exc)
    except Exception as exc:
        tx.end_write(False)
        return _Failed(exc)
    tx.end_write(True)
    return result
