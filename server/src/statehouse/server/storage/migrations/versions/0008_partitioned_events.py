"""PostgreSQL: the event log partitioned by range of sequence (SQLite keeps its table).

The existing table is not copied: it becomes the first partition, for every
sequence below the next multiple of the width above the head (its primary key
and index become the partitions' own; attaching it reads it once to check its
rows). Then a partition of the width beyond it and the tail, ``events_tail``,
to MAXVALUE. What keeps the partitions ahead from then on, and why by
sequence: ``storage/partitions.py``. The statements are written out here, not
taken from that module, so that this migration stays what it was.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

WIDTH = 1_000_000


def _name(lower: int) -> str:
    return f"events_p{lower:019d}"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    head = bind.execute(
        sa.text(
            "SELECT greatest((SELECT value FROM counters WHERE name = 'event_sequence'), "
            "(SELECT coalesce(max(sequence), 0) FROM events))"
        )
    ).scalar_one()
    first_upper = (int(head) // WIDTH + 1) * WIDTH
    old = _name(0)
    op.execute(f"ALTER TABLE events RENAME TO {old}")
    op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT pk_events TO {old}_pkey")
    op.execute(f"ALTER INDEX ix_events_execution_id_sequence RENAME TO {old}_execution_id_idx")
    op.execute(f"CREATE TABLE events (LIKE {old} INCLUDING DEFAULTS) PARTITION BY RANGE (sequence)")
    op.execute("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (sequence)")
    op.execute("CREATE INDEX ix_events_execution_id_sequence ON events (execution_id, sequence)")
    op.execute(
        f"ALTER TABLE events ATTACH PARTITION {old} FOR VALUES FROM (MINVALUE) TO ({first_upper})"
    )
    for name, lower, upper in (
        (_name(first_upper), str(first_upper), str(first_upper + WIDTH)),
        ("events_tail", str(first_upper + WIDTH), "MAXVALUE"),
    ):
        op.execute(f"CREATE TABLE {name} (LIKE events INCLUDING DEFAULTS)")
        op.execute(
            f"ALTER TABLE events ATTACH PARTITION {name} FOR VALUES FROM ({lower}) TO ({upper})"
        )
    op.execute(
        f"INSERT INTO counters (name, value) VALUES ('event_partition_width', {WIDTH}) "
        "ON CONFLICT (name) DO NOTHING"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("CREATE TABLE events_unpartitioned (LIKE events INCLUDING DEFAULTS)")
    op.execute("INSERT INTO events_unpartitioned SELECT * FROM events")
    op.execute("DROP TABLE events")
    op.execute("ALTER TABLE events_unpartitioned RENAME TO events")
    op.execute("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY (sequence)")
    op.execute("CREATE INDEX ix_events_execution_id_sequence ON events (execution_id, sequence)")
    op.execute("DELETE FROM counters WHERE name = 'event_partition_width'")
