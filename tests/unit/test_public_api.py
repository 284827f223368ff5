"""The public surface of the SDK is a deliberate choice: changing it fails here."""

from __future__ import annotations

import pytest

import statehouse.client
from statehouse.client import State
from statehouse.v1 import state_pb2

EXPECTED = [
    "DEFAULT_CALL_RETRY",
    "DEFAULT_STREAM_RETRY",
    "AbortedError",
    "AlreadyExistsError",
    "AsyncClient",
    "AsyncSubscription",
    "AsyncWorker",
    "Attempt",
    "CallRetry",
    "Client",
    "ConnectInfo",
    "DeadlineAction",
    "DeadlineExceededError",
    "Execution",
    "ExecutionPausedError",
    "ExecutionView",
    "FailedPreconditionError",
    "Heartbeat",
    "InvalidArgumentError",
    "InvalidTransitionError",
    "Job",
    "Metric",
    "MetricBucketWidth",
    "MetricEntry",
    "MetricType",
    "NotFoundError",
    "OutOfRangeError",
    "Outcome",
    "PauseTimeoutAction",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "ReconnectInfo",
    "RequestIdReusedError",
    "RevisionMismatchError",
    "Role",
    "SequenceCompactedError",
    "ServerUnreachableError",
    "State",
    "StateChange",
    "StateChangeEvent",
    "StatehouseError",
    "Subscription",
    "TaskRetryPolicy",
    "TaskRun",
    "TaskRunView",
    "TaskRunsActiveError",
    "TlsConfig",
    "Token",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "Worker",
    "counter",
    "timer",
    "to_dict",
]


def test_all_is_pinned() -> None:
    assert statehouse.client.__all__ == EXPECTED


def test_every_public_name_exists() -> None:
    for name in statehouse.client.__all__:
        assert hasattr(statehouse.client, name), name


def test_errors_share_one_root() -> None:
    for name in statehouse.client.__all__:
        value = getattr(statehouse.client, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, statehouse.client.StatehouseError), name


def test_state_members_are_the_proto_values_without_prefix() -> None:
    for name, number in state_pb2.State.items():
        assert State[name.removeprefix("STATE_")] == number
    assert State.RUNNING == state_pb2.STATE_RUNNING
    assert State.parse("running") is State.RUNNING
    assert State.parse("STATE_KILLED") is State.KILLED
    assert str(State.WARNING) == "WARNING"
    assert State.RUNNING.proto_name == "STATE_RUNNING"
    assert {s for s in State if s.is_terminal} == {
        State.SUCCESS,
        State.WARNING,
        State.FAILED,
        State.KILLED,
    }


def test_the_old_retry_names_say_what_replaced_them() -> None:
    with pytest.raises(AttributeError, match=r"CallRetry.*TaskRetryPolicy"):
        statehouse.client.RetryPolicy  # noqa: B018
    with pytest.raises(AttributeError, match="DEFAULT_CALL_RETRY"):
        statehouse.client.DEFAULT_RETRY  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        statehouse.client.nope  # noqa: B018
