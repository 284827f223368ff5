"""Generate the Java classes of protos/ into a source root.

Used by ``make java-protos`` (into client/java/gen) and by the test that checks
the committed classes are not stale (into a temporary directory).

The generators are Debian's: ``protoc`` (protobuf-compiler) for the messages,
``grpc_java_plugin`` (protobuf-compiler-grpc-java-plugin) for the service
stubs. Generated Java code only runs on the protobuf-java runtime of the same
release, and the stubs on the grpc-java of the plugin's release, so both are
checked against the jars in /usr/share/java before anything is written.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
JARS = Path(os.environ.get("STATEHOUSE_JAVA_JARS", "/usr/share/java"))
PLUGIN = Path(os.environ.get("GRPC_JAVA_PLUGIN", "/usr/bin/grpc_java_plugin"))
PACKAGE = Path("io") / "statehouse" / "v1"


def jar_version(name: str) -> str | None:
    """The version of ``JARS/name.jar``: Debian links it to ``name-VERSION.jar``."""
    jar = JARS / f"{name}.jar"
    if not jar.exists():
        return None
    match = re.fullmatch(rf"{re.escape(name)}-([0-9][\w.]*)\.jar", Path(os.path.realpath(jar)).name)
    return match.group(1) if match else None


def protoc_version(protoc: str) -> str:
    out = subprocess.run([protoc, "--version"], capture_output=True, text=True, check=True).stdout
    return out.split()[-1]


def toolchain() -> tuple[str, Path]:
    """protoc and the grpc-java plugin, checked against the runtime jars
    (SystemExit naming what is missing or mismatched)."""
    protoc = shutil.which("protoc")
    if protoc is None:
        raise SystemExit("protoc not found: apt-get install protobuf-compiler")
    if not PLUGIN.exists():
        raise SystemExit(f"{PLUGIN} not found: apt-get install protobuf-compiler-grpc-java-plugin")
    runtime = jar_version("protobuf")
    compiler = protoc_version(protoc)
    if runtime != compiler:
        raise SystemExit(
            f"protoc {compiler} does not match the protobuf-java runtime {runtime} in {JARS}: "
            "generated code needs the runtime of its own release (Debian: protobuf-compiler "
            "and libprotobuf-java of the same version)"
        )
    grpc = jar_version("grpc-core")
    plugin = plugin_version()
    if plugin is not None and grpc is not None and not plugin.startswith(f"{grpc}+"):
        raise SystemExit(f"the grpc-java plugin {plugin} does not match grpc-core {grpc} in {JARS}")
    return protoc, PLUGIN


def plugin_version() -> str | None:
    """The Debian version of the grpc-java plugin (its output does not say it)."""
    dpkg = shutil.which("dpkg-query")
    if dpkg is None:
        return None
    found = subprocess.run(
        [dpkg, "-W", "-f=${Version}", "protobuf-compiler-grpc-java-plugin"],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() or None


def generate(out: Path) -> list[Path]:
    """Write the messages and the *Grpc stubs under ``out/io/statehouse/v1``."""
    protoc, plugin = toolchain()
    sources = sorted(PROTOS.glob("statehouse/v1/*.proto"))
    well_known = str(resources.files("grpc_tools") / "_proto")
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            protoc,
            f"-I{PROTOS}",
            f"-I{well_known}",
            f"--java_out={out}",
            f"--plugin=protoc-gen-grpc-java={plugin}",
            f"--grpc-java_out={out}",
            *(str(s.relative_to(PROTOS)) for s in sources),
        ],
        check=True,
    )
    return sorted((out / PACKAGE).glob("*.java"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "client" / "java" / "gen")
    args = parser.parse_args()
    target = args.out / PACKAGE
    for old in target.glob("*.java"):
        old.unlink()
    files = generate(args.out)
    print(f"generated {len(files)} files in {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
