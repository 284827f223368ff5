"""The Tx: every query Statehouse makes, inside one transaction, one module per concern.

A :class:`Tx` wraps a SQLAlchemy connection whose transaction the
:class:`~statehouse.server.storage.store.Store` opens and commits. Commands
load domain objects through it, let the rules decide, and hand the resulting
:class:`~statehouse.server.orchestration.ChangeSet` to ``Tx.save``, the one
write path for every state change: rows and events go into the same
transaction (the transactional outbox: docs/design.md, "Invariants").

Queries get a :class:`ReadTx`: the same object at run time, a type without a
single write, so that a query that writes does not type-check (like etcd's
read and write transactions). Each concern is a pair of classes, its reads
and its writes, in a module of its own:

- ``core.py``: what every part shares: the connection, the rows seen, the
  kept changes with the journal that undoes one write of a batch, and the
  write-back that writes them, one statement per kind of row;
- ``executions.py``: executions and task runs read; ``changes.py``: locked,
  changed (``save``) and deleted;
- ``events.py``: the event log, appended at commit, read, compacted;
- ``timers.py``, ``claims.py`` (workers' claims and leases), ``metrics.py``,
  ``requests.py`` (idempotency), ``credentials.py`` (credentials, secrets,
  the namespace of a resource).

The classes combine by inheritance, resolved once per class: a call costs
what it cost when all of this was one class (the hot path: docs/design.md,
"Storage").
"""

from __future__ import annotations

from .changes import ExecutionWrites
from .claims import ClaimWrites
from .credentials import CredentialReads, CredentialWrites
from .events import EVENTS_CHANNEL, EventReads, EventWrites
from .executions import ExecutionReads, StoredTaskRun
from .metrics import MetricReads, MetricWrites
from .requests import RequestWrites, StoredRequest
from .timers import TimerReads, TimerWrites


class ReadTx(ExecutionReads, EventReads, TimerReads, MetricReads, CredentialReads):
    """A read transaction: queries, the event log's readers, the scheduler's look
    at its timers. It has no method that writes."""


class Tx(
    ReadTx,
    ExecutionWrites,
    EventWrites,
    TimerWrites,
    MetricWrites,
    ClaimWrites,
    RequestWrites,
    CredentialWrites,
):
    """A write transaction: every read, and the writes of every concern.

    Backends subclass it for what differs between databases (row locks, the
    notification of commits, an insert that ignores conflicts).
    """


__all__ = ["EVENTS_CHANNEL", "ReadTx", "StoredRequest", "StoredTaskRun", "Tx"]
