"""MetricService: declared in the contract; its behaviour comes with the metrics work."""

from __future__ import annotations

from statehouse.v1 import metric_service_pb2 as pb, metric_service_pb2_grpc

from ._base import Context, unimplemented


class MetricServicer(metric_service_pb2_grpc.MetricServiceServicer):
    """Answers UNIMPLEMENTED (reason NOT_IMPLEMENTED) until metrics are stored."""

    async def RecordMetrics(
        self, request: pb.RecordMetricsRequest, context: Context
    ) -> pb.RecordMetricsResponse:
        await unimplemented(context, "RecordMetrics")
        raise AssertionError  # pragma: no cover

    async def ListMetrics(
        self, request: pb.ListMetricsRequest, context: Context
    ) -> pb.ListMetricsResponse:
        await unimplemented(context, "ListMetrics")
        raise AssertionError  # pragma: no cover

    async def AggregateMetrics(
        self, request: pb.AggregateMetricsRequest, context: Context
    ) -> pb.AggregateMetricsResponse:
        await unimplemented(context, "AggregateMetrics")
        raise AssertionError  # pragma: no cover
