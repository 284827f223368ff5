"""The guards: is this move allowed here? Declared per move, applied in one order.

A guard looks at a :class:`Proposal` (the execution, the task run if any, the
requested state and what the request carries) and raises a
:class:`~.errors.DomainError` if the move may not happen; it changes nothing.
Which guards a move has is data (:data:`GUARDS`, in the spirit of the
transition table), and :func:`apply_guards` runs them in the order of
:data:`POLICY`, whatever the order they are declared in, so that when
several refuse a move the same one always wins (``docs/design.md``
§"Orchestration").

Before any of them, the commands check the caller's expected revision
(:func:`check_expected_revision`) as they load the execution: a caller with a
stale view learns that first, whatever else is wrong with its request.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from .errors import (
    FailedPrecondition,
    InvalidArgument,
    InvalidTransition,
    RevisionMismatch,
    execution_subject,
    iso_time,
    task_run_subject,
)
from .model import Execution, JsonObject, TaskRun
from .states import STARTABLE_STATES, State
from .transitions import Kind, check_transition


def check_expected_revision(execution: Execution, expected: int | None) -> None:
    """Optimistic concurrency (AIP-154): the caller saw this revision, or nothing."""
    if expected is not None and expected != execution.revision:
        raise RevisionMismatch(expected, execution.revision)


class GuardKind(enum.Enum):
    """What a guard looks at."""

    #: The request on its own (CompleteExecution asks for an end state).
    ARGUMENTS = "arguments"
    #: The subject's own state against the requested one (the transition table).
    TRANSITION = "transition"
    #: What the request carries, against the move (outputs only with an end).
    PAYLOAD = "payload"
    #: The execution around the subject: live, not paused, not being killed.
    EXECUTION = "execution"
    #: The execution's task runs (none active when it ends).
    TASK_RUNS = "task runs"
    #: The time (a retry's next attempt is due).
    TIMING = "timing"


#: The order guards apply in, for every move: a malformed request first, then
#: an illegal move, a payload that does not fit it, then the execution it
#: happens in, its task runs, and last whether it is time yet. Guards of one
#: kind keep the order they are declared in.
POLICY: tuple[GuardKind, ...] = (
    GuardKind.ARGUMENTS,
    GuardKind.TRANSITION,
    GuardKind.PAYLOAD,
    GuardKind.EXECUTION,
    GuardKind.TASK_RUNS,
    GuardKind.TIMING,
)


@dataclass(frozen=True, slots=True)
class Proposal:
    """A move under consideration: everything a guard may look at."""

    execution: Execution
    requested: State
    #: The task run that moves (None: the execution moves).
    task_run: TaskRun | None = None
    outputs: JsonObject | None = None
    #: The execution's active task runs (for a move of the execution).
    active_task_runs: int = 0
    #: The time of the change.
    now_us: int = 0


@dataclass(frozen=True, slots=True)
class Guard:
    """One named check of a proposal, of one kind."""

    kind: GuardKind
    check: Callable[[Proposal], None]

    @property
    def name(self) -> str:
        return self.check.__name__

    def __call__(self, proposal: Proposal) -> None:
        self.check(proposal)


def guard(kind: GuardKind) -> Callable[[Callable[[Proposal], None]], Guard]:
    """Declare a guard of ``kind``."""
    return lambda check: Guard(kind, check)


# -- the guards -----------------------------------------------------------------------


@guard(GuardKind.ARGUMENTS)
def end_state_requested(p: Proposal) -> None:
    """An execution is completed in an end state (or in the one derived from its task runs)."""
    if not p.requested.is_terminal:
        raise InvalidArgument([("state", "must be a terminal state (or unset to derive it)")])


@guard(GuardKind.TRANSITION)
def legal_move(p: Proposal) -> None:
    """The transition table allows the move (of the task run, else of the execution)."""
    if p.task_run is not None:
        subject = task_run_subject(p.task_run.id)
        check_transition(Kind.TASK_RUN, p.task_run.state, p.requested, subject=subject)
    else:
        ex = p.execution
        check_transition(Kind.EXECUTION, ex.state, p.requested, subject=execution_subject(ex.id))


@guard(GuardKind.TRANSITION)
def legal_end(p: Proposal) -> None:
    """An execution may end in the requested state; one reaches KILLED only through
    KILLING, so a KILLED end not yet being killed must be allowed to go KILLING."""
    ex = p.execution
    step = State.KILLING if p.requested is State.KILLED and ex.state is not State.KILLING else None
    check_transition(
        Kind.EXECUTION, ex.state, step or p.requested, subject=execution_subject(ex.id)
    )


@guard(GuardKind.TRANSITION)
def resuming_from_pause(p: Proposal) -> None:
    """Only what is PAUSED resumes (RUNNING is reachable from elsewhere: that is not
    a resume)."""
    if p.task_run is not None:
        if p.task_run.state is not State.PAUSED:
            raise InvalidTransition(
                Kind.TASK_RUN.value,
                p.task_run.state,
                State.RUNNING,
                subject=task_run_subject(p.task_run.id),
            )
    elif p.execution.state is not State.PAUSED:
        raise InvalidTransition(
            Kind.EXECUTION.value,
            p.execution.state,
            State.RUNNING,
            subject=execution_subject(p.execution.id),
        )


@guard(GuardKind.PAYLOAD)
def outputs_only_at_the_end(p: Proposal) -> None:
    """Outputs are written with the transition that ends the object, and only then."""
    if p.outputs is not None and not p.requested.is_terminal:
        raise InvalidArgument([("outputs", "are accepted only with a terminal state")])


@guard(GuardKind.EXECUTION)
def execution_not_finished(p: Proposal) -> None:
    """Task runs belong to a live execution.

    Creating or moving a task run of a terminal execution would break invariant
    2 (a restart goes through RestartExecution instead).
    """
    ex = p.execution
    if ex.state.is_terminal:
        raise FailedPrecondition(
            "EXECUTION_TERMINAL",
            f"execution {ex.id} is {ex.state.value}: its task runs cannot change",
            subject=execution_subject(ex.id),
            metadata={"execution_state": ex.state.value},
        )


@guard(GuardKind.EXECUTION)
def execution_takes_new_task_runs(p: Proposal) -> None:
    """An execution being killed accepts no new work."""
    ex = p.execution
    if ex.state is State.KILLING:
        raise FailedPrecondition(
            "EXECUTION_KILLING",
            f"execution {ex.id} is being killed: it accepts no new task run",
            subject=execution_subject(ex.id),
            metadata={"execution_state": ex.state.value},
        )


@guard(GuardKind.EXECUTION)
def execution_runnable(p: Proposal) -> None:
    """No task run may start while its execution is paused or being killed.

    Resuming a paused task run is not a start, so it is allowed.
    """
    ex, task_run_id = p.execution, p.task_run.id if p.task_run else ""
    if ex.state is State.PAUSED:
        raise FailedPrecondition(
            "EXECUTION_PAUSED",
            f"execution {ex.id} is PAUSED: task run {task_run_id} cannot start",
            subject=execution_subject(ex.id),
            metadata={"execution_state": ex.state.value},
        )
    if ex.state is State.KILLING:
        raise FailedPrecondition(
            "EXECUTION_KILLING",
            f"execution {ex.id} is being killed: task run {task_run_id} cannot start",
            subject=execution_subject(ex.id),
            metadata={"execution_state": ex.state.value},
        )


@guard(GuardKind.TASK_RUNS)
def no_active_task_runs_at_the_end(p: Proposal) -> None:
    """Invariant 2: a terminal execution never has a non-terminal task run.

    An execution may only end once every task run has ended.
    """
    ex, active = p.execution, p.active_task_runs
    if p.requested.is_terminal and active > 0:
        raise FailedPrecondition(
            "TASK_RUNS_ACTIVE",
            f"execution {ex.id} has {active} active task run(s); "
            f"it cannot go to {p.requested.value} before they end",
            subject=execution_subject(ex.id),
            metadata={"active_task_runs": str(active)},
        )


@guard(GuardKind.TIMING)
def retry_due(p: Proposal) -> None:
    """A task run waiting for a retry cannot start before its next_attempt_time."""
    task_run = p.task_run
    if task_run is None:
        return
    due = task_run.next_attempt_time_us
    if task_run.state is State.RESTARTED and due is not None and p.now_us < due:
        raise FailedPrecondition(
            "RETRY_NOT_DUE",
            f"task run {task_run.id} may start its next attempt at {iso_time(due)}, not before",
            subject=task_run_subject(task_run.id),
            metadata={"next_attempt_time_us": str(due)},
        )


# -- which guards apply to which move ----------------------------------------------------


class Move(enum.Enum):
    """The moves the lifecycle procedures make on request, each with its guards."""

    #: A new task run joins the execution.
    CREATE_TASK_RUN = "create a task run"
    #: A task run enters RUNNING from CREATED or RESTARTED (a new attempt).
    START_TASK_RUN = "start a task run"
    #: Any other move of a task run by request.
    MOVE_TASK_RUN = "move a task run"
    #: A PAUSED task run goes back to RUNNING.
    RESUME_TASK_RUN = "resume a task run"
    #: PauseExecution naming a task run asks its execution first ...
    PAUSE_IN_EXECUTION = "pause something in an execution"
    #: ... then the task run.
    PAUSE_TASK_RUN = "pause a task run"
    #: TransitionExecution: a move of the execution by request.
    MOVE_EXECUTION = "move an execution"
    #: CompleteExecution: the execution ends, in a state given or derived.
    END_EXECUTION = "end an execution"
    #: The first phase of a kill: the execution goes KILLING.
    KILL_EXECUTION = "kill an execution"
    RESTART_EXECUTION = "restart an execution"
    PAUSE_EXECUTION = "pause an execution"
    RESUME_EXECUTION = "resume an execution"


_TASK_RUN_MOVE = (legal_move, outputs_only_at_the_end, execution_not_finished)

#: The guards of each move (applied in the order of :data:`POLICY`).
GUARDS: Mapping[Move, tuple[Guard, ...]] = {
    Move.CREATE_TASK_RUN: (execution_not_finished, execution_takes_new_task_runs),
    Move.START_TASK_RUN: (*_TASK_RUN_MOVE, execution_runnable, retry_due),
    Move.MOVE_TASK_RUN: _TASK_RUN_MOVE,
    Move.RESUME_TASK_RUN: (resuming_from_pause, *_TASK_RUN_MOVE),
    Move.PAUSE_IN_EXECUTION: (execution_not_finished,),
    Move.PAUSE_TASK_RUN: (legal_move,),
    Move.MOVE_EXECUTION: (legal_move, outputs_only_at_the_end, no_active_task_runs_at_the_end),
    Move.END_EXECUTION: (
        end_state_requested,
        legal_end,
        outputs_only_at_the_end,
        no_active_task_runs_at_the_end,
    ),
    Move.KILL_EXECUTION: (legal_move,),
    Move.RESTART_EXECUTION: (legal_move,),
    Move.PAUSE_EXECUTION: (legal_move,),
    Move.RESUME_EXECUTION: (resuming_from_pause,),
}


def in_policy_order(guards: Iterable[Guard]) -> tuple[Guard, ...]:
    """``guards`` sorted by :data:`POLICY` (a stable sort: one kind keeps its order)."""
    rank = {kind: i for i, kind in enumerate(POLICY)}
    return tuple(sorted(guards, key=lambda g: rank[g.kind]))


_ORDERED: Mapping[Move, tuple[Guard, ...]] = {
    move: in_policy_order(guards) for move, guards in GUARDS.items()
}


def guards_of(move: Move) -> tuple[Guard, ...]:
    """The guards ``move`` runs, in the order it runs them."""
    return _ORDERED[move]


def apply_guards(
    move: Move, proposal: Proposal, *, table: Mapping[Move, tuple[Guard, ...]] | None = None
) -> None:
    """Run the guards declared for ``move`` (in :data:`GUARDS`, or ``table``) on
    ``proposal``, in policy order; the first that refuses raises."""
    guards = _ORDERED[move] if table is None else in_policy_order(table[move])
    for each in guards:
        each.check(proposal)


def task_run_move(task_run: TaskRun, requested: State) -> Move:
    """Which move a request to move ``task_run`` to ``requested`` is."""
    if requested is State.RUNNING and task_run.state in STARTABLE_STATES:
        return Move.START_TASK_RUN
    return Move.MOVE_TASK_RUN
