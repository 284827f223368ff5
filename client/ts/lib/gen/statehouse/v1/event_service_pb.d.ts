import type { GenFile, GenMessage, GenService } from "@bufbuild/protobuf/codegenv2";
import type { Duration } from "@bufbuild/protobuf/wkt";
import type { EventFilter, Heartbeat, StateChangeEvent } from "./event_pb.js";
import type { Execution } from "./execution_pb.js";
import type { Message } from "@bufbuild/protobuf";
/**
 * Describes the file statehouse/v1/event_service.proto.
 */
export declare const file_statehouse_v1_event_service: GenFile;
/**
 * SubscribeRequest opens a stream of state-change events.
 *
 * @generated from message statehouse.v1.SubscribeRequest
 */
export type SubscribeRequest = Message<"statehouse.v1.SubscribeRequest"> & {
    /**
     * Which events to send; empty sends all.
     *
     * @generated from field: statehouse.v1.EventFilter filter = 1;
     */
    filter?: EventFilter | undefined;
    /**
     * Send the events after this sequence: 0 replays all retained history,
     * the last sequence received resumes. A sequence older than the retained
     * history fails with OUT_OF_RANGE (SEQUENCE_COMPACTED).
     *
     * @generated from field: int64 after_sequence = 2;
     */
    afterSequence: bigint;
    /**
     * Send a heartbeat when nothing was sent for this long (unset: no
     * heartbeats; at least 100 ms).
     *
     * @generated from field: google.protobuf.Duration heartbeat_interval = 3;
     */
    heartbeatInterval?: Duration | undefined;
    /**
     * Start after the latest committed event, ignoring after_sequence.
     *
     * @generated from field: bool from_latest = 4;
     */
    fromLatest: boolean;
    /**
     * The most events the client accepts in one message. Unset or 0: one event
     * per message, in `event`. Above 1: the server may send several events
     * together in `events` (in sequence order, each once) to a subscriber that
     * is behind or that receives many events in a short time; a message then
     * carries at most this many. Clients that read `events` should ask for it:
     * under load it is what keeps a subscriber up with the writers.
     *
     * @generated from field: int32 max_events_per_message = 5;
     */
    maxEventsPerMessage: number;
};
/**
 * Describes the message statehouse.v1.SubscribeRequest.
 * Use `create(SubscribeRequestSchema)` to create a new message.
 */
export declare const SubscribeRequestSchema: GenMessage<SubscribeRequest>;
/**
 * SubscribeResponse is one message of a subscription: one event, several
 * events, or a heartbeat.
 *
 * @generated from message statehouse.v1.SubscribeResponse
 */
export type SubscribeResponse = Message<"statehouse.v1.SubscribeResponse"> & {
    /**
     * An event or a heartbeat.
     *
     * @generated from oneof statehouse.v1.SubscribeResponse.payload
     */
    payload: {
        /**
         * A state change.
         *
         * @generated from field: statehouse.v1.StateChangeEvent event = 1;
         */
        value: StateChangeEvent;
        case: "event";
    } | {
        /**
         * Nothing new for this subscriber up to the heartbeat's sequence.
         *
         * @generated from field: statehouse.v1.Heartbeat heartbeat = 2;
         */
        value: Heartbeat;
        case: "heartbeat";
    } | {
        case: undefined;
        value?: undefined;
    };
    /**
     * Several state changes, in sequence order, sent instead of `event` to a
     * client that set max_events_per_message above 1 (never with `event` or
     * `heartbeat` in the same message). The last one's sequence is the cursor
     * to resume after.
     *
     * @generated from field: repeated statehouse.v1.StateChangeEvent events = 3;
     */
    events: StateChangeEvent[];
};
/**
 * Describes the message statehouse.v1.SubscribeResponse.
 * Use `create(SubscribeResponseSchema)` to create a new message.
 */
export declare const SubscribeResponseSchema: GenMessage<SubscribeResponse>;
/**
 * FollowExecutionRequest names the execution to follow.
 *
 * @generated from message statehouse.v1.FollowExecutionRequest
 */
export type FollowExecutionRequest = Message<"statehouse.v1.FollowExecutionRequest"> & {
    /**
     * The execution's identifier. Required.
     *
     * @generated from field: string execution_id = 1;
     */
    executionId: string;
};
/**
 * Describes the message statehouse.v1.FollowExecutionRequest.
 * Use `create(FollowExecutionRequestSchema)` to create a new message.
 */
export declare const FollowExecutionRequestSchema: GenMessage<FollowExecutionRequest>;
/**
 * FollowExecutionResponse is one snapshot of the followed execution.
 *
 * @generated from message statehouse.v1.FollowExecutionResponse
 */
export type FollowExecutionResponse = Message<"statehouse.v1.FollowExecutionResponse"> & {
    /**
     * The execution with its task runs, as of the last change.
     *
     * @generated from field: statehouse.v1.Execution execution = 1;
     */
    execution?: Execution | undefined;
};
/**
 * Describes the message statehouse.v1.FollowExecutionResponse.
 * Use `create(FollowExecutionResponseSchema)` to create a new message.
 */
export declare const FollowExecutionResponseSchema: GenMessage<FollowExecutionResponse>;
/**
 * EventService streams state changes: ordered by sequence, each event once,
 * no gaps, resumable from the last sequence received.
 *
 * @generated from service statehouse.v1.EventService
 */
export declare const EventService: GenService<{
    /**
     * Streams the events after a sequence, then live events as they commit.
     * The response headers say where the stream starts, as soon as it is
     * accepted: `statehouse-start-sequence` is the sequence after which its
     * events come (with from_latest, the newest event then), the cursor to
     * resume from before any event or heartbeat has arrived.
     *
     * @generated from rpc statehouse.v1.EventService.Subscribe
     */
    subscribe: {
        methodKind: "server_streaming";
        input: typeof SubscribeRequestSchema;
        output: typeof SubscribeResponseSchema;
    };
    /**
     * Streams snapshots of one execution: one at once, one after each change,
     * ending when the execution and all its task runs are terminal.
     *
     * @generated from rpc statehouse.v1.EventService.FollowExecution
     */
    followExecution: {
        methodKind: "server_streaming";
        input: typeof FollowExecutionRequestSchema;
        output: typeof FollowExecutionResponseSchema;
    };
}>;
