"""Workers: claim task runs, run a handler on each, heartbeat, report the outcome.

    def count_words(job: Job) -> dict[str, int]:
        return {"words": len(str(job.execution.inputs["text"]).split())}

    with Client.connect(target) as client:
        Worker(client, count_words, worker_id="w1", namespace="tutorial").run()

A :class:`Worker` (blocking, a thread per running handler) or
:class:`AsyncWorker` (asyncio; the handler may be a coroutine function) loops:

1. **Claim** (ClaimTaskRuns) up to as many task runs as it has free slots
   (``concurrency``), waiting on the server up to ``wait`` for work, each with
   a lease of ``lease_duration``.
2. **Run** the handler on each claimed :class:`Job` while a background loop
   **heartbeats** every attempt held, in one call, every ``heartbeat_interval``
   (a third of the lease by default). A refused heartbeat (the lease expired,
   the attempt ended) sets ``job.lost``; a task run being killed sets
   ``job.killing``: a long handler should look at :meth:`Job.should_stop`.
3. **Report** the outcome on the attempt the claim opened: SUCCESS with the
   handler's return value as outputs (a mapping, or None), FAILED with the
   exception's type and text as the reason (the task run's retry policy
   decides what follows), KILLED when the task run was being killed. A lost
   attempt is not reported (the server would refuse it: its attempt ended).
   Each report carries a request id, so the client's retries apply it once.

:meth:`Worker.run` stops on SIGINT or SIGTERM (when called in the main
thread) or :meth:`Worker.stop`: it claims nothing more, lets the running
handlers finish and reports them, then returns. A worker killed outright
(SIGKILL) reports nothing: its leases expire and the server fails the attempts
(actor ``system``), retried per each task run's policy by another worker.

The decisions (what to claim, what a heartbeat's answer means, which report
an outcome makes) are :class:`_WorkerCore`'s, without I/O; the two classes
only drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format

from statehouse.client._enums import State
from statehouse.client._errors import FailedPreconditionError, StatehouseError
from statehouse.v1 import execution_pb2, execution_service_pb2

if TYPE_CHECKING:
    from statehouse.client._aio import AsyncClient
    from statehouse.client._client import Client

__all__ = ["AsyncWorker", "Job", "Outcome", "Worker"]

log = logging.getLogger("statehouse.worker")

#: The longest reason a report carries (the server's limit is 2,048 characters).
_MAX_REASON = 2000


@dataclasses.dataclass(eq=False)
class Job:
    """One claimed task run: what the handler works on."""

    #: The task run, RUNNING, with the attempt this worker holds last.
    task_run: execution_pb2.TaskRun
    #: Its execution (without its task runs): inputs, labels, flow.
    execution: execution_pb2.Execution
    #: The attempt number this worker holds (what its report names).
    attempt: int
    worker_id: str
    #: Set when the attempt is lost (its lease expired, or it ended): stop, it
    #: will not be reported.
    lost: threading.Event = dataclasses.field(default_factory=threading.Event)
    #: Set when the task run is being killed: stop, it is reported KILLED.
    killing: threading.Event = dataclasses.field(default_factory=threading.Event)

    @property
    def task_run_id(self) -> str:
        return self.task_run.id

    @property
    def inputs(self) -> Mapping[str, Any]:
        """The execution's inputs."""
        return json_format.MessageToDict(self.execution.inputs)

    def should_stop(self) -> bool:
        """True once the attempt is lost or being killed."""
        return self.lost.is_set() or self.killing.is_set()


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one job, given to ``on_outcome``."""

    job: Job
    #: SUCCESS, FAILED or KILLED as reported; None when the attempt was lost
    #: (nothing reported).
    state: State | None
    #: The report's response (its ``retry`` says whether the server retries).
    response: execution_service_pb2.TransitionTaskRunResponse | None = None
    #: The handler's exception (FAILED), or the error that refused the report.
    error: BaseException | None = None


Handler = Callable[[Job], Mapping[str, Any] | None]
AsyncHandler = Callable[[Job], Awaitable[Mapping[str, Any] | None] | Mapping[str, Any] | None]


def _seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class _WorkerCore:
    """What both workers decide, without I/O: the claim to send, the jobs
    held, what a heartbeat's answer means, which report an outcome makes."""

    def __init__(
        self,
        *,
        worker_id: str,
        namespace: str,
        flow_id: str,
        task_ids: tuple[str, ...],
        labels: Mapping[str, str] | None,
        concurrency: int,
        lease_duration: timedelta | float,
        heartbeat_interval: timedelta | float | None,
        wait: timedelta | float,
    ) -> None:
        if not worker_id:
            raise ValueError("a worker needs a worker_id")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.worker_id = worker_id
        self.filter: dict[str, Any] = {
            "namespace": namespace,
            "flow_id": flow_id,
            "task_ids": task_ids,
            "labels": dict(labels or {}),
        }
        self.concurrency = concurrency
        self.lease = _seconds(lease_duration)
        self.interval = (
            _seconds(heartbeat_interval) if heartbeat_interval is not None else self.lease / 3
        )
        self.wait = _seconds(wait)
        self.held: dict[tuple[str, int], Job] = {}

    def claim_wait(self, idle_timeout: float | None, idle_for: float) -> float | None:
        """How long the next claim may wait on the server for work; None: stop
        (nothing was claimed for ``idle_timeout`` with nothing running). With an
        idle timeout, no claim waits longer than it, also while jobs run: a
        claim sent while the last job was running must not keep the worker
        past the idle timeout once that job ends."""
        if idle_timeout is None:
            return self.wait
        if not self.held:
            if idle_for >= idle_timeout:
                return None
            return min(self.wait, idle_timeout - idle_for)
        return min(self.wait, idle_timeout)

    def claim_request(self, wait: float) -> dict[str, Any]:
        """The arguments of the next claim: as many task runs as free slots."""
        return {
            "worker_id": self.worker_id,
            **self.filter,
            "max_task_runs": self.free(),
            "lease_duration": self.lease,
            "wait": max(0.0, min(wait, 60.0)),
        }

    def free(self) -> int:
        return self.concurrency - len(self.held)

    def hold(self, claimed: execution_service_pb2.ClaimedTaskRun) -> Job:
        job = Job(claimed.task_run, claimed.execution, claimed.attempt, self.worker_id)
        self.held[(job.task_run_id, job.attempt)] = job
        return job

    def release(self, job: Job) -> None:
        self.held.pop((job.task_run_id, job.attempt), None)

    def beats(self) -> list[tuple[str, int]]:
        """The attempts to heartbeat: every one held and not lost."""
        return [key for key, job in self.held.items() if not job.lost.is_set()]

    def heard(self, items: list[tuple[str, int]], outcomes: list[Any]) -> None:
        """A heartbeat's answer: an item refused means the attempt is lost; a
        task run in KILLING means stop."""
        for key, outcome in zip(items, outcomes, strict=True):
            job = self.held.get(key)
            if job is None:
                continue
            if isinstance(outcome, StatehouseError):
                log.warning("attempt %s of %s lost: %s", key[1], key[0], outcome)
                job.lost.set()
            elif outcome.task_run_state == State.KILLING:
                job.killing.set()

    def report(
        self, job: Job, outputs: Mapping[str, Any] | None, error: BaseException | None
    ) -> dict[str, Any] | None:
        """The arguments of the report of a finished handler (None: report nothing)."""
        if job.lost.is_set():
            return None
        if job.killing.is_set():
            state, reason = State.KILLED, "stopped: the task run was killed"
        elif error is not None:
            state, reason = State.FAILED, f"{type(error).__name__}: {error}"[:_MAX_REASON]
        else:
            state, reason = State.SUCCESS, ""
        return {
            "task_run_id": job.task_run_id,
            "state": state,
            "reason": reason,
            "outputs": outputs if state is State.SUCCESS else None,
            "worker_id": self.worker_id,
            "attempt": job.attempt,
            "request_id": f"{job.task_run_id}-{job.attempt}-report",
        }


