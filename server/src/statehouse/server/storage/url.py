"""``--database``: the URL forms Statehouse accepts, checked once, said in one line.

- ``sqlite:///PATH`` (the embedded default);
- ``postgresql+psycopg://USER[:PASSWORD]@HOST[:PORT]/DATABASE`` (``postgresql://``
  and ``postgres://`` mean the same; psycopg is the one driver);
- several PostgreSQL hosts, a primary and its standbys, in either form libpq
  knows: ``postgresql+psycopg://USER@/DATABASE?host=H1:P1&host=H2:P2`` or
  ``postgresql+psycopg://USER@H1:P1,H2:P2/DATABASE`` (rewritten to the first,
  the one SQLAlchemy parses). With several hosts, ``target_session_attrs``
  defaults to ``read-write``: every connection, the NOTIFY listener's
  included, goes to whichever host is the primary now.

Every PostgreSQL URL gets ``connect_timeout=5`` unless it sets one, so that a
host that does not answer at all (a dead machine, not a refused port) costs a
connection attempt five seconds before the next host is tried, not minutes.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import sqlalchemy as sa

from .errors import DatabaseUrlError

#: Added to a PostgreSQL URL that does not set them.
CONNECT_TIMEOUT = "5"
MULTI_HOST_SESSION = "read-write"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$", re.DOTALL)
_HOST_PORT = re.compile(r"^([^:\[\]/?#@,]+)(?::(\d{1,5}))?$")
_FORMS = (
    "sqlite:///PATH, postgresql+psycopg://USER@HOST:PORT/DATABASE, or several "
    "PostgreSQL hosts: postgresql+psycopg://USER@H1:P1,H2:P2/DATABASE"
)


def hidden(text: str) -> str:
    """``text`` with the password of a URL-like string replaced by ``***``."""
    return re.sub(r"(://[^:/@?#]*:)[^@/?#]*@", r"\1***@", text)


def parse_database_url(text: str) -> sa.URL:
    """The URL ``--database`` gives, checked and completed (DatabaseUrlError if unusable)."""
    text = text.strip()
    match = _SCHEME.match(text)
    if match is None:
        raise DatabaseUrlError(f"--database {hidden(text)!r} is not a database URL: give {_FORMS}")
    scheme, rest = match.groups()
    backend, _, driver = scheme.lower().partition("+")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise DatabaseUrlError(
                f"--database: SQLite is used through Python's sqlite3: sqlite:///PATH, not {scheme}://"
            )
        return _make(text)
    if backend not in ("postgresql", "postgres"):
        raise DatabaseUrlError(
            f"--database {hidden(text)!r}: Statehouse stores on SQLite or PostgreSQL, "
            f"not {backend!r}: give {_FORMS}"
        )
    if driver not in ("", "psycopg"):
        raise DatabaseUrlError(
            f"--database: PostgreSQL is used through psycopg 3: postgresql+psycopg://..., "
            f"not {scheme}://"
        )
    url = _make("postgresql+psycopg://" + _libpq_hosts(rest, text))
    return _complete(url, text)


def _make(text: str) -> sa.URL:
    try:
        return sa.make_url(text)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise DatabaseUrlError(
            f"--database {hidden(text)!r} is not a database URL ({exc}): give {_FORMS}"
        ) from None


def _libpq_hosts(rest: str, text: str) -> str:
    """``USER@H1:P1,H2:P2/DB?...`` as ``USER@/DB?host=H1:P1&host=H2:P2&...``."""
    end = len(rest)
    for stop in "/?":
        position = rest.find(stop, rest.rfind("@") + 1)
        if position != -1:
            end = min(end, position)
    netloc, tail = rest[:end], rest[end:]
    userinfo, at, hosts = netloc.rpartition("@")
    if "," not in hosts:
        return rest
    entries = [h.strip() for h in hosts.split(",")]
    for entry in entries:
        found = _HOST_PORT.match(entry)
        if found is None or (found.group(2) and not 0 < int(found.group(2)) < 65536):
            raise DatabaseUrlError(
                f"--database {hidden(text)!r}: {entry!r} is not HOST or HOST:PORT "
                "(hosts are separated by commas; give an IPv6 address a host name)"
            )
    path, _, query = tail.partition("?")
    params = "&".join(f"host={quote(entry, safe='[]:')}" for entry in entries)
    query = params + ("&" + query if query else "")
    return f"{userinfo}{at}{path or '/'}?{query}"


def _complete(url: sa.URL, text: str) -> sa.URL:
    hosts = url.query.get("host", ())
    listed = [hosts] if isinstance(hosts, str) else list(hosts)
    if url.host and listed:
        raise DatabaseUrlError(
            f"--database {hidden(text)!r}: give the hosts either before the database "
            "name or as ?host=, not both"
        )
    count = len(listed) if listed else len((url.host or "").split(","))
    for entry in listed:
        found = _HOST_PORT.match(entry)
        if found is None and not entry.startswith("/"):  # a directory: a Unix socket
            raise DatabaseUrlError(
                f"--database {hidden(text)!r}: host={entry!r} is not HOST or HOST:PORT"
            )
    extra: dict[str, str] = {}
    if "connect_timeout" not in url.query:
        extra["connect_timeout"] = CONNECT_TIMEOUT
    if count > 1 and "target_session_attrs" not in url.query:
        extra["target_session_attrs"] = MULTI_HOST_SESSION
    return url.update_query_dict(extra) if extra else url
