"""Namespace patterns: one grammar (orchestration/patterns.py), its edge
cases, and every user of it (the API's validation of CreateToken, offline
token creation, access checks, the filters and their SQL) refusing and
matching alike."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from statehouse.server.api import validation
from statehouse.server.orchestration import InvalidArgument
from statehouse.server.orchestration.filters import EventFilter
from statehouse.server.orchestration.model import Event
from statehouse.server.orchestration.patterns import RULE, covers, matches, problem
from statehouse.server.orchestration.states import State
from statehouse.server.security.access import Principal, Role
from statehouse.server.security.credentials import new_credential
from statehouse.server.storage.scope import in_scope
from statehouse.v1 import admin_service_pb2 as apb

# "acme." is a namespace (limits.NAMESPACE_RE: a dot anywhere after the first
# character), so "acme..*" is its subtree.
GOOD = [
    "acme.",
    "acme..*",
    "*",
    "acme",
    "acme.*",
    "acme.prod",
    "acme.prod.*",
    "a",
    "0-x_y.z",
    "a" * 150,
    "a" * 150 + ".*",
]
BAD = [
    "",
    "Acme",
    "*.acme",
    "acme*",
    "acme.**",
    ".*",
    "*.*",
    "**",
    ".acme",
    "-acme",
    "acme/x",
    "acme .*",
    "acme\n",
    "a" * 151,
]


@pytest.mark.parametrize("pattern", GOOD)
def test_a_good_pattern_has_no_problem(pattern: str) -> None:
    assert problem(pattern) is None


@pytest.mark.parametrize("pattern", BAD)
def test_a_bad_pattern_is_refused_with_the_one_message(pattern: str) -> None:
    assert problem(pattern) == RULE


@pytest.mark.parametrize(
    ("pattern", "namespace", "expected"),
    [
        ("*", "anything.at.all", True),
        ("acme", "acme", True),
        ("acme", "acme.prod", False),
        ("acme.*", "acme", True),
        ("acme.*", "acme.prod", True),
        ("acme.*", "acme.prod.eu", True),
        ("acme.*", "acmecorp", False),
        ("acme.prod.*", "acme", False),
        ("acme.prod.*", "acme.prod", True),
    ],
)
def test_matches(pattern: str, namespace: str, expected: bool) -> None:
    assert matches(pattern, namespace) is expected


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("*", "*", True),
        ("*", "acme.*", True),
        ("acme.*", "*", False),
        ("acme.*", "acme.*", True),
        ("acme.*", "acme.prod.*", True),
        ("acme.*", "acme.prod", True),
        ("acme", "acme.*", False),  # an exact name never grants its subtree
        ("acme.*", "acme.prod.*", True),
        ("acme", "acme", True),
        ("acme.prod.*", "acme.*", False),
        ("acme.*", "acmecorp", False),
    ],
)
def test_covers(outer: str, inner: str, expected: bool) -> None:
    assert covers(outer, inner) is expected


# -- every user refuses the same patterns with the same message --------------------------------


def _api(pattern: str) -> list[tuple[str, str]]:
    request = apb.CreateTokenRequest(name="t", role=1, namespaces=[pattern])
    try:
        validation.validate(request)
    except InvalidArgument as exc:
        return [(f, t) for f, t in exc.violations if f.startswith("namespaces")]
    return []


def _offline(pattern: str) -> list[tuple[str, str]]:
    try:
        new_credential(
            name="t",
            role="reader",
            namespaces=[pattern],
            ttl_seconds=None,
            certificate_subject="",
            created_by="test",
        )
    except InvalidArgument as exc:
        return [(f, t) for f, t in exc.violations if f.startswith("namespaces")]
    return []


def _access(pattern: str) -> list[tuple[str, str]]:
    admin = Principal("token:a", "a", Role.ADMIN, ("*",))
    try:
        admin.check_patterns([pattern], "namespaces")
    except InvalidArgument as exc:
        return list(exc.violations)
    return []


# The API bounds a pattern's length first (152 characters, a namespace and ".*").
@pytest.mark.parametrize("pattern", [p for p in BAD if p and len(p) <= 152])
@pytest.mark.parametrize("user", [_api, _offline, _access], ids=["api", "offline", "access"])
def test_every_user_refuses_a_bad_pattern_alike(user, pattern: str) -> None:  # type: ignore[no-untyped-def]
    assert user(pattern) == [("namespaces[0]", RULE)]


@pytest.mark.parametrize("pattern", GOOD)
@pytest.mark.parametrize("user", [_api, _offline, _access], ids=["api", "offline", "access"])
def test_every_user_accepts_a_good_pattern(user, pattern: str) -> None:  # type: ignore[no-untyped-def]
    assert user(pattern) == []


def test_the_filters_and_their_sql_match_as_the_grammar_does() -> None:
    namespaces = ["acme", "acme.prod", "acmecorp", "other", "acme_x", "acme%"]
    table = sa.Table("t", sa.MetaData(), sa.Column("namespace", sa.String))
    engine = sa.create_engine("sqlite://")
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"namespace": n} for n in namespaces])
        for scope in [("*",), ("acme",), ("acme.*",), ("acme.*", "other"), ("acme%.*",)]:
            selected = {
                row[0]
                for row in conn.execute(
                    sa.select(table.c.namespace).where(in_scope(table.c.namespace, scope))
                )
            }
            flt = EventFilter(scope=scope)
            expected = {n for n in namespaces if any(matches(p, n) for p in scope)}
            in_memory = {n for n in namespaces if flt.matches(_event(n))}
            assert selected == expected == in_memory, scope


def _event(namespace: str) -> Event:
    return Event(namespace, "flow", "e-1", State.RUNNING, 0)
