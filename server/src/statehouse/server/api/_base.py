"""What every servicer shares: error translation, idempotency, limits."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from grpc_status import rpc_status

from ..commands import now_us
from ..orchestration import DomainError, RequestIdReused
from ..storage import StorageUnavailable, Store, Tx
from .errors import database_unavailable, status_for

M = TypeVar("M", bound=Message)
Context = grpc.aio.ServicerContext[Any, Any]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what clients may store."""

    #: The largest outputs of a task run or an execution, and the largest inputs,
    #: in bytes of compact JSON.
    max_payload_bytes: int = 1 << 20
    #: How long running task runs of a killed execution have to report KILLED
    #: before they are forced to it (microseconds).
    kill_deadline_us: int = 60_000_000


def rpc(fn: Callable[..., Awaitable[M]]) -> Callable[..., Awaitable[M]]:
    """Make a unary servicer method end with a rich status on a DomainError."""

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: Context) -> M:
        try:
            return await fn(self, request, context)
        except DomainError as error:
            await context.abort_with_status(rpc_status.to_status(status_for(error)))
            raise  # pragma: no cover - abort_with_status raises
        except StorageUnavailable as error:
            await context.abort_with_status(rpc_status.to_status(database_unavailable(error)))
            raise  # pragma: no cover - abort_with_status raises

    return wrapper


def fingerprint(method: str, request: Message) -> str:
    """A digest of a request's content without its request_id."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField("request_id")
    digest = hashlib.sha256(method.encode())
    digest.update(copy.SerializeToString(deterministic=True))
    return digest.hexdigest()


class Servicer:
    """Shared plumbing of the servicers."""

    def __init__(
        self, store: Store, limits: Limits, on_timers_changed: Callable[[], None] | None = None
    ) -> None:
        self.store = store
        self.limits = limits
        self.on_timers_changed = on_timers_changed or (lambda: None)

    async def mutate(
        self,
        method: str,
        request: Any,
        response_type: type[M],
        build: Callable[[Tx], M],
    ) -> M:
        """Run ``build`` in a write transaction, idempotently when request_id is set.

        The first response to a request_id is stored in the same transaction as
        the change; a repeat with the same content gets it back unchanged, a
        repeat with other content gets ALREADY_EXISTS (REQUEST_ID_REUSED).
        """
        request_id: str = request.request_id
        if not request_id:
            return await self.store.write(build)
        digest = fingerprint(method, request)

        def work(tx: Tx) -> M:
            stored = tx.get_request(request_id)
            if stored is not None:
                if stored.method != method or stored.fingerprint != digest:
                    raise RequestIdReused(request_id)
                return response_type.FromString(stored.response)
            response = build(tx)
            tx.put_request(request_id, method, digest, response.SerializeToString(), now_us())
            return response

        return await self.store.write(work)
