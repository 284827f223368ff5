"""The command line parses what users type, and refuses the rest with exit 2."""

from __future__ import annotations

import argparse
import ast
import io
import json
import subprocess
import sys
import types
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import statehouse.server.security
from statehouse.cli import _main
from statehouse.cli._main import _tls, build_parser, main
from statehouse.client import PauseTimeoutAction, Role, State, TlsConfig
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
    assert (args.target, args.output) == ("127.0.0.1:50051", "text")
    monkeypatch.setenv("STATEHOUSE_TARGET", "db.example:7000")
    assert parse("executions", "list").target == "db.example:7000"


def test_global_options_go_before_or_after_the_command() -> None:
    before = parse("--target", "h:1", "--json", "executions", "get", "abc")
    after = parse("executions", "get", "abc", "--target", "h:1", "--json")
    for args in (before, after):
        assert (args.target, args.output, args.execution_id) == ("h:1", "json", "abc")


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


def test_transition_file_takes_no_state_and_reads_json_lines() -> None:
    args = parse("transition", "--file", "-")
    assert (args.file, args.state, args.task_run) == ("-", None, None)
    lines = io.StringIO(
        '{"task_run_id": "t1", "state": "running"}\n\n{"task_run_id": "t2", "state": 4}\n'
    )
    items = _main._transition_items(lines)
    assert [(n, i["task_run_id"], i["state"]) for n, i in items] == [
        (1, "t1", State.RUNNING),
        (3, "t2", State(4)),
    ]


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
    assert (str(settings.address), settings.data_dir, settings.database_url) == (
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
    serve.parse_known_args([])  # the server's options come when serve is parsed
    app = argparse.ArgumentParser()
    add_serve_arguments(app)
    assert option_strings(serve) == option_strings(app)
    assert {"--retention-events", "--retention-seconds", "--kill-deadline"} <= option_strings(serve)


def test_the_command_line_imports_the_servers_options_only_for_serve() -> None:
    def loaded(argv: list[str]) -> list[str]:
        program = (
            "import sys; from statehouse.cli._main import build_parser; "
            f"build_parser().parse_args({argv!r}); "
            "print(sorted(m for m in sys.modules if m.startswith('statehouse.server.')))"
        )
        done = subprocess.run(
            [sys.executable, "-c", program], capture_output=True, text=True, check=True
        )
        return list(ast.literal_eval(done.stdout))

    assert loaded(["executions", "list"]) == []
    assert "statehouse.server.options" in loaded(["serve"])


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
        ["tokens", "create", "--name", "ci", "--role", "writer"],
        ["tokens", "create", "--name", "ci", "--role", "owner", "--namespace", "a"],
        [
            "tokens",
            "create",
            "--name",
            "ci",
            "--role",
            "reader",
            "--namespace",
            "a",
            "--expires",
            "3 days",
        ],
        [
            "tokens",
            "create",
            "--name",
            "ci",
            "--role",
            "reader",
            "--namespace",
            "a",
            "--expires",
            "0h",
        ],
        ["tokens", "revoke"],
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
    first, hint = captured.err.splitlines()
    assert first.startswith("error: cannot reach the Statehouse server at 127.0.0.1:1 ")
    assert first.endswith("(UNAVAILABLE)")
    assert hint == "  the address is --target, else $STATEHOUSE_TARGET, else 127.0.0.1:50051"
    assert "Traceback" not in captured.err


def test_security_options_go_before_or_after_the_command() -> None:
    before = parse(
        "--token", "t", "--tls-ca", "ca.pem", "--tls-cert", "me.crt", "--tls-key", "me.key",
        "executions", "list",
    )  # fmt: skip
    after = parse(
        "executions", "list",
        "--token", "t", "--tls-ca", "ca.pem", "--tls-cert", "me.crt", "--tls-key", "me.key",
    )  # fmt: skip
    for args in (before, after):
        assert (args.client_token, args.client_tls_ca) == ("t", "ca.pem")
        assert (args.client_tls_cert, args.client_tls_key) == ("me.crt", "me.key")
        assert _tls(args) == TlsConfig(ca="ca.pem", cert="me.crt", key="me.key")


def test_serve_keeps_its_own_tls_options() -> None:
    args = parse("--tls-cert", "client.crt", "serve", "--tls-cert", "s.crt", "--tls-key", "s.key")
    assert (args.tls_cert, args.tls_key) == (Path("s.crt"), Path("s.key"))
    assert args.client_tls_cert == "client.crt"


def test_tls_options_fall_back_to_the_environment_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("STATEHOUSE_TLS_CA", "STATEHOUSE_TLS_CERT", "STATEHOUSE_TLS_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert _tls(parse("executions", "list")) is None  # the SDK reads the environment itself
    assert _tls(parse("--tls", "executions", "list")) == TlsConfig()
    monkeypatch.setenv("STATEHOUSE_TLS_CERT", "env.crt")
    monkeypatch.setenv("STATEHOUSE_TLS_KEY", "env.key")
    assert _tls(parse("--tls-ca", "ca.pem", "executions", "list")) == TlsConfig(
        ca="ca.pem", cert="env.crt", key="env.key"
    )
    named = _tls(parse("--tls-server-name", "statehouse.internal", "executions", "list"))
    assert named == TlsConfig(cert="env.crt", key="env.key", server_name="statehouse.internal")


def test_a_client_certificate_without_its_key_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STATEHOUSE_TLS_KEY", raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["--tls-cert", "me.crt", "executions", "list"])
    assert exited.value.code == 2
    assert "--tls-cert and --tls-key go together" in capsys.readouterr().err


def test_an_unreadable_ca_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--tls-ca", str(tmp_path / "nope.pem"), "executions", "list"])
    assert exited.value.code == 2
    assert "cannot read the CA certificates" in capsys.readouterr().err


def test_a_malformed_token_is_a_usage_error_that_does_not_echo_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--token", "sht_a_b c", "executions", "list"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "printable ASCII" in err and "sht_a_b c" not in err


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1D", timedelta(days=1)),
    ],
)
def test_tokens_create_takes_an_expiry_span(text: str, span: timedelta) -> None:
    args = parse(
        "tokens", "create", "--name", "ci", "--role", "Writer",
        "--namespace", "acme.*", "--namespace", "ops", "--expires", text,
    )  # fmt: skip
    assert (args.name, args.role, args.namespaces) == ("ci", Role.WRITER, ["acme.*", "ops"])
    assert args.expires == span
    assert (args.certificate_subject, args.database) == ("", None)


