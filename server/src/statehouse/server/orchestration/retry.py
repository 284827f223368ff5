"""Retry policies: the server decides whether a failed attempt gets another one, and when.

A policy is stored with its task run as a plain dict with these keys:
``kind`` ("constant", "exponential" or "random"), ``interval_us``,
``max_interval_us``, ``min_interval_us``, ``factor``, ``max_attempts``
(counting the first attempt), ``max_duration_us`` (0: no limit) and
``warning_on_retry``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .model import TaskRun
from .states import State

KINDS = ("constant", "exponential", "random")


_INTEGERS = ("max_attempts", "max_duration_us", "interval_us", "max_interval_us", "min_interval_us")


def policy_from_json(policy: Any) -> dict[str, Any] | None:
    """A stored policy, checked for the shape the rules rely on (ValueError if not).

    Requests are validated before they are stored; this guards the reads of
    what an older server may have stored (a null factor, say).
    """
    if policy is None:
        return None
    if not isinstance(policy, dict) or policy.get("kind") not in KINDS:
        raise ValueError("a retry policy without a known kind")
    for key in _INTEGERS:
        if key in policy and (type(policy[key]) is not int or policy[key] < 0):
            raise ValueError(f"retry policy {key} is not a non-negative integer")
    factor = policy.get("factor", 2.0)
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor >= 1:
        raise ValueError("retry policy factor is not a number of at least 1")
    return policy


def interval_us(policy: dict[str, Any], failed_attempts: int, rng: random.Random) -> int:
    """The wait before the next attempt, after ``failed_attempts`` failures (>= 1)."""
    kind = policy["kind"]
    if kind == "constant":
        return int(policy["interval_us"])
    if kind == "exponential":
        factor = float(policy.get("factor") or 2.0)
        wait = policy["interval_us"] * factor ** (failed_attempts - 1)
        return int(min(wait, policy["max_interval_us"]))
    return rng.randint(int(policy["min_interval_us"]), int(policy["max_interval_us"]))


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What the server decided for a failed attempt."""

    scheduled: bool
    next_attempt: int = 0
    next_attempt_time_us: int = 0


def decide_retry(task_run: TaskRun, now_us: int, rng: random.Random) -> RetryDecision:
    """Whether the task run's latest failed attempt gets another one, and when.

    No retry past ``max_attempts`` attempts, nor when the next attempt would
    start more than ``max_duration`` after the first one started.
    """
    policy = task_run.retry_policy
    if not policy or not task_run.attempts:
        return RetryDecision(False)
    done = len(task_run.attempts)
    if done >= int(policy["max_attempts"]):
        return RetryDecision(False)
    due = now_us + interval_us(policy, done, rng)
    limit = int(policy.get("max_duration_us") or 0)
    first_start = task_run.attempts[0].history[0].time_us
    if limit and due - first_start > limit:
        return RetryDecision(False)
    return RetryDecision(True, done + 1, due)


def succeeded_after_retries(task_run: TaskRun, requested: State) -> bool:
    """A success after one or more retries ends in WARNING if the policy says so."""
    policy = task_run.retry_policy
    return (
        requested is State.SUCCESS
        and bool(policy)
        and bool(policy and policy.get("warning_on_retry"))
        and len(task_run.attempts) > 1
    )
