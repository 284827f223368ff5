"""``--database``: the URL forms accepted (``storage/url.py``), and the one-line
refusals of the others."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from statehouse.server.storage import DatabaseUrlError
from statehouse.server.storage.url import parse_database_url


def connect_args(text: str) -> dict[str, object]:
    url = parse_database_url(text)
    _, params = sa.create_engine(url).dialect.create_connect_args(url)
    params.pop("context", None)
    return params


@pytest.mark.parametrize(
    "text",
    [
        "postgresql+psycopg://app@/statehouse?host=db1:5432&host=db2:5433",
        "postgresql+psycopg://app@db1:5432,db2:5433/statehouse",
        "postgresql://app@db1:5432,db2:5433/statehouse",
        "postgres://app@db1:5432,db2:5433/statehouse",
    ],
)
def test_both_multi_host_forms_reach_the_primary_of_the_hosts(text: str) -> None:
    assert connect_args(text) == {
        "dbname": "statehouse",
        "user": "app",
        "host": "db1,db2",
        "port": "5432,5433",
        "target_session_attrs": "read-write",
        "connect_timeout": "5",
    }


def test_what_the_url_sets_itself_is_kept() -> None:
    params = connect_args(
        "postgresql+psycopg://app:pw@db1,db2/statehouse?target_session_attrs=primary"
        "&connect_timeout=2&sslmode=require"
    )
    assert params["target_session_attrs"] == "primary"
    assert params["connect_timeout"] == "2"
    assert params["sslmode"] == "require"
    assert params["password"] == "pw"
    assert params["host"] == "db1,db2"


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("postgresql+psycopg://app@/statehouse?host=127.0.0.1:5433", "127.0.0.1", "5433"),
        ("postgresql+psycopg://app@127.0.0.1:5433/statehouse", "127.0.0.1", 5433),
    ],
)
def test_one_host_in_either_form(text: str, host: str, port: object) -> None:
    params = connect_args(text)
    assert params["host"] == host and params["port"] == port
    assert "target_session_attrs" not in params  # one host: whatever it is


def test_sqlite_is_as_it_was() -> None:
    assert str(parse_database_url("sqlite:////var/lib/statehouse/db")) == (
        "sqlite:////var/lib/statehouse/db"
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("mysql://app:secret@db/statehouse", "stores on SQLite or PostgreSQL, not 'mysql'"),
        ("not a url", "is not a database URL"),
        ("", "is not a database URL"),
        ("postgresql+asyncpg://app@db/statehouse", "through psycopg 3"),
        (
            "postgresql+psycopg://app@db1:99999,db2/statehouse",
            "'db1:99999' is not HOST or HOST:PORT",
        ),
        ("postgresql+psycopg://app@db1,/statehouse", "'' is not HOST or HOST:PORT"),
        ("postgresql+psycopg://app@db0/statehouse?host=db1", "either before the database name"),
        ("postgresql+psycopg://app@db:port/statehouse", "is not a database URL"),
    ],
)
def test_a_bad_url_is_refused_in_one_line_without_its_password(text: str, says: str) -> None:
    with pytest.raises(DatabaseUrlError) as refused:
        parse_database_url(text)
    message = str(refused.value)
    assert says in message
    assert "\n" not in message and "secret" not in message
