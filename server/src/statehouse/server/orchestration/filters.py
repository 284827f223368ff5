"""What lists and streams select: namespace patterns and the two filters.

Domain rules, pure like the rest of orchestration: storage turns a filter into
SQL (``storage/scope.py``, ``storage/tx/``) and the event hub tests events in memory
(``events/hub.py``); both follow the definitions here (docs/design.md,
"The event stream").

Patterns (``acme``, ``acme.*``, ``*``): their grammar and matcher are
``patterns.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import Event
from .patterns import matches
from .states import State


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    """What ListExecutions selects."""

    namespace: str = ""
    flow_id: str = ""
    states: tuple[State, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    #: The caller's namespace patterns (security/access.py); empty: every namespace.
    scope: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What a subscription selects; empty fields match everything."""

    namespace: str = ""
    flow_id: str = ""
    execution_ids: frozenset[str] = field(default_factory=frozenset)
    states: frozenset[State] = field(default_factory=frozenset)
    #: The subscriber's namespace patterns (security/access.py); empty: every namespace.
    scope: tuple[str, ...] = ()

    def matches(self, event: Event) -> bool:
        return (
            (not self.scope or any(matches(p, event.namespace) for p in self.scope))
            and (not self.namespace or event.namespace == self.namespace)
            and (not self.flow_id or event.flow_id == self.flow_id)
            and (not self.execution_ids or event.execution_id in self.execution_ids)
            and (not self.states or event.state in self.states)
        )

    def select(self, events: list[Event]) -> list[Event]:
        """The events that :meth:`matches`, in order; a filter on a namespace
        alone (the common one) compares one attribute per event."""
        namespace = self.namespace
        if namespace and not (self.scope or self.flow_id or self.execution_ids or self.states):
            return [e for e in events if e.namespace == namespace]
        matches = self.matches
        return [e for e in events if matches(e)]


#: What a task run's event may make ready: it was created or restarted.
_READY_STATES = frozenset({State.CREATED, State.RESTARTED})


@dataclass(frozen=True, slots=True)
class TaskRunFilter:
    """What a claim selects (ClaimTaskRuns); empty fields match everything."""

    namespace: str = ""
    flow_id: str = ""
    task_ids: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    #: The caller's namespace patterns (security/access.py); empty: every namespace.
    scope: tuple[str, ...] = ()

    def may_make_ready(self, event: Event) -> bool:
        """Whether ``event`` may have made a task run this filter selects ready:
        a task run created or restarted, or an execution resumed or restarted
        (labels are not in events: a claim woken in vain finds nothing)."""
        if event.task_run_id:
            if event.state not in _READY_STATES:
                return False
            if self.task_ids and event.task_id not in self.task_ids:
                return False
        elif not (
            event.state is State.RESTARTED
            or (event.state is State.RUNNING and event.previous_state is State.PAUSED)
        ):
            return False
        return (
            (not self.scope or any(matches(p, event.namespace) for p in self.scope))
            and (not self.namespace or event.namespace == self.namespace)
            and (not self.flow_id or event.flow_id == self.flow_id)
        )
