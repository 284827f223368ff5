"""Storage: SQLAlchemy Core tables, the repository, the sequencer seam, migrations."""

from .repository import EventFilter, ExecutionFilter, StoredRequest, Tx
from .store import Store, StoreOptions

__all__ = ["EventFilter", "ExecutionFilter", "Store", "StoreOptions", "StoredRequest", "Tx"]
