import type { GenEnum, GenFile, GenMessage } from "@bufbuild/protobuf/codegenv2";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import type { State } from "./state_pb.js";
import type { JsonObject, Message } from "@bufbuild/protobuf";
/**
 * Describes the file statehouse/v1/execution.proto.
 */
export declare const file_statehouse_v1_execution: GenFile;
/**
 * StateChange is one entry of a history: the state entered, when, and why.
 * Histories are append-only and their times never decrease.
 *
 * @generated from message statehouse.v1.StateChange
 */
export type StateChange = Message<"statehouse.v1.StateChange"> & {
    /**
     * The state entered.
     *
     * @generated from field: statehouse.v1.State state = 1;
     */
    state: State;
    /**
     * When the state was entered, as recorded by the server.
     *
     * @generated from field: google.protobuf.Timestamp time = 2;
     */
    time?: Timestamp | undefined;
    /**
     * Why the state was entered, as given by the caller or the server.
     *
     * @generated from field: string reason = 3;
     */
    reason: string;
    /**
     * Who made the change: the name of the caller's token, the subject of its
     * client certificate or of its JWT, `system` for a change the server made
     * on its own (timers, retries, cascades), `anonymous` when authentication
     * is off and the caller presented no certificate.
     *
     * @generated from field: string actor = 4;
     */
    actor: string;
};
/**
 * Describes the message statehouse.v1.StateChange.
 * Use `create(StateChangeSchema)` to create a new message.
 */
export declare const StateChangeSchema: GenMessage<StateChange>;
/**
 * Attempt is one try at running a task run. A task run entering RUNNING from
 * CREATED or RESTARTED opens a new attempt; the attempt then follows its task
 * run until it ends. Earlier attempts never change again.
 *
 * @generated from message statehouse.v1.Attempt
 */
export type Attempt = Message<"statehouse.v1.Attempt"> & {
    /**
     * The attempt's number, starting at 1.
     *
     * @generated from field: int32 number = 1;
     */
    number: number;
    /**
     * The attempt's current state.
     *
     * @generated from field: statehouse.v1.State state = 2;
     */
    state: State;
    /**
     * Every state the attempt went through, oldest first.
     *
     * @generated from field: repeated statehouse.v1.StateChange history = 3;
     */
    history: StateChange[];
    /**
     * The worker that reported the start of this attempt, if it said so.
     *
     * @generated from field: string worker_id = 4;
     */
    workerId: string;
    /**
     * The attempt's lease, when it was started with one (by a claim, or by a
     * TransitionTaskRun carrying lease_duration): the worker must report or
     * heartbeat within it, or the attempt ends FAILED with actor `system`.
     *
     * @generated from field: google.protobuf.Duration lease_duration = 5;
     */
    leaseDuration?: Duration | undefined;
    /**
     * When the attempt's lease expires unless a heartbeat extends it: set while
     * the attempt is open and holds a lease, moved later by each Heartbeat,
     * unset once the attempt ended (and without a lease). A time in the past is
     * a lease lost that the server has not acted on yet.
     *
     * @generated from field: google.protobuf.Timestamp lease_expire_time = 6;
     */
    leaseExpireTime?: Timestamp | undefined;
};
/**
 * Describes the message statehouse.v1.Attempt.
 * Use `create(AttemptSchema)` to create a new message.
 */
export declare const AttemptSchema: GenMessage<Attempt>;
/**
 * RetryPolicy tells the server whether and when a failed task run is tried
 * again. The interval between attempts is constant, exponential or random.
 *
 * @generated from message statehouse.v1.RetryPolicy
 */
export type RetryPolicy = Message<"statehouse.v1.RetryPolicy"> & {
    /**
     * How long to wait between attempts.
     *
     * @generated from oneof statehouse.v1.RetryPolicy.interval
     */
    interval: {
        /**
         * The same wait before every new attempt.
         *
         * @generated from field: statehouse.v1.RetryPolicy.Constant constant = 1;
         */
        value: RetryPolicy_Constant;
        case: "constant";
    } | {
        /**
         * A wait growing after each attempt.
         *
         * @generated from field: statehouse.v1.RetryPolicy.Exponential exponential = 2;
         */
        value: RetryPolicy_Exponential;
        case: "exponential";
    } | {
        /**
         * A random wait between two bounds.
         *
         * @generated from field: statehouse.v1.RetryPolicy.Random random = 3;
         */
        value: RetryPolicy_Random;
        case: "random";
    } | {
        case: undefined;
        value?: undefined;
    };
    /**
     * The largest number of attempts, counting the first one.
     *
     * @generated from field: int32 max_attempts = 4;
     */
    maxAttempts: number;
    /**
     * No new attempt is started once this much time has passed since the
     * first attempt started. Unset means no limit.
     *
     * @generated from field: google.protobuf.Duration max_duration = 5;
     */
    maxDuration?: Duration | undefined;
    /**
     * When true, a task run that succeeds after one or more retries ends in
     * WARNING instead of SUCCESS.
     *
     * @generated from field: bool warning_on_retry = 6;
     */
    warningOnRetry: boolean;
};
/**
 * Describes the message statehouse.v1.RetryPolicy.
 * Use `create(RetryPolicySchema)` to create a new message.
 */
