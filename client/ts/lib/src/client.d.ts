import type { DescService } from "@bufbuild/protobuf";
import { type Client, type Transport } from "@connectrpc/connect";
import { AdminService } from "../gen/statehouse/v1/admin_service_pb.js";
import { EventService } from "../gen/statehouse/v1/event_service_pb.js";
import { ExecutionService, type TransitionTaskRunResponse } from "../gen/statehouse/v1/execution_service_pb.js";
import { MetricService } from "../gen/statehouse/v1/metric_service_pb.js";
import { StatehouseError } from "./errors.js";
import { type RetryPolicy } from "./retry.js";
import { type SubscribeOptions, type SubscribeRequestInit, Subscription } from "./subscription.js";
/** The deadline of a unary call when none is given: 10 s (a claim adds its wait). */
export declare const DEFAULT_TIMEOUT_MS = 10000;
/** Options of one unary call. */
export interface CallOptions {
    /** This call's deadline in milliseconds, every retry included (default: the client's). */
    timeoutMs?: number;
    /** Abandons the call. */
    signal?: AbortSignal;
    /** More request headers. */
    headers?: HeadersInit;
    /** This call's retry policy (default: the client's; it applies to idempotent calls only). */
    retry?: RetryPolicy;
}
/** Options of one server stream. */
export interface StreamOptions {
    /** Cancels the stream. */
    signal?: AbortSignal;
    headers?: HeadersInit;
    /** A deadline for the whole stream (default: none). */
    timeoutMs?: number;
}
type Unary<Req, Res> = (request: Req, options?: CallOptions) => Promise<Res>;
type Streaming<Req, Res> = (request: Req, options?: StreamOptions) => Stream<Res>;
/** A service of the client: one method per RPC, and `raw`, the plain Connect-ES client. */
export type Service<S extends DescService> = {
    [K in keyof Client<S>]: Client<S>[K] extends (request: infer Req, options?: infer _O) => Promise<infer Res> ? Unary<Req, Res> : Client<S>[K] extends (request: infer Req, options?: infer _O) => AsyncIterable<infer Res> ? Streaming<Req, Res> : never;
} & {
    readonly raw: Client<S>;
};
type Init<K extends keyof Client<S>, S extends DescService> = Parameters<Client<S>[K]>[0];
/** The ExecutionService; transitionTaskRuns answers each item with its response or its error. */
export type ExecutionsClient = Omit<Service<typeof ExecutionService>, "transitionTaskRuns"> & {
    /**
     * One entry per item, in order: its TransitionTaskRunResponse, or the
     * StatehouseError transitionTaskRun would have rejected with (returned, not
     * thrown). Rejects only when the whole call fails.
     */
    transitionTaskRuns(request: Init<"transitionTaskRuns", typeof ExecutionService>, options?: CallOptions): Promise<(TransitionTaskRunResponse | StatehouseError)[]>;
};
/** The EventService; subscribe returns a Subscription (one event per message, resuming). */
export type EventsClient = Omit<Service<typeof EventService>, "subscribe"> & {
    subscribe(request?: SubscribeRequestInit, options?: SubscribeOptions & {
        headers?: HeadersInit;
    }): Subscription;
};
export interface StatehouseClient {
    readonly executions: ExecutionsClient;
    readonly events: EventsClient;
    readonly metrics: Service<typeof MetricService>;
    readonly admin: Service<typeof AdminService>;
    /** The transport every service shares. */
    readonly transport: Transport;
    /**
     * Cancels every stream and subscription still open (a loop waiting on one
     * fails with CANCELLED) and every call in flight, then releases the
     * transport's connection, so nothing keeps the process alive.
     */
    close(): void;
}
export interface ClientOptions {
    /** The deadline of each unary call (default 10 s; a claim adds its wait). */
    timeoutMs?: number;
    /** The retry policy of idempotent unary calls (default DEFAULT_RETRY). */
    retry?: RetryPolicy;
    /** Runs at the end of close(): the transport's own cleanup. */
    onClose?: () => void;
}
/**
 * A server stream as an async iterable: errors are StatehouseErrors, and
 * leaving the loop (break, return, a throw), cancel() or the client's close()
 * cancel it on the server.
 */
export declare class Stream<T> implements AsyncIterable<T> {
    private readonly open;
    private readonly onDone;
    private readonly stopped;
    private cancelReason;
    private finished;
    private iterated;
    constructor(open: (signal: AbortSignal) => AsyncIterable<T>, signal: AbortSignal | undefined, onDone: (s: Stream<T>) => void);
    get done(): boolean;
    /** Cancels the stream; a loop waiting on it fails with `reason` if given, else ends. */
    cancel(reason?: StatehouseError): void;
    [Symbol.asyncIterator](): AsyncIterator<T>;
    private run;
}
/**
 * The Statehouse services over `transport`: createGrpcTransport from
 * @connectrpc/connect-node (what connect() of "statehouse-client" builds), or
 * createConnectTransport from @connectrpc/connect-web (connectWeb() of
 * "statehouse-client/web").
 */
export declare function createStatehouse(transport: Transport, options?: ClientOptions): StatehouseClient;
export {};
