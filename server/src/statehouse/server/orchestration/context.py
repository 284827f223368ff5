"""What a rule may not draw for itself: new ids and randomness (and the time,
which a :class:`~.changes.ChangeSet` carries as ``now_us``).

The commands pass the server's own (``statehouse.server.clock``); left out, a
change set gets the deterministic ones below, so that the same inputs always
make the same change (tests, replays).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

#: Makes a new id (for a timer) each time it is called.
IdFactory = Callable[[], str]


def sequential_ids(prefix: str = "id-") -> IdFactory:
    """``prefix1``, ``prefix2``, ...: deterministic ids."""
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter)}"


def seeded_rng(seed: int = 0) -> random.Random:
    """A random source that repeats itself for the same seed."""
    return random.Random(seed)
