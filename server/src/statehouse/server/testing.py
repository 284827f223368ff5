"""A real Statehouse server in a subprocess, for tests and benchmarks: yours and ours.

:class:`ServerProcess` runs ``statehouse serve`` (``python -m statehouse.server.app``,
or another program that takes its options) on 127.0.0.1, on free ports it picks
unless told (:func:`unclaimed_port`), and knows it is serving when the server
writes its ``--ready-file``: the bound ports and the serving processes' pids,
read once, no log line parsed. It can be stopped gracefully (SIGTERM), killed
(SIGKILL, a crash) and restarted on the same ports and database::

    with ServerProcess(["--database", "sqlite:///tmp/x.db"], log_path=Path("x.log")) as server:
        client = Client.connect(server.target)
        ...

Every test of this repository and ``make bench`` start their servers with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

#: ``python -m statehouse.server.app``: the server's own entry point (``statehouse serve``).
SERVE = ("-m", "statehouse.server.app")


#: Where :func:`unclaimed_port` looks: from here up to the kernel's ephemeral range.
_LOWEST_PORT = 10_000


class ServerExited(RuntimeError):
    """The server process ended (or never served) before it was ready."""


def unclaimed_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` now, below the kernel's ephemeral range; 0 (the
    kernel picks at bind) where that range is unknown or leaves no room below it.

    A port the kernel picks for a bind to port 0 lies in its ephemeral range, where it
    hands out ports to every other bind to 0 and every outgoing connection: a server
    restarted on such a port can find it taken by then. Below the range, only a
    program that names the port can take it. The choice uses the OS's randomness, not
    ``random``'s, which a test runner may seed alike in every worker.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    choose = random.SystemRandom()
    for _ in range(100 if low - _LOWEST_PORT >= 1_000 else 0):
        port = choose.randrange(_LOWEST_PORT, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        return port
    return 0


class ServerProcess:
    """``program`` (a server taking ``statehouse serve``'s options) in a subprocess.

    ``options`` are passed as they are, after ``--address HOST:PORT`` and
    ``--ready-file``; with ``http``, ``--http-address HOST:PORT`` too. Unless
    ``port`` is given, the first start picks each port with :func:`unclaimed_port`
    (and picks again if another program took one meanwhile); a restart serves the
    same ports, so clients reconnect to the same ones. stdout and stderr go to
    ``log_path`` (appended: a restart's lines follow the last run's). ``start`` returns once the server serves, or raises
    :class:`ServerExited` with the log's end if it exits or does not serve within
    its timeout (a bound for a server that cannot start, not a measure of how fast
    it starts: on a loaded machine, starting with migrations has taken over 30 s).
    """

    def __init__(
        self,
        options: Sequence[str] = (),
        *,
        log_path: Path,
        program: Sequence[str] = SERVE,
        host: str = "127.0.0.1",
        port: int = 0,
        http: bool = False,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        new_session: bool = False,
        python: str = sys.executable,
    ) -> None:
        self.options = list(options)
        self.log_path = log_path
        self.program = list(program)
        self.host = host
        self.port = port
        #: Ports still to be picked at the first start (none were given).
        self._pick = port == 0
        self._http = http
        self.http_port: int | None = None
        self.metrics_port: int | None = None
        #: The serving processes (one, or those of ``--processes N``; not their parent).
        self.pids: list[int] = []
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.new_session = new_session
        self.python = python
        self.ready_path = log_path.with_name(f"{log_path.name}.ready.json")
        self.proc: subprocess.Popen[bytes] | None = None

    # -- where it serves ---------------------------------------------------------

    @property
    def target(self) -> str:
        """host:port of the gRPC port, for a client."""
        return f"{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        """http://host:port of the HTTP port (``http=True``, or --http-address in options)."""
        if self.http_port is None:
            raise RuntimeError("this server has no HTTP port")
        scheme = "https" if "--tls-cert" in self.options else "http"
        return f"{scheme}://{self.host}:{self.http_port}"

    @property
    def pid(self) -> int:
        """The process started (under --processes N: the supervising parent)."""
        assert self.proc is not None, "not started"
        return self.proc.pid

    # -- its life ----------------------------------------------------------------

    def argv(self) -> list[str]:
        argv = [self.python, *self.program, "--address", f"{self.host}:{self.port}"]
        if self._http:
            argv += ["--http-address", f"{self.host}:{self.http_port or 0}"]
        return [*argv, "--ready-file", str(self.ready_path), *self.options]

    def start(self, timeout: float = 90.0) -> ServerProcess:
        """Start it and wait until it serves."""
        if self.running:
            raise RuntimeError("already running")
        attempts = 3 if self._pick else 1
        for attempt in range(1, attempts + 1):
            if self._pick:
                self.port = unclaimed_port(self.host)
                self.http_port = unclaimed_port(self.host) if self._http else None
            log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
            try:
                self._start(timeout)
            except ServerExited:
                if attempt == attempts or not self._picked_port_taken(log_start):
                    raise
                continue
            self._pick = False
            break
        return self

    def _picked_port_taken(self, log_start: int) -> bool:
        """Whether the run logged from ``log_start`` could not bind a port this
        launcher picked (not one the options name, which a new pick cannot help)."""
        with self.log_path.open("rb") as log:
            log.seek(log_start)
            logged = log.read()
        picked = (p for p in (self.port, self.http_port) if p)
        return any(f"cannot listen on {self.host}:{p} ".encode() in logged for p in picked)

    def _start(self, timeout: float) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.ready_path.unlink()
        env = dict(os.environ if self.env is None else self.env, PYTHONUNBUFFERED="1")
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
                # A session of its own: a Ctrl-C reaches only the launcher, which stops it.
                start_new_session=self.new_session,
            )
        deadline = time.monotonic() + timeout
        while True:
            ready = self._read_ready()
            if ready is not None:
                break
            if self.proc.poll() is not None:
                raise ServerExited(
                    f"the server exited with status {self.proc.returncode} before serving:\n"
                    + self.tail()
                )
            if time.monotonic() > deadline:
                self.kill()
                raise ServerExited(f"the server did not serve within {timeout} s:\n" + self.tail())
            time.sleep(0.02)
        self.port = int(ready["grpc_port"])
        self.http_port = ready.get("http_port")
        self.metrics_port = ready.get("metrics_port")
        self.pids = [int(p) for p in ready.get("pids") or []]

    def _read_ready(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.ready_path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, and wait: a graceful shutdown. Returns the exit status."""
        assert self.proc is not None, "not started"
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL: a crash (under --processes N, of the parent and of its processes)."""
        assert self.proc is not None, "not started"
        for pid in self.pids if self.pids != [self.proc.pid] else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(15)

    def restart(self, timeout: float = 90.0) -> ServerProcess:
        """A new process on the same ports and options (stopped first if it runs)."""
        if self.running:
            self.stop()
        return self.start(timeout)

    def close(self) -> None:
        """Stop it if it runs; kill it if it does not stop in time."""
        if self.running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.stop(15)  # killed by stop() if it takes longer

    def __enter__(self) -> ServerProcess:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- what it said --------------------------------------------------------------

    def logs(self) -> str:
        """Everything it logged (every run of it)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])
