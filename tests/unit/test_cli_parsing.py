"""The command line parses what users type, and refuses the rest with exit 2."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from statehouse.cli._main import build_parser, main
from statehouse.client import PauseTimeoutAction, State
from statehouse.server.options import add_serve_arguments, settings_from_args
from statehouse.server.settings import Settings


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 2
    return capsys.readouterr().err


def test_global_options_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATEHOUSE_TARGET", raising=False)
    args = parse("executions", "list")
    assert (args.target, args.json) == ("127.0.0.1:50051", False)
    monkeypatch.setenv("STATEHOUSE_TARGET", "db.example:7000")
    assert parse("executions", "list").target == "db.example:7000"


def test_global_options_go_before_or_after_the_command() -> None:
    before = parse("--target", "h:1", "--json", "executions", "get", "abc")
    after = parse("executions", "get", "abc", "--target", "h:1", "--json")
    for args in (before, after):
        assert (args.target, args.json, args.execution_id) == ("h:1", True, "abc")


def test_executions_list_filters() -> None:
    args = parse(
        "executions",
        "list",
        "--namespace",
        "company.team",
        "--flow",
        "etl",
        "--state",
        "running",
        "--state",
        "FAILED",
        "--label",
        "env=prod",
        "--label",
        "team=data=eng",
        "--limit",
        "5",
    )
    assert (args.namespace, args.flow, args.limit) == ("company.team", "etl", 5)
    assert args.state == [State.RUNNING, State.FAILED]
    assert args.label == [("env", "prod"), ("team", "data=eng")]


def test_executions_create_inputs() -> None:
    args = parse(
        "executions",
        "create",
        "--namespace",
        "ns",
        "--flow",
        "f",
        "--input",
        "day=3",
        "--input",
        "name=x",
        "--request-id",
        "r1",
    )
    assert args.input == [("day", "3"), ("name", "x")]
    assert args.request_id == "r1"
    args = parse(
        "executions", "create", "--namespace", "ns", "--flow", "f", "--inputs-json", '{"a": [1]}'
    )
    assert args.inputs_json == {"a": [1]}


def test_transition_takes_a_case_insensitive_state() -> None:
    args = parse(
        "transition", "--task-run", "t1", "Running", "--reason", "go", "--expected-revision", "4"
    )
    assert (args.task_run, args.execution, args.state) == ("t1", None, State.RUNNING)
    assert (args.reason, args.expected_revision) == ("go", 4)
    args = parse("transition", "--execution", "e1", "success", "--outputs-json", '{"n": 1}')
    assert (args.execution, args.state, args.outputs_json) == ("e1", State.SUCCESS, {"n": 1})


def test_watch_starts_from_the_latest_unless_told() -> None:
    args = parse("watch")
    assert (args.after, args.from_start, args.limit) == (None, False, None)
    args = parse("watch", "--after", "42", "--execution", "a", "--execution", "b", "--limit", "3")
    assert (args.after, args.execution, args.limit) == (42, ["a", "b"], 3)
    assert parse("watch", "--from-start", "--state", "killed").state == [State.KILLED]


def test_pause_options() -> None:
    args = parse("pause", "e1", "--timeout", "30", "--on-timeout", "fail")
    assert (args.pause_timeout, args.on_timeout) == (30.0, PauseTimeoutAction.FAIL)


def test_serve_options_are_the_servers_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATEHOUSE_DATABASE_URL", raising=False)
    args = parse("serve")
    assert settings_from_args(args) == Settings(address="127.0.0.1:50051", data_dir=Path("data"))
    assert args.log_level == "INFO"
    args = parse(
        "serve", "--address", "0.0.0.0:9", "--data-dir", "/tmp/d", "--log-level", "debug",
        "--retention-events", "5", "--retention-seconds", "60", "--kill-deadline", "2.5",
    )  # fmt: skip
    settings = settings_from_args(args)
    assert (settings.address, settings.data_dir, settings.database_url) == (
        "0.0.0.0:9",
        Path("/tmp/d"),
        None,
    )
    assert (settings.retention_events, settings.retention_seconds) == (5, 60.0)
    assert settings.kill_deadline_seconds == 2.5
    # The database defaults to the environment when the server resolves it.
    monkeypatch.setenv("STATEHOUSE_DATABASE_URL", "sqlite:///x.db")
    assert settings_from_args(parse("serve")).resolved_database_url() == "sqlite:///x.db"
    assert settings_from_args(parse("serve", "--database", "sqlite:///y.db")).database_url == (
        "sqlite:///y.db"
    )


def test_serve_accepts_exactly_what_python_m_statehouse_server_app_accepts() -> None:
    def option_strings(parser: argparse.ArgumentParser) -> set[str]:
        return {s for action in parser._actions for s in action.option_strings}

    (commands,) = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    serve = commands.choices["serve"]
    app = argparse.ArgumentParser()
    add_serve_arguments(app)
    assert option_strings(serve) == option_strings(app)
    assert {"--retention-events", "--retention-seconds", "--kill-deadline"} <= option_strings(serve)


@pytest.mark.parametrize(
    "argv",
    [
        ["transition", "--execution", "e1", "sleeping"],
        ["transition", "--execution", "e1", "--task-run", "t1", "running"],
        ["transition", "running"],
        ["executions", "list", "--label", "novalue"],
        ["executions", "list", "--limit", "0"],
        ["executions", "create", "--namespace", "ns"],
        ["executions", "create", "--namespace", "ns", "--flow", "f", "--inputs-json", "[1]"],
        ["executions", "create", "--namespace", "ns", "--flow", "f", "--inputs-json", "{"],
        ["watch", "--after", "3", "--from-start"],
        ["watch", "--after", "-1"],
        ["frobnicate"],
        [],
    ],
    ids=lambda argv: " ".join(argv) or "(nothing)",
)
def test_bad_usage_exits_with_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    err = usage_error(capsys, *argv)
    assert "usage:" in err
    assert "Traceback" not in err


def test_a_bad_option_combination_found_late_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["pause", "e1", "--on-timeout", "kill"])
    assert exited.value.code == 2
    assert "--on-timeout needs --timeout" in capsys.readouterr().err


def test_an_unreachable_server_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    # Port 1 on localhost refuses connections: UNAVAILABLE, retried, then reported.
    status = main(["--target", "127.0.0.1:1", "--call-timeout", "2", "executions", "get", "x"])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.err.startswith("error: ")
    assert captured.err.rstrip().endswith("(UNAVAILABLE)")
    assert "Traceback" not in captured.err
