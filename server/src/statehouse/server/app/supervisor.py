"""``serve --processes N``: N server processes on one port, supervised by this one.

The options are checked and the schema migrated once, here; then each process
(spawned, not forked) binds the ports with SO_REUSEPORT, so that the kernel
spreads connections over them, and runs its own store, event hub and timer
scheduler, tailing the shared log like any replica (docs/design.md,
"Processes and replicas").
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import signal
import socket
import time
from pathlib import Path

from ..net import Address, reserve
from ..settings import Settings
from ..storage import Store, StoreOptions, display_url
from ..telemetry import configure_logging
from .process import STARTUP_ERRORS, http_text, one_line, run, transport_text, write_ready_file
from .server import jwt_verifier, server_tls

log = logging.getLogger("statehouse.server")


def supervise(settings: Settings, log_level: str = "INFO", log_format: str = "text") -> int:
    """Run ``settings.processes`` server processes on one port and supervise them.

    The options are checked and the schema migrated once, here; then each process
    (spawned, not forked) binds the port with SO_REUSEPORT, so that the kernel
    spreads connections over them, and runs its own store, event hub and timer
    scheduler, tailing the shared log like any replica. SIGTERM or SIGINT stops
    them all gracefully (exit status 0); SIGHUP is passed on (TLS reload). If a
    process dies, the others are stopped and the status is 1: restarting is left
    to whatever supervises this process (systemd, Kubernetes), which also sees
    the failure. Returns the exit status.
    """
    count = settings.processes
    settings.check()
    tls = server_tls(settings)
    jwt_verifier(settings)
    # Each port held, its number picked if 0: the HTTP port is shared the same way
    # (uvicorn serves the socket each process binds with SO_REUSEPORT, net.listen),
    # and --metrics-address too (each process serves its own metrics there).
    reservations: list[socket.socket] = []
    try:
        address = _reserve(settings.address, "--address", reservations)
        http_address = _reserve(settings.http_address, "--http-address", reservations)
        metrics_address = _reserve(settings.metrics_address, "--metrics-address", reservations)
    except OSError:
        for held in reservations:
            held.close()
        raise
    assert address is not None
    children: list[multiprocessing.process.BaseProcess] = []
    stopping: list[int] = []

    def on_stop(signum: int, frame: object) -> None:
        stopping.append(signum)

    def on_hangup(signum: int, frame: object) -> None:
        for child in children:
            if child.pid is not None and child.exitcode is None:
                os.kill(child.pid, signal.SIGHUP)

    previous = {
        sig: signal.signal(sig, handler)
        for sig, handler in (
            (signal.SIGTERM, on_stop),
            (signal.SIGINT, on_stop),
            (signal.SIGHUP, on_hangup),
        )
    }
    try:
        if settings.migrate:
            # Once, before any process opens the database (SQLite cannot migrate
            # concurrently; PostgreSQL could, under its advisory lock).
            store = Store(
                settings.resolved_database_url(),
                StoreOptions(sqlite_synchronous=settings.sqlite_synchronous),
            )
            try:
                store.migrate()
            finally:
                store.close()
        child_settings = dataclasses.replace(
            settings,
            ready_file=None,  # the supervisor writes it, once every process serves
            address=address,
            http_address=http_address,
            metrics_address=metrics_address,
            migrate=False,
            processes=1,
            reuse_port=True,
        )
        context = multiprocessing.get_context("spawn")
        waiting: dict[
            multiprocessing.connection.Connection, multiprocessing.process.BaseProcess
        ] = {}
        for index in range(1, count + 1):
            reader, writer = context.Pipe(duplex=False)
            child = context.Process(
                target=_child_main,
                args=(child_settings, log_level, log_format, index, count, writer, os.getpid()),
                name=f"statehouse-{index}",
            )
            child.start()
            writer.close()
            children.append(child)
            waiting[reader] = child
        return _watch_children(
            children,
            waiting,
            reservations,
            stopping,
            child_settings,
            tls is not None,
            settings.ready_file,
        )
    finally:
        for held in reservations:
            held.close()
        _stop_children(children, settings.shutdown_grace + 10.0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _watch_children(
    children: list[multiprocessing.process.BaseProcess],
    waiting: dict[multiprocessing.connection.Connection, multiprocessing.process.BaseProcess],
    reservations: list[socket.socket],
    stopping: list[int],
    settings: Settings,
    tls: bool,
    ready_file: Path | None = None,
) -> int:
    """Wait for a signal (status 0) or for a process to die (status 1); ``ready_file``
    is written once every process serves. ``settings`` are the processes' (their
    addresses carry the ports bound)."""
    sentinels = {child.sentinel: child for child in children}
    ready_count = 0
    while not stopping:
        ready = multiprocessing.connection.wait([*sentinels, *waiting], timeout=0.2)
        for item in ready:
            if isinstance(item, multiprocessing.connection.Connection):
                waiting.pop(item, None)
                try:
                    item.recv()
                    ready_count += 1
                except (EOFError, OSError):
                    pass  # died before it served: its sentinel says so
                item.close()
                if ready_count == len(children):
                    for held in reservations:
                        held.close()
                    http_port = settings.http_address.port if settings.http_address else None
                    log.info(
                        "statehouse serving on %s%s%s (database %s, %d processes: pids %s)",
                        settings.address,
                        http_text(settings, http_port),
                        transport_text(settings, tls),
                        display_url(settings.resolved_database_url()),
                        len(children),
                        ", ".join(str(c.pid) for c in children),
                    )
                    if ready_file is not None:
                        write_ready_file(
                            ready_file,
                            grpc_port=settings.address.port,
                            http_port=http_port,
                            metrics_port=(
                                settings.metrics_address.port if settings.metrics_address else None
                            ),
                            pids=[c.pid for c in children if c.pid is not None],
                        )
            elif isinstance(item, int) and not stopping:
                child = sentinels[item]
                child.join()
                log.error(
                    "statehouse process %s (pid %s) exited with status %s: stopping the others",
                    child.name.rsplit("-", 1)[-1],
                    child.pid,
                    child.exitcode,
                )
                return 1
    log.info("statehouse stopping %d processes", len(children))
    return 0 if _stop_children(children, settings.shutdown_grace + 10.0) else 1


def _stop_children(children: list[multiprocessing.process.BaseProcess], timeout: float) -> bool:
    """SIGTERM to every live process, wait, SIGKILL what is left; True if all exited 0."""
    for child in children:
        if child.exitcode is None and child.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.exitcode is None:
            log.error("statehouse process %s (pid %s) did not stop: killed", child.name, child.pid)
            child.kill()
            child.join(5)
    return all(child.exitcode == 0 for child in children)


def _reserve(address: Address | None, option: str, held: list[socket.socket]) -> Address | None:
    """``address`` held for the processes (``net.reserve``, added to ``held``), with
    the port picked for port 0; None stays None."""
    if address is None:
        return None
    reservation = reserve(address, option=option)
    held.append(reservation)
    return address.with_port(reservation.getsockname()[1])


def _child_main(
    settings: Settings,
    log_level: str,
    log_format: str,
    index: int,
    count: int,
    ready: multiprocessing.connection.Connection,
    parent: int,
) -> None:
    """One of the processes of ``--processes N`` (spawned by :func:`supervise`)."""
    # Stopped by the parent (SIGTERM), not by a terminal's Ctrl-C to the group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(parent)
    configure_logging(log_level, log_format, process=True)

    def on_ready(port: int) -> None:
        ready.send(port)
        ready.close()

    # The package's serve, looked up when called: a wrapper installed there (the
    # bench's instruments, bench/bench_server.py) runs in every process.
    from . import serve

    try:
        run(serve(settings, on_ready=on_ready, process=(index, count)))
    except STARTUP_ERRORS as exc:
        log.error("%s", one_line(exc))
        raise SystemExit(1) from exc


def _die_with(parent: int) -> None:
    """Linux: get SIGTERM when the parent dies (even by kill -9), not linger."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent:  # the parent died before prctl
        os.kill(os.getpid(), signal.SIGTERM)
