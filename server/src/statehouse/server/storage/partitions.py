"""The event log's partitions on PostgreSQL (docs/design.md, "The event log at scale").

On PostgreSQL ``events`` is partitioned by range of ``sequence`` (native
declarative partitioning; migration 0008 converts an existing log without
copying it: the old table becomes the first partition). By sequence, not by
time, because everything that touches the log goes by sequence: a read is
``sequence > cursor ORDER BY sequence``, pruned to the partitions at and after
the cursor and read in their order on their primary keys; retention, by count
and by age alike, deletes a prefix of sequences (:meth:`Tx.compaction_cutoff`),
so what it empties is whole leading partitions. The primary key stays
``sequence`` alone. Partitions by time would prune no read by sequence, would
need the time in the primary key, and could not be dropped without leaving
holes where two replicas' clocks disagree with the order of their sequences.

**No insert ever lacks its partition.** The last partition, ``events_tail``,
runs to MAXVALUE: whatever the sequencer hands out has a place. The bounded
partitions are kept at least one partition's width ahead of the head
(:func:`make_room`, by the housekeeper every few seconds on every replica, and
by the migration), so that the tail stays empty: making room detaches the
tail, attaches it again bounded (empty, so at once), creates the next bounded
partitions and a new tail, in one transaction. Should the head ever outrun it
(a stalled housekeeper), the tail takes the events meanwhile and is bounded
around them the next time: late, never an error. There is no DEFAULT
partition: every read after a cursor would scan it, and it would keep the
partitions from being read in order (``min(sequence)`` would probe them all).

**Dropped by retention.** :func:`drop_expired` drops every partition whose
last sequence is at or below the retention's cutoff, lowest first, so the log
loses only a prefix; the boundary partition's old rows are then deleted row
by row, as on SQLite (``EventHub.compact``). When the drop cannot lock
``events`` in time, the compaction waits for its next round rather than delete
whole partitions row by row in a group commit.

**Locks.** Detaching the tail and dropping a partition take an ACCESS
EXCLUSIVE lock on ``events`` (reads and inserts wait), for the few
milliseconds of a catalog change, once per partition's width of events. Each
waits at most ``LOCK_TIMEOUT`` for it (everything queues behind a waiting
lock), and otherwise gives up until the next try: the tail takes the events
meanwhile, and retention is one round late. Both run in
transactions of their own, never in a group commit: a batch holding that lock
while it waits for the sequence row could deadlock with another replica's.
Replicas take turns under advisory locks; whoever finds the lock taken skips.

The width of new partitions is a row of ``counters``
(``event_partition_width``, 1,000,000 events by default: an UPDATE changes
it for the partitions made from then on).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import sqlalchemy as sa

from .schema import EVENT_SEQUENCE, counters, events

if TYPE_CHECKING:
    from .store import Store
    from .tx import Tx

T = TypeVar("T")
U = TypeVar("U")

#: The ``counters`` row holding the width (in sequences) of new partitions.
WIDTH_COUNTER = "event_partition_width"
DEFAULT_WIDTH = 1_000_000
#: Bounded partitions are named after their lower bound: events_p0000000000001000000.
PREFIX = "events_p"
TAIL = "events_tail"
#: Advisory lock keys (transaction scope): making room, dropping.
ROOM_LOCK = 0x5747_4850
DROP_LOCK = 0x5747_4851
#: How long a change of the partitions waits for its lock on ``events``.
LOCK_TIMEOUT = "200ms"

_BOUND = re.compile(r"FOR VALUES FROM \((.+?)\) TO \((.+?)\)")
_LIST = sa.text(
    "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) "
    "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = to_regclass('events')"
)
_KIND = sa.text("SELECT relkind FROM pg_class WHERE oid = to_regclass('events')")
_LAST = sa.select(counters.c.value).where(counters.c.name == EVENT_SEQUENCE)


@dataclass(frozen=True, slots=True)
class Partition:
    """One partition of ``events``: sequences ``lower <= s < upper`` (None: unbounded)."""

    name: str
    lower: int | None
    upper: int | None


@dataclass(frozen=True, slots=True)
class Room:
    """What :func:`make_room` did: partitions created, events the tail held."""

    created: int = 0
    spilled: int = 0


def partition_name(lower: int) -> str:
    return f"{PREFIX}{lower:019d}"


def _bound(text: str) -> int | None:
    text = text.strip().strip("'")
    return None if text in ("MINVALUE", "MAXVALUE") else int(text)


def list_partitions(conn: sa.Connection) -> list[Partition] | None:
    """The range partitions of ``events``, lowest first; None if it is not partitioned."""
    if conn.execute(_KIND).scalar() != "p":
        return None
    found = []
    for name, expression in conn.execute(_LIST):
        match = _BOUND.search(expression or "")
        if match is None:  # a DEFAULT partition: none of ours
            continue
        found.append(Partition(name, _bound(match.group(1)), _bound(match.group(2))))
    found.sort(key=lambda p: -(2**63) if p.lower is None else p.lower)
    return found


def width(conn: sa.Connection) -> int:
    """The width of the partitions made from now on."""
    value = conn.execute(
        sa.select(counters.c.value).where(counters.c.name == WIDTH_COUNTER)
    ).scalar()
    return max(1, int(value)) if value is not None else DEFAULT_WIDTH


def _try_lock(conn: sa.Connection, key: int) -> bool:
    return bool(conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(key))).scalar())


def _lock_timeout(conn: sa.Connection) -> None:
    # For this transaction only (it does nothing else).
    conn.execute(sa.select(sa.func.set_config("lock_timeout", LOCK_TIMEOUT, True)))


def _lock_not_available(exc: sa.exc.DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == "55P03"


def _attach(conn: sa.Connection, name: str, lower: int | None, upper: int | None) -> None:
    low = "MINVALUE" if lower is None else str(lower)
    high = "MAXVALUE" if upper is None else str(upper)
    conn.exec_driver_sql(
        f"ALTER TABLE events ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})"
    )


def _create(conn: sa.Connection, name: str, lower: int | None, upper: int | None) -> None:
    """A table like ``events``, then attached (its indexes made by the attachment;
    ``CREATE TABLE ... PARTITION OF`` would lock ``events`` against everything)."""
    conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE events INCLUDING DEFAULTS)")
    _attach(conn, name, lower, upper)


def _rename(conn: sa.Connection, old: str, new: str) -> None:
    """Rename a partition and its indexes (so the next tail's have their plain names)."""
    indexes = conn.execute(
        sa.text(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = to_regclass(:table)"
        ),
        {"table": old},
    ).scalars()
    for index in list(indexes):
        if index.startswith(old):
            conn.exec_driver_sql(f"ALTER INDEX {index} RENAME TO {new}{index[len(old) :]}")
    conn.exec_driver_sql(f"ALTER TABLE {old} RENAME TO {new}")


def needs_room(conn: sa.Connection) -> bool:
    """Whether the head is within a partition's width of the tail (or has reached it)."""
    partitions = list_partitions(conn)
    if not partitions or partitions[-1].name != TAIL or partitions[-1].lower is None:
        return partitions is not None
    last = int(conn.execute(_LAST).scalar_one())
    return last + width(conn) >= partitions[-1].lower


def make_room(conn: sa.Connection, *, wait: bool = False) -> Room:
    """Bounded partitions to at least a partition's width beyond the head, then the
    tail (see the module docstring); nothing if not needed, if ``events`` is not
    partitioned, or if another replica is at it. ``wait``: wait for the other
    replica and for the locks (tests, tools), rather than skip or give up after
    ``LOCK_TIMEOUT`` (raising then)."""
    if not needs_room(conn):
        return Room()
    if wait:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(ROOM_LOCK)))
    elif not _try_lock(conn, ROOM_LOCK):
        return Room()
    else:
        _lock_timeout(conn)
    if not needs_room(conn):  # made meanwhile by the replica that held the lock
        return Room()
    partitions = list_partitions(conn) or []
    size = width(conn)
    tail = partitions[-1] if partitions and partitions[-1].name == TAIL else None
    spilled = 0
    if tail is not None:
        # From here no event is inserted until this transaction ends: the head is final.
        conn.exec_driver_sql(f"ALTER TABLE events DETACH PARTITION {TAIL}")
        top = tail.lower if tail.lower is not None else 0
        stats = conn.execute(sa.text(f"SELECT count(*), max(sequence) FROM {TAIL}")).one()
        spilled = int(stats[0])
        bound = top + size
        while spilled and bound <= int(stats[1]):
            bound += size
        name = partition_name(top)
        _rename(conn, TAIL, name)
        _attach(conn, name, tail.lower, bound)
        created, top = 1, bound
    else:  # the log's first partitions, or a layout without a tail: extend the top
        created = 0
        top = partitions[-1].upper if partitions and partitions[-1].upper is not None else 0
    last = int(conn.execute(_LAST).scalar_one())
    while top <= last + size:
        _create(conn, partition_name(top), top, top + size)
        created, top = created + 1, top + size
    _create(conn, TAIL, top, None)
    return Room(created, spilled)


