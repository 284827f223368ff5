"""The committed web console (server/src/statehouse/server/web/static) is what
``make console`` builds from console/ with the repository's esbuild: a fresh
build into a temporary directory must equal it, file for file and byte for byte."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "server" / "src" / "statehouse" / "server" / "web" / "static"
ESBUILD = ROOT / "node_modules" / "esbuild" / "package.json"


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def test_committed_console_is_not_stale(tmp_path: Path) -> None:
    if not ESBUILD.exists():
        pytest.fail(f"{ESBUILD.parent} is missing: run `make node`")
    result = subprocess.run(
        ["node", "console/build.mjs", "--outdir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    fresh, committed = _files(tmp_path), _files(STATIC)
    assert sorted(fresh) == sorted(committed), "run `make console`"
    stale = [name for name in sorted(fresh) if fresh[name] != committed[name]]
    assert stale == [], f"stale console assets {stale}: run `make console`"


def test_console_is_built_with_the_locked_esbuild() -> None:
    """The lockfile pins the esbuild that made the committed bundle."""
    lock = json.loads((ROOT / "package-lock.json").read_text())
    package = json.loads((ROOT / "package.json").read_text())
    pinned = package["devDependencies"]["esbuild"]
    assert lock["packages"]["node_modules/esbuild"]["version"] == pinned
    assert json.loads(ESBUILD.read_text())["version"] == pinned, "run `make node`"
