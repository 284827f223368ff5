"""The tutorial's worker: claim task runs, run them, report outputs and metrics,
and let the server retry what fails.

    .venv/bin/python examples/tutorial/worker.py --fail-first-attempt

A worker polls for task runs it may start: CREATED ones, and RESTARTED ones
(a retry) whose next attempt is due. It claims one by moving it to RUNNING
with its ``worker_id`` and the execution's ``expected_revision``: if another
worker changed the execution first (it claimed the task run), the server
refuses with REVISION_MISMATCH and this worker moves on. Stop it with Ctrl-C,
``--max-tasks N`` or ``--exit-when-idle SECONDS``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from statehouse.client import (
    Client,
    Execution,
    ExecutionView,
    FailedPreconditionError,
    RevisionMismatchError,
    State,
    TaskRun,
    TaskRunsActiveError,
    counter,
    timer,
)


def claimable(client: Client, namespace: str) -> Iterator[tuple[Execution, TaskRun]]:
    """Task runs this worker may start now, with their execution."""
    now = datetime.now(UTC)
    active = [State.CREATED, State.RUNNING]
    for execution in client.list_executions(
        namespace=namespace, states=active, view=ExecutionView.FULL
    ):
        for run in execution.task_runs:
            state = State(run.state)
            if state is State.CREATED:
                yield execution, run
            elif state is State.RESTARTED:  # a retry: start it once it is due
                due = run.next_attempt_time.ToDatetime(tzinfo=UTC)
                if due <= now:
                    yield execution, run


def claim(client: Client, execution: Execution, run: TaskRun, worker_id: str) -> TaskRun | None:
    """Move the task run to RUNNING, unless another worker got there first."""
    try:
        response = client.transition_task_run(
            run.id,
            state=State.RUNNING,
            worker_id=worker_id,
            expected_revision=execution.revision,
        )
    except RevisionMismatchError:
        return None  # the execution changed since we listed it: someone else claimed it
    except FailedPreconditionError:
        return None  # no longer startable (already running, or its retry is not due)
    return response.task_run


def count_words(text: str) -> dict[str, int]:
    """The task itself."""
    return {"words": len(text.split())}


def work_on(
    client: Client, execution: Execution, run: TaskRun, worker_id: str, fail_first: bool
) -> bool:
    """Run one claimed task run and report it; True when it reached its end."""
    attempt = run.attempts[-1].number
    print(f"claimed {run.id} ({run.task_id}, attempt {attempt})", flush=True)
    started = time.monotonic()
    try:
        if fail_first and attempt == 1:
            raise RuntimeError("simulated failure")
        outputs = count_words(str(execution.inputs["text"]))
    except Exception as error:
        failed = client.transition_task_run(
            run.id,
            state=State.FAILED,
            reason=str(error),
            worker_id=worker_id,
            request_id=f"{run.id}-{attempt}-failed",
        )
        if failed.retry.scheduled:
            when = failed.retry.next_attempt_time.ToDatetime(tzinfo=UTC)
            print(
                f"failed {run.id} attempt {attempt}: {error}; the server retries it "
                f"(attempt {failed.retry.next_attempt}) at {when:%H:%M:%S}",
                flush=True,
            )
            return False
        print(f"failed {run.id} attempt {attempt}: {error}; no attempt left", flush=True)
        complete(client, execution.id)
        return True
    # Metrics belong to the attempt: record them while the task run is RUNNING.
    client.record_metrics(
        run.id,
        metrics=[
            counter("words", outputs["words"], tags={"task": run.task_id}),
            timer("duration", time.monotonic() - started),
        ],
        request_id=f"{run.id}-{attempt}-metrics",
    )
    client.transition_task_run(
        run.id,
        state=State.SUCCESS,
        outputs=outputs,
        worker_id=worker_id,
        request_id=f"{run.id}-{attempt}-success",
    )
    print(f"succeeded {run.id} attempt {attempt}: {json.dumps(outputs)}", flush=True)
    complete(client, execution.id)
    return True


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
    parser.add_argument("--max-tasks", type=int, default=0, help="stop after N task runs ended")
    parser.add_argument(
        "--exit-when-idle", type=float, default=0, help="stop after SECONDS with nothing active"
    )
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between polls")
    args = parser.parse_args()

    done = 0
    idle_since = time.monotonic()
    with Client.connect(args.target) as client:
        print(f"worker {args.worker_id} polling {args.target}, namespace {args.namespace}")
        while not args.max_tasks or done < args.max_tasks:
            busy = False
            for execution, run in claimable(client, args.namespace):
                claimed = claim(client, execution, run, args.worker_id)
                if claimed is not None:
                    done += work_on(
                        client, execution, claimed, args.worker_id, args.fail_first_attempt
                    )
                    busy = True
                    break  # list again: the execution's revision has changed
            if busy:
                continue
            active = next(
                iter(
                    client.list_executions(
                        namespace=args.namespace, states=[State.CREATED, State.RUNNING], page_size=1
                    )
                ),
                None,
            )
            if active is not None:
                idle_since = time.monotonic()
            elif args.exit_when_idle and time.monotonic() - idle_since >= args.exit_when_idle:
                print(f"nothing to do for {args.exit_when_idle:g} s: exiting")
                break
            time.sleep(args.poll)
        print(f"worker {args.worker_id}: {done} task runs ended")


if __name__ == "__main__":
    main()
