"""The web console in a real browser: headless Chromium (Debian's `chromium`
and `chromium-driver`, which .ci/run installs) driven by selenium, against a
real `statehouse serve` process with both ports (gRPC for the test's SDK
client, HTTP for the page), restartable on the same ports and database."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from statehouse.client import Client
from statehouse.server import testing as launcher
from tests.eventually import TIMEOUT, eventually

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
T = TypeVar("T")


class ConsoleServer(launcher.ServerProcess):
    """``statehouse serve`` with both ports (the launcher's ``http=True``), started at once."""

    def __init__(self, database_url: str, log_path: Path, options: tuple[str, ...] = ()) -> None:
        super().__init__(("--database", database_url, *options), log_path=log_path, http=True)
        self.database_url = database_url
        self.start()

    @property
    def url(self) -> str:
        return self.http_url


@pytest.fixture
def console_server(tmp_path: Path) -> Iterator[ConsoleServer]:
    server = ConsoleServer(f"sqlite:///{tmp_path / 'statehouse.db'}", tmp_path / "server.log")
    try:
        yield server
    finally:
        if server.running:
            server.kill()


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
