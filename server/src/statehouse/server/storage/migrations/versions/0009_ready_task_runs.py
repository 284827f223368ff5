"""A partial index of the task runs a claim may start (CREATED or RESTARTED),
in the order claims take them (the time each became ready, then its id), so
that ClaimTaskRuns reads ready candidates only, never the finished task runs
(``storage/work.py``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_READY = sa.text("state IN ('CREATED', 'RESTARTED')")


def upgrade() -> None:
    op.create_index(
        "ix_task_runs_ready",
        "task_runs",
        [sa.text("COALESCE(next_attempt_time_us, update_time_us)"), "id"],
        sqlite_where=_READY,
        postgresql_where=_READY,
    )


def downgrade() -> None:
    op.drop_index("ix_task_runs_ready", table_name="task_runs")
