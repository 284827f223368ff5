"""The committed build of the JavaScript client (client/ts/lib) is what ``make
js-client`` compiles from client/ts/src and client/ts/gen with the repository's
tsc: a fresh build into a temporary directory must equal it, file for file and
byte for byte. Node runs lib/ as it is, so a user never has a build to run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client" / "ts"
LIB = CLIENT / "lib"
TSC = ROOT / "node_modules" / ".bin" / "tsc"


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def test_committed_build_is_not_stale(tmp_path: Path) -> None:
    if not TSC.exists():
        pytest.fail(f"{TSC} is missing: run `make node`")
    result = subprocess.run(
        [str(TSC), "-p", str(CLIENT / "tsconfig.build.json"), "--outDir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    fresh, committed = _files(tmp_path), _files(LIB)
    assert sorted(fresh) == sorted(committed), "run `make js-client`"
    stale = [name for name in sorted(fresh) if fresh[name] != committed[name]]
    assert stale == [], f"stale files in client/ts/lib {stale}: run `make js-client`"


def test_the_package_runs_on_what_the_repository_locks() -> None:
    """client/ts's dependencies are the versions the root lockfile installs
    (the repository runs the client on those), and Connect-ES's packages
    share one version, as their peer dependencies require."""
    package = json.loads((CLIENT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for name, version in package["dependencies"].items():
        assert lock[f"node_modules/{name}"]["version"] == version, name
    connect = {v for n, v in package["dependencies"].items() if n.startswith("@connectrpc/")}
    assert len(connect) == 1, package["dependencies"]
