"""A throwaway PostgreSQL cluster for the tests: Debian's postgresql-15 binaries,
run as the ``postgres`` user when the tests run as root (initdb refuses root),
in a temporary directory, listening on 127.0.0.1 and a free port.

One cluster serves a whole run, parallel workers included (:meth:`shared`):
the first worker to ask starts it, under a file lock, and the others attach to
it; the run's controller stops it at the end (tests/conftest.py). Every test
gets a database of its own in it; a test that stops the server starts a
cluster of its own instead.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

BIN_DIRS = [Path("/usr/lib/postgresql/15/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"))]


def find_bin_dir() -> Path | None:
    for candidate in BIN_DIRS:
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """initdb + pg_ctl start; ``create_database()`` gives a fresh database URL."""

    def __init__(self, attach: tuple[Path, int] | None = None) -> None:
        """A new cluster, started; or, with ``attach=(root, port)``, one running."""
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise RuntimeError(
                "PostgreSQL binaries not found: apt-get install -y postgresql-15 "
                "(.ci/run does it on a fresh machine)"
            )
        self.bin = bin_dir
        self.as_root = os.geteuid() == 0
        if attach is not None:
            self.root, self.port = attach
            self.data = self.root / "data"
            return
        self.root = Path(tempfile.mkdtemp(prefix="statehouse-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "1000",  # the parallel workers' servers share it
            # A test cluster: durability against an OS crash is not what we test.
            "fsync": "off",
            "full_page_writes": "off",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "start")

    @classmethod
    def shared(cls, directory: Path) -> PostgresCluster:
        """The run's cluster, recorded in ``directory``: started by the first caller."""
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "pg.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            info = directory / "pg.json"
            if info.exists():
                data = json.loads(info.read_text())
                return cls(attach=(Path(data["root"]), int(data["port"])))
            cluster = cls()
            info.write_text(json.dumps({"root": str(cluster.root), "port": cluster.port}))
            return cluster

    @classmethod
    def stop_shared(cls, directory: Path) -> None:
        """Stop the run's cluster, if one was started."""
        info = directory / "pg.json"
        if info.exists():
            data = json.loads(info.read_text())
            cls(attach=(Path(data["root"]), int(data["port"]))).stop()
            info.unlink()

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.execute(f"CREATE DATABASE {name}{suffix}")
        return self.url(name)

    def stop_server(self) -> None:
        """Stop the server (fast: in-flight connections are cut); the data stays."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def start_server(self) -> None:
        """Start the server again on the same port."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
