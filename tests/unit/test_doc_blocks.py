"""What README.md, CHANGELOG.md, CONTRIBUTING.md and docs/*.md tell a user to
paste: every shell block runs in a test or is marked as an excerpt (the
convention is in tests/doc_blocks.py), no line installs a package named like
ours from an index (the names ``statehouse`` on PyPI and npm belong to other
projects), and commands are spelled as ``make venv`` installs them."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest

from tests.doc_blocks import DOCUMENTS, ROOT, all_blocks

#: Every line of these is checked for installs; the JavaScript client's README too.
INSTALL_DOCUMENTS = (*DOCUMENTS, ROOT / "client" / "ts" / "README.md")

# A command that fetches its arguments from a package index, and what follows it.
_INSTALLER = re.compile(
    r"(?:\b(?:pip3?|pipx|uv pip|python3? -m pip)\s+install"
    r"|\b(?:uv|poetry|pdm|rye|yarn|pnpm)\s+add"
    r"|\bnpm\s+(?:install|i|add)"
    r"|\b(?:npx|pipx run|uvx))\b(?P<args>[^`#;&|)\n]*)"
)
# A requirement naming a package like ours: statehouse, statehouse-client[x]>=1...
_OUR_NAME = re.compile(r"^@?statehouse[\w.-]*(/[\w.-]+)?(\[[^\]]*\])?([<>=!~@].*)?$", re.I)
_FILE = re.compile(r"\.(whl|tar\.gz|tgz|zip)(\[[^\]]*\])?$")


def index_fetches(line: str) -> list[str]:
    """The arguments of ``line`` that an installer would fetch from an index as ours."""
    found = []
    for match in _INSTALLER.finditer(line):
        try:
            args = shlex.split(match.group("args"))
        except ValueError:
            args = match.group("args").split()
        for arg in args:
            if arg.startswith("-") or "/" in arg.split("[")[0] or _FILE.search(arg):
                continue
            if _OUR_NAME.match(arg):
                found.append(arg)
    return found


@pytest.mark.parametrize(
    ("line", "fetched"),
    [
        ("pip install 'statehouse[postgres]'", ["statehouse[postgres]"]),
        ("`pip install statehouse`", ["statehouse"]),
        ("python -m pip install -U statehouse==0.1.0", ["statehouse==0.1.0"]),
        ("uv add statehouse", ["statehouse"]),
        ("poetry add statehouse-client", ["statehouse-client"]),
        ("npm install statehouse-client", ["statehouse-client"]),
        ("npx statehouse", ["statehouse"]),
        ("pip install './[postgres]'", []),
        ("pip install '.[otlp]'", []),
        (".venv/bin/pip install 'dist/statehouse-0.1.0-py3-none-any.whl[postgres]'", []),
        ("pip install statehouse-0.1.0-py3-none-any.whl", []),
        ("npm install /tmp/statehouse-client-0.1.0.tgz", []),
        ("npm install @connectrpc/connect-node", []),
        ("import { connect } from 'statehouse-client'", []),
    ],
)
def test_what_counts_as_an_install_from_an_index(line: str, fetched: list[str]) -> None:
    assert index_fetches(line) == fetched


def test_no_line_installs_a_package_named_like_ours_from_an_index() -> None:
    """Until this project publishes under names it owns, every install is of this
    repository: the checkout (``pip install '.[postgres]'``) or a built wheel."""
    offending = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in INSTALL_DOCUMENTS
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if index_fetches(line)
    ]
    assert not offending, "\n".join(offending)


def test_every_block_names_its_language() -> None:
    """An unnamed block could be a shell block that escapes the next test."""
    unnamed = [block.where for block in all_blocks() if not block.language]
    assert not unnamed, unnamed


def test_every_shell_block_runs_in_a_test_or_is_marked_as_an_excerpt() -> None:
    unmarked = [block.where for block in all_blocks() if block.is_shell and block.marker is None]
    assert not unmarked, (
        "shell blocks with neither <!-- tested: test_name --> nor <!-- excerpt --> "
        f"before them (tests/doc_blocks.py): {unmarked}"
    )


def test_every_tested_marker_names_a_test() -> None:
    tests = "\n".join(path.read_text() for path in (ROOT / "tests").rglob("test_*.py"))
    missing = [
        f"{block.where}: {block.tested_by}"
        for block in all_blocks()
        if block.tested_by and not re.search(rf"^(async )?def {block.tested_by}\(", tests, re.M)
    ]
    assert not missing, missing


def test_commands_are_spelled_as_make_venv_installs_them() -> None:
    """``statehouse`` is not on the PATH after ``make venv`` or ``make run``: a
    block that a user pastes says ``.venv/bin/statehouse``."""
    bare = re.compile(r"(?:^|[;&|(]|\$\()\s*(?:[A-Za-z_]\w*=\S*\s+)*statehouse(?=\s|$)")
    offending = [
        f"{block.where}: {line.strip()}"
        for block in all_blocks()
        if block.is_shell
        for line in block.text.splitlines()
        if bare.search(line)
    ]
    assert not offending, "\n".join(offending)


def test_the_license_is_there_and_packaged() -> None:
    """Both distributions (client/, server/) say Apache-2.0: the text is in LICENSE
    (each project's LICENSE is the repository's), and their wheels and sdists carry it."""
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.split()[:3] == ["Apache", "License", "Version"]
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    projects = [ROOT / "client" / "pyproject.toml", ROOT / "server" / "pyproject.toml"]
    assert sorted(Path(ROOT).glob("*/pyproject.toml")) == sorted(projects)
    for pyproject in projects:
        assert (pyproject.parent / "LICENSE").read_text() == license_text
        project = tomllib.loads(pyproject.read_text())
        assert project["project"]["license"] == "Apache-2.0", pyproject
        assert project["project"]["license-files"] == ["LICENSE"], pyproject
        sdist = project["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
        assert "LICENSE" in sdist, pyproject
