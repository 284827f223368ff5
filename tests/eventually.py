"""Waiting in tests: poll a condition until it holds, within a bound that only stops a
test that would otherwise hang (never a measure of speed: no wall-clock assertions).

``eventually`` is for synchronous tests, ``eventually_async`` for coroutines (its
condition may be a coroutine function). Both return the condition's first truthy
value, and fail with ``what`` and the last exception the condition raised, if any.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

#: The default bound (seconds): generous, for a machine loaded by other work.
TIMEOUT = 30.0


class NeverHeld(AssertionError):
    """The condition did not hold within the bound."""


def _failure(what: str, within: float, last: BaseException | None) -> NeverHeld:
    text = f"not {what or 'true'} within {within:g} s"
    if last is not None:
        text += f" (last error: {last!r})"
    return NeverHeld(text)


def eventually(
    condition: Callable[[], T],
    what: str = "",
    *,
    within: float = TIMEOUT,
    step: float = 0.02,
    retry: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``condition`` until it returns something truthy; return that.

    Exceptions of the types in ``retry`` count as "not yet" (a stale browser
    element, a connection refused while a server starts); any other propagates."""
    deadline = time.monotonic() + within
    last: BaseException | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except retry as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise _failure(what, within, last)
        time.sleep(step)


async def eventually_async(
    condition: Callable[[], T | Awaitable[T]],
    what: str = "",
    *,
    within: float = TIMEOUT,
    step: float = 0.01,
    retry: tuple[type[BaseException], ...] = (),
) -> T:
    """:func:`eventually` on the event loop: ``condition`` may return an awaitable,
    and the loop runs between tries (``step`` 0: at its next turn)."""
    deadline = time.monotonic() + within
    last: BaseException | None = None
    while True:
        try:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value  # type: ignore[return-value]
        except retry as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise _failure(what, within, last)
        await asyncio.sleep(step)
