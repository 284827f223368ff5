"""A protoc plugin that runs a generator built into grpcio-tools' protoc.

``buf generate`` drives plugins; grpcio-tools ships the Python and gRPC Python
generators inside its embedded protoc rather than as ``protoc-gen-*``
executables, and this machine has no standalone protoc. This plugin bridges the
two: it reads buf's CodeGeneratorRequest on stdin, hands its descriptors to
``grpc_tools.protoc`` (``--descriptor_set_in``) with ``--<generator>_out``, and
answers with the files written. The output is the one ``tools/gen_protos.py``
writes, byte for byte (a test compares them): buf fills in every field's
``json_name``, which protoc records only when a proto sets it, so the default
ones are cleared before the Python generator serializes the descriptors.

Usage (in buf.gen.yaml): ``local: [".venv/bin/python", "tools/protoc_gen_grpc_tools.py", "grpc_python"]``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc  # type: ignore[import-untyped]

GENERATORS = ("python", "grpc_python", "pyi")


def default_json_name(name: str) -> str:
    """protoc's default JSON name: underscores dropped, the next letter upper-cased."""
    parts = name.split("_")
    return parts[0] + "".join(part[:1].upper() + part[1:] for part in parts[1:])


def clear_default_json_names(message: descriptor_pb2.DescriptorProto) -> None:
    for field in (*message.field, *message.extension):
        if field.json_name == default_json_name(field.name):
            field.ClearField("json_name")
    for nested in message.nested_type:
        clear_default_json_names(nested)


def run(
    generator: str, request: plugin_pb2.CodeGeneratorRequest
) -> plugin_pb2.CodeGeneratorResponse:
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    )
    with tempfile.TemporaryDirectory(prefix="protoc-gen-") as tmp:
        root = Path(tmp)
        descriptors = root / "descriptors.binpb"
        out = root / "out"
        out.mkdir()
        files = descriptor_pb2.FileDescriptorSet(file=request.proto_file)
        for file in files.file:
            for message in file.message_type:
                clear_default_json_names(message)
            for extension in file.extension:
                if extension.json_name == default_json_name(extension.name):
                    extension.ClearField("json_name")
        descriptors.write_bytes(files.SerializeToString())
        option = f"{request.parameter}:" if request.parameter else ""
        code = protoc.main(
            [
                "grpc_tools.protoc",
                f"--descriptor_set_in={descriptors}",
                f"--{generator}_out={option}{out}",
                *request.file_to_generate,
            ]
        )
        if code != 0:
            response.error = f"grpc_tools.protoc --{generator}_out failed with exit code {code}"
            return response
        for path in sorted(p for p in out.rglob("*") if p.is_file()):
            response.file.add(name=path.relative_to(out).as_posix(), content=path.read_text())
    return response


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in GENERATORS:
        raise SystemExit(f"usage: {sys.argv[0]} {{{','.join(GENERATORS)}}} < CodeGeneratorRequest")
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = run(sys.argv[1], request)
    sys.stdout.buffer.write(response.SerializeToString())


if __name__ == "__main__":
    main()