def _refused_as_lost(error: StatehouseError) -> bool:
    return isinstance(error, FailedPreconditionError) and error.reason in (
        "ATTEMPT_NOT_OPEN",
        "INVALID_TRANSITION",
    )


class _Common:
    _core: _WorkerCore
    on_outcome: Callable[[Outcome], None] | None

    def _outcome(self, outcome: Outcome) -> None:
        if self.on_outcome is not None:
            try:
                self.on_outcome(outcome)
            except Exception:
                log.exception("on_outcome failed for task run %s", outcome.job.task_run_id)

    @property
    def held(self) -> list[Job]:
        """The jobs running now."""
        return list(self._core.held.values())


class Worker(_Common):
    """A blocking worker: a thread per running handler, one heartbeat thread."""

    def __init__(
        self,
        client: Client,
        handler: Handler,
        *,
        worker_id: str,
        namespace: str = "",
        flow_id: str = "",
        task_ids: tuple[str, ...] = (),
        labels: Mapping[str, str] | None = None,
        concurrency: int = 1,
        lease_duration: timedelta | float = 30.0,
        heartbeat_interval: timedelta | float | None = None,
        wait: timedelta | float = 10.0,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.client = client
        self.handler = handler
        self.on_outcome = on_outcome
        self._core = _WorkerCore(
            worker_id=worker_id,
            namespace=namespace,
            flow_id=flow_id,
            task_ids=tuple(task_ids),
            labels=labels,
            concurrency=concurrency,
            lease_duration=lease_duration,
            heartbeat_interval=heartbeat_interval,
            wait=wait,
        )
        self._stop = threading.Event()
        #: Set once every handler has ended: the heartbeats stop.
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._slot = threading.Condition(self._lock)

    def stop(self) -> None:
        """Claim nothing more; :meth:`run` returns once the running handlers ended."""
        self._stop.set()
        with self._slot:
            self._slot.notify_all()

    def run(self, *, idle_timeout: float | None = None, max_jobs: int | None = None) -> int:
        """Claim and run task runs until stopped (a signal, :meth:`stop`), until
        nothing was claimed for ``idle_timeout`` seconds with nothing running,
        or after ``max_jobs``. Returns how many jobs it ran. With an
        ``idle_timeout``, a claim waits on the server at most that long (so that
        the worker stops on time), and free slots ask again that often."""
        started = 0
        idle_since = time.monotonic()
        beating = threading.Thread(
            target=self._heartbeats, name="statehouse-heartbeat", daemon=True
        )
        with self._signals(), ThreadPoolExecutor(self._core.concurrency) as pool:
            beating.start()
            try:
                while not self._stop.is_set() and (max_jobs is None or started < max_jobs):
                    with self._slot:
                        while self._core.free() == 0 and not self._stop.is_set():
                            self._slot.wait()
                    if self._stop.is_set():
                        break
                    wait = self._core.claim_wait(idle_timeout, time.monotonic() - idle_since)
                    if wait is None:
                        break
                    with self._lock:
                        request = self._core.claim_request(wait)
                    if max_jobs is not None:
                        request["max_task_runs"] = min(request["max_task_runs"], max_jobs - started)
                    claimed = self.client.claim_task_runs(**request)
                    if claimed or self._core.held:
                        idle_since = time.monotonic()
                    for item in claimed:
                        with self._lock:
                            job = self._core.hold(item)
                        started += 1
                        pool.submit(self._run_job, job)
            finally:
                pool.shutdown(wait=True)
                self._done.set()
                beating.join()
        return started

    def _run_job(self, job: Job) -> None:
        outputs: Mapping[str, Any] | None = None
        error: BaseException | None = None
        try:
            outputs = self.handler(job)
        except Exception as exc:
            error = exc
        with self._lock:
            report = self._core.report(job, outputs, error)
        outcome = Outcome(job, None, error=error)
        if report is not None:
            task_run_id = report.pop("task_run_id")
            try:
                response = self.client.transition_task_run(task_run_id, **report)
                outcome = Outcome(job, report["state"], response, error)
            except StatehouseError as refused:
                if not _refused_as_lost(refused):
                    log.exception("report of task run %s failed", task_run_id)
                outcome = Outcome(job, None, error=refused)
        with self._slot:
            self._core.release(job)
            self._slot.notify_all()
        self._outcome(outcome)

    def _heartbeats(self) -> None:
        while not self._done.wait(self._core.interval):
            with self._lock:
                items = self._core.beats()
            if not items:
                continue
            try:
                outcomes = self.client.heartbeat(items)
            except StatehouseError as error:
                log.warning("heartbeat failed: %s", error)
                continue
            with self._lock:
                self._core.heard(items, outcomes)

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in previous:
            signal.signal(s, lambda *_: self.stop())
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


class AsyncWorker(_Common):
    """An asyncio worker: a task per running handler (a plain function runs in
    a thread), one heartbeat task."""

    def __init__(
        self,
        client: AsyncClient,
        handler: AsyncHandler,
        *,
        worker_id: str,
        namespace: str = "",
        flow_id: str = "",
        task_ids: tuple[str, ...] = (),
        labels: Mapping[str, str] | None = None,
        concurrency: int = 1,
        lease_duration: timedelta | float = 30.0,
        heartbeat_interval: timedelta | float | None = None,
        wait: timedelta | float = 20.0,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.client = client
        self.handler = handler
        self.on_outcome = on_outcome
        self._core = _WorkerCore(
            worker_id=worker_id,
            namespace=namespace,
            flow_id=flow_id,
            task_ids=tuple(task_ids),
            labels=labels,
            concurrency=concurrency,
            lease_duration=lease_duration,
            heartbeat_interval=heartbeat_interval,
            wait=wait,
        )
        self._stop = asyncio.Event()
        self._slot = asyncio.Event()

    def stop(self) -> None:
        """Claim nothing more (a waiting claim is cancelled); :meth:`run`
        returns once the running handlers ended."""
        self._stop.set()
        self._slot.set()

    async def run(self, *, idle_timeout: float | None = None, max_jobs: int | None = None) -> int:
        """As :meth:`Worker.run`, on the running loop."""
        started = 0
        idle_since = time.monotonic()
        loop = asyncio.get_running_loop()
        jobs: set[asyncio.Task[None]] = set()
        beating = asyncio.create_task(self._heartbeats())
        signals = []
        for s in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(s, self.stop)
                signals.append(s)
        try:
            while not self._stop.is_set() and (max_jobs is None or started < max_jobs):
                if self._core.free() == 0:
                    self._slot.clear()
                    await self._slot.wait()
                    continue
                wait = self._core.claim_wait(idle_timeout, time.monotonic() - idle_since)
                if wait is None:
                    break
                request = self._core.claim_request(wait)
                if max_jobs is not None:
                    request["max_task_runs"] = min(request["max_task_runs"], max_jobs - started)
                claim = asyncio.ensure_future(self.client.claim_task_runs(**request))
                stopping = asyncio.ensure_future(self._stop.wait())
                await asyncio.wait({claim, stopping}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                if not claim.done():
                    # A claim cancelled as it commits leaves its task runs to
                    # their leases: they expire and are retried.
                    claim.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StatehouseError):
                        await claim
                    break
                claimed = claim.result()
                if claimed or self._core.held:
                    idle_since = time.monotonic()
                for item in claimed:
                    job = self._core.hold(item)
                    started += 1
                    task = asyncio.create_task(self._run_job(job))
                    jobs.add(task)
                    task.add_done_callback(jobs.discard)
        finally:
            if jobs:
                await asyncio.gather(*jobs, return_exceptions=True)
            self._stop.set()
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
            for s in signals:
                loop.remove_signal_handler(s)
        return started

    async def _run_job(self, job: Job) -> None:
        outputs: Mapping[str, Any] | None = None
        error: BaseException | None = None
        try:
            if inspect.iscoroutinefunction(self.handler):
                outputs = await self.handler(job)
            else:
                result = await asyncio.to_thread(self.handler, job)
                outputs = await result if inspect.isawaitable(result) else result
        except Exception as exc:
            error = exc
        report = self._core.report(job, outputs, error)
        outcome = Outcome(job, None, error=error)
        if report is not None:
            task_run_id = report.pop("task_run_id")
            try:
                response = await self.client.transition_task_run(task_run_id, **report)
                outcome = Outcome(job, report["state"], response, error)
            except StatehouseError as refused:
                if not _refused_as_lost(refused):
                    log.exception("report of task run %s failed", task_run_id)
                outcome = Outcome(job, None, error=refused)
        self._core.release(job)
        self._slot.set()
        self._outcome(outcome)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._core.interval)
            items = self._core.beats()
            if not items:
                continue
            try:
                outcomes = await self.client.heartbeat(items)
            except StatehouseError as error:
                log.warning("heartbeat failed: %s", error)
                continue
            self._core.heard(items, outcomes)
