"""The HTTP/1.1 protocol of the HTTP port: uvicorn's h11 protocol with the port's bounds.

uvicorn alone keeps a connection whose request never finishes open for ever
(it times out only idle kept-alive connections), takes any number of them,
parses a request head of any size that arrives whole (h11 bounds only a head
still incomplete), and hands a WebSocket upgrade to whatever WebSocket
library is installed. Here:

- **Request heads are bounded** before h11 parses them: at most
  ``limits.MAX_HEADER_BYTES`` and ``limits.MAX_HEADER_FIELDS`` header lines;
  beyond, ``431 Request Header Fields Too Large`` and the connection is closed.
- **Incomplete requests time out**: a request head must arrive whole within
  ``header_timeout`` of its first byte (or of the connection's opening), and
  its body must not stall that long; else ``408 Request Timeout`` (a head) or
  the connection is closed (a body: the application sees the client go).
- **Connections are bounded**: past ``max_connections`` open at once, a new
  one is answered ``503 Service Unavailable`` and closed at once, so a flood
  of half-sent requests cannot take every file descriptor of the process.
- **No WebSockets**: the server is configured without a WebSocket protocol
  (``ws="none"``), and the application refuses an upgrade (``asgi.py``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .. import limits

log = logging.getLogger("statehouse.http")

#: The end of a request head, as h11 finds it (it accepts bare LF line ends).
_END_OF_HEAD = re.compile(b"\n\r?\n")


@dataclass(frozen=True, slots=True)
class Bounds:
    """What one connection of the HTTP port may hold."""

    #: Connections open at once; the next ones are refused (503).
    max_connections: int
    #: Seconds for a request head to arrive whole, and for a body to make progress.
    header_timeout: float
    max_header_bytes: int = limits.MAX_HEADER_BYTES
    max_header_fields: int = limits.MAX_HEADER_FIELDS


class HeadMeter:
    """How much of a request head has arrived (sans I/O): fed the bytes read
    while a head is awaited, it says when the head passes the bounds."""

    def __init__(self, max_bytes: int, max_fields: int) -> None:
        self.max_bytes = max_bytes
        self.max_fields = max_fields
        self.size = 0
        self.lines = 0
        self._tail = b""

    def reset(self) -> None:
        self.size = self.lines = 0
        self._tail = b""

    def feed(self, data: bytes) -> bool:
        """Count ``data``, read while the head is incomplete; False once the head
        is too large (bytes, or header lines, counted up to its end when it
        ends in ``data``). A complete head resets the meter for the next one."""
        window = self._tail + data
        start = len(self._tail)  # bytes counted already
        found = _END_OF_HEAD.search(window)
        end = len(window) if found is None else found.end()
        size = self.size + end - start
        lines = self.lines + window.count(b"\n", start, end)
        # Line breaks that end no field: the request line's, and the blank line's.
        fields = lines - (1 if found is None else 2)
        if size > self.max_bytes or fields > self.max_fields:
            return False
        if found is not None:
            self.reset()
        else:
            self.size, self.lines, self._tail = size, lines, window[-2:]
        return True


_CLOSE = b"connection: close\r\ncontent-type: text/plain; charset=utf-8\r\n"


def _plain(status: bytes, body: bytes) -> bytes:
    """A whole response to write on a connection about to be closed."""
    length = str(len(body)).encode()
    return (
        b"HTTP/1.1 " + status + b"\r\n" + _CLOSE + b"content-length: " + length + b"\r\n\r\n" + body
    )


_TOO_MANY = _plain(b"503 Service Unavailable", b"too many connections\n")
_TOO_LARGE = _plain(b"431 Request Header Fields Too Large", b"request header fields too large\n")
_TIMEOUT = _plain(b"408 Request Timeout", b"request timeout\n")


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol within :class:`Bounds` (use :func:`protocol`)."""

    bounds: ClassVar[Bounds]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._meter = HeadMeter(self.bounds.max_header_bytes, self.bounds.max_header_fields)
        self._read_timer: asyncio.TimerHandle | None = None
        #: Refused: what the client still sends is read and dropped until it stops.
        self._lingering = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.bounds.max_connections:
            log.debug("refusing a connection: %d open", len(self.connections) - 1)
            # At once, without lingering: this connection's descriptor is the
            # one the bound is there to save.
            self._refuse(_TOO_MANY, linger=False)
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering or self.transport.is_closing():
            return
        if self.conn.their_state is h11.IDLE:
            if self._read_timer is None:
                self._arm()  # the first bytes of a head after an idle kept-alive spell
            if not self._meter.feed(data):
                self._refuse(_TOO_LARGE)
                return
        super().data_received(data)
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            self._arm()  # a body must keep coming
        elif state is not h11.IDLE:
            self._disarm()  # the request is whole (or the connection is done)

    def _unsupported_upgrade_warning(self) -> None:
        # An upgrade (a WebSocket, h2c) is served as a plain request: asgi.py
        # refuses a WebSocket's. uvicorn would log two warnings for each, for
        # anyone to trigger.
        pass

    # -- the read timer ----------------------------------------------------------------

    def _arm(self) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(self.bounds.header_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _timed_out(self) -> None:
        self._read_timer = None
        if self._lingering or self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            # Half a head: say why it ends; no head at all: close, as when idle.
            self._refuse(_TIMEOUT if self._meter.size or self.conn.trailing_data[0] else b"")
        elif state is h11.SEND_BODY:
            if self.flow.read_paused:
                self._arm()  # we stopped reading, not the client: wait for the application
            else:
                log.debug("closing a connection whose request body stalled")
                self.transport.close()

    def _refuse(self, response: bytes, *, linger: bool = True) -> None:
        """Answer ``response`` and close. Closing a socket with unread bytes resets
        the connection, and a client still sending would see the reset, not the
        answer: so the answer is followed by the end of our side, and what the
        client still sends is read and dropped until it ends its side (or for
        the header timeout at most), as nginx's lingering close does."""
        self._disarm()
        if not (response and linger and self.transport.can_write_eof()):
            if response:
                self.transport.write(response)
            self.transport.close()
            return
        self.transport.write(response)
        self.transport.write_eof()
        self._lingering = True
        self._read_timer = self.loop.call_later(self.bounds.header_timeout, self.transport.close)


def protocol(bounds: Bounds) -> type[BoundedH11Protocol]:
    """The protocol class uvicorn is given (``Config(http=...)``) for ``bounds``."""
    return type("BoundedH11Protocol", (BoundedH11Protocol,), {"bounds": bounds})
