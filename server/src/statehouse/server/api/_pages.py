"""Page tokens: an opaque keyset cursor bound to the filters it was issued for."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from ..orchestration import InvalidArgument


class PageTokens:
    """Tokens of one List RPC for one set of filters (any value with a stable repr)."""

    def __init__(self, rpc_name: str, filters: object) -> None:
        self.rpc_name = rpc_name
        self.key = hashlib.sha256(repr(filters).encode()).hexdigest()[:16]

    def encode(self, cursor: list[Any]) -> str:
        raw = json.dumps({"c": cursor, "f": self.key}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, token: str) -> list[Any]:
        """The cursor in ``token``; INVALID_PAGE_TOKEN if it is not ours or not for these filters."""
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            cursor, key = data["c"], data["f"]
            if not isinstance(cursor, list):
                raise TypeError("cursor")
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise InvalidArgument(
                [("page_token", f"is not a token returned by {self.rpc_name}")],
                reason="INVALID_PAGE_TOKEN",
            ) from exc
        if key != self.key:
            raise InvalidArgument(
                [("page_token", "was issued for other filters")], reason="INVALID_PAGE_TOKEN"
            )
        return cursor
