"""A namespace scope in SQL: the one rendering of the patterns of
``orchestration/patterns.py`` (``split``, ``matches``) as a WHERE clause, for
the event log, the lists of executions and the claims of workers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..orchestration.patterns import EVERY, split


def in_scope(column: Any, patterns: tuple[str, ...]) -> Any:
    """SQL for "``column`` is covered by one of ``patterns``" (``patterns.matches``)."""
    clauses = []
    for pattern in patterns:
        if pattern == EVERY:
            return sa.true()
        name, subtree = split(pattern)
        clauses.append(column == name)
        if subtree:
            clauses.append(column.startswith(name + ".", autoescape=True))
    return sa.or_(*clauses) if clauses else sa.false()
