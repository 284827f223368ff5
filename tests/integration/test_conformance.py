"""One conformance suite: the same scenarios through every client.

``tests/conformance/scenarios.json`` lists the scenarios, what each must
observe, and the clients with their drivers (``tests/conformance/README.md``
has the drivers' protocol). Here two real servers on SQLite are started once
for the module: a plain one (gRPC and Connect over HTTP), restarted on the same
ports for the resumption scenario, and one with ``--auth`` and a reader token.
Each client's driver runs every scenario against them, in turn (a restart
must not hit another client's calls), and each scenario's outcome must be the
one the list declares: pass, or ``not-supported`` for a listed exception with
its reason. The table of clients by scenario of docs/clients.md is built from
those outcomes and must be the one there (``tests/unit/test_conformance_table.py``
checks the same table from the list alone, without servers).

Skipped for a client only when its toolchain is missing (go, javac, node,
curl), naming it; ``.ci/run`` installs them.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from statehouse.client import Client
from statehouse.server.security.credentials import issue_offline
from tests.builds import java_client
from tests.conformance import suite as conformance
from tests.doc_blocks import section

from .conftest import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT / "tests" / "conformance"
SUITE = conformance.load()
#: The bound of one driver's whole run (its builds aside).
DRIVER_TIMEOUT = 150
#: Room for a first build of grpc-go, or of the Java client, on a small machine.
BUILD_TIMEOUT = 300
#: Executions the suite commits while a driver's subscription is reconnecting.
COMMITTED_DURING_RESTART = 3

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("conformance"), pytest.mark.timeout(600)]

#: Every client's outcome per scenario, as the tests of this module find them.
OUTCOMES: dict[tuple[str, str], str] = {}


class HttpServer(ServerProcess):
    """A server process serving HTTP too; restarted on the same two ports."""

    def __init__(self, database_url: str, log_path: Path, *options: str) -> None:
        super().__init__(database_url, log_path, options=options, http=True)

    @property
    def http(self) -> str:
        return self.http_url


@dataclass
class Servers:
    plain: HttpServer
    auth: HttpServer
    reader_token: str

    def env(self, client: str) -> dict[str, str]:
        """A driver's environment: the suite's variables, none of the caller's."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("STATEHOUSE_")}
        return {
            **base,
            "STATEHOUSE_CONFORMANCE_TARGET": self.plain.target,
            "STATEHOUSE_CONFORMANCE_HTTP": self.plain.http,
            "STATEHOUSE_CONFORMANCE_AUTH_TARGET": self.auth.target,
            "STATEHOUSE_CONFORMANCE_AUTH_HTTP": self.auth.http,
            "STATEHOUSE_CONFORMANCE_READER_TOKEN": self.reader_token,
            "STATEHOUSE_CONFORMANCE_RUN": f"conformance.{client}.{uuid.uuid4().hex[:8]}",
            "NO_COLOR": "1",
        }

    def logs(self) -> str:
        return f"plain server log:\n{self.plain.logs()[-4000:]}"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    work = tmp_path_factory.mktemp("conformance")
    plain = HttpServer(f"sqlite:///{work / 'plain.db'}", work / "plain.log")
    auth_url = f"sqlite:///{work / 'auth.db'}"
    _, reader = issue_offline(auth_url, name="reader", role="reader", namespaces=["*"])
    try:
        auth = HttpServer(auth_url, work / "auth.log", "--auth")
    except BaseException:
        plain.kill()
        raise
    try:
        yield Servers(plain, auth, reader)
    finally:
        for server in (plain, auth):
            if server.proc is not None and server.proc.poll() is None:
                server.kill()


# -- running a driver ----------------------------------------------------------------------


def _lines(stream: object, into: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)
    into.put(None)


def restart_and_commit(servers: Servers, namespace: str) -> list[str]:
    """Restart the plain server, then commit executions in ``namespace`` (while
    the driver's stream is reconnecting); their ids, in order."""
    servers.plain.restart()
    with Client.connect(servers.plain.target, tls=False, token="") as client:
        return [
            client.create_execution(namespace=namespace, flow_id=f"during-restart-{n}").id
            for n in range(COMMITTED_DURING_RESTART)
        ]


