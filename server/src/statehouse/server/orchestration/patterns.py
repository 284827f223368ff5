"""Namespace patterns: the one grammar, its parser, its matcher.

::

    pattern   = "*" | namespace | namespace ".*"
    namespace = limits.NAMESPACE_RE (lowercase letters, digits, '.', '_', '-')

``acme`` is that namespace only, ``acme.*`` is ``acme`` and every namespace
under ``acme.`` (not ``acmecorp``), ``*`` is every namespace.

Every user of patterns goes through here: token creation (the API's
validation, ``security/credentials.py``), access checks and JWT claims
(``security/access.py``, ``security/jwts.py``), the filters of lists and
streams (``filters.py``, the event hub) and their SQL (``storage/scope.py``,
which renders :func:`split`). A bad pattern is refused by :func:`problem`
with the one message :data:`RULE`.
"""

from __future__ import annotations

from ..limits import NAMESPACE_RE

__all__ = ["EVERY", "RULE", "covers", "matches", "problem", "split"]

#: The pattern of every namespace.
EVERY = "*"
#: Why a string is not a pattern: the one message of every user.
RULE = "must be a namespace, a prefix pattern such as acme.*, or *"

_SUBTREE = ".*"


def split(pattern: str) -> tuple[str, bool]:
    """The parse of a pattern: its namespace and whether it takes the subtree
    under it; ``("", True)`` for ``*``. The structure only: :func:`problem`
    says whether the namespace is one."""
    if pattern == EVERY:
        return "", True
    if pattern.endswith(_SUBTREE):
        return pattern[: -len(_SUBTREE)], True
    return pattern, False


def problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a namespace pattern (:data:`RULE`), or None."""
    name, _ = split(pattern)
    if pattern == EVERY or NAMESPACE_RE.match(name):
        return None
    return RULE


def matches(pattern: str, namespace: str) -> bool:
    """Whether ``pattern`` covers ``namespace``."""
    if pattern == EVERY:
        return True
    name, subtree = split(pattern)
    if subtree:
        return namespace == name or namespace.startswith(name + ".")
    return namespace == name


def covers(outer: str, inner: str) -> bool:
    """Whether every namespace ``inner`` covers is also covered by ``outer``."""
    if outer == EVERY:
        return True
    if inner == EVERY:
        return False
    name, subtree = split(inner)
    if subtree and not split(outer)[1]:
        return False  # an exact name never covers a subtree: `acme` is not `acme.*`
    return matches(outer, name)
