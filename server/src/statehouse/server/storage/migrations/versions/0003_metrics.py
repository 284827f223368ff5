"""Metrics of task run attempts, and their tags.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "metrics",
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("task_run_id", sa.String(64), nullable=False),
        sa.Column("task_id", sa.String(100), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("namespace", sa.String(150), nullable=False),
        sa.Column("flow_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("time_us", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_metrics_execution_id_executions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_metrics"),
    )
    op.create_index(
        "ix_metrics_task_run_id_attempt_name_type_tags",
        "metrics",
        ["task_run_id", "attempt", "name", "type", "tags"],
        unique=True,
    )
    op.create_index("ix_metrics_execution_id_id", "metrics", ["execution_id", "id"])
    op.create_index(
        "ix_metrics_namespace_name_type_time_us",
        "metrics",
        ["namespace", "name", "type", "time_us"],
    )
    op.create_table(
        "metric_tags",
        sa.Column("metric_id", BIGINT_ID, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.ForeignKeyConstraint(
            ["metric_id"],
            ["metrics.id"],
            name="fk_metric_tags_metric_id_metrics",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("metric_id", "key", name="pk_metric_tags"),
    )


def downgrade() -> None:
    op.drop_table("metric_tags")
    op.drop_table("metrics")