def run_driver(command: Sequence[str], servers: Servers, client: str) -> str:
    """Run one driver over every scenario, answering its restart requests; its output."""
    proc = subprocess.Popen(
        [*command, *(s.name for s in SUITE.scenarios)],
        cwd=ROOT,
        env=servers.env(client),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    # Not a poll (eventually() does not fit): each line of the driver is read as it
    # comes and may ask for a restart; the bound is on the whole run.
    deadline = time.monotonic() + DRIVER_TIMEOUT
    try:
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(
                    f"the {client} driver did not finish in {DRIVER_TIMEOUT} s:\n"
                    + "".join(seen)
                    + servers.logs()
                )
            if line is None:
                break
            seen.append(line)
            request = _restart_request(line)
            if request is not None:
                created = restart_and_commit(servers, request)
                assert proc.stdin is not None
                proc.stdin.write(" ".join(created) + "\n")
                proc.stdin.flush()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait(10)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
    return "".join(seen)


def _restart_request(line: str) -> str | None:
    if not line.startswith('{"restart"'):
        return None
    namespace = json.loads(line)["restart"]
    assert isinstance(namespace, str)
    return namespace


def check_client(client: str, output: str, servers: Servers) -> None:
    """Every scenario's outcome is the declared one; recorded for the documented table."""
    reported = conformance.parse_lines(output)
    declared = SUITE.declared()
    wrong = []
    for scenario in SUITE.scenarios:
        found = conformance.verdict(scenario, reported.get(scenario.name))
        OUTCOMES[(client, scenario.name)] = found.outcome
        want = declared[(client, scenario.name)]
        if found.outcome != want:
            wrong.append(f"{scenario.name}: {found.outcome}, not {want}: {found.detail}")
        elif want == conformance.NOT_SUPPORTED:
            listed = SUITE.exceptions[(client, scenario.name)]
            if found.detail != listed:
                wrong.append(f"{scenario.name}: not supported because {found.detail!r}, "
                             f"but scenarios.json says {listed!r}")  # fmt: skip
    assert not wrong, (
        f"the {client} client does not conform:\n"
        + "\n".join(wrong)
        + f"\n\ndriver output:\n{output}\n{servers.logs()}"
    )


# -- the clients ----------------------------------------------------------------------------


def _require(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (.ci/run installs it)")


def python_command(client: str) -> list[str]:
    module = SUITE.client(client).driver.removesuffix(".py").replace("/", ".")
    return [sys.executable, "-m", module]


def node_command() -> list[str]:
    _require("node")
    if not (ROOT / "node_modules" / "@connectrpc" / "connect-node").exists():
        pytest.fail("node_modules has no @connectrpc/connect-node: run `make node`")
    return ["node", str(ROOT / SUITE.client("node").driver)]


def go_command(tmp_path: Path) -> list[str]:
    _require("go")
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import gen_go_protos
    finally:
        sys.path.remove(str(ROOT / "tools"))
    missing = gen_go_protos.missing_tools()
    assert not missing, (
        f"missing {missing}: apt-get install {' '.join(gen_go_protos.DEBIAN_PACKAGES)}"
    )
    binary = tmp_path / "conformance-go"
    package = "github.com/statehouse/statehouse/tests/conformance/go"
    built = subprocess.run(
        ["go", "build", "-o", str(binary), package],
        cwd=ROOT,
        env=gen_go_protos.go_env(tmp_path / "gopath"),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert built.returncode == 0, f"go build {package} failed:\n{built.stdout}\n{built.stderr}"
    return [str(binary)]


def java_command(tmp_path: Path) -> list[str]:
    _require("javac", "java")
    build = java_client()  # once per run, with the Java client's own tests
    classpath = build.classpath
    driver = tmp_path / "driver"
    compiled = subprocess.run(
        ["javac", "-cp", classpath, "-d", str(driver), str(ROOT / SUITE.client("java").driver)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert compiled.returncode == 0, f"the Java driver does not compile:\n{compiled.stderr}"
    return ["java", "-cp", f"{classpath}:{driver}", "Driver"]


def curl_command() -> list[str]:
    _require("curl")
    return python_command("curl")


def command_for(client: str, tmp_path: Path) -> list[str]:
    if client in ("python-sync", "python-async"):
        return python_command(client)
    if client == "node":
        return node_command()
    if client == "go":
        return go_command(tmp_path)
    if client == "java":
        return java_command(tmp_path)
    if client == "curl":
        return curl_command()
    raise AssertionError(f"no way to run the {client} driver: add it to command_for")


@pytest.mark.parametrize("client", [c.name for c in SUITE.clients])
def test_every_scenario_through_the_client(client: str, servers: Servers, tmp_path: Path) -> None:
    command = command_for(client, tmp_path)
    output = run_driver(command, servers, client)
    check_client(client, output, servers)


def test_the_documents_show_what_the_clients_did() -> None:
    """Last in this module: the table built from the outcomes above (a client
    skipped for want of its toolchain counts as declared) is the one of
    docs/clients.md, in its section."""
    outcomes = {**SUITE.declared(), **OUTCOMES}
    expected = conformance.readme_section(SUITE, outcomes)
    documented = section(conformance.DOCUMENT, conformance.SECTION)
    assert expected in documented, (
        "docs/clients.md's conformance table differs from the suite's results; it must read:\n"
        + expected
    )
