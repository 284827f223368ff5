"""Idempotency: what a request id was used for, kept with the write it answers.

A record carries its creation time: :meth:`RequestWrites.get_request` treats
one older than ``StoreOptions.request_id_ttl`` as absent, and the
``put_request`` of the same id replaces it (the core's write-back deletes only
the expired row, so a record another replica made meanwhile is never lost).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..schema import requests
from .core import TxCore


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """An idempotency record: what a request_id was used for and what it returned."""

    method: str
    fingerprint: str
    response: bytes


_SELECT_REQUEST = sa.select(
    requests.c.method, requests.c.fingerprint, requests.c.response, requests.c.create_time_us
).where(
    requests.c.caller == sa.bindparam("caller"),
    requests.c.request_id == sa.bindparam("request_id"),
)


class RequestWrites(TxCore):
    """Request ids: read and kept within a write, expired by the sweep."""

    def get_request(
        self, caller: str, request_id: str, *, not_before_us: int = 0
    ) -> StoredRequest | None:
        """The record of ``request_id``; None if there is none, or if it was made
        before ``not_before_us`` (expired: the sweep has not deleted it yet, and a
        :meth:`put_request` of the same id replaces it)."""
        kept = self._new_requests.get((caller, request_id))
        if kept is not None:
            return StoredRequest(kept["method"], kept["fingerprint"], kept["response"])
        row = self.conn.execute(
            _SELECT_REQUEST, {"caller": caller, "request_id": request_id}
        ).first()
        if row is None:
            return None
        if int(row[3]) < not_before_us:
            self._expired_requests[(caller, request_id)] = not_before_us
            return None
        return StoredRequest(row[0], row[1], bytes(row[2]))

    def put_request(
        self,
        caller: str,
        request_id: str,
        method: str,
        fingerprint: str,
        response: bytes,
        now_us: int,
    ) -> None:
        self._set(
            self._new_requests,
            (caller, request_id),
            {
                "caller": caller,
                "request_id": request_id,
                "method": method,
                "fingerprint": fingerprint,
                "response": response,
                "create_time_us": now_us,
            },
        )

    def expire_requests(self, *, created_before_us: int, limit: int) -> int:
        """Delete up to ``limit`` request-id records made before ``created_before_us``
        (oldest first, by the index of migration 0007); return how many."""
        self._immediate()
        oldest = (
            sa.select(requests.c.caller, requests.c.request_id)
            .where(requests.c.create_time_us < created_before_us)
            .order_by(requests.c.create_time_us)
            .limit(limit)
        )
        keys = [tuple(row) for row in self.conn.execute(oldest)]
        if not keys:
            return 0
        result = self.conn.execute(
            sa.delete(requests).where(
                sa.tuple_(requests.c.caller, requests.c.request_id).in_(keys),
                requests.c.create_time_us < created_before_us,
            )
        )
        return int(result.rowcount)
