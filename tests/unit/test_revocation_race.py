"""A token revoked on this replica stays refused although a reload of the
credentials that began before the revocation ends after it (run 1306 of the
slow subset: a revoked token answered OK on the replica that revoked it)."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from statehouse.server.orchestration.errors import Unauthenticated
from statehouse.server.security.credentials import Authenticator, new_credential


def _row(name: str) -> tuple[dict[str, Any], str]:
    return new_credential(
        name=name,
        role="writer",
        namespaces=["team-a.*"],
        ttl_seconds=None,
        certificate_subject="",
        created_by="test",
    )


class SlowReads:
    """Stored credentials, read in a snapshot that is returned when released."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.release: asyncio.Event | None = None
        self.reading = asyncio.Event()

    async def read(self) -> list[dict[str, Any]]:
        snapshot = copy.deepcopy(self.rows)
        self.reading.set()
        if self.release is not None:
            await self.release.wait()
        return snapshot


async def test_a_reload_under_way_does_not_bring_back_a_token_revoked_here() -> None:
    ci, token = _row("ci")
    other, other_token = _row("other")
    store = SlowReads([ci, other])
    auth = Authenticator(store.read, refresh_interval=3600.0)
    await auth.refresh()
    assert auth.authenticate(f"Bearer {token}", None, "ipv4:127.0.0.1:1").identity == "token:ci"
    # A reload reads the credentials before the revocation commits...
    store.release = asyncio.Event()
    store.reading.clear()
    reload = asyncio.create_task(auth.refresh())
    await store.reading.wait()
    ci["revoke_time_us"] = ci["create_time_us"] + 1  # ...which commits meanwhile,
    auth.forget("ci")  # and RevokeToken forgets it here at once.
    store.release.set()
    await reload  # the stale snapshot arrives after the revocation
    with pytest.raises(Unauthenticated):
        auth.authenticate(f"Bearer {token}", None, "ipv4:127.0.0.1:1")
    assert (
        auth.authenticate(f"Bearer {other_token}", None, "ipv4:127.0.0.1:1").identity
        == "token:other"
    )
    # The next reload reads the revocation itself and still refuses the token.
    store.release = None
    await auth.refresh()
    with pytest.raises(Unauthenticated):
        auth.authenticate(f"Bearer {token}", None, "ipv4:127.0.0.1:1")


async def test_an_older_reload_ending_after_a_newer_one_changes_nothing() -> None:
    """Reloads overlap (CreateToken reloads beside the periodic one): the one
    begun first, ending last, must not install its older rows."""
    ci, token = _row("ci")
    store = SlowReads([ci])
    auth = Authenticator(store.read, refresh_interval=3600.0)
    await auth.refresh()
    held = store.release = asyncio.Event()
    store.reading.clear()
    older = asyncio.create_task(auth.refresh())
    await store.reading.wait()  # it read before the revocation
    ci["revoke_time_us"] = ci["create_time_us"] + 1
    auth.forget("ci")
    store.release = None
    await auth.refresh()  # a newer reload reads the revocation and ends first
    held.set()
    await older  # the older snapshot, the token still valid, arrives last
    with pytest.raises(Unauthenticated):
        auth.authenticate(f"Bearer {token}", None, "ipv4:127.0.0.1:1")
