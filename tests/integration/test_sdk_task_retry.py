"""Task retry policies through the SDK on a real server: each accepted form
(TaskRetryPolicy, flat dict, proto-JSON dict, the message) is stored as given,
and the server retries as the policy says."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from statehouse.client import (
    AsyncClient,
    Client,
    FailedPreconditionError,
    State,
    TaskRetryPolicy,
)

from .conftest import ManualClock

FORMS: dict[str, Any] = {
    "typed": TaskRetryPolicy.constant(interval="300ms", max_attempts=3),
    "flat dict": {"type": "constant", "interval": "300ms", "max_attempts": 3},
    "proto-json dict": {"constant": {"interval": "PT0.3S"}, "maxAttempts": 3},
    "message": TaskRetryPolicy.constant(interval=0.3, max_attempts=3).to_proto(),
}
EXPECTED = TaskRetryPolicy.constant(interval=timedelta(milliseconds=300), max_attempts=3)


@pytest.mark.parametrize("form", FORMS)
async def test_each_form_is_stored_and_retried_as_it_says(
    server_target: str, manual_clock: ManualClock, form: str
) -> None:
    # The blocking client, in a thread: the in-process server runs on this loop.
    await asyncio.wait_for(
        asyncio.to_thread(_retry_twice_then_succeed, server_target, FORMS[form], manual_clock),
        60,
    )


def _retry_twice_then_succeed(target: str, policy: Any, manual_clock: ManualClock) -> None:
    with Client.connect(target) as client:
        execution = client.create_execution(namespace="ns", flow_id="retry")
        run = client.create_task_run(
            execution_id=execution.id, task_id="t", retry_policy=policy
        ).task_run
        assert TaskRetryPolicy.from_proto(run.retry_policy) == EXPECTED
        stored = client.get_execution(execution.id).task_runs[0]
        assert TaskRetryPolicy.from_proto(stored.retry_policy) == EXPECTED

        for attempt in (1, 2):
            client.transition_task_run(run.id, state=State.RUNNING, worker_id="w")
            failed = client.transition_task_run(run.id, state=State.FAILED, reason="boom")
            assert failed.retry.scheduled
            assert failed.retry.next_attempt == attempt + 1
            assert failed.task_run.state == State.RESTARTED
            due = failed.task_run.next_attempt_time.ToDatetime().timestamp()
            # Too early: the server refuses to start it before the interval.
            with pytest.raises(FailedPreconditionError) as early:
                client.transition_task_run(run.id, state=State.RUNNING, worker_id="w")
            assert early.value.reason == "RETRY_NOT_DUE"
            manual_clock.advance(1)  # past the interval (0.3 s): the server's clock moves
            assert manual_clock.now / 1e6 > due
        client.transition_task_run(run.id, state=State.RUNNING, worker_id="w")
        # The third failure is the last attempt: no retry.
        last = client.transition_task_run(run.id, state=State.FAILED, reason="boom")
        assert not last.retry.scheduled
        assert last.task_run.state == State.FAILED
        assert len(last.task_run.attempts) == 3


async def test_the_async_client_takes_the_same_forms(server_target: str) -> None:
    async with AsyncClient.connect(server_target) as client:
        execution = await client.create_execution(namespace="ns", flow_id="retry")
        for form in FORMS.values():
            response = await client.create_task_run(
                execution_id=execution.id, task_id="t", retry_policy=form
            )
            assert TaskRetryPolicy.from_proto(response.task_run.retry_policy) == EXPECTED
        exponential = await client.create_task_run(
            execution_id=execution.id,
            task_id="e",
            retry_policy={
                "type": "exponential",
                "interval": "1s",
                "max_interval": "1m30s",
                "factor": 3,
                "max_attempts": 4,
                "max_duration": timedelta(hours=1),
                "warning_on_retry": True,
            },
        )
        assert TaskRetryPolicy.from_proto(exponential.task_run.retry_policy) == (
            TaskRetryPolicy.exponential(
                "1s",
                max_interval="90s",
                factor=3,
                max_attempts=4,
                max_duration="PT1H",
                warning_on_retry=True,
            )
        )
        with pytest.raises(ValueError, match="'intervl'"):
            await client.create_task_run(
                execution_id=execution.id,
                task_id="bad",
                retry_policy={"type": "constant", "intervl": "2s", "max_attempts": 3},
            )
