"""ExecutionService: protos in, commands run, protos out.

One file of about 600 lines, kept whole: it is one mechanism, the servicer of
one service of the contract (``execution_service.proto``), one method per
RPC, each the same three steps (the request to domain arguments, a command or
a query, the response). A reader finds an RPC by its name; the batch RPC
(``TransitionTaskRuns``) reuses the single one's steps here. What is not per RPC lives elsewhere: idempotency and the
write path in ``_base.py``, admission in ``_admission.py``, conversions in
``convert.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from google.protobuf.message import Message
from google.rpc import status_pb2

from statehouse.v1 import execution_pb2, execution_service_pb2 as pb

from .. import clock, commands, limits, priority, queries
from ..events.work import WorkWaiters
from ..orchestration import (
    DeadlineAction,
    DomainError,
    Execution,
    PauseAction,
    TaskRun,
    UnreadableRecord,
)
from ..orchestration.deadlines import Deadline
from ..orchestration.filters import ExecutionFilter, TaskRunFilter
from ..orchestration.lifecycle import RetryDecision
from ..storage import ReadTx, Tx
from . import convert
from ._base import Call, Servicer, encoded
from .errors import status_of
from .validation import Payloads, validate

DEFAULT_PAGE_SIZE = 50

M = TypeVar("M", bound=Message)


def _expected(request: object) -> int | None:
    has = request.HasField("expected_revision")  # type: ignore[attr-defined]
    return int(request.expected_revision) if has else None  # type: ignore[attr-defined]


def _answer_items(
    done: list[Any],
    *,
    count: int,
    finishers: dict[int, Callable[..., pb.TransitionTaskRunResponse]],
    failed: dict[int, status_pb2.Status],
    method: str,
) -> pb.TransitionTaskRunsResponse:
    """A TransitionTaskRuns response, built where its write committed: each item's
    response, or its error's status as the single call would get it (``failed``:
    the items refused before the write)."""
    response = pb.TransitionTaskRunsResponse()
    outcomes = dict(zip(finishers, done, strict=True))
    for i in range(count):
        result = response.results.add()
        status = failed.get(i)
        if status is None:
            outcome = outcomes[i]
            try:
                if isinstance(outcome, Exception):
                    raise outcome
                finish = finishers[i]
                if isinstance(outcome, pb.TransitionTaskRunResponse):
                    result.response.CopyFrom(finish(outcome))  # stored (request_id)
                else:
                    finish(outcome, result.response)  # built in place
                continue
            except Exception as problem:  # that item's answer
                status = status_of(f"{method} item {i}", problem)
        result.error.code = status.code
        result.error.message = status.message
        result.error.details.extend(status.details)
    return response


def _delete_execution(
    tx: Tx, *, execution_id: str, expected: int | None
) -> pb.DeleteExecutionResponse:
    commands.delete_execution(tx, execution_id, expected)
    return pb.DeleteExecutionResponse()


def _with_execution(execution: Execution, *, response_type: type[M]) -> M:
    """A response whose one field is ``execution``."""
    response = response_type()
    convert.execution_to_pb(execution, response.execution)  # type: ignore[attr-defined]
    return response


def _created_task_run(done: tuple[TaskRun, Execution]) -> pb.CreateTaskRunResponse:
    task_run, execution = done
    response = pb.CreateTaskRunResponse(execution_revision=execution.revision)
    convert.task_run_to_pb(task_run, response.task_run)
    return response


def _paused(done: tuple[Execution, int | None]) -> pb.PauseExecutionResponse:
    execution, due = done
    response = pb.PauseExecutionResponse(execution=convert.execution_to_pb(execution))
    if due is not None:
        convert.time_to_pb(due, response.resume_time)
    return response


def _killed(done: tuple[Execution, bool]) -> pb.KillExecutionResponse:
    execution, changed = done
    return pb.KillExecutionResponse(execution=convert.execution_to_pb(execution), changed=changed)


class ExecutionServicer(Servicer):
    """Creates executions and task runs and moves them through their states.

    Requests arrive validated (api/validation.py): the handlers convert and act.
    """

    def __init__(self, *args: Any, work: WorkWaiters | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Claims waiting for work on this process (woken by the event hub).
        self.work = work if work is not None else WorkWaiters()

    async def CreateExecution(self, request: pb.CreateExecutionRequest, call: Call) -> bytes:
        spec = commands.NewExecution(
            namespace=request.namespace,
            flow_id=request.flow_id,
            flow_revision=request.flow_revision,
            labels=dict(sorted(request.labels.items())),
            inputs=call.payload("inputs"),
            parent_execution_id=request.parent_execution_id,
            max_duration=_deadline(request, "max_duration"),
            max_created_duration=_deadline(request, "max_created_duration"),
        )

        work = functools.partial(commands.create_execution, spec=spec, actor=call.actor)
        respond = functools.partial(_with_execution, response_type=pb.CreateExecutionResponse)
        return await self.mutate(call, request, pb.CreateExecutionResponse, work, respond)

    async def GetExecution(self, request: pb.GetExecutionRequest, call: Call) -> bytes:
        """Encoded on the storage thread: an execution may be large."""
        full = request.view != execution_pb2.EXECUTION_VIEW_BASIC

        def read(tx: ReadTx) -> bytes:
            execution = queries.get_execution(tx, request.execution_id, full=full)
            response = pb.GetExecutionResponse(
                execution=convert.execution_to_pb(execution, full=full)
            )
            return convert.encode(response)

        return await self.store.read(read)

    async def ListExecutions(self, request: pb.ListExecutionsRequest, call: Call) -> bytes:
        """Encoded on the storage thread: a page may be large."""
        flt = ExecutionFilter(
            namespace=request.namespace,
            flow_id=request.flow_id,
            states=convert.states_from_pb(request.states, "states"),
            labels=tuple(sorted(request.labels.items())),
            scope=call.principal.scope,
        )
        before = None
        if request.page_token:
            time_us, last_id = self.tokens.decode(
                "ListExecutions", flt, request.page_token, (int, str)
            )
            before = (time_us, last_id)
        size = min(request.page_size or DEFAULT_PAGE_SIZE, limits.MAX_PAGE_SIZE)
        full = request.view == execution_pb2.EXECUTION_VIEW_FULL

        def read(tx: ReadTx) -> bytes:
            found = queries.list_executions(tx, flt, size=size, before=before, full=full)
            page, more = found.items, found.more
            # Each execution is encoded once, and the page is assembled from the
            # pieces: the page's size is known as it grows, and no single encoding
            # holds the GIL for a whole page.
            encoded: list[bytes] = []
            unreadable: list[str] = []
            budget = limits.MAX_PAGE_BYTES
            last: tuple[int, str] | None = None
            for item in page:
                priority.step_aside()
                error = item if isinstance(item, UnreadableRecord) else None
                if isinstance(item, Execution):
                    try:
                        data = convert.encode(convert.execution_to_pb(item, full=full))
                    except UnreadableRecord as failed:
                        error = failed
                    else:
                        budget -= len(data)
                        if budget < 0 and encoded:
                            # The rest of the page comes with the next token.
                            more = True
                            break
                        encoded.append(data)
                if error is not None:
                    unreadable.append(error.execution_id)
                key = item.id if isinstance(item, Execution) else item.execution_id
                last = (item.create_time_us, key)
            tail = pb.ListExecutionsResponse(unreadable_execution_ids=unreadable)
            if more and last is not None:
                tail.next_page_token = self.tokens.encode("ListExecutions", flt, list(last))
            return convert.repeated_message_field(1, encoded) + convert.encode(tail)

        # A full or long page may be large: read and encode it on the heavy lane.
        return await self.store.read(read, heavy=full or size > DEFAULT_PAGE_SIZE)

    async def CountExecutions(
        self, request: pb.CountExecutionsRequest, call: Call
    ) -> pb.CountExecutionsResponse:
        """One GROUP BY in the database (storage/tx/executions.py), narrowed to the caller's namespaces."""
        flt = ExecutionFilter(
            namespace=request.namespace,
            flow_id=request.flow_id,
            labels=tuple(sorted(request.labels.items())),
            scope=call.principal.scope,
        )
        counts = await self.store.read(lambda tx: queries.count_executions(tx, flt))
        response = pb.CountExecutionsResponse(total=sum(counts.values()))
        for state, number in sorted(counts.items(), key=lambda c: convert.state_to_pb(c[0])):
            response.counts.add(state=convert.state_to_pb(state), count=number)
        return response

    async def DeleteExecution(
        self, request: pb.DeleteExecutionRequest, call: Call
    ) -> pb.DeleteExecutionResponse:
        work = functools.partial(
            _delete_execution, execution_id=request.execution_id, expected=_expected(request)
        )
        return await self.store.write(work, heavy=call.heavy)

    async def CreateTaskRun(self, request: pb.CreateTaskRunRequest, call: Call) -> bytes:
        spec = commands.NewTaskRun(
            execution_id=request.execution_id,
            task_id=request.task_id,
            parent_task_run_id=request.parent_task_run_id,
            value=request.value,
            retry_policy=convert.retry_policy_from_pb(request),
            attempt_timeout_us=convert.duration_us(request, "attempt_timeout"),
        )

        work = functools.partial(
            commands.create_task_run,
            spec=spec,
            expected_revision=_expected(request),
            actor=call.actor,
        )
        return await self.mutate(call, request, pb.CreateTaskRunResponse, work, _created_task_run)

    async def GetTaskRun(self, request: pb.GetTaskRunRequest, call: Call) -> bytes:
        """One read (storage/tx/executions.py), encoded on the storage thread: a task run's
        outputs and attempts may be large. The guard has refused a task run outside
        the caller's namespaces already; the query checks again on the row it read."""

        def read(tx: ReadTx) -> bytes:
            found = queries.get_task_run(tx, request.task_run_id, scope=call.principal.scope)
            response = pb.GetTaskRunResponse(
                task_run=convert.task_run_to_pb(found.task_run),
                execution_revision=found.execution_revision,
                execution_state=convert.state_to_pb(found.execution_state),
            )
            return convert.encode(response)

        return await self.store.read(read)

    async def TransitionExecution(
        self, request: pb.TransitionExecutionRequest, call: Call
    ) -> bytes:
        state = convert.state_from_pb(request.state, "state")
        outputs = call.payload("outputs")

        work = functools.partial(
            commands.transition_execution,
            execution_id=request.execution_id,
            state=state,
            reason=request.reason,
            outputs=outputs,
            expected_revision=_expected(request),
            actor=call.actor,
            kill_deadline_us=self.limits.kill_deadline_us,
        )
        respond = functools.partial(_with_execution, response_type=pb.TransitionExecutionResponse)
        return await self.mutate(call, request, pb.TransitionExecutionResponse, work, respond)

    async def TransitionTaskRun(self, request: pb.TransitionTaskRunRequest, call: Call) -> bytes:
        work, respond = self._transition_task_run(request, call)
        response = await self.mutate(
            call,
            request,
            pb.TransitionTaskRunResponse,
            work,
            respond,
            task_runs=(request.task_run_id,),
        )
        return response

    def _transition_task_run(
        self, request: pb.TransitionTaskRunRequest, call: Call, *, basic: bool = False
    ) -> tuple[
        Callable[[Tx], Moved],
        Callable[..., pb.TransitionTaskRunResponse],
    ]:
        """The work and the response of one TransitionTaskRun (or item of
        TransitionTaskRuns; ``basic``: its task run in TASK_RUN_VIEW_BASIC)."""
        state = convert.state_from_pb(request.state, "state")
        outputs = call.payload("outputs")
        lease_us = convert.duration_us(request, "lease_duration")

        work = functools.partial(
            commands.transition_task_run,
            task_run_id=request.task_run_id,
            state=state,
            reason=request.reason,
            worker_id=request.worker_id,
            outputs=outputs,
            expected_revision=_expected(request),
            actor=call.actor,
            attempt=request.attempt,
            lease_us=lease_us,
        )
        respond = functools.partial(_moved_response, basic=basic)
        return work, respond

    async def TransitionTaskRuns(self, request: pb.TransitionTaskRunsRequest, call: Call) -> bytes:
        """Each item as a TransitionTaskRun call of its own, all of them at once.

        The request was validated only for its count (validation.py): each item
        is validated, then authorized, alone, so that a bad item or one the
        caller may not reach fails by itself. The admitted items are written
        together as one write of parts, in request order, in one transaction
        (each part undone alone when it fails: ``Store.write_many``) so that a
        later item sees the effects of earlier ones. Every
        error, whatever its kind, becomes that item's status, as the single call
        would get it.
        """
        single = call.method.rsplit("/", 1)[0] + "/TransitionTaskRun"
        items = list(request.requests)
        basic = request.view == execution_pb2.TASK_RUN_VIEW_BASIC
        failed: dict[int, Exception] = {}
        max_payload = self.limits.max_payload_bytes

        def check_all() -> list[Payloads | None]:
            out: list[Payloads | None] = []
            for i, item in enumerate(items):
                priority.step_aside()
                try:
                    out.append(validate(item, max_payload_bytes=max_payload))
                except DomainError as error:
                    failed[i] = error
                    out.append(None)
            return out

        payloads = await self.store.run_heavy(check_all) if call.heavy else check_all()

        async def admit(i: int) -> None:
            try:
                await call.authorize(single, items[i])
            except Exception as error:  # that item's answer
                failed[i] = error

        if not call.principal.unrestricted:
            await asyncio.gather(*(admit(i) for i in range(len(items)) if i not in failed))
        # One lane for every item of the call, so that they run in request order:
        # all on the heavy lane when one item is large, else all group-committed.
        heavy = any(
            items[i].ByteSize() > limits.OFFLOAD_REQUEST_BYTES
            for i in range(len(items))
            if i not in failed
        )

        writes: list[tuple[Callable[[Tx], Any], Sequence[str]]] = []
        finishers: dict[int, Callable[..., pb.TransitionTaskRunResponse]] = {}
        for i in range(len(items)):
            if i in failed:
                continue
            item_call = call.item(single, payloads[i] or Payloads(), heavy)
            try:
                work, respond = self._transition_task_run(items[i], item_call, basic=basic)
            except DomainError as error:  # that item's answer
                failed[i] = error
                continue
            fn, finishers[i] = self.plan(
                item_call, items[i], pb.TransitionTaskRunResponse, work, respond
            )
            writes.append((fn, (items[i].task_run_id,)))

        items_answer = functools.partial(
            _answer_items,
            count=len(items),
            finishers=finishers,
            failed={i: status_of(f"{call.method} item {i}", e) for i, e in failed.items()},
            method=call.method,
        )
        answer = functools.partial(encoded, items_answer)
        return await self.store.write_many(writes, heavy=heavy, answer=answer)

    async def PauseExecution(self, request: pb.PauseExecutionRequest, call: Call) -> bytes:
        delay = convert.duration_us(request, "delay")
        timeout = convert.duration_us(request, "timeout")
        action = _PAUSE_ACTIONS[request.on_timeout]

        work = functools.partial(
            commands.pause_execution,
            execution_id=request.execution_id,
            task_run_id=request.task_run_id,
            reason=request.reason,
            delay_us=delay,
            timeout_us=timeout,
            action=action,
            expected_revision=_expected(request),
            actor=call.actor,
        )
        return await self.mutate(call, request, pb.PauseExecutionResponse, work, _paused)

    async def ResumeExecution(self, request: pb.ResumeExecutionRequest, call: Call) -> bytes:
        work = functools.partial(
            commands.resume_execution,
            execution_id=request.execution_id,
            task_run_id=request.task_run_id,
            reason=request.reason,
            expected_revision=_expected(request),
            actor=call.actor,
        )
        respond = functools.partial(_with_execution, response_type=pb.ResumeExecutionResponse)

        return await self.mutate(call, request, pb.ResumeExecutionResponse, work, respond)

    async def KillExecution(self, request: pb.KillExecutionRequest, call: Call) -> bytes:
        work = functools.partial(
            commands.kill_execution,
            execution_id=request.execution_id,
            reason=request.reason,
            expected_revision=_expected(request),
            actor=call.actor,
            deadline_us=self.limits.kill_deadline_us,
        )
        return await self.mutate(call, request, pb.KillExecutionResponse, work, _killed)

    async def RestartExecution(self, request: pb.RestartExecutionRequest, call: Call) -> bytes:
        work = functools.partial(
            commands.restart_execution,
            execution_id=request.execution_id,
            reason=request.reason,
            expected_revision=_expected(request),
            actor=call.actor,
        )
        respond = functools.partial(_with_execution, response_type=pb.RestartExecutionResponse)

        return await self.mutate(call, request, pb.RestartExecutionResponse, work, respond)

    async def CompleteExecution(self, request: pb.CompleteExecutionRequest, call: Call) -> bytes:
        state = convert.state_from_pb(request.state, "state") if request.state else None
        outputs = call.payload("outputs")

        work = functools.partial(
            commands.complete_execution,
            execution_id=request.execution_id,
            state=state,
            outputs=outputs,
            reason=request.reason,
            expected_revision=_expected(request),
            actor=call.actor,
        )
        respond = functools.partial(_with_execution, response_type=pb.CompleteExecutionResponse)

        return await self.mutate(call, request, pb.CompleteExecutionResponse, work, respond)

    # -- workers ---------------------------------------------------------------------

    async def ClaimTaskRuns(
        self, request: pb.ClaimTaskRunsRequest, call: Call
    ) -> pb.ClaimTaskRunsResponse:
        """Claim in a write transaction; with nothing ready and a wait, sleep until
        a commit may have made work ready (``events/work.py``), a retry falls due,
        or the bound, and claim again. Never a busy loop: each claim after the
        first follows a wake-up."""
        f = request.filter
        flt = TaskRunFilter(
            namespace=f.namespace,
            flow_id=f.flow_id,
            task_ids=tuple(sorted(set(f.task_ids))),
            labels=tuple(sorted(f.labels.items())),
            scope=call.principal.scope,
        )
        lease_us = convert.duration_us(request, "lease_duration")
        work = functools.partial(
            commands.claim_task_runs,
            flt=flt,
            limit=request.max_task_runs or 1,
            worker_id=request.worker_id,
            lease_us=lease_us,
            reason=request.reason or f"claimed by {request.worker_id}",
            actor=call.actor,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (convert.duration_us(request, "wait") or 0) / 1e6
        while True:
            with self.work.waiting(flt) as woken:
                result = await self.store.write(work)
                remaining = deadline - loop.time()
                if result.claimed or remaining <= 0:
                    break
                if result.next_ready_us is not None:
                    due = (result.next_ready_us - clock.now_us()) / 1e6
                    remaining = min(remaining, max(due, 0.0) + 0.001)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await woken
        response = pb.ClaimTaskRunsResponse()
        for claimed in result.claimed:
            item = response.task_runs.add(attempt=claimed.attempt)
            convert.task_run_to_pb(claimed.task_run, item.task_run)
            item.execution.CopyFrom(convert.execution_to_pb(claimed.execution, full=False))
            if claimed.lease_expire_time_us is not None:
                convert.time_to_pb(claimed.lease_expire_time_us, item.lease_expire_time)
        return response

    async def Heartbeat(self, request: pb.HeartbeatRequest, call: Call) -> pb.HeartbeatResponse:
        """Each item authorized as a TransitionTaskRun of its task run would be (a
        task run outside the caller's namespaces is NOT_FOUND, for that item
        alone), then all extended in one write transaction."""
        single = call.method.rsplit("/", 1)[0] + "/TransitionTaskRun"
        items = list(request.attempts)
        refused: dict[int, Exception] = {}

        async def admit(i: int) -> None:
            try:
                await call.authorize(single, items[i])
            except Exception as error:  # that item's answer
                refused[i] = error

        if not call.principal.unrestricted:
            await asyncio.gather(*(admit(i) for i in range(len(items))))
        admitted = [
            (item.task_run_id, item.attempt) for i, item in enumerate(items) if i not in refused
        ]
        beats = iter(
            await self.store.write(functools.partial(commands.heartbeat, items=admitted))
            if admitted
            else []
        )
        response = pb.HeartbeatResponse()
        for i, item in enumerate(items):
            result = response.results.add(task_run_id=item.task_run_id, attempt=item.attempt)
            problem = refused.get(i)
            if problem is None:
                beat = next(beats)
                if beat.task_run_state is not None:
                    result.task_run_state = convert.state_to_pb(beat.task_run_state)
                if beat.lease_expire_time_us is not None:
                    convert.time_to_pb(beat.lease_expire_time_us, result.lease_expire_time)
                problem = beat.error
            if problem is not None:
                status = status_of(f"{call.method} item {i}", problem)
                result.error.code = status.code
                result.error.message = status.message
                result.error.details.extend(status.details)
        return response


#: What a task run's move returns: the task run, its execution, a retry decision.
Moved = tuple[TaskRun, Execution, RetryDecision | None]

_PAUSE_ACTIONS = {
    pb.PAUSE_TIMEOUT_ACTION_UNSPECIFIED: PauseAction.RESUME,
    pb.PAUSE_TIMEOUT_ACTION_RESUME: PauseAction.RESUME,
    pb.PAUSE_TIMEOUT_ACTION_WARN: PauseAction.WARN,
    pb.PAUSE_TIMEOUT_ACTION_FAIL: PauseAction.FAIL,
    pb.PAUSE_TIMEOUT_ACTION_KILL: PauseAction.KILL,
}


_DEADLINE_ACTIONS = {
    pb.DEADLINE_ACTION_UNSPECIFIED: DeadlineAction.FAIL,
    pb.DEADLINE_ACTION_FAIL: DeadlineAction.FAIL,
    pb.DEADLINE_ACTION_KILL: DeadlineAction.KILL,
    pb.DEADLINE_ACTION_MARK: DeadlineAction.MARK,
}


def _deadline(request: Any, field: str) -> Deadline | None:
    """A (validated) ExecutionDeadline of the request, None when unset."""
    if not request.HasField(field):
        return None
    message = getattr(request, field)
    timeout_us = convert.duration_us(message, "timeout")
    assert timeout_us is not None
    return Deadline(timeout_us, _DEADLINE_ACTIONS[message.action])


def _moved_response(
    done: Moved, response: pb.TransitionTaskRunResponse | None = None, *, basic: bool = False
) -> pb.TransitionTaskRunResponse:
    """The response of a TransitionTaskRun, filled in ``response`` when given (a batch's result)."""
    task_run, execution, decision = done
    if response is None:
        response = pb.TransitionTaskRunResponse()
    response.execution_revision = execution.revision
    response.execution_state = convert.state_to_pb(execution.state)
    convert.task_run_to_pb(task_run, response.task_run, basic=basic)
    if decision is not None:
        response.retry.scheduled = decision.scheduled
        if decision.scheduled:
            response.retry.next_attempt = decision.next_attempt
            convert.time_to_pb(decision.next_attempt_time_us, response.retry.next_attempt_time)
    return response
