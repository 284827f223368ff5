"""The contract is guarded: buf breaking (FILE) against the committed snapshot.

``make lint`` runs ``buf breaking --against api/statehouse.v1.binpb``. These
tests prove that it catches what breaks clients (a copy of the protos with a
field removed, a field's type changed, an RPC removed, an enum value
renumbered) and that the snapshot is the contract in the tree, so a change is
accepted only by running ``make contract-snapshot`` in the same commit.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"
CONTRACT = ROOT / "api" / "statehouse.v1.binpb"


def buf(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    if not BUF.exists():
        pytest.fail(f"{BUF} is missing: run `make node`")
    return subprocess.run(
        [str(BUF), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def module_copy(tmp_path: Path) -> Path:
    """A copy of the buf module (buf.yaml and protos/) to edit."""
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not found once in {path}"
    path.write_text(text.replace(old, new))


def test_the_snapshot_is_the_contract_in_the_tree(tmp_path: Path) -> None:
    built = buf("build", "--exclude-source-info", "-o", str(tmp_path / "now.binpb"))
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "now.binpb").read_bytes() == CONTRACT.read_bytes(), (
        "protos/ changed: check `make breaking`, then run `make contract-snapshot` "
        "and commit api/statehouse.v1.binpb with the change"
    )


def test_the_tree_is_compatible_with_the_snapshot() -> None:
    result = buf("breaking", "--against", str(CONTRACT))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        pytest.param(
            "event.proto",
            "  // The execution's revision once the change was stored.\n"
            "  int64 execution_revision = 12;\n",
            "",
            'Previously present field "12" with name "execution_revision" on message '
            '"StateChangeEvent" was deleted.',
            id="removed field",
        ),
        pytest.param(
            "event.proto",
            "last sequence received.\n  int64 sequence = 1;",
            "last sequence received.\n  string sequence = 1;",
            'Field "1" with name "sequence" on message "StateChangeEvent" changed type '
            'from "int64" to "string".',
            id="changed field type",
        ),
        pytest.param(
            "execution_service.proto",
            "  rpc DeleteExecution(DeleteExecutionRequest) returns (DeleteExecutionResponse);\n",
            "",
            'Previously present RPC "DeleteExecution" on service "ExecutionService" was deleted.',
            id="removed rpc",
        ),
        pytest.param(
            "state.proto",
            "STATE_RESTARTED = 9;",
            "STATE_RESTARTED = 10;",
            'Previously present enum value "9" on enum "State" was deleted.',
            id="renumbered enum value",
        ),
    ],
)
def test_buf_breaking_rejects_a_change_that_breaks_clients(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    module = module_copy(tmp_path)
    edit(module / "protos" / "statehouse" / "v1" / file, old, new)
    assert buf("build", cwd=module).returncode == 0, "the edited protos must still compile"
    result = buf("breaking", "--against", str(CONTRACT), cwd=module)
    assert result.returncode != 0, "buf breaking accepted a breaking change"
    assert f"protos/statehouse/v1/{file}:" in result.stdout, result.stdout + result.stderr
    assert message in result.stdout, result.stdout + result.stderr
