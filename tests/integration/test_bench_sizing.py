"""The bench's sizing on PostgreSQL counts the partitions of the event log as the
log's bytes (they were counted as the executions' before: 0 bytes per event)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.pgcluster import PostgresCluster

from .conftest import BACKENDS

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from statehouse_bench import sizing

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL's partitions"),
]


def test_the_event_partitions_are_the_logs_bytes(
    pg_cluster: PostgresCluster, pg_template: str
) -> None:
    url = pg_cluster.create_database(template=pg_template)
    before = sizing._pg_tables(url)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            partitions = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent "
                    "WHERE p.relname = 'events'"
                )
            ).scalar_one()
            assert partitions > 0  # the log is partitioned on PostgreSQL
            conn.execute(
                sa.text(
                    "INSERT INTO events (sequence, time_us, namespace, flow_id, execution_id, "
                    "task_run_id, task_id, attempt, state, reason, execution_revision) "
                    "SELECT n, 1, 'ns', 'f', 'e', '', '', 0, 'RUNNING', repeat('x', 500), 1 "
                    "FROM generate_series(1, 2000) n"
                )
            )
    finally:
        engine.dispose()
    after = sizing._pg_tables(url)
    assert not any(name.startswith("events_") for name in after)  # folded into "events"
    assert after["events"] - before.get("events", 0) > 2000 * 500
    assert after["executions"] == before["executions"]
