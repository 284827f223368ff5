"""Immutable configuration values of the clients."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from statehouse.client._errors import StatehouseError, UnavailableError

__all__ = [
    "DEFAULT_CALL_RETRY",
    "DEFAULT_STREAM_RETRY",
    "DEFAULT_TIMEOUT",
    "CallRetry",
    "is_unavailable",
]

#: The default deadline of a unary call, in seconds.
DEFAULT_TIMEOUT = 30.0


def is_unavailable(error: StatehouseError) -> bool:
    """The default transient-error predicate: UNAVAILABLE, whatever the reason."""
    return isinstance(error, UnavailableError)


@dataclass(frozen=True, slots=True)
class CallRetry:
    """When and how often the client tries a failed call again.

    This is the client's own setting (``connect(retry=..., stream_retry=...)``),
    not the retry policy of a task run, which the server applies: that is
    :class:`statehouse.client.TaskRetryPolicy`.

    A unary call is retried only when ``predicate`` says its error is transient
    (by default UNAVAILABLE only) and the call is safe to repeat: a read, or a
    mutation that carries a ``request_id``. A subscription reconnects with the
    same backoff, the attempt count restarting after each message received.

    ``max_attempts`` counts the first try (1 disables retries; None retries
    without limit). The wait before retry ``n`` (1-based) is
    ``min(max_backoff, initial_backoff * multiplier ** (n - 1))``, randomly
    shortened by up to ``jitter`` (a fraction).
    """

    max_attempts: int | None = 5
    initial_backoff: float = 0.1
    max_backoff: float = 3.0
    multiplier: float = 2.0
    jitter: float = 0.2
    predicate: Callable[[StatehouseError], bool] = field(default=is_unavailable)

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1 (or None for no limit)")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoffs must not be negative")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    @classmethod
    def disabled(cls) -> CallRetry:
        """A policy that never retries."""
        return cls(max_attempts=1)

    def is_transient(self, error: StatehouseError) -> bool:
        """Whether ``error`` is worth another attempt."""
        return self.predicate(error)

    def allows(self, attempt: int) -> bool:
        """Whether a call that already failed ``attempt`` times may try again."""
        return self.max_attempts is None or attempt < self.max_attempts

    def backoff(self, retry: int) -> float:
        """The wait in seconds before retry number ``retry`` (1-based)."""
        delay = min(self.max_backoff, self.initial_backoff * self.multiplier ** max(0, retry - 1))
        if self.jitter:
            delay *= 1 - random.random() * self.jitter
        return delay


def reconnect_backoff_options(*policies: CallRetry) -> list[tuple[str, int]]:
    """grpc channel options that keep the channel's own reconnections in step
    with the client's retries (``policies``): its first wait the shortest
    ``initial_backoff``, its longest the shortest ``max_backoff``, so that the
    channel never waits longer between connection attempts than a retry does.

    Left to grpc, a channel whose server went away waits 1 s, then 1.6 times
    longer each time, up to 2 minutes, between connection attempts, and every
    call meanwhile fails at once: a server back after a restart of a few
    seconds could be reached only after the retries had run out. (The connect
    timeout, ``grpc.min_reconnect_backoff_ms``, is left alone.)"""
    initial = min(p.initial_backoff for p in policies)
    longest = min(p.max_backoff for p in policies)
    return [
        ("grpc.initial_reconnect_backoff_ms", max(10, round(initial * 1000))),
        ("grpc.max_reconnect_backoff_ms", max(10, round(max(initial, longest) * 1000))),
    ]


#: The default policy of unary calls: 5 attempts within about 1.5 s.
DEFAULT_CALL_RETRY = CallRetry()

#: The default policy of stream reconnections: up to 30 consecutive failed
#: attempts, about a minute, long enough to ride out a server restart.
DEFAULT_STREAM_RETRY = CallRetry(max_attempts=30, initial_backoff=0.05, max_backoff=2.0)
