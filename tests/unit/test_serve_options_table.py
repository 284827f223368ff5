"""The table of ``serve`` options (docs/operations.md, "Running the server") is
checked against the parser: every option of ``add_serve_arguments`` has a row,
every row names only real options, and each row's default is the parser's.

The default column is read as follows: ``$NAME`` is an environment variable
the option falls back to (its help must name it too); the other code-quoted
value, if any, is the default, read with the option's own type (so ``7d``
matches 604800.0 and ``./data`` matches ``Path("data")``); a row with no such
value is an option that is off, or unset, by default.
"""

from __future__ import annotations

import argparse
import re

import pytest

from statehouse.server.options import ADDRESS_ENV, add_serve_arguments
from tests.doc_blocks import ROOT, section

OPERATIONS = ROOT / "docs" / "operations.md"

#: Defaults the server resolves at start rather than in the parser, and why the
#: table shows the resolved value.
RESOLVED_AT_START = {
    "--database": "None: $STATEHOUSE_DATABASE_URL, else a SQLite file in --data-dir",
}


def _table() -> dict[str, str]:
    """Option -> the default cell of its row, from the documented serve-options table."""
    documented = section(OPERATIONS, "Running the server")
    lines = [line for line in documented.splitlines() if line.startswith("|")]
    assert lines[0] == "| option | default | meaning |", "the serve-options table moved"
    rows: dict[str, str] = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        options = re.findall(r"`(--[a-z-]+)`", cells[0])
        assert options and re.fullmatch(r"`--[a-z-]+`(, `--[a-z-]+`)*", cells[0]), line
        for option in options:
            assert option not in rows, f"{option} has two rows"
            rows[option] = cells[1]
    return rows


def _actions(monkeypatch: pytest.MonkeyPatch) -> dict[str, argparse.Action]:
    monkeypatch.delenv(ADDRESS_ENV, raising=False)
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return {
        option: action
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }


def test_every_option_has_a_row_and_every_row_is_an_option(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table, actions = _table(), _actions(monkeypatch)
    assert sorted(set(actions) - set(table)) == [], "options missing from the documented table"
    assert sorted(set(table) - set(actions)) == [], "documented rows that are no serve option"


def test_every_row_shows_the_parsers_default(monkeypatch: pytest.MonkeyPatch) -> None:
    table, actions = _table(), _actions(monkeypatch)
    wrong = []
    for option, cell in table.items():
        action = actions.get(option)
        if action is None:
            continue  # the test above names it
        quoted = re.findall(r"`([^`]+)`", cell)
        for env in [q for q in quoted if q.startswith("$")]:
            if env not in (action.help or ""):
                wrong.append(f"{option}: the table says it reads {env}, its help does not")
        shown = [q for q in quoted if not q.startswith("$")]
        if option in RESOLVED_AT_START:
            assert action.default is None, option
            continue
        if action.default is None or action.default is False:
            if shown:
                wrong.append(f"{option}: the table shows {shown}, the parser has no default")
            continue
        if len(shown) != 1:
            wrong.append(f"{option}: the table shows {shown}, the parser {action.default!r}")
            continue
        read = action.type if callable(action.type) else str
        if read(shown[0]) != action.default:
            wrong.append(f"{option}: the table shows {shown[0]}, the parser {action.default!r}")
    assert wrong == []
