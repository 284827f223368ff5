"""Typed errors of the Statehouse SDK.

Every failed call raises a subclass of :class:`StatehouseError`, chosen from
one table keyed by the gRPC status code and the ``google.rpc.ErrorInfo``
reason the server attached (``_ERROR_CLASSES`` below), and chained ``from``
the original ``grpc.RpcError``::

    StatehouseError                      any other status (and the root)
    ├── NotFoundError                    NOT_FOUND
    ├── InvalidArgumentError             INVALID_ARGUMENT (INVALID_ARGUMENT, INVALID_PAGE_TOKEN)
    │   └── PayloadTooLargeError         INVALID_ARGUMENT / PAYLOAD_TOO_LARGE
    ├── FailedPreconditionError          FAILED_PRECONDITION (EXECUTION_TERMINAL, ...)
    │   ├── InvalidTransitionError       FAILED_PRECONDITION / INVALID_TRANSITION
    │   ├── TaskRunsActiveError          FAILED_PRECONDITION / TASK_RUNS_ACTIVE
    │   └── ExecutionPausedError         FAILED_PRECONDITION / EXECUTION_PAUSED
    ├── AbortedError                     ABORTED
    │   └── RevisionMismatchError        ABORTED / REVISION_MISMATCH
    ├── AlreadyExistsError               ALREADY_EXISTS
    │   └── RequestIdReusedError         ALREADY_EXISTS / REQUEST_ID_REUSED
    ├── OutOfRangeError                  OUT_OF_RANGE
    │   └── SequenceCompactedError       OUT_OF_RANGE / SEQUENCE_COMPACTED
    ├── UnauthenticatedError             UNAUTHENTICATED (no, an unknown, an expired or a revoked credential)
    ├── PermissionDeniedError            PERMISSION_DENIED (the credential's role or namespaces do not allow it)
    ├── UnavailableError                 UNAVAILABLE (any reason, e.g. SHUTTING_DOWN)
    │   └── ServerUnreachableError       UNAVAILABLE: no connection (refused, no such host, TLS handshake)
    ├── DeadlineExceededError            DEADLINE_EXCEEDED
    └── UnimplementedError               UNIMPLEMENTED

Every error carries ``code`` (a ``grpc.StatusCode``), ``reason`` (the
ErrorInfo reason or None), ``metadata`` (the ErrorInfo metadata),
``field_violations`` (``(field, description)`` pairs from a BadRequest),
``precondition_violations`` (``(type, subject, description)`` triples from a
PreconditionFailure), ``message`` and ``last_sequence`` (set on the error that
ends a subscription: the sequence to resume after; None elsewhere).

When the server cannot be reached, gRPC's own text (``failed to connect to
all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: ...``) becomes a
:class:`ServerUnreachableError` whose message says which address and what to
check; gRPC's text stays in its ``detail``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

from statehouse.client._enums import State
from statehouse.v1 import execution_service_pb2

__all__ = [
    "AbortedError",
    "AlreadyExistsError",
    "DeadlineExceededError",
    "ExecutionPausedError",
    "FailedPreconditionError",
    "InvalidArgumentError",
    "InvalidTransitionError",
    "NotFoundError",
    "OutOfRangeError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RequestIdReusedError",
    "RevisionMismatchError",
    "SequenceCompactedError",
    "ServerUnreachableError",
    "StatehouseError",
    "TaskRunsActiveError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "error_from_item_status",
    "error_from_rpc",
]

ERROR_DOMAIN = "statehouse"
_DETAILS_KEY = "grpc-status-details-bin"


class StatehouseError(Exception):
    """The root of every error the SDK raises for a failed call."""

    code: grpc.StatusCode
    reason: str | None
    metadata: dict[str, str]
    field_violations: list[tuple[str, str]]
    precondition_violations: list[tuple[str, str, str]]
    message: str
    #: On the error that ends a subscription: the last sequence it received
    #: (resume with ``after_sequence=last_sequence``); None elsewhere, and when
    #: a ``from_latest`` subscription received nothing yet.
    last_sequence: int | None = None

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode = grpc.StatusCode.UNKNOWN,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        field_violations: Iterable[tuple[str, str]] = (),
        precondition_violations: Iterable[tuple[str, str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.field_violations = list(field_violations)
        self.precondition_violations = list(precondition_violations)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code.name}, reason={self.reason!r})"

    def _int_metadata(self, key: str) -> int | None:
        value = self.metadata.get(key)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            return None


class NotFoundError(StatehouseError):
    """The execution or task run does not exist (NOT_FOUND)."""


class InvalidArgumentError(StatehouseError):
    """The request is malformed; see ``field_violations`` (INVALID_ARGUMENT)."""


class PayloadTooLargeError(InvalidArgumentError):
    """Inputs or outputs exceed the server's size limit (PAYLOAD_TOO_LARGE)."""

    @property
    def limit_bytes(self) -> int | None:
        """The largest size the server accepts, in bytes."""
        return self._int_metadata("limit_bytes")

    @property
    def size_bytes(self) -> int | None:
        """The size of the rejected payload, in bytes."""
        return self._int_metadata("size_bytes")


