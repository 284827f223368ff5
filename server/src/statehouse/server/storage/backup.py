"""``statehouse backup``: a consistent online copy of a SQLite database.

The copy is made with SQLite's backup API (``sqlite3.Connection.backup``) a few
megabytes per step, inside one read transaction on the source: in WAL mode a
reader never blocks the server's writer, and every step reads the same
snapshot, so the copy is the database as it was when the backup began (every
change acknowledged before then, none of those committed during it) however
much the server writes meanwhile. It is written to a temporary file beside the
destination, checked (``PRAGMA quick_check``) and renamed into place, so a
failed backup leaves no partial file.

PostgreSQL has its own tools (pg_dump, pg_basebackup): a PostgreSQL URL is refused.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from .schema import EVENT_SEQUENCE

#: Pages copied per step (4 KiB pages: 16 MiB); progress is reported after each.
PAGES_PER_STEP = 4096

#: ``progress(copied_bytes, total_bytes)`` after each step.
Progress = Callable[[int, int], None]


class BackupError(Exception):
    """The backup cannot be made (the message says why and what to do)."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    """What was copied."""

    source: Path
    destination: Path
    bytes: int
    #: The last event sequence the copy holds (0: none yet).
    last_sequence: int


def sqlite_path(url: str) -> Path:
    """The file of a SQLite URL; BackupError for anything else."""
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        raise BackupError(
            "statehouse backup copies SQLite databases; for PostgreSQL use its own tools: "
            "pg_dump --format=custom (a consistent snapshot of one database, while the "
            "server runs) or pg_basebackup (the whole cluster, for point-in-time recovery)"
        )
    if backend != "sqlite":
        raise BackupError(f"unsupported database {backend!r}")
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"{url}: not a SQLite file")
    path = Path(database)
    if not path.is_file():
        raise BackupError(f"{path}: no such database file")
    return path


def backup_sqlite(
    url: str,
    destination: Path,
    *,
    force: bool = False,
    progress: Progress | None = None,
    pages_per_step: int = PAGES_PER_STEP,
) -> BackupResult:
    """Copy the SQLite database of ``url`` to ``destination`` (see the module docstring).

    Refuses to replace an existing ``destination`` unless ``force``.
    """
    source = sqlite_path(url)
    destination = Path(destination)
    if destination.exists() and not force:
        raise BackupError(f"{destination} exists: give --force to replace it")
    if destination.resolve() == source.resolve():
        raise BackupError(f"{destination} is the database itself")
    if not destination.parent.is_dir():
        raise BackupError(f"{destination.parent}: no such directory")
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    src = sqlite3.connect(source, isolation_level=None, timeout=30)
    try:
        # One read transaction for every step: the snapshot the whole copy is made of.
        src.execute("BEGIN")
        tables = {row[0] for row in src.execute("SELECT name FROM sqlite_master")}
        if "counters" not in tables:
            raise BackupError(f"{source}: not a Statehouse database")
        page_size = int(src.execute("PRAGMA page_size").fetchone()[0])
        with contextlib.closing(sqlite3.connect(partial)) as dst:

            def step(status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress((total - remaining) * page_size, total * page_size)

            src.backup(dst, pages=max(1, pages_per_step), progress=step)
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy does not check out: {check}")
            last = dst.execute(
                "SELECT value FROM counters WHERE name = ?", (EVENT_SEQUENCE,)
            ).fetchone()
        src.execute("COMMIT")
        os.replace(partial, destination)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot back up {source}: {exc}") from exc
    finally:
        src.close()
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return BackupResult(
        source=source,
        destination=destination,
        bytes=destination.stat().st_size,
        last_sequence=int(last[0]) if last else 0,
    )
