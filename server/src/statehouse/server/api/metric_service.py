"""MetricService: record, list and aggregate the metrics of task run attempts."""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf import duration_pb2

from statehouse.v1 import metric_pb2, metric_service_pb2 as pb

from .. import commands, limits, priority, queries
from ..orchestration import metrics as m
from ..storage import ReadTx
from . import convert
from ._base import Call, Servicer

DEFAULT_PAGE_SIZE = 100
#: An aggregate over more buckets (or grouped by a tag) runs on the heavy lane.
HEAVY_BUCKETS = 200

_TYPES = {metric_pb2.METRIC_TYPE_COUNTER: m.COUNTER, metric_pb2.METRIC_TYPE_TIMER: m.TIMER}
_TYPES_PB = {v: k for k, v in _TYPES.items()}
_WIDTHS = {
    metric_pb2.METRIC_BUCKET_WIDTH_MINUTE: m.MINUTE,
    metric_pb2.METRIC_BUCKET_WIDTH_HOUR: m.HOUR,
    metric_pb2.METRIC_BUCKET_WIDTH_DAY: m.DAY,
    metric_pb2.METRIC_BUCKET_WIDTH_WEEK: m.WEEK,
    metric_pb2.METRIC_BUCKET_WIDTH_MONTH: m.MONTH,
}
_WIDTHS_PB = {v: k for k, v in _WIDTHS.items()}


def _seconds(duration: duration_pb2.Duration) -> float:
    return duration.seconds + duration.nanos / 1e9


def _entries(request: pb.RecordMetricsRequest) -> list[m.MetricEntry]:
    entries = []
    for e in request.metrics:
        kind = e.WhichOneof("value")
        if kind == "counter":
            value, type_ = e.counter, m.COUNTER
        elif kind == "timer":
            value, type_ = _seconds(e.timer), m.TIMER
        else:
            value, type_ = 0.0, ""
        entries.append(m.MetricEntry(e.name, type_, value, e.description, dict(e.tags)))
    return entries


class MetricServicer(Servicer):
    """Counters and timers per task run attempt (requests arrive validated)."""

    async def RecordMetrics(self, request: pb.RecordMetricsRequest, call: Call) -> bytes:
        entries = _entries(request)

        work = functools.partial(
            commands.record_metrics,
            task_run_id=request.task_run_id,
            attempt=request.attempt,
            entries=entries,
        )
        return await self.mutate(call, request, pb.RecordMetricsResponse, work, _recorded)

    async def ListMetrics(
        self, request: pb.ListMetricsRequest, call: Call
    ) -> pb.ListMetricsResponse:
        filters = (request.execution_id, request.task_run_id, request.task_id, call.principal.scope)
        after = 0
        if request.page_token:
            (after,) = self.tokens.decode("ListMetrics", filters, request.page_token, (int,))
        size = min(request.page_size or DEFAULT_PAGE_SIZE, limits.MAX_PAGE_SIZE)

        def read(tx: ReadTx) -> pb.ListMetricsResponse:
            page, more = queries.list_metrics(
                tx,
                execution_id=request.execution_id,
                task_run_id=request.task_run_id,
                task_id=request.task_id,
                after_id=after,
                size=size,
            )
            response = pb.ListMetricsResponse()
            for metric in page:
                _metric_to_pb(metric, response.metrics.add())
            if more:
                response.next_page_token = self.tokens.encode("ListMetrics", filters, [page[-1].id])
            return response

        return await self.store.read(read)

    async def AggregateMetrics(self, request: pb.AggregateMetricsRequest, call: Call) -> bytes:
        """Encoded on the storage thread: many series of many buckets are large."""
        start = request.start_time.ToMicroseconds()
        end = request.end_time.ToMicroseconds()
        width = _WIDTHS.get(request.bucket_width) or m.choose_width(start, end)
        starts = m.bucket_starts(start, end, width)

        def read(tx: ReadTx) -> bytes:
            series = queries.aggregate_metrics(
                tx,
                namespace=request.namespace,
                name=request.name,
                type=_TYPES[request.type],
                flow_id=request.flow_id,
                task_id=request.task_id,
                starts=starts,
                end_us=end,
                width=width,
                group_by_tag=request.group_by_tag,
            )
            # Built here, on the storage side: a large response is not built on
            # the event loop.
            return convert.encode(_aggregate_response(series, starts, width))

        heavy = bool(request.group_by_tag) or len(starts) > HEAVY_BUCKETS
        return await self.store.read(read, heavy=heavy)


def _aggregate_response(
    series: dict[str, list[queries.Bucket | None]], starts: list[int], width: str
) -> pb.AggregateMetricsResponse:
    response = pb.AggregateMetricsResponse(bucket_width=_WIDTHS_PB[width])
    for group, buckets in series.items():
        priority.step_aside()
        out = response.series.add(tag_value=group)
        for bucket_start, found in zip(starts, buckets, strict=True):
            bucket = out.buckets.add()
            convert.time_to_pb(bucket_start, bucket.start_time)
            if found is not None:
                total, low, high, count = found
                bucket.sum, bucket.min, bucket.max, bucket.count = total, low, high, count
                bucket.avg = total / count
    return response


def _metric_to_pb(metric: m.Metric, out: Any) -> None:
    out.execution_id = metric.execution_id
    out.task_run_id = metric.task_run_id
    out.task_id = metric.task_id
    out.attempt = metric.attempt
    out.namespace = metric.namespace
    out.flow_id = metric.flow_id
    out.name = metric.name
    out.description = metric.description
    out.type = _TYPES_PB[metric.type]
    out.tags.update(metric.tags)
    if metric.type == m.COUNTER:
        out.counter = metric.value
    else:
        seconds = int(metric.value)
        out.timer.seconds = seconds
        out.timer.nanos = round((metric.value - seconds) * 1e9)
    convert.time_to_pb(metric.time_us, out.time)


def _recorded(count: int) -> pb.RecordMetricsResponse:
    return pb.RecordMetricsResponse(recorded=count)
