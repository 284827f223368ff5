"""``statehouse backup``: a consistent copy of a SQLite database taken while the
server runs and writes; refusals (an existing file, PostgreSQL)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from statehouse.v1 import state_pb2 as st

from .conftest import Running, Stubs
from .helpers import create, move, task_run


def backup(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "statehouse.cli", "backup", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
async def sqlite_server(tmp_path: Path, server_factory: object, database_url: str) -> Running:
    if not database_url.startswith("sqlite"):
        pytest.skip("statehouse backup copies SQLite databases")
    running: Running = await server_factory()  # type: ignore[operator]
    return running


async def test_a_backup_under_load_holds_every_change_acknowledged_before_it(
    sqlite_server: Running, database_url: str, tmp_path: Path
) -> None:
    stubs = Stubs(sqlite_server.target)
    #: execution id -> the revision of its last acknowledged change.
    acknowledged: dict[str, int] = {}
    stop, enough = asyncio.Event(), asyncio.Event()

    async def writer(n: int) -> None:
        while not stop.is_set():
            ex = await create(stubs, flow_id=f"w{n}")
            acknowledged[ex.id] = ex.revision
            tr = await task_run(stubs, ex.id)
            moved = await move(stubs, tr.id, st.STATE_RUNNING)
            acknowledged[ex.id] = moved.execution_revision
            if len(acknowledged) >= 150:
                enough.set()

    try:
        writers = [asyncio.create_task(writer(n)) for n in range(4)]
        await asyncio.wait_for(enough.wait(), 60)
        # What was acknowledged before the backup starts (writers keep going meanwhile).
        before = dict(acknowledged)
        copy = tmp_path / "copy.db"
        loop = asyncio.get_running_loop()
        # 8 pages per step: the copy takes many steps while the writers commit.
        argv = ("--database", database_url, "--to", str(copy), "--step-pages", "8")
        result = await loop.run_in_executor(None, backup, *argv)
        stop.set()
        await asyncio.gather(*writers)
        assert result.returncode == 0, result.stderr
        assert "backed up" in result.stdout
        assert result.stdout.count("\n") == 1
    finally:
        await stubs.channel.close()
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = dict(conn.execute("SELECT id, revision FROM executions").fetchall())
        sequence = conn.execute("SELECT value FROM counters").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    missing = [i for i, revision in before.items() if stored.get(i, -1) < revision]
    assert not missing, f"{len(missing)} acknowledged changes are not in the copy"
    assert events == sequence > 0  # the log is whole: no event without its change


async def test_backup_refuses_to_replace_a_file_unless_forced(
    sqlite_server: Running, database_url: str, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.db"
    copy.write_text("keep me")
    refused = await asyncio.to_thread(backup, "--database", database_url, "--to", str(copy))
    assert refused.returncode == 1
    assert "exists: give --force" in refused.stderr
    assert copy.read_text() == "keep me"
    forced = await asyncio.to_thread(
        backup, "--database", database_url, "--to", str(copy), "--force"
    )
    assert forced.returncode == 0, forced.stderr
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"


def test_backup_of_postgresql_points_at_pg_dump(tmp_path: Path) -> None:
    result = backup("--database", "postgresql://localhost/statehouse", "--to", str(tmp_path / "x"))
    assert result.returncode == 1
    assert "pg_dump" in result.stderr and "pg_basebackup" in result.stderr
    assert not (tmp_path / "x").exists()
