"""Metrics: counters and timers of task run attempts, and time buckets for aggregates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .. import limits
from .errors import InvalidArgument

MAX_BUCKETS = limits.MAX_BUCKETS

COUNTER = "counter"
TIMER = "timer"


@dataclass(slots=True)
class MetricEntry:
    """One reported metric; a timer's value is in seconds."""

    name: str
    type: str
    value: float
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """Entries of one attempt with the same key combine."""
        return (self.name, self.type, tuple(sorted(self.tags.items())))


@dataclass(slots=True)
class Metric:
    """A stored metric."""

    id: int
    execution_id: str
    task_run_id: str
    task_id: str
    attempt: int
    namespace: str
    flow_id: str
    name: str
    type: str
    description: str
    tags: dict[str, str]
    value: float
    time_us: int


def combine(entries: list[MetricEntry]) -> list[MetricEntry]:
    """Entries with the same name, type and tags add up (first description kept)."""
    combined: dict[tuple[str, str, tuple[tuple[str, str], ...]], MetricEntry] = {}
    for e in entries:
        seen = combined.get(e.key)
        if seen is None:
            combined[e.key] = MetricEntry(e.name, e.type, e.value, e.description, dict(e.tags))
        else:
            seen.value += e.value
    return list(combined.values())


# -- time buckets -------------------------------------------------------------------

MINUTE, HOUR, DAY, WEEK, MONTH = "minute", "hour", "day", "week", "month"
FIXED_US = {
    MINUTE: 60_000_000,
    HOUR: 3_600_000_000,
    DAY: 86_400_000_000,
    WEEK: 7 * 86_400_000_000,
}
#: Weeks start on Monday: 1970-01-05 was the first Monday after the epoch.
WEEK_ORIGIN_US = 4 * 86_400_000_000


def choose_width(start_us: int, end_us: int) -> str:
    """A bucket width that gives a readable number of buckets for the span."""
    span = end_us - start_us
    if span <= 2 * FIXED_US[HOUR]:
        return MINUTE
    if span <= 3 * FIXED_US[DAY]:
        return HOUR
    if span <= 62 * FIXED_US[DAY]:
        return DAY
    if span <= 366 * FIXED_US[DAY]:
        return WEEK
    return MONTH


def _to_dt(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def _to_us(dt: datetime) -> int:
    return (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def bucket_starts(start_us: int, end_us: int, width: str) -> list[int]:
    """The starts of the buckets covering [start, end), aligned to UTC boundaries."""
    if end_us <= start_us:
        raise InvalidArgument([("end_time", "must be after start_time")])
    starts: list[int] = []
    if width == MONTH:
        d = _to_dt(start_us)
        month = datetime(d.year, d.month, 1, tzinfo=UTC)
        while _to_us(month) < end_us:
            starts.append(_to_us(month))
            month = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
            if len(starts) > MAX_BUCKETS:
                break
    else:
        size = FIXED_US[width]
        origin = WEEK_ORIGIN_US if width == WEEK else 0
        first = origin + (start_us - origin) // size * size
        count = (end_us - first + size - 1) // size
        if count <= MAX_BUCKETS:
            starts = [first + i * size for i in range(count)]
        else:
            starts = [0] * (MAX_BUCKETS + 1)
    if len(starts) > MAX_BUCKETS:
        raise InvalidArgument(
            [("bucket_width", f"the range holds more than {MAX_BUCKETS} {width} buckets")]
        )
    return starts
