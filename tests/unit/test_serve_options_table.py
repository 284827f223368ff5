"""The table of ``serve`` options (docs/operations.md, "Running the server") is
generated from the options' one declaration (the Settings fields) by
tools/gen_serve_options.py, and is exactly what the tool writes. It is also
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
from pathlib import Path
from types import ModuleType

import pytest

from statehouse.server.net import Address
from statehouse.server.options import ADDRESS_ENV, add_serve_arguments, settings_from_args
from statehouse.server.settings import Settings
from tests.doc_blocks import ROOT, section
from tests.tools import load_tool

OPERATIONS = ROOT / "docs" / "operations.md"

#: Defaults the server resolves at start rather than in the parser, and why the
#: table shows the resolved value.
RESOLVED_AT_START = {
    "--database": "None: $STATEHOUSE_DATABASE_URL, else a SQLite file in --data-dir",
}


#: Every option and its default as the hand-written parser had them before the
#: options were declared on Settings (issue 29): the declaration changes no option.
BEFORE: dict[str, object] = {
    "--address": "127.0.0.1:50051",
    "--http-address": None,
    "--metrics-address": None,
    "--database": None,
    "--data-dir": Path("data"),
    "--commit-timeout": 10.0,
    "--retention-events": 0,
    "--retention-seconds": 604800.0,
    "--request-id-ttl": 604800.0,
    "--retention-executions": 0.0,
    "--kill-deadline": 60.0,
    "--max-payload-bytes": 1048576,
    "--tls-cert": None,
    "--tls-key": None,
    "--tls-client-ca": None,
    "--auth": False,
    "--jwt-public-key": None,
    "--jwt-jwks": None,
    "--jwt-issuer": None,
    "--jwt-audience": None,
    "--insecure": False,
    "--max-connections": 4096,
    "--processes": 1,
    "--ready-file": None,
    "--log-level": "INFO",
    "--log-format": "text",
}


def gen_serve_options() -> ModuleType:
    return load_tool("gen_serve_options")


def test_the_table_is_what_the_tool_writes() -> None:
    tool = gen_serve_options()
    text = OPERATIONS.read_text()
    assert tool.render(text) == text, "stale: run python tools/gen_serve_options.py (make docs)"
    assert tool.main(["--check"]) == 0


def test_the_options_and_their_defaults_are_those_of_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    actions = _actions(monkeypatch)
    assert list(actions) == list(BEFORE)
    # An address is an Address now, read from the text it was: the same value.
    assert {
        option: str(action.default) if isinstance(action.default, Address) else action.default
        for option, action in actions.items()
    } == BEFORE


def test_the_defaults_parse_to_the_default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ADDRESS_ENV, raising=False)
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    assert settings_from_args(parser.parse_args([])) == Settings()
    monkeypatch.setenv(ADDRESS_ENV, "127.0.0.1:7")
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    assert settings_from_args(parser.parse_args([])).address == Address("127.0.0.1", 7)
    every = settings_from_args(
        parser.parse_args(
            [
                "--kill-deadline",
                "1m30s",
                "--database",
                "sqlite:///x.db",
                "--auth",
                "--log-level",
                "debug",
                "--max-payload-bytes",
                "2048",
                "--tls-key",
                "k.pem",
            ]
        )
    )
    assert (every.kill_deadline_seconds, every.database_url, every.auth) == (
        90.0,
        "sqlite:///x.db",
        True,
    )
    assert (every.log_level, every.max_payload_bytes, every.tls_key) == (
        "DEBUG",
        2048,
        Path("k.pem"),
    )


def test_a_value_out_of_bounds_is_refused_with_the_bounds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    for argv, message in (
        (["--processes", "0"], "must be between 1 and 256"),
        (["--max-payload-bytes", "x"], "invalid int value: 'x'"),
        (["--request-id-ttl", "1 day"], "cannot read '1 day' as a duration"),
        (["--http-address", "8080"], "argument --http-address: cannot read '8080' as an address"),
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
        assert message in capsys.readouterr().err


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