export declare const RetryPolicySchema: GenMessage<RetryPolicy>;
/**
 * The same wait before every new attempt.
 *
 * @generated from message statehouse.v1.RetryPolicy.Constant
 */
export type RetryPolicy_Constant = Message<"statehouse.v1.RetryPolicy.Constant"> & {
    /**
     * The wait before each new attempt.
     *
     * @generated from field: google.protobuf.Duration interval = 1;
     */
    interval?: Duration | undefined;
};
/**
 * Describes the message statehouse.v1.RetryPolicy.Constant.
 * Use `create(RetryPolicy_ConstantSchema)` to create a new message.
 */
export declare const RetryPolicy_ConstantSchema: GenMessage<RetryPolicy_Constant>;
/**
 * A wait that grows by a factor after each attempt, up to a maximum.
 *
 * @generated from message statehouse.v1.RetryPolicy.Exponential
 */
export type RetryPolicy_Exponential = Message<"statehouse.v1.RetryPolicy.Exponential"> & {
    /**
     * The wait before the second attempt.
     *
     * @generated from field: google.protobuf.Duration interval = 1;
     */
    interval?: Duration | undefined;
    /**
     * The largest wait between two attempts.
     *
     * @generated from field: google.protobuf.Duration max_interval = 2;
     */
    maxInterval?: Duration | undefined;
    /**
     * The factor applied to the wait after each attempt (2 when unset).
     *
     * @generated from field: double factor = 3;
     */
    factor: number;
};
/**
 * Describes the message statehouse.v1.RetryPolicy.Exponential.
 * Use `create(RetryPolicy_ExponentialSchema)` to create a new message.
 */
export declare const RetryPolicy_ExponentialSchema: GenMessage<RetryPolicy_Exponential>;
/**
 * A wait drawn uniformly between two bounds before each new attempt.
 *
 * @generated from message statehouse.v1.RetryPolicy.Random
 */
export type RetryPolicy_Random = Message<"statehouse.v1.RetryPolicy.Random"> & {
    /**
     * The shortest wait.
     *
     * @generated from field: google.protobuf.Duration min_interval = 1;
     */
    minInterval?: Duration | undefined;
    /**
     * The longest wait.
     *
     * @generated from field: google.protobuf.Duration max_interval = 2;
     */
    maxInterval?: Duration | undefined;
};
/**
 * Describes the message statehouse.v1.RetryPolicy.Random.
 * Use `create(RetryPolicy_RandomSchema)` to create a new message.
 */
export declare const RetryPolicy_RandomSchema: GenMessage<RetryPolicy_Random>;
/**
 * TaskRun is one run of a task within an execution.
 *
 * @generated from message statehouse.v1.TaskRun
 */
export type TaskRun = Message<"statehouse.v1.TaskRun"> & {
    /**
     * The task run's identifier, chosen by the server.
     *
     * @generated from field: string id = 1;
     */
    id: string;
    /**
     * The execution this task run belongs to.
     *
     * @generated from field: string execution_id = 2;
     */
    executionId: string;
    /**
     * The identifier of the task in the flow.
     *
     * @generated from field: string task_id = 3;
     */
    taskId: string;
    /**
     * The task run that spawned this one (for tasks inside flowable tasks),
     * empty for a top-level task run.
     *
     * @generated from field: string parent_task_run_id = 4;
     */
    parentTaskRunId: string;
    /**
     * The loop value this task run was created for (for tasks run once per
     * value), empty otherwise. Task runs of one task differ by their value.
     *
     * @generated from field: string value = 5;
     */
    value: string;
    /**
     * The task run's current state.
     *
     * @generated from field: statehouse.v1.State state = 6;
     */
    state: State;
    /**
     * Every state the task run went through, oldest first.
     *
     * @generated from field: repeated statehouse.v1.StateChange history = 7;
     */
    history: StateChange[];
    /**
     * Every attempt of the task run, oldest first.
     *
     * @generated from field: repeated statehouse.v1.Attempt attempts = 8;
     */
    attempts: Attempt[];
    /**
     * The outputs, written with the task run's transition to a terminal state.
     *
     * @generated from field: google.protobuf.Struct outputs = 9;
     */
    outputs?: JsonObject | undefined;
    /**
     * The retry policy the server applies when an attempt fails, if any.
     *
     * @generated from field: statehouse.v1.RetryPolicy retry_policy = 10;
     */
    retryPolicy?: RetryPolicy | undefined;
    /**
     * For a RESTARTED task run waiting for a retry: the earliest time its next
     * attempt may start. Unset otherwise.
     *
     * @generated from field: google.protobuf.Timestamp next_attempt_time = 11;
     */
    nextAttemptTime?: Timestamp | undefined;
    /**
     * When the task run was created.
     *
     * @generated from field: google.protobuf.Timestamp create_time = 12;
     */
    createTime?: Timestamp | undefined;
    /**
     * When the task run last changed.
     *
     * @generated from field: google.protobuf.Timestamp update_time = 13;
     */
    updateTime?: Timestamp | undefined;
    /**
     * The longest each attempt may run from its start to its end, if the task
     * run was created with one (CreateTaskRunRequest.attempt_timeout).
     *
     * @generated from field: google.protobuf.Duration attempt_timeout = 14;
     */
    attemptTimeout?: Duration | undefined;
};
/**
 * Describes the message statehouse.v1.TaskRun.
 * Use `create(TaskRunSchema)` to create a new message.
 */
