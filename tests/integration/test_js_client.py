"""The JavaScript client (client/ts, "statehouse-client") against real server processes.

Runs ``node --test`` on client/ts's test files with the addresses and
certificates in the environment:

- ``client.test.js`` against a plaintext server on each backend: executions,
  task runs, a lifecycle, the event stream in order and resumed, google.rpc
  error details, requests refused before sending, and child processes that
  leave a stream each way must exit by themselves;
- ``cursor.test.js`` (the subscription cursor, retry rules, request checks:
  no server), ``credentials.test.js``, ``tls.test.js`` and ``tracing.test.js`` with
  certificates made here and a server serving TLS: the bearer token sent on
  every call and stream (recorded by a Connect server in the Node process),
  TLS with the CA succeeding and without it failing, mTLS, a subscription that
  resumes by itself, the caller's trace context; and ``client.test.js`` again
  over TLS (STATEHOUSE_TLS_CA);
- ``auth.test.js`` against ``statehouse serve --auth`` with a bootstrap admin token.

And as a user gets it: ``npm pack`` of client/ts installed into an empty
project and used there (``import ... from 'statehouse-client'``), an install by
path, and every ``js`` example of client/ts/README.md run as written.

The client runs on the root's packages (``make node``) and its committed
build, client/ts/lib (``tests/unit/test_js_client_build.py`` checks it is fresh).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest

from tests.certs import Authority
from tests.doc_blocks import blocks_tested_by

from .conftest import ServerProcess

#: Other languages' toolchains and whole programs: make test runs them, make test-fast not.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client" / "ts"
#: The CLI of this environment (``tokens create``, ``serve --help``).
STATEHOUSE = Path(sys.executable).with_name("statehouse")
if not STATEHOUSE.exists():
    STATEHOUSE = Path(shutil.which("statehouse") or STATEHOUSE)

#: Variables the Node tests read; none may leak in from the caller's environment.
NODE_VARIABLES = (
    "STATEHOUSE_TARGET",
    "STATEHOUSE_TOKEN",
    "STATEHOUSE_TLS_CA",
    "STATEHOUSE_TLS_TARGET",
    "STATEHOUSE_TEST_TLS_DIR",
    "STATEHOUSE_AUTH_TARGET",
    "STATEHOUSE_AUTH_TOKEN",
)

#: npm without its network chatter; packages come from npm's cache when it has them.
NPM_INSTALL = ("--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error")
NPM_ENV = {"npm_config_update_notifier": "false", "npm_config_fund": "false"}


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (Node.js 18 or later is required)")
    if not (ROOT / "node_modules" / "@connectrpc" / "connect-node").exists():
        pytest.fail("node_modules has no @connectrpc/connect-node: run `make node`")
    return node


def run_node_tests(files: Sequence[str], env: dict[str, str], logs: str = "") -> str:
    """``node --test`` on ``files`` (relative to client/ts) with ``env``; fails on any failure."""
    base = {k: v for k, v in os.environ.items() if k not in NODE_VARIABLES}
    result = subprocess.run(
        [_node(), "--test", "--test-reporter=spec", *files],
        cwd=CLIENT,
        env={**base, **env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"node --test {' '.join(files)} failed:\n{output}\n{logs}"
    assert re.search(r"pass [1-9]", output), f"no test ran:\n{output}"
    return output


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed (it comes with Node.js)")
    return npm


def run_bounded(
    args: Sequence[str], cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """``args`` in a session of its own with ``env`` (no Node variable of the
    caller's), killed with its children and failed after ``timeout`` seconds."""
    base = {k: v for k, v in os.environ.items() if k not in NODE_VARIABLES}
    proc = subprocess.Popen(
        list(args),
        cwd=cwd,
        env={**base, **NPM_ENV, **env, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"{' '.join(args)} did not finish in {timeout} s:\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(list(args), proc.returncode, stdout, stderr)


def assert_none_skipped(output: str) -> None:
    """No test or suite skipped for want of its variables (each says which "is not set")."""
    assert re.search(r"skipped 0\b", output), f"some Node tests were skipped:\n{output}"
    assert not re.search(r"\b(is|are) not set\b", output), f"a Node suite was skipped:\n{output}"


@contextmanager
def serve(log: Path, database_url: str, *args: str) -> Iterator[int]:
    """``statehouse serve`` on a free port with ``args`` (the launcher); yields the port."""
    with ServerProcess(database_url, log, options=args) as server:
        yield server.port


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    """ca.pem and a server certificate for localhost and 127.0.0.1 (server.crt,
    server.key), other-ca.pem, and clients-ca.pem with client.crt and client.key."""
    directory = tmp_path / "tls"
    directory.mkdir()
    Authority(directory, "ca").issue("server", server=True)
    Authority(directory, "other-ca")
    Authority(directory, "clients-ca").issue("client", server=False)
    return directory


def test_js_client_suite_passes_against_the_python_server(server_process: ServerProcess) -> None:
    run_node_tests(
        ["test/client.test.js"],
        {"STATEHOUSE_TARGET": server_process.target},
        f"server log:\n{server_process.logs()}",
    )


def test_js_client_credentials_tls_and_tracing(tmp_path: Path, tls_dir: Path) -> None:
    log = tmp_path / "server.log"
    with serve(
        log,
        f"sqlite:///{tmp_path / 'statehouse.db'}",
        "--tls-cert", str(tls_dir / "server.crt"), "--tls-key", str(tls_dir / "server.key"),
    ) as port:  # fmt: skip
        target = f"127.0.0.1:{port}"
        output = run_node_tests(
            [
                "test/cursor.test.js",
                "test/credentials.test.js",
                "test/tls.test.js",
                "test/tracing.test.js",
            ],
            {"STATEHOUSE_TLS_TARGET": target, "STATEHOUSE_TEST_TLS_DIR": str(tls_dir)},
            f"server log:\n{log.read_text()}",
        )
        assert_none_skipped(output)
        # The whole suite over TLS, with the CA from the environment.
        run_node_tests(
            ["test/client.test.js"],
            {"STATEHOUSE_TARGET": target, "STATEHOUSE_TLS_CA": str(tls_dir / "ca.pem")},
            f"server log:\n{log.read_text()}",
        )


@cache
def _serve_help() -> str:
    return subprocess.run(
        [str(STATEHOUSE), "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout


@contextmanager
def serve_with_auth(tmp_path: Path, tls_dir: Path) -> Iterator[tuple[str, str, Path]]:
    """``statehouse serve --auth`` over TLS (the CA is tls_dir/ca.pem) with a
    bootstrap admin token for every namespace: yields (target, secret, log)."""
    if not re.search(r"--auth\b(?!-)", _serve_help()):
        pytest.skip("statehouse serve has no --auth yet")
    database_url = f"sqlite:///{tmp_path / 'statehouse.db'}"
    created = subprocess.run(
        [str(STATEHOUSE), "tokens", "create", "--database", database_url,
         "--name", "admin", "--role", "admin", "--namespace", "*", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert created.returncode == 0, f"tokens create failed:\n{created.stdout}\n{created.stderr}"
    secret = json.loads(created.stdout)["secret"]
    log = tmp_path / "server.log"
    with serve(
        log,
        database_url,
        "--auth",
        "--tls-cert", str(tls_dir / "server.crt"), "--tls-key", str(tls_dir / "server.key"),
    ) as port:  # fmt: skip
        yield f"127.0.0.1:{port}", secret, log


def test_js_client_against_a_server_with_auth(tmp_path: Path, tls_dir: Path) -> None:
    with serve_with_auth(tmp_path, tls_dir) as (target, secret, log):
        output = run_node_tests(
            ["test/auth.test.js"],
            {
                "STATEHOUSE_AUTH_TARGET": target,
                "STATEHOUSE_AUTH_TOKEN": secret,
                "STATEHOUSE_TEST_TLS_DIR": str(tls_dir),
            },
            f"server log:\n{log.read_text()}",
        )
        assert_none_skipped(output)
        # The whole suite as the admin, with the token and the CA from the environment.
        run_node_tests(
            ["test/client.test.js"],
            {
                "STATEHOUSE_TARGET": target,
                "STATEHOUSE_TOKEN": secret,
                "STATEHOUSE_TLS_CA": str(tls_dir / "ca.pem"),
            },
            f"server log:\n{log.read_text()}",
        )


#: What an installed copy runs: the package by its name, from the project's
#: node_modules with its own dependencies; create, read back, subscribe and
#: break, close; then the process must exit by itself.
INSTALLED_CHECK = """
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, State } from 'statehouse-client';

const here = path.dirname(fileURLToPath(import.meta.url));
const installed = path.join(here, 'node_modules', 'statehouse-client');
assert.equal(fileURLToPath(import.meta.resolve('statehouse-client')), path.join(installed, 'lib', 'src', 'node.js'));
const require = createRequire(path.join(installed, 'package.json'));
assert.ok(require.resolve('@connectrpc/connect-node').startsWith(path.join(here, 'node_modules') + path.sep));

const sh = connect(process.argv[2]);
const { execution } = await sh.executions.createExecution({ namespace: 'demo', flowId: 'installed' });
const { execution: stored } = await sh.executions.getExecution({ executionId: execution.id });
assert.equal(stored.id, execution.id);
assert.equal(stored.state, State.CREATED);
for await (const message of sh.events.subscribe({ filter: { executionIds: [execution.id] }, afterSequence: 0n })) {
  assert.equal(message.payload.case, 'event');
  assert.equal(message.payload.value.executionId, execution.id);
  break;
}
sh.close();
console.log('installed client ok', execution.id);
"""


def _pack(tmp_path: Path) -> Path:
    """``npm pack`` of a copy of client/ts (without its tests); returns the tarball."""
    copy = tmp_path / "package"
    shutil.copytree(CLIENT, copy, ignore=shutil.ignore_patterns("node_modules", "*.tgz", "test"))
    packs = tmp_path / "packs"
    packs.mkdir()
    packed = run_bounded(
        [_npm(), "pack", "--pack-destination", str(packs), "--loglevel=error"], copy, {}, timeout=60
    )
    assert packed.returncode == 0, f"npm pack failed:\n{packed.stdout}\n{packed.stderr}"
    tarballs = list(packs.glob("statehouse-client-*.tgz"))
    assert len(tarballs) == 1, f"npm pack made {tarballs}:\n{packed.stdout}"
    return tarballs[0]


@pytest.mark.xdist_group("node-npm")
def test_js_client_packed_and_installed_in_a_fresh_project_works(tmp_path: Path) -> None:
    node = _node()
    tarball = _pack(tmp_path)
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    expected = {
        "package/package.json",
        "package/README.md",
        "package/lib/src/node.js",
        "package/lib/src/node.d.ts",
        "package/lib/src/web.js",
        "package/lib/src/index.js",
        "package/lib/gen/statehouse/v1/execution_service_pb.js",
    }
    assert expected <= names, f"missing from the tarball: {sorted(expected - names)}"
    assert not [n for n in names if n.startswith("package/test/")], sorted(names)

    project = tmp_path / "project"
    project.mkdir()
    (project / "package.json").write_text(
        '{"name": "uses-statehouse", "private": true, "type": "module"}\n'
    )
    installed = run_bounded(
        [_npm(), "install", *NPM_INSTALL, str(tarball)], project, {}, timeout=180
    )
    assert installed.returncode == 0, f"npm install failed:\n{installed.stdout}\n{installed.stderr}"
    (project / "check.js").write_text(INSTALLED_CHECK)

    server = ServerProcess(f"sqlite:///{tmp_path / 'statehouse.db'}", tmp_path / "server.log")
    try:
        ran = run_bounded([node, "check.js", server.target], project, {}, timeout=30)
        assert ran.returncode == 0, f"{ran.stdout}\n{ran.stderr}\nserver log:\n{server.logs()}"
        assert "installed client ok" in ran.stdout, ran.stdout
    finally:
        server.kill()


@pytest.mark.xdist_group("node-npm")
def test_js_client_installed_by_path_links_the_checkout(tmp_path: Path) -> None:
    """``npm install /path/to/client/ts`` links the checkout, which finds its
    packages in the repository's node_modules (``make node``)."""
    node = _node()
    project = tmp_path / "project"
    project.mkdir()
    (project / "package.json").write_text('{"name": "uses-statehouse", "private": true}\n')
    installed = run_bounded(
        [_npm(), "install", *NPM_INSTALL, str(CLIENT)], project, {}, timeout=120
    )
    assert installed.returncode == 0, f"npm install failed:\n{installed.stdout}\n{installed.stderr}"
    assert (project / "node_modules" / "statehouse-client").resolve() == CLIENT
    script = (
        "import { connect } from 'statehouse-client';"
        "console.log(import.meta.resolve('statehouse-client'));"
        "connect('127.0.0.1:1').close();"
    )
    ran = run_bounded([node, "--input-type=module", "-e", script], project, {}, timeout=30)
    assert ran.returncode == 0, f"{ran.stdout}\n{ran.stderr}"
    assert ran.stdout.strip().endswith("/lib/src/node.js"), ran.stdout


README = CLIENT / "README.md"
PACKAGE_IMPORT = "from 'statehouse-client'"


def readme_examples() -> list[str]:
    """The ``js`` code blocks of client/ts/README.md, in order."""
    return re.findall(r"^```js\n(.*?)^```$", README.read_text(), flags=re.DOTALL | re.MULTILINE)


def test_js_client_readme_examples_run_as_written(tmp_path: Path, tls_dir: Path) -> None:
    """Every ``js`` block of client/ts/README.md is a whole module that runs
    against a server (--auth over TLS, an admin token) and exits by itself: by
    the package's name, as installed (a project whose node_modules links
    client/ts, as ``npm install <dir>`` does), and from the repository root
    with ``from './client/ts/lib/src/node.js'``, as the README says."""
    node = _node()
    examples = readme_examples()
    assert len(examples) >= 5, f"found {len(examples)} js blocks in {README}"
    project = tmp_path / "project"
    (project / "node_modules").mkdir(parents=True)
    (project / "node_modules" / "statehouse-client").symlink_to(CLIENT)
    with serve_with_auth(tmp_path, tls_dir) as (target, secret, log):
        env = {
            "STATEHOUSE_TARGET": target,
            "STATEHOUSE_TOKEN": secret,
            "STATEHOUSE_TLS_CA": str(tls_dir / "ca.pem"),
        }
        for number, example in enumerate(examples, 1):
            assert PACKAGE_IMPORT in example, f"example {number} does not import {PACKAGE_IMPORT}"
            from_repository = example.replace(PACKAGE_IMPORT, "from './client/ts/lib/src/node.js'")
            for cwd, code in ((project, example), (ROOT, from_repository)):
                ran = run_bounded([node, "--input-type=module", "-e", code], cwd, env, timeout=30)
                assert ran.returncode == 0 and not ran.stderr, (
                    f"README example {number} failed (cwd {cwd}):\n{code}\n"
                    f"stdout:\n{ran.stdout}\nstderr:\n{ran.stderr}\nserver log:\n{log.read_text()}"
                )


def test_js_client_first_program_in_the_readme_runs(
    server_process: ServerProcess, tmp_path: Path
) -> None:
    """The first JavaScript program of docs/clients.md, pasted into a project that has
    the package (linked, as ``npm install <dir>`` does) and into the repository
    root with its path, runs against a server (its address put in place of
    ``make run``'s) and exits by itself."""
    node = _node()
    [block] = blocks_tested_by("test_js_client_first_program_in_the_readme_runs")
    program = block.text.replace("127.0.0.1:50051", server_process.target)
    assert server_process.target in program
    project = tmp_path / "my-project"
    (project / "node_modules").mkdir(parents=True)
    (project / "node_modules" / "statehouse-client").symlink_to(CLIENT)
    (project / "hello.mjs").write_text(program)
    from_repository = program.replace(PACKAGE_IMPORT, "from './client/ts/lib/src/node.js'")
    for cwd, args in (
        (project, ["hello.mjs"]),
        (ROOT, ["--input-type=module", "-e", from_repository]),
    ):
        ran = run_bounded([node, *args], cwd, {}, timeout=30)
        assert ran.returncode == 0 and not ran.stderr, f"{ran.stdout}\n{ran.stderr}"
        assert re.search(r"^\d+ extract SUCCESS$", ran.stdout, flags=re.MULTILINE), ran.stdout
