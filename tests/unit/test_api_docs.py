"""docs/api.md is generated from the proto comments and kept fresh."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from tests.tools import load_tool

ROOT = Path(__file__).resolve().parents[2]


def gen_api_docs() -> ModuleType:
    return load_tool("gen_api_docs")


def test_api_reference_is_not_stale() -> None:
    text, _ = gen_api_docs().generate()
    assert (ROOT / "docs" / "api.md").read_text() == text, "docs/api.md is stale: run `make docs`"


def test_every_service_rpc_message_field_and_enum_value_is_documented() -> None:
    _, missing = gen_api_docs().generate()
    assert missing == [], "add a comment above each of these in protos/"


def test_the_reference_lists_every_rpc_and_type() -> None:
    from statehouse.v1 import event_service_pb2, execution_service_pb2, metric_service_pb2

    text = (ROOT / "docs" / "api.md").read_text()
    for module in (execution_service_pb2, event_service_pb2, metric_service_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            assert f"### service {service.name}" in text
            for method in service.methods:
                assert f"| `{method.name}` |" in text
        for message in module.DESCRIPTOR.message_types_by_name.values():
            assert f"### message {message.name}" in text
