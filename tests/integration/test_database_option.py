"""``statehouse serve --database``: what cannot be used is refused in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest


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
def test_a_database_that_cannot_be_used_is_one_line(database: str, says: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "statehouse.server.app",
            "--address",
            "127.0.0.1:0",
            "--database",
            database,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1
    assert len(lines) == 1, done.stderr
    assert says in lines[0] and "secret" not in lines[0]
