"""The Node.js client (client/node) against real server processes.

Runs ``node --test`` on client/node's test files with the addresses and
certificates in the environment:

- ``client.test.js`` against a plaintext server on each backend: executions,
  task runs, a lifecycle, the event stream in order, google.rpc error details
  decoded in JavaScript, and a process that breaks out of a subscription exits;
- ``credentials.test.js`` and ``tls.test.js`` with certificates made here and a
  server serving TLS: the bearer token sent on every call and stream (recorded by
  a grpc-js server in the Node process), TLS with the CA succeeding and without
  it failing, mTLS, and ``client.test.js`` again over TLS (STATEHOUSE_TLS_CA);
- ``auth.test.js`` against ``statehouse serve --auth`` with a bootstrap admin
  token, once the server has ``--auth`` (skipped before).

And as a user gets it: ``npm pack`` of client/node installed into an empty
project and used there (``require('statehouse-node-client')``), an install by
path, and every ``js`` example of client/node/README.md run as written.

``make test`` installs client/node's packages first (``make node-client``).
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
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest

from tests.certs import Authority

from .conftest import READY, ServerProcess

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client" / "node"
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
    if not (CLIENT / "node_modules" / "@grpc" / "grpc-js").exists():
        pytest.fail("client/node has no node_modules: run `make node-client`")
    return node


def run_node_tests(files: Sequence[str], env: dict[str, str], logs: str = "") -> str:
    """``node --test`` on ``files`` (relative to client/node) with ``env``; fails on any failure."""
    base = {k: v for k, v in os.environ.items() if k not in NODE_VARIABLES}
    result = subprocess.run(
        [_node(), "--test", "--test-reporter=spec", *files],
        cwd=CLIENT,
        env={**base, **env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
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
    """``python -m statehouse.server.app`` on a free port with ``args``; yields the port."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "statehouse.server.app", "--address", "127.0.0.1:0",
             "--database", database_url, *args],
            stdout=out,
            stderr=out,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while (match := READY.search(log.read_text(errors="replace"))) is None:
            assert proc.poll() is None, f"the server exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"the server did not start:\n{log.read_text()}"
            time.sleep(0.02)
        yield int(match.group(1))
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


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


def test_node_client_suite_passes_against_the_python_server(server_process: ServerProcess) -> None:
    run_node_tests(
        ["test/client.test.js"],
        {"STATEHOUSE_TARGET": server_process.target},
        f"server log:\n{server_process.logs()}",
    )


