"""Who may do what: roles, namespace patterns, and the rule of every RPC.

A caller is a :class:`Principal`: an identity (what request ids are scoped
to), an actor (what histories and events record), one role and the namespace
patterns it holds that role in. :data:`RULES` names, for every RPC of every
service, the role it needs and where in the request its namespace is: named
outright (a namespace outside the caller's is PERMISSION_DENIED) or reached
through an execution or task run id (one outside the caller's namespaces is
NOT_FOUND, the answer for an id that does not exist, so ids do not leak
existence). Lists and streams are narrowed to the caller's namespaces by their
handlers (``Principal.scope``). The transport refuses to serve an RPC that has
no rule here (docs/design.md, "Security").

Patterns (``acme``, ``acme.*``, ``*``): their grammar, parser and matcher
are ``orchestration/patterns.py``'s.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..orchestration import ANONYMOUS, InvalidArgument, PermissionDenied
from ..orchestration.patterns import EVERY, covers, matches, problem

__all__ = [
    "EVERYWHERE",
    "OPEN",
    "RULES",
    "Principal",
    "Role",
    "Rule",
    "covers",
    "matches",
]


class Role(enum.IntEnum):
    """What a credential may do in its namespaces; each includes the ones below."""

    READER = 1
    WRITER = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r}: reader, writer or admin") from None


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller."""

    #: What its request ids are scoped to: ``token:ci``, ``cert:CN=w``,
    #: ``jwt:https://idp/|alice``; empty when authentication is off.
    identity: str
    #: What the histories and events it causes record.
    actor: str
    role: Role
    #: Namespace patterns it holds ``role`` in.
    namespaces: tuple[str, ...]
    #: When its credential expires (microseconds since the epoch), if ever: its
    #: open streams end then (``credentials.Authenticator.watch``).
    expires_us: int | None = None

    def may_read(self, namespace: str) -> bool:
        return any(matches(p, namespace) for p in self.namespaces)

    @property
    def scope(self) -> tuple[str, ...]:
        """The patterns that narrow lists and streams; empty: no narrowing."""
        return () if EVERY in self.namespaces else self.namespaces

    @property
    def unrestricted(self) -> bool:
        """An admin of every namespace: no access rule can refuse it anything."""
        return self.role == Role.ADMIN and EVERY in self.namespaces

    def check_role(self, needed: Role, what: str) -> None:
        if self.role < needed:
            raise PermissionDenied(
                f"{what} needs the {needed.label} role; this caller is a {self.role.label}",
                role_needed=needed.label,
            )

    def check_namespace(self, namespace: str, field: str) -> None:
        if not self.may_read(namespace):
            raise PermissionDenied(f"{field} {namespace!r} is outside this caller's namespaces")

    def check_patterns(self, patterns: list[str], field: str) -> None:
        """Refuse patterns that reach beyond this caller's own."""
        errors = [(f"{field}[{i}]", why) for i, p in enumerate(patterns) if (why := problem(p))]
        if errors:
            raise InvalidArgument(errors)
        for pattern in patterns:
            if not any(covers(own, pattern) for own in self.namespaces):
                raise PermissionDenied(
                    f"{field} {pattern!r} reaches beyond this caller's namespaces"
                )

    def holds(self, patterns: tuple[str, ...]) -> bool:
        """Whether this caller's namespaces cover all of ``patterns``."""
        return all(any(covers(own, p) for own in self.namespaces) for p in patterns)


#: Authentication off: every caller may do everything.
EVERYWHERE = (EVERY,)
OPEN = Principal(identity="", actor=ANONYMOUS, role=Role.ADMIN, namespaces=EVERYWHERE)


@dataclass(frozen=True, slots=True)
class Rule:
    """What one RPC needs."""

    role: Role
    #: A request field naming a namespace (dotted for nested: ``filter.namespace``).
    namespace: str = ""
    #: Request fields holding execution ids, and task run ids.
    executions: tuple[str, ...] = ()
    task_runs: tuple[str, ...] = ()


_R, _W, _A = Role.READER, Role.WRITER, Role.ADMIN
_EXECUTION = ("execution_id",)
_TASK_RUN = ("task_run_id",)

#: The rule of every RPC, by ``Service/Method``.
RULES: dict[str, Rule] = {
    "statehouse.v1.ExecutionService/CreateExecution": Rule(
        _W, namespace="namespace", executions=("parent_execution_id",)
    ),
    "statehouse.v1.ExecutionService/GetExecution": Rule(_R, executions=_EXECUTION),
    "statehouse.v1.ExecutionService/ListExecutions": Rule(_R, namespace="namespace"),
    "statehouse.v1.ExecutionService/CountExecutions": Rule(_R, namespace="namespace"),
    "statehouse.v1.ExecutionService/DeleteExecution": Rule(_A, executions=_EXECUTION),
    "statehouse.v1.ExecutionService/CreateTaskRun": Rule(_W, executions=_EXECUTION),
    "statehouse.v1.ExecutionService/GetTaskRun": Rule(_R, task_runs=_TASK_RUN),
    "statehouse.v1.ExecutionService/TransitionExecution": Rule(_W, executions=_EXECUTION),
    "statehouse.v1.ExecutionService/TransitionTaskRun": Rule(_W, task_runs=_TASK_RUN),
    # Each item is also authorized by the handler as a TransitionTaskRun.
    "statehouse.v1.ExecutionService/TransitionTaskRuns": Rule(_W),
    "statehouse.v1.ExecutionService/PauseExecution": Rule(_W, executions=_EXECUTION),
    "statehouse.v1.ExecutionService/ResumeExecution": Rule(_W, executions=_EXECUTION),
    "statehouse.v1.ExecutionService/KillExecution": Rule(_W, executions=_EXECUTION),
    "statehouse.v1.ExecutionService/RestartExecution": Rule(_W, executions=_EXECUTION),
    "statehouse.v1.ExecutionService/CompleteExecution": Rule(_W, executions=_EXECUTION),
    # A claim without a namespace takes task runs of the caller's namespaces only.
    "statehouse.v1.ExecutionService/ClaimTaskRuns": Rule(_W, namespace="filter.namespace"),
    # Each item is also authorized by the handler as a TransitionTaskRun.
    "statehouse.v1.ExecutionService/Heartbeat": Rule(_W),
    "statehouse.v1.EventService/Subscribe": Rule(_R, namespace="filter.namespace"),
    "statehouse.v1.EventService/FollowExecution": Rule(_R, executions=_EXECUTION),
    "statehouse.v1.MetricService/RecordMetrics": Rule(_W, task_runs=_TASK_RUN),
    "statehouse.v1.MetricService/ListMetrics": Rule(_R, executions=_EXECUTION, task_runs=_TASK_RUN),
    "statehouse.v1.MetricService/AggregateMetrics": Rule(_R, namespace="namespace"),
    # An admin manages only credentials within its own namespaces (the handlers check).
    "statehouse.v1.AdminService/CreateToken": Rule(_A),
    "statehouse.v1.AdminService/ListTokens": Rule(_A),
    "statehouse.v1.AdminService/RevokeToken": Rule(_A),
    # Any caller with a valid credential: the server's own description, no namespace's data.
    "statehouse.v1.AdminService/GetServerInfo": Rule(_R),
}
