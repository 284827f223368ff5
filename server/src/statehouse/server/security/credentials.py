"""Credentials: who a caller is, from its bearer token, JWT or client certificate.

Three sources, usable together:

- **Statehouse tokens**, issued by the AdminService (or offline, on the
  database, for the first admin): ``sht_<key id>_<secret>``. Only the SHA-256
  of the secret is stored; the key id finds the row, and the digests are
  compared in constant time.
- **Certificate grants**: a role given to the subject of a client certificate
  that mTLS verified (``CN=worker,O=acme``).
- **JWTs** from an identity provider (``jwts.py``), checked against a public key or
  a JWKS file, with the issuer and audience when configured. The role is the
  ``statehouse_role`` claim, the namespaces the ``statehouse_namespaces``
  claim (a list, or one string), the actor the ``sub`` claim.

Every replica keeps the credentials in memory and reloads them every
``refresh_interval`` (default 1 s) from the database, so a revocation on one
replica is in force on all of them within that time; expiry is checked on
every call. Failed authentications are counted per peer and logged without
the credential.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import itertools
import json
import logging
import re
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import clock
from ..limits import CREDENTIAL_NAME_RE, MAX_CERTIFICATE_SUBJECT, MAX_CREDENTIAL_NAMESPACES
from ..loops import cancel_and_wait
from ..orchestration import AlreadyExists, InvalidArgument, Unauthenticated
from ..orchestration.patterns import problem
from ..storage import StorageUnavailable
from .access import Principal, Role
from .jwts import JwtVerifier

log = logging.getLogger("statehouse.auth")

TOKEN_PREFIX = "sht_"
NAME_RE = CREDENTIAL_NAME_RE
_TOKEN_RE = re.compile(r"sht_([0-9a-f]{12})_([A-Za-z0-9_-]{43})\Z")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Credential:
    """A stored token or certificate grant (never its secret)."""

    name: str
    role: Role
    namespaces: tuple[str, ...]
    create_time_us: int
    created_by: str
    key_id: str | None = None
    secret_hash: str | None = None
    certificate_subject: str | None = None
    expire_time_us: int | None = None
    revoke_time_us: int | None = None

    def active(self, now_us: int) -> bool:
        return self.revoke_time_us is None and (
            self.expire_time_us is None or now_us < self.expire_time_us
        )

    def principal(self) -> Principal:
        if self.certificate_subject:
            return Principal(
                f"cert:{self.certificate_subject}",
                self.certificate_subject,
                self.role,
                self.namespaces,
                self.expire_time_us,
            )
        return Principal(
            f"token:{self.name}", self.name, self.role, self.namespaces, self.expire_time_us
        )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Credential:
        return cls(
            name=row["name"],
            role=Role.parse(row["role"]),
            namespaces=tuple(json.loads(row["namespaces"])),
            create_time_us=row["create_time_us"],
            created_by=row["created_by"],
            key_id=row["key_id"],
            secret_hash=row["secret_hash"],
            certificate_subject=row["certificate_subject"],
            expire_time_us=row["expire_time_us"],
            revoke_time_us=row["revoke_time_us"],
        )

    def describe(self) -> dict[str, Any]:
        """What may be shown of it: everything but the hash."""
        return {
            "name": self.name,
            "role": self.role.label,
            "namespaces": list(self.namespaces),
            "certificate_subject": self.certificate_subject or "",
            "create_time_us": self.create_time_us,
            "expire_time_us": self.expire_time_us,
            "revoke_time_us": self.revoke_time_us,
            "created_by": self.created_by,
        }


def new_credential(
    *,
    name: str,
    role: Role | str,
    namespaces: Sequence[str],
    ttl_seconds: float | None,
    certificate_subject: str,
    created_by: str,
) -> tuple[dict[str, Any], str]:
    """A row for a new credential and its secret ("" for a certificate grant).

    Raises InvalidArgument on a bad name, role, namespace, ttl or subject.
    """
    errors: list[tuple[str, str]] = []
    if not NAME_RE.match(name):
        errors.append(("name", "1 to 64 characters: letters, digits and .-_@: (not first)"))
    try:
        role = role if isinstance(role, Role) else Role.parse(role)
    except ValueError as exc:
        errors.append(("role", str(exc)))
    if not namespaces:
        errors.append(("namespaces", "at least one namespace or pattern is required"))
    if len(namespaces) > MAX_CREDENTIAL_NAMESPACES:
        errors.append(("namespaces", f"at most {MAX_CREDENTIAL_NAMESPACES}"))
    for i, pattern in enumerate(namespaces):
        why = problem(pattern)
        if why:
            errors.append((f"namespaces[{i}]", why))
    if ttl_seconds is not None and not 1 <= ttl_seconds <= 10 * 366 * 86400:
        errors.append(("ttl", "must be between 1 second and 10 years"))
    if len(certificate_subject) > MAX_CERTIFICATE_SUBJECT or any(
        ord(c) < 32 for c in certificate_subject
    ):
        errors.append(
            ("certificate_subject", f"at most {MAX_CERTIFICATE_SUBJECT} printable characters")
        )
    if errors:
        raise InvalidArgument(errors)
    assert isinstance(role, Role)
    now = clock.now_us()
    row: dict[str, Any] = {
        "name": name,
        "role": role.label,
        "namespaces": json.dumps(sorted(set(namespaces))),
        "create_time_us": now,
        "expire_time_us": None if ttl_seconds is None else now + int(ttl_seconds * 1_000_000),
        "revoke_time_us": None,
        "created_by": created_by,
        "key_id": None,
        "secret_hash": None,
        "certificate_subject": certificate_subject or None,
    }
    if certificate_subject:
        return row, ""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row["key_id"] = key_id
    row["secret_hash"] = _digest(secret)
    return row, f"{TOKEN_PREFIX}{key_id}_{secret}"


# -- the authenticator ---------------------------------------------------------------


class Authenticator:
    """Turns a call's credentials into a :class:`Principal`, or refuses it.

    ``read_rows`` reads every stored credential (a storage read); it runs at
    start and then every ``refresh_interval`` seconds.
    """

    def __init__(
        self,
        read_rows: Any,
        *,
        jwt: JwtVerifier | None = None,
        refresh_interval: float = 1.0,
    ) -> None:
        self._read_rows = read_rows
        self._jwt = jwt
        self.refresh_interval = refresh_interval
        self._by_key: dict[str, Credential] = {}
        self._by_subject: dict[str, Credential] = {}
        self._by_name: dict[str, Credential] = {}
        #: The open streams' callers, and what to call when one's credential goes.
        self._watched: dict[Principal, dict[int, Callable[[], None]]] = {}
        self._expiries: dict[Principal, asyncio.TimerHandle] = {}
        self._watch_ids = itertools.count()
        self._task: asyncio.Task[None] | None = None
        #: Credentials revoked here (``forget``), by the count of forgets when each was:
        #: a reload whose read began before a revocation does not bring it back.
        self._forgets = 0
        self._forgotten: dict[str, int] = {}
        #: Reloads begun, and the latest whose read is installed (an older one ends unused).
        self._reloads = 0
        self._installed = 0
        #: Failed authentications per peer address (without the port).
        self.failures: Counter[str] = Counter()

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._refresh_loop(), name="statehouse-credentials")

    async def close(self) -> None:
        await cancel_and_wait(self._task)

    async def refresh(self) -> None:
        began = self._forgets
        self._reloads += 1
        reload = self._reloads
        rows = await self._read_rows()
        if reload < self._installed:
            return  # a reload begun later has installed newer rows (CreateToken's)
        self._installed = reload
        # A revocation committed before the read began is in what it read; one
        # forgotten while it read may not be, and stays forgotten.
        self._forgotten = {n: i for n, i in self._forgotten.items() if i > began}
        by_key: dict[str, Credential] = {}
        by_subject: dict[str, Credential] = {}
        by_name: dict[str, Credential] = {}
        for row in rows:
            credential = Credential.from_row(row)
            if credential.name in self._forgotten:
                continue
            by_name[credential.name] = credential
            if credential.key_id:
                by_key[credential.key_id] = credential
            if credential.certificate_subject:
                by_subject[credential.certificate_subject] = credential
        self._by_key, self._by_subject, self._by_name = by_key, by_subject, by_name
        self._check_watched()

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval)
            try:
                await self.refresh()
            except StorageUnavailable:  # in the store's outage log: keep the last known set
                pass
            except Exception:
                log.warning("cannot reload credentials; keeping the last ones", exc_info=True)

    @property
    def empty(self) -> bool:
        """No token, grant or JWT key: nobody can call yet."""
        return not self._by_key and not self._by_subject and self._jwt is None

    def forget(self, name: str) -> None:
        """Drop a credential at once on this replica (revoked here), also from what
        a reload under way has read."""
        self._forgets += 1
        self._forgotten[name] = self._forgets
        self._by_key = {k: c for k, c in self._by_key.items() if c.name != name}
        self._by_subject = {s: c for s, c in self._by_subject.items() if c.name != name}
        self._by_name.pop(name, None)
        self._check_watched()

    # -- open streams: they end when their credential does ---------------------------

    def watch(self, principal: Principal, lost: Callable[[], None]) -> Callable[[], None]:
        """Call ``lost`` once when ``principal`` stops authenticating: its token or
        certificate grant revoked (here at once, on another replica within
        ``refresh_interval``), expired, or changed; a JWT at its ``exp``. Returns
        what stops watching. An open stream uses it to end with UNAUTHENTICATED
        within the bound that a new call with the same credential is refused."""
        watchers = self._watched.get(principal)
        if watchers is None:
            watchers = self._watched[principal] = {}
            if principal.expires_us is not None:
                delay = max(0.0, (principal.expires_us - clock.now_us()) / 1e6)
                loop = asyncio.get_running_loop()
                self._expiries[principal] = loop.call_later(delay + 0.001, self._check_watched)
        key = next(self._watch_ids)
        watchers[key] = lost

        def stop() -> None:
            found = self._watched.get(principal)
            if found is not None and found.pop(key, None) is not None and not found:
                del self._watched[principal]
                timer = self._expiries.pop(principal, None)
                if timer is not None:
                    timer.cancel()

        return stop

    def _check_watched(self) -> None:
        if not self._watched:
            return
        now = clock.now_us()
        for principal in [p for p in self._watched if not self._holds(p, now)]:
            watchers = self._watched.pop(principal)
            timer = self._expiries.pop(principal, None)
            if timer is not None:
                timer.cancel()
            for lost in watchers.values():
                lost()

    def _holds(self, principal: Principal, now_us: int) -> bool:
        """Whether ``principal`` would still be admitted (its credential unchanged)."""
        if principal.expires_us is not None and now_us >= principal.expires_us:
            return False
        kind, _, name = principal.identity.partition(":")
        if kind == "token":
            credential = self._by_name.get(name)
        elif kind == "cert":
            credential = self._by_subject.get(name)
        else:
            return True  # a JWT: signed, valid until its exp
        return (
            credential is not None
            and credential.active(now_us)
            and credential.principal() == principal
        )

    def authenticate(self, authorization: str | None, subject: str | None, peer: str) -> Principal:
        """The caller of a call with this ``authorization`` metadata and verified
        client-certificate ``subject``; Unauthenticated if neither is valid.

        A bearer credential, when present, decides (a bad one is refused even
        with a good certificate); else a certificate grant for the subject.
        """
        now = clock.now_us()
        if authorization is not None:
            scheme, _, value = authorization.partition(" ")
            principal = None
            if scheme.lower() == "bearer" and value:
                principal = self._bearer(value.strip(), now)
            if principal is not None:
                return principal
        elif subject:
            grant = self._by_subject.get(subject)
            if grant is not None and grant.active(now):
                return grant.principal()
        self._failed(peer)
        raise Unauthenticated()

    def _bearer(self, value: str, now_us: int) -> Principal | None:
        if value.startswith(TOKEN_PREFIX):
            found = _TOKEN_RE.match(value)
            if found is None:
                return None
            credential = self._by_key.get(found.group(1))
            if credential is None or credential.secret_hash is None:
                # Compare anyway: a miss takes as long as a mismatch.
                hmac.compare_digest(_digest(found.group(2)), "0" * 64)
                return None
            if not hmac.compare_digest(_digest(found.group(2)), credential.secret_hash):
                return None
            return credential.principal() if credential.active(now_us) else None
        if self._jwt is not None and value.count(".") == 2:
            try:
                return self._jwt.verify(value)
            except Unauthenticated:
                return None
        return None

    def _failed(self, peer: str) -> None:
        host = _peer_host(peer)
        self.failures[host] += 1
        count = self.failures[host]
        # Logged without the credential; the 1st, 10th, 100th... failure and
        # every 1000th after that, so a flood does not flood the log.
        if count in (1, 10, 100) or count % 1000 == 0:
            log.warning("authentication failed from %s (%d failures from this peer)", host, count)


def _peer_host(peer: str) -> str:
    """``ipv4:127.0.0.1:5555`` -> ``ipv4:127.0.0.1``."""
    head, _, tail = peer.rpartition(":")
    return head if head and tail.isdigit() else peer


# -- offline: on the database directly (the first admin token) ------------------------


def _offline(database_url: str, work: Any) -> Any:
    from ..storage import Store, StoreOptions

    store = Store(database_url, StoreOptions())
    try:
        store.migrate()

        async def run() -> Any:
            try:
                return await store.write(work)
            finally:
                await store.aclose()

        # On a thread of its own: callable from code that runs an event loop too.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, run()).result()
    finally:
        store.close()


def issue_offline(
    database_url: str,
    *,
    name: str,
    role: str,
    namespaces: Sequence[str],
    ttl_seconds: float | None = None,
    certificate_subject: str = "",
) -> tuple[dict[str, Any], str]:
    """Create a credential on the database itself (no server, no token needed):
    how the first admin token is made. Returns its description and secret."""
    row, secret = new_credential(
        name=name,
        role=role,
        namespaces=namespaces,
        ttl_seconds=ttl_seconds,
        certificate_subject=certificate_subject,
        created_by="offline",
    )

    def work(tx: Any) -> None:
        if not tx.insert_credential(row):
            raise AlreadyExists("CREDENTIAL_EXISTS", f"a credential named {name!r} exists")

    _offline(database_url, work)
    return Credential.from_row(row).describe(), secret


def list_offline(database_url: str, include_inactive: bool = False) -> list[dict[str, Any]]:
    now = clock.now_us()
    rows = _offline(database_url, lambda tx: tx.list_credentials())
    found = [Credential.from_row(r) for r in rows]
    return [c.describe() for c in found if include_inactive or c.active(now)]


def revoke_offline(database_url: str, name: str) -> dict[str, Any]:
    """Revoke ``name``; LookupError if there is no such credential."""
    row = _offline(database_url, lambda tx: tx.revoke_credential(name, clock.now_us()))
    if row is None:
        raise LookupError(f"no credential named {name!r}")
    return Credential.from_row(row).describe()
