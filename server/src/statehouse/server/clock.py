"""The server's clock, ids and chance: the one place they are drawn.

The orchestration rules never read the clock, make ids or roll dice
themselves: the commands draw them here and hand them to the rules (with the
:class:`~statehouse.server.orchestration.ChangeSet`), so the rules are
deterministic in tests (see ``docs/design.md`` §"Orchestration").
"""

from __future__ import annotations

import random
import time
import uuid

#: The randomness of the server's decisions (a random retry interval).
RNG = random.Random()


def now_us() -> int:
    """The server's clock, in microseconds since the epoch (UTC)."""
    return time.time_ns() // 1_000


_SYSTEM_NOW_US = now_us


def replaced() -> bool:
    """Whether a test replaced :func:`now_us` in this process. Such a clock does not
    reach another process: SQLite's writer process (``storage/writer_process.py``),
    which draws its own times, is then not used, and the writes run here."""
    return now_us is not _SYSTEM_NOW_US


def new_id() -> str:
    """A new id for an execution, a task run or a timer."""
    return str(uuid.uuid4())
