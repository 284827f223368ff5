"""The committed Java classes in client/java/gen match a fresh generation
(tools/gen_java.py: Debian's protoc and grpc-java plugin, checked against the
runtime jars). Skipped only where that toolchain is not installed."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from tests.tools import load_tool

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "client" / "java" / "gen" / "io" / "statehouse" / "v1"


def _gen_java() -> ModuleType:
    return load_tool("gen_java")


@pytest.mark.skipif(
    shutil.which("protoc") is None or not Path("/usr/bin/grpc_java_plugin").exists(),
    reason="protoc or the grpc-java plugin is not installed (.ci/run installs them)",
)
def test_committed_java_classes_are_not_stale(tmp_path: Path) -> None:
    fresh = {p.name for p in _gen_java().generate(tmp_path)}
    committed = {p.name for p in COMMITTED.glob("*.java")}
    assert fresh == committed, "run `make java-protos`"
    stale = [
        name
        for name in sorted(fresh)
        if not filecmp.cmp(tmp_path / "io" / "statehouse" / "v1" / name, COMMITTED / name, False)
    ]
    assert stale == [], f"stale generated files {stale}: run `make java-protos`"


def test_protoc_is_the_release_of_the_protobuf_java_runtime() -> None:
    """Generated Java code runs only on the protobuf-java of its own release."""
    gen_java = _gen_java()
    if gen_java.jar_version("protobuf") is None or shutil.which("protoc") is None:
        pytest.skip("protoc or Debian's protobuf-java is not installed")
    assert gen_java.jar_version("protobuf") == gen_java.protoc_version(
        shutil.which("protoc") or "protoc"
    )
