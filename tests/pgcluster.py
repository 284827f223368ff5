"""A throwaway PostgreSQL cluster for the tests: Debian's postgresql-15 binaries,
run as the ``postgres`` user when the tests run as root (initdb refuses root),
in a temporary directory, listening on 127.0.0.1 and a free port.

One cluster serves a whole run, parallel workers included (:meth:`shared`):
the first worker to ask starts it, under a file lock, and the others attach to
it; the run's controller stops it at the end (tests/conftest.py). Every test
gets a database of its own in it; a test that stops the server starts a
cluster of its own instead.

:class:`ReplicatedCluster` is a primary with a synchronous standby (streaming
replication, ``synchronous_commit = on``), for the failover tests: the primary
can be killed (SIGKILL, as a machine dies) and the standby promoted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

from tests.eventually import NeverHeld, eventually

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

    def __init__(
        self,
        attach: tuple[Path, int] | None = None,
        *,
        settings: dict[str, str] | None = None,
        standby_of: PostgresCluster | None = None,
        name: str = "primary",
    ) -> None:
        """A new cluster, started; or, with ``attach=(root, port)``, one running.

        ``settings``: more postgresql.conf lines. ``standby_of``: a streaming
        standby of that cluster (pg_basebackup), its ``application_name`` ``name``.
        """
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
        self.name = name
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        if standby_of is None:
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        else:
            # Streams from the primary; the trust lines initdb wrote for replication
            # connections from 127.0.0.1 let it in.
            self._run(
                "pg_basebackup",
                "-D",
                str(self.data),
                "-h",
                "127.0.0.1",
                "-p",
                str(standby_of.port),
                "-U",
                "postgres",
                "-X",
                "stream",
                "-R",
            )
            with (self.data / "postgresql.auto.conf").open("a") as auto:
                auto.write(
                    f"primary_conninfo = 'host=127.0.0.1 port={standby_of.port} "
                    f"user=postgres application_name={name}'\n"
                )
        conf = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "1000",  # the parallel workers' servers share it
            # A test cluster: durability against an OS crash is not what we test.
            "fsync": "off",
            "full_page_writes": "off",
            **(settings or {}),
        }
        with (self.data / "postgresql.conf").open("a") as file:
            file.writelines(f"{k} = {v}\n" for k, v in conf.items())
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

    def kill(self) -> None:
        """SIGKILL the postmaster and every process of it at once: a machine dying."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        pids = [pid, *_children(pid)]
        for each in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(each, signal.SIGKILL)
        with contextlib.suppress(NeverHeld):  # as before: gone or not, go on after 10 s
            eventually(lambda: not any(_alive(p) for p in pids), "gone", within=10, step=0.01)

    def promote(self) -> None:
        """A standby becomes the primary (what an operator, or pg_auto_failover, does)."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "promote")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class ReplicatedCluster:
    """A primary and a synchronous standby on 127.0.0.1, two ports.

    The primary waits at every commit for the standby to have flushed it
    (``synchronous_commit = on``, ``synchronous_standby_names`` naming the
    standby), so what a primary acknowledged survives its loss. The standby's
    own configuration names no synchronous standby: promoted, with none behind
    it, it commits alone (what an operator sets when promoting the last node).
    """

    def __init__(self) -> None:
        self.primary = PostgresCluster(
            settings={
                "wal_level": "replica",
                "max_wal_senders": "10",
                "wal_keep_size": "'256MB'",
                "synchronous_commit": "on",
                "synchronous_standby_names": "'standby'",
            }
        )
        try:
            self.standby = PostgresCluster(
                settings={"hot_standby": "on", "synchronous_standby_names": "''"},
                standby_of=self.primary,
                name="standby",
            )
            self.wait_for_sync()
        except BaseException:
            self.primary.stop()
            raise

    def wait_for_sync(self, timeout: float = 30.0) -> None:
        """Until the primary sees its standby streaming, synchronously."""
        import psycopg

        with psycopg.connect(self.primary.url().replace("+psycopg", ""), autocommit=True) as conn:

            def synchronous() -> bool:
                row = conn.execute(
                    "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'"
                ).fetchone()
                return row is not None and row[0] == "sync"

            eventually(synchronous, "the standby synchronous", within=timeout, step=0.05)

    def create_database(self) -> str:
        """A database on the primary (replicated); its single-host URL."""
        url = self.primary.create_database()
        return url

    def hosts(self) -> list[str]:
        return [f"127.0.0.1:{self.primary.port}", f"127.0.0.1:{self.standby.port}"]

    def stop(self) -> None:
        for cluster in (self.standby, self.primary):
            try:
                cluster.stop()
            except Exception:  # killed already: its directory still goes
                shutil.rmtree(cluster.root, ignore_errors=True)
