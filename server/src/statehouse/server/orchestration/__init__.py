"""The state machine and its rules: pure, no gRPC, no SQLAlchemy, no generated code."""

from .changes import ChangeSet
from .errors import (
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    InvalidTransition,
    NotFound,
    RequestIdReused,
    RevisionMismatch,
    SequenceCompacted,
    UnreadableRecord,
)
from .model import (
    Attempt,
    Event,
    Execution,
    JsonObject,
    PauseAction,
    StateChange,
    TaskRun,
    Timer,
    TimerKind,
)
from .states import STARTABLE_STATES, TERMINAL_STATES, State
from .transitions import (
    EXECUTION_TRANSITIONS,
    TASK_RUN_TRANSITIONS,
    Kind,
    check_transition,
    is_allowed,
)

__all__ = [
    "EXECUTION_TRANSITIONS",
    "STARTABLE_STATES",
    "TASK_RUN_TRANSITIONS",
    "TERMINAL_STATES",
    "Attempt",
    "ChangeSet",
    "DomainError",
    "Event",
    "Execution",
    "FailedPrecondition",
    "InvalidArgument",
    "InvalidTransition",
    "JsonObject",
    "Kind",
    "NotFound",
    "PauseAction",
    "RequestIdReused",
    "RevisionMismatch",
    "SequenceCompacted",
    "State",
    "StateChange",
    "TaskRun",
    "Timer",
    "TimerKind",
    "UnreadableRecord",
    "check_transition",
    "is_allowed",
]
