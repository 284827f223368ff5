"""AdminService: the server's description, tokens and certificate grants.

GetServerInfo is open to any authenticated caller: it tells the server's
version, database backend and the extent of the event log, nothing of any
namespace's data. An admin manages only credentials whose namespaces lie within its own: an
admin of ``acme.*`` may issue a writer token for ``acme.billing`` but not for
``globex`` or ``*``, and does not see or revoke credentials reaching beyond
``acme.*``.
"""

from __future__ import annotations

import functools
import importlib.metadata
from dataclasses import dataclass, field
from typing import Any

from statehouse.v1 import admin_service_pb2 as pb

from .. import queries
from ..clock import now_us
from ..orchestration import AlreadyExists, InvalidArgument, NotFound
from ..security.access import Role
from ..security.credentials import Authenticator, Credential, new_credential
from ..storage import Store, Tx
from . import convert
from ._base import Call

_ROLES = {pb.ROLE_READER: Role.READER, pb.ROLE_WRITER: Role.WRITER, pb.ROLE_ADMIN: Role.ADMIN}
_ROLES_PB = {v: k for k, v in _ROLES.items()}


def token_to_pb(credential: Credential) -> pb.Token:
    token = pb.Token(
        name=credential.name,
        role=_ROLES_PB[credential.role],
        namespaces=list(credential.namespaces),
        certificate_subject=credential.certificate_subject or "",
        created_by=credential.created_by,
    )
    convert.time_to_pb(credential.create_time_us, token.create_time)
    if credential.expire_time_us is not None:
        convert.time_to_pb(credential.expire_time_us, token.expire_time)
    if credential.revoke_time_us is not None:
        convert.time_to_pb(credential.revoke_time_us, token.revoke_time)
    return token


def package_version() -> str:
    """The version of the installed statehouse-server (``unknown`` when it is not installed)."""
    try:
        return importlib.metadata.version("statehouse-server")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a bare tree
        return "unknown"


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What GetServerInfo tells besides what it reads from the database."""

    version: str = field(default_factory=package_version)
    #: When this server process started (microseconds since the epoch).
    start_time_us: int = field(default_factory=now_us)
    #: The processes sharing the port (``--processes``).
    processes: int = 1


class AdminServicer:
    """Describes the server; creates, lists and revokes credentials (requests
    arrive validated; the credential RPCs are for admins only)."""

    def __init__(
        self, store: Store, authenticator: Authenticator | None, info: ServerInfo | None = None
    ) -> None:
        self.store = store
        self.authenticator = authenticator
        self.info = info or ServerInfo()

    async def GetServerInfo(
        self, request: pb.GetServerInfoRequest, call: Call
    ) -> pb.GetServerInfoResponse:
        extent = await self.store.read(queries.log_extent)
        response = pb.GetServerInfoResponse(
            version=self.info.version,
            database_backend=self.store.database_backend,
            head_sequence=extent.head_sequence,
            first_available_sequence=extent.first_available_sequence,
            processes=self.info.processes,
        )
        convert.time_to_pb(self.info.start_time_us, response.start_time)
        return response

    async def CreateToken(
        self, request: pb.CreateTokenRequest, call: Call
    ) -> pb.CreateTokenResponse:
        namespaces = list(request.namespaces)
        role = _ROLES.get(request.role)
        if role is None:
            raise InvalidArgument([("role", "must be ROLE_READER, ROLE_WRITER or ROLE_ADMIN")])
        call.principal.check_patterns(namespaces, "namespaces")
        ttl = None
        if request.HasField("ttl"):
            ttl = request.ttl.ToTimedelta().total_seconds()
        row, secret = new_credential(
            name=request.name,
            role=role,
            namespaces=namespaces,
            ttl_seconds=ttl,
            certificate_subject=request.certificate_subject,
            created_by=call.actor,
        )

        await self.store.write(functools.partial(_insert_credential, row=row, name=request.name))
        if self.authenticator is not None:
            await self.authenticator.refresh()
        return pb.CreateTokenResponse(token=token_to_pb(Credential.from_row(row)), secret=secret)

    async def ListTokens(self, request: pb.ListTokensRequest, call: Call) -> pb.ListTokensResponse:
        rows = await self.store.read(lambda tx: tx.list_credentials())
        now = now_us()
        response = pb.ListTokensResponse()
        for credential in self._visible(rows, call):
            if request.include_inactive or credential.active(now):
                response.tokens.append(token_to_pb(credential))
        return response

    async def RevokeToken(
        self, request: pb.RevokeTokenRequest, call: Call
    ) -> pb.RevokeTokenResponse:
        name = request.name
        rows = await self.store.read(lambda tx: tx.list_credentials())
        if not any(c.name == name for c in self._visible(rows, call)):
            raise NotFound("credential", name)
        row = await self.store.write(
            functools.partial(Tx.revoke_credential, name=name, now_us=now_us())
        )
        if row is None:
            raise NotFound("credential", name)
        if self.authenticator is not None:
            self.authenticator.forget(name)
        return pb.RevokeTokenResponse(token=token_to_pb(Credential.from_row(row)))

    @staticmethod
    def _visible(rows: list[dict[str, Any]], call: Call) -> list[Credential]:
        found = [Credential.from_row(r) for r in rows]
        return [c for c in found if call.principal.holds(c.namespaces)]


def _insert_credential(tx: Tx, *, row: dict[str, Any], name: str) -> None:
    if not tx.insert_credential(row):
        raise AlreadyExists(
            "CREDENTIAL_EXISTS",
            f"a credential named {name!r} (or for that subject) exists",
            metadata={"name": name},
        )
