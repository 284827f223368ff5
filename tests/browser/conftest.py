"""The web console in a real browser: headless Chromium (Debian's `chromium`
and `chromium-driver`, which .ci/run installs) driven by selenium, against a
real `statehouse serve` process with both ports (gRPC for the test's SDK
client, HTTP for the page), restartable on the same ports and database."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from statehouse.client import Client
from tests.eventually import TIMEOUT, eventually

READY = re.compile(r"statehouse serving on 127\.0\.0\.1:(\d+) and http://127\.0\.0\.1:(\d+)")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
T = TypeVar("T")


class ConsoleServer:
    """`python -m statehouse.server.app` with --http-address, in a subprocess."""

    def __init__(self, database_url: str, log_path: Path, options: tuple[str, ...] = ()) -> None:
        self.database_url = database_url
        self.log_path = log_path
        self.options = options
        self.port = 0
        self.http_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 30.0) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "statehouse.server.app",
                    "--address",
                    f"127.0.0.1:{self.port}",
                    "--http-address",
                    f"127.0.0.1:{self.http_port}",
                    "--database",
                    self.database_url,
                    *self.options,
                ],
                stdout=log,
                stderr=log,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()[offset:].decode(errors="replace")
            match = READY.search(text)
            if match:
                self.port, self.http_port = int(match.group(1)), int(match.group(2))
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.02)
        self.proc.kill()
        raise RuntimeError("server did not become ready:\n" + self.log_path.read_text())

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM and wait: a graceful shutdown."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)

    def restart(self) -> None:
        """A new process on the same ports and database."""
        self.stop()
        self.start()


@pytest.fixture
def console_server(tmp_path: Path) -> Iterator[ConsoleServer]:
    server = ConsoleServer(f"sqlite:///{tmp_path / 'statehouse.db'}", tmp_path / "server.log")
    try:
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(15)


@pytest.fixture
def client(console_server: ConsoleServer) -> Iterator[Client]:
    with Client.connect(console_server.target) as sdk:
        yield sdk


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(
            "headless Chromium is not installed: apt-get install -y chromium chromium-driver "
            "(.ci/run does it)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
        "--force-color-profile=srgb",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(check: Callable[[], T | None], timeout: float = 10.0, what: str = "") -> T:
    """:func:`tests.eventually.eventually` for the page: an element gone stale between
    two drawings is tried again. ``timeout`` stops a test that would hang, nothing more:
    on a loaded machine it is at least the suite's default bound."""
    value: T = eventually(
        check,
        what or str(check),
        within=max(timeout, TIMEOUT),
        step=0.05,
        retry=(Exception,),
    )
    return value
