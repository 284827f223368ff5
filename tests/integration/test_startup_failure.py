"""A start that fails at a late step closes everything it opened (docs/design.md,
"Layers": the server is assembled on one AsyncExitStack), and the process says
why on one line, exit status 1."""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from statehouse.server import testing as launcher
from statehouse.server.app import create_server
from statehouse.server.background.timers import TimerScheduler
from statehouse.server.net import Address
from tests.eventually import eventually_async
from tests.integration.conftest import make_settings


def _open_files() -> set[str]:
    """What this process has open (sockets, the database file, pipes), by fd."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        # The directory listing's own fd is closed by the time it is read.
        with contextlib.suppress(OSError):
            found.add(f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
    return found


def _nothing_more_open(before: set[str]) -> bool:
    """Nothing is open that was not before (what closed meanwhile does not count).

    grpcio frees a stopped server's poller (an epoll, an eventfd, a socket pair)
    when the server object is freed, which a failed start's traceback delays to
    the next collection, and its threads close earlier servers' pollers when
    they get to it: collected, and looked at again until then."""
    gc.collect()
    return _open_files() <= before


def _threads() -> set[str]:
    # The event loop's default executor (asyncio_N) lives as long as the loop.
    return {t.name for t in threading.enumerate() if not t.name.startswith("asyncio_")}


@pytest.fixture
def taken() -> Iterator[str]:
    """An address something else listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def _free_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def _bindable(address: str) -> bool:
    parsed = Address.parse(address)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((parsed.host, parsed.port))
        except OSError:
            return False
    return True


async def _warm_up(database_url: str) -> None:
    """One server started and stopped: what lives for the whole process (grpc's
    own threads and descriptors, the loop's executor) exists before the count."""
    server, _ = await create_server(replace(make_settings(database_url), http_address=None))
    await server.start()
    await server.stop(0)


async def test_a_taken_http_port_leaves_nothing_open(database_url: str, taken: str) -> None:
    await _warm_up(database_url)
    files, threads = _open_files(), _threads()
    address = _free_address()
    settings = replace(make_settings(database_url), address=address, http_address=taken)
    with pytest.raises(OSError, match="cannot listen on"):
        await create_server(settings)
    # No port, no database connection or file.
    assert await eventually_async(lambda: _nothing_more_open(files), "nothing more open")
    assert _threads() <= threads  # none started stays (grpc's own may have ended)
    assert _bindable(address)


async def test_a_failure_at_the_last_step_leaves_nothing_open(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last step of create_server (the timer scheduler's start) fails: the
    ports bound, the hub and the authenticator started, the store opened, all closed."""
    await _warm_up(database_url)
    files, threads = _open_files(), _threads()

    async def fail(self: TimerScheduler) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(TimerScheduler, "start", fail)
    address, http_address, metrics_address = _free_address(), _free_address(), _free_address()
    settings = replace(
        make_settings(database_url),
        address=address,
        http_address=http_address,
        metrics_address=metrics_address,
        auth=True,
    )
    with pytest.raises(RuntimeError, match="injected"):
        await create_server(settings)
    assert await eventually_async(lambda: _nothing_more_open(files), "nothing more open")
    assert _threads() <= threads  # none started stays (grpc's own may have ended)
    assert all(_bindable(a) for a in (address, http_address, metrics_address))


@pytest.mark.parametrize("option", ["--http-address", "--address"])
def test_a_taken_port_ends_the_process_with_one_line(
    option: str, taken: str, tmp_path: Path
) -> None:
    database = tmp_path / "statehouse.db"
    server = launcher.ServerProcess(
        ["--database", f"sqlite:///{database}", option, taken],
        log_path=tmp_path / "server.log",
    )
    with pytest.raises(launcher.ServerExited):
        server.start()
    assert server.proc is not None and server.proc.returncode == 1
    log = server.logs()
    # Besides the migrations' INFO lines, one line says why, and no traceback.
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and f"cannot listen on {taken}" in errors[0], log
    assert "Traceback" not in log
