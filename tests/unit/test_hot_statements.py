"""The hot statements' ``IN`` lists: padded to a power of two, the same rows."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from statehouse.server.storage.hot import Hot

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
