"""What every servicer shares: the call, idempotency, limits."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from google.protobuf.message import Message

from .. import clock
from ..limits import MAX_PAYLOAD_BYTES
from ..orchestration import JsonObject, RequestIdReused
from ..security.access import OPEN, Principal
from ..security.guard import Guard
from ..storage import Store, Tx
from . import convert
from ._pages import PageTokens
from .validation import Payloads

M = TypeVar("M", bound=Message)
D = TypeVar("D")


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler knows of its call besides the request, whatever the transport."""

    #: ``/statehouse.v1.ExecutionService/GetExecution``.
    method: str
    #: What validation found: the request's payloads (inputs or outputs) as JSON.
    payloads: Payloads = field(default_factory=Payloads)
    #: A large request (``limits.OFFLOAD_REQUEST_BYTES``): its CPU-heavy work runs
    #: on the heavy lane (a worker thread), so that the event loop keeps serving other calls.
    heavy: bool = False
    #: Who is calling (``access.OPEN`` when authentication is off).
    principal: Principal = OPEN
    #: The guard that admitted the call: a handler that carries several requests
    #: (a batch) authorizes each of them with it (:meth:`authorize`).
    guard: Guard | None = None
    #: Response headers of a stream, sent when it is accepted: a streaming handler
    #: that is a plain function (not an async generator) sets them before it returns
    #: its iterator (EventService.Subscribe: where the stream starts).
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        """What the histories and events of this call's changes record."""
        return self.principal.actor

    @property
    def name(self) -> str:
        """The method's own name: ``GetExecution``."""
        return self.method.rsplit("/", 1)[-1]

    def item(self, method: str, payloads: Payloads, heavy: bool) -> Call:
        """The call of one item of a batch (``dataclasses.replace``'s result,
        without its introspection of the fields for every item)."""
        return Call(method, payloads, heavy, self.principal, self.guard, self.headers)

    def payload(self, name: str) -> JsonObject | None:
        """The request's Struct field ``name`` as JSON, None when unset."""
        return self.payloads.payload(name)

    async def authorize(self, method: str, request: Message) -> None:
        """Authorize ``request`` for this caller as a call of ``method`` would be."""
        if self.guard is not None:
            await self.guard.authorize(method, request, self.principal)
        elif self.principal != OPEN:  # fail closed: nobody to ask
            raise RuntimeError(f"{self.method}: no guard to authorize {method} with")


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what clients may store."""

    #: The largest outputs of a task run or an execution, and the largest inputs,
    #: in bytes of compact JSON.
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    #: How long running task runs of a killed execution have to report KILLED
    #: before they are forced to it (microseconds).
    kill_deadline_us: int = 60_000_000


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
        self,
        store: Store,
        limits: Limits,
        tokens: PageTokens,
    ) -> None:
        self.store = store
        self.limits = limits
        self.tokens = tokens

    async def mutate(
        self,
        call: Call,
        request: Any,
        response_type: type[M],
        work: Callable[[Tx], D],
        respond: Callable[[D], M],
        *,
        task_runs: Sequence[str] = (),
    ) -> bytes:
        """Run ``work`` in a write transaction, then ``respond`` with its result
        (see :meth:`plan`): the response, encoded where the transaction committed
        (SQLite's writer process or thread, off the event loop; the transports
        send the bytes as they are), a heavy call's on the heavy lane."""
        fn, finish = self.plan(call, request, response_type, work, respond)
        answer = functools.partial(encoded, finish)
        if call.heavy and finish is respond:
            done = await self.store.write(fn, heavy=True, task_runs=task_runs)
            return await self.store.run_heavy(answer, done)
        return await self.store.write(fn, heavy=call.heavy, task_runs=task_runs, answer=answer)

    def plan(
        self,
        call: Call,
        request: Any,
        response_type: type[M],
        work: Callable[[Tx], D],
        respond: Callable[[D], M],
    ) -> tuple[Callable[[Tx], Any], Callable[[Any], M]]:
        """What a mutating call runs in its transaction, and what builds its
        response from that once committed.

        The response is built after the commit, outside the write transaction.
        With a request_id it is built inside instead, to be stored in the same
        transaction as the change: a repeat with the same content gets it back
        unchanged, a repeat with other content gets ALREADY_EXISTS
        (REQUEST_ID_REUSED), until the record expires (``--request-id-ttl``,
        7 days): a repeat after that is a new request. Request ids are scoped to the caller: another
        caller's id is another key, and a stored response goes back only to the
        caller that made it.
        """
        request_id: str = request.request_id
        if not request_id:
            return work, respond
        method = call.name
        caller = call.principal.identity
        digest = fingerprint(method, request)
        ttl_us = int(self.store.options.request_id_ttl * 1_000_000)

        fn = functools.partial(
            _idempotent,
            work=work,
            respond=respond,
            response_type=response_type,
            caller=caller,
            request_id=request_id,
            method=method,
            digest=digest,
            ttl_us=ttl_us,
        )
        return fn, _built


def _idempotent(
    tx: Tx,
    *,
    work: Callable[[Tx], D],
    respond: Callable[[D], M],
    response_type: type[M],
    caller: str,
    request_id: str,
    method: str,
    digest: str,
    ttl_us: int,
) -> M:
    """``work`` with a request_id (see :meth:`Servicer.plan`): a repeat gets the
    stored response, the first call stores its own in the same transaction."""
    # A record older than --request-id-ttl is expired: the call is new.
    not_before = clock.now_us() - ttl_us if ttl_us > 0 else 0
    stored = tx.get_request(caller, request_id, not_before_us=not_before)
    if stored is not None:
        if stored.method != method or stored.fingerprint != digest:
            raise RequestIdReused(request_id)
        return response_type.FromString(stored.response)
    response = respond(work(tx))
    tx.put_request(caller, request_id, method, digest, convert.encode(response), clock.now_us())
    return response


def _built(response: M) -> M:
    return response


def encoded(respond: Callable[[D], Message], done: D) -> bytes:
    """The response ``respond`` builds from ``done``, encoded (a write's answer)."""
    return convert.encode(respond(done))
