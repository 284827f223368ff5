"""The conformance driver of plain HTTP JSON: every call is the real ``curl``
binary against the Connect endpoints of the HTTP port (``--http-address``).

Unary calls are ``curl --json BODY URL`` (``content-type: application/json``),
errors the Connect error JSON (``code``, ``message``, ``details`` whose
``debug`` is the ErrorInfo). The subscription is a streaming Connect call:
``application/connect+json``, a request and responses in enveloped frames (a
flag byte, a 4-byte length, the JSON), read from curl's output as they come.
curl does not reconnect: when the server goes away its stream ends, and this
driver posts it again with ``afterSequence`` set to the last sequence seen.
Python here only runs curl, frames the bytes and reports.

Usage, from the repository's root, with the suite's variables set
(tests/conformance/README.md): ``python -m tests.conformance.curl.driver SCENARIO...``.
"""

from __future__ import annotations

import json
import queue
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from typing import IO, Any

from tests.conformance.python.common import WAIT, Env, Observer, ask_restart, run

SERVICE = "/statehouse.v1.ExecutionService/"
SUBSCRIBE = "/statehouse.v1.EventService/Subscribe"


class ConnectError(Exception):
    """A Connect error response: its code (as gRPC spells it), reason and metadata."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.code = str(body.get("code", "")).upper()
        info = next(
            (d.get("debug", {}) for d in body.get("details", []) if d.get("type", "").endswith("ErrorInfo")),
            {},
        )  # fmt: skip
        self.reason = str(info.get("reason", ""))
        self.metadata: dict[str, str] = dict(info.get("metadata", {}))


def curl(base: str, method: str, body: Mapping[str, Any], token: str = "") -> dict[str, Any]:
    """POST ``body`` as JSON to ``base + method`` with curl; the response JSON."""
    args = ["curl", "-sS", "--max-time", "10", "--json", json.dumps(body)]
    if token:
        args += ["-H", f"authorization: Bearer {token}"]
    args += ["-w", "\n%{http_code}", base + SERVICE + method]
    done = subprocess.run(args, capture_output=True, text=True, timeout=20, check=False)
    if done.returncode != 0:
        raise ConnectionError(f"curl exited with {done.returncode}: {done.stderr.strip()}")
    text, _, status = done.stdout.rpartition("\n")
    reply: dict[str, Any] = json.loads(text)
    if status != "200":
        raise ConnectError(int(status), reply)
    return reply


def refusal(error: ConnectError, prefix: str = "") -> dict[str, str]:
    return {f"{prefix}code": error.code, f"{prefix}reason": error.reason}


def create(env: Env, scenario: str, **fields: Any) -> dict[str, Any]:
    body = {"namespace": env.namespace(scenario), "flowId": "etl", **fields}
    return curl(env.http, "CreateExecution", body)["execution"]  # type: ignore[no-any-return]


def task_run(env: Env, execution_id: str, task_id: str) -> dict[str, Any]:
    body = {"executionId": execution_id, "taskId": task_id}
    return curl(env.http, "CreateTaskRun", body)  # the response: taskRun, executionRevision


def move(env: Env, task_run_id: str, state: str) -> dict[str, Any]:
    return curl(env.http, "TransitionTaskRun", {"taskRunId": task_run_id, "state": state})


def lifecycle(env: Env) -> Mapping[str, str]:
    execution = create(env, "lifecycle")
    created = task_run(env, execution["id"], "extract")["taskRun"]
    started = move(env, created["id"], "STATE_RUNNING")
    done = move(env, created["id"], "STATE_SUCCESS")
    curl(
        env.http, "TransitionExecution", {"executionId": execution["id"], "state": "STATE_SUCCESS"}
    )
    final = curl(env.http, "GetExecution", {"executionId": execution["id"]})["execution"]
    return {
        "execution_created": execution["state"],
        "task_run_created": created["state"],
        "execution_after_task_run_started": started["executionState"],
        "task_run_final": done["taskRun"]["state"],
        "execution_final": final["state"],
        "execution_history": " ".join(h["state"] for h in final["history"]),
    }


def illegal_move(env: Env) -> Mapping[str, str]:
    execution = create(env, "illegal_move")
    created = task_run(env, execution["id"], "extract")["taskRun"]
    move(env, created["id"], "STATE_RUNNING")
    try:
        move(env, created["id"], "STATE_CREATED")
    except ConnectError as error:
        return {
            **refusal(error),
            "current_state": error.metadata.get("current_state", ""),
            "requested_state": error.metadata.get("requested_state", ""),
        }
    raise AssertionError("the illegal move was accepted")


def request_id_retry(env: Env) -> Mapping[str, str]:
    request_id = f"conformance-{uuid.uuid4()}"
    first = create(env, "request_id_retry", requestId=request_id)
    again = create(env, "request_id_retry", requestId=request_id)
    count = curl(env.http, "CountExecutions", {"namespace": env.namespace("request_id_retry")})
    observed = {
        "same_execution": str(first["id"] == again["id"]).lower(),
        "executions_created": str(count["total"]),
    }
    try:
        create(env, "request_id_retry", requestId=request_id, flowId="other")
    except ConnectError as error:
        return {**observed, **refusal(error, "reused_")}
    raise AssertionError("the reused request id was accepted")


def revision_conflict(env: Env) -> Mapping[str, str]:
    execution = create(env, "revision_conflict")
    body = {"executionId": execution["id"], "expectedRevision": execution["revision"]}
    moved = curl(env.http, "TransitionExecution", {**body, "state": "STATE_RUNNING"})
    try:
        curl(env.http, "TransitionExecution", {**body, "state": "STATE_SUCCESS"})
    except ConnectError as error:
        return {
            "first_move": moved["execution"]["state"],
            **refusal(error),
            "current_revision": error.metadata.get("current_revision", ""),
            "expected_revision": error.metadata.get("expected_revision", ""),
        }
    raise AssertionError("the stale expected_revision was accepted")


def pause_resume(env: Env) -> Mapping[str, str]:
    execution = create(env, "pause_resume")
    a = task_run(env, execution["id"], "a")["taskRun"]
    b = task_run(env, execution["id"], "b")["taskRun"]
    move(env, a["id"], "STATE_RUNNING")
    paused = curl(env.http, "PauseExecution", {"executionId": execution["id"]})["execution"]
    try:
        move(env, b["id"], "STATE_RUNNING")
    except ConnectError as error:
        refused = refusal(error, "start_while_paused_")
    else:
        raise AssertionError("a task run started in a paused execution")
    resumed = curl(env.http, "ResumeExecution", {"executionId": execution["id"]})["execution"]
    started = move(env, b["id"], "STATE_RUNNING")
    return {
        "paused": paused["state"],
        **refused,
        "resumed": resumed["state"],
        "started_after_resume": started["taskRun"]["state"],
    }


def kill_cascade(env: Env) -> Mapping[str, str]:
    execution = create(env, "kill_cascade")
    a = task_run(env, execution["id"], "a")["taskRun"]
    b = task_run(env, execution["id"], "b")["taskRun"]
    move(env, a["id"], "STATE_RUNNING")
    killed = curl(env.http, "KillExecution", {"executionId": execution["id"]})["execution"]
    by_id = {t["id"]: t for t in killed["taskRuns"]}
    reported = move(env, a["id"], "STATE_KILLED")
    final = curl(env.http, "GetExecution", {"executionId": execution["id"]})["execution"]
    return {
        "execution_after_kill": killed["state"],
        "running_task_run_after_kill": by_id[a["id"]]["state"],
        "created_task_run_after_kill": by_id[b["id"]]["state"],
        "execution_after_report": reported["executionState"],
        "execution_final": final["state"],
    }


class Stream:
    """``EventService/Subscribe`` through curl, reposted after its last sequence
    whenever it ends; events come out of :meth:`next` in order."""

    def __init__(self, base: str, namespace: str) -> None:
        self.base = base
        self.namespace = namespace
        self.last = 0
        self.opens = 0
        self.items: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.proc: subprocess.Popen[bytes] | None = None
        self.open()

    def open(self) -> None:
        body = json.dumps(
            {"filter": {"namespace": self.namespace}, "afterSequence": str(self.last)}
        )
        frame = struct.pack(">BI", 0, len(body)) + body.encode()
        self.proc = subprocess.Popen(
            ["curl", "-sS", "-N", "--data-binary", "@-", "-H", "content-type: application/connect+json",
             self.base + SUBSCRIBE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(frame)
        self.proc.stdin.close()
        self.opens += 1
        threading.Thread(target=self._frames, args=(self.proc.stdout,), daemon=True).start()

    def _frames(self, out: IO[bytes]) -> None:
        while len(header := out.read(5)) == 5:
            flags, length = struct.unpack(">BI", header)
            message = json.loads(out.read(length))
            if not flags & 0x02:  # not the end-of-stream frame
                self.items.put(message)
        self.items.put(None)  # the stream ended: with the server, or an error

    def next(self) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                item = self.items.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no event in {WAIT} s") from None
            if item is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the stream did not come back in {WAIT} s")
                time.sleep(0.2)
                self.open()  # after self.last: what came before is not sent again
                continue
            event = item.get("event")
            if event:
                self.last = int(event["sequence"])
                return event  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def subscription_resume(env: Env) -> Mapping[str, str]:
    namespace = env.namespace("subscription_resume")
    stream = Stream(env.http, namespace)
    try:
        before = curl(env.http, "CreateExecution", {"namespace": namespace, "flowId": "before"})
        received = [stream.next()]
        created = ask_restart(namespace)
        request_id = f"conformance-{uuid.uuid4()}"
        deadline = time.monotonic() + WAIT
        while True:  # the same request, same id, until the server is back
            try:
                after = curl(env.http, "CreateExecution",
                             {"namespace": namespace, "flowId": "after", "requestId": request_id})  # fmt: skip
                break
            except ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        expected = [*created, after["execution"]["id"]]
        while received[-1]["executionId"] != expected[-1]:
            received.append(stream.next())
        ids = [e["executionId"] for e in received]
        sequences = [int(e["sequence"]) for e in received]
        return {
            "before_restart": str(ids.count(before["execution"]["id"])),
            "after_restart": str(len(received) - 1),
            "missing": str(len(set(expected) - set(ids))),
            "duplicates": str(len(ids) - len(set(ids))),
            "in_order": str(ids[1:] == expected and sequences == sorted(sequences)).lower(),
            "reopened": str(stream.opens > 1).lower(),
        }
    finally:
        stream.close()


def permission_denied(env: Env) -> Mapping[str, str]:
    namespace = env.namespace("permission_denied")
    curl(env.auth_http, "CountExecutions", {"namespace": namespace}, env.reader_token)
    try:
        curl(env.auth_http, "CreateExecution", {"namespace": namespace, "flowId": "etl"},
             env.reader_token)  # fmt: skip
    except ConnectError as error:
        return {
            "read_allowed": "true",
            **refusal(error),
            "role_needed": error.metadata.get("role_needed", ""),
        }
    raise AssertionError("a reader created an execution")


SCENARIOS: dict[str, Observer] = {
    "lifecycle": lifecycle,
    "illegal_move": illegal_move,
    "request_id_retry": request_id_retry,
    "revision_conflict": revision_conflict,
    "pause_resume": pause_resume,
    "kill_cascade": kill_cascade,
    "subscription_resume": subscription_resume,
    "permission_denied": permission_denied,
}

if __name__ == "__main__":
    run(SCENARIOS, sys.argv[1:])
