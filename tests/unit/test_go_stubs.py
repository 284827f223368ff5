"""The committed Go package in gen/go/statehouse/v1 matches a fresh generation
(protoc with the current protoc-gen-go, built from Debian's source, and
Debian's protoc-gen-go-grpc; see tools/gen_go_protos.py). Skipped only when
the Go toolchain is missing (.ci/run installs it)."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import pytest

from tests.tools import load_tool

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_committed_go_package_is_not_stale(tmp_path: Path) -> None:
    if shutil.which("go") is None:
        pytest.skip("the Go toolchain is not installed (.ci/run installs Debian's golang-go)")
    module = load_tool("gen_go_protos")
    missing = module.missing_tools()
    assert not missing, f"missing {missing}: apt-get install {' '.join(module.DEBIAN_PACKAGES)}"
    fresh = {p.name for p in module.generate(tmp_path)}
    committed_dir = ROOT / module.PACKAGE_DIR
    committed = {p.name for p in committed_dir.glob("*.go")}
    assert fresh == committed, "run `make go-protos`"
    stale = [
        name
        for name in sorted(fresh)
        if not filecmp.cmp(tmp_path / module.PACKAGE_DIR / name, committed_dir / name, False)
    ]
    assert stale == [], f"stale generated files {stale}: run `make go-protos`"
