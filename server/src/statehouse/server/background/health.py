"""What health reports: whether this process can serve, service by service.

A probe every ``interval`` seconds (off the request path) reads the event
sequence through the store, a query as cheap as ``SELECT 1``, bounded by
``timeout``. From it and from the event hub the monitor keeps three facts:

- **database**: the last probe succeeded, and writes commit: a write that
  found the database unreachable, or no commit within ``--commit-timeout`` (a
  primary waiting for a synchronous standby that is gone), turns it off at
  once, and only a write probe that commits (``Store.probe_write``, tried
  every ``interval`` from then on) turns it back on, with the next good read;
- **migrated**: the schema is at the latest migration (checked until it is;
  with ``--processes N`` the parent migrates before the processes start);
- **caught up**: the hub's head has reached the sequence the previous probe
  read, so the log tailer (PostgreSQL's NOTIFY listener, SQLite's
  ``data_version`` watcher, the poll behind both) is following the log.

*Ready* means all three. The whole server ("") and the EventService are
SERVING when ready; the ExecutionService, MetricService and AdminService need
the database and the schema only (their calls do not go through the hub). The
status goes to ``publish(service, serving)`` only when it changes; the app
hands it to the one grpc health servicer that both ports serve (gRPC Health,
Connect Health and ``GET /healthz``). docs/design.md, "Health and retention".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ..events import EventHub
from ..loops import Every, cancel_and_wait
from ..storage import StorageUnavailable, Store, Tx

log = logging.getLogger("statehouse.health")

#: The service whose calls read the event hub (its status needs the tailer too).
EVENT_SERVICE = "statehouse.v1.EventService"


@dataclass(frozen=True, slots=True)
class Facts:
    """What the last probe found."""

    database: bool = False
    migrated: bool = False
    caught_up: bool = False

    @property
    def ready(self) -> bool:
        return self.database and self.migrated and self.caught_up

    def serving(self, service: str) -> bool:
        """Whether ``service`` ("" for the whole server) can serve."""
        if service in ("", EVENT_SERVICE):
            return self.ready
        return self.database and self.migrated


class HealthMonitor:
    """Probes the database and the hub; publishes each service's status when it changes."""

    def __init__(
        self,
        store: Store,
        hub: EventHub,
        services: Sequence[str],
        publish: Callable[[str, bool], Awaitable[None]],
        *,
        interval: float = 1.0,
        timeout: float = 2.0,
    ) -> None:
        self.store = store
        self.hub = hub
        self.services = ("", *services)
        self.publish = publish
        self.interval = interval
        self.timeout = timeout
        self.facts = Facts()
        self._published: dict[str, bool] = {}
        self._target = 0
        self._loop = Every(
            "statehouse-health",
            self._probe_step,
            interval,
            what="the health probe",
            wait_first=True,
        )
        self._closed = False
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        #: False from a failed write until a write probe commits.
        self.writes_commit = True
        self._write_probe: asyncio.Task[None] | None = None
        store.add_unavailable_listener(self._write_failed)

    async def start(self) -> None:
        """Probe once and publish, then keep probing."""
        await self.probe()
        self._loop.start()

    async def close(self) -> None:
        self._closed = True
        await self._loop.close()
        await cancel_and_wait(self._write_probe)

    async def probe(self) -> Facts:
        """Look now: update the facts and publish what changed."""
        database, migrated = False, self.facts.migrated
        last = self._target
        try:
            async with asyncio.timeout(self.timeout):
                last = await self.store.read(Tx.last_sequence)
                if not migrated:
                    loop = asyncio.get_running_loop()
                    migrated = await loop.run_in_executor(None, self.store.schema_is_current)
            database = True
            self.store.outage.ok("health probe")
        except StorageUnavailable:  # in the store's outage log already
            pass
        except TimeoutError:
            self.store.outage.failed("health probe", f"no answer within {self.timeout:g} s")
        except Exception as exc:  # anything else: not serving
            self.store.outage.failed("health probe", exc)
        database = database and self.writes_commit
        caught_up = database and self.hub.head >= self._target and not self.hub.closed
        self._target = last
        self.facts = Facts(database, migrated, caught_up)
        await self._publish()
        return self.facts

    def _write_failed(self) -> None:
        """A write found the database unreachable, or did not commit in time:
        NOT_SERVING now, until a write probe commits."""
        if self._closed:
            return
        self.writes_commit = False
        if self.facts.database:
            self.facts = Facts(False, self.facts.migrated, False)
            task = asyncio.get_running_loop().create_task(self._publish())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self._write_probe is None or self._write_probe.done():
            self._write_probe = asyncio.get_running_loop().create_task(
                self._probe_writes(), name="statehouse-health-writes"
            )

    async def _probe_writes(self) -> None:
        """Write until a write commits (each bounded like every write), then probe."""
        while not self._closed:
            try:
                await self.store.probe_write()
            except StorageUnavailable:  # in the store's outage log
                await asyncio.sleep(self.interval)
                continue
            except Exception:
                log.exception("health's write probe failed")
                await asyncio.sleep(self.interval)
                continue
            self.writes_commit = True
            self._loop.wake()
            return

    async def _publish(self) -> None:
        async with self._lock:
            for service in self.services:
                serving = self.facts.serving(service)
                if self._published.get(service) != serving and not self._closed:
                    self._published[service] = serving
                    await self.publish(service, serving)

    async def _probe_step(self) -> None:
        await self.probe()
