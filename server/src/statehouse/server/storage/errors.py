"""What storage raises, and how a database's errors are told apart."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa


class StorageUnavailable(Exception):
    """The database cannot be reached (restarting, network): retry later."""


class BatchConflict(Exception):
    """The writes of a group commit cannot share their transaction (a deadlock
    with another replica, a conflict found when the kept changes were written):
    the store runs them again, one write per transaction."""


#: What SQLite says when its file cannot be used for now (its other operational
#: errors, a statement it cannot run, are the server's fault, not the database's).
_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o", "readonly", "full")


def is_unreachable(exc: sa.exc.DBAPIError) -> bool:
    """Whether ``exc`` says the database cannot be used for now (not a bad statement)."""
    if exc.connection_invalidated or isinstance(exc, sa.exc.InterfaceError):
        return True
    if not isinstance(exc, sa.exc.OperationalError):
        return False
    if type(exc.orig).__module__.startswith("sqlite3"):
        text = str(exc.orig).lower()
        return any(word in text for word in _SQLITE_UNAVAILABLE)
    return True


@contextlib.contextmanager
def unavailable_on_disconnect() -> Iterator[None]:
    """Turn a lost or refused database connection into :class:`StorageUnavailable`.

    The pool's pre-ping replaces dead connections, so the next call after the
    database is back works without a restart of the server.
    """
    try:
        yield
    except sa.exc.DBAPIError as exc:
        if is_unreachable(exc):
            raise StorageUnavailable(str(exc.orig)) from exc
        raise
