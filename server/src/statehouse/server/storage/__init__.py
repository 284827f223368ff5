"""Storage: SQLAlchemy Core tables, the Tx protocol, one backend per database,
group commit, the sequencer seam, migrations."""

from .errors import StorageUnavailable
from .store import Store, StoreOptions
from .tx import EventFilter, ExecutionFilter, StoredRequest, Tx

__all__ = [
    "EventFilter",
    "ExecutionFilter",
    "StorageUnavailable",
    "Store",
    "StoreOptions",
    "StoredRequest",
    "Tx",
]
