"""Domain errors to google.rpc.Status with ErrorInfo, BadRequest and PreconditionFailure.

:data:`REASONS` lists every ``ErrorInfo`` reason a client can get, by code; the
errors table of docs/concepts.md is generated from it (:func:`errors_table`; a
test fails when the documented one is stale), and a test finds every reason the
server's code raises in it, with the code it is sent with.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

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
from ..storage import CommitOutcomeUnknown, StorageUnavailable

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


@dataclass(frozen=True, slots=True)
class Reason:
    """One ``ErrorInfo`` reason, the status code it comes with, and what it means."""

    code: str
    #: None: the code comes without an ErrorInfo (grpc's own checks).
    reason: str | None
    note: str = ""


REASONS: tuple[Reason, ...] = (
    Reason("NOT_FOUND", "EXECUTION_NOT_FOUND"),
    Reason(
        "NOT_FOUND",
        "TASK_RUN_NOT_FOUND",
        "also for an execution or task run in a namespace the caller may not read",
    ),
    Reason("NOT_FOUND", "CREDENTIAL_NOT_FOUND"),
    Reason(
        "UNAUTHENTICATED",
        "UNAUTHENTICATED",
        "missing, malformed, unknown, expired or revoked credentials",
    ),
    Reason(
        "PERMISSION_DENIED",
        "PERMISSION_DENIED",
        "the role is too low, metadata `role_needed`; or a namespace named in the request is "
        "outside the caller's",
    ),
    Reason("INVALID_ARGUMENT", "INVALID_ARGUMENT", "with a field violation for every bad field"),
    Reason(
        "INVALID_ARGUMENT", "PAYLOAD_TOO_LARGE", "metadata `limit_bytes`, `size_bytes`, `field`"
    ),
    Reason("INVALID_ARGUMENT", "INVALID_PAGE_TOKEN"),
    Reason(
        "INVALID_ARGUMENT",
        "MALFORMED_REQUEST",
        "the bytes are not a valid encoding of the request message; over JSON also an unknown "
        "field or enum name, or a value of the wrong type, with a field violation naming it",
    ),
    Reason(
        "FAILED_PRECONDITION",
        "INVALID_TRANSITION",
        "the transition table forbids it; metadata `current_state`, `requested_state`",
    ),
    Reason("FAILED_PRECONDITION", "TASK_RUNS_ACTIVE", "metadata `active_task_runs`"),
    Reason(
        "FAILED_PRECONDITION",
        "EXECUTION_PAUSED",
        "no task run starts in a paused execution; metadata `execution_state`",
    ),
    Reason(
        "FAILED_PRECONDITION",
        "EXECUTION_KILLING",
        "no task run starts or joins; metadata `execution_state`",
    ),
    Reason(
        "FAILED_PRECONDITION",
        "EXECUTION_TERMINAL",
        "its task runs cannot change; metadata `execution_state`",
    ),
    Reason(
        "FAILED_PRECONDITION",
        "EXECUTION_ACTIVE",
        "only a terminal execution is deleted; metadata `execution_state`",
    ),
    Reason("FAILED_PRECONDITION", "RETRY_NOT_DUE", "metadata `next_attempt_time_us`"),
    Reason(
        "FAILED_PRECONDITION",
        "NO_ATTEMPT",
        "the task run has not run yet: metrics belong to an attempt; metadata `task_run_state`",
    ),
    Reason(
        "FAILED_PRECONDITION",
        "ATTEMPT_NOT_OPEN",
        "a report or heartbeat names an attempt that ended (its lease expired, say) or is not "
        "the open one; metadata `attempt`, `open_attempt`, `task_run_state`",
    ),
    Reason(
        "FAILED_PRECONDITION",
        "NO_LEASE",
        "a heartbeat for an attempt started without a lease; metadata `attempt`",
    ),
    Reason(
        "FAILED_PRECONDITION",
        "LEASE_EXPIRED",
        "a heartbeat after the lease expired: the attempt is lost; metadata `attempt`",
    ),
    Reason("ABORTED", "REVISION_MISMATCH", "metadata `expected_revision`, `current_revision`"),
    Reason("ALREADY_EXISTS", "REQUEST_ID_REUSED", "the same request id with other content"),
    Reason("ALREADY_EXISTS", "CREDENTIAL_EXISTS"),
    Reason("OUT_OF_RANGE", "SEQUENCE_COMPACTED", "metadata `first_sequence`"),
    Reason(
        "RESOURCE_EXHAUSTED",
        None,
        "a request larger than the server accepts: grpc's own check, no `ErrorInfo` "
        "(see [Limits](#limits))",
    ),
    Reason(
        "DEADLINE_EXCEEDED",
        None,
        "the call's deadline passed, no `ErrorInfo`: before it was admitted nothing was "
        "done; later, a write may have committed (see "
        "[Choices](#choices-where-the-design-is-silent), Deadlines)",
    ),
    Reason(
        "DATA_LOSS",
        "UNREADABLE_RECORD",
        "metadata `resource_type`, `id`, `execution_id`: a stored record cannot be decoded; only "
        "reads of that execution fail, lists name it in `unreadable_execution_ids`, and "
        "`DeleteExecution` removes it in any state",
    ),
    Reason("UNAVAILABLE", "SHUTTING_DOWN", "resume the stream elsewhere"),
    Reason(
        "UNAVAILABLE",
        "DATABASE_UNAVAILABLE",
        "the database cannot be reached, or a write found no commit within `--commit-timeout`; "
        "nothing was done: retry",
    ),
    Reason(
        "UNAVAILABLE",
        "COMMIT_OUTCOME_UNKNOWN",
        "the connection to the database was lost during the commit, or the commit did not "
        "finish within `--commit-timeout`: the change may or may not have been made; a retry "
        "with the same `request_id` returns the stored outcome",
    ),
    Reason(
        "INTERNAL",
        "INTERNAL",
        "a bug: the message carries an error id, `internal error 3f2a...`, that the server log "
        "has with the traceback; no exception text, SQL or parameters are ever sent",
    ),
)


def errors_table() -> str:
    """The errors table of docs/concepts.md, one row per code, from :data:`REASONS`."""
    rows: dict[str, list[str]] = {}
    for r in REASONS:
        item = f"`{r.reason}`" if r.reason else ""
        if r.note:
            item = f"{item} ({r.note})" if item else r.note
        rows.setdefault(r.code, []).append(item)
    lines = ["| code | reasons |", "|---|---|"]
    lines += [f"| `{code}` | {', '.join(items)} |" for code, items in rows.items()]
    return "\n".join(lines) + "\n"


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


class DeadlineExceeded(Exception):
    """The call's deadline passed before it was admitted: nothing was done."""


def status_of(method: str, error: BaseException) -> status_pb2.Status:
    """The status a client gets for ``error`` raised while serving ``method``.

    Domain errors get their codes and details, a lost database UNAVAILABLE, a
    shutdown UNAVAILABLE (SHUTTING_DOWN), and anything unexpected INTERNAL with
    an error id that is also in the server log, never with exception text.
    """
    if isinstance(error, DomainError):
        return status_for(error)
    if isinstance(error, DeadlineExceeded):
        return status_pb2.Status(code=code_pb2.DEADLINE_EXCEEDED, message="deadline exceeded")
    if isinstance(error, CommitOutcomeUnknown):
        # Logged once per outage by the store (telemetry.OutageLog), not per call.
        log.debug("%s: the commit's outcome is unknown: %s", method, error)
        return plain_status(
            code_pb2.UNAVAILABLE,
            "COMMIT_OUTCOME_UNKNOWN",
            "the commit's outcome is unknown (the database connection was lost or the commit "
            "timed out): the change may or may not have been made; retry with the same "
            "request_id to learn which",
        )
    if isinstance(error, StorageUnavailable):
        log.debug("%s: the database is unavailable: %s", method, error)
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
