"""One log of the database's outages: a line when one starts, a line when it ends.

Everything that talks to the database in the background (the event hub's
tailer, the timers, the sweeps, the credentials' reload, health, PostgreSQL's
NOTIFY listener) and the store's own transactions report here instead of
logging each failure: a database restart would otherwise write thousands of
lines and a traceback per retry, for a condition that is expected and retried.

An outage starts with the first failure of any source and ends once every
source that failed during it has succeeded again; its end says how long it
lasted and how many attempts failed, by source.
"""

from __future__ import annotations

import logging
import threading
import time

_MAX_REASON = 300


def reason(error: BaseException | str) -> str:
    """``error`` on one line: a driver's several lines joined, at most 300 characters."""
    text = error if isinstance(error, str) else str(error) or type(error).__name__
    text = "; ".join(part.strip() for part in text.splitlines() if part.strip())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


class OutageLog:
    """Failures and recoveries of the database, by source (thread-safe)."""

    def __init__(self, logger: logging.Logger, subject: str = "the database") -> None:
        self.log = logger
        self.subject = subject
        self._lock = threading.Lock()
        #: The sources failing now (an outage is under way while any is).
        self._failing: set[str] = set()
        self._counts: dict[str, int] = {}
        self._started = 0.0
        #: Outages seen since start (for tests and the metrics).
        self.outages = 0

    @property
    def ongoing(self) -> bool:
        return bool(self._failing)

    def failed(self, source: str, error: BaseException | str) -> None:
        """An attempt of ``source`` failed for a reason of the database's."""
        with self._lock:
            if not self._failing and not self._counts:
                self._started = time.monotonic()
                self.outages += 1
                self.log.warning(
                    "%s is unavailable (%s: %s); retrying, the end of the outage is logged",
                    self.subject,
                    source,
                    reason(error),
                )
            self._failing.add(source)
            self._counts[source] = self._counts.get(source, 0) + 1

    def ok(self, source: str) -> None:
        """An attempt of ``source`` succeeded (cheap when nothing is failing)."""
        if not self._failing:
            return
        with self._lock:
            if source not in self._failing:
                return
            self._failing.discard(source)
            if self._failing:
                return
            counts, self._counts = self._counts, {}
            total = sum(counts.values())
            by_source = ", ".join(f"{name} {count:,}" for name, count in sorted(counts.items()))
            self.log.warning(
                "%s is available again after %.1f s (%s failed attempt%s: %s)",
                self.subject,
                time.monotonic() - self._started,
                f"{total:,}",
                "" if total == 1 else "s",
                by_source,
            )
