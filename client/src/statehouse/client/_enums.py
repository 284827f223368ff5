"""Python enums mirroring the proto enums, with the proto prefix dropped.

Each member's value is the proto number, so ``State.RUNNING == STATE_RUNNING``
and a proto field can be compared with a member directly
(``execution.state == State.RUNNING``); ``State(execution.state)`` gives the
member back.
"""

from __future__ import annotations

import enum
from typing import Self

from statehouse.v1 import (
    admin_service_pb2,
    execution_pb2,
    execution_service_pb2,
    metric_pb2,
    state_pb2,
)


class _ProtoEnum(enum.IntEnum):
    """An IntEnum whose str() is its short name and that parses loosely."""

    @classmethod
    def _prefix(cls) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.name

    @property
    def proto_name(self) -> str:
        """The value's name in the proto, e.g. ``STATE_RUNNING``."""
        return self._prefix() + self.name

    @classmethod
    def parse(cls, value: str | int) -> Self:
        """Parse a name ("running", "RUNNING", "STATE_RUNNING") or a number."""
        if isinstance(value, int):
            return cls(value)
        text = value.strip().upper().replace("-", "_")
        prefix = cls._prefix()
        if text.startswith(prefix):
            text = text[len(prefix) :]
        try:
            return cls[text]
        except KeyError:
            names = ", ".join(m.name.lower() for m in cls if m.value != 0)
            raise ValueError(f"unknown {cls.__name__} {value!r} (one of: {names})") from None


class State(_ProtoEnum):
    """The lifecycle state of executions, task runs and attempts."""

    UNSPECIFIED = state_pb2.STATE_UNSPECIFIED
    CREATED = state_pb2.STATE_CREATED
    RUNNING = state_pb2.STATE_RUNNING
    PAUSED = state_pb2.STATE_PAUSED
    SUCCESS = state_pb2.STATE_SUCCESS
    WARNING = state_pb2.STATE_WARNING
    FAILED = state_pb2.STATE_FAILED
    KILLING = state_pb2.STATE_KILLING
    KILLED = state_pb2.STATE_KILLED
    RESTARTED = state_pb2.STATE_RESTARTED

    @classmethod
    def _prefix(cls) -> str:
        return "STATE_"

    @property
    def is_terminal(self) -> bool:
        """SUCCESS, WARNING, FAILED and KILLED are terminal."""
        return self in _TERMINAL


_TERMINAL = frozenset({State.SUCCESS, State.WARNING, State.FAILED, State.KILLED})


class ExecutionView(_ProtoEnum):
    """How much of an execution a response carries."""

    UNSPECIFIED = execution_pb2.EXECUTION_VIEW_UNSPECIFIED
    BASIC = execution_pb2.EXECUTION_VIEW_BASIC
    FULL = execution_pb2.EXECUTION_VIEW_FULL

    @classmethod
    def _prefix(cls) -> str:
        return "EXECUTION_VIEW_"


class TaskRunView(_ProtoEnum):
    """How much of each task run a batch's results carry (``transition_task_runs``)."""

    UNSPECIFIED = execution_pb2.TASK_RUN_VIEW_UNSPECIFIED
    BASIC = execution_pb2.TASK_RUN_VIEW_BASIC
    FULL = execution_pb2.TASK_RUN_VIEW_FULL

    @classmethod
    def _prefix(cls) -> str:
        return "TASK_RUN_VIEW_"


class PauseTimeoutAction(_ProtoEnum):
    """What a pause's timeout does when it expires."""

    UNSPECIFIED = execution_service_pb2.PAUSE_TIMEOUT_ACTION_UNSPECIFIED
    RESUME = execution_service_pb2.PAUSE_TIMEOUT_ACTION_RESUME
    WARN = execution_service_pb2.PAUSE_TIMEOUT_ACTION_WARN
    FAIL = execution_service_pb2.PAUSE_TIMEOUT_ACTION_FAIL
    KILL = execution_service_pb2.PAUSE_TIMEOUT_ACTION_KILL

    @classmethod
    def _prefix(cls) -> str:
        return "PAUSE_TIMEOUT_ACTION_"


class DeadlineAction(_ProtoEnum):
    """What an execution's deadline does when it passes (FAIL by default)."""

    UNSPECIFIED = execution_service_pb2.DEADLINE_ACTION_UNSPECIFIED
    FAIL = execution_service_pb2.DEADLINE_ACTION_FAIL
    KILL = execution_service_pb2.DEADLINE_ACTION_KILL
    MARK = execution_service_pb2.DEADLINE_ACTION_MARK

    @classmethod
    def _prefix(cls) -> str:
        return "DEADLINE_ACTION_"


class MetricType(_ProtoEnum):
    """A counter or a timer."""

    UNSPECIFIED = metric_pb2.METRIC_TYPE_UNSPECIFIED
    COUNTER = metric_pb2.METRIC_TYPE_COUNTER
    TIMER = metric_pb2.METRIC_TYPE_TIMER

    @classmethod
    def _prefix(cls) -> str:
        return "METRIC_TYPE_"


class MetricBucketWidth(_ProtoEnum):
    """The width of the time buckets of an aggregation."""

    UNSPECIFIED = metric_pb2.METRIC_BUCKET_WIDTH_UNSPECIFIED
    MINUTE = metric_pb2.METRIC_BUCKET_WIDTH_MINUTE
    HOUR = metric_pb2.METRIC_BUCKET_WIDTH_HOUR
    DAY = metric_pb2.METRIC_BUCKET_WIDTH_DAY
    WEEK = metric_pb2.METRIC_BUCKET_WIDTH_WEEK
    MONTH = metric_pb2.METRIC_BUCKET_WIDTH_MONTH

    @classmethod
    def _prefix(cls) -> str:
        return "METRIC_BUCKET_WIDTH_"


class Role(_ProtoEnum):
    """What a credential may do in its namespaces (each role includes the ones before)."""

    UNSPECIFIED = admin_service_pb2.ROLE_UNSPECIFIED
    READER = admin_service_pb2.ROLE_READER
    WRITER = admin_service_pb2.ROLE_WRITER
    ADMIN = admin_service_pb2.ROLE_ADMIN

    @classmethod
    def _prefix(cls) -> str:
        return "ROLE_"
