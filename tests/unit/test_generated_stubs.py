"""The committed stubs in client/src/statehouse/v1 match a fresh generation."""

from __future__ import annotations

import filecmp
from pathlib import Path

from tests.tools import load_tool

ROOT = Path(__file__).resolve().parents[2]


def test_committed_stubs_are_not_stale(tmp_path: Path) -> None:
    module = load_tool("gen_protos")
    fresh = {p.name for p in module.generate(tmp_path)}
    committed_dir = ROOT / "client" / "src" / "statehouse" / "v1"
    committed = {p.name for p in committed_dir.glob("*_pb2*")}
    assert fresh == committed, "run `make protos`"
    stale = [
        name
        for name in sorted(fresh)
        if not filecmp.cmp(tmp_path / "statehouse" / "v1" / name, committed_dir / name, False)
    ]
    assert stale == [], f"stale generated files {stale}: run `make protos`"
