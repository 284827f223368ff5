"""What crosses from SQLite's writer process (``storage/writer_process.py``): the
domain errors pickle whole, any error crosses as its type and state, and one
that cannot cross arrives as a RuntimeError naming it."""

from __future__ import annotations

import pickle
import threading

import pytest
import sqlalchemy as sa

from statehouse.server.api.errors import status_of
from statehouse.server.orchestration import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    InvalidTransition,
    NotFound,
    RequestIdReused,
    RevisionMismatch,
    SequenceCompacted,
    State,
    UnreadableRecord,
)
from statehouse.server.storage.errors import BatchConflict, StorageUnavailable
from statehouse.server.storage.writer_process import freeze, thaw

DOMAIN_ERRORS: list[DomainError] = [
    NotFound("task run", "tr-1"),
    InvalidTransition("task run", State.SUCCESS, State.RUNNING, subject="tr-1"),
    FailedPrecondition(
        "ATTEMPT_NOT_OPEN", "attempt 2 is not open", subject="taskRuns/tr-1", metadata={"a": "2"}
    ),
    RevisionMismatch(3, 4),
    AlreadyExists("CREDENTIAL_EXISTS", "a credential named 'x' exists", metadata={"name": "x"}),
    RequestIdReused("r-1"),
    SequenceCompacted(5, 10),
    UnreadableRecord("execution", "ex-1", execution_id="ex-1"),
]


@pytest.mark.parametrize("error", DOMAIN_ERRORS, ids=lambda e: type(e).__name__)
def test_a_domain_error_pickles_whole(error: DomainError) -> None:
    # Their constructors take other arguments than their args: the default
    # pickling (type(*args)) would fail or build another error.
    copy = pickle.loads(pickle.dumps(error, pickle.HIGHEST_PROTOCOL))
    assert type(copy) is type(error)
    assert copy.args == error.args and vars(copy) == vars(error)
    # The client gets the same status, details included.
    assert status_of("m", copy) == status_of("m", error)


@pytest.mark.parametrize(
    "error",
    [
        *DOMAIN_ERRORS,
        StorageUnavailable("the database is gone"),
        BatchConflict("deadlock"),
        sa.exc.IntegrityError("INSERT", {"a": 1}, Exception("UNIQUE constraint failed")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_error_crosses_as_its_type_and_state(error: BaseException) -> None:
    copy = thaw(pickle.loads(pickle.dumps(freeze(error), pickle.HIGHEST_PROTOCOL)))
    assert type(copy) is type(error)
    assert copy is not None and copy.args == error.args and str(copy) == str(error)


def test_an_error_that_cannot_cross_arrives_as_a_runtime_error_naming_it() -> None:
    class Holding(Exception):
        pass

    error = Holding("with a lock")
    error.lock = threading.Lock()  # type: ignore[attr-defined]
    copy = thaw(pickle.loads(pickle.dumps(freeze(error), pickle.HIGHEST_PROTOCOL)))
    assert type(copy) is RuntimeError
    assert str(copy) == "Holding: with a lock"
    assert freeze(None) is None and thaw(None) is None
