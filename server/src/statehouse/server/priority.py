"""Small calls first: the heavy lane steps aside while small calls are in flight.

The GIL is shared fairly between threads, so a thread busy with a large request
(decoding a 1 MiB Struct, encoding a 4 MiB page) would take about half the CPU
from the small calls beside it. Instead, the transport counts the small unary
calls in flight (:func:`small_call`, on the event loop), and the long loops of
work on the heavy lane call :func:`step_aside` now and then: while a small call
is in flight it sleeps (giving the GIL away) for up to ``MAX_WAIT`` seconds,
then goes on. Heavy work is slowed while small calls run, never starved.
Anywhere but on the heavy lane, :func:`step_aside` does nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator

#: The longest one step_aside waits for small calls to finish.
MAX_WAIT = 0.005
_NAP = 0.0002

_small = 0  # changed on the event loop only
_lane = threading.local()


def mark_heavy_lane() -> None:
    """The heavy lane's thread initializer."""
    _lane.heavy = True


# The current call's mark, in its task's context: [still counted as small].
_mark: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "statehouse_small_call", default=None
)


@contextlib.contextmanager
def small_call() -> Iterator[None]:
    """Mark a small call in flight, around its handler on the event loop."""
    global _small
    mark = [True]
    token = _mark.set(mark)
    _small += 1
    try:
        yield
    finally:
        if mark[0]:
            _small -= 1
        _mark.reset(token)


def small_calls() -> int:
    """How many small calls are in flight (read on the event loop: deliveries yield to them)."""
    return _small


def going_heavy() -> None:
    """The current call hands work to the heavy lane: it no longer counts as small."""
    global _small
    mark = _mark.get()
    if mark is not None and mark[0]:
        mark[0] = False
        _small -= 1


def step_aside() -> None:
    """On the heavy lane: let small calls in flight go first (for at most MAX_WAIT)."""
    if not _small or not getattr(_lane, "heavy", False):
        return
    deadline = time.monotonic() + MAX_WAIT
    while _small and time.monotonic() < deadline:
        time.sleep(_NAP)


@contextlib.contextmanager
def holding_locks() -> Iterator[None]:
    """No stepping aside meanwhile: a transaction holds locks that others may wait for."""
    was = getattr(_lane, "heavy", False)
    _lane.heavy = False
    try:
        yield
    finally:
        _lane.heavy = was
