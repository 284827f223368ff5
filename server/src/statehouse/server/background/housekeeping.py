"""Bounded data: expired request ids and old terminal executions, deleted in small batches.

Every ``interval`` seconds the housekeeper deletes, oldest first:

- **request-id records** older than ``request_id_ttl`` (``--request-id-ttl``,
  7 days). A repeat of an expired id is a new request whether or not its record
  is deleted yet (``Tx.get_request`` ignores an expired record, ``put_request``
  replaces it): the sweep only bounds the table.
- **terminal executions** whose last change is older than
  ``retention_executions`` (``--retention-executions``, off by default), with
  their task runs (attempts and outputs are columns of them), labels, timers,
  metrics and metric tags. Their events stay: the event log has its own
  retention (``--retention-events``, ``--retention-seconds``).

On PostgreSQL it also keeps the event log's partitions ahead of the head at
each sweep (``storage/partitions.py``), whatever the policy, in a transaction of
its own: one replica at a time, and nothing to do most of the time. And every
``compaction_interval`` seconds it applies the event log's retention
(``compact_log``: the hub's ``compact``, which knows the log's retention and
drops or deletes what it no longer keeps). One sweeper for everything that
bounds the stored data.

Each batch is one ordinary write through the store's group commit
(``request_batch`` records, ``execution_batch`` executions), so a writer waits
at most for one small batch, never for the whole sweep; the sweep goes on
batch after batch while they come back full. Several processes or replicas
may sweep at once: a record or execution is deleted by whichever gets it
first (PostgreSQL skips rows another transaction holds).
docs/design.md, "Health and retention".
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .. import clock
from ..loops import Every
from ..storage import StorageUnavailable, Store, Tx, partitions

log = logging.getLogger("statehouse.retention")

#: ``on_deleted(kind, count)``: kind is "request_ids" or "executions".
DeletedListener = Callable[[str, int], None]


@dataclass(frozen=True, slots=True)
class HousekeepingPolicy:
    """What to delete, and how much per transaction."""

    #: Seconds a request id is remembered (0: forever).
    request_id_ttl: float = 7 * 24 * 3600.0
    #: Seconds a terminal execution is kept after its last change (0: forever).
    retention_executions: float = 0.0
    #: How often to sweep (seconds).
    interval: float = 10.0
    #: How often the event log's retention is applied (seconds), when it has one.
    compaction_interval: float = 60.0
    #: Records, and executions, deleted per transaction.
    request_batch: int = 500
    execution_batch: int = 100


class Housekeeper:
    """Runs the sweeps of :class:`HousekeepingPolicy` in the background."""

    def __init__(
        self,
        store: Store,
        policy: HousekeepingPolicy,
        on_deleted: DeletedListener | None = None,
        compact_log: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        #: Applies the event log's retention (None: the log keeps everything).
        self.compact_log = compact_log
        self._next_compaction = 0.0
        self.on_deleted = on_deleted or (lambda kind, count: None)
        self._loop = Every(
            "statehouse-housekeeping",
            self._sweeps,
            policy.interval,
            what="the retention sweep",
            quiet=(StorageUnavailable,),  # in the store's outage log: again at the next sweep
        )
        #: Deleted by this process so far, by kind (for tests and logs).
        self.deleted = {"request_ids": 0, "executions": 0}
        #: The longest one batch's transaction took (seconds).
        self.longest_batch = 0.0

    @property
    def enabled(self) -> bool:
        return self.policy.request_id_ttl > 0 or self.policy.retention_executions > 0

    @property
    def partitioned(self) -> bool:
        """Whether there are partitions to keep ahead (PostgreSQL's event log)."""
        return self.store.database_backend == "postgresql"

    async def start(self) -> None:
        if self.enabled or self.partitioned or self.compact_log is not None:
            self._loop.start()

    async def close(self) -> None:
        await self._loop.close()

    async def _sweeps(self) -> None:
        if self.partitioned:
            await self.make_room()
        if self.enabled:
            await self.sweep()
        if self.compact_log is not None and time.monotonic() >= self._next_compaction:
            self._next_compaction = time.monotonic() + self.policy.compaction_interval
            await self.compact_log()

    async def make_room(self, *, wait: bool = False) -> partitions.Room:
        """The event log's partitions ahead of the head (PostgreSQL; elsewhere nothing).
        ``wait``: for another replica doing it, and for the locks (tests)."""
        room = await partitions.make_room_for_events(self.store, wait=wait)
        if room.created:
            log.info(
                "event log: %d partitions made ahead of the head%s",
                room.created,
                f" ({room.spilled} events were in the tail)" if room.spilled else "",
            )
        return room

    async def sweep(self) -> dict[str, int]:
        """Delete everything due now, batch by batch; return what was deleted, by kind."""
        now = clock.now_us()
        done = {"request_ids": 0, "executions": 0}
        policy = self.policy
        if policy.request_id_ttl > 0:
            before = now - int(policy.request_id_ttl * 1_000_000)
            fn = functools.partial(
                Tx.expire_requests, created_before_us=before, limit=policy.request_batch
            )
            done["request_ids"] = await self._batches("request_ids", fn, policy.request_batch)
        if policy.retention_executions > 0:
            before = now - int(policy.retention_executions * 1_000_000)
            count = functools.partial(
                _delete_terminal_executions, changed_before_us=before, limit=policy.execution_batch
            )
            done["executions"] = await self._batches("executions", count, policy.execution_batch)
        if any(done.values()):
            log.info(
                "retention: deleted %d expired request ids and %d terminal executions",
                done["request_ids"],
                done["executions"],
            )
        return done

    async def _batches(self, kind: str, fn: Callable[[Tx], int], full: int) -> int:
        total = 0
        while not self._loop.closed:
            started = time.perf_counter()
            deleted = await self.store.write(fn)
            self.longest_batch = max(self.longest_batch, time.perf_counter() - started)
            if deleted:
                total += deleted
                self.deleted[kind] += deleted
                self.on_deleted(kind, deleted)
            if deleted < full:
                break
            await asyncio.sleep(0)  # the writers queued meanwhile go first
        return total


def _delete_terminal_executions(tx: Tx, *, changed_before_us: int, limit: int) -> int:
    """How many terminal executions (at most ``limit``) unchanged since then were deleted."""
    return len(tx.delete_terminal_executions(changed_before_us=changed_before_us, limit=limit))
