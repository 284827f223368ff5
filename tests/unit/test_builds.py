"""tests/builds.py: what several tests build is built once per run, by whichever
worker asks first; a failed build leaves nothing, and the next one tries again."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests import builds
from tests.conftest import SHARED


@pytest.fixture(autouse=True)
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(SHARED, str(tmp_path))
    return tmp_path


def test_callers_at_once_share_one_build() -> None:
    calls: list[Path] = []

    def build(out: Path) -> None:
        calls.append(out)
        time.sleep(0.2)  # the others arrive meanwhile and wait for it
        (out / "made").write_text("once")

    got: list[Path] = []
    threads = [
        threading.Thread(target=lambda: got.append(builds.shared_build("thing", build)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(set(got)) == 1 and (got[0] / "made").read_text() == "once"
    assert builds.shared_build("thing", build) == got[0] and len(calls) == 1


def test_a_failed_build_leaves_nothing_and_the_next_caller_builds_again() -> None:
    def broken(out: Path) -> None:
        (out / "half").write_text("written")
        raise RuntimeError("the compiler failed")

    with pytest.raises(RuntimeError, match="the compiler failed"):
        builds.shared_build("thing", broken)
    assert not (builds.shared_directory() / "builds" / "thing").exists()

    def fixed(out: Path) -> None:
        (out / "made").write_text("at last")

    out = builds.shared_build("thing", fixed)
    assert (out / "made").read_text() == "at last"
    assert not (out / "half").exists()
