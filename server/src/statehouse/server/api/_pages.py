"""Page tokens: opaque keyset cursors, authenticated and bound to their filters.

A token is ``base64url(JSON).base64url(MAC)``, where the MAC is an HMAC-SHA256
over the RPC's name and the JSON, keyed by a secret that every replica of one
database shares (``secrets`` table, made by the first server to start). The
JSON holds the cursor and a digest of the filters it was issued for. A token
that was altered, made up, issued by another deployment or for another RPC is
INVALID_PAGE_TOKEN; so is a genuine token sent with other filters. The cursor's
shape is checked too, so that a token can only ever resume a list.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from ..orchestration import InvalidArgument

_MAC_BYTES = 16
#: Cursor values: an integer within int64, or a short string.
_MAX_INT = (1 << 63) - 1
_MAX_TEXT = 128


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PageTokens:
    """The tokens of one deployment (one secret)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, rpc_name: str, payload: bytes) -> bytes:
        mac = hmac.new(self._secret, rpc_name.encode() + b"\0" + payload, hashlib.sha256)
        return mac.digest()[:_MAC_BYTES]

    @staticmethod
    def _filters_key(filters: object) -> str:
        return hashlib.sha256(repr(filters).encode()).hexdigest()[:16]

    def encode(self, rpc_name: str, filters: object, cursor: list[Any]) -> str:
        payload = json.dumps({"c": cursor, "f": self._filters_key(filters)}).encode()
        return f"{_b64(payload)}.{_b64(self._mac(rpc_name, payload))}"

    def decode(
        self, rpc_name: str, filters: object, token: str, shape: tuple[type, ...]
    ) -> list[Any]:
        """The cursor in ``token``, of types ``shape``; INVALID_PAGE_TOKEN otherwise."""
        foreign = InvalidArgument(
            [("page_token", f"is not a token returned by {rpc_name}")],
            reason="INVALID_PAGE_TOKEN",
        )
        try:
            body, mac = token.split(".")
            payload, given = _unb64(body), _unb64(mac)
        except (ValueError, binascii.Error):
            raise foreign from None
        if not hmac.compare_digest(given, self._mac(rpc_name, payload)):
            raise foreign
        try:
            data = json.loads(payload)
            cursor, key = data["c"], data["f"]
        except (ValueError, KeyError, TypeError):
            raise foreign from None
        if key != self._filters_key(filters):
            raise InvalidArgument(
                [("page_token", "was issued for other filters")], reason="INVALID_PAGE_TOKEN"
            )
        if not _fits(cursor, shape):
            raise foreign
        return list(cursor)


def _fits(cursor: Any, shape: tuple[type, ...]) -> bool:
    if not isinstance(cursor, list) or len(cursor) != len(shape):
        return False
    for value, kind in zip(cursor, shape, strict=True):
        if isinstance(value, bool) or not isinstance(value, kind):
            return False
        if isinstance(value, int) and not 0 <= value <= _MAX_INT:
            return False
        if isinstance(value, str) and len(value) > _MAX_TEXT:
            return False
    return True
