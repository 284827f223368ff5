"""The task retry policy: whether and when the server tries a failed task run again.

Not to be confused with :class:`statehouse.client.CallRetry`, which is how
the *client* repeats a call that failed in transit. A :class:`TaskRetryPolicy`
is stored with a task run (``create_task_run(retry_policy=...)``); when a
worker reports the task run FAILED and another attempt is allowed, the
server moves it to RESTARTED with a ``next_attempt_time``.

``create_task_run`` takes it in any of these forms:

- a :class:`TaskRetryPolicy`, best made with its constructors::

      TaskRetryPolicy.constant(interval="2s", max_attempts=3)
      TaskRetryPolicy.exponential(interval="1s", max_interval="1m", factor=2, max_attempts=5)
      TaskRetryPolicy.random(min_interval="1s", max_interval="10s", max_attempts=4)

- a plain dict, flat: ``{"type": "constant", "interval": "2s", "max_attempts": 3}``
  (keys: ``type``, ``max_attempts``, ``max_duration``, ``warning_on_retry``,
  and per type ``interval``; ``interval``, ``max_interval``, ``factor``;
  ``min_interval``, ``max_interval``), or in the proto's JSON shape:
  ``{"constant": {"interval": "2s"}, "maxAttempts": 3}`` (snake_case or
  camelCase keys);
- the generated message ``statehouse.v1.execution_pb2.RetryPolicy``.

Durations are a ``timedelta``, a number of seconds, or a string in the
grammar of :mod:`statehouse.client.durations`, the same as the command line's
and the server's options: ``"1.5"``, ``"500ms"``, ``"1m30s"``, ``"2h"``,
``"1d12h"``, ``"PT2S"``. A key that is not one of these raises ``ValueError``
naming it; a value of the wrong type ``TypeError``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any, Literal, TypeAlias, cast

from google.protobuf import duration_pb2

from statehouse.v1 import execution_pb2

from . import durations

__all__ = [
    "DurationLike",
    "TaskRetryPolicy",
    "TaskRetryPolicyLike",
    "parse_duration",
    "to_retry_policy_pb",
]

#: A duration: a timedelta, a number of seconds, a string ("2s", "1m30s", "PT2S"),
#: or a ``google.protobuf.Duration``.
DurationLike: TypeAlias = "timedelta | float | int | str | duration_pb2.Duration"

RetryType: TypeAlias = Literal["constant", "exponential", "random"]

_TYPES: tuple[str, ...] = ("constant", "exponential", "random")
#: The interval fields of each type: (required, optional).
_INTERVAL_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "constant": (("interval",), ()),
    "exponential": (("interval", "max_interval"), ("factor",)),
    "random": (("min_interval", "max_interval"), ()),
}
_COMMON = ("max_attempts", "max_duration", "warning_on_retry")
_DURATION_FIELDS = ("interval", "max_interval", "min_interval", "max_duration")


def parse_duration(value: object, key: str = "duration") -> timedelta:
    """A ``timedelta`` from a timedelta, seconds, a string (``durations.parse``:
    "2s", "500ms", "1m30s", "1d12h", "PT2S") or a ``Duration``; ``key`` names
    the value in errors."""
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, duration_pb2.Duration):
        result = value.ToTimedelta()
    elif isinstance(value, bool):
        raise TypeError(f"{key}: a duration is a timedelta, seconds or a string, not {value!r}")
    elif isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"{key}: not a finite duration: {value!r}")
        result = timedelta(seconds=value)
    elif isinstance(value, str):
        try:
            result = durations.parse(value)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    else:
        raise TypeError(
            f"{key}: a duration is a timedelta, seconds or a string like '2s', "
            f"not {type(value).__name__}"
        )
    if result < timedelta(0):
        raise ValueError(f"{key}: a duration must not be negative, got {value!r}")
    return result


def _format_duration(value: timedelta) -> str:
    micros = round(value.total_seconds() * 1_000_000)
    if micros % 1_000_000 == 0:
        return f"{micros // 1_000_000}s"
    if micros % 1_000 == 0:
        return f"{micros // 1_000}ms"
    return f"{micros}us"


@dataclass(frozen=True, slots=True)
class TaskRetryPolicy:
    """How the server retries a failed task run (the proto's ``RetryPolicy``).

    ``type`` is ``"constant"`` (the same ``interval`` before each new
    attempt), ``"exponential"`` (``interval`` before the second attempt,
    multiplied by ``factor``, 2 when unset, after each, up to
    ``max_interval``) or ``"random"`` (uniform between ``min_interval`` and
    ``max_interval``). ``max_attempts`` counts the first attempt;
    ``max_duration`` (optional) stops retrying once that long has passed since
    the first attempt started; ``warning_on_retry`` ends a task run that
    succeeds after a retry in WARNING. Durations may be given as anything
    :func:`parse_duration` reads and are kept as ``timedelta``.

    Prefer the constructors :meth:`constant`, :meth:`exponential` and
    :meth:`random`; :meth:`from_dict` reads a plain dict, :meth:`from_proto`
    a stored policy (``task_run.retry_policy``).
    """

    type: RetryType
    max_attempts: int
    interval: timedelta | None = None
    max_interval: timedelta | None = None
    min_interval: timedelta | None = None
    factor: float | None = None
    max_duration: timedelta | None = None
    warning_on_retry: bool = False

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"type: {self.type!r} is not one of {', '.join(_TYPES)}")
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise TypeError(f"max_attempts: an int is needed, not {self.max_attempts!r}")
        if self.max_attempts < 1:
            raise ValueError("max_attempts: at least 1 (the first attempt counts)")
        for name in _DURATION_FIELDS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, timedelta):
                object.__setattr__(self, name, parse_duration(value, name))
        required, optional = _INTERVAL_FIELDS[self.type]
        for name in required:
            if getattr(self, name) is None:
                raise ValueError(f"{name}: required for a {self.type} retry policy")
        for name in ("interval", "max_interval", "min_interval", "factor"):
            if name not in required + optional and getattr(self, name) is not None:
                raise ValueError(f"{name}: not a field of a {self.type} retry policy")
        if self.factor is not None:
            if isinstance(self.factor, bool) or not isinstance(self.factor, int | float):
                raise TypeError(f"factor: a number is needed, not {self.factor!r}")
            object.__setattr__(self, "factor", float(self.factor))
        if not isinstance(self.warning_on_retry, bool):
            raise TypeError(f"warning_on_retry: a bool is needed, not {self.warning_on_retry!r}")

    @classmethod
    def constant(
        cls,
        interval: DurationLike,
        *,
        max_attempts: int,
        max_duration: DurationLike | None = None,
        warning_on_retry: bool = False,
    ) -> TaskRetryPolicy:
        """The same wait, ``interval``, before every new attempt."""
        return cls(
            "constant",
            max_attempts,
            interval=cast(timedelta, interval),
            max_duration=cast("timedelta | None", max_duration),
            warning_on_retry=warning_on_retry,
        )

    @classmethod
    def exponential(
        cls,
        interval: DurationLike,
        *,
        max_interval: DurationLike,
        max_attempts: int,
        factor: float | None = None,
        max_duration: DurationLike | None = None,
        warning_on_retry: bool = False,
    ) -> TaskRetryPolicy:
        """``interval`` before the second attempt, times ``factor`` (2 when
        unset) after each, never more than ``max_interval``."""
        return cls(
            "exponential",
            max_attempts,
            interval=cast(timedelta, interval),
            max_interval=cast(timedelta, max_interval),
            factor=factor,
            max_duration=cast("timedelta | None", max_duration),
            warning_on_retry=warning_on_retry,
        )

    @classmethod
    def random(
        cls,
        min_interval: DurationLike,
        max_interval: DurationLike,
        *,
        max_attempts: int,
        max_duration: DurationLike | None = None,
        warning_on_retry: bool = False,
    ) -> TaskRetryPolicy:
        """A wait drawn uniformly between ``min_interval`` and ``max_interval``."""
        return cls(
            "random",
            max_attempts,
            min_interval=cast(timedelta, min_interval),
            max_interval=cast(timedelta, max_interval),
            max_duration=cast("timedelta | None", max_duration),
            warning_on_retry=warning_on_retry,
        )

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> TaskRetryPolicy:
        """Read a plain dict: flat (``{"type": "constant", "interval": "2s",
        "max_attempts": 3}``) or the proto's JSON shape (``{"constant":
        {"interval": "2s"}, "maxAttempts": 3}``); see the module's docstring."""
        if not isinstance(value, Mapping):
            raise TypeError(f"a retry policy dict is needed, not {type(value).__name__}")
        data = {_snake(str(key)): item for key, item in value.items()}
        nested = [name for name in _TYPES if name in data]
        if nested:
            if len(nested) > 1 or "type" in data:
                raise ValueError(
                    "give one of 'constant', 'exponential', 'random' (or 'type'), "
                    f"not {', '.join(repr(k) for k in (*nested, 'type') if k in data)}"
                )
            kind = nested[0]
            inner = data.pop(kind)
            if inner is None:
                inner = {}
            if not isinstance(inner, Mapping):
                raise TypeError(f"{kind}: a dict of its intervals is needed, not {inner!r}")
            for key, item in inner.items():
                name = _snake(str(key))
                required, optional = _INTERVAL_FIELDS[kind]
                if name not in required + optional:
                    raise ValueError(
                        f"unknown key {key!r} in {kind!r} "
                        f"(expected {', '.join(required + optional)})"
                    )
                data[name] = item
            data["type"] = kind
        known = {f.name for f in fields(cls)}
        for key in value:
            name = _snake(str(key))
            if name not in known and name not in _TYPES:
                raise ValueError(
                    f"unknown key {key!r} in a task retry policy "
                    f"(expected type, {', '.join(sorted(known - {'type'}))}; "
                    "or the proto's shape with constant, exponential or random)"
                )
        if "type" not in data:
            raise ValueError(
                "a task retry policy needs 'type' ('constant', 'exponential' or 'random') "
                "or one of the keys 'constant', 'exponential', 'random'"
            )
        if "max_attempts" not in data:
            raise ValueError("max_attempts: required (the first attempt counts)")
        kind = data.pop("type")
        if not isinstance(kind, str) or kind.lower() not in _TYPES:
            raise ValueError(f"type: {kind!r} is not one of {', '.join(_TYPES)}")
        return cls(cast(RetryType, kind.lower()), **data)

    @classmethod
    def from_proto(cls, message: execution_pb2.RetryPolicy) -> TaskRetryPolicy:
        """The typed form of a generated ``RetryPolicy`` (e.g. ``task_run.retry_policy``)."""
        kind = message.WhichOneof("interval")
        if kind is None:
            raise ValueError("the RetryPolicy message sets none of constant, exponential, random")
        inner = getattr(message, kind)
        values: dict[str, Any] = {}
        required, optional = _INTERVAL_FIELDS[kind]
        for name in required + optional:
            if name == "factor":
                values[name] = inner.factor or None
            elif inner.HasField(name):
                values[name] = getattr(inner, name).ToTimedelta()
        return cls(
            kind,
            message.max_attempts,
            max_duration=(
                message.max_duration.ToTimedelta() if message.HasField("max_duration") else None
            ),
            warning_on_retry=message.warning_on_retry,
            **values,
        )

    def to_proto(self) -> execution_pb2.RetryPolicy:
        """The generated message that ``CreateTaskRunRequest.retry_policy`` holds."""
        message = execution_pb2.RetryPolicy(
            max_attempts=self.max_attempts, warning_on_retry=self.warning_on_retry
        )
        if self.max_duration is not None:
            message.max_duration.FromTimedelta(self.max_duration)
        inner = getattr(message, self.type)
        inner.SetInParent()
        required, optional = _INTERVAL_FIELDS[self.type]
        for name in required + optional:
            value = getattr(self, name)
            if value is None:
                continue
            if name == "factor":
                inner.factor = value
            else:
                getattr(inner, name).FromTimedelta(value)
        return message

    def to_dict(self) -> dict[str, Any]:
        """The flat dict form, durations as strings ("2s", "500ms"); ``from_dict`` reads it."""
        out: dict[str, Any] = {"type": self.type, "max_attempts": self.max_attempts}
        for name in ("interval", "min_interval", "max_interval", "factor", "max_duration"):
            value = getattr(self, name)
            if value is not None:
                out[name] = _format_duration(value) if isinstance(value, timedelta) else value
        if self.warning_on_retry:
            out["warning_on_retry"] = True
        return out


