"""What storage raises, and how a database's errors are told apart."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa


class StorageUnavailable(Exception):
    """The database cannot be reached (restarting, network): retry later."""


class CommitOutcomeUnknown(StorageUnavailable):
    """The connection was lost, or the commit's time ran out, after COMMIT was
    sent: the change may or may not be stored. A retry with the same request_id
    returns the stored outcome (or does the change, if it was not made)."""


class DatabaseUrlError(ValueError):
    """A database URL Statehouse cannot use (said in one line, the password hidden)."""


class BatchConflict(Exception):
    """The writes of a group commit cannot share their transaction (a deadlock
    with another replica, a conflict found when the kept changes were written):
    the store runs them again, one write per transaction."""


#: What SQLite says when its file cannot be used for now (its other operational
#: errors, a statement it cannot run, are the server's fault, not the database's).
_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o", "readonly", "full")


#: SQLSTATEs that say the server cannot take writes for now, not that a statement
#: is wrong: a read-only transaction (a standby, or a primary being demoted).
_PG_UNAVAILABLE = {"25006"}


def is_unreachable(exc: sa.exc.DBAPIError) -> bool:
    """Whether ``exc`` says the database cannot be used for now (not a bad statement)."""
    if exc.connection_invalidated or isinstance(exc, sa.exc.InterfaceError):
        return True
    if getattr(exc.orig, "sqlstate", None) in _PG_UNAVAILABLE:
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

    The pool replaces dead connections (PostgreSQL: one idle for a second is
    pinged first, and all of them once one is found lost), so the calls after
    the database is back work without a restart of the server.
    """
    try:
        yield
    except sa.exc.DBAPIError as exc:
        if is_unreachable(exc):
            raise StorageUnavailable(str(exc.orig)) from exc
        raise
