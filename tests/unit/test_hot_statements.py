"""The hot statements' ``IN`` lists: padded to a power of two, the same rows."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from statehouse.server.storage.hot import Hot
from statehouse.server.storage.schema import counters
from statehouse.server.storage.sequencer import CounterRowSequencer

_META = sa.MetaData()
_THINGS = sa.Table("things", _META, sa.Column("id", sa.Text, primary_key=True))
_BY_IDS = Hot(
    sa.select(_THINGS.c.id)
    .where(_THINGS.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(_THINGS.c.id),
    expanding="ids",
)


def test_lists_of_any_length_share_a_few_texts() -> None:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    texts = {_BY_IDS.prepared_rows(dialect, [f"t{i}" for i in range(n)])[0] for n in range(1, 101)}
    # 1, 2, 4, 8, 16, 32, 64 and 128 places: eight texts for a hundred lengths.
    assert len(texts) == 8
    sql, params = _BY_IDS.prepared_rows(dialect, ["a", "b", "c"])
    assert params == {"ids_1": "a", "ids_2": "b", "ids_3": "c", "ids_4": "c"}
    assert sql.count("%(ids_") == 4
    assert _BY_IDS.prepared_rows(dialect, ["a", "b"])[1] == {"ids_1": "a", "ids_2": "b"}


def test_a_padded_list_reads_the_rows_it_names_once() -> None:
    engine = sa.create_engine("sqlite://")
    _META.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(_THINGS), [{"id": f"t{i}"} for i in range(10)])
        for n in range(1, 10):
            wanted = [f"t{i}" for i in range(n)]
            assert _BY_IDS.rows(conn, wanted) == [(i,) for i in wanted]
        assert _BY_IDS.rows(conn, ["t3", "nope", "t1"]) == [("t1",), ("t3",)]


_COUNTERS = sa.Table(
    "counters", _META, sa.Column("name", sa.Text, primary_key=True), sa.Column("value", sa.Integer)
)
_BUMP = Hot(
    sa.update(_COUNTERS)
    .where(_COUNTERS.c.name == sa.bindparam("counter"))
    .values(value=_COUNTERS.c.value + sa.bindparam("count"))
    .returning(_COUNTERS.c.value)
)


def test_one_runs_an_update_returning_its_row_or_none() -> None:
    engine = sa.create_engine("sqlite://")
    _META.create_all(engine)
    statements: list[str] = []
    sa.event.listen(
        engine, "before_cursor_execute", lambda *args: statements.append(args[2].split()[0])
    )
    with engine.begin() as conn:
        conn.execute(sa.insert(_COUNTERS), [{"name": "seq", "value": 10}])
        assert _BUMP.one(conn, {"counter": "seq", "count": 5}) == (15,)
        assert _BUMP.one(conn, {"count": 1, "counter": "seq"}) == (16,)
        assert _BUMP.one(conn, {"counter": "none", "count": 1}) is None
    with engine.connect() as conn:
        assert conn.execute(sa.select(_COUNTERS.c.value)).scalar_one() == 16
    # The engine's listeners hear it, as they hear SQLAlchemy's own statements.
    assert statements.count("UPDATE") == 3


def test_one_binds_the_statements_own_values_too() -> None:
    bump_seq = Hot(
        sa.update(_COUNTERS)
        .where(_COUNTERS.c.name == "seq")
        .values(value=_COUNTERS.c.value + sa.bindparam("count"))
        .returning(_COUNTERS.c.value)
    )
    engine = sa.create_engine("sqlite://")
    _META.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(_COUNTERS), [{"name": "seq", "value": 1}, {"name": "x", "value": 7}])
        assert bump_seq.one(conn, {"count": 2}) == (3,)
        assert conn.execute(sa.select(_COUNTERS.c.value).order_by("name")).scalars().all() == [3, 7]


def test_one_raises_the_drivers_error_as_sqlalchemys() -> None:
    engine = sa.create_engine("sqlite://")  # no table
    with engine.begin() as conn, pytest.raises(sa.exc.OperationalError, match="no such table"):
        _BUMP.one(conn, {"counter": "seq", "count": 1})


def test_the_sequencer_refuses_a_database_without_its_counter_row() -> None:
    engine = sa.create_engine("sqlite://")
    counters.create(engine)
    with engine.begin() as conn, pytest.raises(RuntimeError, match="not migrated"):
        CounterRowSequencer().allocate(conn, 3)
