"""What the Python drivers share: the environment, the output protocol, the
restart handshake (tests/conformance/README.md)."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from statehouse.client import StatehouseError

#: How long a driver waits for any one event (a restart included).
WAIT = 30.0


class Env:
    """The servers and the run's prefix, from the variables the suite sets."""

    def __init__(self) -> None:
        get = os.environ.get
        self.target = get("STATEHOUSE_CONFORMANCE_TARGET", "")
        self.http = get("STATEHOUSE_CONFORMANCE_HTTP", "")
        self.auth_target = get("STATEHOUSE_CONFORMANCE_AUTH_TARGET", "")
        self.auth_http = get("STATEHOUSE_CONFORMANCE_AUTH_HTTP", "")
        self.reader_token = get("STATEHOUSE_CONFORMANCE_READER_TOKEN", "")
        self.run = get("STATEHOUSE_CONFORMANCE_RUN", "conformance")

    def namespace(self, scenario: str) -> str:
        """A namespace of this run and scenario alone."""
        return f"{self.run}.{scenario}".replace("_", "-")


def emit(line: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(line, sort_keys=True) + "\n")
    sys.stdout.flush()


def ask_restart(namespace: str) -> list[str]:
    """Ask the suite to restart the server; the ids of the executions it then
    created in ``namespace``."""
    emit({"restart": namespace})
    answer = sys.stdin.readline()
    if not answer:
        raise RuntimeError("the suite closed stdin instead of answering the restart")
    return answer.split()


def state_name(value: int) -> str:
    from statehouse.v1 import state_pb2

    return str(state_pb2.State.Name(value))


def refusal(error: StatehouseError, prefix: str = "") -> dict[str, str]:
    """The code and reason of a refused call, as the observations name them."""
    return {f"{prefix}code": error.code.name, f"{prefix}reason": error.reason or ""}


Observer = Callable[[Env], Mapping[str, str]]


def run(scenarios: Mapping[str, Observer], names: list[str]) -> None:
    """Each named scenario in turn, a line each; never raises."""
    env = Env()
    for name in names:
        observe = scenarios.get(name)
        if observe is None:
            emit({"scenario": name, "status": "fail", "why": "this driver has no such scenario"})
            continue
        try:
            observed = observe(env)
        except Exception as exc:
            traceback.print_exc()
            emit({"scenario": name, "status": "fail", "why": f"{type(exc).__name__}: {exc}"})
            continue
        emit({"scenario": name, "status": "ran", "observed": dict(observed)})
