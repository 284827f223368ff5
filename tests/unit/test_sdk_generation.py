"""`buf generate` (buf.gen.yaml) produces the committed SDKs, byte for byte.

The Python stubs in client/src/statehouse/v1 (also written by ``make protos``)
and the TypeScript client in client/ts/gen (``make generate``) are committed;
a fresh generation into a temporary directory must equal them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"
OUTPUTS = {
    "python": (Path("client/src/statehouse/v1"), "*_pb2*"),
    "typescript": (Path("client/ts/gen/statehouse/v1"), "*.ts"),
}


# One worker runs them all: the module's generation is made once.
pytestmark = pytest.mark.xdist_group("sdk-generation")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not BUF.exists():
        pytest.fail(f"{BUF} is missing: run `make node`")
    out = tmp_path_factory.mktemp("buf-generate")
    result = subprocess.run(
        [str(BUF), "generate", "--template", "buf.gen.yaml", "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("sdk", sorted(OUTPUTS))
def test_buf_generate_reproduces_the_committed_sdk(generated: Path, sdk: str) -> None:
    directory, pattern = OUTPUTS[sdk]
    fresh = {p.name: p.read_bytes() for p in (generated / directory).glob(pattern)}
    committed = {p.name: p.read_bytes() for p in (ROOT / directory).glob(pattern)}
    assert fresh, f"buf generate wrote nothing into {directory}"
    assert sorted(fresh) == sorted(committed), "run `make generate`"
    stale = [name for name in sorted(fresh) if fresh[name] != committed[name]]
    assert stale == [], f"stale generated files in {directory}: {stale}: run `make generate`"
