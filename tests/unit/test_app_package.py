"""The server's assembly (``statehouse.server.app``): its public names, and the
start-up checks of ``Settings.check``, made before anything is opened."""

from __future__ import annotations

from pathlib import Path

import pytest

import statehouse.server.app as app
from statehouse.server.security.tls import TlsConfigError
from statehouse.server.settings import ConfigError, Settings

LOCAL = "127.0.0.1:0"


def test_the_public_names_are_a_choice() -> None:
    """What the CLI (``serve_from_args``), the tests and the bench import; the rest
    of the package's modules is private to it."""
    assert set(app.__all__) == {
        "GC_THRESHOLDS",
        "SERVICES",
        "SERVICE_NAMES",
        "SWITCH_INTERVAL",
        "ConfigError",
        "Server",
        "create_server",
        "main",
        "raise_descriptor_limit",
        "run",
        "serve",
        "serve_from_args",
        "supervise",
        "write_ready_file",
    }
    assert all(callable(getattr(app, name)) or name.isupper() for name in app.__all__)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"tls_cert": Path("c")}, TlsConfigError, "--tls-cert and --tls-key go together"),
        ({"tls_client_ca": Path("ca")}, TlsConfigError, "--tls-client-ca needs --tls-cert"),
        ({"address": "0.0.0.0:0"}, ConfigError, "without TLS and authentication"),
        (
            {"address": "0.0.0.0:0", "tls_cert": Path("c"), "tls_key": Path("k")},
            ConfigError,
            "0.0.0.0:0 without authentication",
        ),
        ({"http_address": "127.0.0.1:8080", "address": "127.0.0.1:8080"}, ConfigError, "same port"),
        ({"http_address": "0.0.0.0:0"}, ConfigError, "(--http-address) without TLS"),
        (
            {"jwt_public_key": Path("k.pem"), "jwt_jwks": Path("k.json")},
            ConfigError,
            "--jwt-public-key and --jwt-jwks: give one",
        ),
    ],
)
def test_options_that_cannot_work_are_refused(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    settings = Settings(**{"address": LOCAL, **options})  # type: ignore[arg-type]
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings.check()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"address": "0.0.0.0:0", "insecure": True},
        {"address": "0.0.0.0:0", "tls_cert": Path("c"), "tls_key": Path("k"), "auth": True},
        {
            "address": "0.0.0.0:0",
            "tls_cert": Path("c"),
            "tls_key": Path("k"),
            "tls_client_ca": Path("ca"),
        },
        {"address": "[::1]:0", "http_address": "localhost:0"},
    ],
)
def test_options_that_work_pass(options: dict[str, object]) -> None:
    Settings(**{"address": LOCAL, **options}).check()  # type: ignore[arg-type]


def test_a_tls_option_error_is_a_config_error() -> None:
    """One family of start-up refusals: ``serve`` reports both on one line, status 1."""
    assert issubclass(TlsConfigError, ConfigError)
