"""The tables, as SQLAlchemy Core metadata. Migrations create them; this module
describes them for queries (and for ``alembic check``)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = sa.String(64)

executions = sa.Table(
    "executions",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("namespace", sa.String(150), nullable=False),
    sa.Column("flow_id", sa.String(100), nullable=False),
    sa.Column("flow_revision", sa.Integer, nullable=False, default=0),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.Column("create_time_us", sa.BigInteger, nullable=False),
    sa.Column("update_time_us", sa.BigInteger, nullable=False),
    sa.Column("parent_execution_id", sa.String(64), nullable=False, default=""),
    sa.Column("restart_count", sa.Integer, nullable=False, default=0),
    # JSON documents, stored as compact text so both databases hold the same bytes.
    sa.Column("labels", sa.Text, nullable=False),
    sa.Column("inputs", sa.Text, nullable=True),
    sa.Column("outputs", sa.Text, nullable=True),
    sa.Column("history", sa.Text, nullable=False),
    sa.Index(None, "create_time_us", "id"),
    sa.Index(None, "namespace", "flow_id", "create_time_us"),
    sa.Index(None, "state", "create_time_us"),
)

execution_labels = sa.Table(
    "execution_labels",
    metadata,
    sa.Column(
        "execution_id",
        ID,
        sa.ForeignKey("executions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
    sa.Index(None, "key", "value"),
)

task_runs = sa.Table(
    "task_runs",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column(
        "execution_id",
        ID,
        sa.ForeignKey("executions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # The task run's rank within its execution: task runs are listed in creation order.
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("task_id", sa.String(100), nullable=False),
    sa.Column("parent_task_run_id", sa.String(64), nullable=False, default=""),
    sa.Column("value", sa.String(1024), nullable=False, default=""),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("create_time_us", sa.BigInteger, nullable=False),
    sa.Column("update_time_us", sa.BigInteger, nullable=False),
    sa.Column("next_attempt_time_us", sa.BigInteger, nullable=True),
    sa.Column("history", sa.Text, nullable=False),
    sa.Column("attempts", sa.Text, nullable=False),
    sa.Column("outputs", sa.Text, nullable=True),
    sa.Column("retry_policy", sa.Text, nullable=True),
    sa.Index(None, "execution_id", "position", unique=True),
)

# The task runs a claim may start, in the order claims take them (migration
# 0009; storage/work.py).
sa.Index(
    "ix_task_runs_ready",
    sa.func.coalesce(task_runs.c.next_attempt_time_us, task_runs.c.update_time_us),
    task_runs.c.id,
    sqlite_where=task_runs.c.state.in_(["CREATED", "RESTARTED"]),
    postgresql_where=task_runs.c.state.in_(["CREATED", "RESTARTED"]),
)

events = sa.Table(
    "events",
    metadata,
    # Assigned by the sequencer in commit order, never by the database's autoincrement.
    sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("time_us", sa.BigInteger, nullable=False),
    sa.Column("namespace", sa.String(150), nullable=False),
    sa.Column("flow_id", sa.String(100), nullable=False),
    sa.Column("execution_id", ID, nullable=False),
    sa.Column("task_run_id", sa.String(64), nullable=False),
    sa.Column("task_id", sa.String(100), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("previous_state", sa.String(16), nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("execution_revision", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(256), nullable=False, server_default=""),
    sa.Index(None, "execution_id", "sequence"),
    # On PostgreSQL, partitioned by range of sequence (migration 0008, partitions.py).
    postgresql_partition_by="RANGE (sequence)",
)

counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

requests = sa.Table(
    "requests",
    metadata,
    # A client's request_id with the method it was used for: repeated calls
    # get the stored response back (idempotency), other content is refused.
    # Scoped to the caller that used it ("" when authentication is off).
    sa.Column("caller", sa.String(320), primary_key=True, server_default=""),
    sa.Column("request_id", sa.String(128), primary_key=True),
    sa.Column("method", sa.String(64), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("response", sa.LargeBinary, nullable=False),
    sa.Column("create_time_us", sa.BigInteger, nullable=False),
    # The sweep of expired request ids reads it in order (migration 0007).
    sa.Index(None, "create_time_us"),
)

EVENT_SEQUENCE = "event_sequence"

timers = sa.Table(
    "timers",
    metadata,
    # Durable timers (pause delays and timeouts, kill deadlines): stored with the
    # change that sets them, deleted by the change that cancels or fires them.
    sa.Column("id", ID, primary_key=True),
    sa.Column(
        "execution_id",
        ID,
        sa.ForeignKey("executions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("task_run_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("due_time_us", sa.BigInteger, nullable=False),
    sa.Index(None, "due_time_us"),
    sa.Index(None, "execution_id"),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "execution_id",
        ID,
        sa.ForeignKey("executions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("task_run_id", sa.String(64), nullable=False),
    sa.Column("task_id", sa.String(100), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("namespace", sa.String(150), nullable=False),
    sa.Column("flow_id", sa.String(100), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    # The tags as canonical JSON (sorted keys): entries of one attempt with the
    # same name, type and tags combine into one row.
    sa.Column("tags", sa.Text, nullable=False),
    # A counter's value, or a timer's duration in seconds.
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("time_us", sa.BigInteger, nullable=False),
    sa.Index(None, "task_run_id", "attempt", "name", "type", "tags", unique=True),
    sa.Index(None, "execution_id", "id"),
    sa.Index(None, "namespace", "name", "type", "time_us", "value", "flow_id", "task_id"),
)

metric_tags = sa.Table(
    "metric_tags",
    metadata,
    # One row per tag of a metric, so that aggregations can group by a tag in SQL.
    sa.Column(
        "metric_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey("metrics.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

secrets = sa.Table(
    "secrets",
    metadata,
    # Keys the replicas of one database share: made once, by whichever starts first.
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(128), nullable=False),
)

credentials = sa.Table(
    "credentials",
    metadata,
    # Who may call, issued by the AdminService: bearer tokens (the secret's
    # SHA-256 only; ``key_id`` is the public part of the token that finds the
    # row) and grants to client-certificate subjects.
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.String(32), nullable=True, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=True),
    sa.Column("certificate_subject", sa.String(512), nullable=True, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    # JSON list of namespaces and patterns.
    sa.Column("namespaces", sa.Text, nullable=False),
    sa.Column("create_time_us", sa.BigInteger, nullable=False),
    sa.Column("expire_time_us", sa.BigInteger, nullable=True),
    sa.Column("revoke_time_us", sa.BigInteger, nullable=True),
    sa.Column("created_by", sa.String(320), nullable=False),
)
