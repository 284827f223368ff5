import { type MessageInitShape } from "@bufbuild/protobuf";
import { type SubscribeRequestSchema, type SubscribeResponse } from "../gen/statehouse/v1/event_service_pb.js";
import { StatehouseError } from "./errors.js";
import { type RetryPolicy } from "./retry.js";
/** The response header of Subscribe that says after which sequence its events come. */
export declare const START_SEQUENCE_HEADER = "statehouse-start-sequence";
/** How many events a subscription accepts in one message (the server's own cap). */
export declare const MAX_EVENTS_PER_MESSAGE = 1000;
export type SubscribeRequestInit = MessageInitShape<typeof SubscribeRequestSchema>;
/**
 * Where a subscription stands, without I/O: the request to (re)open it with,
 * the events of a message that are new, and the sequence to resume after.
 *
 * `lastSequence` is the last event or heartbeat received, else where the
 * stream started (its `statehouse-start-sequence` header); null only for a
 * fromLatest subscription that no server has accepted yet.
 */
export declare class SubscriptionCursor {
    private readonly base;
    lastSequence: bigint | null;
    startSequence: bigint | null;
    messagesReceived: number;
    eventsReceived: number;
    duplicatesDropped: number;
    constructor(base?: SubscribeRequestInit);
    /** The request that opens (or reopens) the stream after lastSequence. */
    request(): SubscribeRequestInit;
    /** The stream was accepted; `header` is its statehouse-start-sequence (or null). */
    started(header: string | null): void;
    /**
     * What a message of the server hands over: one message per new event (in
     * order, none at or below the cursor), or the heartbeat, which moves the cursor.
     */
    receive(message: SubscribeResponse): SubscribeResponse[];
}
/** The transport's Subscribe call, as the subscription opens it. */
export type OpenStream = (request: SubscribeRequestInit, options: {
    signal: AbortSignal;
    onHeader: (headers: Headers) => void;
}) => AsyncIterable<SubscribeResponse>;
export interface ConnectInfo {
    /** 1 the first time, more after reconnections. */
    opens: number;
    /** Where the stream resumes after (null: a fromLatest one not yet placed). */
    lastSequence: bigint | null;
}
export interface ReconnectInfo {
    /** The consecutive failures, from 1. */
    attempt: number;
    /** The stream's error (null: the server ended it). */
    error: StatehouseError | null;
    /** The wait before reopening, in milliseconds. */
    delayMs: number;
    lastSequence: bigint | null;
}
export interface SubscribeOptions {
    /**
     * Reconnection (default DEFAULT_STREAM_RETRY: about a minute of attempts);
     * NO_RETRY or false: a failure ends the loop with its error, as a plain stream.
     */
    retry?: RetryPolicy | false;
    /** Ends the subscription (the loop ends quietly). */
    signal?: AbortSignal;
    /** No message at all (ask for heartbeats) for this long: the connection is taken for dead and reopened. */
    idleTimeoutMs?: number;
    /** Each time a server accepts the stream, before any of its events. */
    onConnect?: (info: ConnectInfo) => void;
    /** Before each wait and reopening. */
    onReconnect?: (info: ReconnectInfo) => void;
}
/**
 * A Subscribe stream that hands over one message per event (`payload.case`
 * "event") or heartbeat, in order, each event once, and reopens itself after
 * its last sequence when the stream fails (UNAVAILABLE: a server restarting)
 * or ends. Leaving the `for await` loop (break, return, a throw) cancels it on
 * the server; so do cancel() and the client's close(), which make a waiting
 * loop fail with CANCELLED. An error that is not transient (OUT_OF_RANGE: the
 * events after lastSequence are gone; PERMISSION_DENIED) ends the loop with it.
 *
 * A subscription is iterated once.
 */
export declare class Subscription implements AsyncIterable<SubscribeResponse> {
    private readonly open;
    private readonly options;
    private readonly onDone;
    readonly cursor: SubscriptionCursor;
    /** How many times a server accepted the stream. */
    opens: number;
    private readonly stopped;
    private cancelReason;
    private iterated;
    private finished;
    private running?;
    private first?;
    private accepted;
    constructor(open: OpenStream, request: SubscribeRequestInit, options?: SubscribeOptions, onDone?: (s: Subscription) => void);
    /** The sequence to resume after: see SubscriptionCursor. */
    get lastSequence(): bigint | null;
    /** Where the last accepted stream started (its statehouse-start-sequence header), or null. */
    get startSequence(): bigint | null;
    get messagesReceived(): number;
    get eventsReceived(): number;
    get duplicatesDropped(): number;
    /**
     * Opens the stream now, if no loop has yet, and resolves when a server
     * first accepts it (its headers), before any event; rejects with the
     * stream's error when none does. What arrives meanwhile waits for the loop.
     */
    ready(): Promise<void>;
    /** Whether the subscription is over: ended, failed, left or cancelled. */
    get done(): boolean;
    /**
     * Cancels the stream on the server. A loop waiting on it fails with
     * CANCELLED when `reason` is given (as the client's close() does), else ends.
     */
    cancel(reason?: StatehouseError): void;
    [Symbol.asyncIterator](): AsyncIterator<SubscribeResponse>;
    private generator;
    private run;
}
