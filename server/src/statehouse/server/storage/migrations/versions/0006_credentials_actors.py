"""Security: credentials (tokens and certificate grants), the actor of each
event, and request ids scoped to their caller.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("secret_hash", sa.String(64), nullable=True),
        sa.Column("certificate_subject", sa.String(512), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("namespaces", sa.Text, nullable=False),
        sa.Column("create_time_us", sa.BigInteger, nullable=False),
        sa.Column("expire_time_us", sa.BigInteger, nullable=True),
        sa.Column("revoke_time_us", sa.BigInteger, nullable=True),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_credentials")),
        sa.UniqueConstraint("key_id", name=op.f("uq_credentials_key_id")),
        sa.UniqueConstraint("certificate_subject", name=op.f("uq_credentials_certificate_subject")),
    )
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("actor", sa.String(256), nullable=False, server_default=""))
    # The primary key becomes (caller, request_id): a new table, the old rows
    # copied with the empty caller (they were made with authentication off).
    op.create_table(
        "requests_scoped",
        sa.Column("caller", sa.String(320), nullable=False, server_default=""),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("response", sa.LargeBinary, nullable=False),
        sa.Column("create_time_us", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO requests_scoped (caller, request_id, method, fingerprint, response,"
        " create_time_us) SELECT '', request_id, method, fingerprint, response, create_time_us"
        " FROM requests"
    )
    op.drop_table("requests")
    op.rename_table("requests_scoped", "requests")
    with op.batch_alter_table("requests") as batch:
        batch.create_primary_key("pk_requests", ["caller", "request_id"])


def downgrade() -> None:
    op.drop_table("credentials")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("actor")
    op.execute("DELETE FROM requests WHERE caller <> ''")
    with op.batch_alter_table("requests") as batch:
        batch.drop_constraint("pk_requests", type_="primary")
        batch.drop_column("caller")
        batch.create_primary_key("pk_requests", ["request_id"])
