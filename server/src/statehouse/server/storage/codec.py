"""Rows to domain objects and back: JSON documents for histories and attempts."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import orjson

from ..orchestration import (
    Attempt,
    Event,
    Execution,
    StateChange,
    TaskRun,
    UnreadableRecord,
    retry,
)
from ..orchestration.states import STATES

T = TypeVar("T")

#: What a decoder raises on a row it cannot read (bad JSON, a missing key, a
#: value of the wrong type, a state that does not exist).
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, AttributeError)


def _readable(resource_type: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Turn any decoding failure of a row into an UnreadableRecord naming it."""

    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def decode(row: Mapping[Any, Any]) -> T:
            try:
                return fn(row)
            except _UNREADABLE as exc:
                execution_id = str(row.get("execution_id") or row.get("id") or "")
                raise UnreadableRecord(
                    resource_type, str(row.get("id", "")), execution_id=execution_id
                ) from exc

        return decode

    return wrap


def dumps(value: Any) -> str:
    """Compact UTF-8 JSON (orjson: about twice as fast as the standard library here)."""
    return orjson.dumps(value).decode()


def dumps_document(value: Any) -> str:
    """A client's document (inputs, outputs, labels) as stored: compact JSON with
    the keys of every object sorted, so one value has one stored form and is
    read back in one key order, whatever order it arrived in."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)


def loads_optional(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def history_to_json(history: list[StateChange]) -> list[list[Any]]:
    """``[state, time, reason, actor]`` per entry (entries stored before actors have three)."""
    return [[h.state._value_, h.time_us, h.reason, h.actor] for h in history]


def history_from_json(items: list[list[Any]]) -> list[StateChange]:
    return [
        StateChange(STATES[h[0]], int(h[1]), str(h[2]), str(h[3]) if len(h) > 3 else "")
        for h in items
    ]


def _attempt_to_json(a: Attempt) -> dict[str, Any]:
    item: dict[str, Any] = {
        "n": a.number,
        "s": a.state._value_,
        "h": history_to_json(a.history),
        "w": a.worker_id,
    }
    if a.lease_us is not None:
        item["l"] = a.lease_us
    return item


def attempts_to_json(attempts: list[Attempt]) -> str:
    return dumps([_attempt_to_json(a) for a in attempts])


def attempts_from_json(text: str) -> list[Attempt]:
    return [
        Attempt(
            number=int(a["n"]),
            state=STATES[a["s"]],
            history=history_from_json(a["h"]),
            worker_id=str(a["w"]),
            lease_us=None if a.get("l") is None else int(a["l"]),
        )
        for a in loads(text)
    ]


def execution_row(ex: Execution) -> dict[str, Any]:
    return {
        "id": ex.id,
        "namespace": ex.namespace,
        "flow_id": ex.flow_id,
        "flow_revision": ex.flow_revision,
        "state": ex.state._value_,
        "revision": ex.revision,
        "create_time_us": ex.create_time_us,
        "update_time_us": ex.update_time_us,
        "parent_execution_id": ex.parent_execution_id,
        "restart_count": ex.restart_count,
        "labels": dumps_document(ex.labels),
        "inputs": None if ex.inputs is None else dumps_document(ex.inputs),
        "outputs": None if ex.outputs is None else dumps_document(ex.outputs),
        "history": dumps(history_to_json(ex.history)),
    }


@_readable("execution")
def execution_from_row(row: Mapping[Any, Any]) -> Execution:
    return Execution(
        id=row["id"],
        namespace=row["namespace"],
        flow_id=row["flow_id"],
        flow_revision=row["flow_revision"],
        state=STATES[row["state"]],
        revision=row["revision"],
        create_time_us=row["create_time_us"],
        update_time_us=row["update_time_us"],
        parent_execution_id=row["parent_execution_id"],
        restart_count=row["restart_count"],
        labels=loads(row["labels"]),
        inputs=loads_optional(row["inputs"]),
        outputs=loads_optional(row["outputs"]),
        history=history_from_json(loads(row["history"])),
    )


def execution_or_unreadable(row: Mapping[Any, Any]) -> Execution | UnreadableRecord:
    """The execution of ``row``, or the UnreadableRecord (with the row's create
    time, for keyset cursors) when it cannot be decoded."""
    try:
        return execution_from_row(row)
    except UnreadableRecord as error:
        error.create_time_us = int(row["create_time_us"])
        return error


#: The columns of a task run that a change may set: :func:`task_run_changes`'s keys.
TASK_RUN_MUTABLE = (
    "state",
    "update_time_us",
    "next_attempt_time_us",
    "history",
    "attempts",
    "outputs",
    "retry_policy",
)


def task_run_changes(tr: TaskRun) -> dict[str, Any]:
    """The columns of ``tr`` that a change may set (a moved task run's update)."""
    return {
        "state": tr.state._value_,
        "update_time_us": tr.update_time_us,
        "next_attempt_time_us": tr.next_attempt_time_us,
        "history": dumps(history_to_json(tr.history)),
        "attempts": attempts_to_json(tr.attempts),
        "outputs": None if tr.outputs is None else dumps_document(tr.outputs),
        "retry_policy": _policies_to_json(tr),
    }


def task_run_row(tr: TaskRun) -> dict[str, Any]:
    return {
        "id": tr.id,
        "execution_id": tr.execution_id,
        "task_id": tr.task_id,
        "parent_task_run_id": tr.parent_task_run_id,
        "value": tr.value,
        "create_time_us": tr.create_time_us,
        **task_run_changes(tr),
    }


#: The key of the attempt timeout in the ``retry_policy`` column, which holds
#: the task run's policies: the retry policy's keys (none without one) and this.
_ATTEMPT_TIMEOUT = "attempt_timeout_us"


def _policies_to_json(tr: TaskRun) -> str | None:
    if tr.attempt_timeout_us is None:
        return None if tr.retry_policy is None else dumps(tr.retry_policy.to_json())
    stored = {} if tr.retry_policy is None else tr.retry_policy.to_json()
    stored[_ATTEMPT_TIMEOUT] = tr.attempt_timeout_us
    return dumps(stored)


def _policies_from_json(text: str | None) -> tuple[retry.RetryPolicy | None, int | None]:
    stored = loads_optional(text)
    if isinstance(stored, dict) and _ATTEMPT_TIMEOUT in stored:
        timeout = stored.pop(_ATTEMPT_TIMEOUT)
        if type(timeout) is not int or timeout <= 0:
            raise ValueError("an attempt timeout that is not a positive integer")
        return retry.policy_from_json(stored or None), timeout
    return retry.policy_from_json(stored), None


@_readable("task run")
def task_run_from_row(row: Mapping[Any, Any]) -> TaskRun:
    policy, attempt_timeout_us = _policies_from_json(row["retry_policy"])
    return TaskRun(
        id=row["id"],
        execution_id=row["execution_id"],
        task_id=row["task_id"],
        parent_task_run_id=row["parent_task_run_id"],
        value=row["value"],
        state=STATES[row["state"]],
        create_time_us=row["create_time_us"],
        update_time_us=row["update_time_us"],
        next_attempt_time_us=row["next_attempt_time_us"],
        history=history_from_json(loads(row["history"])),
        attempts=attempts_from_json(row["attempts"]),
        outputs=loads_optional(row["outputs"]),
        retry_policy=policy,
        attempt_timeout_us=attempt_timeout_us,
    )


def event_row(ev: Event) -> dict[str, Any]:
    return {
        "sequence": ev.sequence,
        "time_us": ev.time_us,
        "namespace": ev.namespace,
        "flow_id": ev.flow_id,
        "execution_id": ev.execution_id,
        "task_run_id": ev.task_run_id,
        "task_id": ev.task_id,
        "attempt": ev.attempt,
        "previous_state": None if ev.previous_state is None else ev.previous_state._value_,
        "state": ev.state._value_,
        "reason": ev.reason,
        "execution_revision": ev.execution_revision,
        "actor": ev.actor,
    }


def event_from_row(row: Mapping[Any, Any]) -> Event:
    previous = row["previous_state"]
    return Event(
        sequence=row["sequence"],
        time_us=row["time_us"],
        namespace=row["namespace"],
        flow_id=row["flow_id"],
        execution_id=row["execution_id"],
        task_run_id=row["task_run_id"],
        task_id=row["task_id"],
        attempt=row["attempt"],
        previous_state=None if previous is None else STATES[previous],
        state=STATES[row["state"]],
        reason=row["reason"],
        execution_revision=row["execution_revision"],
        actor=row["actor"],
    )
