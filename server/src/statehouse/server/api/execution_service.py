"""ExecutionService: protos in, commands run, protos out."""

from __future__ import annotations

from statehouse.v1 import execution_pb2, execution_service_pb2 as pb, execution_service_pb2_grpc

from .. import commands
from ..orchestration import InvalidArgument, NotFound, PauseAction, State
from ..orchestration.validation import (
    MAX_REASON,
    MAX_VALUE,
    MAX_WORKER_ID,
    Violations,
    check_payload_size,
)
from ..storage import ExecutionFilter, Tx
from . import convert
from ._base import Context, Servicer, rpc
from ._pages import PageTokens

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def _expected(request: object) -> int | None:
    has = request.HasField("expected_revision")  # type: ignore[attr-defined]
    return int(request.expected_revision) if has else None  # type: ignore[attr-defined]


class ExecutionServicer(Servicer, execution_service_pb2_grpc.ExecutionServiceServicer):
    """Creates executions and task runs and moves them through their states."""

    @rpc
    async def CreateExecution(
        self, request: pb.CreateExecutionRequest, context: Context
    ) -> pb.CreateExecutionResponse:
        v = Violations()
        v.namespace("namespace", request.namespace)
        v.identifier("flow_id", request.flow_id)
        if request.flow_revision < 0:
            v.add("flow_revision", "must not be negative")
        v.labels("labels", dict(request.labels))
        if request.parent_execution_id:
            v.required_id("parent_execution_id", request.parent_execution_id)
        v.request_id(request.request_id)
        v.raise_if_any()
        inputs = convert.struct_from_pb(request, "inputs")
        check_payload_size("inputs", inputs, self.limits.max_payload_bytes)
        spec = commands.NewExecution(
            namespace=request.namespace,
            flow_id=request.flow_id,
            flow_revision=request.flow_revision,
            labels=dict(request.labels),
            inputs=inputs,
            parent_execution_id=request.parent_execution_id,
        )

        def build(tx: Tx) -> pb.CreateExecutionResponse:
            execution = commands.create_execution(tx, spec)
            return pb.CreateExecutionResponse(execution=convert.execution_to_pb(execution))

        return await self.mutate("CreateExecution", request, pb.CreateExecutionResponse, build)

    @rpc
    async def GetExecution(
        self, request: pb.GetExecutionRequest, context: Context
    ) -> pb.GetExecutionResponse:
        v = Violations()
        v.required_id("execution_id", request.execution_id)
        v.raise_if_any()
        full = request.view != execution_pb2.EXECUTION_VIEW_BASIC

        def read(tx: Tx) -> pb.GetExecutionResponse:
            execution = (
                tx.get_execution_with_task_runs(request.execution_id)
                if full
                else tx.get_execution(request.execution_id)
            )
            if execution is None:
                raise NotFound("execution", request.execution_id)
            return pb.GetExecutionResponse(execution=convert.execution_to_pb(execution, full=full))

        return await self.store.read(read)

    @rpc
    async def ListExecutions(
        self, request: pb.ListExecutionsRequest, context: Context
    ) -> pb.ListExecutionsResponse:
        v = Violations()
        v.namespace("namespace", request.namespace, required=False)
        v.identifier("flow_id", request.flow_id, required=False)
        if request.page_size < 0:
            v.add("page_size", "must not be negative")
        v.raise_if_any()
        flt = ExecutionFilter(
            namespace=request.namespace,
            flow_id=request.flow_id,
            states=convert.states_from_pb(request.states, "states"),
            labels=tuple(sorted(request.labels.items())),
        )
        tokens = PageTokens("ListExecutions", flt)
        before = None
        if request.page_token:
            time_us, last_id = tokens.decode(request.page_token)
            before = (int(time_us), str(last_id))
        size = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        full = request.view == execution_pb2.EXECUTION_VIEW_FULL

        def read(tx: Tx) -> pb.ListExecutionsResponse:
            found = tx.list_executions(flt, limit=size + 1, before=before)
            page, more = found[:size], len(found) > size
            if full:
                task_runs = tx.list_task_runs_of([e.id for e in page])
                for execution in page:
                    execution.task_runs = task_runs[execution.id]
            response = pb.ListExecutionsResponse()
            for execution in page:
                convert.execution_to_pb(execution, response.executions.add(), full=full)
            if more:
                last = page[-1]
                response.next_page_token = tokens.encode([last.create_time_us, last.id])
            return response

        return await self.store.read(read)

    @rpc
    async def DeleteExecution(
        self, request: pb.DeleteExecutionRequest, context: Context
    ) -> pb.DeleteExecutionResponse:
        v = Violations()
        v.required_id("execution_id", request.execution_id)
        v.revision(_expected(request))
        v.raise_if_any()

        def work(tx: Tx) -> pb.DeleteExecutionResponse:
            commands.delete_execution(tx, request.execution_id, _expected(request))
            return pb.DeleteExecutionResponse()

        return await self.store.write(work)

    @rpc
    async def CreateTaskRun(
        self, request: pb.CreateTaskRunRequest, context: Context
    ) -> pb.CreateTaskRunResponse:
        v = Violations()
        v.required_id("execution_id", request.execution_id)
        v.identifier("task_id", request.task_id)
        if request.parent_task_run_id:
            v.required_id("parent_task_run_id", request.parent_task_run_id)
        v.bounded_text("value", request.value, MAX_VALUE)
        v.request_id(request.request_id)
        v.revision(_expected(request))
        v.raise_if_any()
        spec = commands.NewTaskRun(
            execution_id=request.execution_id,
            task_id=request.task_id,
            parent_task_run_id=request.parent_task_run_id,
            value=request.value,
            retry_policy=convert.retry_policy_from_pb(request),
        )

        def build(tx: Tx) -> pb.CreateTaskRunResponse:
            task_run, execution = commands.create_task_run(tx, spec, _expected(request))
            return pb.CreateTaskRunResponse(
                task_run=convert.task_run_to_pb(task_run), execution_revision=execution.revision
            )

        return await self.mutate("CreateTaskRun", request, pb.CreateTaskRunResponse, build)

    @rpc
    async def TransitionExecution(
        self, request: pb.TransitionExecutionRequest, context: Context
    ) -> pb.TransitionExecutionResponse:
        v = Violations()
        v.required_id("execution_id", request.execution_id)
        v.bounded_text("reason", request.reason, MAX_REASON)
        v.request_id(request.request_id)
        v.revision(_expected(request))
        v.raise_if_any()
        state = convert.state_from_pb(request.state, "state")
        outputs = convert.struct_from_pb(request, "outputs")
        check_payload_size("outputs", outputs, self.limits.max_payload_bytes)

        def build(tx: Tx) -> pb.TransitionExecutionResponse:
            execution = commands.transition_execution(
                tx,
                request.execution_id,
                state,
                reason=request.reason,
                outputs=outputs,
                expected_revision=_expected(request),
                kill_deadline_us=self.limits.kill_deadline_us,
            )
            return pb.TransitionExecutionResponse(execution=convert.execution_to_pb(execution))

        response = await self.mutate(
            "TransitionExecution", request, pb.TransitionExecutionResponse, build
        )
        if state is State.KILLING:
            self.on_timers_changed()
        return response

    @rpc
    async def TransitionTaskRun(
        self, request: pb.TransitionTaskRunRequest, context: Context
    ) -> pb.TransitionTaskRunResponse:
        v = Violations()
        v.required_id("task_run_id", request.task_run_id)
        v.bounded_text("reason", request.reason, MAX_REASON)
        v.bounded_text("worker_id", request.worker_id, MAX_WORKER_ID)
        v.request_id(request.request_id)
        v.revision(_expected(request))
        v.raise_if_any()
        state = convert.state_from_pb(request.state, "state")
        outputs = convert.struct_from_pb(request, "outputs")
        check_payload_size("outputs", outputs, self.limits.max_payload_bytes)

        def build(tx: Tx) -> pb.TransitionTaskRunResponse:
            task_run, execution, decision = commands.transition_task_run(
                tx,
                request.task_run_id,
                state,
                reason=request.reason,
                worker_id=request.worker_id,
                outputs=outputs,
                expected_revision=_expected(request),
            )
            response = pb.TransitionTaskRunResponse(
                task_run=convert.task_run_to_pb(task_run),
                execution_revision=execution.revision,
                execution_state=convert.state_to_pb(execution.state),
            )
            if decision is not None:
                response.retry.scheduled = decision.scheduled
                if decision.scheduled:
                    response.retry.next_attempt = decision.next_attempt
                    convert.time_to_pb(
                        decision.next_attempt_time_us, response.retry.next_attempt_time
                    )
            return response

        return await self.mutate("TransitionTaskRun", request, pb.TransitionTaskRunResponse, build)

    def _lifecycle_checks(self, request: object, *, task_run: bool = False) -> Violations:
        v = Violations()
        v.required_id("execution_id", request.execution_id)  # type: ignore[attr-defined]
        if task_run and request.task_run_id:  # type: ignore[attr-defined]
            v.required_id("task_run_id", request.task_run_id)  # type: ignore[attr-defined]
        v.bounded_text("reason", request.reason, MAX_REASON)  # type: ignore[attr-defined]
        v.request_id(request.request_id)  # type: ignore[attr-defined]
        v.revision(_expected(request))
        return v

    @rpc
    async def PauseExecution(
        self, request: pb.PauseExecutionRequest, context: Context
    ) -> pb.PauseExecutionResponse:
        v = self._lifecycle_checks(request, task_run=True)
        delay = convert.duration_us(request, "delay")
        timeout = convert.duration_us(request, "timeout")
        if delay is not None and timeout is not None:
            v.add("delay", "give a delay or a timeout, not both")
        if request.on_timeout and timeout is None:
            v.add("on_timeout", "applies to a timeout only")
        v.raise_if_any()
        action = _PAUSE_ACTIONS.get(request.on_timeout)
        if action is None:
            raise InvalidArgument([("on_timeout", f"{request.on_timeout} is not a known action")])

        def build(tx: Tx) -> pb.PauseExecutionResponse:
            execution, due = commands.pause_execution(
                tx,
                request.execution_id,
                task_run_id=request.task_run_id,
                reason=request.reason,
                delay_us=delay,
                timeout_us=timeout,
                action=action,
                expected_revision=_expected(request),
            )
            response = pb.PauseExecutionResponse(execution=convert.execution_to_pb(execution))
            if due is not None:
                convert.time_to_pb(due, response.resume_time)
            return response

        response = await self.mutate("PauseExecution", request, pb.PauseExecutionResponse, build)
        self.on_timers_changed()
        return response

    @rpc
    async def ResumeExecution(
        self, request: pb.ResumeExecutionRequest, context: Context
    ) -> pb.ResumeExecutionResponse:
        self._lifecycle_checks(request, task_run=True).raise_if_any()

        def build(tx: Tx) -> pb.ResumeExecutionResponse:
            execution = commands.resume_execution(
                tx,
                request.execution_id,
                task_run_id=request.task_run_id,
                reason=request.reason,
                expected_revision=_expected(request),
            )
            return pb.ResumeExecutionResponse(execution=convert.execution_to_pb(execution))

        return await self.mutate("ResumeExecution", request, pb.ResumeExecutionResponse, build)

    @rpc
    async def KillExecution(
        self, request: pb.KillExecutionRequest, context: Context
    ) -> pb.KillExecutionResponse:
        self._lifecycle_checks(request).raise_if_any()

        def build(tx: Tx) -> pb.KillExecutionResponse:
            execution, changed = commands.kill_execution(
                tx,
                request.execution_id,
                reason=request.reason,
                expected_revision=_expected(request),
                deadline_us=self.limits.kill_deadline_us,
            )
            return pb.KillExecutionResponse(
                execution=convert.execution_to_pb(execution), changed=changed
            )

        response = await self.mutate("KillExecution", request, pb.KillExecutionResponse, build)
        self.on_timers_changed()
        return response

    @rpc
    async def RestartExecution(
        self, request: pb.RestartExecutionRequest, context: Context
    ) -> pb.RestartExecutionResponse:
        self._lifecycle_checks(request).raise_if_any()

        def build(tx: Tx) -> pb.RestartExecutionResponse:
            execution = commands.restart_execution(
                tx,
                request.execution_id,
                reason=request.reason,
                expected_revision=_expected(request),
            )
            return pb.RestartExecutionResponse(execution=convert.execution_to_pb(execution))

        return await self.mutate("RestartExecution", request, pb.RestartExecutionResponse, build)

    @rpc
    async def CompleteExecution(
        self, request: pb.CompleteExecutionRequest, context: Context
    ) -> pb.CompleteExecutionResponse:
        self._lifecycle_checks(request).raise_if_any()
        state = convert.state_from_pb(request.state, "state") if request.state else None
        outputs = convert.struct_from_pb(request, "outputs")
        check_payload_size("outputs", outputs, self.limits.max_payload_bytes)

        def build(tx: Tx) -> pb.CompleteExecutionResponse:
            execution = commands.complete_execution(
                tx,
                request.execution_id,
                state=state,
                outputs=outputs,
                reason=request.reason,
                expected_revision=_expected(request),
            )
            return pb.CompleteExecutionResponse(execution=convert.execution_to_pb(execution))

        return await self.mutate("CompleteExecution", request, pb.CompleteExecutionResponse, build)


_PAUSE_ACTIONS = {
    pb.PAUSE_TIMEOUT_ACTION_UNSPECIFIED: PauseAction.RESUME,
    pb.PAUSE_TIMEOUT_ACTION_RESUME: PauseAction.RESUME,
    pb.PAUSE_TIMEOUT_ACTION_WARN: PauseAction.WARN,
    pb.PAUSE_TIMEOUT_ACTION_FAIL: PauseAction.FAIL,
    pb.PAUSE_TIMEOUT_ACTION_KILL: PauseAction.KILL,
}
