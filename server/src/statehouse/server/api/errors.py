"""Domain errors to google.rpc.Status with ErrorInfo, BadRequest and PreconditionFailure."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from ..orchestration import (
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    RequestIdReused,
    RevisionMismatch,
    SequenceCompacted,
)

DOMAIN = "statehouse"
log = logging.getLogger("statehouse.api")

_CODES: list[tuple[type[DomainError], int]] = [
    (NotFound, code_pb2.NOT_FOUND),
    (InvalidArgument, code_pb2.INVALID_ARGUMENT),
    (FailedPrecondition, code_pb2.FAILED_PRECONDITION),
    (RevisionMismatch, code_pb2.ABORTED),
    (RequestIdReused, code_pb2.ALREADY_EXISTS),
    (SequenceCompacted, code_pb2.OUT_OF_RANGE),
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


async def abort(
    context: grpc.aio.ServicerContext[object, object], status: status_pb2.Status
) -> NoReturn:
    await context.abort_with_status(rpc_status.to_status(status))
    raise AssertionError("abort_with_status returned")  # pragma: no cover


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn a DomainError into an :class:`RpcAbort` carrying its status."""
    try:
        yield
    except DomainError as error:
        raise RpcAbort(status_for(error)) from error


class RpcAbort(Exception):
    """Raised inside a servicer to end the call with ``status``."""

    def __init__(self, status: status_pb2.Status) -> None:
        super().__init__(status.message)
        self.status = status


def database_unavailable(error: Exception) -> status_pb2.Status:
    """UNAVAILABLE while the database cannot be reached: the call may be retried."""
    return plain_status(
        code_pb2.UNAVAILABLE, "DATABASE_UNAVAILABLE", f"the database is unavailable: {error}"
    )
