"""Domain errors to google.rpc.Status with ErrorInfo, BadRequest and PreconditionFailure."""

from __future__ import annotations

import logging
import secrets

from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from ..events import HubClosed
from ..orchestration import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    RequestIdReused,
    RevisionMismatch,
    SequenceCompacted,
    Unauthenticated,
    UnreadableRecord,
)
from ..storage import StorageUnavailable

DOMAIN = "statehouse"
log = logging.getLogger("statehouse.api")

_CODES: list[tuple[type[DomainError], int]] = [
    (NotFound, code_pb2.NOT_FOUND),
    (InvalidArgument, code_pb2.INVALID_ARGUMENT),
    (FailedPrecondition, code_pb2.FAILED_PRECONDITION),
    (RevisionMismatch, code_pb2.ABORTED),
    (RequestIdReused, code_pb2.ALREADY_EXISTS),
    (AlreadyExists, code_pb2.ALREADY_EXISTS),
    (SequenceCompacted, code_pb2.OUT_OF_RANGE),
    (UnreadableRecord, code_pb2.DATA_LOSS),
    (Unauthenticated, code_pb2.UNAUTHENTICATED),
    (PermissionDenied, code_pb2.PERMISSION_DENIED),
]


def _pack(message: object) -> any_pb2.Any:
    detail = any_pb2.Any()
    detail.Pack(message)  # type: ignore[arg-type]
    return detail


def status_for(error: DomainError) -> status_pb2.Status:
    """The google.rpc.Status that tells a client what went wrong and why."""
    code = next((c for cls, c in _CODES if isinstance(error, cls)), code_pb2.INTERNAL)
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN)
    info.metadata.update(error.metadata)
    details = [_pack(info)]
    if isinstance(error, InvalidArgument):
        bad = error_details_pb2.BadRequest()
        for field, description in error.violations:
            bad.field_violations.add(field=field, description=description)
        details.append(_pack(bad))
    elif isinstance(error, FailedPrecondition):
        failure = error_details_pb2.PreconditionFailure()
        failure.violations.add(type=error.reason, subject=error.subject, description=error.message)
        details.append(_pack(failure))
    return status_pb2.Status(code=code, message=error.message, details=details)


def plain_status(code: int, reason: str, message: str) -> status_pb2.Status:
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN)
    return status_pb2.Status(code=code, message=message, details=[_pack(info)])


def database_unavailable() -> status_pb2.Status:
    """UNAVAILABLE while the database cannot be reached: the call may be retried.

    What the driver said is logged, not sent: it can name hosts and statements.
    """
    return plain_status(
        code_pb2.UNAVAILABLE, "DATABASE_UNAVAILABLE", "the database is unavailable; retry later"
    )


def status_of(method: str, error: BaseException) -> status_pb2.Status:
    """The status a client gets for ``error`` raised while serving ``method``.

    Domain errors get their codes and details, a lost database UNAVAILABLE, a
    shutdown UNAVAILABLE (SHUTTING_DOWN), and anything unexpected INTERNAL with
    an error id that is also in the server log, never with exception text.
    """
    if isinstance(error, DomainError):
        return status_for(error)
    if isinstance(error, StorageUnavailable):
        log.warning("%s: the database is unavailable: %s", method, error)
        return database_unavailable()
    if isinstance(error, HubClosed):
        return plain_status(
            code_pb2.UNAVAILABLE, "SHUTTING_DOWN", "the server is shutting down; resume elsewhere"
        )
    error_id = secrets.token_hex(8)
    log.error("internal error %s in %s", error_id, method, exc_info=error)
    return plain_status(
        code_pb2.INTERNAL,
        "INTERNAL",
        f"internal error {error_id}; the server log has the details under this id",
    )
