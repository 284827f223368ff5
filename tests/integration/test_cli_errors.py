"""The command line's errors against a real server with TLS and ``--auth``: each
says what to do in the command line's own words (its flags and environment
variables, never the SDK's arguments), and gRPC's own log lines stay off its
stderr, so a failed command prints its one error and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.certs import Authority, Pair

from .conftest import ServerProcess
from .test_cli import Cli

#: Variables that would change what the command sends or prints.
CLEARED = (
    "GRPC_VERBOSITY",
    "GRPC_TRACE",
    "STATEHOUSE_TOKEN",
    "STATEHOUSE_TLS_CA",
    "STATEHOUSE_TLS_CERT",
    "STATEHOUSE_TLS_KEY",
)


def _cli(target: str, **env: str) -> Cli:
    cli = Cli(target)
    for name in CLEARED:
        cli.env.pop(name, None)
    cli.env.update(env)
    return cli


def _error(cli: Cli, *argv: str) -> str:
    """The stderr of a command that fails with 1."""
    result = cli.run("--call-timeout", "5", *argv, "executions", "list", ok=False)
    assert result.returncode == 1, result
    return result.stderr


@pytest.fixture
def ca(tmp_path: Path) -> Authority:
    return Authority(tmp_path, "ca")


@pytest.fixture
def secured(tmp_path: Path, ca: Authority) -> Iterator[ServerProcess]:
    """A server with TLS (a certificate for localhost and 127.0.0.1) and --auth."""
    pair: Pair = ca.issue("server", server=True)
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'statehouse.db'}",
        tmp_path / "server.log",
        options=("--tls-cert", str(pair.cert), "--tls-key", str(pair.key), "--auth"),
    )
    try:
        yield server
    finally:
        server.kill()


def test_a_refused_call_says_how_to_give_a_token(secured: ServerProcess, ca: Authority) -> None:
    cli = _cli(secured.target)
    err = _error(cli, "--tls-ca", str(ca.path))
    assert err.splitlines() == [
        "error: valid credentials are required (UNAUTHENTICATED)",
        "  no token was given: pass one with --token TOKEN or in $STATEHOUSE_TOKEN "
        "(an admin issues one with `statehouse tokens create`)",
    ]
    refused = (
        "  the token of --token (else $STATEHOUSE_TOKEN) was refused: unknown, expired or revoked"
    )
    err = _error(cli, "--tls-ca", str(ca.path), "--token", "sht_ffffff_wrong-secret")
    assert err.splitlines()[1:] == [refused]
    from_env = _cli(secured.target, STATEHOUSE_TOKEN="sht_ffffff_wrong-secret")
    assert _error(from_env, "--tls-ca", str(ca.path)).splitlines()[1:] == [refused]


def test_tls_errors_name_the_cli_flags_and_grpc_logs_nothing(
    secured: ServerProcess, tmp_path: Path, ca: Authority
) -> None:
    cli = _cli(secured.target)
    stranger = Authority(tmp_path, "stranger-ca")
    err = _error(cli, "--tls-ca", str(stranger.path))
    # Only the command's own lines: not gRPC's `I1206 ... Handshake failed with error ...`.
    assert err.splitlines() == [
        f"error: TLS handshake with the Statehouse server at {secured.target} failed "
        "(CERTIFICATE_VERIFY_FAILED): is its certificate signed by the CA you trust "
        "(--tls-ca, $STATEHOUSE_TLS_CA) and issued for this host name? (UNAVAILABLE)",
        "  the address is --target, else $STATEHOUSE_TARGET, else 127.0.0.1:50051",
    ]
    # A verbosity the user set is kept: gRPC's lines are there when asked for.
    asked = _cli(secured.target, GRPC_VERBOSITY="INFO")
    assert "Handshake failed" in _error(asked, "--tls-ca", str(stranger.path))

    err = _error(cli, "--tls-ca", str(ca.path), "--tls-server-name", "elsewhere.test")
    assert "(HOSTNAME_MISMATCH)" in err and "--tls-server-name" in err, err
    assert len(err.splitlines()) == 2, err

    plaintext = ServerProcess(f"sqlite:///{tmp_path / 'plain.db'}", tmp_path / "plain.log")
    try:
        err = _error(_cli(plaintext.target), "--tls-ca", str(ca.path))
    finally:
        plaintext.kill()
    assert "(WRONG_VERSION_NUMBER): does it serve TLS there? (for a plaintext server" in err, err
    assert len(err.splitlines()) == 2, err
    assert "tls=False" not in err
