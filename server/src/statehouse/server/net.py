"""Addresses and listening sockets: ``host:port`` read once, every port bound one way.

An :class:`Address` is read from its text once, where it enters the server
(the options of ``serve``, or a :class:`~statehouse.server.settings.Settings`
built in code), and refused there with one message naming the option. Below
that, code handles hosts and ports, never strings to split.

:func:`listen` binds every listening socket the server opens itself (the HTTP
port, the metrics port); :func:`reserve` holds a port for the processes of
``--processes N``. The gRPC port is the exception: grpc binds it from
``str(address)``, since grpc.aio cannot serve a socket bound by someone else.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

__all__ = ["Address", "AddressError", "listen", "reserve"]

#: How to write an address, named in every error message.
FORMS = "host:port, e.g. 127.0.0.1:50051, localhost:8080, [::1]:0, 0.0.0.0:0; port 0 picks one"

_TEXT = re.compile(r"(?:\[(?P<v6>[^\]]*)\]|(?P<host>[^\[\]:]*)):(?P<port>\d{1,5})")


class AddressError(ValueError):
    """Text that is no ``host:port``."""


@dataclass(frozen=True, slots=True)
class Address:
    """A host and a port to listen on; port 0 picks a free one. ``str()`` gives
    ``host:port`` back (an IPv6 host in brackets), as grpc and people read it."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str, option: str | None = None) -> Address:
        """``host:port``, ``[v6]:port`` or ``:port`` (every interface); anything
        else raises :class:`AddressError`, its message led by ``option`` if given."""
        found = _TEXT.fullmatch(text.strip())
        port = int(found["port"]) if found else -1
        named = f"{option}: " if option else ""
        if found is None or not 0 <= port <= 65535:
            raise AddressError(f"{named}cannot read {text!r} as an address ({FORMS})")
        if found["v6"] is not None:
            try:
                ipaddress.IPv6Address(found["v6"])
            except ValueError:
                raise AddressError(
                    f"{named}{found['v6']!r} in {text!r} is no IPv6 address ({FORMS})"
                ) from None
            return cls(found["v6"], port)
        return cls(found["host"], port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def with_port(self, port: int) -> Address:
        """The same host on ``port`` (the one bound for port 0)."""
        return Address(self.host, port)

    @property
    def is_loopback(self) -> bool:
        """Whether this address is reachable from this machine only."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def listen(
    address: Address, *, option: str, reuse_port: bool = False, backlog: int = 128
) -> socket.socket:
    """A non-blocking socket listening on ``address`` (with SO_REUSEPORT if
    ``reuse_port``: the processes of ``--processes N`` share the port).

    Raises ``OSError("cannot listen on ADDRESS (OPTION): why")``.
    """
    sock = _bound(address, option=option, reuse_port=reuse_port)
    try:
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {address} ({option}): {exc}") from exc
    return sock


def reserve(address: Address, *, option: str) -> socket.socket:
    """Check that nothing listens on ``address``, pick its port if it is 0, and hold
    the port (bound with SO_REUSEPORT, not listening) until the processes of
    ``--processes N`` bind it too; ``getsockname()[1]`` is the port."""
    # Without SO_REUSEPORT first: a port in use by anyone is an error, not shared.
    with _bound(address, option=option, reuse_port=False) as probe:
        port: int = probe.getsockname()[1]
    return _bound(address.with_port(port), option=option, reuse_port=True)


def _bound(address: Address, *, option: str, reuse_port: bool) -> socket.socket:
    """A socket bound to ``address`` (SO_REUSEADDR, and SO_REUSEPORT if asked)."""
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(
            address.host or None, address.port, type=socket.SOCK_STREAM
        )[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(sockaddr)
        except BaseException:
            sock.close()
            raise
    except OSError as exc:
        raise OSError(f"cannot listen on {address} ({option}): {exc}") from exc
    return sock
