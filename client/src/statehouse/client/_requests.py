"""The RPCs of the SDK, each defined once, for the blocking and the asyncio client alike.

Each definition is the function that builds the RPC's request from the
public method's keyword arguments (its signature and docstring are the
method's, in ``Client`` and ``AsyncClient``), decorated with what else the
call needs (see :mod:`statehouse.client._rpc`): the response type and which
part of it is the result, whether the request may be sent again after a
transient error, the page items of a list, the cursor of a resumable stream.
Calling a definition builds the request (or the cursor), nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar, overload

from google.protobuf import struct_pb2

from statehouse.client._config import CallRetry
from statehouse.client._convert import (
    DeadlineLike,
    StateLike,
    bucket_width_value,
    event_filter,
    metric_type_value,
    role_value,
    state_value,
    state_values,
    task_run_view_value,
    timeout_action_value,
    to_deadline,
    to_duration,
    to_labels,
    to_struct,
    to_timestamp,
    view_value,
)
from statehouse.client._enums import (
    ExecutionView,
    MetricBucketWidth,
    MetricType,
    PauseTimeoutAction,
    Role,
    State,
    TaskRunView,
)
from statehouse.client._errors import StatehouseError, error_from_item_status
from statehouse.client._rpc import (
    ConnectInfo,
    ReconnectInfo,
    always,
    by_request_id,
    never,
    paged,
    streamed,
    unary,
    whole,
)
from statehouse.client._task_retry import TaskRetryPolicyLike, to_retry_policy_pb
from statehouse.v1 import (
    admin_service_pb2,
    event_pb2,
    event_service_pb2,
    execution_pb2,
    execution_service_pb2,
    metric_pb2,
    metric_service_pb2,
)

JSONLike = Mapping[str, Any] | struct_pb2.Struct
ViewLike = ExecutionView | int | str | None
TaskRunViewLike = TaskRunView | int | str | None

#: What a subscription yields when it is asked for heartbeats too.
SubscriptionItem = event_pb2.StateChangeEvent | event_pb2.Heartbeat

_es = execution_service_pb2
_ms = metric_service_pb2
_as = admin_service_pb2


class _WithExecution(Protocol):
    @property
    def execution(self) -> execution_pb2.Execution: ...


def the_execution(response: _WithExecution) -> execution_pb2.Execution:
    """The result of most execution calls: the execution after the change."""
    return response.execution


# ExecutionService


@unary(_es.CreateExecutionResponse, result=the_execution, idempotent=by_request_id)
def create_execution(
    *,
    namespace: str,
    flow_id: str,
    flow_revision: int = 0,
    labels: Mapping[str, str] | None = None,
    inputs: JSONLike | None = None,
    parent_execution_id: str = "",
    request_id: str = "",
    max_duration: DeadlineLike | None = None,
    max_created_duration: DeadlineLike | None = None,
) -> _es.CreateExecutionRequest:
    """Create an execution in CREATED; idempotent by ``request_id``.

    ``max_duration`` bounds its time from creation to end, ``max_created_duration``
    its time in CREATED: a duration (the execution FAILs when it passes) or a
    (duration, action) pair, the action ``"fail"``, ``"kill"`` or ``"mark"``
    (a ``deadline-missed/<name>`` label, and it goes on)."""
    return _es.CreateExecutionRequest(
        namespace=namespace,
        flow_id=flow_id,
        flow_revision=flow_revision,
        labels=to_labels(labels),
        inputs=to_struct(inputs),
        parent_execution_id=parent_execution_id,
        request_id=request_id,
        max_duration=to_deadline(max_duration),
        max_created_duration=to_deadline(max_created_duration),
    )


@unary(_es.GetExecutionResponse, result=the_execution, idempotent=always)
def get_execution(execution_id: str, *, view: ViewLike = None) -> _es.GetExecutionRequest:
    """Return one execution (with its task runs unless ``view`` is BASIC)."""
    return _es.GetExecutionRequest(execution_id=execution_id, view=view_value(view))


@unary(_es.GetTaskRunResponse, result=whole, idempotent=always)
def get_task_run(task_run_id: str) -> _es.GetTaskRunRequest:
    """Return one task run (``task_run``, with its attempts) and its execution's
    ``execution_revision`` and ``execution_state``, read together."""
    return _es.GetTaskRunRequest(task_run_id=task_run_id)


@paged(_es.ListExecutionsResponse, items=lambda page: page.executions)
def list_executions(
    *,
    namespace: str = "",
    flow_id: str = "",
    states: Iterable[StateLike] = (),
    labels: Mapping[str, str] | None = None,
    page_size: int = 0,
    view: ViewLike = None,
) -> _es.ListExecutionsRequest:
    """Iterate over matching executions, newest first, fetching pages as needed."""
    return _es.ListExecutionsRequest(
        namespace=namespace,
        flow_id=flow_id,
        states=state_values(states),
        labels=to_labels(labels),
        page_size=page_size,
        view=view_value(view),
    )


@unary(_es.CountExecutionsResponse, result=whole, idempotent=always)
def count_executions(
    *,
    namespace: str = "",
    flow_id: str = "",
    labels: Mapping[str, str] | None = None,
) -> _es.CountExecutionsRequest:
    """Count matching executions per state: ``counts`` (every state, 0 included)
    and ``total``, counted by the database in one query."""
    return _es.CountExecutionsRequest(
        namespace=namespace, flow_id=flow_id, labels=to_labels(labels)
    )


@unary(_es.DeleteExecutionResponse, result=lambda response: None, idempotent=never)
def delete_execution(
    execution_id: str, *, expected_revision: int | None = None
) -> _es.DeleteExecutionRequest:
    """Delete a terminal execution with its task runs and metrics."""
    return _es.DeleteExecutionRequest(
        execution_id=execution_id, expected_revision=expected_revision
    )


@unary(_es.CreateTaskRunResponse, result=whole, idempotent=by_request_id)
def create_task_run(
    *,
    execution_id: str,
    task_id: str,
    parent_task_run_id: str = "",
    value: str = "",
    retry_policy: TaskRetryPolicyLike | None = None,
    request_id: str = "",
    expected_revision: int | None = None,
    attempt_timeout: timedelta | float | None = None,
) -> _es.CreateTaskRunRequest:
    """Create a task run in CREATED; returns it with the execution's new revision.

    ``retry_policy`` (how the server retries it when it fails) is a
    :class:`TaskRetryPolicy` (``TaskRetryPolicy.constant(interval="2s",
    max_attempts=3)``), a dict (``{"type": "constant", "interval": "2s",
    "max_attempts": 3}``, or the proto's JSON shape) or the generated
    ``RetryPolicy`` message. ``attempt_timeout`` bounds each attempt from its
    start to its end: past it the attempt ends FAILED as if its lease was lost.
    """
    return _es.CreateTaskRunRequest(
        execution_id=execution_id,
        task_id=task_id,
        parent_task_run_id=parent_task_run_id,
        value=value,
        retry_policy=to_retry_policy_pb(retry_policy),
        request_id=request_id,
        expected_revision=expected_revision,
        attempt_timeout=to_duration(attempt_timeout),
    )


@unary(_es.TransitionExecutionResponse, result=the_execution, idempotent=by_request_id)
def transition_execution(
    execution_id: str,
    *,
    state: StateLike,
    reason: str = "",
    outputs: JSONLike | None = None,
    request_id: str = "",
    expected_revision: int | None = None,
) -> _es.TransitionExecutionRequest:
    """Move an execution to ``state``; returns the execution after the change."""
    return _es.TransitionExecutionRequest(
        execution_id=execution_id,
        state=state_value(state),
        reason=reason,
        outputs=to_struct(outputs),
        request_id=request_id,
        expected_revision=expected_revision,
    )


@unary(_es.TransitionTaskRunResponse, result=whole, idempotent=by_request_id)
def transition_task_run(
    task_run_id: str,
    *,
    state: StateLike,
    reason: str = "",
    outputs: JSONLike | None = None,
    worker_id: str = "",
    request_id: str = "",
    expected_revision: int | None = None,
    attempt: int = 0,
    lease_duration: timedelta | float | None = None,
) -> _es.TransitionTaskRunRequest:
    """Move a task run to ``state``; returns the task run, the execution's
    revision and state, and the retry decision. ``attempt`` names the attempt
    reported on (a worker sends the number its claim gave it: a report on an
    attempt that is no longer open, its lease lost, raises
    :class:`FailedPreconditionError` with reason ``ATTEMPT_NOT_OPEN``);
    ``lease_duration`` gives the attempt a move to RUNNING opens a lease."""
    return _es.TransitionTaskRunRequest(
        task_run_id=task_run_id,
        state=state_value(state),
        reason=reason,
        outputs=to_struct(outputs),
        worker_id=worker_id,
        request_id=request_id,
        expected_revision=expected_revision,
        attempt=attempt,
        lease_duration=to_duration(lease_duration),
    )


#: One item of ``transition_task_runs``: a ``TransitionTaskRunRequest``, or a
#: mapping of ``transition_task_run``'s arguments (``task_run_id``, ``state``,
#: and optionally ``reason``, ``outputs``, ``worker_id``, ``request_id``,
#: ``expected_revision``).
TransitionItem = _es.TransitionTaskRunRequest | Mapping[str, Any]
#: One result of ``transition_task_runs``: the response of that item, or the
#: error the single ``transition_task_run`` call would have raised.
TransitionResult = _es.TransitionTaskRunResponse | StatehouseError


def batch_is_idempotent(request: _es.TransitionTaskRunsRequest) -> bool:
    """Safe to send again: every item carries a request_id."""
    return all(item.request_id for item in request.requests)


def transition_results(response: _es.TransitionTaskRunsResponse) -> list[TransitionResult]:
    return [
        result.response
        if result.WhichOneof("result") == "response"
        else error_from_item_status(result.error)
        for result in response.results
    ]


@unary(_es.TransitionTaskRunsResponse, result=transition_results, idempotent=batch_is_idempotent)
def transition_task_runs(
    items: Iterable[TransitionItem], *, view: TaskRunViewLike = None
) -> _es.TransitionTaskRunsRequest:
    """Move several task runs in one call (at most 1,000 items).

    Each item is a ``TransitionTaskRunRequest`` or a mapping of
    ``transition_task_run``'s arguments (``{"task_run_id": ..., "state":
    "RUNNING", ...}``). Items are applied in order and succeed or fail
    independently: the result is a list in the order of ``items`` whose
    entries are each item's ``TransitionTaskRunResponse`` or the
    :class:`StatehouseError` that ``transition_task_run`` would have raised
    for it (returned, not raised). Only an error of the whole call (more
    than 1,000 items, no writer role, the server unreachable) is raised.
    Retried on a transient error when every item has a ``request_id``.
    ``view``: ``"BASIC"`` for task runs without their histories, outputs and
    policies in the responses (a fraction of the size and of the server's
    work, enough for a worker that only reports), FULL by default.
    """
    requests: list[_es.TransitionTaskRunRequest] = []
    for item in items:
        if isinstance(item, _es.TransitionTaskRunRequest):
            requests.append(item)
            continue
        fields = dict(item)
        task_run_id = fields.pop("task_run_id", None)
        if not isinstance(task_run_id, str):
            raise TypeError(f"item {len(requests)}: a task_run_id (str) is required")
        requests.append(transition_task_run(task_run_id, **fields))
    return _es.TransitionTaskRunsRequest(requests=requests, view=task_run_view_value(view))


def claimed_task_runs(response: _es.ClaimTaskRunsResponse) -> list[_es.ClaimedTaskRun]:
    return list(response.task_runs)


def claim_wait(request: _es.ClaimTaskRunsRequest) -> float:
    return float(request.wait.ToTimedelta().total_seconds())


@unary(_es.ClaimTaskRunsResponse, result=claimed_task_runs, idempotent=never, waits=claim_wait)
def claim_task_runs(
    *,
    worker_id: str,
    namespace: str = "",
    flow_id: str = "",
    task_ids: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    max_task_runs: int = 1,
    lease_duration: timedelta | float | None = None,
    wait: timedelta | float | None = None,
    reason: str = "",
) -> _es.ClaimTaskRunsRequest:
    """Claim up to ``max_task_runs`` ready task runs for ``worker_id``, oldest
    ready first: each is RUNNING with a new attempt when this returns (a list
    of ``ClaimedTaskRun``: the task run, its execution without task runs, the
    attempt number, the lease's expiry). With ``wait`` (at most 60 s) and
    nothing ready, the server holds the call until work appears or ``wait``
    passes (the call's timeout grows by it); an empty list then. With
    ``lease_duration``, each attempt must be reported or heartbeat
    (:meth:`heartbeat`) within it, or it ends FAILED. Not retried after a
    transient error: a claim that committed would be repeated."""
    return _es.ClaimTaskRunsRequest(
        filter=_es.TaskRunFilter(
            namespace=namespace, flow_id=flow_id, task_ids=list(task_ids), labels=to_labels(labels)
        ),
        worker_id=worker_id,
        max_task_runs=max_task_runs,
        lease_duration=to_duration(lease_duration),
        wait=to_duration(wait),
        reason=reason,
    )


#: One result of ``heartbeat``: the item's result (its ``lease_expire_time``
#: and ``task_run_state``), or the error that refused it (its attempt is not
#: open, has no lease, or its lease expired).
HeartbeatOutcome = _es.HeartbeatResult | StatehouseError


def heartbeat_results(response: _es.HeartbeatResponse) -> list[HeartbeatOutcome]:
    return [
        error_from_item_status(result.error) if result.HasField("error") else result
        for result in response.results
    ]


@unary(_es.HeartbeatResponse, result=heartbeat_results, idempotent=always)
def heartbeat(attempts: Iterable[tuple[str, int]]) -> _es.HeartbeatRequest:
    """Extend the leases of the attempts a worker holds, given as (task run
    id, attempt number) pairs (at most 1,000), in one call. Returns one entry
    per pair, in order: the ``HeartbeatResult`` (the lease's new expiry, and
    the task run's state: KILLING means stop and report KILLED) or the
    :class:`StatehouseError` that refused that item (``ATTEMPT_NOT_OPEN``,
    ``NO_LEASE``, ``LEASE_EXPIRED``: the attempt is lost, stop working on it),
    returned, not raised."""
    return _es.HeartbeatRequest(
        attempts=[
            _es.HeartbeatItem(task_run_id=task_run_id, attempt=attempt)
            for task_run_id, attempt in attempts
        ]
    )


@unary(_es.PauseExecutionResponse, result=whole, idempotent=by_request_id)
def pause_execution(
    execution_id: str,
    *,
    task_run_id: str = "",
    delay: timedelta | None = None,
    timeout: timedelta | None = None,
    on_timeout: PauseTimeoutAction | int | str | None = None,
    reason: str = "",
    request_id: str = "",
    expected_revision: int | None = None,
) -> _es.PauseExecutionRequest:
    """Pause a running execution (or one task run), optionally with a timer."""
    return _es.PauseExecutionRequest(
        execution_id=execution_id,
        task_run_id=task_run_id,
        delay=to_duration(delay),
        timeout=to_duration(timeout),
        on_timeout=timeout_action_value(on_timeout),
        reason=reason,
        request_id=request_id,
        expected_revision=expected_revision,
    )


@unary(_es.ResumeExecutionResponse, result=the_execution, idempotent=by_request_id)
def resume_execution(
    execution_id: str,
    *,
    task_run_id: str = "",
    reason: str = "",
    request_id: str = "",
    expected_revision: int | None = None,
) -> _es.ResumeExecutionRequest:
    """Resume a paused execution (or task run), cancelling its timer."""
    return _es.ResumeExecutionRequest(
        execution_id=execution_id,
        task_run_id=task_run_id,
        reason=reason,
        request_id=request_id,
        expected_revision=expected_revision,
    )


@unary(_es.KillExecutionResponse, result=whole, idempotent=by_request_id)
def kill_execution(
    execution_id: str,
    *,
    reason: str = "",
    request_id: str = "",
    expected_revision: int | None = None,
) -> _es.KillExecutionRequest:
    """Kill an execution (two-phase, cascading); says whether anything changed."""
    return _es.KillExecutionRequest(
        execution_id=execution_id,
        reason=reason,
        request_id=request_id,
        expected_revision=expected_revision,
    )


@unary(_es.RestartExecutionResponse, result=the_execution, idempotent=by_request_id)
def restart_execution(
    execution_id: str,
    *,
    reason: str = "",
    request_id: str = "",
    expected_revision: int | None = None,
) -> _es.RestartExecutionRequest:
    """Restart a FAILED or KILLED execution; returns it in RESTARTED."""
    return _es.RestartExecutionRequest(
        execution_id=execution_id,
        reason=reason,
        request_id=request_id,
        expected_revision=expected_revision,
    )


@unary(_es.CompleteExecutionResponse, result=the_execution, idempotent=by_request_id)
def complete_execution(
    execution_id: str,
    *,
    state: StateLike | None = None,
    outputs: JSONLike | None = None,
    reason: str = "",
    request_id: str = "",
    expected_revision: int | None = None,
) -> _es.CompleteExecutionRequest:
    """Complete an execution with ``state``, or one derived from its task runs."""
    return _es.CompleteExecutionRequest(
        execution_id=execution_id,
        state=state_value(State.UNSPECIFIED if state is None else state),
        outputs=to_struct(outputs),
        reason=reason,
        request_id=request_id,
        expected_revision=expected_revision,
    )


# MetricService


@unary(
    _ms.RecordMetricsResponse,
    result=lambda response: response.recorded,
    idempotent=by_request_id,
)
def record_metrics(
    task_run_id: str,
    *,
    metrics: Iterable[metric_pb2.MetricEntry],
    attempt: int = 0,
    request_id: str = "",
) -> _ms.RecordMetricsRequest:
    """Record metrics (see :func:`counter`, :func:`timer`); returns how many."""
    return _ms.RecordMetricsRequest(
        task_run_id=task_run_id, attempt=attempt, metrics=list(metrics), request_id=request_id
    )


@paged(_ms.ListMetricsResponse, items=lambda page: page.metrics)
def list_metrics(
    *,
    execution_id: str = "",
    task_run_id: str = "",
    task_id: str = "",
    page_size: int = 0,
) -> _ms.ListMetricsRequest:
    """Iterate over the stored metrics of an execution or task run."""
    return _ms.ListMetricsRequest(
        execution_id=execution_id, task_run_id=task_run_id, task_id=task_id, page_size=page_size
    )


@unary(_ms.AggregateMetricsResponse, result=whole, idempotent=always)
def aggregate_metrics(
    *,
    namespace: str,
    name: str,
    type: MetricType | int | str,
    start_time: datetime,
    end_time: datetime,
    flow_id: str = "",
    task_id: str = "",
    bucket_width: MetricBucketWidth | int | str | None = None,
    group_by_tag: str = "",
) -> _ms.AggregateMetricsRequest:
    """Aggregate one metric over ``[start_time, end_time)`` in time buckets."""
    return _ms.AggregateMetricsRequest(
        namespace=namespace,
        flow_id=flow_id,
        task_id=task_id,
        name=name,
        type=metric_type_value(type),
        start_time=to_timestamp(start_time),
        end_time=to_timestamp(end_time),
        bucket_width=bucket_width_value(bucket_width),
        group_by_tag=group_by_tag,
    )


# AdminService


@unary(
    _as.CreateTokenResponse,
    result=lambda response: (response.token, response.secret),
    idempotent=never,
)
def create_token(
    name: str,
    *,
    role: Role | int | str,
    namespaces: Iterable[str],
    ttl: timedelta | float | None = None,
    certificate_subject: str = "",
) -> _as.CreateTokenRequest:
    """Issue a bearer token (or, with ``certificate_subject``, grant a role to a
    client-certificate subject); returns the credential and its secret.

    The secret (``""`` for a certificate grant) is returned only here: keep
    it. ``ttl`` (a timedelta or seconds; None: until revoked) bounds its
    life. Needs the admin role.
    """
    if isinstance(namespaces, str):  # one pattern given bare: a str is an iterable of letters
        raise TypeError("namespaces must be a list of namespaces or patterns, not a str")
    return _as.CreateTokenRequest(
        name=name,
        role=role_value(role),
        namespaces=list(namespaces),
        ttl=to_duration(ttl),
        certificate_subject=certificate_subject,
    )


@unary(_as.ListTokensResponse, result=lambda response: list(response.tokens), idempotent=always)
def list_tokens(*, include_inactive: bool = False) -> _as.ListTokensRequest:
    """The credentials within the caller's namespaces (with revoked and expired ones
    when ``include_inactive``), without secrets."""
    return _as.ListTokensRequest(include_inactive=include_inactive)


@unary(_as.RevokeTokenResponse, result=lambda response: response.token, idempotent=always)
def revoke_token(name: str) -> _as.RevokeTokenRequest:
    """Revoke a credential; returns it with its revoke time."""
    return _as.RevokeTokenRequest(name=name)


@unary(_as.GetServerInfoResponse, result=whole, idempotent=always)
def get_server_info() -> _as.GetServerInfoRequest:
    """Describe the server: its ``version``, ``database_backend``, the event log's
    ``head_sequence`` and ``first_available_sequence``, its ``start_time`` and
    ``processes``. Any authenticated caller may ask."""
    return _as.GetServerInfoRequest()


# EventService


#: The most events a subscription asks for in one message (the server's own cap).
MAX_EVENTS_PER_MESSAGE = 1000
#: The response header in which the server says where a subscription starts.
START_HEADER = "statehouse-start-sequence"


class SubscriptionCursor:
    """The resumable position of a subscription, shared by both clients.

    It remembers the last sequence received, from events and from heartbeats
    (a heartbeat covers every event up to its sequence), builds the request
    that resumes after it, and drops anything at or below it, so a caller sees
    each event once, in order, across reconnections.
    """

    #: A subscription never ends by itself: a stream that ends is reopened.
    complete = False

    def __init__(
        self,
        *,
        event_filter: event_pb2.EventFilter,
        after_sequence: int,
        from_latest: bool,
        heartbeat_interval: timedelta | float | None,
        heartbeats: bool,
        retry: CallRetry | None = None,
        on_connect: Callable[[ConnectInfo], object] | None = None,
        on_reconnect: Callable[[ReconnectInfo], object] | None = None,
    ) -> None:
        if after_sequence < 0:
            raise ValueError("after_sequence must not be negative")
        self.filter = event_filter
        self.last_sequence = 0 if from_latest else after_sequence
        self.known = not from_latest
        self.heartbeat_interval = to_duration(heartbeat_interval)
        self.heartbeats = heartbeats
        self.retry = retry
        self.on_connect = on_connect
        self.on_reconnect = on_reconnect
        #: Events received at or below ``last_sequence`` and not handed over.
        self.duplicates_dropped = 0

    @property
    def resume_point(self) -> int | None:
        """The sequence to resume after (None: ``from_latest`` and nothing received yet)."""
        return self.last_sequence if self.known else None

    def request(self) -> event_service_pb2.SubscribeRequest:
        """The request that opens (or resumes) the stream (several events per
        message accepted: they are handed over one by one)."""
        return event_service_pb2.SubscribeRequest(
            filter=self.filter,
            after_sequence=self.last_sequence if self.known else 0,
            from_latest=not self.known,
            heartbeat_interval=self.heartbeat_interval,
            max_events_per_message=MAX_EVENTS_PER_MESSAGE,
        )

    def headers(self, headers: Mapping[str, str]) -> None:
        """The stream was accepted: the server says where it starts. A cursor that
        asked for the latest event knows its position from now on, so a reconnect
        before any event resumes from it (nothing committed in between is missed)."""
        start = headers.get(START_HEADER)
        if not self.known and start is not None and start.isdigit():
            self.last_sequence = int(start)
            self.known = True

    def accept(self, response: event_service_pb2.SubscribeResponse) -> Sequence[SubscriptionItem]:
        """Advance the cursor; return what to hand to the caller, in order."""
        kind = response.WhichOneof("payload")
        if kind == "event":
            return self._events((response.event,))
        if kind == "heartbeat":
            heartbeat = response.heartbeat
            if not self.known or heartbeat.sequence > self.last_sequence:
                self.last_sequence = heartbeat.sequence
                self.known = True
            return (heartbeat,) if self.heartbeats else ()
        return self._events(response.events)

    def _events(self, events: Iterable[event_pb2.StateChangeEvent]) -> list[SubscriptionItem]:
        fresh: list[SubscriptionItem] = []
        for event in events:
            if self.known and event.sequence <= self.last_sequence:
                self.duplicates_dropped += 1
                continue
            self.last_sequence = event.sequence
            self.known = True
            fresh.append(event)
        return fresh


@streamed(event_service_pb2.SubscribeResponse)
def subscribe(
    *,
    namespace: str = "",
    flow_id: str = "",
    execution_ids: Iterable[str] = (),
    states: Iterable[StateLike] = (),
    after_sequence: int = 0,
    from_latest: bool = False,
    heartbeat_interval: timedelta | float | None = None,
    heartbeats: bool = False,
    retry: CallRetry | None = None,
    on_connect: Callable[[ConnectInfo], object] | None = None,
    on_reconnect: Callable[[ReconnectInfo], object] | None = None,
) -> SubscriptionCursor:
    """Subscribe to state-change events, resuming by itself after failures.

    ``after_sequence=0`` replays the retained history, then goes live;
    ``from_latest=True`` starts after the latest event (should the stream
    fail before its first event or heartbeat, it reopens from the latest
    again: ask for heartbeats to pin the cursor at once). With
    ``heartbeats=True`` the iterator also yields ``Heartbeat`` messages
    (sent every ``heartbeat_interval``). ``retry`` governs reconnection
    (default: the client's ``stream_retry``; its ``max_attempts`` bounds consecutive
    failed reconnections, the count restarting with each message).

    ``on_connect(info)`` is called, in the iterating thread or task, each time
    the server accepts the stream (``info.opens`` 1 the first time, ``info.reconnected``
    after), before any event of that connection. ``on_reconnect(info)`` is
    called before each wait and reopening, with the ``attempt`` number, the
    ``error`` (None if the stream ended), the ``delay`` and ``last_sequence``.
    When the subscription gives up, the error it raises carries
    ``last_sequence``: resume with ``after_sequence=error.last_sequence``.
    """
    return SubscriptionCursor(
        event_filter=event_filter(
            namespace=namespace, flow_id=flow_id, execution_ids=execution_ids, states=states
        ),
        after_sequence=after_sequence,
        from_latest=from_latest,
        heartbeat_interval=heartbeat_interval,
        heartbeats=heartbeats,
        retry=retry,
        on_connect=on_connect,
        on_reconnect=on_reconnect,
    )


_EventsT = TypeVar("_EventsT", covariant=True)
_ItemsT = TypeVar("_ItemsT", covariant=True)


class Subscribe(Protocol[_EventsT, _ItemsT]):
    """The typed ``subscribe`` method of a client whose subscriptions of events
    are ``_EventsT`` and, with heartbeats, ``_ItemsT``."""

    @overload
    def __call__(
        self,
        *,
        namespace: str = ...,
        flow_id: str = ...,
        execution_ids: Iterable[str] = ...,
        states: Iterable[StateLike] = ...,
        after_sequence: int = ...,
        from_latest: bool = ...,
        heartbeat_interval: timedelta | float | None = ...,
        heartbeats: Literal[False] = ...,
        retry: CallRetry | None = ...,
        on_connect: Callable[[ConnectInfo], object] | None = ...,
        on_reconnect: Callable[[ReconnectInfo], object] | None = ...,
    ) -> _EventsT: ...

    @overload
    def __call__(
        self,
        *,
        namespace: str = ...,
        flow_id: str = ...,
        execution_ids: Iterable[str] = ...,
        states: Iterable[StateLike] = ...,
        after_sequence: int = ...,
        from_latest: bool = ...,
        heartbeat_interval: timedelta | float | None = ...,
        heartbeats: Literal[True],
        retry: CallRetry | None = ...,
        on_connect: Callable[[ConnectInfo], object] | None = ...,
        on_reconnect: Callable[[ReconnectInfo], object] | None = ...,
    ) -> _ItemsT: ...


def _terminal(value: int) -> bool:
    try:
        return State(value).is_terminal
    except ValueError:  # a state newer than this SDK
        return False


def execution_settled(execution: execution_pb2.Execution) -> bool:
    """True when an execution and all its task runs are terminal."""
    return _terminal(execution.state) and all(_terminal(r.state) for r in execution.task_runs)


class FollowCursor:
    """The position of a follow: the last revision seen, so a snapshot seen
    before a reconnection is not handed over again."""

    retry: CallRetry | None = None

    def __init__(self, execution_id: str) -> None:
        self._request = event_service_pb2.FollowExecutionRequest(execution_id=execution_id)
        self.last_revision = -1
        self.settled = False

    def request(self) -> event_service_pb2.FollowExecutionRequest:
        return self._request

    def accept(
        self, response: event_service_pb2.FollowExecutionResponse
    ) -> Sequence[execution_pb2.Execution]:
        execution = response.execution
        if execution.revision <= self.last_revision:
            return ()
        self.last_revision = execution.revision
        self.settled = execution_settled(execution)
        return (execution,)

    @property
    def complete(self) -> bool:
        """Over when the execution is settled, or the server had nothing to send."""
        return self.settled or self.last_revision < 0


@streamed(event_service_pb2.FollowExecutionResponse)
def follow_execution(execution_id: str) -> FollowCursor:
    """Iterate over snapshots of an execution until it and its task runs are terminal.

    Reconnects after transient failures, skipping snapshots already seen.
    """
    return FollowCursor(execution_id)
