"""Create executions for the tutorial's worker: one execution per text, each with
one task run, ``count-words``, that the server retries when it fails.

    .venv/bin/python examples/tutorial/producer.py --count 3
"""

from __future__ import annotations

import argparse
import os

from statehouse.client import Client, TaskRetryPolicy

TEXTS = [
    "the quick brown fox",
    "jumps over the lazy dog",
    "statehouse keeps the record of every state change",
]

#: A failed attempt is tried again after 1 s, up to 3 attempts in all. The same
#: policy as a dict: {"type": "constant", "interval": "1s", "max_attempts": 3}.
RETRY = TaskRetryPolicy.constant(interval="1s", max_attempts=3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default=os.environ.get("STATEHOUSE_TARGET", "127.0.0.1:50051"))
    parser.add_argument("--namespace", default="tutorial")
    parser.add_argument("--count", type=int, default=3, help="how many executions to create")
    args = parser.parse_args()

    with Client.connect(args.target) as client:
        for i in range(args.count):
            text = TEXTS[i % len(TEXTS)]
            execution = client.create_execution(
                namespace=args.namespace, flow_id="word-count", inputs={"text": text}
            )
            run = client.create_task_run(
                execution_id=execution.id, task_id="count-words", retry_policy=RETRY
            ).task_run
            print(f"created execution {execution.id} with task run {run.id}: {text!r}")


if __name__ == "__main__":
    main()
