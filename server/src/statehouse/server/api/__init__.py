"""The RPC handlers (protos in, domain calls, protos out) and their transports, gRPC and Connect."""

from ._base import Call, Limits
from ._pages import PageTokens
from .admin_service import AdminServicer, ServerInfo
from .connect_transport import ConnectTransport
from .event_service import EventServicer
from .execution_service import ExecutionServicer
from .grpc_transport import GrpcTransport
from .health import SERVICE as HEALTH_SERVICE, ConnectHealth
from .metric_service import MetricServicer

__all__ = [
    "HEALTH_SERVICE",
    "AdminServicer",
    "Call",
    "ConnectHealth",
    "ConnectTransport",
    "EventServicer",
    "ExecutionServicer",
    "GrpcTransport",
    "Limits",
    "MetricServicer",
    "PageTokens",
    "ServerInfo",
]
