"""The Python SDK of Statehouse, the system of record for workflow executions.

Blocking::

    from statehouse.client import Client, State

    with Client.connect("127.0.0.1:50051") as client:
        execution = client.create_execution(namespace="company.team", flow_id="etl",
                                            inputs={"day": "2025-01-01"}, request_id="etl-0101")
        run = client.create_task_run(execution_id=execution.id, task_id="extract").task_run
        client.transition_task_run(run.id, state=State.RUNNING, worker_id="w1")
        for event in client.subscribe(namespace="company.team", after_sequence=0):
            print(event.sequence, State(event.state))

asyncio: ``AsyncClient`` has the same methods as coroutines, and async
iterators for lists, subscriptions and follows (``async with
AsyncClient.connect(target) as client``).

Values in, messages out: methods take keyword arguments with plain Python
values (``str``, ``dict`` for labels, inputs and outputs, ``datetime.timedelta``
for durations, ``datetime`` for times) and return the generated messages of
``statehouse.v1`` (``Execution``, ``TaskRun``, ``StateChangeEvent``, ...); a
call whose response has several useful fields (``create_task_run``,
``transition_task_run``, ``pause_execution``, ``kill_execution``,
``aggregate_metrics``) returns the whole response.

States: :class:`State` is an ``IntEnum`` whose members carry the proto numbers
without the ``STATE_`` prefix: ``State.RUNNING == statehouse.v1.state_pb2.STATE_RUNNING``.
Compare message fields with it directly (``execution.state == State.RUNNING``)
or convert (``State(execution.state)``, whose ``str()`` is ``"RUNNING"``).
Wherever a method takes a state it also accepts the proto number or a name
(``"running"``). ``ExecutionView``, ``TaskRunView``, ``PauseTimeoutAction``, ``DeadlineAction``,
``MetricType`` and ``MetricBucketWidth`` follow the same rule.

Errors: every failed call raises a :class:`StatehouseError` subclass chosen
from the gRPC status code and the server's ``ErrorInfo`` reason (see
``statehouse.client._errors`` for the hierarchy), chained from the
``grpc.RpcError``.

Security: ``Client.connect(target, token=..., tls=...)`` sends the token as
``authorization: Bearer <token>`` with every call and stream, and ``tls``
(``True`` for the system's roots, or a :class:`TlsConfig` with a CA and, for
mTLS, a client certificate and key) secures the channel; unset, they come
from ``STATEHOUSE_TOKEN`` and ``STATEHOUSE_TLS_CA`` / ``_CERT`` / ``_KEY``. No
``repr`` or error shows the token. A refused credential raises
:class:`UnauthenticatedError`, a missing right :class:`PermissionDeniedError`.
``create_token``, ``list_tokens`` and ``revoke_token`` manage credentials
(admin role); tokens come back as ``Token`` messages with a :class:`Role`.

Two kinds of retry, two names. :class:`CallRetry` is the client's: unary
calls are retried per ``connect(retry=CallRetry(...))`` (default
``DEFAULT_CALL_RETRY``) when the error is transient (UNAVAILABLE) and the call
is safe to repeat: a read, or a mutation carrying a ``request_id``;
subscriptions reconnect per ``stream_retry`` (``DEFAULT_STREAM_RETRY``) and
resume after their last sequence. :class:`TaskRetryPolicy` is a task run's,
applied by the server when a worker reports it FAILED:
``create_task_run(..., retry_policy=TaskRetryPolicy.constant(interval="2s",
max_attempts=3))``, or a dict (``{"type": "constant", "interval": "2s",
"max_attempts": 3}``), or the generated ``RetryPolicy`` message.

Connection failures: when no connection can be made, the error is a
:class:`ServerUnreachableError` (an ``UnavailableError``) that names the
address and what to check (``cannot reach the Statehouse server at
127.0.0.1:1 (connection refused): is it running there?``), with gRPC's own
text in ``detail``.

Subscriptions tell how their connection goes: ``subscribe(on_connect=...,
on_reconnect=...)`` are called when the server accepts the stream
(:class:`ConnectInfo`) and before each wait and reopening
(:class:`ReconnectInfo`: attempt, error, delay, ``last_sequence``); the error
that ends a subscription carries ``last_sequence``, the point to resume after.

Subscriptions count what happened on the way: ``reconnects`` (the stream
opened again after a failure or its end) and ``duplicates_dropped`` (events at
or below ``last_sequence`` received again and dropped; 0 from a server that
delivers each event once).
"""

from statehouse.client._aio import AsyncClient, AsyncSubscription
from statehouse.client._client import Client, Subscription
from statehouse.client._config import DEFAULT_CALL_RETRY, DEFAULT_STREAM_RETRY, CallRetry
from statehouse.client._convert import counter, timer, to_dict
from statehouse.client._enums import (
    DeadlineAction,
    ExecutionView,
    MetricBucketWidth,
    MetricType,
    PauseTimeoutAction,
    Role,
    State,
    TaskRunView,
)
from statehouse.client._errors import (
    AbortedError,
    AlreadyExistsError,
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
    ServerUnreachableError,
    StatehouseError,
    TaskRunsActiveError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
)
from statehouse.client._rpc import ConnectInfo, ReconnectInfo
from statehouse.client._security import TlsConfig
from statehouse.client._task_retry import TaskRetryPolicy
from statehouse.client._worker import AsyncWorker, Job, Outcome, Worker
from statehouse.v1.admin_service_pb2 import Token
from statehouse.v1.event_pb2 import Heartbeat, StateChangeEvent
from statehouse.v1.execution_pb2 import Attempt, Execution, StateChange, TaskRun
from statehouse.v1.metric_pb2 import Metric, MetricEntry

__all__ = [
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


# Names this SDK no longer has, and what replaced them.
_RENAMED = {
    "RetryPolicy": (
        "statehouse.client.RetryPolicy no longer exists: the client's call retries are "
        "CallRetry (connect(retry=..., stream_retry=...)), a task run's retry policy is "
        "TaskRetryPolicy (create_task_run(retry_policy=...))"
    ),
    "DEFAULT_RETRY": "statehouse.client.DEFAULT_RETRY is now DEFAULT_CALL_RETRY (a CallRetry)",
}


def __getattr__(name: str) -> object:
    if name in _RENAMED:
        raise AttributeError(_RENAMED[name], name=name, obj=None)
    raise AttributeError(f"module 'statehouse.client' has no attribute {name!r}", name=name)
