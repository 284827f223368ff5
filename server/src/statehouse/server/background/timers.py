"""Fires durable timers: pause delays and timeouts, kill deadlines.

Timers live in the database with the change that set them, so they survive a
restart and fire on whichever process is up. Firing one is a transaction that
deletes it and applies its effect together: a timer cancelled by a manual
resume is gone and cannot fire, and of two processes racing for a timer only
the one whose delete succeeds applies it.
"""

from __future__ import annotations

import functools
import logging

from .. import clock, commands
from ..loops import Every
from ..orchestration import TimerKind
from ..storage import StorageUnavailable, Store, Tx

log = logging.getLogger("statehouse.timers")


class TimerScheduler:
    """Polls for due timers (and wakes early when a local change sets one)."""

    def __init__(self, store: Store, *, kill_deadline_us: int, poll_interval: float = 0.25) -> None:
        self.store = store
        self.kill_deadline_us = kill_deadline_us
        self.poll_interval = poll_interval
        self._loop = Every(
            "statehouse-timers",
            self.fire_due,
            poll_interval,
            what="firing timers",
            quiet=(StorageUnavailable,),  # in the store's outage log: again soon
        )
        #: Timers fired by this process (for tests and logs).
        self.fired = 0
        #: Timers waiting in the database by kind, counted when /metrics is scraped.
        self._pending: dict[str, int] = {}
        metrics = store.metrics
        self._fired = {kind: metrics.timers_fired.labels(kind.value) for kind in TimerKind}
        metrics.set_gauge(
            "statehouse_timers_pending",
            lambda: {(kind.value,): self._pending.get(kind.value, 0) for kind in TimerKind},
        )
        metrics.add_refresher(self._count_pending)

    async def _count_pending(self) -> None:
        self._pending = await self.store.read(Tx.count_timers)

    async def start(self) -> None:
        self._loop.start()

    def wake(self) -> None:
        """A local change set a timer: look again now."""
        self._loop.wake()

    async def close(self) -> None:
        await self._loop.close()

    async def fire_due(self) -> float:
        """Fire every due timer; return how long to sleep before looking again."""
        while True:
            now = clock.now_us()
            due = await self.store.read(functools.partial(Tx.due_timers, now_us=now, limit=100))
            for timer in due:
                fired = await self.store.write(
                    functools.partial(
                        commands.fire_timer, timer=timer, kill_deadline_us=self.kill_deadline_us
                    )
                )
                if fired:
                    self.fired += 1
                    self._fired[TimerKind(timer.kind)].inc()
                    log.info(
                        "timer %s fired: %s %s on execution %s",
                        timer.id,
                        timer.kind,
                        timer.action,
                        timer.execution_id,
                    )
            if len(due) < 100:
                break
        next_due = await self.store.read(Tx.next_timer_due)
        if next_due is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, (next_due - clock.now_us()) / 1e6))
