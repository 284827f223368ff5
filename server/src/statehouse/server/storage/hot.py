"""Hot statements: compiled once per database, run on the driver's own cursor.

SQLAlchemy keeps the schema, the migrations and every cold query. The few
statements that every state change runs (read the task runs and executions a
batch moves, update them, take the events' sequences, insert the events) go
through :class:`Hot` instead: the statement is compiled once per dialect (and, for an ``IN`` list,
once per power of two its length rounds up to: the list is padded with its last
value, which matches nothing more), and each execution hands the driver (sqlite3, psycopg)
the SQL text and the parameters as they are, without SQLAlchemy's per-call
work (compiling the cache key, processing parameters, building result rows).
The columns these statements touch are plain integers and text, which the
drivers convert themselves.

The engine's ``before_cursor_execute`` listeners still hear each statement
(the benchmark counts statements with one).

Why the ``IN`` lists are padded: a batch of writes reads its task runs with one
``IN`` list as long as the batch, and batches take any length from 1 to
``group_commit_max``. One SQL text per length would be a compile per new length
in each process, and on PostgreSQL a text psycopg sees too seldom to prepare
(``prepare_threshold``), so parsed and planned again by the database on each
commit. Rounded up to powers of two, a handful of texts serve every length.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any, NoReturn

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.expression import Executable


class Hot:
    """One statement, compiled once per dialect (and ``IN`` list length)."""

    __slots__ = ("_compiled", "_getters", "_literals", "expanding", "statement")

    def __init__(self, statement: Executable, *, expanding: str | None = None) -> None:
        self.statement = statement
        #: The name of an ``IN`` list's expanding bind parameter, if it has one.
        self.expanding = expanding
        self._compiled: dict[tuple[str, int], tuple[str, tuple[str, ...] | None]] = {}
        #: The values the statement itself binds (its literals), by dialect.
        self._literals: dict[str, dict[str, Any]] = {}
        #: A row's positional parameters, read at once (``itemgetter``), by dialect.
        self._getters: dict[str, Callable[[Mapping[str, Any]], tuple[Any, ...]]] = {}

    def _compile(self, dialect: Dialect, size: int = 0) -> tuple[str, tuple[str, ...] | None]:
        key = (dialect.name, size)
        found = self._compiled.get(key)
        if found is None:
            statement: Any = self.statement
            kwargs: dict[str, Any] = {}
            if self.expanding is not None:
                statement = statement.params({self.expanding: [""] * size})
                kwargs = {"compile_kwargs": {"render_postcompile": True}}
            compiled = statement.compile(dialect=dialect, **kwargs)
            if self.expanding is None:  # (an expanded statement's are hard-linked)
                self._literals[dialect.name] = {
                    k: v for k, v in compiled.params.items() if v is not None
                }
            names = tuple(compiled.positiontup) if dialect.positional else None
            found = self._compiled[key] = (str(compiled), names)
        return found

    def _cursor(self, conn: Connection, sql: str, params: Any, many: bool) -> Any:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        listeners = conn.dispatch.before_cursor_execute
        if listeners:
            for listener in listeners:
                listener(conn, cursor, sql, params, None, many)
        return cursor

    def prepared_rows(self, dialect: Dialect, values: Sequence[Any]) -> tuple[str, Any]:
        """The SQL and the parameters of :meth:`rows`, for a driver to run itself
        (the ``IN`` list padded to a power of two with its last value)."""
        size = len(values)
        if size > 1:
            padded = 1 << (size - 1).bit_length()
            if padded != size:
                values = [*values, *([values[-1]] * (padded - size))]
        sql, names = self._compile(dialect, len(values))
        if names is None:  # named parameters: expanding_1, expanding_2, ...
            return sql, {f"{self.expanding}_{i}": v for i, v in enumerate(values, 1)}
        return sql, tuple(values)

    def prepared_many(self, dialect: Dialect, rows: Sequence[Mapping[str, Any]]) -> tuple[str, Any]:
        """The SQL and the parameters of :meth:`many`, for a driver to run itself."""
        sql, names = self._compile(dialect)
        if names is None:
            return sql, rows
        getter = self._getter(dialect, names)
        return sql, [getter(r) for r in rows]

    def _getter(
        self, dialect: Dialect, names: tuple[str, ...]
    ) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
        getter = self._getters.get(dialect.name)
        if getter is None:
            getter = self._getters[dialect.name] = _positional(names)
        return getter

    def rows(self, conn: Connection, values: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run a SELECT whose only parameter is the ``IN`` list ``values``."""
        sql, params = self.prepared_rows(conn.dialect, values)
        cursor = self._cursor(conn, sql, params, False)
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        except Exception as exc:
            _raise(conn, exc, sql, params, cursor)
        finally:
            cursor.close()

    def one(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Run the statement once with ``params`` (and the values it binds itself,
        such as a ``column == "literal"``); the first row it returns (an
        ``UPDATE ... RETURNING``'s), None when it returns none."""
        sql, names = self._compile(conn.dialect)
        params = {**self._literals[conn.dialect.name], **params}
        args: Any = params if names is None else self._getter(conn.dialect, names)(params)
        cursor = self._cursor(conn, sql, args, False)
        try:
            cursor.execute(sql, args)
            rows = cursor.fetchall()
            return tuple(rows[0]) if rows else None
        except Exception as exc:
            _raise(conn, exc, sql, args, cursor)
        finally:
            cursor.close()

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run the statement once per row (``executemany``); the rows it changed."""
        sql, params = self.prepared_many(conn.dialect, rows)
        cursor = self._cursor(conn, sql, params, True)
        try:
            cursor.executemany(sql, params)
            return int(cursor.rowcount)
        except Exception as exc:
            _raise(conn, exc, sql, params, cursor)
        finally:
            cursor.close()


def _positional(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's values of ``names``, as a tuple (itemgetter gives a lone value bare)."""
    if len(names) == 1:
        (name,) = names
        return lambda row: (row[name],)
    return itemgetter(*names)


def _raise(conn: Connection, exc: Exception, sql: str, params: Any, cursor: Any) -> NoReturn:
    """The driver's error as SQLAlchemy's, as ``conn.execute`` would raise it: a
    lost connection is invalidated and says so (``storage/errors.py`` tells it
    from a bad statement), a deadlock is a DBAPIError the batch retries."""
    conn._handle_dbapi_exception(exc, sql, params, cursor, None)