class FailedPreconditionError(StatehouseError):
    """The change is not allowed in the current state (FAILED_PRECONDITION)."""


class InvalidTransitionError(FailedPreconditionError):
    """The state machine does not allow the move (INVALID_TRANSITION)."""

    @property
    def current_state(self) -> State | None:
        """The state the execution or task run is in."""
        return _state_or_none(self.metadata.get("current_state"))

    @property
    def requested_state(self) -> State | None:
        """The state that was asked for."""
        return _state_or_none(self.metadata.get("requested_state"))


class TaskRunsActiveError(FailedPreconditionError):
    """An execution cannot end while task runs are active (TASK_RUNS_ACTIVE)."""


class ExecutionPausedError(FailedPreconditionError):
    """No task run may start while the execution is paused (EXECUTION_PAUSED)."""


class AbortedError(StatehouseError):
    """The call was aborted by a concurrent change (ABORTED)."""


class RevisionMismatchError(AbortedError):
    """``expected_revision`` differs from the execution's (REVISION_MISMATCH)."""

    @property
    def expected_revision(self) -> int | None:
        """The revision the request expected."""
        return self._int_metadata("expected_revision")

    @property
    def current_revision(self) -> int | None:
        """The execution's revision when the request was refused."""
        return self._int_metadata("current_revision")


class AlreadyExistsError(StatehouseError):
    """The resource already exists (ALREADY_EXISTS)."""


class RequestIdReusedError(AlreadyExistsError):
    """A request_id was reused with other content (REQUEST_ID_REUSED)."""


class OutOfRangeError(StatehouseError):
    """A value is outside the range the server can serve (OUT_OF_RANGE)."""


class SequenceCompactedError(OutOfRangeError):
    """The subscription cursor is older than the retained history (SEQUENCE_COMPACTED)."""

    @property
    def first_sequence(self) -> int | None:
        """The oldest sequence still available: resume from ``first_sequence - 1``."""
        return self._int_metadata("first_sequence")


class UnauthenticatedError(StatehouseError):
    """The call carried no credential the server accepts (UNAUTHENTICATED).

    No token, an unknown, expired or revoked one, or a client certificate
    without a grant. Retrying with the same credential cannot succeed.
    """


class PermissionDeniedError(StatehouseError):
    """The credential is valid but may not do this here (PERMISSION_DENIED)."""

    @property
    def role_needed(self) -> str | None:
        """The role the call needs (``reader``, ``writer`` or ``admin``), when the server says."""
        return self.metadata.get("role_needed") or None


class UnavailableError(StatehouseError):
    """The server cannot be reached or is shutting down (UNAVAILABLE)."""


class ServerUnreachableError(UnavailableError):
    """No connection to the server could be made (UNAVAILABLE from the channel).

    The message says where and what to check: ``cannot reach the Statehouse
    server at 127.0.0.1:1 (connection refused): is it running there?``.
    ``target`` is the address, ``cause`` the short reason (``connection
    refused``, ``no such host``; after a failed TLS handshake its reason:
    ``CERTIFICATE_VERIFY_FAILED``, ``WRONG_VERSION_NUMBER``,
    ``HOSTNAME_MISMATCH``), ``tls`` whether the TLS handshake failed, and
    ``detail`` gRPC's own text. Transient like any UnavailableError: calls are
    retried per ``CallRetry`` before it is raised.
    """

    target: str
    cause: str
    detail: str
    tls: bool

    def __init__(
        self, *, target: str, cause: str, detail: str, tls: bool = False, hint: str = ""
    ) -> None:
        if tls:
            message = f"TLS handshake with the Statehouse server at {target} failed ({cause})"
        else:
            message = f"cannot reach the Statehouse server at {target} ({cause})"
        if hint:
            message += f": {hint}"
        super().__init__(message, code=grpc.StatusCode.UNAVAILABLE)
        self.target = target
        self.cause = cause
        self.detail = detail
        self.tls = tls


