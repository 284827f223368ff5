"""Claims waiting for work (ClaimTaskRuns with ``wait``), woken by the events
that may make a task run ready.

The event hub hands every batch it accepts to :meth:`WorkWaiters.offer`: the
batches of this process's commits and those it reads from the log, that
other replicas committed (NOTIFY on PostgreSQL, the file's ``data_version``
on SQLite): so a claim waiting on one replica wakes when work is created on
any. A waiter registers before its claim's transaction and waits after it, so
a commit in between is not missed; a waiter woken in vain (labels are not in
events) claims nothing and waits again. No polling: a claim sleeps until
woken, until a retry falls due by the clock (the claim's own answer says
when), or until its bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from ..orchestration import Event
from ..orchestration.filters import TaskRunFilter


class WorkWaiters:
    """The claims waiting on this process, each with its filter."""

    def __init__(self) -> None:
        self._waiting: dict[asyncio.Future[None], TaskRunFilter] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def any_waiting(self) -> bool:
        """Whether a claim waits here (the hub then needs other processes' events)."""
        return bool(self._waiting)

    def offer(self, batch: list[Event]) -> None:
        """A batch of committed events (on the loop): wake the claims it may serve."""
        if not self._waiting:
            return
        for future, flt in list(self._waiting.items()):
            if not future.done() and any(flt.may_make_ready(e) for e in batch):
                future.set_result(None)

    @contextmanager
    def waiting(self, flt: TaskRunFilter) -> Iterator[asyncio.Future[None]]:
        """A future that completes when work ``flt`` selects may have become ready."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[future] = flt
        try:
            yield future
        finally:
            del self._waiting[future]
            future.cancel()
