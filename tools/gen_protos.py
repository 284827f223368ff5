"""Generate the Python stubs of protos/ into a source root.

Used by ``make protos`` (into client/src) and by the test that checks the
committed stubs are not stale (into a temporary directory).
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"


def generate(out: Path) -> list[Path]:
    """Write *_pb2.py, *_pb2.pyi, *_pb2_grpc.py and *_pb2_grpc.pyi under ``out``."""
    sources = sorted(PROTOS.glob("statehouse/v1/*.proto"))
    well_known = str(resources.files("grpc_tools") / "_proto")
    bindir = Path(sys.executable).parent
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"--plugin=protoc-gen-mypy={bindir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bindir / 'protoc-gen-mypy_grpc'}",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *(str(s.relative_to(PROTOS)) for s in sources),
    ]
    code = protoc.main(args)
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    return sorted((out / "statehouse" / "v1").glob("*_pb2*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "client" / "src")
    args = parser.parse_args()
    target = args.out / "statehouse" / "v1"
    for old in target.glob("*_pb2*"):
        old.unlink()
    files = generate(args.out)
    print(f"generated {len(files)} files in {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
