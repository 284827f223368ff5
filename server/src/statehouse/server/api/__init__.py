"""The gRPC servicers: protos in, domain calls, protos out."""

from ._base import Limits
from .event_service import EventServicer
from .execution_service import ExecutionServicer
from .metric_service import MetricServicer

__all__ = ["EventServicer", "ExecutionServicer", "Limits", "MetricServicer"]
