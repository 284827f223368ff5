"""Storage: SQLAlchemy Core tables, the Tx (``tx/``, one module per concern) and its
read-only ReadTx, one backend per database, group commit, the sequencer seam,
migrations."""

from .errors import CommitOutcomeUnknown, DatabaseUrlError, StorageUnavailable
from .options import StoreOptions
from .store import Store, display_url
from .tx import ReadTx, StoredRequest, StoredTaskRun, Tx

__all__ = [
    "CommitOutcomeUnknown",
    "DatabaseUrlError",
    "ReadTx",
    "StorageUnavailable",
    "Store",
    "StoreOptions",
    "StoredRequest",
    "StoredTaskRun",
    "Tx",
    "display_url",
]
