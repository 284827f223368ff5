"""The conformance driver of the Python SDK's ``AsyncClient`` (asyncio).

Usage, from the repository's root, with the suite's variables set
(tests/conformance/README.md): ``python -m tests.conformance.python.async_driver SCENARIO...``;
a JSON line per scenario.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping

from statehouse.client import AsyncClient, State, StatehouseError, UnavailableError
from tests.conformance.python.common import (
    WAIT,
    Env,
    Observer,
    ask_restart,
    refusal,
    run,
    state_name,
)


def connect(env: Env) -> AsyncClient:
    return AsyncClient.connect(env.target, tls=False, token="")


async def lifecycle(env: Env) -> Mapping[str, str]:
    async with connect(env) as client:
        execution = await client.create_execution(
            namespace=env.namespace("lifecycle"), flow_id="etl"
        )
        run_ = (await client.create_task_run(execution_id=execution.id, task_id="extract")).task_run
        started = await client.transition_task_run(run_.id, state=State.RUNNING)
        done = await client.transition_task_run(run_.id, state=State.SUCCESS)
        await client.transition_execution(execution.id, state=State.SUCCESS)
        final = await client.get_execution(execution.id)
        return {
            "execution_created": state_name(execution.state),
            "task_run_created": state_name(run_.state),
            "execution_after_task_run_started": state_name(started.execution_state),
            "task_run_final": state_name(done.task_run.state),
            "execution_final": state_name(final.state),
            "execution_history": " ".join(state_name(h.state) for h in final.history),
        }


async def illegal_move(env: Env) -> Mapping[str, str]:
    async with connect(env) as client:
        execution = await client.create_execution(
            namespace=env.namespace("illegal_move"), flow_id="etl"
        )
        run_ = (await client.create_task_run(execution_id=execution.id, task_id="extract")).task_run
        await client.transition_task_run(run_.id, state=State.RUNNING)
        try:
            await client.transition_task_run(run_.id, state=State.CREATED)
        except StatehouseError as error:
            return {
                **refusal(error),
                "current_state": error.metadata.get("current_state", ""),
                "requested_state": error.metadata.get("requested_state", ""),
            }
        raise AssertionError("the illegal move was accepted")


async def request_id_retry(env: Env) -> Mapping[str, str]:
    namespace = env.namespace("request_id_retry")
    request_id = f"conformance-{uuid.uuid4()}"
    async with connect(env) as client:
        first = await client.create_execution(
            namespace=namespace, flow_id="etl", request_id=request_id
        )
        again = await client.create_execution(
            namespace=namespace, flow_id="etl", request_id=request_id
        )
        count = await client.count_executions(namespace=namespace)
        observed = {
            "same_execution": str(first.id == again.id).lower(),
            "executions_created": str(count.total),
        }
        try:
            await client.create_execution(
                namespace=namespace, flow_id="other", request_id=request_id
            )
        except StatehouseError as error:
            return {**observed, **refusal(error, "reused_")}
        raise AssertionError("the reused request id was accepted")


async def revision_conflict(env: Env) -> Mapping[str, str]:
    async with connect(env) as client:
        execution = await client.create_execution(
            namespace=env.namespace("revision_conflict"), flow_id="etl"
        )
        moved = await client.transition_execution(
            execution.id, state=State.RUNNING, expected_revision=execution.revision
        )
        try:
            await client.transition_execution(
                execution.id, state=State.SUCCESS, expected_revision=execution.revision
            )
        except StatehouseError as error:
            return {
                "first_move": state_name(moved.state),
                **refusal(error),
                "current_revision": error.metadata.get("current_revision", ""),
                "expected_revision": error.metadata.get("expected_revision", ""),
            }
        raise AssertionError("the stale expected_revision was accepted")


async def pause_resume(env: Env) -> Mapping[str, str]:
    async with connect(env) as client:
        execution = await client.create_execution(
            namespace=env.namespace("pause_resume"), flow_id="etl"
        )
        a = (await client.create_task_run(execution_id=execution.id, task_id="a")).task_run
        b = (await client.create_task_run(execution_id=execution.id, task_id="b")).task_run
        await client.transition_task_run(a.id, state=State.RUNNING)
        paused = (await client.pause_execution(execution.id)).execution
        try:
            await client.transition_task_run(b.id, state=State.RUNNING)
        except StatehouseError as error:
            refused = refusal(error, "start_while_paused_")
        else:
            raise AssertionError("a task run started in a paused execution")
        resumed = await client.resume_execution(execution.id)
        started = await client.transition_task_run(b.id, state=State.RUNNING)
        return {
            "paused": state_name(paused.state),
            **refused,
            "resumed": state_name(resumed.state),
            "started_after_resume": state_name(started.task_run.state),
        }


async def kill_cascade(env: Env) -> Mapping[str, str]:
    async with connect(env) as client:
        execution = await client.create_execution(
            namespace=env.namespace("kill_cascade"), flow_id="etl"
        )
        a = (await client.create_task_run(execution_id=execution.id, task_id="a")).task_run
        b = (await client.create_task_run(execution_id=execution.id, task_id="b")).task_run
        await client.transition_task_run(a.id, state=State.RUNNING)
        killed = (await client.kill_execution(execution.id)).execution
        by_id = {t.id: t for t in killed.task_runs}
        reported = await client.transition_task_run(a.id, state=State.KILLED)
        final = await client.get_execution(execution.id)
        return {
            "execution_after_kill": state_name(killed.state),
            "running_task_run_after_kill": state_name(by_id[a.id].state),
            "created_task_run_after_kill": state_name(by_id[b.id].state),
            "execution_after_report": state_name(reported.execution_state),
            "execution_final": state_name(final.state),
        }


async def subscription_resume(env: Env) -> Mapping[str, str]:
    namespace = env.namespace("subscription_resume")
    async with connect(env) as client:
        subscription = client.subscribe(namespace=namespace, after_sequence=0)
        events = aiter(subscription)

        async def next_id() -> tuple[int, str]:
            event = await asyncio.wait_for(anext(events), WAIT)
            return event.sequence, event.execution_id

        try:
            # The first read opens the stream; the event it waits for comes after.
            first = asyncio.ensure_future(next_id())
            before = await client.create_execution(namespace=namespace, flow_id="before")
            received = [await first]
            created = await asyncio.to_thread(ask_restart, namespace)
            # The channel may still be reconnecting: the same request, same id, until it is taken.
            request_id = f"conformance-{uuid.uuid4()}"
            deadline = time.monotonic() + WAIT
            while True:
                try:
                    after = await client.create_execution(
                        namespace=namespace, flow_id="after", request_id=request_id
                    )
                    break
                except UnavailableError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)
            expected = [*created, after.id]
            while received[-1][1] != after.id:
                received.append(await next_id())
            ids = [i for _, i in received]
            return {
                "before_restart": str(ids.count(before.id)),
                "after_restart": str(len(received) - 1),
                "missing": str(len(set(expected) - set(ids))),
                "duplicates": str(len(ids) - len(set(ids))),
                "in_order": str(ids[1:] == expected and received == sorted(received)).lower(),
                "reopened": str(subscription.reconnects > 0).lower(),
            }
        finally:
            await subscription.close()


async def permission_denied(env: Env) -> Mapping[str, str]:
    namespace = env.namespace("permission_denied")
    async with AsyncClient.connect(env.auth_target, tls=False, token=env.reader_token) as client:
        await client.count_executions(namespace=namespace)
        try:
            await client.create_execution(namespace=namespace, flow_id="etl")
        except StatehouseError as error:
            return {
                "read_allowed": "true",
                **refusal(error),
                "role_needed": error.metadata.get("role_needed", ""),
            }
        raise AssertionError("a reader created an execution")


ASYNC_SCENARIOS: dict[str, Callable[[Env], Awaitable[Mapping[str, str]]]] = {
    "lifecycle": lifecycle,
    "illegal_move": illegal_move,
    "request_id_retry": request_id_retry,
    "revision_conflict": revision_conflict,
    "pause_resume": pause_resume,
    "kill_cascade": kill_cascade,
    "subscription_resume": subscription_resume,
    "permission_denied": permission_denied,
}


def blocking(scenario: Callable[[Env], Awaitable[Mapping[str, str]]]) -> Observer:
    """The scenario in an event loop of its own."""
    return lambda env: asyncio.run(scenario(env))


if __name__ == "__main__":
    run({name: blocking(scenario) for name, scenario in ASYNC_SCENARIOS.items()}, sys.argv[1:])
