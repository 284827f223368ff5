"""Retry policies: what a task run's policy says, and how the wait between attempts
grows. What follows a failed attempt given its policy (another attempt, and
when) is decided in ``lifecycle.py`` (``decide_retry``).

A policy is a frozen :class:`RetryPolicy`, parsed once where it comes in
(from the request's proto in ``api/convert.py``, from the stored JSON in
``storage/codec.py``). It is stored with its task run as a JSON object with
these keys: ``kind`` ("constant", "exponential" or "random"),
``max_attempts`` (counting the first attempt), ``max_duration_us`` (0: no
limit), ``warning_on_retry``, then ``interval_us`` (constant), ``interval_us``,
``max_interval_us`` and ``factor`` (exponential) or ``min_interval_us`` and
``max_interval_us`` (random).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from typing import Any


class RetryKind(enum.StrEnum):
    """How the wait between attempts grows (the value is the stored string)."""

    CONSTANT = "constant"
    EXPONENTIAL = "exponential"
    RANDOM = "random"


KINDS = tuple(kind.value for kind in RetryKind)

#: The interval keys each kind stores, in their stored order.
_INTERVAL_KEYS: dict[RetryKind, tuple[str, ...]] = {
    RetryKind.CONSTANT: ("interval_us",),
    RetryKind.EXPONENTIAL: ("interval_us", "max_interval_us", "factor"),
    RetryKind.RANDOM: ("min_interval_us", "max_interval_us"),
}
_INTEGERS = ("max_attempts", "max_duration_us", "interval_us", "max_interval_us", "min_interval_us")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how soon a failed task run is tried again.

    The interval fields a kind does not use stay 0 (and are not stored).
    """

    kind: RetryKind
    #: Attempts in all, the first one included.
    max_attempts: int
    #: No retry would start more than this after the first attempt started (0: no limit).
    max_duration_us: int = 0
    #: A success after one or more retries ends in WARNING.
    warning_on_retry: bool = False
    #: The wait (constant), or the first wait (exponential).
    interval_us: int = 0
    #: The longest wait (exponential, random).
    max_interval_us: int = 0
    #: The shortest wait (random).
    min_interval_us: int = 0
    #: How much each wait grows (exponential).
    factor: float = 2.0

    def to_json(self) -> dict[str, Any]:
        """The stored form (the keys and their order as the server has always written them)."""
        stored: dict[str, Any] = {
            "kind": self.kind.value,
            "max_attempts": self.max_attempts,
            "max_duration_us": self.max_duration_us,
            "warning_on_retry": self.warning_on_retry,
        }
        for key in _INTERVAL_KEYS[self.kind]:
            stored[key] = getattr(self, key)
        return stored

    @classmethod
    def from_json(cls, stored: Any) -> RetryPolicy:
        """A stored policy, checked for the shape the rules rely on (ValueError if not).

        Requests are validated before they are stored; this guards the reads of
        what an older server may have stored (a null factor, say).
        """
        if not isinstance(stored, dict) or stored.get("kind") not in KINDS:
            raise ValueError("a retry policy without a known kind")
        for key in _INTEGERS:
            if key in stored and (type(stored[key]) is not int or stored[key] < 0):
                raise ValueError(f"retry policy {key} is not a non-negative integer")
        factor = stored.get("factor", 2.0)
        if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor >= 1:
            raise ValueError("retry policy factor is not a number of at least 1")
        kind = RetryKind(stored["kind"])
        required = ("max_attempts", *(k for k in _INTERVAL_KEYS[kind] if k != "factor"))
        missing = [key for key in required if key not in stored]
        if missing:
            raise ValueError(f"a {kind.value} retry policy without {', '.join(missing)}")
        return cls(
            kind=kind,
            max_attempts=stored["max_attempts"],
            max_duration_us=stored.get("max_duration_us") or 0,
            warning_on_retry=bool(stored.get("warning_on_retry")),
            interval_us=stored.get("interval_us", 0),
            max_interval_us=stored.get("max_interval_us", 0),
            min_interval_us=stored.get("min_interval_us", 0),
            factor=float(factor or 2.0),
        )


def policy_from_json(stored: Any) -> RetryPolicy | None:
    """The policy of a stored task run, or None when it has none."""
    return None if stored is None else RetryPolicy.from_json(stored)


def interval_us(policy: RetryPolicy, failed_attempts: int, rng: random.Random) -> int:
    """The wait before the next attempt, after ``failed_attempts`` failures (>= 1)."""
    if policy.kind is RetryKind.CONSTANT:
        return policy.interval_us
    if policy.kind is RetryKind.EXPONENTIAL:
        wait = policy.interval_us * policy.factor ** (failed_attempts - 1)
        return int(min(wait, policy.max_interval_us))
    return rng.randint(policy.min_interval_us, policy.max_interval_us)
