"""Domain errors: what went wrong, in the domain's words.

The API layer maps each class to a gRPC status code and each ``reason`` to the
``ErrorInfo`` reason of the response (docs/concepts.md's errors table is generated from them)::

    DomainError
    ├── NotFound               NOT_FOUND            EXECUTION_NOT_FOUND, TASK_RUN_NOT_FOUND
    ├── InvalidArgument        INVALID_ARGUMENT     INVALID_ARGUMENT, PAYLOAD_TOO_LARGE, INVALID_PAGE_TOKEN
    ├── FailedPrecondition     FAILED_PRECONDITION  TASK_RUNS_ACTIVE, EXECUTION_PAUSED, ...
    │   └── InvalidTransition                       INVALID_TRANSITION
    ├── RevisionMismatch       ABORTED              REVISION_MISMATCH
    ├── RequestIdReused        ALREADY_EXISTS       REQUEST_ID_REUSED
    ├── AlreadyExists          ALREADY_EXISTS       CREDENTIAL_EXISTS
    ├── SequenceCompacted      OUT_OF_RANGE         SEQUENCE_COMPACTED
    ├── UnreadableRecord       DATA_LOSS            UNREADABLE_RECORD
    ├── Unauthenticated        UNAUTHENTICATED      UNAUTHENTICATED
    └── PermissionDenied       PERMISSION_DENIED    PERMISSION_DENIED
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from .states import State


def iso_time(time_us: int) -> str:
    """A time (microseconds since the epoch) as error messages show it: ISO 8601
    in UTC, ``2026-12-02T14:03:05.123Z``, with 0, 3 or 6 fractional digits as
    the time needs (exact, and the text protobuf's JSON gives a Timestamp)."""
    seconds, micros = divmod(int(time_us), 1_000_000)
    text = (_dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if micros % 1000 == 0:
        fraction = f".{micros // 1000:03d}" if micros else ""
    else:
        fraction = f".{micros:06d}"
    return f"{text}{fraction}Z"


class DomainError(Exception):
    """The root of the errors the domain raises on purpose."""

    reason: str = "UNKNOWN"

    def __init__(self, message: str, *, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.metadata: dict[str, str] = dict(metadata or {})

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as its state, not as its constructor's arguments (each kind's
        # constructor takes others): an error crosses from SQLite's writer
        # process (storage/writer_process.py) whole.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[DomainError], args: tuple[Any, ...], state: dict[str, Any]) -> DomainError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class NotFound(DomainError):
    """A named resource does not exist."""

    def __init__(self, resource_type: str, name: str) -> None:
        super().__init__(f"{resource_type} {name!r} not found", metadata={"id": name})
        self.resource_type = resource_type
        self.name = name
        self.reason = resource_type.upper().replace(" ", "_") + "_NOT_FOUND"


class InvalidArgument(DomainError):
    """The request is malformed; ``violations`` lists (field, description)."""

    reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        violations: list[tuple[str, str]],
        *,
        reason: str = "INVALID_ARGUMENT",
        metadata: dict[str, str] | None = None,
    ) -> None:
        shown = "; ".join(f"{field}: {text}" for field, text in violations[:3])
        rest = len(violations) - 3
        message = shown + (
            f"; and {rest} more (listed in the BadRequest details)" if rest > 0 else ""
        )
        super().__init__(message, metadata=metadata)
        self.violations = violations
        self.reason = reason


def execution_subject(execution_id: str) -> str:
    """The subject of a precondition about an execution (google.rpc.PreconditionFailure)."""
    return f"executions/{execution_id}"


def task_run_subject(task_run_id: str) -> str:
    """The subject of a precondition about a task run (google.rpc.PreconditionFailure)."""
    return f"taskRuns/{task_run_id}"


class FailedPrecondition(DomainError):
    """The request is well formed but the system is not in a state to accept it.

    ``subject`` names what is not in that state (``executions/<id>``,
    ``taskRuns/<id>``): the subject of the PreconditionFailure the client gets.
    """

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        subject: str,
        metadata: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, metadata=metadata)
        self.reason = reason
        self.subject = subject


class InvalidTransition(FailedPrecondition):
    """The transition table does not allow this move (of ``subject``)."""

    reason = "INVALID_TRANSITION"

    def __init__(self, kind: str, current: State, requested: State, *, subject: str) -> None:
        super().__init__(
            InvalidTransition.reason,
            f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} in {current.value} cannot go to {requested.value}",
            subject=subject,
            metadata={"current_state": current.value, "requested_state": requested.value},
        )
        self.current = current
        self.requested = requested


class RevisionMismatch(DomainError):
    """The execution changed since the caller read it (AIP-154)."""

    reason = "REVISION_MISMATCH"

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(
            f"expected revision {expected}, the execution is at revision {current}",
            metadata={"expected_revision": str(expected), "current_revision": str(current)},
        )


class AlreadyExists(DomainError):
    """Something with this name exists already (``reason`` says what)."""

    def __init__(
        self, reason: str, message: str, *, metadata: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, metadata=metadata)
        self.reason = reason


class RequestIdReused(DomainError):
    """A request_id was sent again with a different request."""

    reason = "REQUEST_ID_REUSED"

    def __init__(self, request_id: str) -> None:
        super().__init__(
            f"request_id {request_id!r} was already used for a different request",
            metadata={"request_id": request_id},
        )


class SequenceCompacted(DomainError):
    """A subscription asked for events older than the retained log."""

    reason = "SEQUENCE_COMPACTED"

    def __init__(self, after_sequence: int, first_sequence: int) -> None:
        super().__init__(
            f"events after {after_sequence} are no longer retained; "
            f"the first available sequence is {first_sequence}",
            metadata={"first_sequence": str(first_sequence)},
        )
        self.first_sequence = first_sequence


class UnreadableRecord(DomainError):
    """A stored record cannot be decoded (written by an older server, or edited by hand).

    Reported for that resource alone: lists skip it and name it, other reads go on.
    """

    reason = "UNREADABLE_RECORD"

    def __init__(self, resource_type: str, name: str, *, execution_id: str = "") -> None:
        of = f" of execution {execution_id!r}" if execution_id and execution_id != name else ""
        super().__init__(
            f"the stored {resource_type} {name!r}{of} cannot be read; the execution can be "
            "deleted (DeleteExecution) or repaired from a backup",
            metadata={"resource_type": resource_type, "id": name, "execution_id": execution_id},
        )
        self.resource_type = resource_type
        self.name = name
        self.execution_id = execution_id or name
        #: Where the record sits in a list ordered by creation (set by lists).
        self.create_time_us = 0


class Unauthenticated(DomainError):
    """No valid credentials. Deliberately uninformative: nothing helps guessing."""

    reason = "UNAUTHENTICATED"

    def __init__(self, message: str = "valid credentials are required") -> None:
        super().__init__(message)


class PermissionDenied(DomainError):
    """The caller is known but may not do this (``role_needed`` when a role would do)."""

    reason = "PERMISSION_DENIED"

    def __init__(self, message: str, *, role_needed: str = "") -> None:
        super().__init__(message, metadata={"role_needed": role_needed} if role_needed else None)
