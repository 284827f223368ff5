/** Unary calls: 5 attempts within about 1.5 s. */
export const DEFAULT_RETRY = Object.freeze({
    maxAttempts: 5,
    initialBackoffMs: 100,
    maxBackoffMs: 3000,
    multiplier: 2,
    jitter: 0.2,
});
/** Subscriptions: up to 30 consecutive failed reconnections, about a minute (a server restart). */
export const DEFAULT_STREAM_RETRY = Object.freeze({
    maxAttempts: 30,
    initialBackoffMs: 50,
    maxBackoffMs: 2000,
    multiplier: 2,
    jitter: 0.2,
});
/** Never try again. */
export const NO_RETRY = Object.freeze({
    maxAttempts: 1,
    initialBackoffMs: 0,
    maxBackoffMs: 0,
    multiplier: 1,
    jitter: 0,
});
/** Whether `policy` treats `error` as transient. */
export function isTransient(policy, error) {
    return policy.retryable ? policy.retryable(error) : error.temporary;
}
/** Whether a call that failed `failures` times may try again. */
export function allowsRetry(policy, failures) {
    return policy.maxAttempts <= 0 || failures < policy.maxAttempts;
}
/** The wait before retry number n (from 1), in milliseconds. */
export function backoffMs(policy, n, random = Math.random) {
    let delay = policy.initialBackoffMs * Math.pow(Math.max(policy.multiplier, 1), n - 1);
    if (policy.maxBackoffMs > 0)
        delay = Math.min(delay, policy.maxBackoffMs);
    if (policy.jitter > 0)
        delay *= 1 - random() * Math.min(policy.jitter, 1);
    return delay;
}
/** Waits `ms`, or less when `signal` aborts first. */
export function sleep(ms, signal) {
    return new Promise((resolve) => {
        if (signal?.aborted)
            return resolve();
        const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener("abort", done);
            resolve();
        };
        const timer = setTimeout(done, ms);
        signal?.addEventListener("abort", done);
    });
}
/** A fresh random request id: 32 hex digits. */
export function newRequestId() {
    const bytes = new Uint8Array(16);
    const crypto = globalThis.crypto;
    if (crypto?.getRandomValues)
        crypto.getRandomValues(bytes);
    else
        for (let i = 0; i < bytes.length; i++)
            bytes[i] = Math.floor(Math.random() * 256);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
/**
 * The request with a fresh requestId where it has none (on each item of a
 * batch such as TransitionTaskRunsRequest), so that the client may send it
 * again after a transient failure and the server applies it once. A copy:
 * the argument is not changed.
 *
 *   await sh.executions.createExecution(withRequestId({ namespace: "demo", flowId: "hello" }));
 */
export function withRequestId(request) {
    const r = request;
    if (Array.isArray(r.requests)) {
        return { ...r, requests: r.requests.map((item) => withRequestId(item)) };
    }
    return { ...r, requestId: r.requestId || newRequestId() };
}
const READS = ["Get", "List", "Count", "Aggregate"];
/** Whether a call may be sent again: a read, or a request with a request id (every item of a batch). */
export function isIdempotent(methodName, request) {
    if (READS.some((read) => methodName.startsWith(read)))
        return true;
    const r = (request ?? {});
    if (Array.isArray(r.requests))
        return r.requests.length > 0 && r.requests.every((i) => Boolean(i?.requestId));
    return Boolean(r.requestId);
}
