import type { StatehouseError } from "./errors.js";
/**
 * maxAttempts counts the first try (1: no retry; 0: no limit). The wait
 * before retry n (from 1) is min(maxBackoffMs, initialBackoffMs *
 * multiplier^(n-1)), shortened at random by up to `jitter` (a fraction).
 */
export interface RetryPolicy {
    readonly maxAttempts: number;
    readonly initialBackoffMs: number;
    readonly maxBackoffMs: number;
    readonly multiplier: number;
    readonly jitter: number;
    /** Whether an error is transient (default: UNAVAILABLE only). */
    readonly retryable?: (error: StatehouseError) => boolean;
}
/** Unary calls: 5 attempts within about 1.5 s. */
export declare const DEFAULT_RETRY: RetryPolicy;
/** Subscriptions: up to 30 consecutive failed reconnections, about a minute (a server restart). */
export declare const DEFAULT_STREAM_RETRY: RetryPolicy;
/** Never try again. */
export declare const NO_RETRY: RetryPolicy;
/** Whether `policy` treats `error` as transient. */
export declare function isTransient(policy: RetryPolicy, error: StatehouseError): boolean;
/** Whether a call that failed `failures` times may try again. */
export declare function allowsRetry(policy: RetryPolicy, failures: number): boolean;
/** The wait before retry number n (from 1), in milliseconds. */
export declare function backoffMs(policy: RetryPolicy, n: number, random?: () => number): number;
/** Waits `ms`, or less when `signal` aborts first. */
export declare function sleep(ms: number, signal?: AbortSignal): Promise<void>;
/** A fresh random request id: 32 hex digits. */
export declare function newRequestId(): string;
/**
 * The request with a fresh requestId where it has none (on each item of a
 * batch such as TransitionTaskRunsRequest), so that the client may send it
 * again after a transient failure and the server applies it once. A copy:
 * the argument is not changed.
 *
 *   await sh.executions.createExecution(withRequestId({ namespace: "demo", flowId: "hello" }));
 */
export declare function withRequestId<T extends object>(request: T): T;
/** Whether a call may be sent again: a read, or a request with a request id (every item of a batch). */
export declare function isIdempotent(methodName: string, request: unknown): boolean;
