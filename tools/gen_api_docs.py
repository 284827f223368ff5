"""Generate docs/api.md, the API reference, from the comments in protos/.

Every service, RPC, message, field, oneof, enum and enum value of
``statehouse.v1`` is listed with the comment written above it in the proto
files, so the reference says exactly what the generated SDKs say.

Used by ``make docs``; tests/unit/test_api_docs.py fails when docs/api.md is
stale. ``--check`` exits 1 when it is.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from google.protobuf import descriptor_pb2
from grpc_tools import protoc  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUTPUT = ROOT / "docs" / "api.md"
PACKAGE = "statehouse.v1"

# Field numbers in descriptor.proto, used in SourceCodeInfo.Location.path.
FILE_MESSAGE, FILE_ENUM, FILE_SERVICE = 4, 5, 6
MESSAGE_FIELD, MESSAGE_NESTED, MESSAGE_ENUM, MESSAGE_ONEOF = 2, 3, 4, 8
ENUM_VALUE = 2
SERVICE_METHOD = 2

FDP = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    FDP.TYPE_DOUBLE: "double",
    FDP.TYPE_FLOAT: "float",
    FDP.TYPE_INT64: "int64",
    FDP.TYPE_UINT64: "uint64",
    FDP.TYPE_INT32: "int32",
    FDP.TYPE_FIXED64: "fixed64",
    FDP.TYPE_FIXED32: "fixed32",
    FDP.TYPE_BOOL: "bool",
    FDP.TYPE_STRING: "string",
    FDP.TYPE_BYTES: "bytes",
    FDP.TYPE_UINT32: "uint32",
    FDP.TYPE_SFIXED32: "sfixed32",
    FDP.TYPE_SFIXED64: "sfixed64",
    FDP.TYPE_SINT32: "sint32",
    FDP.TYPE_SINT64: "sint64",
}
WELL_KNOWN_DOCS = "https://protobuf.dev/reference/protobuf/google.protobuf/#"


def load() -> descriptor_pb2.FileDescriptorSet:
    """Compile protos/statehouse/v1 with source info (comments and locations)."""
    sources = sorted(PROTOS.glob("statehouse/v1/*.proto"))
    well_known = str(resources.files("grpc_tools") / "_proto")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "api.binpb"
        code = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{PROTOS}",
                f"-I{well_known}",
                "--include_source_info",
                f"--descriptor_set_out={out}",
                *(str(s.relative_to(PROTOS)) for s in sources),
            ]
        )
        if code != 0:
            raise SystemExit(f"protoc failed with exit code {code}")
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


class Comments:
    """The leading comments of one file, by location path."""

    def __init__(self, file: descriptor_pb2.FileDescriptorProto) -> None:
        self.by_path = {
            tuple(loc.path): loc.leading_comments for loc in file.source_code_info.location
        }
        self.missing: list[str] = []

    def get(self, path: tuple[int, ...], name: str) -> str:
        lines = [line.removeprefix(" ").rstrip() for line in self.by_path.get(path, "").split("\n")]
        text = "\n".join(lines).strip()
        if not text:
            self.missing.append(name)
        return text


def anchor(full_name: str) -> str:
    """A stable anchor for a file or a type: dots and slashes as dashes, lowercase."""
    return full_name.replace(".", "-").replace("/", "-").lower()


def one_line(text: str) -> str:
    """A comment as a table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


