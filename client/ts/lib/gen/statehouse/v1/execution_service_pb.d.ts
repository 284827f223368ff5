import type { GenEnum, GenFile, GenMessage, GenService } from "@bufbuild/protobuf/codegenv2";
import type { Any, Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import type { Execution, ExecutionView, RetryPolicy, TaskRun, TaskRunView } from "./execution_pb.js";
import type { State } from "./state_pb.js";
import type { JsonObject, Message } from "@bufbuild/protobuf";
/**
 * Describes the file statehouse/v1/execution_service.proto.
 */
export declare const file_statehouse_v1_execution_service: GenFile;
/**
 * CreateExecutionRequest asks for a new execution of a flow.
 *
 * @generated from message statehouse.v1.CreateExecutionRequest
 */
export type CreateExecutionRequest = Message<"statehouse.v1.CreateExecutionRequest"> & {
    /**
     * The namespace of the flow: lowercase letters, digits, '.', '_' and '-',
     * starting with a letter or digit, at most 150 characters. Required.
     *
     * @generated from field: string namespace = 1;
     */
    namespace: string;
    /**
     * The flow's identifier: letters, digits, '.', '_' and '-', starting with a
     * letter or digit, at most 100 characters. Required.
     *
     * @generated from field: string flow_id = 2;
     */
    flowId: string;
    /**
     * The flow's revision (0 when the caller does not track revisions).
     *
     * @generated from field: int32 flow_revision = 3;
     */
    flowRevision: number;
    /**
     * Labels: keys of letters, digits, '.', '_', '-' and '/', values of at most
     * 256 characters; at most 64 labels.
     *
     * @generated from field: map<string, string> labels = 4;
     */
    labels: {
        [key: string]: string;
    };
    /**
     * The inputs, bounded in size like outputs.
     *
     * @generated from field: google.protobuf.Struct inputs = 5;
     */
    inputs?: JsonObject | undefined;
    /**
     * The execution that started this one, if any. It must exist.
     *
     * @generated from field: string parent_execution_id = 6;
     */
    parentExecutionId: string;
    /**
     * A client-chosen key (at most 128 characters) that makes the call
     * idempotent: repeated with the same content it returns the first result;
     * with other content it fails with ALREADY_EXISTS (REQUEST_ID_REUSED).
     *
     * @generated from field: string request_id = 7;
     */
    requestId: string;
    /**
     * The longest the execution may take, from its creation to its end. When it
     * passes first, the server applies the deadline's action, with actor
     * `system` and a reason naming the deadline. Unset: no limit.
     *
     * @generated from field: statehouse.v1.ExecutionDeadline max_duration = 8;
     */
    maxDuration?: ExecutionDeadline | undefined;
    /**
     * The longest the execution may stay in CREATED (no task run started, not
     * moved by hand). When it passes while the execution is still CREATED, the
     * server applies the deadline's action. Unset: no limit.
     *
     * @generated from field: statehouse.v1.ExecutionDeadline max_created_duration = 9;
     */
    maxCreatedDuration?: ExecutionDeadline | undefined;
};
/**
 * Describes the message statehouse.v1.CreateExecutionRequest.
 * Use `create(CreateExecutionRequestSchema)` to create a new message.
 */
export declare const CreateExecutionRequestSchema: GenMessage<CreateExecutionRequest>;
/**
 * ExecutionDeadline bounds a span of an execution's life, on a durable timer:
 * it fires after a server restart, once, and never after the execution ended.
 *
 * @generated from message statehouse.v1.ExecutionDeadline
 */
export type ExecutionDeadline = Message<"statehouse.v1.ExecutionDeadline"> & {
    /**
     * How long the span may last (1 s to 10 years). Required.
     *
     * @generated from field: google.protobuf.Duration timeout = 1;
     */
    timeout?: Duration | undefined;
    /**
     * What happens when it passes (FAIL when unset).
     *
     * @generated from field: statehouse.v1.DeadlineAction action = 2;
     */
    action: DeadlineAction;
};
/**
 * Describes the message statehouse.v1.ExecutionDeadline.
 * Use `create(ExecutionDeadlineSchema)` to create a new message.
 */
export declare const ExecutionDeadlineSchema: GenMessage<ExecutionDeadline>;
/**
 * CreateExecutionResponse carries the created execution.
 *
 * @generated from message statehouse.v1.CreateExecutionResponse
 */
export type CreateExecutionResponse = Message<"statehouse.v1.CreateExecutionResponse"> & {
    /**
     * The execution, in CREATED.
     *
     * @generated from field: statehouse.v1.Execution execution = 1;
     */
    execution?: Execution | undefined;
};
/**
 * Describes the message statehouse.v1.CreateExecutionResponse.
 * Use `create(CreateExecutionResponseSchema)` to create a new message.
 */
export declare const CreateExecutionResponseSchema: GenMessage<CreateExecutionResponse>;
/**
 * GetExecutionRequest names an execution to read.
 *
 * @generated from message statehouse.v1.GetExecutionRequest
 */
export type GetExecutionRequest = Message<"statehouse.v1.GetExecutionRequest"> & {
    /**
     * The execution's identifier. Required.
     *
     * @generated from field: string execution_id = 1;
     */
    executionId: string;
    /**
     * How much to return: FULL (the default) or BASIC.
     *
     * @generated from field: statehouse.v1.ExecutionView view = 2;
     */
    view: ExecutionView;
};
/**
 * Describes the message statehouse.v1.GetExecutionRequest.
 * Use `create(GetExecutionRequestSchema)` to create a new message.
 */
export declare const GetExecutionRequestSchema: GenMessage<GetExecutionRequest>;
/**
 * GetExecutionResponse carries the execution.
 *
 * @generated from message statehouse.v1.GetExecutionResponse
 */
export type GetExecutionResponse = Message<"statehouse.v1.GetExecutionResponse"> & {
    /**
     * The execution.
     *
     * @generated from field: statehouse.v1.Execution execution = 1;
     */
    execution?: Execution | undefined;
};
/**
 * Describes the message statehouse.v1.GetExecutionResponse.
 * Use `create(GetExecutionResponseSchema)` to create a new message.
 */
export declare const GetExecutionResponseSchema: GenMessage<GetExecutionResponse>;
/**
 * ListExecutionsRequest filters and pages through executions.
 *
 * @generated from message statehouse.v1.ListExecutionsRequest
 */
export type ListExecutionsRequest = Message<"statehouse.v1.ListExecutionsRequest"> & {
    /**
     * Only executions in this namespace.
     *
     * @generated from field: string namespace = 1;
     */
    namespace: string;
    /**
     * Only executions of this flow.
     *
     * @generated from field: string flow_id = 2;
     */
    flowId: string;
    /**
     * Only executions in one of these states.
     *
     * @generated from field: repeated statehouse.v1.State states = 3;
     */
    states: State[];
    /**
     * Only executions carrying all of these labels with these values.
     *
     * @generated from field: map<string, string> labels = 4;
     */
    labels: {
        [key: string]: string;
    };
    /**
     * The largest number of executions to return (default 50, at most 1000).
     *
     * @generated from field: int32 page_size = 5;
     */
    pageSize: number;
    /**
     * The next_page_token of a previous response with the same filters.
     *
     * @generated from field: string page_token = 6;
     */
    pageToken: string;
    /**
     * How much to return: BASIC (the default) or FULL.
     *
     * @generated from field: statehouse.v1.ExecutionView view = 7;
     */
    view: ExecutionView;
};
/**
 * Describes the message statehouse.v1.ListExecutionsRequest.
 * Use `create(ListExecutionsRequestSchema)` to create a new message.
 */
export declare const ListExecutionsRequestSchema: GenMessage<ListExecutionsRequest>;
/**
 * ListExecutionsResponse carries one page of executions.
 *
 * @generated from message statehouse.v1.ListExecutionsResponse
 */
export type ListExecutionsResponse = Message<"statehouse.v1.ListExecutionsResponse"> & {
    /**
     * The executions, newest first.
     *
     * @generated from field: repeated statehouse.v1.Execution executions = 1;
     */
    executions: Execution[];
    /**
     * A token for the next page; empty when this is the last page. A page may
     * hold fewer than page_size executions when the next one would make the
     * response larger than the page limit (about 4 MiB): follow the token.
     *
     * @generated from field: string next_page_token = 2;
     */
    nextPageToken: string;
    /**
     * Executions of this page that matched but whose stored record cannot be
     * read (GetExecution answers DATA_LOSS, reason UNREADABLE_RECORD, for each);
     * they are left out of executions.
     *
     * @generated from field: repeated string unreadable_execution_ids = 3;
     */
    unreadableExecutionIds: string[];
};
/**
 * Describes the message statehouse.v1.ListExecutionsResponse.
 * Use `create(ListExecutionsResponseSchema)` to create a new message.
 */
export declare const ListExecutionsResponseSchema: GenMessage<ListExecutionsResponse>;
/**
 * CountExecutionsRequest selects the executions to count.
 *
 * @generated from message statehouse.v1.CountExecutionsRequest
 */
export type CountExecutionsRequest = Message<"statehouse.v1.CountExecutionsRequest"> & {
    /**
     * Only executions in this namespace; empty: every namespace (with
     * authentication on, every namespace the caller may read; a namespace
     * outside them is PERMISSION_DENIED).
     *
     * @generated from field: string namespace = 1;
     */
    namespace: string;
    /**
     * Only executions of this flow.
     *
     * @generated from field: string flow_id = 2;
     */
    flowId: string;
    /**
     * Only executions carrying all of these labels with these values (at most
     * 16, as for ListExecutions).
     *
     * @generated from field: map<string, string> labels = 3;
     */
    labels: {
        [key: string]: string;
    };
};
/**
 * Describes the message statehouse.v1.CountExecutionsRequest.
 * Use `create(CountExecutionsRequestSchema)` to create a new message.
 */
export declare const CountExecutionsRequestSchema: GenMessage<CountExecutionsRequest>;
/**
 * CountExecutionsResponse holds the number of matching executions per state.
 *
 * @generated from message statehouse.v1.CountExecutionsResponse
 */
export type CountExecutionsResponse = Message<"statehouse.v1.CountExecutionsResponse"> & {
    /**
     * One entry per state, in the order of the State enum (STATE_CREATED
     * first), every state present, with 0 where no execution is in it.
     *
     * @generated from field: repeated statehouse.v1.StateCount counts = 1;
     */
    counts: StateCount[];
    /**
     * The number of matching executions in all states (the sum of counts).
     *
     * @generated from field: int64 total = 2;
     */
    total: bigint;
};
/**
 * Describes the message statehouse.v1.CountExecutionsResponse.
 * Use `create(CountExecutionsResponseSchema)` to create a new message.
 */
export declare const CountExecutionsResponseSchema: GenMessage<CountExecutionsResponse>;
/**
 * StateCount is the number of executions in one state.
 *
 * @generated from message statehouse.v1.StateCount
 */
export type StateCount = Message<"statehouse.v1.StateCount"> & {
    /**
     * The state.
     *
     * @generated from field: statehouse.v1.State state = 1;
     */
    state: State;
    /**
     * How many matching executions are in it.
     *
     * @generated from field: int64 count = 2;
     */
    count: bigint;
};
/**
 * Describes the message statehouse.v1.StateCount.
 * Use `create(StateCountSchema)` to create a new message.
 */
export declare const StateCountSchema: GenMessage<StateCount>;
/**
 * DeleteExecutionRequest names a terminal execution to delete.
 *
 * @generated from message statehouse.v1.DeleteExecutionRequest
 */
export type DeleteExecutionRequest = Message<"statehouse.v1.DeleteExecutionRequest"> & {
    /**
     * The execution's identifier. Required.
     *
     * @generated from field: string execution_id = 1;
     */
    executionId: string;
    /**
     * When set, the call fails with ABORTED unless the execution's revision
     * equals it.
     *
     * @generated from field: optional int64 expected_revision = 2;
     */
    expectedRevision?: bigint | undefined;
};
/**
 * Describes the message statehouse.v1.DeleteExecutionRequest.
 * Use `create(DeleteExecutionRequestSchema)` to create a new message.
 */
export declare const DeleteExecutionRequestSchema: GenMessage<DeleteExecutionRequest>;
/**
 * DeleteExecutionResponse confirms a deletion.
 *
 * @generated from message statehouse.v1.DeleteExecutionResponse
 */
export type DeleteExecutionResponse = Message<"statehouse.v1.DeleteExecutionResponse"> & {};
/**
 * Describes the message statehouse.v1.DeleteExecutionResponse.
 * Use `create(DeleteExecutionResponseSchema)` to create a new message.
 */
export declare const DeleteExecutionResponseSchema: GenMessage<DeleteExecutionResponse>;
/**
 * CreateTaskRunRequest asks for a new task run within an execution.
 *
 * @generated from message statehouse.v1.CreateTaskRunRequest
 */
export type CreateTaskRunRequest = Message<"statehouse.v1.CreateTaskRunRequest"> & {
    /**
     * The execution to add the task run to; it must not be terminal. Required.
     *
     * @generated from field: string execution_id = 1;
     */
    executionId: string;
    /**
     * The task's identifier in the flow, with the syntax of a flow_id. Required.
     *
     * @generated from field: string task_id = 2;
     */
    taskId: string;
    /**
     * The task run that spawned this one, in the same execution, if any.
     *
     * @generated from field: string parent_task_run_id = 3;
     */
    parentTaskRunId: string;
    /**
     * The loop value, for a task run once per value (at most 1024 characters).
     *
     * @generated from field: string value = 4;
     */
    value: string;
    /**
     * The retry policy the server applies when an attempt fails.
     *
     * @generated from field: statehouse.v1.RetryPolicy retry_policy = 5;
     */
    retryPolicy?: RetryPolicy | undefined;
    /**
     * A client-chosen key that makes the call idempotent.
     *
     * @generated from field: string request_id = 6;
     */
    requestId: string;
    /**
     * When set, the call fails with ABORTED unless the execution's revision
     * equals it.
     *
     * @generated from field: optional int64 expected_revision = 7;
     */
    expectedRevision?: bigint | undefined;
    /**
     * The longest each attempt may run, from its start to its end (1 s to 10
     * years). An attempt still open when it passes ends as one whose lease was
     * lost: FAILED with actor `system` and a reason naming the timeout, and the
     * retry policy decides what follows. Unset: no limit.
     *
     * @generated from field: google.protobuf.Duration attempt_timeout = 8;
     */
    attemptTimeout?: Duration | undefined;
};
/**
 * Describes the message statehouse.v1.CreateTaskRunRequest.
 * Use `create(CreateTaskRunRequestSchema)` to create a new message.
 */
export declare const CreateTaskRunRequestSchema: GenMessage<CreateTaskRunRequest>;
/**
 * CreateTaskRunResponse carries the created task run.
 *
 * @generated from message statehouse.v1.CreateTaskRunResponse
 */
export type CreateTaskRunResponse = Message<"statehouse.v1.CreateTaskRunResponse"> & {
    /**
     * The task run, in CREATED.
     *
     * @generated from field: statehouse.v1.TaskRun task_run = 1;
     */
    taskRun?: TaskRun | undefined;
    /**
     * The execution's revision after the change.
     *
     * @generated from field: int64 execution_revision = 2;
     */
    executionRevision: bigint;
};
/**
 * Describes the message statehouse.v1.CreateTaskRunResponse.
 * Use `create(CreateTaskRunResponseSchema)` to create a new message.
 */
export declare const CreateTaskRunResponseSchema: GenMessage<CreateTaskRunResponse>;
/**
 * GetTaskRunRequest names a task run to read.
 *
 * @generated from message statehouse.v1.GetTaskRunRequest
 */
export type GetTaskRunRequest = Message<"statehouse.v1.GetTaskRunRequest"> & {
    /**
     * The task run's identifier. Required.
     *
     * @generated from field: string task_run_id = 1;
     */
    taskRunId: string;
};
/**
 * Describes the message statehouse.v1.GetTaskRunRequest.
 * Use `create(GetTaskRunRequestSchema)` to create a new message.
 */
export declare const GetTaskRunRequestSchema: GenMessage<GetTaskRunRequest>;
/**
 * GetTaskRunResponse carries the task run and where its execution stands.
 *
 * @generated from message statehouse.v1.GetTaskRunResponse
 */
export type GetTaskRunResponse = Message<"statehouse.v1.GetTaskRunResponse"> & {
    /**
     * The task run, with its attempts, its history and its retry policy.
     *
     * @generated from field: statehouse.v1.TaskRun task_run = 1;
     */
    taskRun?: TaskRun | undefined;
    /**
     * The execution's revision when the task run was read (what a change's
     * expected_revision compares with).
     *
     * @generated from field: int64 execution_revision = 2;
     */
    executionRevision: bigint;
    /**
     * The execution's state when the task run was read.
     *
     * @generated from field: statehouse.v1.State execution_state = 3;
     */
    executionState: State;
};
/**
 * Describes the message statehouse.v1.GetTaskRunResponse.
 * Use `create(GetTaskRunResponseSchema)` to create a new message.
 */
export declare const GetTaskRunResponseSchema: GenMessage<GetTaskRunResponse>;
/**
 * TransitionExecutionRequest moves an execution to a new state.
 *
 * @generated from message statehouse.v1.TransitionExecutionRequest
 */
export type TransitionExecutionRequest = Message<"statehouse.v1.TransitionExecutionRequest"> & {
    /**
     * The execution's identifier. Required.
     *
     * @generated from field: string execution_id = 1;
     */
    executionId: string;
    /**
     * The state to enter. Required.
     *
     * @generated from field: statehouse.v1.State state = 2;
     */
    state: State;
    /**
     * Why, recorded in the history and the event.
     *
     * @generated from field: string reason = 3;
     */
    reason: string;
    /**
     * The execution's outputs, accepted with a terminal state only.
     *
     * @generated from field: google.protobuf.Struct outputs = 4;
     */
    outputs?: JsonObject | undefined;
    /**
     * A client-chosen key that makes the call idempotent.
     *
     * @generated from field: string request_id = 5;
     */
    requestId: string;
    /**
     * When set, the call fails with ABORTED unless the execution's revision
     * equals it.
     *
     * @generated from field: optional int64 expected_revision = 6;
     */
    expectedRevision?: bigint | undefined;
};
/**
 * Describes the message statehouse.v1.TransitionExecutionRequest.
 * Use `create(TransitionExecutionRequestSchema)` to create a new message.
 */
export declare const TransitionExecutionRequestSchema: GenMessage<TransitionExecutionRequest>;
/**
 * TransitionExecutionResponse carries the execution after the change.
 *
 * @generated from message statehouse.v1.TransitionExecutionResponse
 */
export type TransitionExecutionResponse = Message<"statehouse.v1.TransitionExecutionResponse"> & {
    /**
     * The execution, with its task runs.
     *
     * @generated from field: statehouse.v1.Execution execution = 1;
     */
    execution?: Execution | undefined;
};
/**
 * Describes the message statehouse.v1.TransitionExecutionResponse.
 * Use `create(TransitionExecutionResponseSchema)` to create a new message.
 */
export declare const TransitionExecutionResponseSchema: GenMessage<TransitionExecutionResponse>;
/**
 * TransitionTaskRunRequest moves a task run to a new state.
 *
 * @generated from message statehouse.v1.TransitionTaskRunRequest
 */
export type TransitionTaskRunRequest = Message<"statehouse.v1.TransitionTaskRunRequest"> & {
    /**
     * The task run's identifier. Required.
     *
     * @generated from field: string task_run_id = 1;
     */
    taskRunId: string;
    /**
     * The state to enter. Required.
     *
     * @generated from field: statehouse.v1.State state = 2;
     */
    state: State;
    /**
     * Why, recorded in the histories and the event.
     *
     * @generated from field: string reason = 3;
     */
    reason: string;
    /**
     * The task run's outputs, accepted with a terminal state only.
     *
     * @generated from field: google.protobuf.Struct outputs = 4;
     */
    outputs?: JsonObject | undefined;
    /**
     * The worker reporting; recorded on the attempt a RUNNING transition opens.
     *
     * @generated from field: string worker_id = 5;
     */
    workerId: string;
    /**
     * A client-chosen key that makes the call idempotent.
     *
     * @generated from field: string request_id = 6;
     */
    requestId: string;
    /**
     * When set, the call fails with ABORTED unless the execution's revision
     * equals it.
     *
     * @generated from field: optional int64 expected_revision = 7;
     */
    expectedRevision?: bigint | undefined;
    /**
     * The attempt this report is for (0: not checked). A report on an attempt
     * that is no longer the task run's open attempt (it ended, for example
     * when its lease expired, and another may have started) is refused with
     * FAILED_PRECONDITION, reason ATTEMPT_NOT_OPEN. For a move to RUNNING that
     * opens an attempt, it must be 0 or the number of the attempt it opens.
     *
     * @generated from field: int32 attempt = 8;
     */
    attempt: number;
    /**
     * For a move to RUNNING that opens an attempt: the attempt's lease, as a
     * claim gives it (at least 1 second, at most 1 hour). Unset: no lease.
     *
     * @generated from field: google.protobuf.Duration lease_duration = 9;
     */
    leaseDuration?: Duration | undefined;
};
/**
 * Describes the message statehouse.v1.TransitionTaskRunRequest.
 * Use `create(TransitionTaskRunRequestSchema)` to create a new message.
 */
export declare const TransitionTaskRunRequestSchema: GenMessage<TransitionTaskRunRequest>;
/**
 * RetryDecision tells a worker that reported FAILED what the server decided.
 *
 * @generated from message statehouse.v1.RetryDecision
 */
export type RetryDecision = Message<"statehouse.v1.RetryDecision"> & {
    /**
     * True when the task run was moved to RESTARTED for another attempt.
     *
     * @generated from field: bool scheduled = 1;
     */
    scheduled: boolean;
    /**
     * The earliest time the next attempt may start.
     *
     * @generated from field: google.protobuf.Timestamp next_attempt_time = 2;
     */
    nextAttemptTime?: Timestamp | undefined;
    /**
     * The number of the next attempt.
     *
     * @generated from field: int32 next_attempt = 3;
     */
    nextAttempt: number;
};
/**
 * Describes the message statehouse.v1.RetryDecision.
 * Use `create(RetryDecisionSchema)` to create a new message.
 */
export declare const RetryDecisionSchema: GenMessage<RetryDecision>;
/**
 * TransitionTaskRunResponse carries the task run after the change.
 *
 * @generated from message statehouse.v1.TransitionTaskRunResponse
 */
export type TransitionTaskRunResponse = Message<"statehouse.v1.TransitionTaskRunResponse"> & {
    /**
     * The task run after the change.
     *
     * @generated from field: statehouse.v1.TaskRun task_run = 1;
     */
    taskRun?: TaskRun | undefined;
    /**
     * The execution's revision after the change.
     *
     * @generated from field: int64 execution_revision = 2;
     */
    executionRevision: bigint;
    /**
     * The execution's state after the change.
     *
     * @generated from field: statehouse.v1.State execution_state = 3;
     */
    executionState: State;
    /**
     * Set when the task run failed with a retry policy.
     *
     * @generated from field: statehouse.v1.RetryDecision retry = 4;
     */
    retry?: RetryDecision | undefined;
};
/**
 * Describes the message statehouse.v1.TransitionTaskRunResponse.
 * Use `create(TransitionTaskRunResponseSchema)` to create a new message.
 */
export declare const TransitionTaskRunResponseSchema: GenMessage<TransitionTaskRunResponse>;
/**
 * TransitionTaskRunsRequest moves several task runs, one item each.
 *
 * @generated from message statehouse.v1.TransitionTaskRunsRequest
 */
export type TransitionTaskRunsRequest = Message<"statehouse.v1.TransitionTaskRunsRequest"> & {
    /**
     * The transitions, applied in this order (at most 1,000). Each is what a
     * TransitionTaskRun call would send: its request_id makes that item
     * idempotent (the same key space as TransitionTaskRun's), its
     * expected_revision guards that item alone.
     *
     * @generated from field: repeated statehouse.v1.TransitionTaskRunRequest requests = 1;
     */
    requests: TransitionTaskRunRequest[];
    /**
     * How much of each task run the results carry: FULL (the default) or
     * BASIC. A repeated item (its request_id) gets the response stored by its
     * first call, as TransitionTaskRun would.
     *
     * @generated from field: statehouse.v1.TaskRunView view = 2;
     */
    view: TaskRunView;
};
/**
 * Describes the message statehouse.v1.TransitionTaskRunsRequest.
 * Use `create(TransitionTaskRunsRequestSchema)` to create a new message.
 */
export declare const TransitionTaskRunsRequestSchema: GenMessage<TransitionTaskRunsRequest>;
/**
 * TransitionTaskRunsResponse carries one result per item of the request.
 *
 * @generated from message statehouse.v1.TransitionTaskRunsResponse
 */
export type TransitionTaskRunsResponse = Message<"statehouse.v1.TransitionTaskRunsResponse"> & {
    /**
     * The results, in the order of the request's items.
     *
     * @generated from field: repeated statehouse.v1.TransitionTaskRunsResult results = 1;
     */
    results: TransitionTaskRunsResult[];
};
/**
 * Describes the message statehouse.v1.TransitionTaskRunsResponse.
 * Use `create(TransitionTaskRunsResponseSchema)` to create a new message.
 */
export declare const TransitionTaskRunsResponseSchema: GenMessage<TransitionTaskRunsResponse>;
/**
 * TransitionTaskRunsResult is the outcome of one item of a TransitionTaskRuns call.
 *
 * @generated from message statehouse.v1.TransitionTaskRunsResult
 */
export type TransitionTaskRunsResult = Message<"statehouse.v1.TransitionTaskRunsResult"> & {
    /**
     * Either what TransitionTaskRun would have returned, or its error.
     *
     * @generated from oneof statehouse.v1.TransitionTaskRunsResult.result
     */
    result: {
        /**
         * The item succeeded: the response TransitionTaskRun would return.
         *
         * @generated from field: statehouse.v1.TransitionTaskRunResponse response = 1;
         */
        value: TransitionTaskRunResponse;
        case: "response";
    } | {
        /**
         * The item failed, with the status TransitionTaskRun would fail with (the
         * same code, message and details: ErrorInfo with its reason, BadRequest
         * with field paths relative to the item, PreconditionFailure).
         *
         * @generated from field: statehouse.v1.ItemStatus error = 2;
         */
        value: ItemStatus;
        case: "error";
    } | {
        case: undefined;
        value?: undefined;
    };
};
/**
 * Describes the message statehouse.v1.TransitionTaskRunsResult.
 * Use `create(TransitionTaskRunsResultSchema)` to create a new message.
 */
export declare const TransitionTaskRunsResultSchema: GenMessage<TransitionTaskRunsResult>;
/**
 * ItemStatus is the error of one item of a batch. It has the same fields and
 * numbers as google.rpc.Status: decode its bytes as one (this contract does
 * not depend on the googleapis protos, so it carries its own copy).
 *
 * @generated from message statehouse.v1.ItemStatus
 */
export type ItemStatus = Message<"statehouse.v1.ItemStatus"> & {
    /**
     * The gRPC status code (google.rpc.Code), never OK.
     *
     * @generated from field: int32 code = 1;
     */
    code: number;
    /**
     * A developer-facing description of the error, in English.
     *
     * @generated from field: string message = 2;
     */
    message: string;
    /**
     * The error details: google.rpc.ErrorInfo (domain "statehouse" and the
     * reason), and google.rpc.BadRequest or google.rpc.PreconditionFailure
     * where they apply.
     *
     * @generated from field: repeated google.protobuf.Any details = 3;
     */
    details: Any[];
};
/**
 * Describes the message statehouse.v1.ItemStatus.
 * Use `create(ItemStatusSchema)` to create a new message.
 */
export declare const ItemStatusSchema: GenMessage<ItemStatus>;
/**
 * PauseExecutionRequest pauses a running execution or one of its task runs.
 *
 * @generated from message statehouse.v1.PauseExecutionRequest
 */
export type PauseExecutionRequest = Message<"statehouse.v1.PauseExecutionRequest"> & {
    /**
     * The execution's identifier. Required.
     *
     * @generated from field: string execution_id = 1;
     */
    executionId: string;
    /**
     * Pause only this task run of the execution (a pause task), if set.
     *
     * @generated from field: string task_run_id = 2;
     */
    taskRunId: string;
    /**
     * Resume by itself after this delay. Exclusive with timeout.
     *
     * @generated from field: google.protobuf.Duration delay = 3;
     */
    delay?: Duration | undefined;
    /**
     * Apply on_timeout after this long without a manual resume.
     *
     * @generated from field: google.protobuf.Duration timeout = 4;
     */
    timeout?: Duration | undefined;
    /**
     * What the timeout does (RESUME when unset).
     *
     * @generated from field: statehouse.v1.PauseTimeoutAction on_timeout = 5;
     */
    onTimeout: PauseTimeoutAction;
    /**
     * Why, recorded in the history and the event.
     *
     * @generated from field: string reason = 6;
     */
    reason: string;
    /**
     * A client-chosen key that makes the call idempotent.
     *
     * @generated from field: string request_id = 7;
     */
    requestId: string;
    /**
     * When set, the call fails with ABORTED unless the execution's revision
     * equals it.
     *
     * @generated from field: optional int64 expected_revision = 8;
     */
    expectedRevision?: bigint | undefined;
};
/**
 * Describes the message statehouse.v1.PauseExecutionRequest.
 * Use `create(PauseExecutionRequestSchema)` to create a new message.
 */
export declare const PauseExecutionRequestSchema: GenMessage<PauseExecutionRequest>;
/**
 * PauseExecutionResponse carries the paused execution.
 *
 * @generated from message statehouse.v1.PauseExecutionResponse
 */
export type PauseExecutionResponse = Message<"statehouse.v1.PauseExecutionResponse"> & {
    /**
     * The execution after the change.
     *
     * @generated from field: statehouse.v1.Execution execution = 1;
     */
    execution?: Execution | undefined;
    /**
     * When the pause's timer fires, if it has one.
     *
     * @generated from field: google.protobuf.Timestamp resume_time = 2;
     */
    resumeTime?: Timestamp | undefined;
};
/**
 * Describes the message statehouse.v1.PauseExecutionResponse.
 * Use `create(PauseExecutionResponseSchema)` to create a new message.
 */
export declare const PauseExecutionResponseSchema: GenMessage<PauseExecutionResponse>;
/**
 * ResumeExecutionRequest resumes a paused execution or task run.
 *
 * @generated from message statehouse.v1.ResumeExecutionRequest
 */
export type ResumeExecutionRequest = Message<"statehouse.v1.ResumeExecutionRequest"> & {
    /**
     * The execution's identifier. Required.
     *
     * @generated from field: string execution_id = 1;
     */
    executionId: string;
    /**
     * Resume only this paused task run, if set.
     *
     * @generated from field: string task_run_id = 2;
     */
    taskRunId: string;
    /**
     * Why, recorded in the history and the event.
     *
     * @generated from field: string reason = 3;
     */
    reason: string;
    /**
     * A client-chosen key that makes the call idempotent.
     *
     * @generated from field: string request_id = 4;
     */
    requestId: string;
    /**
     * When set, the call fails with ABORTED unless the execution's revision
     * equals it.
     *
     * @generated from field: optional int64 expected_revision = 5;
     */
    expectedRevision?: bigint | undefined;
};
/**
 * Describes the message statehouse.v1.ResumeExecutionRequest.
 * Use `create(ResumeExecutionRequestSchema)` to create a new message.
 */
export declare const ResumeExecutionRequestSchema: GenMessage<ResumeExecutionRequest>;
/**
 * ResumeExecutionResponse carries the resumed execution.
 *
 * @generated from message statehouse.v1.ResumeExecutionResponse
 */
export type ResumeExecutionResponse = Message<"statehouse.v1.ResumeExecutionResponse"> & {
    /**
     * The execution after the change.
     *
     * @generated from field: statehouse.v1.Execution execution = 1;
     */
    execution?: Execution | undefined;
};
/**
 * Describes the message statehouse.v1.ResumeExecutionResponse.
 * Use `create(ResumeExecutionResponseSchema)` to create a new message.
 */
export declare const ResumeExecutionResponseSchema: GenMessage<ResumeExecutionResponse>;
/**
 * KillExecutionRequest asks to kill an execution.
 *
 * @generated from message statehouse.v1.KillExecutionRequest
 */
export type KillExecutionRequest = Message<"statehouse.v1.KillExecutionRequest"> & {
    /**
     * The execution's identifier. Required.
     *
     * @generated from field: string execution_id = 1;
     */
    executionId: string;
    /**
     * Why, recorded in the histories and the events.
     *
     * @generated from field: string reason = 2;
     */
    reason: string;
    /**
     * A client-chosen key that makes the call idempotent.
     *
     * @generated from field: string request_id = 3;
     */
    requestId: string;
    /**
     * When set, the call fails with ABORTED unless the execution's revision
     * equals it.
     *
     * @generated from field: optional int64 expected_revision = 4;
     */
    expectedRevision?: bigint | undefined;
};
/**
 * Describes the message statehouse.v1.KillExecutionRequest.
 * Use `create(KillExecutionRequestSchema)` to create a new message.
 */
export declare const KillExecutionRequestSchema: GenMessage<KillExecutionRequest>;
/**
 * KillExecutionResponse carries the execution after the kill was recorded.
 *
 * @generated from message statehouse.v1.KillExecutionResponse
 */
export type KillExecutionResponse = Message<"statehouse.v1.KillExecutionResponse"> & {
    /**
     * The execution after the change (KILLING or KILLED).
     *
     * @generated from field: statehouse.v1.Execution execution = 1;
     */
    execution?: Execution | undefined;
    /**
     * False when the execution was already terminal or being killed, so nothing
     * changed.
     *
     * @generated from field: bool changed = 2;
     */
    changed: boolean;
};
/**
 * Describes the message statehouse.v1.KillExecutionResponse.
 * Use `create(KillExecutionResponseSchema)` to create a new message.
 */
export declare const KillExecutionResponseSchema: GenMessage<KillExecutionResponse>;
/**
 * RestartExecutionRequest restarts a FAILED or KILLED execution.
 *
 * @generated from message statehouse.v1.RestartExecutionRequest
 */
export type RestartExecutionRequest = Message<"statehouse.v1.RestartExecutionRequest"> & {
    /**
     * The execution's identifier. Required.
     *
     * @generated from field: string execution_id = 1;
     */
    executionId: string;
    /**
     * Why, recorded in the histories and the events.
     *
     * @generated from field: string reason = 2;
     */
    reason: string;
    /**
     * A client-chosen key that makes the call idempotent.
     *
     * @generated from field: string request_id = 3;
     */
    requestId: string;
    /**
     * When set, the call fails with ABORTED unless the execution's revision
     * equals it.
     *
     * @generated from field: optional int64 expected_revision = 4;
     */
    expectedRevision?: bigint | undefined;
};
/**
 * Describes the message statehouse.v1.RestartExecutionRequest.
 * Use `create(RestartExecutionRequestSchema)` to create a new message.
 */
export declare const RestartExecutionRequestSchema: GenMessage<RestartExecutionRequest>;
/**
 * RestartExecutionResponse carries the restarted execution.
 *
 * @generated from message statehouse.v1.RestartExecutionResponse
 */
export type RestartExecutionResponse = Message<"statehouse.v1.RestartExecutionResponse"> & {
    /**
     * The execution, in RESTARTED.
     *
     * @generated from field: statehouse.v1.Execution execution = 1;
     */
    execution?: Execution | undefined;
};
/**
 * Describes the message statehouse.v1.RestartExecutionResponse.
 * Use `create(RestartExecutionResponseSchema)` to create a new message.
 */
export declare const RestartExecutionResponseSchema: GenMessage<RestartExecutionResponse>;
/**
 * CompleteExecutionRequest ends an execution whose task runs are all done.
 *
 * @generated from message statehouse.v1.CompleteExecutionRequest
 */
export type CompleteExecutionRequest = Message<"statehouse.v1.CompleteExecutionRequest"> & {
    /**
     * The execution's identifier. Required.
     *
     * @generated from field: string execution_id = 1;
     */
    executionId: string;
    /**
     * An explicit terminal state; unset derives it from the task runs (KILLED
     * over FAILED over WARNING over SUCCESS).
     *
     * @generated from field: statehouse.v1.State state = 2;
     */
    state: State;
    /**
     * The execution's outputs.
     *
     * @generated from field: google.protobuf.Struct outputs = 3;
     */
    outputs?: JsonObject | undefined;
    /**
     * Why, recorded in the history and the event.
     *
     * @generated from field: string reason = 4;
     */
    reason: string;
    /**
     * A client-chosen key that makes the call idempotent.
     *
     * @generated from field: string request_id = 5;
     */
    requestId: string;
    /**
     * When set, the call fails with ABORTED unless the execution's revision
     * equals it.
     *
     * @generated from field: optional int64 expected_revision = 6;
     */
    expectedRevision?: bigint | undefined;
};
/**
 * Describes the message statehouse.v1.CompleteExecutionRequest.
 * Use `create(CompleteExecutionRequestSchema)` to create a new message.
 */
export declare const CompleteExecutionRequestSchema: GenMessage<CompleteExecutionRequest>;
/**
 * CompleteExecutionResponse carries the completed execution.
 *
 * @generated from message statehouse.v1.CompleteExecutionResponse
 */
export type CompleteExecutionResponse = Message<"statehouse.v1.CompleteExecutionResponse"> & {
    /**
     * The execution, terminal.
     *
     * @generated from field: statehouse.v1.Execution execution = 1;
     */
    execution?: Execution | undefined;
};
/**
 * Describes the message statehouse.v1.CompleteExecutionResponse.
 * Use `create(CompleteExecutionResponseSchema)` to create a new message.
 */
export declare const CompleteExecutionResponseSchema: GenMessage<CompleteExecutionResponse>;
/**
 * TaskRunFilter selects the task runs a worker takes. Every field set must
 * match; an unset field matches everything.
 *
 * @generated from message statehouse.v1.TaskRunFilter
 */
export type TaskRunFilter = Message<"statehouse.v1.TaskRunFilter"> & {
    /**
     * Only task runs of executions in this namespace.
     *
     * @generated from field: string namespace = 1;
     */
    namespace: string;
    /**
     * Only task runs of executions of this flow.
     *
     * @generated from field: string flow_id = 2;
     */
    flowId: string;
    /**
     * Only task runs of these tasks (at most 100).
     *
     * @generated from field: repeated string task_ids = 3;
     */
    taskIds: string[];
    /**
     * Only task runs of executions carrying all of these labels with these
     * values (at most 16).
     *
     * @generated from field: map<string, string> labels = 4;
     */
    labels: {
        [key: string]: string;
    };
};
/**
 * Describes the message statehouse.v1.TaskRunFilter.
 * Use `create(TaskRunFilterSchema)` to create a new message.
 */
export declare const TaskRunFilterSchema: GenMessage<TaskRunFilter>;
/**
 * ClaimTaskRunsRequest asks for ready task runs for one worker.
 *
 * @generated from message statehouse.v1.ClaimTaskRunsRequest
 */
export type ClaimTaskRunsRequest = Message<"statehouse.v1.ClaimTaskRunsRequest"> & {
    /**
     * Which task runs the worker takes. With authentication on, a claim without
     * a namespace takes task runs of the namespaces the caller may write only.
     *
     * @generated from field: statehouse.v1.TaskRunFilter filter = 1;
     */
    filter?: TaskRunFilter | undefined;
    /**
     * The largest number of task runs to claim (default 1, at most 100).
     *
     * @generated from field: int32 max_task_runs = 2;
     */
    maxTaskRuns: number;
    /**
     * The worker claiming, recorded on each attempt opened. Required.
     *
     * @generated from field: string worker_id = 3;
     */
    workerId: string;
    /**
     * The lease of each attempt opened: the worker must report or heartbeat
     * within it, or the attempt ends FAILED (its retry policy then decides, as
     * for a reported failure). At least 1 second, at most 1 hour. Unset: no
     * lease.
     *
     * @generated from field: google.protobuf.Duration lease_duration = 4;
     */
    leaseDuration?: Duration | undefined;
    /**
     * How long to wait for work when none is ready (at most 60 seconds; unset
     * or zero: answer at once). A client's deadline should exceed it.
     *
     * @generated from field: google.protobuf.Duration wait = 5;
     */
    wait?: Duration | undefined;
    /**
     * Why, recorded in the histories and the events (default "claimed by
     * <worker_id>").
     *
     * @generated from field: string reason = 6;
     */
    reason: string;
};
/**
 * Describes the message statehouse.v1.ClaimTaskRunsRequest.
 * Use `create(ClaimTaskRunsRequestSchema)` to create a new message.
 */
export declare const ClaimTaskRunsRequestSchema: GenMessage<ClaimTaskRunsRequest>;
/**
 * ClaimedTaskRun is one task run a claim started.
 *
 * @generated from message statehouse.v1.ClaimedTaskRun
 */
export type ClaimedTaskRun = Message<"statehouse.v1.ClaimedTaskRun"> & {
    /**
     * The task run, in RUNNING, with the attempt the claim opened last.
     *
     * @generated from field: statehouse.v1.TaskRun task_run = 1;
     */
    taskRun?: TaskRun | undefined;
    /**
     * The execution it belongs to, without its task runs (BASIC view): its
     * namespace, flow, labels, inputs and revision after the claim.
     *
     * @generated from field: statehouse.v1.Execution execution = 2;
     */
    execution?: Execution | undefined;
    /**
     * The number of the attempt the claim opened: what the worker names in its
     * reports (TransitionTaskRunRequest.attempt) and heartbeats.
     *
     * @generated from field: int32 attempt = 3;
     */
    attempt: number;
    /**
     * When the attempt's lease expires unless extended; unset without a lease.
     *
     * @generated from field: google.protobuf.Timestamp lease_expire_time = 4;
     */
    leaseExpireTime?: Timestamp | undefined;
};
/**
 * Describes the message statehouse.v1.ClaimedTaskRun.
 * Use `create(ClaimedTaskRunSchema)` to create a new message.
 */
export declare const ClaimedTaskRunSchema: GenMessage<ClaimedTaskRun>;
/**
 * ClaimTaskRunsResponse carries what was claimed, oldest ready first.
 *
 * @generated from message statehouse.v1.ClaimTaskRunsResponse
 */
export type ClaimTaskRunsResponse = Message<"statehouse.v1.ClaimTaskRunsResponse"> & {
    /**
     * The task runs claimed; empty when none was ready within wait.
     *
     * @generated from field: repeated statehouse.v1.ClaimedTaskRun task_runs = 1;
     */
    taskRuns: ClaimedTaskRun[];
};
/**
 * Describes the message statehouse.v1.ClaimTaskRunsResponse.
 * Use `create(ClaimTaskRunsResponseSchema)` to create a new message.
 */
export declare const ClaimTaskRunsResponseSchema: GenMessage<ClaimTaskRunsResponse>;
/**
 * HeartbeatRequest extends the leases of the attempts a worker holds.
 *
 * @generated from message statehouse.v1.HeartbeatRequest
 */
export type HeartbeatRequest = Message<"statehouse.v1.HeartbeatRequest"> & {
    /**
     * The attempts, at most 1,000, each extended on its own.
     *
     * @generated from field: repeated statehouse.v1.HeartbeatItem attempts = 1;
     */
    attempts: HeartbeatItem[];
};
/**
 * Describes the message statehouse.v1.HeartbeatRequest.
 * Use `create(HeartbeatRequestSchema)` to create a new message.
 */
export declare const HeartbeatRequestSchema: GenMessage<HeartbeatRequest>;
/**
 * HeartbeatItem names one attempt whose lease to extend.
 *
 * @generated from message statehouse.v1.HeartbeatItem
 */
export type HeartbeatItem = Message<"statehouse.v1.HeartbeatItem"> & {
    /**
     * The task run's identifier. Required.
     *
     * @generated from field: string task_run_id = 1;
     */
    taskRunId: string;
    /**
     * The attempt's number, as the claim gave it. Required.
     *
     * @generated from field: int32 attempt = 2;
     */
    attempt: number;
};
/**
 * Describes the message statehouse.v1.HeartbeatItem.
 * Use `create(HeartbeatItemSchema)` to create a new message.
 */
export declare const HeartbeatItemSchema: GenMessage<HeartbeatItem>;
/**
 * HeartbeatResult is the outcome of one item of a Heartbeat call.
 *
 * @generated from message statehouse.v1.HeartbeatResult
 */
export type HeartbeatResult = Message<"statehouse.v1.HeartbeatResult"> & {
    /**
     * The task run's identifier, as in the item.
     *
     * @generated from field: string task_run_id = 1;
     */
    taskRunId: string;
    /**
     * The attempt's number, as in the item.
     *
     * @generated from field: int32 attempt = 2;
     */
    attempt: number;
    /**
     * The lease's new expiry (now plus the attempt's lease duration); unset
     * when the item was refused.
     *
     * @generated from field: google.protobuf.Timestamp lease_expire_time = 3;
     */
    leaseExpireTime?: Timestamp | undefined;
    /**
     * The task run's state: KILLING tells the worker to stop and report KILLED.
     *
     * @generated from field: statehouse.v1.State task_run_state = 4;
     */
    taskRunState: State;
    /**
     * Set when the item was refused, with the status it was refused with
     * (FAILED_PRECONDITION with reason ATTEMPT_NOT_OPEN, NO_LEASE or
     * LEASE_EXPIRED; NOT_FOUND for a task run that does not exist or that the
     * caller may not write).
     *
     * @generated from field: statehouse.v1.ItemStatus error = 5;
     */
    error?: ItemStatus | undefined;
};
/**
 * Describes the message statehouse.v1.HeartbeatResult.
 * Use `create(HeartbeatResultSchema)` to create a new message.
 */
export declare const HeartbeatResultSchema: GenMessage<HeartbeatResult>;
/**
 * HeartbeatResponse carries one result per item of the request.
 *
 * @generated from message statehouse.v1.HeartbeatResponse
 */
export type HeartbeatResponse = Message<"statehouse.v1.HeartbeatResponse"> & {
    /**
     * The results, in the order of the request's items.
     *
     * @generated from field: repeated statehouse.v1.HeartbeatResult results = 1;
     */
    results: HeartbeatResult[];
};
/**
 * Describes the message statehouse.v1.HeartbeatResponse.
 * Use `create(HeartbeatResponseSchema)` to create a new message.
 */
export declare const HeartbeatResponseSchema: GenMessage<HeartbeatResponse>;
/**
 * DeadlineAction is what the server does when an execution's deadline passes.
 *
 * @generated from enum statehouse.v1.DeadlineAction
 */
export declare enum DeadlineAction {
    /**
     * The default: FAIL.
     *
     * @generated from enum value: DEADLINE_ACTION_UNSPECIFIED = 0;
     */
    UNSPECIFIED = 0,
    /**
     * End the execution FAILED: its active task runs end FAILED (KILLED where
     * the transition table allows nothing else); a late report of their
     * attempts is refused (ATTEMPT_NOT_OPEN).
     *
     * @generated from enum value: DEADLINE_ACTION_FAIL = 1;
     */
    FAIL = 1,
    /**
     * Kill the execution, as KillExecution does: task runs not running end
     * KILLED, running ones go KILLING until reported or the kill deadline.
     *
     * @generated from enum value: DEADLINE_ACTION_KILL = 2;
     */
    KILL = 2,
    /**
     * Keep going: the execution gets the label `deadline-missed/<deadline>`
     * (`deadline-missed/max_duration` or `deadline-missed/max_created_duration`)
     * whose value is the deadline's timeout in seconds, for example `3600s`.
     *
     * @generated from enum value: DEADLINE_ACTION_MARK = 3;
     */
    MARK = 3
}
/**
 * Describes the enum statehouse.v1.DeadlineAction.
 */
export declare const DeadlineActionSchema: GenEnum<DeadlineAction>;
/**
 * PauseTimeoutAction is what happens when a pause's timeout expires.
 *
 * @generated from enum statehouse.v1.PauseTimeoutAction
 */
export declare enum PauseTimeoutAction {
    /**
     * The default: RESUME.
     *
     * @generated from enum value: PAUSE_TIMEOUT_ACTION_UNSPECIFIED = 0;
     */
    UNSPECIFIED = 0,
    /**
     * Resume as if resumed by hand.
     *
     * @generated from enum value: PAUSE_TIMEOUT_ACTION_RESUME = 1;
     */
    RESUME = 1,
    /**
     * End in WARNING.
     *
     * @generated from enum value: PAUSE_TIMEOUT_ACTION_WARN = 2;
     */
    WARN = 2,
    /**
     * End in FAILED.
     *
     * @generated from enum value: PAUSE_TIMEOUT_ACTION_FAIL = 3;
     */
    FAIL = 3,
    /**
     * Kill.
     *
     * @generated from enum value: PAUSE_TIMEOUT_ACTION_KILL = 4;
     */
    KILL = 4
}
/**
 * Describes the enum statehouse.v1.PauseTimeoutAction.
 */
export declare const PauseTimeoutActionSchema: GenEnum<PauseTimeoutAction>;
/**
 * ExecutionService creates executions and task runs and moves them through
 * their states. Every change is checked against the state machine, stored
 * durably with its event, and only then acknowledged.
 *
 * @generated from service statehouse.v1.ExecutionService
 */
export declare const ExecutionService: GenService<{
    /**
     * Creates an execution in CREATED. Idempotent by request_id.
     *
     * @generated from rpc statehouse.v1.ExecutionService.CreateExecution
     */
    createExecution: {
        methodKind: "unary";
        input: typeof CreateExecutionRequestSchema;
        output: typeof CreateExecutionResponseSchema;
    };
    /**
     * Returns one execution, by default with its task runs.
     *
     * @generated from rpc statehouse.v1.ExecutionService.GetExecution
     */
    getExecution: {
        methodKind: "unary";
        input: typeof GetExecutionRequestSchema;
        output: typeof GetExecutionResponseSchema;
    };
    /**
     * Lists executions, newest first, with filters and page tokens.
     *
     * @generated from rpc statehouse.v1.ExecutionService.ListExecutions
     */
    listExecutions: {
        methodKind: "unary";
        input: typeof ListExecutionsRequestSchema;
        output: typeof ListExecutionsResponseSchema;
    };
    /**
     * Counts executions by state, with ListExecutions' filters (namespace, flow,
     * labels), in one query: every state is listed, with 0 where none is.
     *
     * @generated from rpc statehouse.v1.ExecutionService.CountExecutions
     */
    countExecutions: {
        methodKind: "unary";
        input: typeof CountExecutionsRequestSchema;
        output: typeof CountExecutionsResponseSchema;
    };
    /**
     * Deletes a terminal execution with its task runs and metrics.
     *
     * @generated from rpc statehouse.v1.ExecutionService.DeleteExecution
     */
    deleteExecution: {
        methodKind: "unary";
        input: typeof DeleteExecutionRequestSchema;
        output: typeof DeleteExecutionResponseSchema;
    };
    /**
     * Creates a task run in CREATED within a non-terminal execution.
     *
     * @generated from rpc statehouse.v1.ExecutionService.CreateTaskRun
     */
    createTaskRun: {
        methodKind: "unary";
        input: typeof CreateTaskRunRequestSchema;
        output: typeof CreateTaskRunResponseSchema;
    };
    /**
     * Returns one task run, with its attempts and its history, and its
     * execution's revision and state, in one read. A task run in a namespace the
     * caller may not read is NOT_FOUND, as one that does not exist.
     *
     * @generated from rpc statehouse.v1.ExecutionService.GetTaskRun
     */
    getTaskRun: {
        methodKind: "unary";
        input: typeof GetTaskRunRequestSchema;
        output: typeof GetTaskRunResponseSchema;
    };
    /**
     * Moves an execution to a new state.
     *
     * @generated from rpc statehouse.v1.ExecutionService.TransitionExecution
     */
    transitionExecution: {
        methodKind: "unary";
        input: typeof TransitionExecutionRequestSchema;
        output: typeof TransitionExecutionResponseSchema;
    };
    /**
     * Moves a task run (and its current attempt) to a new state. A task run
     * entering RUNNING opens an attempt and starts its execution if needed.
     *
     * @generated from rpc statehouse.v1.ExecutionService.TransitionTaskRun
     */
    transitionTaskRun: {
        methodKind: "unary";
        input: typeof TransitionTaskRunRequestSchema;
        output: typeof TransitionTaskRunResponseSchema;
    };
    /**
     * Moves up to 1,000 task runs in one call, for workers that report many at
     * once. Each item is checked, authorized and applied as TransitionTaskRun
     * would, on its own: items succeed or fail independently, in request order
     * (a later item sees the effects of earlier ones), and each has its own
     * result or error. The call as a whole fails only when it is malformed or
     * holds more than 1,000 items (INVALID_ARGUMENT), when the caller may not
     * write at all, or when the server cannot serve it.
     *
     * @generated from rpc statehouse.v1.ExecutionService.TransitionTaskRuns
     */
    transitionTaskRuns: {
        methodKind: "unary";
        input: typeof TransitionTaskRunsRequestSchema;
        output: typeof TransitionTaskRunsResponseSchema;
    };
    /**
     * Pauses a running execution (or one task run), optionally with a timer.
     *
     * @generated from rpc statehouse.v1.ExecutionService.PauseExecution
     */
    pauseExecution: {
        methodKind: "unary";
        input: typeof PauseExecutionRequestSchema;
        output: typeof PauseExecutionResponseSchema;
    };
    /**
     * Resumes a paused execution (or task run), cancelling its timer.
     *
     * @generated from rpc statehouse.v1.ExecutionService.ResumeExecution
     */
    resumeExecution: {
        methodKind: "unary";
        input: typeof ResumeExecutionRequestSchema;
        output: typeof ResumeExecutionResponseSchema;
    };
    /**
     * Kills an execution: two-phase, cascading to its task runs.
     *
     * @generated from rpc statehouse.v1.ExecutionService.KillExecution
     */
    killExecution: {
        methodKind: "unary";
        input: typeof KillExecutionRequestSchema;
        output: typeof KillExecutionResponseSchema;
    };
    /**
     * Restarts a FAILED or KILLED execution and its failed or killed task runs.
     *
     * @generated from rpc statehouse.v1.ExecutionService.RestartExecution
     */
    restartExecution: {
        methodKind: "unary";
        input: typeof RestartExecutionRequestSchema;
        output: typeof RestartExecutionResponseSchema;
    };
    /**
     * Completes an execution with an explicit or derived terminal state.
     *
     * @generated from rpc statehouse.v1.ExecutionService.CompleteExecution
     */
    completeExecution: {
        methodKind: "unary";
        input: typeof CompleteExecutionRequestSchema;
        output: typeof CompleteExecutionResponseSchema;
    };
    /**
     * Claims up to max_task_runs task runs that are ready to start, for one
     * worker, atomically: each is moved to RUNNING with a new attempt that
     * records the worker, in one transaction, and no task run is ever given to
     * two claims. Ready means CREATED, or RESTARTED with its next attempt due,
     * in an execution that lets a task run start (not PAUSED, not being killed,
     * not ended): exactly what TransitionTaskRun to RUNNING would accept.
     * Oldest ready first: by the time each became ready (its creation, its
     * restart, or its next_attempt_time for a retry), then by id. With wait set
     * and nothing ready, the call waits for work (woken by the commits that make
     * work ready, on any replica) and answers with nothing at the end of wait.
     *
     * @generated from rpc statehouse.v1.ExecutionService.ClaimTaskRuns
     */
    claimTaskRuns: {
        methodKind: "unary";
        input: typeof ClaimTaskRunsRequestSchema;
        output: typeof ClaimTaskRunsResponseSchema;
    };
    /**
     * Extends the leases of many attempts in one call (a worker sends one for
     * every attempt it holds). Each item succeeds or fails on its own: an
     * attempt that is no longer its task run's open attempt, that has no lease,
     * or whose lease has already expired is refused (FAILED_PRECONDITION,
     * reason ATTEMPT_NOT_OPEN, NO_LEASE or LEASE_EXPIRED).
     *
     * @generated from rpc statehouse.v1.ExecutionService.Heartbeat
     */
    heartbeat: {
        methodKind: "unary";
        input: typeof HeartbeatRequestSchema;
        output: typeof HeartbeatResponseSchema;
    };
}>;
