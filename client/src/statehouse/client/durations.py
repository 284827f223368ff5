"""Durations written as text: one grammar for the SDK, the CLI and the server.

Every place that reads a duration from a person reads it here: the SDK's
:class:`~statehouse.client.TaskRetryPolicy` strings, every duration option of
the command line (``--delay``, ``--retry-interval``, ``--expires``, ...) and
of ``statehouse serve`` (``--request-id-ttl``, ``--commit-timeout``, ...). The
server imports this module (statehouse-server depends on statehouse-client,
never the reverse), so all of them accept the same forms and refuse the same
bad ones with the same message.

The grammar, surrounding spaces ignored::

    duration := seconds | parts | iso
    seconds  := number                         1.5, 3600, .5
    parts    := number unit [number unit]...   500ms, 1m30s, 2h, 1d12h, 1.5h
    unit     := w | d | h | m | s | ms | us    (any case; each once, largest first)
    iso      := ISO 8601 P[nD][T[nH][nM][nS]]  PT2S, PT1M30S, P1DT2H
    number   := digits [. digits] | . digits   (no sign, no exponent)

Where a duration must be positive (a pause's delay, a retry interval, a
deadline) 0 is refused after it is read, with its own message.
"""

from __future__ import annotations

import argparse
import itertools
import re
from datetime import timedelta

__all__ = ["FORMS", "argument", "parse", "positive_argument"]

#: How to write a duration, named in every error message.
FORMS = "e.g. 1.5 (seconds), 500ms, 1m30s, 2h, 1d12h or PT2S"

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_UNIT_SECONDS = {
    "w": 604_800.0,
    "d": 86_400.0,
    "h": 3_600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
}
#: Largest first: a part's unit must come after the previous part's.
_RANK = {"w": 0, "d": 1, "h": 2, "m": 3, "s": 4, "ms": 5, "us": 6, "µs": 6}
_PART = re.compile(rf"({_NUMBER})(ms|us|µs|w|d|h|m|s)")
_PARTS = re.compile(rf"(?:{_NUMBER}(?:ms|us|µs|w|d|h|m|s))+")
_SECONDS = re.compile(_NUMBER)
_ISO = re.compile(
    rf"P(?:(?P<d>{_NUMBER})D)?(?:T(?:(?P<h>{_NUMBER})H)?(?:(?P<m>{_NUMBER})M)?(?:(?P<s>{_NUMBER})S)?)?"
)


def parse(text: str) -> timedelta:
    """The duration ``text`` writes (see the module's grammar), 0 or more.

    Raises ``ValueError("cannot read '...' as a duration (e.g. ...)")`` for
    anything else; callers add the name of the value in front.
    """
    compact = text.strip().lower()
    try:
        seconds = _seconds(compact)
        if seconds is None:
            raise ValueError(f"cannot read {text!r} as a duration ({FORMS})")
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration") from None


def _seconds(compact: str) -> float | None:
    if _SECONDS.fullmatch(compact):
        return float(compact)
    if _PARTS.fullmatch(compact):
        parts = _PART.findall(compact)
        ranks = [_RANK[unit] for _, unit in parts]
        if all(a < b for a, b in itertools.pairwise(ranks)):
            return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in parts)
        return None
    iso = _ISO.fullmatch(compact.upper())
    if iso is None or compact.endswith("t") or not any(iso.groupdict().values()):
        return None
    found = {name: float(value or 0) for name, value in iso.groupdict().items()}
    return timedelta(
        days=found["d"], hours=found["h"], minutes=found["m"], seconds=found["s"]
    ).total_seconds()


def argument(text: str) -> float:
    """An ``argparse`` type: a duration of 0 or more, in seconds."""
    try:
        return parse(text).total_seconds()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_argument(text: str) -> float:
    """An ``argparse`` type: a duration of more than 0, in seconds."""
    seconds = argument(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration, got {text!r}")
    return seconds