def test_node_client_credentials_and_tls(tmp_path: Path, tls_dir: Path) -> None:
    log = tmp_path / "server.log"
    with serve(
        log,
        f"sqlite:///{tmp_path / 'statehouse.db'}",
        "--tls-cert", str(tls_dir / "server.crt"), "--tls-key", str(tls_dir / "server.key"),
    ) as port:  # fmt: skip
        target = f"127.0.0.1:{port}"
        output = run_node_tests(
            ["test/credentials.test.js", "test/tls.test.js"],
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


def test_node_client_against_a_server_with_auth(tmp_path: Path, tls_dir: Path) -> None:
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
#: node_modules with its bundled protos; create, read back, subscribe and break,
#: close; then the process must exit by itself.
INSTALLED_CHECK = """
'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');
const { connect, protosDirectory } = require('statehouse-node-client');

const installed = path.join(__dirname, 'node_modules', 'statehouse-node-client');
assert.equal(require.resolve('statehouse-node-client'), path.join(installed, 'src', 'index.js'));
assert.equal(protosDirectory(), path.join(installed, 'protos'));
assert.ok(require.resolve('@grpc/grpc-js').startsWith(path.join(__dirname, 'node_modules') + path.sep));

(async () => {
  const sh = connect(process.argv[2]);
  const { execution } = await sh.executions.createExecution({ namespace: 'demo', flow_id: 'installed' });
  const { execution: stored } = await sh.executions.getExecution({ execution_id: execution.id });
  assert.equal(stored.id, execution.id);
  assert.equal(stored.state, 'STATE_CREATED');
  for await (const message of sh.events.subscribe({
    filter: { execution_ids: [execution.id] },
    after_sequence: '0',
  })) {
    assert.equal(message.payload, 'event');
    assert.equal(message.event.execution_id, execution.id);
    break;
  }
  sh.close();
  console.log('installed client ok', execution.id);
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
"""


def _pack(tmp_path: Path) -> Path:
    """``npm pack`` of client/node, as in the repository: on a copy of client/node
    beside a copy of protos/ (the same layout), so the prepack and postpack
    scripts never write into the shared working tree. Returns the tarball."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "protos", repo / "protos")
    shutil.copytree(
        CLIENT,
        repo / "client" / "node",
        ignore=shutil.ignore_patterns(
            "node_modules", "protos", "protos.staging-*", "*.tgz", "test"
        ),
    )
    packs = tmp_path / "packs"
    packs.mkdir()
    packed = run_bounded(
        [_npm(), "pack", "--pack-destination", str(packs), "--loglevel=error"],
        repo / "client" / "node",
        {},
        timeout=60,
    )
    assert packed.returncode == 0, f"npm pack failed:\n{packed.stdout}\n{packed.stderr}"
    tarballs = list(packs.glob("statehouse-node-client-*.tgz"))
    assert len(tarballs) == 1, f"npm pack made {tarballs}:\n{packed.stdout}"
    assert not (repo / "client" / "node" / "protos").exists(), "postpack left the protos copy"
    return tarballs[0]


@pytest.mark.xdist_group("node-npm")
def test_node_client_packed_and_installed_in_a_fresh_project_works(tmp_path: Path) -> None:
    _node()
    tarball = _pack(tmp_path)
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    protos = sorted(
        f"package/protos/{p.relative_to(ROOT / 'protos').as_posix()}"
        for p in (ROOT / "protos").rglob("*.proto")
    )
    expected = {
        "package/package.json",
        "package/src/index.js",
        "package/third_party/google/rpc/status.proto",
        "package/third_party/google/rpc/error_details.proto",
        *protos,
    }
    assert protos and expected <= names, f"missing from the tarball: {sorted(expected - names)}"
    assert not [n for n in names if n.startswith("package/test/")], sorted(names)

    project = tmp_path / "project"
    project.mkdir()
    (project / "package.json").write_text('{"name": "uses-statehouse", "private": true}\n')
    installed = run_bounded(
        [_npm(), "install", *NPM_INSTALL, str(tarball)], project, {}, timeout=180
    )
    assert installed.returncode == 0, f"npm install failed:\n{installed.stdout}\n{installed.stderr}"
    (project / "check.js").write_text(INSTALLED_CHECK)

    server = ServerProcess(f"sqlite:///{tmp_path / 'statehouse.db'}", tmp_path / "server.log")
    try:
        ran = run_bounded([_node(), "check.js", server.target], project, {}, timeout=30)
        assert ran.returncode == 0, f"{ran.stdout}\n{ran.stderr}\nserver log:\n{server.logs()}"
        assert "installed client ok" in ran.stdout, ran.stdout
    finally:
        server.kill()


@pytest.mark.xdist_group("node-npm")
def test_node_client_installed_by_path_links_the_checkout(tmp_path: Path) -> None:
    """``npm install /path/to/client/node`` links the checkout: it uses the
    repository's protos and client/node/node_modules (``make node-client``)."""
    node = _node()
    project = tmp_path / "project"
    project.mkdir()
    (project / "package.json").write_text('{"name": "uses-statehouse", "private": true}\n')
    installed = run_bounded(
        [_npm(), "install", *NPM_INSTALL, str(CLIENT)], project, {}, timeout=120
    )
    assert installed.returncode == 0, f"npm install failed:\n{installed.stdout}\n{installed.stderr}"
    assert (project / "node_modules" / "statehouse-node-client").resolve() == CLIENT
    script = (
        "const { connect, protosDirectory } = require('statehouse-node-client');"
        "console.log(protosDirectory());"
        "connect('127.0.0.1:1').close();"
    )
    ran = run_bounded([node, "-e", script], project, {}, timeout=30)
    assert ran.returncode == 0, f"{ran.stdout}\n{ran.stderr}"
    assert ran.stdout.strip() == str(ROOT / "protos")


README = CLIENT / "README.md"
#: Node's warning when grpc-js sends an IP address as the TLS server name (a
#: target of 127.0.0.1 over TLS): printed by Node itself, harmless.
IP_SERVERNAME_WARNING = re.compile(
    r"^\(node:\d+\) \[DEP0123\] DeprecationWarning: Setting the TLS ServerName to an IP address.*\n"
    r"(\(Use `node --trace-deprecation .*\n)?",
    flags=re.MULTILINE,
)
PACKAGE_REQUIRE = "require('statehouse-node-client')"


def readme_examples() -> list[str]:
    """The ``js`` code blocks of client/node/README.md, in order."""
    return re.findall(r"^```js\n(.*?)^```$", README.read_text(), flags=re.DOTALL | re.MULTILINE)


def test_node_client_readme_examples_run_as_written(tmp_path: Path, tls_dir: Path) -> None:
    """Every ``js`` block of client/node/README.md is a whole script that runs
    against a server (--auth over TLS, an admin token) and exits by itself: by
    the package's name, as installed (a project whose node_modules links
    client/node, as ``npm install <dir>`` does), and from the repository root
    with ``require('./client/node')``, as the README says."""
    node = _node()
    examples = readme_examples()
    assert len(examples) >= 5, f"found {len(examples)} js blocks in {README}"
    project = tmp_path / "project"
    (project / "node_modules").mkdir(parents=True)
    (project / "node_modules" / "statehouse-node-client").symlink_to(CLIENT)
    with serve_with_auth(tmp_path, tls_dir) as (target, secret, log):
        env = {
            "STATEHOUSE_TARGET": target,
            "STATEHOUSE_TOKEN": secret,
            "STATEHOUSE_TLS_CA": str(tls_dir / "ca.pem"),
        }
        for number, example in enumerate(examples, 1):
            assert PACKAGE_REQUIRE in example, f"example {number} does not {PACKAGE_REQUIRE}"
            from_repository = example.replace(PACKAGE_REQUIRE, "require('./client/node')")
            for cwd, code in ((project, example), (ROOT, from_repository)):
                ran = run_bounded([node, "-e", code], cwd, env, timeout=30)
                errors = IP_SERVERNAME_WARNING.sub("", ran.stderr)
                assert ran.returncode == 0 and not errors, (
                    f"README example {number} failed (cwd {cwd}):\n{code}\n"
                    f"stdout:\n{ran.stdout}\nstderr:\n{ran.stderr}\nserver log:\n{log.read_text()}"
                )
