"""Stored JSON and responses have one key order, whatever order keys arrived in.

A protobuf map (labels, the fields of a Struct) iterates in the order of its
hash table, which upb seeds per process: a server that stored keys as it
iterated them, or encoded maps as its table held them, gave each value other
bytes in each process and back to clients in other orders. Here, on each
backend: the stored inputs, outputs and labels are compact JSON with sorted
keys at every level; every read of an execution returns the same bytes, from
this process's server and from a server process of its own, with every map's
entries sorted by key on the wire; and a caller decoding them sees one order.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import grpc
import sqlalchemy as sa
from google.protobuf import json_format, struct_pb2

from statehouse.v1 import (
    execution_pb2,
    execution_service_pb2 as pb,
    state_pb2 as st,
)

from .conftest import Running, ServerProcess

KEYS = [f"key-{i:03d}" for i in range(150)]


def shuffled_document(rng: random.Random) -> dict[str, Any]:
    """150 keys in a random order, with nested objects whose keys are shuffled too."""
    keys = KEYS[:]
    rng.shuffle(keys)
    doc: dict[str, Any] = {}
    for i, key in enumerate(keys):
        if i % 10 == 0:
            inner = [f"z{j}" for j in range(20)] + [f"a{j}" for j in range(20)]
            rng.shuffle(inner)
            doc[key] = {k: [j, {"y": 1, "b": 2, "m": None}] for j, k in enumerate(inner)}
        else:
            doc[key] = i
    return doc


def to_struct(doc: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(doc)
    return out


def sorted_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def keys_sorted_everywhere(value: Any) -> bool:
    if isinstance(value, dict):
        return list(value) == sorted(value) and all(map(keys_sorted_everywhere, value.values()))
    if isinstance(value, list):
        return all(map(keys_sorted_everywhere, value))
    return True


def raw(channel: grpc.Channel, method: str, request: Any) -> bytes:
    """A unary call's response as the bytes the server sent."""
    call = channel.unary_unary(
        f"/statehouse.v1.ExecutionService/{method}",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=lambda b: b,
    )
    return call(request, timeout=10)  # type: ignore[no-any-return]


async def test_stored_json_and_every_read_have_one_key_order(
    running_server: Running, server_process: ServerProcess
) -> None:
    rng = random.Random(15)
    inputs, outputs, task_outputs = (shuffled_document(rng) for _ in range(3))
    labels = {f"label-{i:02d}": str(i) for i in rng.sample(range(60), 60)}

    # Blocking calls on a thread of their own: the in-process server shares this loop.
    def scenario() -> tuple[str, list[bytes], list[bytes]]:
        here = grpc.insecure_channel(running_server.target)
        there = grpc.insecure_channel(server_process.target)
        try:
            created = pb.CreateExecutionResponse.FromString(
                raw(
                    here,
                    "CreateExecution",
                    pb.CreateExecutionRequest(
                        namespace="company.team",
                        flow_id="etl",
                        labels=labels,
                        inputs=to_struct(inputs),
                    ),
                )
            )
            execution_id = created.execution.id
            task_run = pb.CreateTaskRunResponse.FromString(
                raw(
                    here,
                    "CreateTaskRun",
                    pb.CreateTaskRunRequest(execution_id=execution_id, task_id="t"),
                )
            ).task_run
            for state, outs in ((st.STATE_RUNNING, None), (st.STATE_SUCCESS, task_outputs)):
                raw(
                    here,
                    "TransitionTaskRun",
                    pb.TransitionTaskRunRequest(
                        task_run_id=task_run.id,
                        state=state,
                        outputs=to_struct(outs) if outs else None,
                    ),
                )
            raw(
                here,
                "CompleteExecution",
                pb.CompleteExecutionRequest(execution_id=execution_id, outputs=to_struct(outputs)),
            )
            get = pb.GetExecutionRequest(execution_id=execution_id)
            listing = pb.ListExecutionsRequest(view=execution_pb2.EXECUTION_VIEW_FULL)
            gets = [raw(channel, "GetExecution", get) for channel in (here, there) * 3]
            lists = [raw(channel, "ListExecutions", listing) for channel in (here, there) * 3]
            return execution_id, gets, lists
        finally:
            here.close()
            there.close()

    execution_id, gets, lists = await asyncio.to_thread(scenario)

    # Stored: compact JSON with sorted keys at every level (the same bytes on both backends).
    engine = sa.create_engine(running_server.settings.resolved_database_url())
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT labels, inputs, outputs FROM executions WHERE id = :id"),
                {"id": execution_id},
            ).one()
            stored_task_outputs = conn.execute(
                sa.text("SELECT outputs FROM task_runs WHERE execution_id = :id"),
                {"id": execution_id},
            ).scalar_one()
    finally:
        engine.dispose()
    for text, sent in (
        (row.labels, labels),
        (row.inputs, inputs),
        (row.outputs, outputs),
        (stored_task_outputs, task_outputs),
    ):
        stored = json.loads(text)
        assert stored == sent
        assert keys_sorted_everywhere(stored)
        assert text == sorted_json(stored)  # compact, and nothing but the order changed

    # Every read, from either process, is the same bytes: map entries sorted on the wire.
    assert len(set(gets)) == 1 and len(set(lists)) == 1
    got = pb.GetExecutionResponse.FromString(gets[0])
    assert got.SerializeToString(deterministic=True) == gets[0]
    assert json_format.MessageToDict(got.execution.inputs) == inputs
    assert json_format.MessageToDict(got.execution.task_runs[0].outputs) == task_outputs
    assert dict(got.execution.labels) == labels

    # A caller decoding them sees one key order, call after call.
    orders = {
        json.dumps(json_format.MessageToDict(pb.GetExecutionResponse.FromString(data)))
        for data in gets
    }
    assert len(orders) == 1
    # With sort_keys (as a CLI printing JSON would), that order is the sorted one.
    printed = json.loads(json_format.MessageToJson(got.execution.inputs, sort_keys=True))
    assert keys_sorted_everywhere(printed) and printed == inputs
