"""``statehouse serve --database``: what cannot be used is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from statehouse.server import testing as launcher


@pytest.mark.parametrize(
    ("database", "says"),
    [
        ("mysql://app:secret@db/statehouse", "Statehouse stores on SQLite or PostgreSQL"),
        ("not a url", "is not a database URL"),
        ("postgresql+psycopg://app@db1:5432,db2:port/statehouse", "is not HOST or HOST:PORT"),
        # Nothing listens on port 1: the database cannot be reached at start.
        ("postgresql+psycopg://app@127.0.0.1:1/statehouse", "cannot use the database"),
    ],
)
def test_a_database_that_cannot_be_used_is_one_line(
    database: str, says: str, tmp_path: Path
) -> None:
    server = launcher.ServerProcess(["--database", database], log_path=tmp_path / "server.log")
    with pytest.raises(launcher.ServerExited):
        server.start()
    lines = server.logs().strip().splitlines()
    assert server.proc is not None and server.proc.returncode == 1
    assert len(lines) == 1, server.logs()
    assert says in lines[0] and "secret" not in lines[0]