# gRPC's texts of a channel that could not connect (the core's wording).
_CONNECT_FAILED = re.compile(
    r"failed to connect to all addresses|errors? resolving|DNS resolution failed"
    r"|Name resolution failure|empty address list",
    re.IGNORECASE,
)
_ADDRESS = re.compile(r"\b(?:ipv4:|ipv6:|unix:)(\[[^\]]+\]:\d+|[^\s:]+:\d+|[^\s:]+)")
_RESOLVING = re.compile(
    r"(?:resolving|resolution failed for|lookup failed for)\s+([^\s:,]+(?::\d+)?)"
)
_TLS_REASON = re.compile(r"OPENSSL_internal:([A-Z_]+)|(CERTIFICATE_VERIFY_FAILED)")
# gRPC's own check, after OpenSSL accepted the chain: the certificate names
# another host than the one connected to (or TlsConfig.server_name).
_HOSTNAME_FAILED = "hostname verification check failed"
#: What to check after a failed TLS handshake, by its reason (the CLI keeps the
#: same table in its own words: its flags).
TLS_HINTS = {
    "WRONG_VERSION_NUMBER": "does it serve TLS there? (a plaintext server needs tls=False)",
    "CERTIFICATE_VERIFY_FAILED": (
        "is its certificate signed by the CA you trust (TlsConfig(ca=...), STATEHOUSE_TLS_CA) "
        "and issued for this host name?"
    ),
    "HOSTNAME_MISMATCH": (
        "is its certificate issued for this host name? (else name the one it is issued for: "
        "TlsConfig(server_name=...))"
    ),
}
_CAUSES = (
    ("connection refused", "connection refused", "is it running there?"),
    ("domain name not found", "no such host", "is the host name right?"),
    ("name or service not known", "no such host", "is the host name right?"),
    ("resolv", "the host name does not resolve", "is the host name right?"),
    ("http1.x server", "an HTTP/1.x server answered, not gRPC", "is this the right port?"),
    ("timed out", "connection timed out", "is it running there, and reachable?"),
    ("timeout", "connection timed out", "is it running there, and reachable?"),
    ("no route to host", "no route to host", "is the address right?"),
    ("network is unreachable", "network unreachable", "is the address right?"),
    (
        "socket closed",
        "the connection was closed",
        "is it a Statehouse server, with TLS as configured?",
    ),
    (
        "connection reset",
        "the connection was reset",
        "is it a Statehouse server, with TLS as configured?",
    ),
)


def unreachable_error(message: str, target: str | None) -> ServerUnreachableError | None:
    """The :class:`ServerUnreachableError` for gRPC's text of a channel that could
    not connect (None when ``message`` is not one): ``target`` is the address
    the client was given (else the one in the text)."""
    if not _CONNECT_FAILED.search(message):
        return None
    if not target:
        found = _ADDRESS.search(message) or _RESOLVING.search(message)
        target = found.group(1) if found else "the configured address"
    lowered = message.lower()
    hostname = _HOSTNAME_FAILED in lowered
    if hostname or ("handshake" in lowered and ("tls" in lowered or "ssl" in lowered)):
        tls = _TLS_REASON.search(message)
        reason = "HOSTNAME_MISMATCH" if hostname else (tls.group(1) or tls.group(2)) if tls else ""
        hint = TLS_HINTS.get(reason, "check its certificate and your TLS settings")
        return ServerUnreachableError(
            target=target, cause=reason or "handshake failed", detail=message, tls=True, hint=hint
        )
    for needle, cause, hint in _CAUSES:
        if needle in lowered:
            return ServerUnreachableError(target=target, cause=cause, detail=message, hint=hint)
    return ServerUnreachableError(
        target=target, cause="no connection", detail=message, hint="is it running there?"
    )


class DeadlineExceededError(StatehouseError):
    """The call did not finish within its timeout (DEADLINE_EXCEEDED)."""


class UnimplementedError(StatehouseError):
    """The server does not implement this call (UNIMPLEMENTED)."""


_Code = grpc.StatusCode