export declare const TaskRunSchema: GenMessage<TaskRun>;
/**
 * Execution is one run of a flow.
 *
 * @generated from message statehouse.v1.Execution
 */
export type Execution = Message<"statehouse.v1.Execution"> & {
    /**
     * The execution's identifier, chosen by the server.
     *
     * @generated from field: string id = 1;
     */
    id: string;
    /**
     * The namespace of the flow, for example "company.team".
     *
     * @generated from field: string namespace = 2;
     */
    namespace: string;
    /**
     * The identifier of the flow within its namespace.
     *
     * @generated from field: string flow_id = 3;
     */
    flowId: string;
    /**
     * The revision of the flow that this execution runs.
     *
     * @generated from field: int32 flow_revision = 4;
     */
    flowRevision: number;
    /**
     * Labels for filtering and grouping executions.
     *
     * @generated from field: map<string, string> labels = 5;
     */
    labels: {
        [key: string]: string;
    };
    /**
     * The inputs the execution was started with.
     *
     * @generated from field: google.protobuf.Struct inputs = 6;
     */
    inputs?: JsonObject | undefined;
    /**
     * The outputs, written when the execution is completed.
     *
     * @generated from field: google.protobuf.Struct outputs = 7;
     */
    outputs?: JsonObject | undefined;
    /**
     * The execution's current state.
     *
     * @generated from field: statehouse.v1.State state = 8;
     */
    state: State;
    /**
     * Every state the execution went through, oldest first.
     *
     * @generated from field: repeated statehouse.v1.StateChange history = 9;
     */
    history: StateChange[];
    /**
     * The execution's task runs, in creation order. Empty in the BASIC view.
     *
     * @generated from field: repeated statehouse.v1.TaskRun task_runs = 10;
     */
    taskRuns: TaskRun[];
    /**
     * Increases with every change to the execution or to one of its task runs.
     * Send it back as expected_revision for optimistic concurrency.
     *
     * @generated from field: int64 revision = 11;
     */
    revision: bigint;
    /**
     * When the execution was created.
     *
     * @generated from field: google.protobuf.Timestamp create_time = 12;
     */
    createTime?: Timestamp | undefined;
    /**
     * When the execution or one of its task runs last changed.
     *
     * @generated from field: google.protobuf.Timestamp update_time = 13;
     */
    updateTime?: Timestamp | undefined;
    /**
     * The execution that started this one (a subflow), empty otherwise.
     *
     * @generated from field: string parent_execution_id = 14;
     */
    parentExecutionId: string;
    /**
     * How many times the execution was restarted.
     *
     * @generated from field: int32 restart_count = 15;
     */
    restartCount: number;
};
/**
 * Describes the message statehouse.v1.Execution.
 * Use `create(ExecutionSchema)` to create a new message.
 */
export declare const ExecutionSchema: GenMessage<Execution>;
/**
 * TaskRunView chooses how much of each task run a response carries.
 *
 * @generated from enum statehouse.v1.TaskRunView
 */
export declare enum TaskRunView {
    /**
     * The default: FULL.
     *
     * @generated from enum value: TASK_RUN_VIEW_UNSPECIFIED = 0;
     */
    UNSPECIFIED = 0,
    /**
     * The task run without its history, its outputs and its policies, and its
     * attempts without their histories: what a worker needs after a report
     * (the state, the attempt that is open, its lease), at a fraction of the
     * size and of the server's work.
     *
     * @generated from enum value: TASK_RUN_VIEW_BASIC = 1;
     */
    BASIC = 1,
    /**
     * The whole task run.
     *
     * @generated from enum value: TASK_RUN_VIEW_FULL = 2;
     */
    FULL = 2
}
/**
 * Describes the enum statehouse.v1.TaskRunView.
 */
export declare const TaskRunViewSchema: GenEnum<TaskRunView>;
/**
 * ExecutionView chooses how much of an execution a response carries.
 *
 * @generated from enum statehouse.v1.ExecutionView
 */
export declare enum ExecutionView {
    /**
     * The default: FULL for GetExecution, BASIC for ListExecutions.
     *
     * @generated from enum value: EXECUTION_VIEW_UNSPECIFIED = 0;
     */
    UNSPECIFIED = 0,
    /**
     * The execution without its task runs.
     *
     * @generated from enum value: EXECUTION_VIEW_BASIC = 1;
     */
    BASIC = 1,
    /**
     * The execution with its task runs and their attempts.
     *
     * @generated from enum value: EXECUTION_VIEW_FULL = 2;
     */
    FULL = 2
}
/**
 * Describes the enum statehouse.v1.ExecutionView.
 */
export declare const ExecutionViewSchema: GenEnum<ExecutionView>;
