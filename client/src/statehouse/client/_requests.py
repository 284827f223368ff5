"""Request builders shared by the blocking and the asyncio clients.

Each function turns the plain keyword arguments of a client method into the
generated request message, so both clients convert values the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from google.protobuf import struct_pb2

from statehouse.client._convert import (
    StateLike,
    bucket_width_value,
    metric_type_value,
    role_value,
    state_value,
    state_values,
    timeout_action_value,
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
)
from statehouse.client._errors import StatehouseError, error_from_item_status
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

_es = execution_service_pb2


def create_execution(
    *,
    namespace: str,
    flow_id: str,
    flow_revision: int = 0,
    labels: Mapping[str, str] | None = None,
    inputs: JSONLike | None = None,
    parent_execution_id: str = "",
    request_id: str = "",
) -> _es.CreateExecutionRequest:
    return _es.CreateExecutionRequest(
        namespace=namespace,
        flow_id=flow_id,
        flow_revision=flow_revision,
        labels=to_labels(labels),
        inputs=to_struct(inputs),
        parent_execution_id=parent_execution_id,
        request_id=request_id,
    )


def get_execution(execution_id: str, *, view: ViewLike = None) -> _es.GetExecutionRequest:
    return _es.GetExecutionRequest(execution_id=execution_id, view=view_value(view))


def list_executions(
    *,
    namespace: str = "",
    flow_id: str = "",
    states: Iterable[StateLike] = (),
    labels: Mapping[str, str] | None = None,
    page_size: int = 0,
    view: ViewLike = None,
) -> _es.ListExecutionsRequest:
    return _es.ListExecutionsRequest(
        namespace=namespace,
        flow_id=flow_id,
        states=state_values(states),
        labels=to_labels(labels),
        page_size=page_size,
        view=view_value(view),
    )


def delete_execution(
    execution_id: str, *, expected_revision: int | None = None
) -> _es.DeleteExecutionRequest:
    return _es.DeleteExecutionRequest(
        execution_id=execution_id, expected_revision=expected_revision
    )


def create_task_run(
    *,
    execution_id: str,
    task_id: str,
    parent_task_run_id: str = "",
    value: str = "",
    retry_policy: execution_pb2.RetryPolicy | None = None,
    request_id: str = "",
    expected_revision: int | None = None,
) -> _es.CreateTaskRunRequest:
    return _es.CreateTaskRunRequest(
        execution_id=execution_id,
        task_id=task_id,
        parent_task_run_id=parent_task_run_id,
        value=value,
        retry_policy=retry_policy,
        request_id=request_id,
        expected_revision=expected_revision,
    )


def transition_execution(
    execution_id: str,
    *,
    state: StateLike,
    reason: str = "",
    outputs: JSONLike | None = None,
    request_id: str = "",
    expected_revision: int | None = None,
) -> _es.TransitionExecutionRequest:
    return _es.TransitionExecutionRequest(
        execution_id=execution_id,
        state=state_value(state),
        reason=reason,
        outputs=to_struct(outputs),
        request_id=request_id,
        expected_revision=expected_revision,
    )


def transition_task_run(
    task_run_id: str,
    *,
    state: StateLike,
    reason: str = "",
    outputs: JSONLike | None = None,
    worker_id: str = "",
    request_id: str = "",
    expected_revision: int | None = None,
) -> _es.TransitionTaskRunRequest:
    return _es.TransitionTaskRunRequest(
        task_run_id=task_run_id,
        state=state_value(state),
        reason=reason,
        outputs=to_struct(outputs),
        worker_id=worker_id,
        request_id=request_id,
        expected_revision=expected_revision,
    )


#: One item of ``transition_task_runs``: a ``TransitionTaskRunRequest``, or a
#: mapping of ``transition_task_run``'s arguments (``task_run_id``, ``state``,
#: and optionally ``reason``, ``outputs``, ``worker_id``, ``request_id``,
#: ``expected_revision``).
TransitionItem = _es.TransitionTaskRunRequest | Mapping[str, Any]
#: One result of ``transition_task_runs``: the response of that item, or the
#: error the single ``transition_task_run`` call would have raised.
TransitionResult = _es.TransitionTaskRunResponse | StatehouseError


def transition_task_runs(items: Iterable[TransitionItem]) -> _es.TransitionTaskRunsRequest:
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
    return _es.TransitionTaskRunsRequest(requests=requests)


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


def resume_execution(
    execution_id: str,
    *,
    task_run_id: str = "",
    reason: str = "",
    request_id: str = "",
    expected_revision: int | None = None,
) -> _es.ResumeExecutionRequest:
    return _es.ResumeExecutionRequest(
        execution_id=execution_id,
        task_run_id=task_run_id,
        reason=reason,
        request_id=request_id,
        expected_revision=expected_revision,
    )


def kill_execution(
    execution_id: str,
    *,
    reason: str = "",
    request_id: str = "",
    expected_revision: int | None = None,
) -> _es.KillExecutionRequest:
    return _es.KillExecutionRequest(
        execution_id=execution_id,
        reason=reason,
        request_id=request_id,
        expected_revision=expected_revision,
    )


def restart_execution(
    execution_id: str,
    *,
    reason: str = "",
    request_id: str = "",
    expected_revision: int | None = None,
) -> _es.RestartExecutionRequest:
    return _es.RestartExecutionRequest(
        execution_id=execution_id,
        reason=reason,
        request_id=request_id,
        expected_revision=expected_revision,
    )


def complete_execution(
    execution_id: str,
    *,
    state: StateLike | None = None,
    outputs: JSONLike | None = None,
    reason: str = "",
    request_id: str = "",
    expected_revision: int | None = None,
) -> _es.CompleteExecutionRequest:
    return _es.CompleteExecutionRequest(
        execution_id=execution_id,
        state=state_value(State.UNSPECIFIED if state is None else state),
        outputs=to_struct(outputs),
        reason=reason,
        request_id=request_id,
        expected_revision=expected_revision,
    )


def record_metrics(
    task_run_id: str,
    *,
    metrics: Iterable[metric_pb2.MetricEntry],
    attempt: int = 0,
    request_id: str = "",
) -> metric_service_pb2.RecordMetricsRequest:
    return metric_service_pb2.RecordMetricsRequest(
        task_run_id=task_run_id, attempt=attempt, metrics=list(metrics), request_id=request_id
    )


def list_metrics(
    *,
    execution_id: str = "",
    task_run_id: str = "",
    task_id: str = "",
    page_size: int = 0,
) -> metric_service_pb2.ListMetricsRequest:
    return metric_service_pb2.ListMetricsRequest(
        execution_id=execution_id, task_run_id=task_run_id, task_id=task_id, page_size=page_size
    )


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
) -> metric_service_pb2.AggregateMetricsRequest:
    return metric_service_pb2.AggregateMetricsRequest(
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


def create_token(
    name: str,
    *,
    role: Role | int | str,
    namespaces: Iterable[str],
    ttl: timedelta | float | None = None,
    certificate_subject: str = "",
) -> admin_service_pb2.CreateTokenRequest:
    if isinstance(namespaces, str):  # one pattern given bare: a str is an iterable of letters
        raise TypeError("namespaces must be a list of namespaces or patterns, not a str")
    return admin_service_pb2.CreateTokenRequest(
        name=name,
        role=role_value(role),
        namespaces=list(namespaces),
        ttl=to_duration(ttl),
        certificate_subject=certificate_subject,
    )


def list_tokens(*, include_inactive: bool = False) -> admin_service_pb2.ListTokensRequest:
    return admin_service_pb2.ListTokensRequest(include_inactive=include_inactive)


def revoke_token(name: str) -> admin_service_pb2.RevokeTokenRequest:
    return admin_service_pb2.RevokeTokenRequest(name=name)


def follow_execution(execution_id: str) -> event_service_pb2.FollowExecutionRequest:
    return event_service_pb2.FollowExecutionRequest(execution_id=execution_id)


class SubscriptionCursor:
    """The resumable position of a subscription, shared by both clients.

    It remembers the last sequence received, from events and from heartbeats
    (a heartbeat covers every event up to its sequence), builds the request
    that resumes after it, and drops anything at or below it, so a caller sees
    each event once, in order, across reconnections.
    """

    def __init__(
        self,
        *,
        event_filter: event_pb2.EventFilter,
        after_sequence: int,
        from_latest: bool,
        heartbeat_interval: timedelta | float | None,
        heartbeats: bool,
    ) -> None:
        if after_sequence < 0:
            raise ValueError("after_sequence must not be negative")
        self.filter = event_filter
        self.last_sequence = 0 if from_latest else after_sequence
        self.known = not from_latest
        self.heartbeat_interval = to_duration(heartbeat_interval)
        self.heartbeats = heartbeats
        #: Events received at or below ``last_sequence`` and not handed over.
        self.duplicates_dropped = 0

    def request(self) -> event_service_pb2.SubscribeRequest:
        """The request that opens (or resumes) the stream."""
        return event_service_pb2.SubscribeRequest(
            filter=self.filter,
            after_sequence=self.last_sequence if self.known else 0,
            from_latest=not self.known,
            heartbeat_interval=self.heartbeat_interval,
        )

    def accept(
        self, response: event_service_pb2.SubscribeResponse
    ) -> event_pb2.StateChangeEvent | event_pb2.Heartbeat | None:
        """Advance the cursor; return what to hand to the caller, if anything."""
        kind = response.WhichOneof("payload")
        if kind == "event":
            event = response.event
            if self.known and event.sequence <= self.last_sequence:
                self.duplicates_dropped += 1
                return None
            self.last_sequence = event.sequence
            self.known = True
            return event
        if kind == "heartbeat":
            heartbeat = response.heartbeat
            if not self.known or heartbeat.sequence > self.last_sequence:
                self.last_sequence = heartbeat.sequence
                self.known = True
            return heartbeat if self.heartbeats else None
        return None


def _terminal(value: int) -> bool:
    try:
        return State(value).is_terminal
    except ValueError:  # a state newer than this SDK
        return False


def execution_settled(execution: execution_pb2.Execution) -> bool:
    """True when an execution and all its task runs are terminal."""
    return _terminal(execution.state) and all(_terminal(r.state) for r in execution.task_runs)
