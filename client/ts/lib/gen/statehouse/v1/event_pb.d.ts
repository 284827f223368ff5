import type { GenFile, GenMessage } from "@bufbuild/protobuf/codegenv2";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { State } from "./state_pb.js";
import type { Message } from "@bufbuild/protobuf";
/**
 * Describes the file statehouse/v1/event.proto.
 */
export declare const file_statehouse_v1_event: GenFile;
/**
 * StateChangeEvent records one stored change of state of an execution or of
 * a task run (with its attempt). Each change produces exactly one event,
 * written in the same transaction as the change.
 *
 * @generated from message statehouse.v1.StateChangeEvent
 */
export type StateChangeEvent = Message<"statehouse.v1.StateChangeEvent"> & {
    /**
     * The event's position in the global log: strictly increasing in commit
     * order, without gaps between events a subscriber may see. Resume a
     * subscription with after_sequence set to the last sequence received.
     *
     * @generated from field: int64 sequence = 1;
     */
    sequence: bigint;
    /**
     * When the change was recorded.
     *
     * @generated from field: google.protobuf.Timestamp time = 2;
     */
    time?: Timestamp | undefined;
    /**
     * The namespace of the execution's flow.
     *
     * @generated from field: string namespace = 3;
     */
    namespace: string;
    /**
     * The flow of the execution.
     *
     * @generated from field: string flow_id = 4;
     */
    flowId: string;
    /**
     * The execution that changed, or whose task run changed.
     *
     * @generated from field: string execution_id = 5;
     */
    executionId: string;
    /**
     * The task run that changed; empty for a change of the execution itself.
     *
     * @generated from field: string task_run_id = 6;
     */
    taskRunId: string;
    /**
     * The task of the task run that changed; empty for an execution's change.
     *
     * @generated from field: string task_id = 7;
     */
    taskId: string;
    /**
     * For a task run's change: the number of the attempt that the change
     * opened or moved along with the task run (0 when it touched no attempt).
     *
     * @generated from field: int32 attempt = 8;
     */
    attempt: number;
    /**
     * The state before the change; STATE_UNSPECIFIED for a creation.
     *
     * @generated from field: statehouse.v1.State previous_state = 9;
     */
    previousState: State;
    /**
     * The state after the change.
     *
     * @generated from field: statehouse.v1.State state = 10;
     */
    state: State;
    /**
     * Why the change happened.
     *
     * @generated from field: string reason = 11;
     */
    reason: string;
    /**
     * The execution's revision once the change was stored.
     *
     * @generated from field: int64 execution_revision = 12;
     */
    executionRevision: bigint;
    /**
     * Who made the change, as in StateChange.actor.
     *
     * @generated from field: string actor = 13;
     */
    actor: string;
};
/**
 * Describes the message statehouse.v1.StateChangeEvent.
 * Use `create(StateChangeEventSchema)` to create a new message.
 */
export declare const StateChangeEventSchema: GenMessage<StateChangeEvent>;
/**
 * EventFilter selects events. Empty fields match everything; set fields must
 * all match.
 *
 * @generated from message statehouse.v1.EventFilter
 */
export type EventFilter = Message<"statehouse.v1.EventFilter"> & {
    /**
     * Only events of executions in this namespace.
     *
     * @generated from field: string namespace = 1;
     */
    namespace: string;
    /**
     * Only events of executions of this flow.
     *
     * @generated from field: string flow_id = 2;
     */
    flowId: string;
    /**
     * Only events of these executions.
     *
     * @generated from field: repeated string execution_ids = 3;
     */
    executionIds: string[];
    /**
     * Only events entering one of these states.
     *
     * @generated from field: repeated statehouse.v1.State states = 4;
     */
    states: State[];
};
/**
 * Describes the message statehouse.v1.EventFilter.
 * Use `create(EventFilterSchema)` to create a new message.
 */
export declare const EventFilterSchema: GenMessage<EventFilter>;
/**
 * Heartbeat tells an idle subscriber that every event up to and including
 * `sequence` has been considered for it, so it can advance its cursor.
 *
 * @generated from message statehouse.v1.Heartbeat
 */
export type Heartbeat = Message<"statehouse.v1.Heartbeat"> & {
    /**
     * The latest sequence covered by the stream so far.
     *
     * @generated from field: int64 sequence = 1;
     */
    sequence: bigint;
    /**
     * When the heartbeat was sent.
     *
     * @generated from field: google.protobuf.Timestamp time = 2;
     */
    time?: Timestamp | undefined;
};
/**
 * Describes the message statehouse.v1.Heartbeat.
 * Use `create(HeartbeatSchema)` to create a new message.
 */
export declare const HeartbeatSchema: GenMessage<Heartbeat>;
