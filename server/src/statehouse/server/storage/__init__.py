"""Storage: SQLAlchemy Core tables, the Tx protocol, one backend per database,
group commit, the sequencer seam, migrations."""

from .errors import StorageUnavailable
from .store import Store, StoreOptions, display_url
from .tx import StoredRequest, StoredTaskRun, Tx

__all__ = [
    "StorageUnavailable",
    "Store",
    "StoreOptions",
    "StoredRequest",
    "StoredTaskRun",
    "Tx",
    "display_url",
]