def drop_expired(tx: Tx, *, keep_last: int, older_than_us: int | None) -> tuple[int, int]:
    """Drop the partitions that retention empties entirely; return the last
    sequence they held and how many events they held ((0, 0) if none).

    Lowest first and only whole partitions at or below the cutoff, so that the
    log keeps a suffix; nothing if another replica is dropping. Raises
    lock_not_available if ``events`` cannot be locked within ``LOCK_TIMEOUT``.
    """
    conn = tx.conn
    partitions = list_partitions(conn)
    if not partitions or not _try_lock(conn, DROP_LOCK):
        return 0, 0
    cutoff = tx.compaction_cutoff(keep_last=keep_last, older_than_us=older_than_us)
    doomed = []
    for partition in partitions[:-1]:  # never the tail (nor the newest, whatever it is)
        if partition.upper is None or partition.upper - 1 > cutoff:
            break
        doomed.append(partition)
    if not doomed:
        return 0, 0
    first = conn.execute(sa.select(sa.func.min(events.c.sequence))).scalar()
    _lock_timeout(conn)
    for partition in doomed:
        conn.exec_driver_sql(f"DROP TABLE {partition.name}")
    through = doomed[-1].upper
    assert through is not None
    through -= 1
    count = max(0, through - int(first) + 1) if first is not None else 0
    return through, count


async def _own_transaction(store: Store, fn: Callable[[Tx], T], otherwise: U) -> T | U:
    """``fn`` in a transaction of its own, outside group commit; ``otherwise`` if it
    could not take its lock on ``events`` in time."""
    try:
        return await store.backend.transaction(fn, write=True, heavy=False)
    except sa.exc.OperationalError as exc:
        if _lock_not_available(exc):
            return otherwise
        raise


async def drop_expired_partitions(
    store: Store, *, keep_last: int, older_than_us: int | None
) -> tuple[int, int] | None:
    """:func:`drop_expired` in a transaction of its own (PostgreSQL; elsewhere
    nothing); None if ``events`` could not be locked in time."""
    if store.database_backend != "postgresql":
        return 0, 0
    fn = functools.partial(drop_expired, keep_last=keep_last, older_than_us=older_than_us)
    return await _own_transaction(store, fn, None)


async def make_room_for_events(store: Store, *, wait: bool = False) -> Room:
    """:func:`make_room` in a transaction of its own (PostgreSQL; elsewhere nothing)."""
    if store.database_backend != "postgresql":
        return Room()

    def run(tx: Tx) -> Room:
        return make_room(tx.conn, wait=wait)

    return await _own_transaction(store, run, Room())
