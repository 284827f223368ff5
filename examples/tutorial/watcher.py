"""The tutorial's watcher: print every state change of a namespace as it happens,
and resume where it stopped.

    .venv/bin/python examples/tutorial/watcher.py --cursor watcher.cursor

The subscription resumes by itself after a server restart (it reconnects and
asks for the events after the last one it received); ``--cursor FILE``
keeps that position across runs of the watcher, and ``--after N`` starts
after sequence N. Stop it with Ctrl-C or ``--exit-when-idle SECONDS``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from statehouse.client import (
    Client,
    ConnectInfo,
    Heartbeat,
    ReconnectInfo,
    State,
    StatehouseError,
)


def on_connect(info: ConnectInfo) -> None:
    word = "reconnected" if info.reconnected else "connected"
    print(f"{word}, resuming after sequence {info.last_sequence}", flush=True)


def on_reconnect(info: ReconnectInfo) -> None:
    limit = f" of {info.max_attempts}" if info.max_attempts else ""
    print(
        f"connection lost ({info.error}); retry {info.attempt}{limit} in {info.delay:.2f} s",
        flush=True,
    )


def describe(state: int) -> str:
    return "new" if state == State.UNSPECIFIED else str(State(state))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default=os.environ.get("STATEHOUSE_TARGET", "127.0.0.1:50051"))
    parser.add_argument("--namespace", default="tutorial")
    parser.add_argument("--after", type=int, default=0, help="start after this sequence")
    parser.add_argument("--cursor", type=Path, help="a file that keeps the last sequence")
    parser.add_argument(
        "--exit-when-idle", type=float, default=0, help="stop after SECONDS without a change"
    )
    args = parser.parse_args()

    after = args.after
    if args.cursor is not None and args.cursor.exists():
        after = int(args.cursor.read_text())
    with Client.connect(args.target) as client:
        subscription = client.subscribe(
            namespace=args.namespace,
            after_sequence=after,
            heartbeats=True,  # every second, even when nothing changes: to notice idleness
            heartbeat_interval=1.0,
            on_connect=on_connect,
            on_reconnect=on_reconnect,
        )
        last_change = time.monotonic()
        try:
            for item in subscription:
                if isinstance(item, Heartbeat):
                    idle = time.monotonic() - last_change
                    if args.exit_when_idle and idle >= args.exit_when_idle:
                        print(f"no change for {args.exit_when_idle:g} s: exiting")
                        break
                else:
                    last_change = time.monotonic()
                    attempt = f", attempt {item.attempt}" if item.attempt else ""
                    what = f"task run {item.task_run_id} ({item.task_id}{attempt})"
                    if not item.task_run_id:
                        what = f"execution {item.execution_id}"
                    print(
                        f"{item.sequence:>6}  {what}: "
                        f"{describe(item.previous_state)} -> {describe(item.state)}"
                        + (f" ({item.reason})" if item.reason else ""),
                        flush=True,
                    )
                if args.cursor is not None:
                    args.cursor.write_text(str(subscription.last_sequence))
        except StatehouseError as error:
            print(f"gave up: {error}")
            if error.last_sequence is not None:
                print(f"resume with --after {error.last_sequence}")
            return 1
        finally:
            subscription.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
