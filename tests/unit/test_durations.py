"""One duration grammar (``statehouse.client.durations``) for the SDK, the CLI and
the server: every place that takes a duration reads the same forms and refuses
the same bad ones with the same message."""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from statehouse.cli._main import build_parser
from statehouse.client import TaskRetryPolicy, durations
from statehouse.server.options import add_serve_arguments

ROOT = Path(__file__).resolve().parents[2]

GOOD = [
    ("1.5", 1.5),
    ("3600", 3600.0),
    (".5", 0.5),
    ("2.", 2.0),
    ("500ms", 0.5),
    ("250us", 0.00025),
    ("250µs", 0.00025),
    ("45s", 45.0),
    ("1.5s", 1.5),
    ("1m30s", 90.0),
    ("90m", 5400.0),
    ("2h", 7200.0),
    ("1.5h", 5400.0),
    ("1d12h", 129_600.0),
    ("7d", 604_800.0),
    ("2w", 1_209_600.0),
    ("1w2d3h4m5s6ms", 604_800 + 2 * 86_400 + 3 * 3600 + 4 * 60 + 5.006),
    ("1D12H", 129_600.0),
    (" 2s ", 2.0),
    ("PT2S", 2.0),
    ("pt1m30s", 90.0),
    ("P1DT2H", 93_600.0),
    ("P1D", 86_400.0),
]
BAD = [
    "",
    " ",
    "-1",
    "-2s",
    "+2s",
    "1e3",
    "inf",
    "nan",
    "2 s",
    "s",
    "2sec",
    "1x",
    "soon",
    "30s1m",  # largest first
    "1m1m",  # each unit once
    "1..5s",
    "P",
    "PT",
    "P1DT",
    "1d 12h",
]


@pytest.mark.parametrize(("text", "seconds"), GOOD, ids=[t for t, _ in GOOD])
def test_the_grammar_reads(text: str, seconds: float) -> None:
    assert durations.parse(text).total_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize("text", BAD, ids=repr)
def test_the_grammar_refuses_with_one_message(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        durations.parse(text)
    assert str(raised.value) == (
        f"cannot read {text!r} as a duration (e.g. 1.5 (seconds), 500ms, 1m30s, 2h, 1d12h or PT2S)"
    )


def test_zero_is_a_duration_but_not_a_positive_one() -> None:
    assert durations.parse("0") == durations.parse("0s") == timedelta(0)
    assert durations.argument("0") == 0.0
    with pytest.raises(argparse.ArgumentTypeError, match="expected a positive duration, got '0s'"):
        durations.positive_argument("0s")


def test_a_duration_too_long_for_a_timedelta_is_refused() -> None:
    with pytest.raises(ValueError, match="is too long a duration"):
        durations.parse("99999999999w")


# Every place that takes a duration, as a function from the text to seconds that
# raises with the grammar's message (argparse's exit is turned into its message).


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """``parser.parse_args(argv)``, its usage error raised as a ``ValueError``."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parser.parse_args(argv)
    except SystemExit:
        raise ValueError(err.getvalue()) from None


def _serve(option: str) -> Callable[[str], float]:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)

    def read(text: str) -> float:
        value = getattr(_parse(parser, [f"{option}={text}"]), option[2:].replace("-", "_"))
        assert isinstance(value, float)
        return value

    return read


def _cli(*argv: str, dest: str = "") -> Callable[[str], float]:
    *command, option = argv

    def read(text: str) -> float:
        args = _parse(build_parser(), [*command, f"{option}={text}"])
        value = getattr(args, dest or option[2:].replace("-", "_"))
        return value.total_seconds() if isinstance(value, timedelta) else float(value)

    return read


def _sdk(text: str) -> float:
    policy = TaskRetryPolicy.constant(interval=text, max_attempts=2)
    assert policy.interval is not None
    return policy.interval.total_seconds()


PLACES: dict[str, Callable[[str], float]] = {
    "serve --request-id-ttl": _serve("--request-id-ttl"),
    "serve --commit-timeout": _serve("--commit-timeout"),
    "serve --retention-seconds": _serve("--retention-seconds"),
    "serve --retention-executions": _serve("--retention-executions"),
    "serve --kill-deadline": _serve("--kill-deadline"),
    "pause --delay": _cli("pause", "e1", "--delay"),
    "pause --timeout": _cli("pause", "e1", "--timeout", dest="pause_timeout"),
    "task-runs create --retry-interval": _cli(
        "task-runs", "create", "--execution", "e1", "--task", "t", "--retry-interval"
    ),
    "tokens create --expires": _cli(
        "tokens", "create", "--name", "n", "--role", "writer", "--namespace", "a", "--expires"
    ),
    "--call-timeout": _cli("executions", "list", "--call-timeout"),
    "TaskRetryPolicy.constant(interval=)": _sdk,
}


def _message(read: Callable[[str], float], text: str) -> str:
    """The error message of ``read(text)``, whatever the place's way of failing."""
    try:
        read(text)
    except ValueError as exc:
        return str(exc)
    pytest.fail(f"{text!r} was accepted")


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(("text", "seconds"), GOOD, ids=[t for t, _ in GOOD])
def test_every_place_reads_every_form(place: str, text: str, seconds: float) -> None:
    assert PLACES[place](text) == pytest.approx(seconds)


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("text", [t for t in BAD if t.strip()], ids=repr)
def test_every_place_refuses_with_the_grammars_message(place: str, text: str) -> None:
    expected = f"cannot read {text!r} as a duration ({durations.FORMS})"
    assert expected in _message(PLACES[place], text)


def test_serve_takes_a_compound_duration() -> None:
    """The case of the issue: ``serve --request-id-ttl 1d12h`` was refused."""
    assert _serve("--request-id-ttl")("1d12h") == 36 * 3600


def test_the_server_imports_nothing_of_the_sdk_but_durations() -> None:
    """statehouse-server depends on statehouse-client for the grammar (and the
    stubs), never the reverse; it reaches into the SDK for this module only."""
    server = ROOT / "server" / "src" / "statehouse" / "server"
    for path in sorted(server.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "statehouse.client"
            ):
                names = [node.module, *(alias.name for alias in node.names)]
                assert names == ["statehouse.client", "durations"], f"{path}:{node.lineno}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("statehouse.client"), path
