"""The errors table is generated from the code's reasons, so it cannot go stale.

``api.errors.REASONS`` lists every ErrorInfo reason with its code; docs/concepts.md's errors
table is made from it. These tests read the server's source for every reason it
can raise (a ``reason`` set on an error, the first argument of an error that
takes its reason, a ``NotFound`` resource, a plain status) and find each in the
list with the code the server sends it with, and each listed reason in the code.
"""

from __future__ import annotations

import ast
from pathlib import Path

from google.rpc import code_pb2

from statehouse.server import orchestration
from statehouse.server.api import errors
from tests.doc_blocks import section

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "server" / "src" / "statehouse" / "server"

#: Errors whose first positional argument is their reason.
REASON_FIRST = {"FailedPrecondition", "AlreadyExists"}


def _code_of_class(name: str) -> str | None:
    cls = getattr(orchestration, name, None)
    if not isinstance(cls, type):
        return None
    for known, code in errors._CODES:
        if issubclass(cls, known):
            return code_pb2.Code.Name(code)
    return None


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def raised_reasons() -> dict[str, set[str | None]]:
    """Every reason the source can raise -> the codes it is raised with (None: not
    known from the place, e.g. ``error.reason = "X"``)."""
    found: dict[str, set[str | None]] = {}

    def add(reason: str | None, code: str | None) -> None:
        if reason:
            found.setdefault(reason, set()).add(code)

    for path in sorted(SERVER.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for call in ast.walk(node):  # super().__init__("X", ...) in an error class
                    if (
                        isinstance(call, ast.Call)
                        and isinstance(call.func, ast.Attribute)
                        and call.func.attr == "__init__"
                        and isinstance(call.func.value, ast.Call)
                        and _name(call.func.value.func) == "super"
                        and call.args
                        and (_literal(call.args[0]) or "").isupper()
                    ):
                        add(_literal(call.args[0]), _code_of_class(node.name))
                for item in node.body:  # reason = "X" on an error class
                    target = item.target if isinstance(item, ast.AnnAssign) else None
                    if isinstance(item, ast.Assign) and len(item.targets) == 1:
                        target = item.targets[0]
                    if isinstance(target, ast.Name) and target.id == "reason":
                        value = item.value if isinstance(item, ast.Assign | ast.AnnAssign) else None
                        reason = _literal(value)
                        if reason and reason != "UNKNOWN":
                            add(reason, _code_of_class(node.name))
            elif isinstance(node, ast.Assign):  # error.reason = "X"
                for target in node.targets:
                    if isinstance(target, ast.Attribute) and target.attr == "reason":
                        add(_literal(node.value), None)
            elif isinstance(node, ast.Call):
                called = _name(node.func)
                code = _code_of_class(called)
                for keyword in node.keywords:
                    if keyword.arg == "reason":
                        add(_literal(keyword.value), code)
                if called in REASON_FIRST and node.args:
                    add(_literal(node.args[0]), code)
                if called == "NotFound" and node.args and _literal(node.args[0]):
                    resource = _literal(node.args[0]) or ""
                    add(resource.upper().replace(" ", "_") + "_NOT_FOUND", code)
                if called == "plain_status" and len(node.args) >= 2:
                    add(_literal(node.args[1]), _name(node.args[0]) or None)
    return found


def test_every_reason_the_code_raises_is_listed_with_its_code() -> None:
    listed = {r.reason: r.code for r in errors.REASONS if r.reason}
    raised = raised_reasons()
    assert sorted(set(raised) - set(listed)) == [], "add these to api.errors.REASONS"
    wrong = {
        reason: (codes, listed[reason])
        for reason, codes in raised.items()
        if any(code is not None and code != listed[reason] for code in codes)
    }
    assert wrong == {}, "raised with another code than REASONS says"


def test_every_listed_reason_is_raised_somewhere() -> None:
    """No stale row: a reason the code no longer raises leaves the list."""
    raised = raised_reasons()
    # NotFound(kind, ...) in the guard takes its kind from access.RULES.
    stale = [r.reason for r in errors.REASONS if r.reason and r.reason not in raised]
    assert stale == []


def test_the_scan_finds_the_kinds_of_place_a_reason_is_raised_from() -> None:
    """The scan is not vacuous: each way of raising a reason is seen."""
    raised = raised_reasons()
    assert raised["TASK_RUNS_ACTIVE"] == {"FAILED_PRECONDITION"}  # FailedPrecondition("X", ...)
    assert raised["REVISION_MISMATCH"] == {"ABORTED"}  # reason = "X" on the class
    assert "CREDENTIAL_NOT_FOUND" in raised  # NotFound("credential", ...)
    assert raised["DATABASE_UNAVAILABLE"] == {"UNAVAILABLE"}  # plain_status(code, "X", ...)
    assert "PAYLOAD_TOO_LARGE" in raised  # violation.reason = "X"
    assert raised["INVALID_PAGE_TOKEN"] == {"INVALID_ARGUMENT"}  # InvalidArgument(reason="X")
    assert raised["INVALID_TRANSITION"] == {"FAILED_PRECONDITION"}  # super().__init__("X", ...)


def test_every_code_a_domain_error_maps_to_has_a_row() -> None:
    codes = {r.code for r in errors.REASONS}
    assert {code_pb2.Code.Name(c) for _, c in errors._CODES} <= codes


def test_the_documented_errors_table_is_generated_from_the_list() -> None:
    documented = section(ROOT / "docs" / "concepts.md", "Errors")
    table = errors.errors_table()
    assert table in documented, f"docs/concepts.md's errors table is stale; it must read:\n{table}"
