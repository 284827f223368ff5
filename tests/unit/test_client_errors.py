"""The SDK maps gRPC statuses and their rich details to typed errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import grpc.aio
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from statehouse.client import (
    AbortedError,
    AlreadyExistsError,
    CallRetry,
    Client,
    DeadlineExceededError,
    ExecutionPausedError,
    FailedPreconditionError,
    InvalidArgumentError,
    InvalidTransitionError,
    NotFoundError,
    OutOfRangeError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RequestIdReusedError,
    RevisionMismatchError,
    SequenceCompactedError,
    State,
    StatehouseError,
    TaskRunsActiveError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
    _requests as rq,
)
from statehouse.client._errors import error_from_item_status, error_from_rpc
from statehouse.v1 import execution_pb2, execution_service_pb2

Code = grpc.StatusCode


def _any(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def rich_status(
    code: grpc.StatusCode,
    message: str,
    *,
    reason: str | None = None,
    metadata: dict[str, str] | None = None,
    violations: list[tuple[str, str]] | None = None,
    preconditions: list[tuple[str, str, str]] | None = None,
) -> status_pb2.Status:
    status = status_pb2.Status(code=code.value[0], message=message)
    if reason is not None:
        info = error_details_pb2.ErrorInfo(
            reason=reason, domain="statehouse", metadata=metadata or {}
        )
        status.details.append(_any(info))
    if violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                for f, d in violations
            ]
        )
        status.details.append(_any(bad))
    if preconditions:
        failure = error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(type=t, subject=s, description=d)
                for t, s, d in preconditions
            ]
        )
        status.details.append(_any(failure))
    return status


def aio_error(code: grpc.StatusCode, message: str, **details: object) -> grpc.aio.AioRpcError:
    """An error as grpc.aio raises it, with the rich status in the trailers."""
    status = rich_status(code, message, **details)  # type: ignore[arg-type]
    trailers = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailers, details=message)


class BlockingError(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    """An error as a blocking call raises it (what rpc_status.from_call reads)."""

    def __init__(self, code: grpc.StatusCode, message: str, trailers: tuple[object, ...]) -> None:
        self._code, self._message, self._trailers = code, message, trailers

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    def trailing_metadata(self) -> tuple[object, ...]:
        return self._trailers

    def initial_metadata(self) -> tuple[object, ...]:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: object) -> bool:
        return False


def blocking_error(code: grpc.StatusCode, message: str, **details: object) -> BlockingError:
    status = rich_status(code, message, **details)  # type: ignore[arg-type]
    return BlockingError(code, message, (("grpc-status-details-bin", status.SerializeToString()),))


MAPPING = [
    (Code.NOT_FOUND, "EXECUTION_NOT_FOUND", NotFoundError),
    (Code.NOT_FOUND, "TASK_RUN_NOT_FOUND", NotFoundError),
    (Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", InvalidArgumentError),
    (Code.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN", InvalidArgumentError),
    (Code.INVALID_ARGUMENT, "PAYLOAD_TOO_LARGE", PayloadTooLargeError),
    (Code.FAILED_PRECONDITION, "INVALID_TRANSITION", InvalidTransitionError),
    (Code.FAILED_PRECONDITION, "TASK_RUNS_ACTIVE", TaskRunsActiveError),
    (Code.FAILED_PRECONDITION, "EXECUTION_PAUSED", ExecutionPausedError),
    (Code.FAILED_PRECONDITION, "EXECUTION_TERMINAL", FailedPreconditionError),
    (Code.FAILED_PRECONDITION, "EXECUTION_KILLING", FailedPreconditionError),
    (Code.FAILED_PRECONDITION, "EXECUTION_ACTIVE", FailedPreconditionError),
    (Code.FAILED_PRECONDITION, "SOMETHING_NEW", FailedPreconditionError),
    (Code.ABORTED, "REVISION_MISMATCH", RevisionMismatchError),
    (Code.ABORTED, None, AbortedError),
    (Code.ALREADY_EXISTS, "REQUEST_ID_REUSED", RequestIdReusedError),
    (Code.ALREADY_EXISTS, None, AlreadyExistsError),
    (Code.OUT_OF_RANGE, "SEQUENCE_COMPACTED", SequenceCompactedError),
    (Code.OUT_OF_RANGE, None, OutOfRangeError),
    (Code.UNAVAILABLE, "SHUTTING_DOWN", UnavailableError),
    (Code.UNAVAILABLE, None, UnavailableError),
    (Code.DEADLINE_EXCEEDED, None, DeadlineExceededError),
    (Code.UNIMPLEMENTED, None, UnimplementedError),
    (Code.INTERNAL, None, StatehouseError),
    (Code.UNKNOWN, "WHATEVER", StatehouseError),
    (Code.UNAUTHENTICATED, "UNAUTHENTICATED", UnauthenticatedError),
    (Code.UNAUTHENTICATED, None, UnauthenticatedError),
    (Code.PERMISSION_DENIED, "PERMISSION_DENIED", PermissionDeniedError),
    (Code.PERMISSION_DENIED, None, PermissionDeniedError),
]


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    MAPPING,
    ids=[f"{c.name}/{r}" for c, r, _ in MAPPING],
)
@pytest.mark.parametrize("flavour", ["blocking", "aio"])
def test_status_and_reason_choose_the_exception_class(
    code: grpc.StatusCode, reason: str | None, expected: type[StatehouseError], flavour: str
) -> None:
    make = blocking_error if flavour == "blocking" else aio_error
    error = error_from_rpc(make(code, "it went wrong", reason=reason))
    assert type(error) is expected
    assert isinstance(error, StatehouseError)
    assert error.code is code
    assert error.reason == reason
    assert error.message == "it went wrong"
    assert str(error) == "it went wrong"


def test_bad_request_field_violations_are_exposed() -> None:
    error = error_from_rpc(
        aio_error(
            Code.INVALID_ARGUMENT,
            "2 invalid fields",
            reason="INVALID_ARGUMENT",
            violations=[("namespace", "must be lowercase"), ("labels[a b]", "invalid key")],
        )
    )
    assert isinstance(error, InvalidArgumentError)
    assert error.field_violations == [
        ("namespace", "must be lowercase"),
        ("labels[a b]", "invalid key"),
    ]


def test_precondition_failure_violations_are_exposed() -> None:
    error = error_from_rpc(
        blocking_error(
            Code.FAILED_PRECONDITION,
            "active task runs",
            reason="TASK_RUNS_ACTIVE",
            preconditions=[("TASK_RUN_ACTIVE", "task_runs/abc", "abc is RUNNING")],
        )
    )
    assert isinstance(error, TaskRunsActiveError)
    assert error.precondition_violations == [("TASK_RUN_ACTIVE", "task_runs/abc", "abc is RUNNING")]


def test_invalid_transition_carries_both_states() -> None:
    error = error_from_rpc(
        aio_error(
            Code.FAILED_PRECONDITION,
            "SUCCESS cannot go to RUNNING",
            reason="INVALID_TRANSITION",
            metadata={"current_state": "SUCCESS", "requested_state": "RUNNING"},
        )
    )
    assert isinstance(error, InvalidTransitionError)
    assert error.metadata == {"current_state": "SUCCESS", "requested_state": "RUNNING"}
    assert error.current_state is State.SUCCESS
    assert error.requested_state is State.RUNNING


def test_revision_mismatch_carries_both_revisions() -> None:
    error = error_from_rpc(
        blocking_error(
            Code.ABORTED,
            "revision mismatch",
            reason="REVISION_MISMATCH",
            metadata={"expected_revision": "3", "current_revision": "5"},
        )
    )
    assert isinstance(error, RevisionMismatchError)
    assert (error.expected_revision, error.current_revision) == (3, 5)


def test_payload_too_large_carries_sizes_and_is_an_invalid_argument() -> None:
    error = error_from_rpc(
        aio_error(
            Code.INVALID_ARGUMENT,
            "too large",
            reason="PAYLOAD_TOO_LARGE",
            metadata={"limit_bytes": "1024", "size_bytes": "4096"},
        )
    )
    assert isinstance(error, PayloadTooLargeError)
    assert isinstance(error, InvalidArgumentError)
    assert (error.limit_bytes, error.size_bytes) == (1024, 4096)


def test_sequence_compacted_carries_the_first_sequence() -> None:
    error = error_from_rpc(
        aio_error(
            Code.OUT_OF_RANGE,
            "compacted",
            reason="SEQUENCE_COMPACTED",
            metadata={"first_sequence": "120"},
        )
    )
    assert isinstance(error, SequenceCompactedError)
    assert error.first_sequence == 120


def test_permission_denied_says_which_role_would_do() -> None:
    error = error_from_rpc(
        aio_error(
            Code.PERMISSION_DENIED,
            "DeleteExecution needs the admin role; this caller is a writer",
            reason="PERMISSION_DENIED",
            metadata={"role_needed": "admin"},
        )
    )
    assert isinstance(error, PermissionDeniedError)
    assert error.role_needed == "admin"
    outside = error_from_rpc(
        aio_error(Code.PERMISSION_DENIED, "outside", reason="PERMISSION_DENIED")
    )
    assert isinstance(outside, PermissionDeniedError)
    assert outside.role_needed is None


def test_an_error_without_details_keeps_code_and_message() -> None:
    plain = grpc.aio.AioRpcError(
        Code.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), details="connection refused"
    )
    error = error_from_rpc(plain)
    assert isinstance(error, UnavailableError)
    assert (error.reason, error.metadata, error.field_violations) == (None, {}, [])
    assert error.message == "connection refused"


def test_corrupt_details_do_not_hide_the_error() -> None:
    broken = BlockingError(Code.NOT_FOUND, "gone", (("grpc-status-details-bin", b"\xff\x00"),))
    error = error_from_rpc(broken)
    assert isinstance(error, NotFoundError)
    assert error.message == "gone"


def test_retry_policy_is_immutable_and_validated() -> None:
    policy = CallRetry()
    with pytest.raises(AttributeError):
        policy.max_attempts = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        CallRetry(max_attempts=0)
    assert not CallRetry.disabled().allows(1)
    assert CallRetry(max_attempts=None).allows(1_000)
    no_jitter = CallRetry(initial_backoff=0.1, multiplier=2, max_backoff=0.3, jitter=0)
    assert [no_jitter.backoff(n) for n in (1, 2, 3, 4)] == pytest.approx([0.1, 0.2, 0.3, 0.3])


# The client's retries, against a tiny in-process server that fails on purpose.


class FlakyExecutions:
    """Answers GetExecution and CreateExecution after `failures` UNAVAILABLE errors."""

    def __init__(self, failures: int, *, code: grpc.StatusCode = Code.UNAVAILABLE) -> None:
        self.failures = failures
        self.code = code
        self.calls = 0
        self.lock = threading.Lock()

    def _maybe_fail(self, context: grpc.ServicerContext) -> None:
        with self.lock:
            self.calls += 1
            failing = self.calls <= self.failures
        if failing:
            from grpc_status import rpc_status

            status = rich_status(self.code, "try again", reason="SHUTTING_DOWN")
            context.abort_with_status(rpc_status.to_status(status))

    def get(
        self, request: execution_service_pb2.GetExecutionRequest, context: grpc.ServicerContext
    ) -> execution_service_pb2.GetExecutionResponse:
        self._maybe_fail(context)
        return execution_service_pb2.GetExecutionResponse(
            execution=execution_pb2.Execution(id=request.execution_id)
        )

    def create(
        self, request: execution_service_pb2.CreateExecutionRequest, context: grpc.ServicerContext
    ) -> execution_service_pb2.CreateExecutionResponse:
        self._maybe_fail(context)
        return execution_service_pb2.CreateExecutionResponse(
            execution=execution_pb2.Execution(id="new", namespace=request.namespace)
        )


@pytest.fixture
def flaky() -> Iterator[tuple[FlakyExecutions, str]]:
    servicer = FlakyExecutions(failures=2)
    handlers = {
        "GetExecution": grpc.unary_unary_rpc_method_handler(
            servicer.get,
            request_deserializer=execution_service_pb2.GetExecutionRequest.FromString,
            response_serializer=execution_service_pb2.GetExecutionResponse.SerializeToString,
        ),
        "CreateExecution": grpc.unary_unary_rpc_method_handler(
            servicer.create,
            request_deserializer=execution_service_pb2.CreateExecutionRequest.FromString,
            response_serializer=execution_service_pb2.CreateExecutionResponse.SerializeToString,
        ),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("statehouse.v1.ExecutionService", handlers),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        server.stop(None)


FAST = CallRetry(max_attempts=5, initial_backoff=0.001, max_backoff=0.01)


def test_reads_are_retried_on_unavailable(flaky: tuple[FlakyExecutions, str]) -> None:
    servicer, target = flaky
    with Client.connect(target, retry=FAST) as client:
        assert client.get_execution("e1").id == "e1"
    assert servicer.calls == 3


def test_mutations_without_request_id_are_not_retried(flaky: tuple[FlakyExecutions, str]) -> None:
    servicer, target = flaky
    with Client.connect(target, retry=FAST) as client, pytest.raises(UnavailableError) as caught:
        client.create_execution(namespace="ns", flow_id="f")
    assert caught.value.reason == "SHUTTING_DOWN"
    assert isinstance(caught.value.__cause__, grpc.RpcError)
    assert servicer.calls == 1


def test_mutations_with_request_id_are_retried(flaky: tuple[FlakyExecutions, str]) -> None:
    servicer, target = flaky
    with Client.connect(target, retry=FAST) as client:
        execution = client.create_execution(namespace="ns", flow_id="f", request_id="r-1")
    assert execution.namespace == "ns"
    assert servicer.calls == 3


def test_retries_stop_at_max_attempts(flaky: tuple[FlakyExecutions, str]) -> None:
    servicer, target = flaky
    policy = CallRetry(max_attempts=2, initial_backoff=0.001)
    with Client.connect(target, retry=policy) as client, pytest.raises(UnavailableError):
        client.get_execution("e1")
    assert servicer.calls == 2


def test_the_predicate_decides_what_is_transient(flaky: tuple[FlakyExecutions, str]) -> None:
    servicer, target = flaky
    never = CallRetry(initial_backoff=0.001, predicate=lambda error: False)
    with Client.connect(target, retry=never) as client, pytest.raises(UnavailableError):
        client.get_execution("e1")
    assert servicer.calls == 1


def test_non_transient_errors_are_not_retried(flaky: tuple[FlakyExecutions, str]) -> None:
    servicer, target = flaky
    servicer.code = Code.INTERNAL
    with Client.connect(target, retry=FAST) as client, pytest.raises(StatehouseError) as caught:
        client.get_execution("e1")
    assert caught.value.code is Code.INTERNAL
    assert servicer.calls == 1


def test_status_code_numbers_agree_with_google_rpc() -> None:
    # The table relies on grpc.StatusCode values matching google.rpc.Code.
    assert Code.FAILED_PRECONDITION.value[0] == code_pb2.FAILED_PRECONDITION


def test_a_batch_items_status_becomes_the_typed_error_of_the_single_call() -> None:
    info = any_pb2.Any()
    info.Pack(
        error_details_pb2.ErrorInfo(
            reason="INVALID_TRANSITION",
            domain="statehouse",
            metadata={"current_state": "CREATED", "requested_state": "SUCCESS"},
        )
    )
    status = status_pb2.Status(
        code=code_pb2.FAILED_PRECONDITION, message="CREATED -> SUCCESS", details=[info]
    )
    # ItemStatus has the fields and numbers of google.rpc.Status: the same bytes.
    item = execution_service_pb2.ItemStatus.FromString(status.SerializeToString())
    assert item.SerializeToString() == status.SerializeToString()
    error = error_from_item_status(item)
    assert isinstance(error, InvalidTransitionError)
    assert (error.code, error.reason, error.message) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "INVALID_TRANSITION",
        "CREATED -> SUCCESS",
    )
    response = execution_service_pb2.TransitionTaskRunsResponse()
    response.results.add().response.execution_revision = 7
    response.results.add().error.CopyFrom(item)
    ok, failed = rq.transition_results(response)
    assert isinstance(ok, execution_service_pb2.TransitionTaskRunResponse)
    assert ok.execution_revision == 7
    assert isinstance(failed, InvalidTransitionError)
    unknown = error_from_item_status(execution_service_pb2.ItemStatus(code=99, message="?"))
    assert unknown.code == grpc.StatusCode.UNKNOWN


def test_batch_items_are_messages_or_the_single_calls_arguments() -> None:
    message = execution_service_pb2.TransitionTaskRunRequest(task_run_id="m", state=3)
    request = rq.transition_task_runs(
        [
            message,
            {"task_run_id": "t", "state": "running", "request_id": "k", "expected_revision": 0},
        ]
    )
    assert request.requests[0] == message
    second = request.requests[1]
    assert (second.task_run_id, second.request_id, second.HasField("expected_revision")) == (
        "t",
        "k",
        True,
    )
    assert not rq.batch_is_idempotent(request)
    assert rq.batch_is_idempotent(rq.transition_task_runs([]))
    with pytest.raises(TypeError):
        rq.transition_task_runs([{"state": "running"}])
    with pytest.raises(TypeError):
        rq.transition_task_runs([{"task_run_id": "t", "state": "running", "colour": 1}])