# The one table from (status code, ErrorInfo reason) to exception class. A
# reason of None is the default for the code; unknown codes map to the root.
_ERROR_CLASSES: dict[tuple[grpc.StatusCode, str | None], type[StatehouseError]] = {
    (_Code.NOT_FOUND, None): NotFoundError,
    (_Code.INVALID_ARGUMENT, None): InvalidArgumentError,
    (_Code.INVALID_ARGUMENT, "PAYLOAD_TOO_LARGE"): PayloadTooLargeError,
    (_Code.FAILED_PRECONDITION, None): FailedPreconditionError,
    (_Code.FAILED_PRECONDITION, "INVALID_TRANSITION"): InvalidTransitionError,
    (_Code.FAILED_PRECONDITION, "TASK_RUNS_ACTIVE"): TaskRunsActiveError,
    (_Code.FAILED_PRECONDITION, "EXECUTION_PAUSED"): ExecutionPausedError,
    (_Code.ABORTED, None): AbortedError,
    (_Code.ABORTED, "REVISION_MISMATCH"): RevisionMismatchError,
    (_Code.ALREADY_EXISTS, None): AlreadyExistsError,
    (_Code.ALREADY_EXISTS, "REQUEST_ID_REUSED"): RequestIdReusedError,
    (_Code.OUT_OF_RANGE, None): OutOfRangeError,
    (_Code.OUT_OF_RANGE, "SEQUENCE_COMPACTED"): SequenceCompactedError,
    (_Code.UNAUTHENTICATED, None): UnauthenticatedError,
    (_Code.PERMISSION_DENIED, None): PermissionDeniedError,
    (_Code.UNAVAILABLE, None): UnavailableError,
    (_Code.DEADLINE_EXCEEDED, None): DeadlineExceededError,
    (_Code.UNIMPLEMENTED, None): UnimplementedError,
}


def error_class(code: grpc.StatusCode, reason: str | None) -> type[StatehouseError]:
    """Return the exception class for a status code and an ErrorInfo reason."""
    found = _ERROR_CLASSES.get((code, reason))
    if found is None:
        found = _ERROR_CLASSES.get((code, None), StatehouseError)
    return found


def _state_or_none(name: str | None) -> State | None:
    if not name:
        return None
    try:
        return State.parse(name)
    except ValueError:
        return None


def _rich_status(trailing_metadata: Any) -> status_pb2.Status | None:
    """Find and parse the google.rpc.Status in a call's trailing metadata.

    Works for the tuples of a blocking call (what ``rpc_status.from_call``
    reads) and for the ``grpc.aio.Metadata`` of an asyncio call alike.
    """
    if not trailing_metadata:
        return None
    for key, value in trailing_metadata:
        if key == _DETAILS_KEY and isinstance(value, bytes):
            status = status_pb2.Status()
            try:
                status.MergeFromString(value)
            except Exception:  # a corrupt trailer must not hide the real error
                return None
            return status
    return None


def error_from_status(
    code: grpc.StatusCode, message: str, status: status_pb2.Status | None
) -> StatehouseError:
    """Build the typed error for a status code, message and rich status."""
    reason: str | None = None
    metadata: dict[str, str] = {}
    field_violations: list[tuple[str, str]] = []
    precondition_violations: list[tuple[str, str, str]] = []
    if status is not None:
        if status.message:
            message = status.message
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                if reason is None or info.domain == ERROR_DOMAIN:
                    reason = info.reason or None
                    metadata = dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                field_violations.extend((v.field, v.description) for v in bad.field_violations)
            elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
                failure = error_details_pb2.PreconditionFailure()
                detail.Unpack(failure)
                precondition_violations.extend(
                    (v.type, v.subject, v.description) for v in failure.violations
                )
    cls = error_class(code, reason)
    return cls(
        message or code.name,
        code=code,
        reason=reason,
        metadata=metadata,
        field_violations=field_violations,
        precondition_violations=precondition_violations,
    )


def error_from_rpc(error: grpc.RpcError, target: str | None = None) -> StatehouseError:
    """Translate a ``grpc.RpcError`` (blocking or asyncio) into a typed error.

    ``target`` (the address the client connects to) names the server in a
    :class:`ServerUnreachableError`. The caller raises the result ``from`` the
    original error.
    """
    code_fn = getattr(error, "code", None)
    code = code_fn() if callable(code_fn) else grpc.StatusCode.UNKNOWN
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    details_fn = getattr(error, "details", None)
    message = details_fn() if callable(details_fn) else None
    trailing_fn = getattr(error, "trailing_metadata", None)
    trailing = trailing_fn() if callable(trailing_fn) else None
    status = _rich_status(trailing)
    if code == grpc.StatusCode.UNAVAILABLE and status is None and message:
        unreachable = unreachable_error(str(message), target)
        if unreachable is not None:
            return unreachable
    return error_from_status(code, str(message or ""), status)


_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}


def error_from_item_status(item: execution_service_pb2.ItemStatus) -> StatehouseError:
    """The typed error of one failed item of a batch (its ``ItemStatus`` has the
    fields and numbers of a google.rpc.Status, decoded as one)."""
    status = status_pb2.Status.FromString(item.SerializeToString())
    code = _STATUS_CODES.get(status.code, grpc.StatusCode.UNKNOWN)
    return error_from_status(code, status.message, status)
