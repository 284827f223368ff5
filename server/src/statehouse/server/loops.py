"""The one way the server runs work in the background: :class:`Every`.

A background loop (the timers, health's probe, the retention sweeps, the event
log's tail) runs one step at a time on the event loop: every ``interval``
seconds, sooner when woken (:meth:`Every.wake`: a local change that concerns
it), or after the wait its step asks for. A step that fails does not end the
loop: the errors in ``quiet`` (the database unreachable, which the store's
outage log reports once) wait for the next step silently, any other is logged
with its traceback. :meth:`Every.close` stops it, also in the middle of a step.

:func:`cancel_and_wait` is how anything of the server stops a task of its own:
it waits for the task to end, and does not swallow a cancellation of the
caller that arrives meanwhile (``contextlib.suppress(CancelledError)`` around
the wait would: the caller would go on as if nothing happened, past an
``asyncio.timeout`` or a test's teardown that cancelled it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("statehouse.server")

#: A step: it returns how long to wait before the next (None: the loop's interval).
Step = Callable[[], Awaitable[float | None]]


async def cancel_and_wait(task: asyncio.Future[Any] | None) -> None:
    """Cancel ``task`` and wait until it has ended; its CancelledError is
    expected, the caller's own (cancelled while waiting) is raised."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise


class Every:
    """``step()`` every ``interval`` seconds, or when woken, until closed.

    ``wait_first``: the first step comes after the first wait (a caller that ran
    it once already, or has nothing to do at start). ``what`` names the work in
    the log line of a failed step."""

    def __init__(
        self,
        name: str,
        step: Step,
        interval: float,
        *,
        what: str,
        wait_first: bool = False,
        quiet: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self.what = what
        self.wait_first = wait_first
        self.quiet = quiet
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.closed = False

    def start(self) -> None:
        if self._task is None and not self.closed:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    def wake(self) -> None:
        """Take the next step now (from the event loop)."""
        self._woken.set()

    async def close(self) -> None:
        self.closed = True
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        wait: float | None = self.interval if self.wait_first else 0.0
        while not self.closed:
            if wait:
                with contextlib.suppress(TimeoutError):
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow
                    # the cancellation that close() sends, and the loop would go on.
                    async with asyncio.timeout(wait):
                        await self._woken.wait()
            self._woken.clear()
            try:
                wait = await self.step()
            except self.quiet:
                wait = None
            except Exception:
                log.exception("%s failed", self.what)
                wait = None
            if wait is None:
                wait = self.interval
