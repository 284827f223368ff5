"""A namespace scope in SQL: the one translation of the patterns of
``orchestration/filters.py`` (``matches``) into a WHERE clause, for the event
log, the lists of executions and the claims of workers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def in_scope(column: Any, patterns: tuple[str, ...]) -> Any:
    """SQL for "``column`` is covered by one of ``patterns``" (orchestration/filters.py ``matches``)."""
    clauses = []
    for pattern in patterns:
        if pattern == "*":
            return sa.true()
        if pattern.endswith(".*"):
            prefix = pattern[:-2]
            clauses.append(column == prefix)
            clauses.append(column.startswith(prefix + ".", autoescape=True))
        else:
            clauses.append(column == pattern)
    return sa.or_(*clauses) if clauses else sa.false()