def _snake(key: str) -> str:
    """``maxAttempts`` -> ``max_attempts`` (the proto JSON names), others unchanged."""
    return re.sub(r"(?<=[a-z])([A-Z])", lambda m: "_" + m.group(1).lower(), key)


#: What ``create_task_run(retry_policy=...)`` accepts.
TaskRetryPolicyLike: TypeAlias = "TaskRetryPolicy | Mapping[str, Any] | execution_pb2.RetryPolicy"


def to_retry_policy_pb(value: TaskRetryPolicyLike | None) -> execution_pb2.RetryPolicy | None:
    """The generated message for any accepted form of a task retry policy."""
    if value is None or isinstance(value, execution_pb2.RetryPolicy):
        return value
    if isinstance(value, TaskRetryPolicy):
        return value.to_proto()
    if isinstance(value, Mapping):
        return TaskRetryPolicy.from_dict(value).to_proto()
    hint = (
        " (the call-retry setting is CallRetry, given to connect())"
        if _is_call_retry(value)
        else ""
    )
    raise TypeError(
        "retry_policy: a TaskRetryPolicy, a dict or a statehouse.v1 RetryPolicy is needed, "
        f"not {type(value).__name__}{hint}"
    )


def _is_call_retry(value: object) -> bool:
    return type(value).__name__ == "CallRetry"
