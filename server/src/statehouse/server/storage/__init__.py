"""Storage: SQLAlchemy Core tables, the repository, the sequencer seam, migrations."""

from .repository import EventFilter, ExecutionFilter, StoredRequest, Tx
from .store import StorageUnavailable, Store, StoreOptions

__all__ = [
    "EventFilter",
    "ExecutionFilter",
    "StorageUnavailable",
    "Store",
    "StoreOptions",
    "StoredRequest",
    "Tx",
]