def test_tokens_list_and_revoke() -> None:
    assert parse("tokens", "list").all is False
    assert parse("tokens", "list", "--all", "--database", "sqlite:///x.db").database == (
        "sqlite:///x.db"
    )
    assert parse("tokens", "revoke", "ci").name == "ci"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """A stand-in for statehouse.server.security.credentials that records its calls."""
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    described = {
        "name": "root",
        "role": "admin",
        "namespaces": ["*"],
        "certificate_subject": "",
        "create_time_us": 1_738_324_800_000_000,
        "expire_time_us": None,
    }

    def issue_offline(*args: Any, **kwargs: Any) -> tuple[dict[str, Any], str]:
        calls.append(("issue", args, kwargs))
        return {**described, "name": kwargs["name"]}, "sht_0123_s3cret"

    def list_offline(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        calls.append(("list", args, kwargs))
        return [described]

    def revoke_offline(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(("revoke", args, kwargs))
        if args[1] != "root":
            raise LookupError(f"no credential named {args[1]!r}")
        return {**described, "revoke_time_us": 1_738_324_900_000_000}

    fake = types.ModuleType("statehouse.server.security.credentials")
    fake.issue_offline = issue_offline  # type: ignore[attr-defined]
    fake.list_offline = list_offline  # type: ignore[attr-defined]
    fake.revoke_offline = revoke_offline  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "statehouse.server.security.credentials", fake)
    monkeypatch.setattr(statehouse.server.security, "credentials", fake, raising=False)
    return calls


def test_tokens_with_database_call_the_offline_functions(
    offline: list[tuple[str, tuple[Any, ...], dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "sqlite:///data/statehouse.db"
    assert main(["tokens", "create", "--database", url, "--name", "root", "--role", "admin",
                 "--namespace", "*", "--expires", "12h"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "\nsht_0123_s3cret\n" in text and "will not be shown again" in text
    assert offline[-1] == (
        "issue",
        (url,),
        {
            "name": "root",
            "role": "admin",
            "namespaces": ["*"],
            "ttl_seconds": 12 * 3600.0,
            "certificate_subject": "",
        },
    )
    assert main(["--json", "tokens", "create", "--database", url, "--name", "w", "--role",
                 "reader", "--namespace", "a", "--certificate-subject", "CN=w"]) == 0  # fmt: skip
    created = json.loads(capsys.readouterr().out)
    assert created["secret"] == "sht_0123_s3cret"
    assert created["token"]["role"] == "ROLE_ADMIN"  # what the stand-in described
    assert offline[-1][2]["ttl_seconds"] is None
    assert offline[-1][2]["certificate_subject"] == "CN=w"

    assert main(["tokens", "list", "--all", "--database", url]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:5] == [
        "root",
        "admin",
        "*",
        "-",
        "active",
    ]
    assert offline[-1] == ("list", (url,), {"include_inactive": True})

    assert main(["tokens", "revoke", "root", "--database", url]) == 0
    assert capsys.readouterr().out == "revoked token root\n"
    assert main(["tokens", "revoke", "nobody", "--database", url]) == 1
    assert capsys.readouterr().err == "error: no credential named 'nobody' (NOT_FOUND)\n"


@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_limit_below_one_has_one_message(capsys: pytest.CaptureFixture[str], value: str) -> None:
    err = usage_error(capsys, "executions", "list", "--limit", value)
    assert f"expected a positive integer, got '{value}'" in err


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2", 2.0), ("2.5", 2.5), ("500ms", 0.5), ("1.5s", 1.5), ("1m30s", 90.0), ("2h", 7200.0)],
)
def test_durations_are_seconds_or_spans(text: str, seconds: float) -> None:
    args = parse("pause", "eid", "--delay", text)
    assert args.delay == seconds


@pytest.mark.parametrize("text", ["0", "-1", "soon", "1x", "0s"])
def test_bad_durations_are_usage_errors(capsys: pytest.CaptureFixture[str], text: str) -> None:
    err = usage_error(capsys, "pause", "eid", "--delay", text)
    assert "argument --delay" in err


def test_output_modes_and_the_json_shorthand() -> None:
    assert parse("executions", "list").output == "text"
    assert parse("-o", "yaml", "executions", "list").output == "yaml"
    assert parse("executions", "list", "--output", "json").output == "json"
    assert parse("executions", "list", "--json").output == "json"
    assert parse("--color", "never", "executions", "list").color == "never"
