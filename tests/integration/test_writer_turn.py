"""The writers' turn on a SQLite file (storage/sqlite.py, ``WriterTurn``): a
writer takes the turn before the file's write lock and gives it back after its
commit; a turn held too long is passed by, never waited on for ever.

The test holds the turn through a descriptor of its own, as another server
process on the same file would (``flock`` locks belong to open files, so two
opens in one process exclude each other as two processes do).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from statehouse.server import commands
from statehouse.server.storage import Store, Tx
from statehouse.server.storage.options import StoreOptions

from ..eventually import eventually, eventually_async

pytestmark = pytest.mark.timeout(120)


def _create(tx: Tx) -> str:
    return commands.create_execution(tx, commands.NewExecution("ns", "flow")).id


@contextlib.contextmanager
def _store(path: Path, **options: object) -> Iterator[Store]:
    store = Store(f"sqlite:///{path}", StoreOptions(**options))  # type: ignore[arg-type]
    store.migrate()
    try:
        yield store
    finally:
        store.close()


@contextlib.contextmanager
def _held_turn(path: Path) -> Iterator[None]:
    """Hold ``path``'s turn as another process would, until the block ends."""
    fd = os.open(f"{path}-turn", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)


def _turn_is_free(path: Path) -> bool:
    fd = os.open(f"{path}-turn", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _write_lock_is_free(path: Path) -> bool:
    """Whether SQLite's write lock on ``path`` can be taken at once."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False
    else:
        conn.execute("ROLLBACK")
        return True
    finally:
        conn.close()


async def test_a_write_waits_for_its_turn_and_goes_when_it_is_given_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "statehouse.db"
    with _store(path) as store:
        await store.write(_create)  # the turn file exists from the first write on
        with _held_turn(path):
            write = asyncio.ensure_future(store.write(_create))
            await asyncio.sleep(0.5)
            # Waiting for the turn, before SQLite's lock: the lock is free meanwhile.
            assert not write.done()
            assert _write_lock_is_free(path)
        created = await asyncio.wait_for(write, 30)
        assert created
        await store.aclose()


async def test_the_turn_is_held_from_before_the_transaction_to_after_its_commit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "statehouse.db"
    inside = threading.Event()
    go_on = threading.Event()

    def slow(tx: Tx) -> str:
        inside.set()
        go_on.wait(30)
        return _create(tx)

    with _store(path) as store:
        write = asyncio.ensure_future(store.write(slow))
        await eventually_async(inside.is_set, "the write running")
        assert not _turn_is_free(path)
        go_on.set()
        await asyncio.wait_for(write, 30)
        assert _turn_is_free(path)
        await store.aclose()


async def test_a_failed_write_gives_its_turn_back(tmp_path: Path) -> None:
    path = tmp_path / "statehouse.db"

    def fails(tx: Tx) -> None:
        _create(tx)
        raise RuntimeError("the write fails")

    with _store(path) as store:
        with pytest.raises(RuntimeError, match="the write fails"):
            await store.write(fails)
        assert _turn_is_free(path)
        # Nothing of the failed write was kept; the next write goes at once.
        assert await asyncio.wait_for(store.write(_create), 30)
        await store.aclose()


async def test_a_turn_held_too_long_is_passed_by_and_the_given_up_wait_ends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A holder that never gives the turn back (a stopped process) holds no writer
    for longer than SQLite's busy timeout: the writer writes without its turn,
    and the wait it gave up does not keep the turn once it comes."""
    path = tmp_path / "statehouse.db"
    caplog.set_level(logging.WARNING, "statehouse.storage")
    with _store(path, sqlite_busy_timeout_ms=300) as store:
        await store.write(_create)
        with _held_turn(path):
            assert await asyncio.wait_for(store.write(_create), 30)
            assert "writing without it" in caplog.text
        # The given-up wait takes the turn once it is free, and gives it back.
        eventually(lambda: _turn_is_free(path), "the turn free again")
        caplog.clear()
        assert await asyncio.wait_for(store.write(_create), 30)
        assert "writing without it" not in caplog.text
        await store.aclose()


async def test_a_turn_file_that_cannot_be_opened_leaves_writes_to_sqlite_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "statehouse.db"
    os.mkdir(f"{path}-turn")  # opening it for writing fails
    caplog.set_level(logging.WARNING, "statehouse.storage")
    with _store(path) as store:
        first = await asyncio.wait_for(store.write(_create), 30)
        second = await asyncio.wait_for(store.write(_create), 30)
        assert first != second
        assert caplog.text.count("no writers' turn") == 1
        await store.aclose()


def test_two_stores_on_one_file_take_turns_and_lose_no_write(tmp_path: Path) -> None:
    """Two stores, as two processes, each with its writer taking the turn: every
    write of both commits."""
    path = tmp_path / "statehouse.db"
    created: list[str] = []

    async def writes(store: Store) -> None:
        for _ in range(100):
            created.append(await store.write(_create))
        await store.aclose()

    with _store(path) as a, _store(path) as b:

        def run(store: Store) -> None:
            asyncio.run(writes(store))

        threads = [threading.Thread(target=run, args=(s,)) for s in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads)
    assert len(set(created)) == 200
    conn = sqlite3.connect(path)
    try:
        stored = {row[0] for row in conn.execute("SELECT id FROM executions")}
    finally:
        conn.close()
    assert stored == set(created)
