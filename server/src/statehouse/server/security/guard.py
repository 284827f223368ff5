"""The guard every call passes: who is calling, and may it do this here.

Transport-neutral: a transport hands over the ``authorization`` metadata, the
verified client-certificate subject and the peer, and the decoded request.
The rules are data (``access.RULES``); this applies them the same way to
every RPC:

1. the role (PERMISSION_DENIED, with the role needed; no lookup, so the answer
   says nothing of whether a resource exists);
2. a namespace named in the request (PERMISSION_DENIED outside the caller's);
3. executions and task runs named by id: one that does not exist or lies
   outside the caller's namespaces is NOT_FOUND, the same error the handler
   would raise for a missing one. Namespaces never change, so the id ->
   namespace lookups are cached, and the cache learns every execution and task
   run this server commits (from the events of its commits) before anyone asks.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from google.protobuf.message import Message

from ..orchestration import Event, NotFound, Unauthenticated
from ..storage import Store
from .access import OPEN, RULES, Principal, Rule
from .credentials import Authenticator

M = TypeVar("M")

_KINDS = {"executions": "execution", "task_runs": "task run"}


class Guard:
    """Authentication (when an authenticator is given) and authorization."""

    def __init__(
        self, store: Store, authenticator: Authenticator | None, *, cache_size: int = 100_000
    ) -> None:
        self.store = store
        self.authenticator = authenticator
        self._namespaces: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._cache_size = cache_size

    @property
    def enabled(self) -> bool:
        return self.authenticator is not None

    def watch(self, principal: Principal, lost: Callable[[], None]) -> Callable[[], None] | None:
        """Call ``lost`` when ``principal``'s credential stops authenticating
        (``Authenticator.watch``); None when there is nothing that could end
        (authentication off). Returns what stops watching."""
        if self.authenticator is None or not principal.identity:
            return None
        return self.authenticator.watch(principal, lost)

    def until_revoked(self, principal: Principal, items: AsyncIterator[M]) -> AsyncIterator[M]:
        """A stream's ``items``, ended with UNAUTHENTICATED once its caller's
        credential stops authenticating (revoked, expired, changed): an open
        stream keeps no right that a new call would not have."""
        if not self.enabled or not principal.identity:
            return items
        return _until_revoked(self, principal, items)

    @staticmethod
    def rule(method: str) -> Rule:
        """The rule of ``/pkg.Service/Method``; KeyError if it has none."""
        return RULES[method.lstrip("/")]

    def authenticate(self, authorization: str | None, subject: str | None, peer: str) -> Principal:
        if self.authenticator is None:
            if subject:
                # Authentication off, but mTLS verified who this is: record it.
                return Principal(f"cert:{subject}", subject, OPEN.role, OPEN.namespaces)
            return OPEN
        return self.authenticator.authenticate(authorization, subject, peer)

    async def authorize(self, method: str, request: Message, principal: Principal) -> None:
        if principal.unrestricted:
            return  # may do everything everywhere
        rule = self.rule(method)
        principal.check_role(rule.role, method.rsplit("/", 1)[-1])
        if rule.namespace:
            namespace = _field(request, rule.namespace)
            if namespace:
                principal.check_namespace(namespace, rule.namespace)
        if principal.scope == ():
            return
        for kind in ("executions", "task_runs"):
            for name in getattr(rule, kind):
                resource_id = _field(request, name)
                if resource_id:
                    await self._check_resource(_KINDS[kind], resource_id, principal)

    async def _check_resource(self, kind: str, resource_id: str, principal: Principal) -> None:
        key = (kind, resource_id)
        namespace = self._namespaces.get(key)
        if namespace is None:
            namespace = await self.store.read(lambda tx: tx.namespace_of(kind, resource_id))
            if namespace is not None:
                self._remember(key, namespace)
        if namespace is None or not principal.may_read(namespace):
            raise NotFound(kind, resource_id)

    def _remember(self, key: tuple[str, str], namespace: str) -> None:
        self._namespaces[key] = namespace
        if len(self._namespaces) > self._cache_size:
            self._namespaces.popitem(last=False)

    def learn(self, events: list[Event]) -> None:
        """A commit listener: the namespaces of what was just committed."""
        for event in events:
            self._remember(("execution", event.execution_id), event.namespace)
            if event.task_run_id:
                self._remember(("task run", event.task_run_id), event.namespace)


def _field(message: Any, path: str) -> str:
    for part in path.split("."):
        message = getattr(message, part)
    return str(message)


class _Revocation:
    """What a stream's credential watch did: fired, and whether to cancel now."""

    __slots__ = ("armed", "fired", "task")

    def __init__(self, task: asyncio.Task[Any] | None) -> None:
        self.task = task
        self.armed = False
        self.fired = False

    def lost(self) -> None:
        self.fired = True
        if self.armed and self.task is not None:
            self.task.cancel()  # waiting for the next item: wake it


async def _until_revoked(
    guard: Guard, principal: Principal, items: AsyncIterator[M]
) -> AsyncIterator[M]:
    # The task that reads this stream is cancelled only while it waits for the
    # stream's next item (a live subscription may wait long): a cancellation
    # that landed while the transport writes would end the call as CANCELLED.
    state = _Revocation(asyncio.current_task())
    stop = guard.watch(principal, state.lost)
    ended = Unauthenticated("the credentials of this stream were revoked or have expired")
    try:
        while True:
            if state.fired:
                raise ended
            state.armed = True
            try:
                item = await anext(items)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if state.fired and state.task is not None:
                    state.task.uncancel()
                    raise ended from None
                raise
            finally:
                state.armed = False
            yield item
    finally:
        if stop is not None:
            stop()
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()
