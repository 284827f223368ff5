"""Storage: SQLAlchemy Core tables, the Tx protocol, one backend per database,
group commit, the sequencer seam, migrations."""

from .errors import CommitOutcomeUnknown, DatabaseUrlError, StorageUnavailable
from .store import Store, StoreOptions, display_url
from .tx import StoredRequest, StoredTaskRun, Tx

__all__ = [
    "CommitOutcomeUnknown",
    "DatabaseUrlError",
    "StorageUnavailable",
    "Store",
    "StoreOptions",
    "StoredRequest",
    "StoredTaskRun",
    "Tx",
    "display_url",
]
