"""The import rules of docs/design.md, "Layers", checked on the source.

Every module of the server belongs to a layer; a module may import only from
layers below its own, and some layers may not import some libraries at all
(the domain knows nothing of gRPC, SQL or the generated code). A new module
must be given its layer here, so that the rule is decided, not drifted into.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "server" / "src" / "statehouse" / "server"
CLIENT = ROOT / "client" / "src" / "statehouse"

#: The server's units (a top-level module or a package) by layer, top first.
#: The modules of a package named in SPLIT are units of their own
#: (``security.guard``), each at its layer: the package gathers a concern, its
#: modules sit where their imports put them.
LAYERS: list[set[str]] = [
    {"app", "testing"},
    {"api", "security.reflection", "background", "options", "web"},
    {"commands", "queries", "security.guard", "security.tls"},
    {"security.credentials", "events"},
    {"security.jwts", "storage"},
    {"security.access"},
    {"orchestration"},
    {"settings"},
    {"limits", "priority", "clock", "telemetry", "loops"},
    {"net"},
]

#: Packages whose modules are units of their own (see LAYERS).
SPLIT = {"security"}

#: Libraries a unit may not import.
WIRE = {"grpc", "grpc_status", "grpc_health", "grpc_reflection", "google", "statehouse.v1"}
#: SQL, the standard library's sqlite3 included: only storage speaks to a database.
SQL = {"sqlalchemy", "alembic", "psycopg", "sqlite3"}
FORBIDDEN: dict[str, set[str]] = {
    "orchestration": WIRE | SQL,
    "storage": WIRE,
    "commands": WIRE | SQL,
    "queries": WIRE | SQL,
    "security.credentials": WIRE | SQL,
    "security.access": WIRE | SQL,
    "security.jwts": WIRE | SQL,
    "security.guard": SQL,
    "security.reflection": SQL,
    "security.tls": SQL,
    "events": WIRE | SQL,
    "background": WIRE | SQL,
    "api": SQL,
    "web": WIRE | SQL,
    "telemetry": WIRE | SQL,
    "app": SQL,
    "loops": WIRE | SQL,
    "net": WIRE | SQL,
    "testing": WIRE | SQL,
}


def _rank(unit: str) -> int:
    for rank, layer in enumerate(LAYERS):
        if unit in layer:
            return rank
    raise AssertionError(f"{unit!r} has no layer: give it one in LAYERS (docs/design.md)")


def _imports(path: Path, package: list[str]) -> list[tuple[int, list[str]]]:
    """(line, dotted name) of everything ``path`` imports, relative ones resolved."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = base + (node.module.split(".") if node.module else [])
            else:
                module = (node.module or "").split(".")
            if node.level and not node.module:
                found += [(node.lineno, [*module, alias.name]) for alias in node.names]
            else:
                found.append((node.lineno, module))
    return found


def _unit(parts: list[str]) -> str:
    """The unit of the module at ``parts`` (its path under the server, no suffix)."""
    if parts[0] in SPLIT and len(parts) > 1:
        return f"{parts[0]}.{parts[1]}"
    return parts[0]


def _server_modules(server: Path) -> list[tuple[Path, str, list[str]]]:
    """(path, unit, package) of every module of the server."""
    modules = []
    for path in sorted(server.rglob("*.py")):
        parts = list(path.relative_to(server).with_suffix("").parts)
        unit = _unit(parts)
        package = ["statehouse", "server", *parts[:-1]]
        if parts[-1] == "__init__":
            unit = parts[0] if len(parts) > 1 else "__init__"
        modules.append((path, unit, package))
    return modules


def _violations(server: Path = SERVER) -> list[str]:
    violations = []
    for path, unit, package in _server_modules(server):
        where = path.relative_to(server)
        if unit in SPLIT:
            # Its __init__ re-exports nothing: importing one module imports no other.
            names = _imports(path, package)
            violations += [f"{where}:{line}: {unit}/__init__ imports {n}" for line, n in names]
            continue
        if unit == "__init__":
            continue
        rank = _rank(unit)
        for line, name in _imports(path, package):
            if name[:2] == ["statehouse", "server"] and len(name) > 2:
                if name[2] in SPLIT and len(name) == 3:
                    violations.append(f"{where}:{line}: {unit} imports {name[2]}: name a module")
                    continue
                other = _unit(name[2:])
                if other != unit and _rank(other) <= rank:
                    violations.append(f"{where}:{line}: {unit} imports {other} (not below it)")
            library = ".".join(name[:2]) if name[0] == "statehouse" else name[0]
            if library in FORBIDDEN.get(unit, set()):
                violations.append(f"{where}:{line}: {unit} imports {library}")
    return violations


def test_no_module_imports_its_own_layer_or_above_or_a_forbidden_library() -> None:
    assert _violations() == []


