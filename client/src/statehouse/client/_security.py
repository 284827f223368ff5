"""How a client proves who it is: TLS (and mTLS) on the channel, a bearer token on every call.

Sans I/O but for reading certificate files: :func:`channel_security` turns the
``token``, ``tls`` and ``credentials`` arguments of ``connect`` (and the
environment, for what they leave unset) into channel credentials, channel
options and the metadata every call and stream carries, the same way for
both clients.

The token is secret: it is kept in the metadata only, never shown by a
``repr``, an error message or a log line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

import grpc

__all__ = [
    "TLS_CA_ENV",
    "TLS_CERT_ENV",
    "TLS_KEY_ENV",
    "TOKEN_ENV",
    "ChannelSecurity",
    "PemSource",
    "TlsConfig",
    "channel_security",
    "with_token",
]

#: The bearer token used when ``connect(token=None)``.
TOKEN_ENV = "STATEHOUSE_TOKEN"
#: TLS with this CA bundle (a PEM file) when ``connect(tls=None)``.
TLS_CA_ENV = "STATEHOUSE_TLS_CA"
#: mTLS: the client certificate chain and its key (PEM files), when ``connect(tls=None)``.
TLS_CERT_ENV = "STATEHOUSE_TLS_CERT"
TLS_KEY_ENV = "STATEHOUSE_TLS_KEY"

AUTHORIZATION = "authorization"
_NAME_OVERRIDE = "grpc.ssl_target_name_override"
# What gRPC accepts in an ASCII metadata value, minus the space (no token has one).
_TOKEN_RE = re.compile(r"[\x21-\x7e]+")

#: PEM given as a path (``str`` or ``os.PathLike``), as PEM text (a ``str``
#: starting with ``-----BEGIN``) or as ``bytes``.
PemSource: TypeAlias = str | os.PathLike[str] | bytes


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """TLS for a client channel: whom to trust and, for mTLS, who the client is.

    ``ca``: the CA certificates that sign the server's certificate (None: the
    system's roots). ``cert`` and ``key``: the client's certificate chain and
    private key, for a server that asks for one (``--tls-client-ca``); both or
    neither. ``server_name``: the name to check the server's certificate for,
    when it differs from the host of the target (e.g. connecting by IP
    address to a certificate issued for ``localhost``). Each PEM is a path, PEM
    text or bytes; files are read when the channel is made. The key is left
    out of the ``repr``.
    """

    ca: PemSource | None = None
    cert: PemSource | None = None
    key: PemSource | None = field(default=None, repr=False)
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError("a client certificate and its key go together (cert= and key=)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TlsConfig | None:
        """The TLS that ``STATEHOUSE_TLS_CA``, ``_CERT`` and ``_KEY`` ask for, or None."""
        env = os.environ if environ is None else environ
        ca, cert, key = (env.get(name) or None for name in (TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV))
        if ca is None and cert is None and key is None:
            return None
        if (cert is None) != (key is None):
            raise ValueError(f"${TLS_CERT_ENV} and ${TLS_KEY_ENV} go together")
        return cls(ca=ca, cert=cert, key=key)

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """``grpc.ssl_channel_credentials`` from the files (ValueError if one cannot be used)."""
        return grpc.ssl_channel_credentials(
            root_certificates=_pem(self.ca, "CA certificates"),
            private_key=_pem(self.key, "client key"),
            certificate_chain=_pem(self.cert, "client certificate"),
        )

    def channel_options(self) -> tuple[tuple[str, str], ...]:
        return ((_NAME_OVERRIDE, self.server_name),) if self.server_name else ()


def _pem(source: PemSource | None, what: str) -> bytes | None:
    if source is None:
        return None
    if isinstance(source, bytes):
        data, origin = source, f"the {what}"
    elif isinstance(source, str) and source.lstrip().startswith("-----BEGIN"):
        data, origin = source.encode(), f"the {what}"
    else:
        path = Path(source)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read the {what} {str(path)!r}: {exc.strerror}") from None
        origin = f"the {what} {str(path)!r}"
    if b"-----BEGIN" not in data:
        raise ValueError(f"{origin} is not PEM")
    return data


@dataclass(frozen=True, slots=True)
class ChannelSecurity:
    """What ``connect`` needs to open a channel and authenticate its calls."""

    #: None: plaintext.
    credentials: grpc.ChannelCredentials | None
    options: tuple[tuple[str, str], ...]
    #: Every call's metadata, the ``authorization`` entry included.
    metadata: tuple[tuple[str, str], ...] = field(repr=False)

    @property
    def authenticated(self) -> bool:
        return any(key == AUTHORIZATION for key, _ in self.metadata)


def channel_security(
    *,
    token: str | None,
    tls: bool | TlsConfig | None,
    credentials: grpc.ChannelCredentials | None,
    metadata: tuple[tuple[str, str], ...] = (),
    environ: Mapping[str, str] | None = None,
) -> ChannelSecurity:
    """Resolve the ``connect`` arguments, falling back to the environment.

    ``token``: None reads ``$STATEHOUSE_TOKEN`` (unless ``metadata`` has an
    ``authorization`` entry already); ``""`` sends none. ``tls``: a
    :class:`TlsConfig`, True (system roots), False (plaintext), or None:
    ``$STATEHOUSE_TLS_CA`` / ``_CERT`` / ``_KEY`` when set, else plaintext.
    ``credentials`` (any ``grpc.ChannelCredentials``) stands instead of ``tls``.
    """
    env = os.environ if environ is None else environ
    if token is None and not any(key == AUTHORIZATION for key, _ in metadata):
        token = env.get(TOKEN_ENV) or None
    metadata = with_token(metadata, token)
    if credentials is not None:
        if tls is not None and tls is not False:
            raise ValueError("give credentials= or tls=, not both")
        return ChannelSecurity(credentials, (), metadata)
    config: TlsConfig | None
    if tls is None:
        config = TlsConfig.from_env(env)
    elif tls is True:
        config = TlsConfig()
    elif tls is False:
        config = None
    elif isinstance(tls, TlsConfig):
        config = tls
    else:
        raise TypeError(f"tls must be a TlsConfig, True, False or None, not {type(tls).__name__}")
    if config is None:
        return ChannelSecurity(None, (), metadata)
    return ChannelSecurity(config.channel_credentials(), config.channel_options(), metadata)


def with_token(
    metadata: tuple[tuple[str, str], ...], token: str | None
) -> tuple[tuple[str, str], ...]:
    """``metadata`` plus ``authorization: Bearer <token>`` (unchanged without a token).

    A token next to an ``authorization`` entry of its own is refused: which
    one was meant cannot be guessed. The errors never quote the token.
    """
    if not token:
        return metadata
    if not _TOKEN_RE.fullmatch(token):
        raise ValueError("the token must be printable ASCII without spaces")
    if any(key == AUTHORIZATION for key, _ in metadata):
        raise ValueError("give token= or an authorization metadata entry, not both")
    return (*metadata, (AUTHORIZATION, f"Bearer {token}"))
