"""The queries: what the servicers read, below them and beside the commands.

Each function runs inside one read transaction (a :class:`~.storage.ReadTx`,
which has no method that writes) and speaks the domain's types: pages of
executions with their task runs, pages of metrics, metric series with their
buckets filled. The servicers encode the results
(inside the same read, so that a large page is encoded on the storage side,
not on the event loop).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import limits
from .orchestration import (
    Execution,
    InvalidArgument,
    NotFound,
    State,
    UnreadableRecord,
    metrics as m,
)
from .orchestration.filters import ExecutionFilter
from .orchestration.patterns import matches
from .storage import ReadTx, StoredTaskRun


def get_execution(tx: ReadTx, execution_id: str, *, full: bool) -> Execution:
    """The execution (with its task runs when ``full``); NotFound if there is none."""
    execution = (
        tx.get_execution_with_task_runs(execution_id) if full else tx.get_execution(execution_id)
    )
    if execution is None:
        raise NotFound("execution", execution_id)
    return execution


def get_task_run(tx: ReadTx, task_run_id: str, *, scope: tuple[str, ...]) -> StoredTaskRun:
    """The task run with its execution's revision and state, in one statement;
    NotFound if there is none or its namespace lies outside ``scope`` (empty:
    every namespace), the same answer, so an id says nothing of what exists."""
    found = tx.read_task_run(task_run_id)
    if found is None or (scope and not any(matches(p, found.namespace) for p in scope)):
        raise NotFound("task run", task_run_id)
    return found


@dataclass(slots=True)
class ExecutionPage:
    #: Newest first; an UnreadableRecord where an execution or one of its task
    #: runs cannot be read (one bad row must not fail a list).
    items: list[Execution | UnreadableRecord]
    #: Whether more executions follow the page.
    more: bool


def list_executions(
    tx: ReadTx,
    flt: ExecutionFilter,
    *,
    size: int,
    before: tuple[int, str] | None,
    full: bool,
) -> ExecutionPage:
    """A page of executions, with their task runs when ``full``."""
    found = tx.list_executions(flt, limit=size + 1, before=before)
    page, more = found[:size], len(found) > size
    if full:
        readable = [e for e in page if isinstance(e, Execution)]
        runs = tx.list_task_runs_of([e.id for e in readable])
        for i, item in enumerate(page):
            if isinstance(item, Execution):
                found_runs = runs.get(item.id, [])
                if isinstance(found_runs, UnreadableRecord):
                    found_runs.create_time_us = item.create_time_us
                    page[i] = found_runs
                else:
                    item.task_runs = found_runs
    return ExecutionPage(page, more)


def count_executions(tx: ReadTx, flt: ExecutionFilter) -> dict[State, int]:
    """How many executions ``flt`` selects in each state, every state present (0 included)."""
    found = tx.count_executions(flt)
    return {state: found.get(state, 0) for state in State}


@dataclass(frozen=True, slots=True)
class LogExtent:
    #: The newest committed sequence (0 before the first event).
    head_sequence: int
    #: The oldest sequence still retained (head_sequence + 1 when the log is empty).
    first_available_sequence: int


def log_extent(tx: ReadTx) -> LogExtent:
    """Where the event log starts and ends."""
    head = tx.last_sequence()
    return LogExtent(head, tx.first_available_sequence())


def list_metrics(
    tx: ReadTx, *, execution_id: str, task_run_id: str, task_id: str, after_id: int, size: int
) -> tuple[list[m.Metric], bool]:
    """A page of metrics in id order after ``after_id``, and whether more follow."""
    found = tx.list_metrics(
        execution_id=execution_id,
        task_run_id=task_run_id,
        task_id=task_id,
        after_id=after_id,
        limit=size + 1,
    )
    return found[:size], len(found) > size


#: (sum, min, max, count) of one bucket.
Bucket = tuple[float, float, float, int]


def aggregate_metrics(
    tx: ReadTx,
    *,
    namespace: str,
    name: str,
    type: str,
    flow_id: str,
    task_id: str,
    starts: list[int],
    end_us: int,
    width: str,
    group_by_tag: str,
) -> dict[str, list[Bucket | None]]:
    """One series per group (tag value; ``""`` when not grouped), each with one
    bucket per start (None where no metric fell). INVALID_ARGUMENT beyond
    ``limits.MAX_AGGREGATE_POINTS`` points in all."""
    rows = tx.aggregate_metrics(
        namespace=namespace,
        name=name,
        type=type,
        flow_id=flow_id,
        task_id=task_id,
        starts=starts,
        end_us=end_us,
        width=width,
        group_by_tag=group_by_tag,
    )
    groups: dict[str, dict[int, Bucket]] = {}
    for group, index, total, low, high, count in rows:
        groups.setdefault(group, {})[index] = (total, low, high, count)
    if not groups:
        groups[""] = {}
    points = len(groups) * len(starts)
    if points > limits.MAX_AGGREGATE_POINTS:
        raise InvalidArgument(
            [
                (
                    "group_by_tag",
                    f"gives {len(groups)} series of {len(starts)} buckets, more than "
                    f"{limits.MAX_AGGREGATE_POINTS} points: narrow the range, widen the "
                    "buckets or filter by flow or task",
                )
            ]
        )
    return {group: [groups[group].get(i) for i in range(len(starts))] for group in sorted(groups)}
