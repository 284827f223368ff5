"""Connect's errors: the error JSON and the HTTP status of each code.

A ``google.rpc.Status`` (``errors.status_of``, the same as over gRPC) becomes
Connect's error object, ``{code, message, details: [{type, value (base64),
debug}]}``: the body of a unary call's error, or the ``error`` of a stream's
end frame (https://connectrpc.com/docs/protocol#error-end-stream). Used by
``connect_transport.py``.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2

__all__ = ["HTTP_STATUS", "connect_code", "connect_error", "connect_error_json"]

#: Connect's HTTP status for each code of an error of a unary call.
HTTP_STATUS: dict[int, int] = {
    code_pb2.CANCELLED: 499,
    code_pb2.UNKNOWN: 500,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.DEADLINE_EXCEEDED: 504,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ABORTED: 409,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.INTERNAL: 500,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DATA_LOSS: 500,
    code_pb2.UNAUTHENTICATED: 401,
}


def connect_code(code: int) -> str:
    """``not_found`` for NOT_FOUND: Connect's names are gRPC's, in lower case."""
    name = code_pb2.Code.Name(code) if code in code_pb2.Code.values() else "UNKNOWN"
    return "canceled" if name == "CANCELLED" else name.lower()


def connect_error(status: status_pb2.Status) -> dict[str, Any]:
    """Connect's error object for a google.rpc.Status: the same code and details."""
    error: dict[str, Any] = {"code": connect_code(status.code), "message": status.message}
    details = []
    for detail in status.details:
        type_name = detail.type_url.rsplit("/", 1)[-1]
        item: dict[str, Any] = {
            "type": type_name,
            "value": base64.b64encode(detail.value).decode().rstrip("="),
        }
        debug = _debug(type_name, detail.value)
        if debug is not None:
            item["debug"] = debug
        details.append(item)
    if details:
        error["details"] = details
    return error


def connect_error_json(status: status_pb2.Status) -> bytes:
    return orjson.dumps(connect_error(status))


_DETAIL_TYPES: dict[str, type[Message]] = {
    t.DESCRIPTOR.full_name: t
    for t in (
        error_details_pb2.ErrorInfo,
        error_details_pb2.BadRequest,
        error_details_pb2.PreconditionFailure,
    )
}


def _debug(type_name: str, value: bytes) -> Any:
    message_type = _DETAIL_TYPES.get(type_name)
    if message_type is None:
        return None
    return json_format.MessageToDict(message_type.FromString(value))
