"""How a transaction changes executions and task runs: it locks them, keeps a
change set (:meth:`ExecutionWrites.save`, the one write path of every state
change), and deletes them.

A batch reads (and on PostgreSQL locks) the task runs it will move with their
executions in one statement before its writes run (``prefetch_task_runs``),
in one order for every writer (no deadlock between replicas). What ``save``
keeps is written by the core's write-back before commit: rows and events in
the same transaction (the transactional outbox: docs/design.md, "Invariants").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ...orchestration import ChangeSet, Event, Execution, TaskRun
from .. import codec
from ..hot import Hot
from ..schema import execution_labels, executions, metric_tags, metrics, task_runs, timers
from .core import INSERT_LABELS, SeenRows
from .executions import TERMINAL, ExecutionReads, copy_execution, copy_task_run

_SELECT_TASK_RUNS_AND_EXECUTIONS = (
    sa.select(
        *(c.label(f"t_{c.name}") for c in task_runs.c),
        *(c.label(f"e_{c.name}") for c in executions.c),
    )
    .join_from(task_runs, executions, task_runs.c.execution_id == executions.c.id)
    .where(task_runs.c.id.in_(sa.bindparam("ids", expanding=True)))
    # One order for every writer: rows are locked as they are returned, so two
    # replicas' batches lock shared rows in the same order (no deadlock).
    .order_by(executions.c.id, task_runs.c.id)
)
#: Locks both rows of each pair (PostgreSQL).
_SELECT_TASK_RUNS_AND_EXECUTIONS_FOR_UPDATE = _SELECT_TASK_RUNS_AND_EXECUTIONS.with_for_update()
#: What every state change runs, on the driver's cursor (``hot.py``).
_HOT_TASK_RUNS_AND_EXECUTIONS = Hot(_SELECT_TASK_RUNS_AND_EXECUTIONS, expanding="ids")
_HOT_TASK_RUNS_AND_EXECUTIONS_FOR_UPDATE = Hot(
    _SELECT_TASK_RUNS_AND_EXECUTIONS_FOR_UPDATE, expanding="ids"
)
_TASK_RUN_COLUMNS = tuple(c.name for c in task_runs.c)
_EXECUTION_COLUMNS = tuple(c.name for c in executions.c)
_NEXT_POSITION = sa.select(sa.func.coalesce(sa.func.max(task_runs.c.position), -1) + 1).where(
    task_runs.c.execution_id == sa.bindparam("execution_id")
)


def settle(seen: SeenRows) -> None:
    """Once the transaction of ``seen`` committed, before another goes on with its
    rows (``sqlite.py``'s ``KeptRows``): the task runs and executions its writes
    saved become what their rows decode to (``_as_decoded``), not the objects
    the rules changed, which the commands' answers hold."""
    for key in seen.saved_task_runs:
        found = seen.decoded_task_runs.get(key)
        if found is not None:
            seen.decoded_task_runs[key] = (found[0], _as_decoded(found[1], found[0]))
    for key in seen.saved_executions:
        kept = seen.decoded.get(key)
        if kept is not None:
            seen.decoded[key] = (kept[0], _execution_as_decoded(kept[1], kept[0]))
    seen.saved_task_runs.clear()
    seen.saved_executions.clear()


def _as_decoded(tr: TaskRun, row: dict[str, Any]) -> TaskRun:
    """``tr`` as its new ``row`` decodes, without decoding its histories: a copy,
    its outputs read back from the stored document (stored with their keys
    sorted, they read back in that order)."""
    kept = copy_task_run(tr)
    if row["outputs"] is not None:
        kept.outputs = codec.loads(row["outputs"])
    return kept


def _execution_as_decoded(ex: Execution, row: dict[str, Any]) -> Execution:
    """``ex`` as its new ``row`` decodes (``_as_decoded``): its documents as stored."""
    kept = copy_execution(ex)
    kept.labels = codec.loads(row["labels"])
    kept.inputs = codec.loads_optional(row["inputs"])
    kept.outputs = codec.loads_optional(row["outputs"])
    return kept


class ExecutionWrites(ExecutionReads):
    """Locks, the change set of a write, and deletions of executions."""

    def prefetch_task_runs(self, task_run_ids: Sequence[str]) -> None:
        """Read (and on PostgreSQL lock) task runs and their executions in one
        statement, for the writes of a batch that will move them."""
        wanted = [
            i
            for i in dict.fromkeys(task_run_ids)
            if self._known(self._task_runs, i, True) is None and i not in self._task_run_updates
        ]
        if wanted:
            self._read_task_runs_with_executions(wanted)

    def _read_task_runs_with_executions(self, ids: list[str]) -> None:
        self.keep_task_runs_with_executions(self.task_runs_query().rows(self.conn, ids))

    @classmethod
    def task_runs_query(cls) -> Hot:
        """What :meth:`prefetch_task_runs` runs: task runs with their executions,
        locked where rows are locked (a backend may run it itself, then hand the
        rows to :meth:`keep_task_runs_with_executions`)."""
        if cls.LOCKS_ROWS:
            return _HOT_TASK_RUNS_AND_EXECUTIONS_FOR_UPDATE
        return _HOT_TASK_RUNS_AND_EXECUTIONS

    def keep_task_runs_with_executions(self, rows: Sequence[Sequence[Any]]) -> None:
        """Keep the rows of :meth:`task_runs_query` (read in this transaction)."""
        split = len(_TASK_RUN_COLUMNS)
        seen: set[str] = set()  # an execution's columns come with each of its task runs
        for found in rows:
            task_run = dict(zip(_TASK_RUN_COLUMNS, found[:split], strict=True))
            if task_run["id"] not in self._task_run_updates:
                self._task_runs[task_run["id"]] = task_run
                self._locked.add(task_run["id"])
            execution_id = task_run["execution_id"]
            if execution_id in seen:
                continue
            seen.add(execution_id)
            if execution_id not in self._execution_updates:
                execution = dict(zip(_EXECUTION_COLUMNS, found[split:], strict=True))
                self._executions[execution_id] = execution
                self._history_len.pop(execution_id, None)
                self._locked.add(execution_id)

    def lock_task_run(self, task_run_id: str) -> tuple[TaskRun, Execution] | None:
        """A task run and its execution, both locked for this transaction (on
        SQLite the write transaction holds the database): every writer of a task
        run holds its execution's lock. One statement unless already read."""
        if self._known(self._task_runs, task_run_id, True) is None and (
            task_run_id not in self._task_run_updates
        ):
            self._read_task_runs_with_executions([task_run_id])
        row = self._task_runs.get(task_run_id)
        if row is None:
            return None
        task_run = self._task_run_of(row)
        execution = self.get_execution(task_run.execution_id, for_update=True)
        if execution is None:  # pragma: no cover - a task run has its execution (a key)
            return None
        return task_run, execution

    def _next_position(self, execution_id: str) -> int:
        kept = [
            r["position"] for r in self._new_task_runs.values() if r["execution_id"] == execution_id
        ]
        if kept:
            return int(max(kept)) + 1
        return int(self.conn.execute(_NEXT_POSITION, {"execution_id": execution_id}).scalar_one())

    # -- the one write path for changes --------------------------------------

    def save(self, changes: ChangeSet, *, new_execution: bool = False) -> list[Event]:
        """Keep a sealed change set: the execution, its touched task runs, its
        timers and events, written by :meth:`flush` before commit.

        An execution whose history did not grow (a task run moved) is updated
        without its history and outputs. The row is updated only if it still has
        the revision it was read with, so a concurrent writer can never be
        overwritten silently (checked by flush: it raises RevisionMismatch).
        """
        ex = changes.execution
        if new_execution:
            self._insert_execution(ex)
        else:
            self._update_execution(ex)
        if changes.created_task_runs:
            start = self._next_position(ex.id)
            for offset, tr in enumerate(changes.created_task_runs):
                row = codec.task_run_row(tr)
                row["position"] = start + offset
                self._set(self._new_task_runs, tr.id, row)
                self._set(self._task_runs, tr.id, row)
                self._keep_saved_task_run(tr, row)
                self._locked.add(tr.id)
        created = {tr.id for tr in changes.created_task_runs}
        for tr in changes.changed_task_runs.values():
            if tr.id in created:
                continue
            params = codec.task_run_changes(tr)
            new = self._new_task_runs.get(tr.id)
            if new is not None:
                self._set(self._new_task_runs, tr.id, {**new, **params})
            else:
                self._set(self._task_run_updates, tr.id, {"_id": tr.id, **params})
            old = self._task_runs.get(tr.id)
            row = codec.task_run_row(tr) if old is None else {**old, **params}
            self._set(self._task_runs, tr.id, row)
            self._keep_saved_task_run(tr, row)
        for task_run_id, kind in changes.cancelled_timers:
            self._timer_ops.append(("delete", (ex.id, task_run_id, kind)))
        for t in changes.new_timers:
            row = {
                "id": t.id,
                "execution_id": t.execution_id,
                "task_run_id": t.task_run_id,
                "kind": t.kind,
                "action": t.action,
                "due_time_us": t.due_time_us,
            }
            self._timer_ops.append(("insert", row))
        return self.append_events(changes.events)

    def _keep_saved_task_run(self, tr: TaskRun, row: dict[str, Any]) -> None:
        """``tr`` is what ``row`` holds: later reads of it are handed copies."""
        self._decoded_task_runs[tr.id] = (row, tr)
        self.seen.saved_task_runs.add(tr.id)

    def _update_execution(self, ex: Execution) -> None:
        full = self._history_len.get(ex.id) != len(ex.history)
        params: dict[str, Any] = {
            "state": ex.state.value,
            "revision": ex.revision,
            "update_time_us": ex.update_time_us,
            "restart_count": ex.restart_count,
        }
        if full:
            params["outputs"] = None if ex.outputs is None else codec.dumps_document(ex.outputs)
            params["history"] = codec.dumps(codec.history_to_json(ex.history))
        old = self._executions.get(ex.id)
        if old is None:  # not read through this transaction: write it whole
            old = codec.execution_row(ex)
        new = self._new_executions.get(ex.id)
        if new is not None:
            self._set(self._new_executions, ex.id, {**new, **params})
        else:
            kept = self._execution_updates.get(ex.id)
            if kept is None:
                kept = {"_id": ex.id, "_rev": ex.revision - 1, "_full": False}
            merged = {**kept, **params, "_full": kept["_full"] or full}
            if merged["_full"] and "history" not in merged:
                merged["history"] = old["history"]
                merged["outputs"] = old["outputs"]
            self._set(self._execution_updates, ex.id, merged)
        row = {**old, **params}
        self._set(self._executions, ex.id, row)
        self._set(self._history_len, ex.id, len(ex.history))
        # The change's own execution: the command is done with it, and every read
        # of it from here on is handed a copy (``_remember_execution``).
        self._decoded[ex.id] = (row, ex)
        self.seen.saved_executions.add(ex.id)

    def _insert_execution(self, execution: Execution) -> None:
        row = codec.execution_row(execution)
        self._set(self._new_executions, execution.id, row)
        self._set(self._executions, execution.id, row)
        self._set(self._history_len, execution.id, len(execution.history))
        self._decoded[execution.id] = (row, execution)
        self.seen.saved_executions.add(execution.id)
        self._locked.add(execution.id)
        self._new_labels.extend(
            {"execution_id": execution.id, "key": k, "value": v}
            for k, v in execution.labels.items()
        )

    def delete_execution(self, execution_id: str) -> None:
        self.delete_executions([execution_id])

    def delete_executions(self, execution_ids: Sequence[str]) -> None:
        """Delete executions with everything that is theirs: task runs (their
        attempts and outputs are columns of them), labels, timers, metrics and
        their tags. Their events stay (the log's own retention deletes them)."""
        self._immediate()
        self._forget_rows()
        ids = list(execution_ids)
        if not ids:
            return
        self.conn.execute(
            sa.delete(metric_tags).where(
                metric_tags.c.metric_id.in_(
                    sa.select(metrics.c.id).where(metrics.c.execution_id.in_(ids))
                )
            )
        )
        for table, column in (
            (metrics, metrics.c.execution_id),
            (timers, timers.c.execution_id),
            (execution_labels, execution_labels.c.execution_id),
            (task_runs, task_runs.c.execution_id),
            (executions, executions.c.id),
        ):
            self.conn.execute(sa.delete(table).where(column.in_(ids)))

    def delete_terminal_executions(self, *, changed_before_us: int, limit: int) -> list[str]:
        """Delete up to ``limit`` terminal executions last changed before
        ``changed_before_us`` (:meth:`delete_executions`); return their ids.

        Found through the (state, create_time_us) index: an execution last changed
        before the cutoff was created before it too. On PostgreSQL the rows are
        locked, skipping any a concurrent write holds (it may be restarting one);
        SQLite's write transaction holds the whole file.
        """
        self._immediate()
        query = (
            sa.select(executions.c.id)
            .where(
                executions.c.state.in_(TERMINAL),
                executions.c.create_time_us < changed_before_us,
                executions.c.update_time_us < changed_before_us,
            )
            .order_by(executions.c.create_time_us)
            .limit(limit)
        )
        if self.LOCKS_ROWS:
            query = query.with_for_update(skip_locked=True)
        ids = [str(i) for i in self.conn.execute(query).scalars()]
        self.delete_executions(ids)
        return ids

    def add_execution_labels(self, execution_id: str, labels: dict[str, str]) -> None:
        """Add (or overwrite) labels of a stored execution, written at once: an
        expired deadline's mark (``orchestration/deadlines.py``). The caller has
        the execution locked and set the labels on it."""
        self._immediate()
        row = self.conn.execute(
            sa.select(executions.c.labels).where(executions.c.id == execution_id)
        ).scalar_one()
        merged = {**codec.loads(row), **labels}
        text = codec.dumps_document(merged)
        self.conn.execute(
            sa.update(executions).where(executions.c.id == execution_id).values(labels=text)
        )
        self.conn.execute(
            sa.delete(execution_labels).where(
                execution_labels.c.execution_id == execution_id,
                execution_labels.c.key.in_(sorted(labels)),
            )
        )
        self.conn.execute(
            INSERT_LABELS,
            [{"execution_id": execution_id, "key": k, "value": v} for k, v in labels.items()],
        )
        old = self._executions.get(execution_id)
        if old is not None:
            self._set(self._executions, execution_id, {**old, "labels": text})