def test_the_sdk_does_not_import_the_server() -> None:
    """The SDK installs without the server: only the CLI's ``serve`` and
    offline credential commands reach into it, imported where they run."""
    for path in sorted((CLIENT / "client").rglob("*.py")):
        package = ["statehouse", *path.relative_to(CLIENT).parts[:-1]]
        for line, name in _imports(path, package):
            assert name[:2] != ["statehouse", "server"], f"{path}:{line}"


def test_only_storage_imports_sqlite3() -> None:
    """sqlite3 is SQL like SQLAlchemy: the SQLite backend, its commit watcher
    and ``statehouse backup`` are storage's, and no other unit opens the file."""
    for path, unit, package in _server_modules(SERVER):
        for line, name in _imports(path, package):
            if name[0] == "sqlite3":
                assert unit == "storage", f"{path.relative_to(SERVER)}:{line}"


#: The modules of storage the Tx is made of: they know nothing of the
#: backends (which subclass the Tx) nor of the store that runs them.
TX_MAY_NOT_IMPORT = {"store", "sqlite", "postgres", "backup", "partitions"}


def _tx_violations(server: Path = SERVER) -> list[str]:
    violations = []
    for path in sorted((server / "storage" / "tx").rglob("*.py")):
        package = ["statehouse", "server", "storage", "tx"]
        for line, name in _imports(path, package):
            inner = name[:3] == ["statehouse", "server", "storage"] and len(name) > 3
            if inner and name[3] in TX_MAY_NOT_IMPORT:
                where = path.relative_to(server)
                violations.append(f"{where}:{line}: the Tx imports storage.{name[3]}")
    return violations


def test_the_tx_does_not_import_the_backends_or_the_store() -> None:
    assert _tx_violations() == []


def test_the_tx_check_finds_what_it_must(tmp_path: Path) -> None:
    (tmp_path / "storage" / "tx").mkdir(parents=True)
    (tmp_path / "storage" / "tx" / "bad.py").write_text("from ..sqlite import SqliteTx\n")
    (tmp_path / "storage" / "tx" / "good.py").write_text("from ..schema import events\n")
    found = _tx_violations(tmp_path)
    assert len(found) == 1 and "the Tx imports storage.sqlite" in found[0], found


def test_only_telemetry_imports_opentelemetry() -> None:
    """The spans are named and made in ``telemetry/_traces.py`` alone (docs/design.md,
    "Observability"); the others call its hooks behind ``tracing.enabled``."""
    for path, unit, package in _server_modules(SERVER):
        for line, name in _imports(path, package):
            if name[0] == "opentelemetry":
                assert unit == "telemetry", f"{path.relative_to(SERVER)}:{line}"


def test_the_sdk_imports_opentelemetry_only_where_it_is_used() -> None:
    """The SDK works without OpenTelemetry: no module imports it at its top level."""
    for path in sorted((CLIENT / "client").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] == "opentelemetry" for n in names), path


@pytest.mark.parametrize(
    ("unit", "source", "expected"),
    [
        ("orchestration", "import grpc\n", "orchestration imports grpc"),
        ("orchestration", "from sqlalchemy import select\n", "orchestration imports sqlalchemy"),
        ("orchestration", "from statehouse.v1 import state_pb2\n", "imports statehouse.v1"),
        ("storage", "from .. import commands\n", "storage imports commands (not below it)"),
        ("orchestration", "import sqlite3\n", "orchestration imports sqlite3"),
        ("commands", "from ..api import convert\n", "commands imports api (not below it)"),
        ("events", "from ..events import hub\n", None),  # its own unit
    ],
)
def test_the_check_finds_what_it_must(
    unit: str, source: str, expected: str | None, tmp_path: Path
) -> None:
    """The check itself, on a made-up tree: it is not vacuous."""
    (tmp_path / unit).mkdir()
    (tmp_path / unit / "bad.py").write_text(source)
    found = _violations(tmp_path)
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("security/access.py", "import grpc\n", "security.access imports grpc"),
        ("security/tls.py", "import sqlalchemy\n", "security.tls imports sqlalchemy"),
        (
            "security/credentials.py",
            "from .guard import Guard\n",
            "security.credentials imports security.guard (not below it)",
        ),
        ("security/guard.py", "from .credentials import Authenticator\n", None),
        ("security/__init__.py", "from .guard import Guard\n", "security/__init__ imports"),
        ("storage/bad.py", "from ..security.guard import Guard\n", "(not below it)"),
        ("storage/bad.py", "from .. import security\n", "storage imports security: name a"),
    ],
)
def test_the_modules_of_a_split_package_are_units(
    path: str, source: str, expected: str | None, tmp_path: Path
) -> None:
    """``security``'s modules, each at its own layer, are checked one by one."""
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text(source)
    found = _violations(tmp_path)
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0], found


def test_a_module_without_a_layer_is_refused(tmp_path: Path) -> None:
    (tmp_path / "newthing.py").write_text("x = 1\n")
    with pytest.raises(AssertionError, match="'newthing' has no layer"):
        _violations(tmp_path)
