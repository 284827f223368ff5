"""An index on the request ids' creation time, so that the sweep of expired
request ids (``--request-id-ttl``) finds its next small batch without reading
the whole table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_requests_create_time_us", "requests", ["create_time_us"])


def downgrade() -> None:
    op.drop_index("ix_requests_create_time_us", table_name="requests")
