"""The tutorial's worker: claim task runs, run them, report outputs and metrics,
and let the server retry what fails.

    .venv/bin/python examples/tutorial/worker.py --fail-first-attempt

Built on the SDK's :class:`statehouse.client.Worker`: it claims the task runs
that are ready (CREATED, or RESTARTED once their retry is due), oldest first,
waiting on the server for work; each claim is RUNNING with a new attempt and a
lease that a background heartbeat renews while the task runs; the outcome is
reported on that attempt (SUCCESS with the outputs, FAILED with the error: the
server's retry policy decides what follows). A worker that dies stops
heartbeating: its lease expires, the server fails the attempt and another
worker claims the retry. Stop it with Ctrl-C (it finishes what it holds),
``--max-tasks N`` or ``--exit-when-idle SECONDS``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import time
from datetime import UTC

from statehouse.client import (
    Client,
    Job,
    Outcome,
    State,
    TaskRunsActiveError,
    Worker,
    counter,
    timer,
)


def count_words(text: str) -> dict[str, int]:
    """The task itself."""
    return {"words": len(text.split())}


def complete(client: Client, execution_id: str) -> None:
    """End the execution once none of its task runs is active."""
    try:
        execution = client.complete_execution(execution_id, request_id=f"{execution_id}-complete")
    except TaskRunsActiveError:
        return  # another task run of it still runs
    print(f"completed execution {execution_id}: {State(execution.state)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default=os.environ.get("STATEHOUSE_TARGET", "127.0.0.1:50051"))
    parser.add_argument("--namespace", default="tutorial")
    parser.add_argument("--worker-id", default=f"{socket.gethostname()}-{os.getpid()}")
    parser.add_argument("--fail-first-attempt", action="store_true", help="fail every attempt 1")
    parser.add_argument("--max-tasks", type=int, default=None, help="stop after N task runs")
    parser.add_argument(
        "--exit-when-idle", type=float, default=None, help="stop after SECONDS with nothing to do"
    )
    parser.add_argument("--lease", type=float, default=10, help="lease of each attempt, seconds")
    parser.add_argument("--sleep", type=float, default=0, help="seconds each task takes")
    args = parser.parse_args()

    with Client.connect(args.target) as client:

        def handle(job: Job) -> dict[str, int]:
            run = job.task_run
            print(f"claimed {run.id} ({run.task_id}, attempt {job.attempt})", flush=True)
            started = time.monotonic()
            # A long task looks at should_stop(): its lease lost, or a kill.
            while time.monotonic() - started < args.sleep and not job.should_stop():
                time.sleep(0.1)
            if args.fail_first_attempt and job.attempt == 1:
                raise RuntimeError("simulated failure")
            outputs = count_words(str(job.inputs["text"]))
            # Metrics belong to the attempt: record them while the task run is RUNNING.
            client.record_metrics(
                run.id,
                metrics=[
                    counter("words", outputs["words"], tags={"task": run.task_id}),
                    timer("duration", time.monotonic() - started),
                ],
                request_id=f"{run.id}-{job.attempt}-metrics",
            )
            return outputs

        ended = 0

        def on_outcome(outcome: Outcome) -> None:
            nonlocal ended
            job, response = outcome.job, outcome.response
            run_id = job.task_run_id
            if outcome.state is State.SUCCESS and response is not None:
                outputs = json.dumps(dict(response.task_run.outputs))
                print(f"succeeded {run_id} attempt {job.attempt}: {outputs}", flush=True)
            elif outcome.state is State.FAILED and response is not None:
                error = outcome.error
                if response.retry.scheduled:
                    when = response.retry.next_attempt_time.ToDatetime(tzinfo=UTC)
                    print(
                        f"failed {run_id} attempt {job.attempt}: {error}; the server retries it "
                        f"(attempt {response.retry.next_attempt}) at {when:%H:%M:%S}",
                        flush=True,
                    )
                    return
                print(f"failed {run_id} attempt {job.attempt}: {error}; no attempt left")
            else:
                print(f"lost {run_id} attempt {job.attempt}: {outcome.error}", flush=True)
                return
            ended += 1
            complete(client, job.execution.id)

        worker = Worker(
            client,
            handle,
            worker_id=args.worker_id,
            namespace=args.namespace,
            lease_duration=args.lease,
            on_outcome=on_outcome,
        )
        print(f"worker {args.worker_id} polling {args.target}, namespace {args.namespace}")
        worker.run(idle_timeout=args.exit_when_idle, max_jobs=args.max_tasks)
        if args.exit_when_idle is not None and not worker.held:
            print(f"nothing to do for {args.exit_when_idle:g} s: exiting")
        print(f"worker {args.worker_id}: {ended} task runs ended", flush=True)


if __name__ == "__main__":
    main()
