"""The asyncio client, on a ``grpc.aio.Channel``.

It mirrors :class:`statehouse.client.Client` method for method: unary calls
are coroutines, lists, subscriptions and follows are async iterators.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Generic, Literal, Self, TypeVar, cast, overload

import grpc
import grpc.aio

from statehouse.client import _requests as rq
from statehouse.client._client import (
    MetadataLike,
    SubscriptionItem,
    _seconds,
    client_repr,
    normalize_metadata,
)
from statehouse.client._config import (
    DEFAULT_RETRY,
    DEFAULT_STREAM_RETRY,
    DEFAULT_TIMEOUT,
    RetryPolicy,
)
from statehouse.client._convert import StateLike, event_filter
from statehouse.client._enums import MetricBucketWidth, MetricType, PauseTimeoutAction, Role
from statehouse.client._errors import StatehouseError, UnavailableError, error_from_rpc
from statehouse.client._security import TlsConfig, channel_security, with_token
from statehouse.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    event_pb2,
    event_service_pb2,
    event_service_pb2_grpc,
    execution_pb2,
    execution_service_pb2,
    execution_service_pb2_grpc,
    metric_pb2,
    metric_service_pb2,
    metric_service_pb2_grpc,
)

__all__ = ["AsyncClient", "AsyncSubscription"]

_Req = TypeVar("_Req")
_Resp = TypeVar("_Resp")
_T = TypeVar("_T")


class AsyncSubscription(Generic[_T]):
    """An async iterator of events that resumes by itself.

    The asyncio twin of :class:`statehouse.client.Subscription`: it keeps
    ``last_sequence`` (advanced by events and heartbeats), reopens the stream
    with ``after_sequence=last_sequence`` after a transient failure, and
    yields each event once, in order. ``await close()`` (or cancelling the
    consuming task) ends it.

    Two counters tell how the stream went, for monitoring and benchmarks:
    ``reconnects`` (how many times the stream was opened again after it
    failed or ended, successful or not) and ``duplicates_dropped`` (events
    received at or below ``last_sequence``, which the subscription dropped
    instead of yielding again; a server that keeps its promise of "each event
    once" leaves it at 0, across reconnections too).
    """

    def __init__(
        self,
        method: grpc.aio.UnaryStreamMultiCallable[
            event_service_pb2.SubscribeRequest, event_service_pb2.SubscribeResponse
        ],
        cursor: rq.SubscriptionCursor,
        *,
        retry: RetryPolicy,
        metadata: tuple[tuple[str, str], ...],
    ) -> None:
        self._method = method
        self._cursor = cursor
        self._retry = retry
        self._metadata = metadata
        self._call: (
            grpc.aio.UnaryStreamCall[
                event_service_pb2.SubscribeRequest, event_service_pb2.SubscribeResponse
            ]
            | None
        ) = None
        self._closed = False
        self._failures = 0
        self._opens = 0

    @property
    def last_sequence(self) -> int:
        """The sequence of the last event (or heartbeat) received."""
        return self._cursor.last_sequence

    @property
    def reconnects(self) -> int:
        """How many times the stream was opened again after a failure or its end."""
        return max(self._opens - 1, 0)

    @property
    def duplicates_dropped(self) -> int:
        """Events received again (at or below ``last_sequence``) and not yielded."""
        return self._cursor.duplicates_dropped

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> _T:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._call is None:
                self._call = self._method(self._cursor.request(), metadata=self._metadata)
                self._opens += 1
            call = self._call
            try:
                response = await call.read()
            except grpc.RpcError as exc:
                self._call = None
                if self._closed:
                    raise StopAsyncIteration from None
                await self._backoff_or_raise(error_from_rpc(exc), exc)
                continue
            if response is grpc.aio.EOF:
                self._call = None
                await self._backoff_or_raise(None, None)
                continue
            self._failures = 0
            item = self._cursor.accept(cast(event_service_pb2.SubscribeResponse, response))
            if item is not None:
                return cast(_T, item)

    async def _backoff_or_raise(
        self, error: StatehouseError | None, cause: BaseException | None
    ) -> None:
        self._failures += 1
        transient = error is None or self._retry.is_transient(error)
        if not transient or not self._retry.allows(self._failures):
            if error is None:
                raise StopAsyncIteration
            raise error from cause
        await asyncio.sleep(self._retry.backoff(self._failures))

    async def close(self) -> None:
        """Stop the subscription; iteration ends."""
        self._closed = True
        call, self._call = self._call, None
        if call is not None:
            call.cancel()

    async def aclose(self) -> None:
        """Alias of :meth:`close`, like an async generator's."""
        await self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class AsyncClient:
    """An asyncio Statehouse client, on a ``grpc.aio.Channel``.

    Create it with :meth:`connect` (inside a running event loop) and close it
    (``await client.close()`` or ``async with``). Methods take
    keyword arguments with plain Python values and return the generated
    messages (``statehouse.v1``). Failed calls raise :class:`StatehouseError`
    subclasses. Unary calls are retried per ``retry`` when the error is
    transient and the call is safe to repeat (a read, or a mutation with a
    ``request_id``).
    """

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        timeout: float | timedelta | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY,
        stream_retry: RetryPolicy = DEFAULT_STREAM_RETRY,
        metadata: MetadataLike | None = None,
        token: str | None = None,
        owns_channel: bool = False,
    ) -> None:
        self._channel = channel
        self._owns_channel = owns_channel
        self._target: str | None = None
        self._secure: bool | None = None
        self._timeout = _seconds(timeout)
        self._retry = retry
        self._stream_retry = stream_retry
        self._metadata = with_token(normalize_metadata(metadata), token)
        self._executions = execution_service_pb2_grpc.ExecutionServiceStub(channel)
        self._events = event_service_pb2_grpc.EventServiceStub(channel)
        self._metrics = metric_service_pb2_grpc.MetricServiceStub(channel)
        self._admin = admin_service_pb2_grpc.AdminServiceStub(channel)

    @classmethod
    def connect(
        cls,
        target: str,
        *,
        timeout: float | timedelta | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY,
        stream_retry: RetryPolicy = DEFAULT_STREAM_RETRY,
        metadata: MetadataLike | None = None,
        token: str | None = None,
        tls: bool | TlsConfig | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, str | int]] = (),
    ) -> AsyncClient:
        """Open a channel to ``target`` ("host:port").

        The channel connects lazily; ``timeout`` is the deadline of each unary
        call (None: none); ``retry`` governs unary calls and ``stream_retry``
        the reconnections of subscriptions and follows. ``token``, ``tls``
        and ``credentials`` as in :meth:`statehouse.client.Client.connect`
        (``$STATEHOUSE_TOKEN`` and ``$STATEHOUSE_TLS_*`` for what is None).
        """
        security = channel_security(
            token=token, tls=tls, credentials=credentials, metadata=normalize_metadata(metadata)
        )
        all_options = [*security.options, *options]
        if security.credentials is None:
            channel = grpc.aio.insecure_channel(target, options=all_options)
        else:
            channel = grpc.aio.secure_channel(target, security.credentials, options=all_options)
        client = cls(
            channel,
            timeout=timeout,
            retry=retry,
            stream_retry=stream_retry,
            metadata=security.metadata,
            owns_channel=True,
        )
        client._target = target
        client._secure = security.credentials is not None
        return client

    def __repr__(self) -> str:
        return client_repr(type(self).__name__, self._target, self._secure, self._metadata)

    async def close(self) -> None:
        """Close the channel (if the client opened it)."""
        if self._owns_channel:
            await self._channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def wait_for_ready(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until the channel is connected; UnavailableError after ``timeout``."""
        try:
            await asyncio.wait_for(self._channel.channel_ready(), timeout)
        except TimeoutError as exc:
            raise UnavailableError(
                f"the server is not reachable within {timeout} s",
                code=grpc.StatusCode.UNAVAILABLE,
            ) from exc

    async def _unary(
        self,
        method: grpc.aio.UnaryUnaryMultiCallable[_Req, _Resp],
        request: _Req,
        *,
        idempotent: bool,
    ) -> _Resp:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await method(request, timeout=self._timeout, metadata=self._metadata)
            except grpc.RpcError as exc:
                error = error_from_rpc(exc)
                if idempotent and self._retry.is_transient(error) and self._retry.allows(attempt):
                    await asyncio.sleep(self._retry.backoff(attempt))
                    continue
                raise error from exc

    # ExecutionService

    async def create_execution(
        self,
        *,
        namespace: str,
        flow_id: str,
        flow_revision: int = 0,
        labels: Mapping[str, str] | None = None,
        inputs: rq.JSONLike | None = None,
        parent_execution_id: str = "",
        request_id: str = "",
    ) -> execution_pb2.Execution:
        """Create an execution in CREATED; idempotent by ``request_id``."""
        request = rq.create_execution(
            namespace=namespace,
            flow_id=flow_id,
            flow_revision=flow_revision,
            labels=labels,
            inputs=inputs,
            parent_execution_id=parent_execution_id,
            request_id=request_id,
        )
        response = await self._unary(
            self._executions.CreateExecution, request, idempotent=bool(request_id)
        )
        return response.execution

    async def get_execution(
        self, execution_id: str, *, view: rq.ViewLike = None
    ) -> execution_pb2.Execution:
        """Return one execution (with its task runs unless ``view`` is BASIC)."""
        request = rq.get_execution(execution_id, view=view)
        response = await self._unary(self._executions.GetExecution, request, idempotent=True)
        return response.execution

    def list_executions(
        self,
        *,
        namespace: str = "",
        flow_id: str = "",
        states: Iterable[StateLike] = (),
        labels: Mapping[str, str] | None = None,
        page_size: int = 0,
        view: rq.ViewLike = None,
    ) -> AsyncIterator[execution_pb2.Execution]:
        """Asynchronously iterate over matching executions, newest first, fetching pages as needed."""
        request = rq.list_executions(
            namespace=namespace,
            flow_id=flow_id,
            states=states,
            labels=labels,
            page_size=page_size,
            view=view,
        )
        return self._list_executions(request)

    async def _list_executions(
        self, request: execution_service_pb2.ListExecutionsRequest
    ) -> AsyncIterator[execution_pb2.Execution]:
        while True:
            page = await self._unary(self._executions.ListExecutions, request, idempotent=True)
            for execution in page.executions:
                yield execution
            if not page.next_page_token:
                return
            request.page_token = page.next_page_token

    async def delete_execution(
        self, execution_id: str, *, expected_revision: int | None = None
    ) -> None:
        """Delete a terminal execution with its task runs and metrics."""
        request = rq.delete_execution(execution_id, expected_revision=expected_revision)
        await self._unary(self._executions.DeleteExecution, request, idempotent=False)

    async def create_task_run(
        self,
        *,
        execution_id: str,
        task_id: str,
        parent_task_run_id: str = "",
        value: str = "",
        retry_policy: execution_pb2.RetryPolicy | None = None,
        request_id: str = "",
        expected_revision: int | None = None,
    ) -> execution_service_pb2.CreateTaskRunResponse:
        """Create a task run in CREATED; returns it with the execution's new revision."""
        request = rq.create_task_run(
            execution_id=execution_id,
            task_id=task_id,
            parent_task_run_id=parent_task_run_id,
            value=value,
            retry_policy=retry_policy,
            request_id=request_id,
            expected_revision=expected_revision,
        )
        return await self._unary(
            self._executions.CreateTaskRun, request, idempotent=bool(request_id)
        )

    async def transition_execution(
        self,
        execution_id: str,
        *,
        state: StateLike,
        reason: str = "",
        outputs: rq.JSONLike | None = None,
        request_id: str = "",
        expected_revision: int | None = None,
    ) -> execution_pb2.Execution:
        """Move an execution to ``state``; returns the execution after the change."""
        request = rq.transition_execution(
            execution_id,
            state=state,
            reason=reason,
            outputs=outputs,
            request_id=request_id,
            expected_revision=expected_revision,
        )
        response = await self._unary(
            self._executions.TransitionExecution, request, idempotent=bool(request_id)
        )
        return response.execution

    async def transition_task_run(
        self,
        task_run_id: str,
        *,
        state: StateLike,
        reason: str = "",
        outputs: rq.JSONLike | None = None,
        worker_id: str = "",
        request_id: str = "",
        expected_revision: int | None = None,
    ) -> execution_service_pb2.TransitionTaskRunResponse:
        """Move a task run to ``state``; returns the task run, the execution's
        revision and state, and the retry decision."""
        request = rq.transition_task_run(
            task_run_id,
            state=state,
            reason=reason,
            outputs=outputs,
            worker_id=worker_id,
            request_id=request_id,
            expected_revision=expected_revision,
        )
        return await self._unary(
            self._executions.TransitionTaskRun, request, idempotent=bool(request_id)
        )

    async def transition_task_runs(
        self, items: Iterable[rq.TransitionItem]
    ) -> list[rq.TransitionResult]:
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
        """
        request = rq.transition_task_runs(items)
        response = await self._unary(
            self._executions.TransitionTaskRuns, request, idempotent=rq.batch_is_idempotent(request)
        )
        return rq.transition_results(response)

    async def pause_execution(
        self,
        execution_id: str,
        *,
        task_run_id: str = "",
        delay: timedelta | None = None,
        timeout: timedelta | None = None,  # noqa: ASYNC109 - the pause's timer
        on_timeout: PauseTimeoutAction | int | str | None = None,
        reason: str = "",
        request_id: str = "",
        expected_revision: int | None = None,
    ) -> execution_service_pb2.PauseExecutionResponse:
        """Pause a running execution (or one task run), optionally with a timer."""
        request = rq.pause_execution(
            execution_id,
            task_run_id=task_run_id,
            delay=delay,
            timeout=timeout,
            on_timeout=on_timeout,
            reason=reason,
            request_id=request_id,
            expected_revision=expected_revision,
        )
        return await self._unary(
            self._executions.PauseExecution, request, idempotent=bool(request_id)
        )

    async def resume_execution(
        self,
        execution_id: str,
        *,
        task_run_id: str = "",
        reason: str = "",
        request_id: str = "",
        expected_revision: int | None = None,
    ) -> execution_pb2.Execution:
        """Resume a paused execution (or task run), cancelling its timer."""
        request = rq.resume_execution(
            execution_id,
            task_run_id=task_run_id,
            reason=reason,
            request_id=request_id,
            expected_revision=expected_revision,
        )
        response = await self._unary(
            self._executions.ResumeExecution, request, idempotent=bool(request_id)
        )
        return response.execution

    async def kill_execution(
        self,
        execution_id: str,
        *,
        reason: str = "",
        request_id: str = "",
        expected_revision: int | None = None,
    ) -> execution_service_pb2.KillExecutionResponse:
        """Kill an execution (two-phase, cascading); says whether anything changed."""
        request = rq.kill_execution(
            execution_id,
            reason=reason,
            request_id=request_id,
            expected_revision=expected_revision,
        )
        return await self._unary(
            self._executions.KillExecution, request, idempotent=bool(request_id)
        )

    async def restart_execution(
        self,
        execution_id: str,
        *,
        reason: str = "",
        request_id: str = "",
        expected_revision: int | None = None,
    ) -> execution_pb2.Execution:
        """Restart a FAILED or KILLED execution; returns it in RESTARTED."""
        request = rq.restart_execution(
            execution_id,
            reason=reason,
            request_id=request_id,
            expected_revision=expected_revision,
        )
        response = await self._unary(
            self._executions.RestartExecution, request, idempotent=bool(request_id)
        )
        return response.execution

    async def complete_execution(
        self,
        execution_id: str,
        *,
        state: StateLike | None = None,
        outputs: rq.JSONLike | None = None,
        reason: str = "",
        request_id: str = "",
        expected_revision: int | None = None,
    ) -> execution_pb2.Execution:
        """Complete an execution with ``state``, or one derived from its task runs."""
        request = rq.complete_execution(
            execution_id,
            state=state,
            outputs=outputs,
            reason=reason,
            request_id=request_id,
            expected_revision=expected_revision,
        )
        response = await self._unary(
            self._executions.CompleteExecution, request, idempotent=bool(request_id)
        )
        return response.execution

    # MetricService

    async def record_metrics(
        self,
        task_run_id: str,
        *,
        metrics: Iterable[metric_pb2.MetricEntry],
        attempt: int = 0,
        request_id: str = "",
    ) -> int:
        """Record metrics (see :func:`counter`, :func:`timer`); returns how many."""
        request = rq.record_metrics(
            task_run_id, metrics=metrics, attempt=attempt, request_id=request_id
        )
        response = await self._unary(
            self._metrics.RecordMetrics, request, idempotent=bool(request_id)
        )
        return response.recorded

    def list_metrics(
        self,
        *,
        execution_id: str = "",
        task_run_id: str = "",
        task_id: str = "",
        page_size: int = 0,
    ) -> AsyncIterator[metric_pb2.Metric]:
        """Asynchronously iterate over the stored metrics of an execution or task run."""
        request = rq.list_metrics(
            execution_id=execution_id, task_run_id=task_run_id, task_id=task_id, page_size=page_size
        )
        return self._list_metrics(request)

    async def _list_metrics(
        self, request: metric_service_pb2.ListMetricsRequest
    ) -> AsyncIterator[metric_pb2.Metric]:
        while True:
            page = await self._unary(self._metrics.ListMetrics, request, idempotent=True)
            for metric in page.metrics:
                yield metric
            if not page.next_page_token:
                return
            request.page_token = page.next_page_token

    async def aggregate_metrics(
        self,
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
    ) -> metric_service_pb2.AggregateMetricsResponse:
        """Aggregate one metric over ``[start_time, end_time)`` in time buckets."""
        request = rq.aggregate_metrics(
            namespace=namespace,
            name=name,
            type=type,
            start_time=start_time,
            end_time=end_time,
            flow_id=flow_id,
            task_id=task_id,
            bucket_width=bucket_width,
            group_by_tag=group_by_tag,
        )
        return await self._unary(self._metrics.AggregateMetrics, request, idempotent=True)

    # AdminService

    async def create_token(
        self,
        name: str,
        *,
        role: Role | int | str,
        namespaces: Iterable[str],
        ttl: timedelta | float | None = None,
        certificate_subject: str = "",
    ) -> tuple[admin_service_pb2.Token, str]:
        """Issue a bearer token (or grant a role to a client-certificate subject);
        returns the credential and its secret, shown only here."""
        request = rq.create_token(
            name,
            role=role,
            namespaces=namespaces,
            ttl=ttl,
            certificate_subject=certificate_subject,
        )
        response = await self._unary(self._admin.CreateToken, request, idempotent=False)
        return response.token, response.secret

    async def list_tokens(self, *, include_inactive: bool = False) -> list[admin_service_pb2.Token]:
        """The credentials within the caller's namespaces, without secrets."""
        request = rq.list_tokens(include_inactive=include_inactive)
        response = await self._unary(self._admin.ListTokens, request, idempotent=True)
        return list(response.tokens)

    async def revoke_token(self, name: str) -> admin_service_pb2.Token:
        """Revoke a credential; returns it with its revoke time."""
        request = rq.revoke_token(name)
        response = await self._unary(self._admin.RevokeToken, request, idempotent=True)
        return response.token

    # EventService

    @overload
    def subscribe(
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
        retry: RetryPolicy | None = ...,
    ) -> AsyncSubscription[event_pb2.StateChangeEvent]: ...

    @overload
    def subscribe(
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
        retry: RetryPolicy | None = ...,
    ) -> AsyncSubscription[SubscriptionItem]: ...

    def subscribe(
        self,
        *,
        namespace: str = "",
        flow_id: str = "",
        execution_ids: Iterable[str] = (),
        states: Iterable[StateLike] = (),
        after_sequence: int = 0,
        from_latest: bool = False,
        heartbeat_interval: timedelta | float | None = None,
        heartbeats: bool = False,
        retry: RetryPolicy | None = None,
    ) -> AsyncSubscription[event_pb2.StateChangeEvent] | AsyncSubscription[SubscriptionItem]:
        """Subscribe to state-change events, resuming by itself after failures.

        ``after_sequence=0`` replays the retained history, then goes live;
        ``from_latest=True`` starts after the latest event (should the stream
        fail before its first event or heartbeat, it reopens from the latest
        again: ask for heartbeats to pin the cursor at once). With
        ``heartbeats=True`` the iterator also yields ``Heartbeat`` messages
        (sent every ``heartbeat_interval``). ``retry`` governs reconnection
        (default: the client's ``stream_retry``; its ``max_attempts`` bounds consecutive
        failed reconnections, the count restarting with each message).
        """
        cursor = rq.SubscriptionCursor(
            event_filter=event_filter(
                namespace=namespace, flow_id=flow_id, execution_ids=execution_ids, states=states
            ),
            after_sequence=after_sequence,
            from_latest=from_latest,
            heartbeat_interval=heartbeat_interval,
            heartbeats=heartbeats,
        )
        return AsyncSubscription(
            self._events.Subscribe,
            cursor,
            retry=retry or self._stream_retry,
            metadata=self._metadata,
        )

    def follow_execution(self, execution_id: str) -> AsyncIterator[execution_pb2.Execution]:
        """Asynchronously iterate over snapshots of an execution until it and its task runs are terminal.

        Reconnects after transient failures, skipping snapshots already seen.
        """
        return self._follow(rq.follow_execution(execution_id))

    async def _follow(
        self, request: event_service_pb2.FollowExecutionRequest
    ) -> AsyncIterator[execution_pb2.Execution]:
        last_revision = -1
        failures = 0
        settled = False
        while True:
            call = self._events.FollowExecution(request, metadata=self._metadata)
            try:
                async for response in call:
                    failures = 0
                    execution = response.execution
                    if execution.revision <= last_revision:
                        continue
                    last_revision = execution.revision
                    settled = rq.execution_settled(execution)
                    yield execution
                if settled or last_revision < 0:
                    return
                error: StatehouseError | None = None
                cause: BaseException | None = None
            except grpc.RpcError as exc:
                error, cause = error_from_rpc(exc), exc
            finally:
                call.cancel()
            failures += 1
            if error is not None and not self._stream_retry.is_transient(error):
                raise error from cause
            if not self._stream_retry.allows(failures):
                if error is None:
                    return
                raise error from cause
            await asyncio.sleep(self._stream_retry.backoff(failures))
