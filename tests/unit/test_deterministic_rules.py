"""The rules draw no time, ids or randomness of their own: the same inputs make
the same change, with the ids of the factory passed in; and the typed values
(timer kinds, pause actions, retry policies) keep their stored forms."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable

import pytest

from statehouse.server import clock
from statehouse.server.orchestration import (
    ChangeSet,
    DeadlineAction,
    Execution,
    PauseAction,
    RetryKind,
    RetryPolicy,
    State,
    StateChange,
    TaskRun,
    Timer,
    TimerKind,
    lifecycle,
)
from statehouse.server.orchestration.context import sequential_ids
from statehouse.server.orchestration.retry import policy_from_json

S = State


def world() -> tuple[Execution, list[TaskRun]]:
    """A running execution with two running task runs (the first with a random retry
    policy) and a created one."""
    ex = Execution("ex", "ns", "f", S.RUNNING, [StateChange(S.RUNNING, 100, "")], 3, 1, 100)
    runs = [
        TaskRun(name, "ex", name, S.CREATED, [StateChange(S.CREATED, 1, "")], 1, 1)
        for name in ("r", "k", "c")
    ]
    runs[0].retry_policy = RetryPolicy(
        RetryKind.RANDOM, max_attempts=3, min_interval_us=10, max_interval_us=1_000_000
    )
    for tr in runs[:2]:
        lifecycle.move_task_run(ChangeSet(ex, 50), tr, S.RUNNING, reason="", worker_id="w")
    return ex, runs


def story(new_id: Callable[[], str], rng: random.Random) -> list[ChangeSet]:
    """Fail with a random retry, pause with a timeout, then kill: three changes."""
    ex, runs = world()
    failed = ChangeSet(ex, 1_000, new_id=new_id, rng=rng)
    lifecycle.move_task_run(failed, runs[0], S.FAILED, reason="boom")
    paused = ChangeSet(ex, 2_000, new_id=new_id, rng=rng)
    lifecycle.pause(paused, None, reason="", delay_us=None, timeout_us=500, action=PauseAction.FAIL)
    killed = ChangeSet(ex, 3_000, new_id=new_id, rng=rng)
    lifecycle.start_kill(killed, runs, reason="stop", deadline_us=9_000)
    for changes in (failed, paused, killed):
        changes.seal()
    return [failed, paused, killed]


def summary(changes: ChangeSet) -> tuple[object, ...]:
    return (
        changes.events,
        changes.new_timers,
        changes.cancelled_timers,
        [(t.id, t.state, t.next_attempt_time_us, t.history) for t in changes.changed_task_runs.values()],
        (changes.execution.state, changes.execution.revision, changes.execution.history),
    )  # fmt: skip


def test_the_same_inputs_make_the_same_changes() -> None:
    first = story(sequential_ids("t-"), random.Random(7))
    again = story(sequential_ids("t-"), random.Random(7))
    assert [summary(c) for c in first] == [summary(c) for c in again]
    assert [len(c.events) for c in first] == [2, 1, 4]


def test_timer_ids_come_from_the_factory_and_the_retry_wait_from_the_rng() -> None:
    _, paused, killed = story(sequential_ids("t-"), random.Random(7))
    assert [(t.id, t.kind, t.action) for t in paused.new_timers] == [
        ("t-1", TimerKind.PAUSE, PauseAction.FAIL)
    ]
    assert [(t.id, t.kind, t.due_time_us) for t in killed.new_timers] == [
        ("t-2", TimerKind.KILL_DEADLINE, 9_000)
    ]
    # The retry's wait is the rng's first draw.
    ex, runs = world()
    changes = ChangeSet(ex, 1_000, rng=random.Random(7))
    decision = lifecycle.move_task_run(changes, runs[0], S.FAILED, reason="")
    wait = random.Random(7).randint(10, 1_000_000)
    assert decision is not None and decision.scheduled
    assert decision.next_attempt_time_us == runs[0].next_attempt_time_us == 1_000 + wait
    # Another seed, another draw: the wait is the rng's, not the rule's.
    ex, runs = world()
    changes = ChangeSet(ex, 1_000, rng=random.Random(8))
    other = lifecycle.move_task_run(changes, runs[0], S.FAILED, reason="")
    assert other is not None
    assert other.next_attempt_time_us == 1_000 + random.Random(8).randint(10, 1_000_000)


def test_a_change_set_without_sources_is_deterministic_too() -> None:
    ex, runs = world()
    changes = ChangeSet(ex, 3_000)
    lifecycle.start_kill(changes, runs, reason="", deadline_us=9_000)
    assert [t.id for t in changes.new_timers] == ["ex/1"]


def test_the_rules_draw_no_time_ids_or_randomness(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_: object, **__: object) -> None:
        raise AssertionError("a rule drew from the environment")

    sources = random.Random(1)
    for module, name in [
        (uuid, "uuid4"),
        (time, "time"),
        (time, "time_ns"),
        (random, "random"),
        (random, "randint"),
    ]:
        monkeypatch.setattr(module, name, forbidden)
    *_, killed = story(sequential_ids("t-"), sources)
    assert killed.execution.state is S.KILLING


def test_the_server_draws_them_in_clock() -> None:
    assert abs(clock.now_us() - time.time_ns() // 1_000) < 60_000_000
    assert clock.new_id() != clock.new_id()
    assert isinstance(clock.RNG, random.Random)


# -- typed values, stored as before ---------------------------------------------------------


def test_timer_kinds_and_pause_actions_keep_their_stored_strings() -> None:
    assert [k.value for k in TimerKind] == [
        "PAUSE",
        "KILL_DEADLINE",
        "LEASE",
        "ATTEMPT_TIMEOUT",
        "MAX_DURATION",
        "MAX_CREATED_DURATION",
    ]
    assert [a.value for a in PauseAction] == ["DELAY", "RESUME", "WARN", "FAIL", "KILL"]
    assert [a.value for a in DeadlineAction] == ["FAIL", "KILL", "MARK"]
    # A deadline's action is a DeadlineAction, read back from its string.
    marked = Timer("t", "ex", "MAX_DURATION", 5, action="MARK")  # type: ignore[arg-type]
    assert marked.action is DeadlineAction.MARK
    # As the storage reads a timer back: the strings become the enums.
    read = Timer("t", "ex", "PAUSE", 5, action="WARN")  # type: ignore[arg-type]
    assert (read.kind, read.action) == (TimerKind.PAUSE, PauseAction.WARN)
    assert read.kind is TimerKind.PAUSE and read.action is PauseAction.WARN
    deadline = Timer("t", "ex", "KILL_DEADLINE", 5)  # type: ignore[arg-type]
    assert (deadline.kind, deadline.action) == (TimerKind.KILL_DEADLINE, "")


#: What the server has always stored for each kind, key for key and in this order.
STORED = [
    {"kind": "constant", "max_attempts": 3, "max_duration_us": 0, "warning_on_retry": False,
     "interval_us": 5_000},
    {"kind": "exponential", "max_attempts": 4, "max_duration_us": 60_000_000,
     "warning_on_retry": True, "interval_us": 1, "max_interval_us": 9, "factor": 1.5},
    {"kind": "random", "max_attempts": 2, "max_duration_us": 0, "warning_on_retry": False,
     "min_interval_us": 10, "max_interval_us": 20},
]  # fmt: skip


@pytest.mark.parametrize("stored", STORED, ids=[s["kind"] for s in STORED])
def test_a_retry_policy_is_stored_as_the_same_json(stored: dict[str, object]) -> None:
    policy = policy_from_json(stored)
    assert policy is not None
    assert list(policy.to_json().items()) == list(stored.items())
    assert RetryPolicy.from_json(policy.to_json()) == policy
    with pytest.raises(AttributeError):
        policy.max_attempts = 9  # type: ignore[misc]


@pytest.mark.parametrize(
    "stored",
    [
        {"kind": "exponential", "max_attempts": 3, "interval_us": 1, "max_interval_us": 9,
         "factor": None},
        {"kind": "linear", "max_attempts": 3},
        {"kind": "constant", "max_attempts": -1, "interval_us": 1},
        {"kind": "constant", "max_attempts": 3},
        ["constant"],
    ],
)  # fmt: skip
def test_an_unusable_stored_retry_policy_is_refused(stored: object) -> None:
    with pytest.raises(ValueError):
        policy_from_json(stored)


def test_a_request_s_retry_policy_is_parsed_once_and_written_back_the_same() -> None:
    from google.protobuf import duration_pb2

    from statehouse.server.api import convert
    from statehouse.v1 import execution_pb2, execution_service_pb2 as pb

    sent = execution_pb2.RetryPolicy(
        max_attempts=4,
        exponential=execution_pb2.RetryPolicy.Exponential(
            interval=duration_pb2.Duration(nanos=1_000),
            max_interval=duration_pb2.Duration(nanos=9_000),
            factor=1.5,
        ),
        max_duration=duration_pb2.Duration(seconds=60),
        warning_on_retry=True,
    )
    policy = convert.retry_policy_from_pb(pb.CreateTaskRunRequest(retry_policy=sent))
    assert policy is not None and policy.to_json() == STORED[1]
    back = execution_pb2.RetryPolicy()
    convert.retry_policy_to_pb(policy, back)
    assert back == sent
