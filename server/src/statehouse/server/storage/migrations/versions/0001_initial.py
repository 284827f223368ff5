"""Executions, task runs, labels, the event log, counters and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "executions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("namespace", sa.String(150), nullable=False),
        sa.Column("flow_id", sa.String(100), nullable=False),
        sa.Column("flow_revision", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("create_time_us", sa.BigInteger, nullable=False),
        sa.Column("update_time_us", sa.BigInteger, nullable=False),
        sa.Column("parent_execution_id", sa.String(64), nullable=False),
        sa.Column("restart_count", sa.Integer, nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("inputs", sa.Text, nullable=True),
        sa.Column("outputs", sa.Text, nullable=True),
        sa.Column("history", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_executions"),
    )
    op.create_index("ix_executions_create_time_us_id", "executions", ["create_time_us", "id"])
    op.create_index(
        "ix_executions_namespace_flow_id_create_time_us",
        "executions",
        ["namespace", "flow_id", "create_time_us"],
    )
    op.create_index("ix_executions_state_create_time_us", "executions", ["state", "create_time_us"])
    op.create_table(
        "execution_labels",
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_execution_labels_execution_id_executions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("execution_id", "key", name="pk_execution_labels"),
    )
    op.create_index("ix_execution_labels_key_value", "execution_labels", ["key", "value"])
    op.create_table(
        "task_runs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("task_id", sa.String(100), nullable=False),
        sa.Column("parent_task_run_id", sa.String(64), nullable=False),
        sa.Column("value", sa.String(1024), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("create_time_us", sa.BigInteger, nullable=False),
        sa.Column("update_time_us", sa.BigInteger, nullable=False),
        sa.Column("next_attempt_time_us", sa.BigInteger, nullable=True),
        sa.Column("history", sa.Text, nullable=False),
        sa.Column("attempts", sa.Text, nullable=False),
        sa.Column("outputs", sa.Text, nullable=True),
        sa.Column("retry_policy", sa.Text, nullable=True),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_task_runs_execution_id_executions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_task_runs"),
    )
    op.create_index(
        "ix_task_runs_execution_id_position", "task_runs", ["execution_id", "position"], unique=True
    )
    op.create_table(
        "events",
        sa.Column("sequence", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("time_us", sa.BigInteger, nullable=False),
        sa.Column("namespace", sa.String(150), nullable=False),
        sa.Column("flow_id", sa.String(100), nullable=False),
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("task_run_id", sa.String(64), nullable=False),
        sa.Column("task_id", sa.String(100), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("previous_state", sa.String(16), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("execution_revision", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("sequence", name="pk_events"),
    )
    op.create_index("ix_events_execution_id_sequence", "events", ["execution_id", "sequence"])
    counters = op.create_table(
        "counters",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_counters"),
    )
    op.bulk_insert(counters, [{"name": "event_sequence", "value": 0}])
    op.create_table(
        "requests",
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("response", sa.LargeBinary, nullable=False),
        sa.Column("create_time_us", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_requests"),
    )


def downgrade() -> None:
    op.drop_table("requests")
    op.drop_table("counters")
    op.drop_table("events")
    op.drop_table("task_runs")
    op.drop_table("execution_labels")
    op.drop_table("executions")
