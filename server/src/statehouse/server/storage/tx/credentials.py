"""Credentials, the server's shared secrets, and the namespace of a resource
(what the access rules need of storage)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..schema import credentials, executions, secrets, task_runs
from .core import TxCore

_SELECT_EXECUTION_NAMESPACE = sa.select(executions.c.namespace).where(
    executions.c.id == sa.bindparam("id")
)
_SELECT_TASK_RUN_NAMESPACE = (
    sa.select(executions.c.namespace)
    .select_from(task_runs.join(executions, task_runs.c.execution_id == executions.c.id))
    .where(task_runs.c.id == sa.bindparam("id"))
)


class CredentialReads(TxCore):
    """The credentials, and where a resource lives."""

    def namespace_of(self, kind: str, resource_id: str) -> str | None:
        """The namespace of an execution or a task run (``kind``), None if it does not exist."""
        query = _SELECT_EXECUTION_NAMESPACE if kind == "execution" else _SELECT_TASK_RUN_NAMESPACE
        value = self.conn.execute(query, {"id": resource_id}).scalar()
        return None if value is None else str(value)

    def list_credentials(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(sa.select(credentials).order_by(credentials.c.name)).mappings()
        return [dict(r) for r in rows]


class CredentialWrites(CredentialReads):
    """Adding and revoking credentials; the shared secrets."""

    def insert_credential(self, row: dict[str, Any]) -> bool:
        """Store a new credential; False if its name (or subject) is taken."""
        self._immediate()
        same = credentials.c.name == row["name"]
        if row["certificate_subject"]:
            same = sa.or_(same, credentials.c.certificate_subject == row["certificate_subject"])
        taken = self.conn.execute(sa.select(credentials.c.name).where(same)).first()
        if taken is not None:
            return False
        self.conn.execute(sa.insert(credentials), row)
        return True

    def revoke_credential(self, name: str, now_us: int) -> dict[str, Any] | None:
        """Revoke ``name`` (once: a second revocation keeps the first time)."""
        self._immediate()
        self.conn.execute(
            sa.update(credentials)
            .where(credentials.c.name == name, credentials.c.revoke_time_us.is_(None))
            .values(revoke_time_us=now_us)
        )
        row = self.conn.execute(sa.select(credentials).where(credentials.c.name == name)).first()
        return None if row is None else dict(row._mapping)

    # -- secrets ----------------------------------------------------------------

    def server_secret(self, name: str, candidate: str) -> str:
        """The secret ``name`` that every replica shares: ``candidate`` if none was made yet."""
        self._immediate()
        self.conn.execute(self._insert_ignoring_conflicts(secrets, name=name, value=candidate))
        value = self.conn.execute(sa.select(secrets.c.value).where(secrets.c.name == name))
        return str(value.scalar_one())
