"""A stuck test ends the worker with a report instead of hanging the run.

pytest-timeout's signal method raises its failure in whatever Python code the
main thread runs when the alarm comes. When that is a callback of an asyncio
event loop, the loop swallows it (``Handle._run`` logs every BaseException but
two), and a test whose loop waits forever for a task that ignores its
cancellation (the runner's ``_cancel_all_tasks`` at teardown) hangs the run.

pytest-timeout times the test function alone (``timeout_func_only`` in
pyproject.toml); the watchdog, a timer thread per test, times its setup, call
and teardown together, and is the only bound of its fixtures.
When it runs out it writes to stderr, past pytest's capture (the run's output
shows it, as it shows a crashed worker), the stack of every thread and of
every unfinished asyncio task (found through the garbage collector, as the
loop belongs to the stuck thread), then ends the process: pytest-xdist
reports the test as crashed and goes on with a new worker."""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import io
import os
import sys
import threading
import traceback
from typing import Any

#: Granted past pytest-timeout's own limit before the watchdog ends the worker.
GRACE = float(os.environ.get("STATEHOUSE_WATCHDOG_GRACE", "60"))


def report(what: str) -> str:
    """The stacks of every thread and every unfinished task, as text."""
    out = io.StringIO()
    out.write(f"=== watchdog: {what} (pid {os.getpid()}) ===\n")
    frames = sys._current_frames()
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or -1)
        out.write(f"--- thread {thread.name} (daemon={thread.daemon})\n")
        if frame is not None:
            out.write("".join(traceback.format_stack(frame)))
    tasks = [t for t in gc.get_objects() if isinstance(t, asyncio.Task) and not t.done()]
    out.write(f"--- {len(tasks)} unfinished asyncio task(s)\n")
    for task in tasks:
        out.write(f"{task!r} cancelling={task.cancelling()}\n")
        for frame in task.get_stack():
            out.write("".join(traceback.format_stack(frame, limit=1)))
    return out.getvalue()


def expire(what: str, capture: Any) -> None:
    text = report(what)
    if capture is not None:  # pytest's capture holds fds 1 and 2 during a test
        with contextlib.suppress(Exception):
            capture.suspend_global_capture(in_=True)
            out, err = capture.read_global_capture()
            text += f"--- the test's captured stdout\n{out}--- its captured stderr\n{err}"
    sys.stderr.write(text)
    sys.stderr.flush()
    faulthandler.dump_traceback(all_threads=True)
    os._exit(70)


class Watchdog:
    """``arm(what, seconds)`` before a stretch of work, ``disarm()`` after it."""

    def __init__(self, capture: Any = None) -> None:
        self.capture = capture  # pytest's CaptureManager, to write past it
        self.timer: threading.Timer | None = None

    def arm(self, what: str, seconds: float) -> None:
        self.disarm()
        self.timer = threading.Timer(seconds, expire, (what, self.capture))
        self.timer.daemon = True
        self.timer.name = "test watchdog"
        self.timer.start()

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
