"""Metrics of task runs' attempts: recorded in bulk, listed, aggregated in buckets."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ...orchestration import TaskRun
from ...orchestration.metrics import FIXED_US, Metric, MetricEntry
from .. import codec
from ..schema import metric_tags, metrics
from .core import TxCore

_SELECT_ATTEMPT_METRICS = sa.select(
    metrics.c.id, metrics.c.name, metrics.c.type, metrics.c.tags
).where(
    metrics.c.task_run_id == sa.bindparam("task_run_id"),
    metrics.c.attempt == sa.bindparam("attempt"),
)
_ADD_TO_METRIC = (
    sa.update(metrics)
    .where(metrics.c.id == sa.bindparam("_id"))
    .values(value=metrics.c.value + sa.bindparam("delta", type_=sa.Float))
)
_INSERT_METRIC_RETURNING = sa.insert(metrics).returning(metrics.c.id, sort_by_parameter_order=True)
_INSERT_METRIC_TAGS = sa.insert(metric_tags)


class MetricReads(TxCore):
    """Lists and aggregates of metrics."""

    def list_metrics(
        self,
        *,
        execution_id: str,
        task_run_id: str,
        task_id: str,
        after_id: int,
        limit: int,
    ) -> list[Metric]:
        query = sa.select(metrics).where(metrics.c.id > after_id)
        if execution_id:
            query = query.where(metrics.c.execution_id == execution_id)
        if task_run_id:
            query = query.where(metrics.c.task_run_id == task_run_id)
        if task_id:
            query = query.where(metrics.c.task_id == task_id)
        rows = self.conn.execute(query.order_by(metrics.c.id).limit(limit)).mappings()
        return [
            Metric(
                id=r["id"],
                execution_id=r["execution_id"],
                task_run_id=r["task_run_id"],
                task_id=r["task_id"],
                attempt=r["attempt"],
                namespace=r["namespace"],
                flow_id=r["flow_id"],
                name=r["name"],
                type=r["type"],
                description=r["description"],
                tags=codec.loads(r["tags"]),
                value=r["value"],
                time_us=r["time_us"],
            )
            for r in rows
        ]

    def aggregate_metrics(
        self,
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
    ) -> list[tuple[str, int, float, float, float, int]]:
        """(group, bucket index, sum, min, max, count) for the non-empty buckets."""
        t = metrics.c.time_us
        if width in FIXED_US:
            size = FIXED_US[width]
            bucket: sa.ColumnElement[int] = (t - starts[0]) // size
        elif len(starts) == 1:
            # One calendar bucket: a CASE needs at least one WHEN.
            bucket = sa.literal(0, sa.Integer)
        else:
            bucket = sa.case(
                *((t < boundary, i) for i, boundary in enumerate(starts[1:])),
                else_=len(starts) - 1,
            )
        group: sa.ColumnElement[str] = sa.literal("")
        source: sa.FromClause = metrics
        if group_by_tag:
            source = metrics.outerjoin(
                metric_tags,
                sa.and_(metric_tags.c.metric_id == metrics.c.id, metric_tags.c.key == group_by_tag),
            )
            group = sa.func.coalesce(metric_tags.c.value, "")
        b = bucket.label("b")
        g = group.label("g")
        query = (
            sa.select(
                g,
                b,
                sa.func.sum(metrics.c.value),
                sa.func.min(metrics.c.value),
                sa.func.max(metrics.c.value),
                sa.func.count(),
            )
            .select_from(source)
            .where(
                metrics.c.namespace == namespace,
                metrics.c.name == name,
                metrics.c.type == type,
                t >= starts[0],
                t < end_us,
            )
            .group_by(g, b)
        )
        if flow_id:
            query = query.where(metrics.c.flow_id == flow_id)
        if task_id:
            query = query.where(metrics.c.task_id == task_id)
        return [
            (str(r[0]), int(r[1]), float(r[2]), float(r[3]), float(r[4]), int(r[5]))
            for r in self.conn.execute(query)
        ]


class MetricWrites(MetricReads):
    """Recording an attempt's metrics."""

    def record_metrics(
        self,
        task_run: TaskRun,
        attempt: int,
        namespace: str,
        flow_id: str,
        entries: list[MetricEntry],
        now_us: int,
    ) -> None:
        """Add combined entries to the attempt's metrics (same name, type and tags add up).

        In bulk: one read of the attempt's existing metrics, one batched update,
        one batched insert (returning the new ids, in order) and one for their tags.
        """
        self._immediate()
        existing = {
            (row[1], row[2], row[3]): row[0]
            for row in self.conn.execute(
                _SELECT_ATTEMPT_METRICS, {"task_run_id": task_run.id, "attempt": attempt}
            )
        }
        updates: list[dict[str, Any]] = []
        inserts: list[dict[str, Any]] = []
        new_tags: list[dict[str, str]] = []
        for e in entries:
            tags = codec.dumps(dict(sorted(e.tags.items())))
            found = existing.get((e.name, e.type, tags))
            if found is not None:
                updates.append({"_id": found, "delta": e.value})
                continue
            inserts.append(
                {
                    "execution_id": task_run.execution_id,
                    "task_run_id": task_run.id,
                    "task_id": task_run.task_id,
                    "attempt": attempt,
                    "namespace": namespace,
                    "flow_id": flow_id,
                    "name": e.name,
                    "type": e.type,
                    "description": e.description,
                    "tags": tags,
                    "value": e.value,
                    "time_us": now_us,
                }
            )
            new_tags.append(e.tags)
        if updates:
            self.conn.execute(_ADD_TO_METRIC, updates)
        if inserts:
            ids = self.conn.execute(_INSERT_METRIC_RETURNING, inserts).scalars().all()
            tag_rows = [
                {"metric_id": metric_id, "key": k, "value": v}
                for metric_id, tags in zip(ids, new_tags, strict=True)
                for k, v in tags.items()
            ]
            if tag_rows:
                self.conn.execute(_INSERT_METRIC_TAGS, tag_rows)
