"""The SDK's RPC definitions (statehouse.client._requests), each written once,
and the two thin drivers over them.

The definitions are checked by hand (the request each builds, its result,
whether it may be sent again, page tokens, the resumption of streams) and
through both clients on fake channels that record what is sent and fail on
purpose, so no server is needed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import grpc.aio
import pytest

from statehouse.client import (
    AsyncClient,
    CallRetry,
    Client,
    NotFoundError,
    State,
    StatehouseError,
    UnavailableError,
    _requests as rq,
    counter,
)
from statehouse.client._base import BaseClient
from statehouse.client._rpc import (
    Attempts,
    Paged,
    Pages,
    Resumption,
    Streamed,
    Unary,
    always,
    rpc_returning,
    unary,
)
from statehouse.v1 import (
    admin_service_pb2,
    event_pb2,
    event_service_pb2,
    execution_pb2,
    execution_service_pb2 as es,
    metric_pb2,
    metric_service_pb2,
)

Code = grpc.StatusCode

DEFINITIONS: dict[
    str, Unary[Any, Any, Any, Any] | Paged[Any, Any, Any, Any] | Streamed[Any, Any]
] = {name: value for name, value in vars(rq).items() if isinstance(value, Unary | Paged | Streamed)}
UNARY = sorted(name for name, d in DEFINITIONS.items() if isinstance(d, Unary))

#: Arguments each public method can be called with.
SAMPLES: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "create_execution": ((), {"namespace": "ns", "flow_id": "f"}),
    "get_execution": (("e1",), {}),
    "get_task_run": (("r1",), {}),
    "list_executions": ((), {"namespace": "ns"}),
    "count_executions": ((), {"namespace": "ns", "labels": {"env": "prod"}}),
    "delete_execution": (("e1",), {}),
    "create_task_run": ((), {"execution_id": "e1", "task_id": "t"}),
    "transition_execution": (("e1",), {"state": "running"}),
    "transition_task_run": (("r1",), {"state": "running"}),
    "transition_task_runs": (([{"task_run_id": "r1", "state": "running"}],), {}),
    "claim_task_runs": ((), {"worker_id": "w", "namespace": "ns", "wait": 5}),
    "heartbeat": (([("r1", 1)],), {}),
    "pause_execution": (("e1",), {}),
    "resume_execution": (("e1",), {}),
    "kill_execution": (("e1",), {}),
    "restart_execution": (("e1",), {}),
    "complete_execution": (("e1",), {}),
    "record_metrics": (("r1",), {"metrics": [counter("rows", 3)]}),
    "list_metrics": ((), {"execution_id": "e1"}),
    "aggregate_metrics": (
        (),
        {
            "namespace": "ns",
            "name": "rows",
            "type": "counter",
            "start_time": datetime(2025, 1, 1, tzinfo=UTC),
            "end_time": datetime(2025, 1, 2, tzinfo=UTC),
        },
    ),
    "create_token": (("ci",), {"role": "admin", "namespaces": ["*"]}),
    "list_tokens": ((), {}),
    "revoke_token": (("ci",), {}),
    "get_server_info": ((), {}),
    "subscribe": ((), {"after_sequence": 3}),
    "follow_execution": (("e1",), {}),
}

#: Whether each unary RPC may be sent again after a transient error: always (a
#: read, or a change that repeating cannot alter), never, or with a request_id.
RETRIED = {
    "get_execution": "always",
    "get_task_run": "always",
    "aggregate_metrics": "always",
    "list_tokens": "always",
    "revoke_token": "always",
    "count_executions": "always",
    "get_server_info": "always",
    "delete_execution": "never",
    "create_token": "never",
    "claim_task_runs": "never",
    "heartbeat": "always",
    "create_execution": "with request_id",
    "create_task_run": "with request_id",
    "transition_execution": "with request_id",
    "transition_task_run": "with request_id",
    "transition_task_runs": "with request_id",
    "pause_execution": "with request_id",
    "resume_execution": "with request_id",
    "kill_execution": "with request_id",
    "restart_execution": "with request_id",
    "complete_execution": "with request_id",
    "record_metrics": "with request_id",
}


def with_request_id(name: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    args, kwargs = SAMPLES[name]
    if name == "transition_task_runs":
        return ([{**item, "request_id": "r-1"} for item in args[0]],), kwargs
    if "request_id" in inspect.signature(DEFINITIONS[name]).parameters:
        return args, {**kwargs, "request_id": "r-1"}
    return args, kwargs


def build(name: str) -> Any:
    args, kwargs = SAMPLES[name]
    return DEFINITIONS[name](*args, **kwargs)


# Every RPC is defined once, and each client has a method for each definition.


def proto_methods() -> dict[str, Any]:
    from statehouse.v1 import admin_service_pb2, event_service_pb2, metric_service_pb2

    found = {}
    for module in (es, event_service_pb2, metric_service_pb2, admin_service_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                found[f"/{service.full_name}/{method.name}"] = method
    return found


def test_every_rpc_of_the_api_has_exactly_one_definition() -> None:
    paths = sorted(d.path for d in DEFINITIONS.values())
    assert paths == sorted(proto_methods())
    assert sorted(SAMPLES) == sorted(DEFINITIONS)
    assert sorted(RETRIED) == UNARY


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_definition_builds_the_request_of_its_rpc(name: str) -> None:
    definition = DEFINITIONS[name]
    method = proto_methods()[definition.path]
    built = build(name)
    request = built.request() if isinstance(definition, Streamed) else built
    assert request.DESCRIPTOR.full_name == method.input_type.full_name
    assert definition.response.DESCRIPTOR.full_name == method.output_type.full_name
    assert isinstance(definition, Streamed) == method.server_streaming


def test_requests_carry_the_converted_values() -> None:
    request = rq.create_execution(
        namespace="ns", flow_id="f", labels={"env": 1}, inputs={"day": "2025-01-01"}, request_id="r"
    )
    assert (request.namespace, request.flow_id, request.request_id) == ("ns", "f", "r")
    assert dict(request.labels) == {"env": "1"}
    assert request.inputs["day"] == "2025-01-01"
    assert rq.get_execution("e1", view="basic").view == execution_pb2.EXECUTION_VIEW_BASIC
    listing = rq.list_executions(states=["running", State.FAILED], page_size=5)
    assert list(listing.states) == [State.RUNNING, State.FAILED]
    assert not rq.delete_execution("e1").HasField("expected_revision")
    assert rq.delete_execution("e1", expected_revision=4).expected_revision == 4
    assert rq.complete_execution("e1").state == State.UNSPECIFIED
    pause = rq.pause_execution("e1", delay=timedelta(seconds=2), on_timeout="fail")
    assert pause.delay.ToTimedelta() == timedelta(seconds=2)
    assert not pause.HasField("timeout")
    assert pause.on_timeout == es.PAUSE_TIMEOUT_ACTION_FAIL
    cursor = rq.subscribe(namespace="ns", states=["success"], after_sequence=3)
    assert cursor.request().filter.namespace == "ns"
    assert list(cursor.request().filter.states) == [State.SUCCESS]
    assert cursor.request().after_sequence == 3


def test_each_client_has_the_method_of_each_definition() -> None:
    entries = {name for name, value in vars(BaseClient).items() if name in DEFINITIONS}
    assert entries == set(DEFINITIONS)
    for name, definition in DEFINITIONS.items():
        for client in (Client, AsyncClient):
            method = getattr(client, name)
            assert method.__doc__ == definition.__doc__, (client, name)
            assert method.__qualname__ == f"{client.__name__}.{name}"
            parameters = list(inspect.signature(method).parameters.values())
            assert parameters[0].name == "self"
            assert parameters[1:] == list(inspect.signature(definition.build).parameters.values())
        # Unary calls are coroutines on the asyncio client; lists and streams are
        # async iterators, returned at once.
        coroutine = inspect.iscoroutinefunction(getattr(AsyncClient, name))
        assert coroutine == isinstance(definition, Unary), name
        assert not inspect.iscoroutinefunction(getattr(Client, name))


def test_a_subclass_keeps_its_own_overrides() -> None:
    class Mine(Client):
        def get_execution(self, execution_id: str, **_: Any) -> Any:  # type: ignore[override]
            return "mine"

    assert Mine.get_execution(None, "e1") == "mine"  # type: ignore[arg-type]
    assert Mine.list_executions is Client.list_executions


def test_a_definition_must_match_its_rpc() -> None:
    with pytest.raises(TypeError, match="streaming RPC"):
        unary(event_service_pb2.SubscribeResponse, result=lambda r: r, idempotent=always)(
            lambda: event_service_pb2.SubscribeRequest()
        )
    with pytest.raises(LookupError):
        rpc_returning(execution_pb2.Execution.DESCRIPTOR)


# Results and idempotence.


def test_results_are_the_useful_part_of_the_response() -> None:
    execution = execution_pb2.Execution(id="e1", revision=2)
    for name in ("create_execution", "get_execution", "transition_execution", "resume_execution"):
        response = DEFINITIONS[name].response(execution=execution)
        assert DEFINITIONS[name].result(response) == execution  # type: ignore[union-attr]
    killed = es.KillExecutionResponse(execution=execution, changed=True)
    assert rq.kill_execution.result(killed) is killed
    assert rq.delete_execution.result(es.DeleteExecutionResponse()) is None
    assert rq.record_metrics.result(metric_service_pb2.RecordMetricsResponse(recorded=3)) == 3
    token = admin_service_pb2.Token(name="ci")
    created = admin_service_pb2.CreateTokenResponse(token=token, secret="sht_x")
    assert rq.create_token.result(created) == (token, "sht_x")
    listed = rq.list_tokens.result(admin_service_pb2.ListTokensResponse(tokens=[token]))
    assert listed == [token] and isinstance(listed, list)


@pytest.mark.parametrize("name", UNARY)
def test_each_unary_definition_says_whether_it_may_be_sent_again(name: str) -> None:
    definition = DEFINITIONS[name]
    assert isinstance(definition, Unary)
    plain = build(name)
    args, kwargs = with_request_id(name)
    identified = definition(*args, **kwargs)
    expected = RETRIED[name]
    assert definition.idempotent(plain) == (expected == "always")
    assert definition.idempotent(identified) == (expected != "never")


def test_a_batch_is_retried_only_when_every_item_has_a_request_id() -> None:
    some = rq.transition_task_runs(
        [
            {"task_run_id": "a", "state": "running", "request_id": "1"},
            {"task_run_id": "b", "state": "running"},
        ]
    )
    assert not rq.transition_task_runs.idempotent(some)


def test_attempts_retry_transient_errors_of_idempotent_calls_up_to_the_limit() -> None:
    policy = CallRetry(max_attempts=3, initial_backoff=0.5, multiplier=2, jitter=0)
    attempts = Attempts(policy, idempotent=True)
    assert attempts.retry_after(FakeRpcError(Code.UNAVAILABLE)) == 0.5
    assert attempts.retry_after(FakeRpcError(Code.UNAVAILABLE)) == 1.0
    with pytest.raises(UnavailableError) as caught:
        attempts.retry_after(FakeRpcError(Code.UNAVAILABLE))
    assert isinstance(caught.value.__cause__, grpc.RpcError)
    with pytest.raises(NotFoundError):
        Attempts(policy, idempotent=True).retry_after(FakeRpcError(Code.NOT_FOUND))
    with pytest.raises(UnavailableError):
        Attempts(policy, idempotent=False).retry_after(FakeRpcError(Code.UNAVAILABLE))


# Fake channels: each records the requests it is sent and answers from a script.


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return f"fake {self._code.name}"

    def trailing_metadata(self) -> tuple[object, ...]:
        return ()


#: What a script answers to one request: a response, or an error to raise; for
#: a stream, the list of what each read gives.
Script = Callable[[str, Any], Any]


class FakeChannel:
    """Both kinds of channel at once: unary_unary/unary_stream give blocking or
    asyncio multi-callables (``aio``), which run the request through ``script``."""

    def __init__(self, script: Script, *, aio: bool = False) -> None:
        self.script = script
        self.aio = aio
        self.sent: list[tuple[str, Any]] = []
        self.registered: list[bool] = []

    def _answer(self, path: str, request: Any, serialize: Callable[[Any], bytes]) -> Any:
        assert isinstance(serialize(request), bytes)
        copy = type(request)()
        copy.CopyFrom(request)
        self.sent.append((path, copy))
        return self.script(path, request)

    def unary_unary(
        self,
        path: str,
        request_serializer: Callable[[Any], bytes],
        response_deserializer: Callable[[bytes], Any],
        _registered_method: bool = False,
    ) -> Any:
        self.registered.append(_registered_method)

        def blocking(request: Any, timeout: float | None = None, metadata: Any = None) -> Any:
            answer = self._answer(path, request, request_serializer)
            if isinstance(answer, Exception):
                raise answer
            return response_deserializer(answer.SerializeToString())

        async def asynchronous(request: Any, **options: Any) -> Any:
            return blocking(request, **options)

        return asynchronous if self.aio else blocking

    def unary_stream(
        self,
        path: str,
        request_serializer: Callable[[Any], bytes],
        response_deserializer: Callable[[bytes], Any],
        _registered_method: bool = False,
    ) -> Any:
        def open_stream(request: Any, metadata: Any = None) -> FakeStream:
            return FakeStream(self._answer(path, request, request_serializer), aio=self.aio)

        return open_stream


class FakeStream:
    """A call of a stream: reads give the script's items in turn (an exception is
    raised), then the stream ends."""

    def __init__(self, items: list[Any], *, aio: bool) -> None:
        self.items = list(items)
        self.aio = aio
        self.cancelled = False

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if not self.items:
            raise StopIteration
        item = self.items.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def read(self) -> Any:
        try:
            return next(self)
        except StopIteration:
            return grpc.aio.EOF

    def initial_metadata(self) -> Any:
        """No headers (a subscription then learns its start from its first message)."""
        if self.aio:

            async def headers() -> tuple[()]:
                return ()

            return headers()
        return ()

    def done(self) -> bool:
        return False

    def cancel(self) -> bool:
        self.cancelled = True
        return True


NO_WAIT = CallRetry(max_attempts=3, initial_backoff=0, jitter=0)


async def call(
    name: str, script: Script, *, aio: bool, args: Any = None, kwargs: Any = None
) -> tuple[Any, FakeChannel]:
    """Call the public method ``name`` on a client of the driver over a fake channel."""
    channel = FakeChannel(script, aio=aio)
    if args is None:
        args, kwargs = SAMPLES[name]
    if aio:
        client: Any = AsyncClient(channel, retry=NO_WAIT, stream_retry=NO_WAIT)  # type: ignore[arg-type]
        result = getattr(client, name)(*args, **kwargs)
        return (await result if inspect.isawaitable(result) else result), channel
    client = Client(channel, retry=NO_WAIT, stream_retry=NO_WAIT)  # type: ignore[arg-type]
    return getattr(client, name)(*args, **kwargs), channel


def fail_once(definition: Any) -> Script:
    """UNAVAILABLE to the first request, then the default response."""
    failed: list[bool] = []

    def script(path: str, request: Any) -> Any:
        if not failed:
            failed.append(True)
            return FakeRpcError(Code.UNAVAILABLE)
        return definition.response()

    return script


DRIVERS = [pytest.param(False, id="blocking"), pytest.param(True, id="asyncio")]


@pytest.mark.parametrize("aio", DRIVERS)
@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("request_id", [False, True], ids=["plain", "with-request-id"])
async def test_the_drivers_retry_exactly_the_idempotent_calls(
    name: str, aio: bool, request_id: bool
) -> None:
    definition = DEFINITIONS[name]
    args, kwargs = with_request_id(name) if request_id else SAMPLES[name]
    retried = RETRIED[name] == "always" or (request_id and RETRIED[name] == "with request_id")
    script = fail_once(definition)
    if retried:
        result, channel = await call(name, script, aio=aio, args=args, kwargs=kwargs)
        assert result == definition.result(definition.response())  # type: ignore[union-attr]
        assert [path for path, _ in channel.sent] == [definition.path] * 2
        assert channel.sent[0][1] == channel.sent[1][1]  # the same request, again
    else:
        with pytest.raises(UnavailableError):
            await call(name, script, aio=aio, args=args, kwargs=kwargs)


@pytest.mark.parametrize("aio", DRIVERS)
async def test_the_drivers_send_the_definitions_request_on_its_path(aio: bool) -> None:
    response = es.GetExecutionResponse(execution=execution_pb2.Execution(id="e1"))
    result, channel = await call("get_execution", lambda path, request: response, aio=aio)
    assert result == response.execution
    assert channel.sent == [
        ("/statehouse.v1.ExecutionService/GetExecution", rq.get_execution("e1"))
    ]
    assert channel.registered == [True]


# Pages follow their tokens.


def test_pages_follow_the_next_page_token_until_there_is_none() -> None:
    pages = rq.list_metrics.pages(execution_id="e1", page_size=2)
    assert (pages.request.page_token, pages.done) == ("", False)
    first = metric_service_pb2.ListMetricsResponse(
        metrics=[metric_pb2.Metric(name="a"), metric_pb2.Metric(name="b")], next_page_token="t1"
    )
    assert [m.name for m in pages.accept(first)] == ["a", "b"]
    assert (pages.request.page_token, pages.done) == ("t1", False)
    assert pages.request.execution_id == "e1" and pages.request.page_size == 2
    last = metric_service_pb2.ListMetricsResponse(metrics=[metric_pb2.Metric(name="c")])
    assert [m.name for m in pages.accept(last)] == ["c"]
    assert pages.done
    assert isinstance(pages, Pages)


def paged_script(pages: dict[str, tuple[list[str], str]]) -> Script:
    def script(path: str, request: Any) -> Any:
        ids, token = pages[request.page_token]
        return es.ListExecutionsResponse(
            executions=[execution_pb2.Execution(id=i) for i in ids], next_page_token=token
        )

    return script


PAGES = {"": (["a", "b"], "t1"), "t1": ([], "t2"), "t2": (["c"], "")}


def test_the_blocking_list_fetches_pages_as_it_is_iterated() -> None:
    channel = FakeChannel(paged_script(PAGES))
    client = Client(channel)  # type: ignore[arg-type]
    listing = client.list_executions(namespace="ns")
    assert channel.sent == []  # nothing sent before the first item is asked for
    assert next(listing).id == "a"
    assert [e.id for e in listing] == ["b", "c"]
    assert [request.page_token for _, request in channel.sent] == ["", "t1", "t2"]
    assert {request.namespace for _, request in channel.sent} == {"ns"}


async def test_the_async_list_fetches_pages_as_it_is_iterated() -> None:
    channel = FakeChannel(paged_script(PAGES), aio=True)
    client = AsyncClient(channel)  # type: ignore[arg-type]
    assert [e.id async for e in client.list_executions(namespace="ns")] == ["a", "b", "c"]
    assert [request.page_token for _, request in channel.sent] == ["", "t1", "t2"]


@pytest.mark.parametrize("client_type", [Client, AsyncClient])
def test_a_list_with_bad_arguments_fails_at_the_call(client_type: type[Any]) -> None:
    client = client_type(FakeChannel(paged_script(PAGES)))
    with pytest.raises(ValueError):
        client.list_executions(states=["no such state"])


async def test_a_page_is_retried_like_any_read() -> None:
    failed: list[bool] = []

    def script(path: str, request: Any) -> Any:
        if request.page_token == "t1" and not failed:
            failed.append(True)
            return FakeRpcError(Code.UNAVAILABLE)
        return paged_script(PAGES)(path, request)

    client = Client(FakeChannel(script), retry=NO_WAIT)  # type: ignore[arg-type]
    assert [e.id for e in client.list_executions()] == ["a", "b", "c"]
    assert failed == [True]


# Streams resume from their cursor.


def event(sequence: int) -> event_service_pb2.SubscribeResponse:
    return event_service_pb2.SubscribeResponse(
        event=event_pb2.StateChangeEvent(sequence=sequence, execution_id=f"e{sequence}")
    )


def heartbeat(sequence: int) -> event_service_pb2.SubscribeResponse:
    return event_service_pb2.SubscribeResponse(heartbeat=event_pb2.Heartbeat(sequence=sequence))


def test_the_subscription_cursor_resumes_after_the_last_sequence_and_drops_repeats() -> None:
    cursor = rq.subscribe(after_sequence=3)
    assert cursor.request().after_sequence == 3
    assert cursor.accept(event(3)) == []  # at or below the cursor: dropped
    assert [e.sequence for e in cursor.accept(event(4))] == [4]  # type: ignore[union-attr]
    assert cursor.accept(heartbeat(9)) == ()  # advances, not handed over
    assert (cursor.request().after_sequence, cursor.duplicates_dropped) == (9, 1)
    latest = rq.subscribe(from_latest=True, heartbeats=True)
    assert latest.request().from_latest
    (beat,) = latest.accept(heartbeat(7))
    assert isinstance(beat, event_pb2.Heartbeat)
    assert not latest.request().from_latest and latest.request().after_sequence == 7
    assert not cursor.complete  # a subscription that ends is reopened


def test_the_follow_cursor_skips_revisions_seen_and_completes_when_settled() -> None:
    cursor = rq.follow_execution("e1")
    assert cursor.request().execution_id == "e1"
    assert cursor.complete  # nothing received: an end is the end
    running = execution_pb2.Execution(id="e1", revision=2, state=State.RUNNING)
    assert cursor.accept(event_service_pb2.FollowExecutionResponse(execution=running)) == (running,)
    assert not cursor.complete
    assert cursor.accept(event_service_pb2.FollowExecutionResponse(execution=running)) == ()
    done = execution_pb2.Execution(
        id="e1",
        revision=3,
        state=State.SUCCESS,
        task_runs=[execution_pb2.TaskRun(state=State.FAILED)],
    )
    assert cursor.accept(event_service_pb2.FollowExecutionResponse(execution=done)) == (done,)
    assert cursor.complete


def batch(*sequences: int) -> event_service_pb2.SubscribeResponse:
    return event_service_pb2.SubscribeResponse(
        events=[event_pb2.StateChangeEvent(sequence=s, execution_id=f"e{s}") for s in sequences]
    )


def test_the_subscription_cursor_asks_for_batches_and_hands_their_events_over_one_by_one() -> None:
    cursor = rq.subscribe(after_sequence=3)
    assert cursor.request().max_events_per_message == rq.MAX_EVENTS_PER_MESSAGE > 1
    assert [e.sequence for e in cursor.accept(batch(2, 3, 4, 5))] == [4, 5]  # type: ignore[union-attr]
    assert cursor.duplicates_dropped == 2
    assert [e.sequence for e in cursor.accept(batch(5, 6))] == [6]  # type: ignore[union-attr]
    assert cursor.accept(batch()) == []
    # Resuming mid-batch: after the last event handed over, not after the message.
    assert cursor.request().after_sequence == 6


def test_a_resumption_backs_off_while_transient_and_gives_up_at_the_limit() -> None:
    policy = CallRetry(max_attempts=2, initial_backoff=0.25, jitter=0)
    resumption = Resumption(rq.subscribe(), policy)
    assert resumption.open().after_sequence == 0
    assert resumption.reopen_after(FakeRpcError(Code.UNAVAILABLE)) == 0.25
    assert resumption.reopen_after(None) is None  # two failures in a row: the limit
    resumption.receive(event(1))  # a message restarts the count
    assert resumption.reopen_after(None) == 0.25
    with pytest.raises(NotFoundError):
        resumption.reopen_after(FakeRpcError(Code.NOT_FOUND))
    own = CallRetry(max_attempts=1)
    assert Resumption(rq.subscribe(retry=own), policy).retry is own


async def next_item(iterator: Any, aio: bool) -> Any:
    return await anext(iterator) if aio else next(iterator)


async def close(stream: Any, aio: bool) -> None:
    if aio:
        await stream.close()
    else:
        stream.close()


@pytest.mark.parametrize("aio", DRIVERS)
async def test_the_drivers_subscriptions_resume_after_a_failure(aio: bool) -> None:
    streams = [[event(1), event(2), FakeRpcError(Code.UNAVAILABLE)], [event(2), event(3)]]
    subscription, channel = await call(
        "subscribe", lambda path, request: streams.pop(0), aio=aio, kwargs={}, args=()
    )
    assert [(await next_item(subscription, aio)).sequence for _ in range(3)] == [1, 2, 3]
    await close(subscription, aio)
    assert [request.after_sequence for _, request in channel.sent] == [0, 2]
    assert (subscription.last_sequence, subscription.reconnects) == (3, 1)
    assert subscription.duplicates_dropped == 1


@pytest.mark.parametrize("aio", DRIVERS)
async def test_the_drivers_follows_skip_what_was_seen_and_end_when_settled(aio: bool) -> None:
    def snapshot(revision: int, state: State) -> event_service_pb2.FollowExecutionResponse:
        execution = execution_pb2.Execution(id="e1", revision=revision, state=state)
        return event_service_pb2.FollowExecutionResponse(execution=execution)

    streams = [
        [snapshot(1, State.CREATED), snapshot(2, State.RUNNING), FakeRpcError(Code.UNAVAILABLE)],
        [snapshot(2, State.RUNNING), snapshot(3, State.SUCCESS), snapshot(4, State.SUCCESS)],
    ]
    follow, channel = await call("follow_execution", lambda path, request: streams.pop(0), aio=aio)
    seen = [e.revision async for e in follow] if aio else [e.revision for e in follow]
    assert seen == [1, 2, 3, 4]
    assert len(channel.sent) == 2


@pytest.mark.parametrize("aio", DRIVERS)
async def test_a_stream_that_fails_for_good_raises_the_typed_error(aio: bool) -> None:
    follow, channel = await call(
        "follow_execution", lambda path, request: [FakeRpcError(Code.NOT_FOUND)], aio=aio
    )
    with pytest.raises(NotFoundError) as caught:
        await next_item(follow, aio)
    assert isinstance(caught.value, StatehouseError)
    assert len(channel.sent) == 1


@pytest.mark.parametrize("aio", DRIVERS)
async def test_a_stream_that_keeps_failing_gives_up_after_its_policy(aio: bool) -> None:
    subscription, channel = await call(
        "subscribe", lambda path, request: [FakeRpcError(Code.UNAVAILABLE)], aio=aio
    )
    with pytest.raises(UnavailableError):
        await next_item(subscription, aio)
    assert len(channel.sent) == NO_WAIT.max_attempts