class Renderer:
    def __init__(self, files: descriptor_pb2.FileDescriptorSet) -> None:
        # The files with services first, then the types they use, each by name.
        self.files = sorted(
            (f for f in files.file if f.package == PACKAGE),
            key=lambda f: (not f.service, f.name),
        )
        self.map_entries: dict[str, descriptor_pb2.DescriptorProto] = {}
        for file in self.files:
            for full_name, message, _ in self._messages(file):
                for nested in message.nested_type:
                    if nested.options.map_entry:
                        self.map_entries[f".{full_name}.{nested.name}"] = nested
        self.missing: list[str] = []

    def _messages(
        self, file: descriptor_pb2.FileDescriptorProto
    ) -> Iterator[tuple[str, descriptor_pb2.DescriptorProto, tuple[int, ...]]]:
        def walk(
            prefix: str, message: descriptor_pb2.DescriptorProto, path: tuple[int, ...]
        ) -> Iterator[tuple[str, descriptor_pb2.DescriptorProto, tuple[int, ...]]]:
            full_name = f"{prefix}.{message.name}"
            yield full_name, message, path
            for i, nested in enumerate(message.nested_type):
                if not nested.options.map_entry:
                    yield from walk(full_name, nested, (*path, MESSAGE_NESTED, i))

        for i, message in enumerate(file.message_type):
            yield from walk(file.package, message, (FILE_MESSAGE, i))

    def type_ref(self, type_name: str) -> str:
        name = type_name.lstrip(".")
        if name.startswith(f"{PACKAGE}."):
            return f"[`{name.removeprefix(PACKAGE + '.')}`](#{anchor(name)})"
        if name.startswith("google.protobuf."):
            short = name.removeprefix("google.protobuf.")
            return f"[`{name}`]({WELL_KNOWN_DOCS}{short.lower()})"
        return f"`{name}`"

    def field_type(self, field: descriptor_pb2.FieldDescriptorProto) -> str:
        if field.type_name in self.map_entries:
            key, value = self.map_entries[field.type_name].field
            return f"map<{self.field_type(key)}, {self.field_type(value)}>"
        base = (
            self.type_ref(field.type_name)
            if field.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM)
            else f"`{SCALARS[field.type]}`"
        )
        if field.label == FDP.LABEL_REPEATED:
            return f"repeated {base}"
        if field.proto3_optional:
            return f"optional {base}"
        return base

    def render(self) -> str:
        out: list[str] = [
            "# Statehouse API reference",
            "",
            "<!-- Generated by tools/gen_api_docs.py (make docs) from the comments in "
            "protos/statehouse/v1. Do not edit: a test fails when this file is stale. -->",
            "",
            f"Package `{PACKAGE}`. Errors are `google.rpc.Status` with an `ErrorInfo` "
            "(domain `statehouse`); the codes and reasons are listed in "
            "[concepts.md](concepts.md#errors).",
            "",
            "## Contents",
            "",
        ]
        for file in self.files:
            out.append(f"- [`{file.name}`](#{anchor(file.name)})")
            for service in file.service:
                out.append(
                    f"  - service [`{service.name}`](#{anchor(PACKAGE + '.' + service.name)})"
                )
            for full_name, _, _ in self._messages(file):
                short = full_name.removeprefix(PACKAGE + ".")
                out.append(f"  - message [`{short}`](#{anchor(full_name)})")
            for enum in file.enum_type:
                out.append(f"  - enum [`{enum.name}`](#{anchor(PACKAGE + '.' + enum.name)})")
        for file in self.files:
            out.extend(self.render_file(file))
        return "\n".join(out).rstrip() + "\n"

    def render_file(self, file: descriptor_pb2.FileDescriptorProto) -> list[str]:
        comments = Comments(file)
        out = ["", f'<a id="{anchor(file.name)}"></a>', "", f"## {file.name}"]
        for s, service in enumerate(file.service):
            full = f"{PACKAGE}.{service.name}"
            out += ["", f'<a id="{anchor(full)}"></a>', "", f"### service {service.name}", ""]
            out.append(comments.get((FILE_SERVICE, s), full))
            out += ["", "| RPC | request | response | description |", "|---|---|---|---|"]
            for m, method in enumerate(service.method):
                request = self.type_ref(method.input_type)
                response = self.type_ref(method.output_type)
                if method.client_streaming:
                    request = f"stream {request}"
                if method.server_streaming:
                    response = f"stream {response}"
                text = comments.get((FILE_SERVICE, s, SERVICE_METHOD, m), f"{full}.{method.name}")
                out.append(f"| `{method.name}` | {request} | {response} | {one_line(text)} |")
        for full_name, message, path in self._messages(file):
            short = full_name.removeprefix(PACKAGE + ".")
            out += ["", f'<a id="{anchor(full_name)}"></a>', "", f"### message {short}", ""]
            out.append(comments.get(path, full_name))
            if message.field:
                out += ["", "| field | number | type | description |", "|---|---|---|---|"]
                for f, field in enumerate(message.field):
                    text = comments.get((*path, MESSAGE_FIELD, f), f"{full_name}.{field.name}")
                    if field.HasField("oneof_index") and not field.proto3_optional:
                        group = message.oneof_decl[field.oneof_index].name
                        text = f"{text} (one of `{group}`)"
                    out.append(
                        f"| `{field.name}` | {field.number} | {self.field_type(field)} "
                        f"| {one_line(text)} |"
                    )
            oneofs = [
                (i, o)
                for i, o in enumerate(message.oneof_decl)
                if not any(
                    f.proto3_optional and f.oneof_index == i
                    for f in message.field
                    if f.HasField("oneof_index")
                )
            ]
            for i, oneof in oneofs:
                text = comments.get((*path, MESSAGE_ONEOF, i), f"{full_name}.{oneof.name}")
                members = ", ".join(
                    f"`{f.name}`"
                    for f in message.field
                    if f.HasField("oneof_index") and f.oneof_index == i
                )
                out += ["", f"Oneof `{oneof.name}` (at most one of {members}): {one_line(text)}"]
            for e, enum in enumerate(message.enum_type):
                out += self.render_enum(
                    comments, f"{full_name}.{enum.name}", enum, (*path, MESSAGE_ENUM, e)
                )
        for e, enum in enumerate(file.enum_type):
            out += self.render_enum(comments, f"{PACKAGE}.{enum.name}", enum, (FILE_ENUM, e))
        self.missing += comments.missing
        return out

    def render_enum(
        self,
        comments: Comments,
        full_name: str,
        enum: descriptor_pb2.EnumDescriptorProto,
        path: tuple[int, ...],
    ) -> list[str]:
        short = full_name.removeprefix(PACKAGE + ".")
        out = ["", f'<a id="{anchor(full_name)}"></a>', "", f"### enum {short}", ""]
        out.append(comments.get(path, full_name))
        out += ["", "| value | number | description |", "|---|---|---|"]
        for v, value in enumerate(enum.value):
            text = comments.get((*path, ENUM_VALUE, v), f"{full_name}.{value.name}")
            out.append(f"| `{value.name}` | {value.number} | {one_line(text)} |")
        return out


def generate() -> tuple[str, list[str]]:
    """The reference as Markdown, and the elements that have no comment."""
    renderer = Renderer(load())
    text = renderer.render()
    return text, renderer.missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if --out is stale")
    args = parser.parse_args()
    text, missing = generate()
    for name in missing:
        print(f"warning: no comment on {name}", file=sys.stderr)
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            raise SystemExit(f"{args.out} is stale: run `make docs`")
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
