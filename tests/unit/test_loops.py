"""loops.Every: the one helper of the server's background loops."""

from __future__ import annotations

import asyncio
import logging

import pytest

from statehouse.server.loops import Every, cancel_and_wait
from tests.eventually import eventually_async


class Unreachable(Exception):
    pass


async def test_it_steps_at_once_then_every_interval_or_when_woken() -> None:
    steps: list[str] = []

    async def step() -> None:
        steps.append("step")

    loop = Every("t", step, 3600, what="stepping")
    loop.start()
    await eventually_async(lambda: steps == ["step"], step=0)
    loop.wake()
    await eventually_async(lambda: len(steps) == 2, step=0)
    await asyncio.sleep(0.01)
    assert len(steps) == 2  # the interval is an hour: nothing without a wake
    await loop.close()
    assert loop.closed


async def test_a_step_says_how_long_to_wait_and_wait_first_waits_first() -> None:
    times: list[float] = []
    clock = asyncio.get_running_loop().time

    async def step() -> float:
        times.append(clock())
        return 0.0 if len(times) < 3 else 3600.0

    loop = Every("t", step, 0.01, what="stepping", wait_first=True)
    started = clock()
    loop.start()
    await eventually_async(lambda: len(times) == 3, step=0)
    assert times[0] >= started + 0.01  # waited first
    await loop.close()


async def test_failures_do_not_end_it_and_only_unexpected_ones_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcomes: list[BaseException | None] = [Unreachable(), ValueError("bad"), None]

    async def step() -> float:
        outcome = outcomes.pop(0) if outcomes else None
        if outcome is not None:
            raise outcome
        return 3600.0

    loop = Every("t", step, 0.001, what="the sweep", quiet=(Unreachable,))
    with caplog.at_level(logging.ERROR, logger="statehouse.server"):
        loop.start()
        await eventually_async(lambda: not outcomes, step=0)
        await loop.close()
    failures = [r for r in caplog.records if "the sweep failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert isinstance(failures[0].exc_info[1], ValueError)


async def test_close_stops_it_in_the_middle_of_a_step() -> None:
    entered = asyncio.Event()

    async def step() -> None:
        entered.set()
        await asyncio.sleep(3600)

    loop = Every("t", step, 1, what="stepping")
    loop.start()
    await asyncio.wait_for(entered.wait(), 30)
    await asyncio.wait_for(loop.close(), 30)


async def test_cancel_and_wait_ends_the_task_and_returns() -> None:
    task = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.cancelled()
    await cancel_and_wait(None)  # nothing started: nothing to do


async def test_cancel_and_wait_raises_when_its_caller_is_cancelled_meanwhile() -> None:
    """The caller cancelled while the task is still ending is cancelled too: it
    does not go on as if it had not been (what suppress(CancelledError) did)."""
    ending = asyncio.Event()

    async def slow_to_end() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            ending.set()
            await asyncio.sleep(3600)  # its cleanup takes long
            raise

    after: list[str] = []

    async def stopper(task: asyncio.Task[None]) -> None:
        await cancel_and_wait(task)
        after.append("went on")

    task = asyncio.create_task(slow_to_end())
    await asyncio.sleep(0)
    caller = asyncio.create_task(stopper(task))
    await ending.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert caller.cancelled()
    assert after == []
    assert task.done()
