"""The event log as a transaction sees it: reading it, and appending to it.

Events are queued by ``append_events`` (the core's) and given their sequences
all at once by :meth:`EventWrites.flush_events`, the last statement before
commit (docs/design.md, "Storage": the sequencer). Compaction deletes a
prefix of the log, by sequence.
"""

from __future__ import annotations

import sqlalchemy as sa

from ...orchestration import Event
from ...orchestration.filters import EventFilter
from .. import codec
from ..hot import Hot
from ..schema import EVENT_SEQUENCE, counters, events
from ..scope import in_scope
from .core import TxCore

#: The PostgreSQL channel on which commits of events are announced.
EVENTS_CHANNEL = "statehouse_events"

_HOT_INSERT_EVENTS = Hot(sa.insert(events))
_SELECT_LAST_SEQUENCE = sa.select(counters.c.value).where(counters.c.name == EVENT_SEQUENCE)
_SELECT_NEWEST_EVENT = sa.select(sa.func.max(events.c.sequence))


class EventReads(TxCore):
    """Reads of the event log."""

    def read_events(
        self,
        after: int,
        *,
        limit: int,
        upto: int | None = None,
        flt: EventFilter | None = None,
    ) -> list[Event]:
        """Events with ``after < sequence <= upto`` matching ``flt``, in order."""
        query = sa.select(events).where(events.c.sequence > after)
        if upto is not None:
            query = query.where(events.c.sequence <= upto)
        if flt is not None:
            if flt.scope:
                query = query.where(in_scope(events.c.namespace, flt.scope))
            if flt.namespace:
                query = query.where(events.c.namespace == flt.namespace)
            if flt.flow_id:
                query = query.where(events.c.flow_id == flt.flow_id)
            if flt.execution_ids:
                query = query.where(events.c.execution_id.in_(sorted(flt.execution_ids)))
            if flt.states:
                query = query.where(events.c.state.in_(sorted(s.value for s in flt.states)))
        query = query.order_by(events.c.sequence).limit(limit)
        return [codec.event_from_row(r) for r in self.conn.execute(query).mappings()]

    def first_available_sequence(self) -> int:
        """The oldest sequence still in the log (or the next one, if the log is empty)."""
        first = self.conn.execute(sa.select(sa.func.min(events.c.sequence))).scalar_one()
        return int(first) if first is not None else self.last_sequence() + 1

    def read_events_page(
        self,
        after: int,
        *,
        limit: int,
        upto: int | None = None,
        flt: EventFilter | None = None,
    ) -> tuple[list[Event], int]:
        """A page of :meth:`read_events`, then the first available sequence.

        Read in this order so that a compaction between the two statements can
        only make the caller see a compacted cursor, never miss events silently.
        """
        page = self.read_events(after, limit=limit, upto=upto, flt=flt)
        return page, self.first_available_sequence()

    def compaction_cutoff(self, *, keep_last: int, older_than_us: int | None) -> int:
        """The last sequence the retention deletes (0: none): all but the newest
        ``keep_last``, and the longest prefix of events older than ``older_than_us``.

        The prefix ends before the oldest event that is not old: found from the
        oldest event on, it reads what is to be deleted, not the whole log kept,
        and never deletes an event younger than the limit (commit times of two
        replicas may disagree slightly with the order of their sequences).
        """
        last = self.last_sequence()
        cutoff = 0
        if keep_last > 0:
            cutoff = max(cutoff, last - keep_last)
        oldest = None if older_than_us is None else self._oldest_sequence()
        if oldest is not None:
            young = self.conn.execute(
                sa.select(events.c.sequence)
                .where(events.c.time_us >= older_than_us)
                .order_by(events.c.sequence)
                .limit(1)
            ).scalar()
            if young is None:  # every event is old
                young = int(self.conn.execute(_SELECT_NEWEST_EVENT).scalar_one()) + 1
            if young > oldest:
                cutoff = max(cutoff, int(young) - 1)
        return min(cutoff, last)

    def _oldest_sequence(self) -> int | None:
        oldest = self.conn.execute(sa.select(sa.func.min(events.c.sequence))).scalar()
        return None if oldest is None else int(oldest)

    def last_sequence(self) -> int:
        """The newest committed sequence (the counter: it survives compaction)."""
        return int(self.conn.execute(_SELECT_LAST_SEQUENCE).scalar_one())


class EventWrites(EventReads):
    """Appending to the event log (at commit), and compacting it."""

    def finish(self) -> list[Event]:
        """The end of a write transaction: write what is kept, then the events
        (:meth:`flush_events`); return the transaction's events, in the list
        :attr:`appended`. A backend may send these statements with its COMMIT
        instead (PostgreSQL's pipeline: ``postgres.py``); the events then get their
        sequences, in the same list, once it has committed."""
        self.flush()
        self.flush_events()
        return self.appended

    def flush_events(self) -> list[Event]:
        """Give the queued events their sequences and store them (last thing
        before commit: the sequence row stays locked until then); return them."""
        new_events, self.pending = self.pending, []
        if not new_events:
            return []
        first = self._sequencer.allocate(self.conn, len(new_events))
        for offset, event in enumerate(new_events):
            event.sequence = first + offset
        _HOT_INSERT_EVENTS.many(self.conn, [codec.event_row(e) for e in new_events])
        self._announce(new_events[-1].sequence)
        self.appended.extend(new_events)
        return new_events

    def _announce(self, last_sequence: int) -> None:
        """Tell other processes that events up to ``last_sequence`` commit with
        this transaction (where the database can: PostgreSQL's NOTIFY)."""

    def compact_events(self, *, keep_last: int, older_than_us: int | None) -> int:
        """Delete the oldest events beyond the retention; return the last deleted sequence.

        Only a prefix of the log is ever deleted (by sequence), so retention by age
        cannot leave holes where commit times and sequences disagree slightly.
        On PostgreSQL the partitions below the cutoff are dropped before, in a
        transaction of their own (``partitions.drop_expired``): what is left to
        delete here is the boundary partition's rows.
        """
        self._immediate()
        cutoff = self.compaction_cutoff(keep_last=keep_last, older_than_us=older_than_us)
        if cutoff > 0:
            self.conn.execute(sa.delete(events).where(events.c.sequence <= cutoff))
        return cutoff
