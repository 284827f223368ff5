"""What several tests build, built once per run: the Java client (its tests and
the conformance suite's Java driver) and the wheels (tests/integration/test_wheel.py).

``shared_build(name, build)``: the first pytest-xdist worker that asks builds
into the run's shared directory (tests/conftest.py), under a file lock, the
way the first one starts the PostgreSQL cluster; the others wait for it and
use what it built. A build that fails leaves nothing behind, so the next test
that asks tries again (and reports its own failure).
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import shared_directory

ROOT = Path(__file__).resolve().parents[1]
#: How long one build may take, on a loaded machine.
BUILD_TIMEOUT = 600


def shared_build(name: str, build: Callable[[Path], None]) -> Path:
    """The directory ``build(directory)`` filled, built by whichever worker asked first."""
    builds = shared_directory() / "builds"
    builds.mkdir(exist_ok=True)
    out = builds / name
    with (builds / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = builds / f"{name}.done"
        if not done.exists():
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            try:
                build(out)
            except BaseException:
                shutil.rmtree(out, ignore_errors=True)
                raise
            done.touch()
    return out


@dataclass(frozen=True)
class JavaBuild:
    """client/java/build.sh's output: the client's classes, its tests', their classpath."""

    classes: Path
    tests: Path
    classpath: str

    def command(self, *args: str) -> list[str]:
        return ["java", "-cp", f"{self.classpath}:{self.tests}", *args]


def _build_java(out: Path) -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "client" / "java" / "build.sh"), str(out)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"client/java/build.sh failed:\n{result.stdout}\n{result.stderr}"


def java_client() -> JavaBuild:
    """The Java client compiled with javac against Debian's jars (once per run)."""
    out = shared_build("java", _build_java)
    return JavaBuild(out / "classes", out / "test", (out / "classpath").read_text().strip())


def _build_wheels(out: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(out),
            str(ROOT / "client"),
            str(ROOT / "server"),
        ],
        check=True,
        timeout=BUILD_TIMEOUT,
    )


def wheels() -> dict[str, Path]:
    """The two wheels built from this tree: statehouse-client and statehouse-server."""
    out = shared_build("wheels", _build_wheels)
    (client,) = out.glob("statehouse_client-*.whl")
    (server,) = out.glob("statehouse_server-*.whl")
    return {"client": client, "server": server}
