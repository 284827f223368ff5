import type { Interceptor } from "@connectrpc/connect";
import { type StatehouseClient } from "./client.js";
import type { RetryPolicy } from "./retry.js";
export * from "./index.js";
/** A PEM: a Buffer, PEM text or the path of a file. */
export type Pem = Uint8Array | string;
export interface TlsOptions {
    /** The CA to trust (default: the system's roots, or $STATEHOUSE_TLS_CA). */
    ca?: Pem;
    /** A client certificate and its key, for mTLS. */
    cert?: Pem;
    key?: Pem;
    /** The name to check the server's certificate for, instead of the target's host. */
    serverName?: string;
}
export interface ConnectOptions {
    /** A bearer token, sent as `authorization: Bearer <token>` (default $STATEHOUSE_TOKEN; "" for none). */
    token?: string;
    /** true, TlsOptions, or false for plaintext (default: TLS when $STATEHOUSE_TLS_CA is set). */
    tls?: boolean | TlsOptions;
    /** Send a token without TLS to a host other than this machine (refused by default). */
    allowPlaintextToken?: boolean;
    /** The deadline of each unary call (default 10 s; a claim adds its wait). */
    timeoutMs?: number;
    /** The retry policy of idempotent unary calls (default DEFAULT_RETRY). */
    retry?: RetryPolicy;
    /** More interceptors, after the client's own. */
    interceptors?: Interceptor[];
    /** More options of Node's http2.connect(). */
    nodeOptions?: Record<string, unknown>;
}
/** Whether a target is this machine (loopback addresses, localhost). */
export declare function isLoopback(target: string): boolean;
/**
 * OpenTelemetry's API, when the application has it (never required): sends
 * the caller's trace context (W3C traceparent, by the global propagator) on
 * every call and stream started while a span is active. Null without it.
 */
export declare function traceInterceptor(api?: unknown): Interceptor | null;
/**
 * Connects to a Statehouse server over gRPC. Returns { executions, events,
 * metrics, admin, transport, close }: one method per RPC (createExecution,
 * subscribe, createToken, ...), messages as the generated types (camelCase
 * fields, 64-bit integers as bigint, enums as numbers: State.RUNNING).
 *
 * target: "host:port" (default $STATEHOUSE_TARGET, else 127.0.0.1:50051).
 * Nothing is sent until the first call; close() when done.
 */
export declare function connect(target?: string, options?: ConnectOptions): StatehouseClient;
