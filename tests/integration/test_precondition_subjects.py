"""A refused precondition names its subject (google.rpc.PreconditionFailure):
``executions/<id>`` or ``taskRuns/<id>``, whichever is not in the state needed."""

from __future__ import annotations

from collections.abc import Awaitable

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from statehouse.v1 import (
    execution_service_pb2 as pb,
    metric_pb2,
    metric_service_pb2 as mpb,
    state_pb2 as st,
)

from .conftest import Stubs
from .helpers import create, move, task_run


async def refusal(call: Awaitable[object]) -> tuple[str, str]:
    """(type, subject) of the PreconditionFailure of a FAILED_PRECONDITION call."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    status = rpc_status.from_call(info.value)  # type: ignore[arg-type]
    assert status is not None
    found = []
    for detail in status.details:
        if detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            found += [(v.type, v.subject) for v in failure.violations]
    (violation,) = found
    return violation


async def test_each_refused_precondition_names_its_subject(stubs: Stubs) -> None:
    ex = await create(stubs)
    first, second = await task_run(stubs, ex.id), await task_run(stubs, ex.id, "load")
    await move(stubs, first.id, st.STATE_RUNNING)

    assert await refusal(move(stubs, second.id, st.STATE_SUCCESS)) == (
        "INVALID_TRANSITION",
        f"taskRuns/{second.id}",
    )
    assert await refusal(
        stubs.executions.TransitionExecution(
            pb.TransitionExecutionRequest(execution_id=ex.id, state=st.STATE_SUCCESS)
        )
    ) == ("TASK_RUNS_ACTIVE", f"executions/{ex.id}")
    assert await refusal(
        stubs.executions.DeleteExecution(pb.DeleteExecutionRequest(execution_id=ex.id))
    ) == ("EXECUTION_ACTIVE", f"executions/{ex.id}")
    assert await refusal(
        stubs.metrics.RecordMetrics(
            mpb.RecordMetricsRequest(
                task_run_id=second.id, metrics=[metric_pb2.MetricEntry(name="n", counter=1)]
            )
        )
    ) == ("NO_ATTEMPT", f"taskRuns/{second.id}")
    await stubs.executions.TransitionExecution(
        pb.TransitionExecutionRequest(execution_id=ex.id, state=st.STATE_PAUSED)
    )
    assert await refusal(move(stubs, second.id, st.STATE_RUNNING)) == (
        "EXECUTION_PAUSED",
        f"executions/{ex.id}",
    )
