"""The heavy lane steps aside for small calls: decisions, not timings."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from statehouse.server import priority


@pytest.fixture
def naps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    taken: list[float] = []
    monkeypatch.setattr(priority.time, "sleep", taken.append)
    return taken


def on_heavy_lane(fn: object) -> object:
    with ThreadPoolExecutor(1, initializer=priority.mark_heavy_lane) as lane:
        return lane.submit(fn).result(timeout=10)  # type: ignore[arg-type]


def test_nothing_waits_without_small_calls(naps: list[float]) -> None:
    on_heavy_lane(priority.step_aside)
    assert naps == []


def test_off_the_heavy_lane_nothing_waits(naps: list[float]) -> None:
    with priority.small_call():
        priority.step_aside()
        threading.Thread(target=priority.step_aside).start()
    assert naps == []


def test_the_heavy_lane_naps_while_a_small_call_is_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    napped = threading.Event()
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        napped.set()
        threading.Event().wait(0.001)

    monkeypatch.setattr(priority, "MAX_WAIT", 60.0)
    monkeypatch.setattr(priority.time, "sleep", nap)
    with ThreadPoolExecutor(1, initializer=priority.mark_heavy_lane) as lane:
        with priority.small_call():
            stepping = lane.submit(priority.step_aside)
            assert napped.wait(10)
            assert not stepping.done()
        # The small call has ended: the lane goes on.
        stepping.result(timeout=10)
    assert naps


def test_stepping_aside_is_bounded(naps: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 10_000))
    monkeypatch.setattr(priority.time, "monotonic", lambda: next(clock) * 0.001)
    with priority.small_call():
        on_heavy_lane(priority.step_aside)
    # 5 ms of naps at most (the fake clock advances 1 ms a look).
    assert 0 < len(naps) <= priority.MAX_WAIT / 0.001


def test_a_call_that_goes_heavy_stops_counting_as_small(naps: list[float]) -> None:
    with priority.small_call():
        priority.going_heavy()
        priority.going_heavy()
        on_heavy_lane(priority.step_aside)
    assert naps == []
    assert priority._small == 0


def test_no_stepping_aside_while_holding_locks(naps: list[float]) -> None:
    def in_transaction() -> None:
        with priority.holding_locks():
            priority.step_aside()

    with priority.small_call():
        on_heavy_lane(in_transaction)
    assert naps == []
