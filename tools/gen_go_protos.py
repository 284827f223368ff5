"""Generate the Go package of protos/ and run Go in GOPATH mode.

The package's import path is the protos' ``go_package``,
``github.com/statehouse/statehouse/gen/go/statehouse/v1``, so the files land in
``gen/go/statehouse/v1`` of this repository, which Go finds through a GOPATH
whose ``src/github.com/statehouse/statehouse`` is a link to the checkout
(:func:`gopath`). Debian's toolchain is used as it is packaged (TOOLING.md):
``golang-go``, grpc-go and the protobuf runtime under ``/usr/share/gocode``,
no module proxy, so ``GO111MODULE=off``. Debian's ``/usr/bin/protoc-gen-go``
is the old 1.3 generator (no proto3 ``optional``), so the current one is built
from the packaged source of the runtime; ``protoc-gen-go-grpc`` is Debian's.

Used by ``make go-protos`` (into the checkout), ``make go`` (the GOPATH) and
the tests: ``tests/unit/test_go_stubs.py`` generates into a temporary directory
and compares, ``tests/integration/test_go_client.py`` builds and tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
#: The import path of this repository, as the protos' go_package spells it.
MODULE = "github.com/statehouse/statehouse"
#: Where the generated package lives, relative to the checkout.
PACKAGE_DIR = Path("gen/go/statehouse/v1")
#: Debian's Go packages (grpc-go, google.golang.org/protobuf, genproto).
SYSTEM_GOPATH = "/usr/share/gocode"
#: The Debian packages that provide all of this (.ci/run installs them).
DEBIAN_PACKAGES = (
    "golang-go",
    "golang-google-grpc-dev",
    "golang-google-protobuf-dev",
    "golang-github-golang-protobuf-1-5-dev",
    "golang-google-genproto-dev",
    "protoc-gen-go-grpc",
    "protobuf-compiler",
)


def missing_tools() -> list[str]:
    """The commands (or Go source trees) this needs that are not installed."""
    missing = [tool for tool in ("go", "protoc", "protoc-gen-go-grpc") if not shutil.which(tool)]
    for package in ("google.golang.org/grpc", "google.golang.org/protobuf/cmd/protoc-gen-go"):
        if not (Path(SYSTEM_GOPATH) / "src" / package).is_dir():
            missing.append(package)
    return missing


def gopath(work: Path) -> Path:
    """Make ``work`` a GOPATH entry in which this checkout is ``MODULE`` (a link)."""
    link = work / "src" / MODULE
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and link.resolve() != ROOT:
        link.unlink()
    if not link.is_symlink():
        link.symlink_to(ROOT, target_is_directory=True)
    return work


def go_env(work: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a ``go`` command with ``work`` (see :func:`gopath`) first in GOPATH."""
    env = dict(os.environ if base is None else base)
    env.update(GO111MODULE="off", GOPATH=f"{gopath(work)}:{SYSTEM_GOPATH}", GOFLAGS="")
    if not env.get("HOME") and not env.get("XDG_CACHE_HOME"):
        env.setdefault("GOCACHE", str(Path(tempfile.gettempdir()) / "statehouse-go-build"))
    return env


def build_protoc_gen_go(work: Path) -> Path:
    """The current protoc-gen-go, built from Debian's source of the protobuf runtime."""
    binary = work / "bin" / "protoc-gen-go"
    binary.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["go", "build", "-o", str(binary), "google.golang.org/protobuf/cmd/protoc-gen-go"],
        env=go_env(work),
        cwd=work,
        check=True,
    )
    return binary


def generate(out: Path) -> list[Path]:
    """Write the ``*.pb.go`` and ``*_grpc.pb.go`` files under ``out / PACKAGE_DIR``."""
    sources = sorted(PROTOS.glob("statehouse/v1/*.proto"))
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="statehouse-protoc-gen-go-") as tmp:
        plugin = build_protoc_gen_go(Path(tmp))
        subprocess.run(
            [
                "protoc",
                f"--plugin=protoc-gen-go={plugin}",
                f"-I{PROTOS}",
                f"--go_out={out}",
                f"--go_opt=module={MODULE}",
                f"--go-grpc_out={out}",
                f"--go-grpc_opt=module={MODULE}",
                *(str(s.relative_to(PROTOS)) for s in sources),
            ],
            check=True,
        )
    return sorted((out / PACKAGE_DIR).glob("*.go"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT, help="the root to write gen/go under")
    parser.add_argument(
        "--gopath", type=Path, help="only make this directory a GOPATH entry for the checkout"
    )
    args = parser.parse_args()
    missing = missing_tools()
    if missing:
        raise SystemExit(
            f"missing: {', '.join(missing)}; install Debian's "
            f"{' '.join(DEBIAN_PACKAGES)} (apt-get install)"
        )
    if args.gopath is not None:
        gopath(args.gopath.resolve())
        return
    target = args.out / PACKAGE_DIR
    for old in target.glob("*.go"):
        old.unlink()
    files = generate(args.out)
    print(f"generated {len(files)} files in {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
