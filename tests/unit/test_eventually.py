"""tests/eventually.py: the one way tests wait for a condition."""

from __future__ import annotations

import itertools

import pytest

from tests.eventually import NeverHeld, eventually, eventually_async


def test_it_returns_the_first_truthy_value() -> None:
    counter = itertools.count()
    assert eventually(lambda: next(counter) >= 3 and "done", step=0) == "done"


def test_it_tries_again_after_the_exceptions_it_is_told_of_and_only_those() -> None:
    tries = iter([KeyError("stale"), KeyError("stale"), "found"])

    def look() -> str:
        value = next(tries)
        if isinstance(value, Exception):
            raise value
        return value

    assert eventually(look, retry=(KeyError,), step=0) == "found"
    with pytest.raises(ValueError):
        eventually(lambda: int("x"), retry=(KeyError,), step=0)


def test_a_condition_that_never_holds_fails_naming_it_and_its_last_error() -> None:
    def look() -> bool:
        raise KeyError("the row")

    with pytest.raises(NeverHeld, match=r"not the row drawn within 0.05 s .*KeyError"):
        eventually(look, "the row drawn", within=0.05, step=0.01, retry=(KeyError,))


async def test_the_async_form_awaits_a_coroutine_condition() -> None:
    counter = itertools.count()

    async def ready() -> int:
        return max(0, next(counter) - 2)

    assert await eventually_async(ready, step=0) == 1
    with pytest.raises(NeverHeld, match="not never within"):
        await eventually_async(lambda: False, "never", within=0.05)
