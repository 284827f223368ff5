"""Addresses (``net.Address``) are read once, refused naming their option, and
written back as grpc and people read them; every port the server binds itself
is bound by ``net.listen``, and ``net.reserve`` holds one for ``--processes N``."""

from __future__ import annotations

import socket

import pytest

from statehouse.server.net import Address, AddressError, listen, reserve
from statehouse.server.settings import ConfigError, Settings


@pytest.mark.parametrize(
    ("text", "host", "port", "shown"),
    [
        ("127.0.0.1:50051", "127.0.0.1", 50051, "127.0.0.1:50051"),
        ("localhost:0", "localhost", 0, "localhost:0"),
        ("[::1]:8080", "::1", 8080, "[::1]:8080"),
        ("[::]:0", "::", 0, "[::]:0"),
        (" 0.0.0.0:65535 ", "0.0.0.0", 65535, "0.0.0.0:65535"),
        (":9090", "", 9090, ":9090"),
    ],
)
def test_an_address_is_read_once_and_written_back(
    text: str, host: str, port: int, shown: str
) -> None:
    address = Address.parse(text)
    assert (address.host, address.port, str(address)) == (host, port, shown)
    assert Address.parse(str(address)) == address


@pytest.mark.parametrize(
    "text", ["8080", "localhost", "::1:8080", "[::1]8080", "host:65536", "host:-1", "[nope]:1", ""]
)
def test_anything_else_is_refused_naming_the_option(text: str) -> None:
    with pytest.raises(AddressError, match=r"^--http-address: .*host:port"):
        Address.parse(text, "--http-address")


def test_settings_read_addresses_given_as_text_and_refuse_bad_ones() -> None:
    settings = Settings(address="[::1]:0", http_address="localhost:8080", metrics_address="")
    assert settings.address == Address("::1", 0)
    assert settings.http_address == Address("localhost", 8080)
    assert settings.metrics_address is None
    with pytest.raises(AddressError, match=r"^--metrics-address: cannot read"):
        Settings(metrics_address="9090")


@pytest.mark.parametrize(
    ("text", "loopback"),
    [
        ("127.0.0.1:1", True),
        ("[::1]:1", True),
        ("localhost:1", True),
        ("0.0.0.0:1", False),
        ("[::]:1", False),
        ("example.com:1", False),
        (":1", False),
    ],
)
def test_loopback(text: str, loopback: bool) -> None:
    assert Address.parse(text).is_loopback is loopback


def test_the_same_port_for_grpc_and_http_is_refused() -> None:
    with pytest.raises(ConfigError, match="same port"):
        Settings(address="127.0.0.1:8080", http_address="[::1]:8080").check()
    Settings(address="127.0.0.1:0", http_address="127.0.0.1:0").check()


def test_listen_binds_a_listening_socket_and_names_the_option_when_it_cannot() -> None:
    with listen(Address.parse("127.0.0.1:0"), option="--http-address", backlog=8) as sock:
        port = sock.getsockname()[1]
        assert port > 0 and not sock.getblocking()
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        taken = Address("127.0.0.1", port)
        with pytest.raises(OSError, match=rf"^cannot listen on 127.0.0.1:{port} \(--x\): "):
            listen(taken, option="--x")
        with pytest.raises(OSError, match=rf"^cannot listen on 127.0.0.1:{port} \(reserved\): "):
            reserve(taken, option="reserved")


def test_listen_shares_a_port_with_reuse_port() -> None:
    with reserve(Address.parse("127.0.0.1:0"), option="--address") as held:
        port = held.getsockname()[1]
        assert port > 0
        address = Address("127.0.0.1", port)
        with (
            listen(address, option="--address", reuse_port=True) as one,
            listen(address, option="--address", reuse_port=True) as two,
        ):
            assert one.getsockname()[1] == two.getsockname()[1] == port
