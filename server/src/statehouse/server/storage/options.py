"""StoreOptions: the tuning of the storage, a value of its own (the settings
build it, the store and both backends read it, nothing else is needed to
make one)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoreOptions:
    """Tuning of the storage; the defaults suit the embedded SQLite file."""

    #: SQLite's synchronous pragma. NORMAL in WAL mode survives a crash of the
    #: process (kill -9); FULL also survives a power loss, at an fsync per commit.
    sqlite_synchronous: str = "NORMAL"
    #: How long a SQLite writer waits for another process's write lock.
    sqlite_busy_timeout_ms: int = 10_000
    #: SQLite: how often (seconds) a thread looks at the file's change counter to find
    #: other processes' commits (0: only the hub's poll finds them).
    sqlite_change_poll_interval: float = 0.015
    #: Run SQLite's write transactions on a thread of their own rather than on
    #: the event loop: while one batch commits, the loop goes on taking calls,
    #: which queue up for the next batch.
    sqlite_write_thread: bool = True
    #: Run SQLite's write transactions in a process of their own, which the
    #: writer thread hands each batch to (``writer_process.py``): a second
    #: interpreter lock, so that the transactions and the event loop's work
    #: use two cores. A file database only.
    sqlite_writer_process: bool = False
    #: Connections for writes and for reads (PostgreSQL's pool; SQLite's reader threads).
    writers: int = 4
    readers: int = 4
    #: Group commit: the most writes one transaction carries.
    group_commit_max: int = 100
    #: How long the committer waits for more writes before a batch that is not
    #: full (seconds; 0: take what has queued up, the batches grow with the load).
    group_commit_window: float = 0.0
    #: Batches in flight at once on a database server (SQLite has one writer).
    #: More than one can deadlock batches of one replica on shared executions.
    group_commit_concurrency: int = 1
    #: How long a request_id is remembered (seconds): a repeat after that is a
    #: new request (0: forever). The sweep (``background/housekeeping.py``) deletes expired records.
    request_id_ttl: float = 7 * 24 * 3600.0
    #: PostgreSQL: how long a write may take from its arrival to its commit
    #: (seconds; 0: no bound). See "Bounded writes" in the module docstring.
    commit_timeout: float = 10.0
