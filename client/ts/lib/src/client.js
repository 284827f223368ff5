import { Code, createClient } from "@connectrpc/connect";
import { AdminService } from "../gen/statehouse/v1/admin_service_pb.js";
import { EventService } from "../gen/statehouse/v1/event_service_pb.js";
import { ExecutionService, } from "../gen/statehouse/v1/execution_service_pb.js";
import { MetricService } from "../gen/statehouse/v1/metric_service_pb.js";
import { refusal } from "./check.js";
import { StatehouseError } from "./errors.js";
import { allowsRetry, backoffMs, DEFAULT_RETRY, isIdempotent, isTransient, sleep } from "./retry.js";
import { Subscription } from "./subscription.js";
/** The deadline of a unary call when none is given: 10 s (a claim adds its wait). */
export const DEFAULT_TIMEOUT_MS = 10_000;
/**
 * A server stream as an async iterable: errors are StatehouseErrors, and
 * leaving the loop (break, return, a throw), cancel() or the client's close()
 * cancel it on the server.
 */
export class Stream {
    open;
    onDone;
    stopped = new AbortController();
    cancelReason = null;
    finished = false;
    iterated = false;
    constructor(open, signal, onDone) {
        this.open = open;
        this.onDone = onDone;
        if (signal) {
            const stop = () => this.stopped.abort();
            signal.addEventListener("abort", stop, { once: true });
            this.stopped.signal.addEventListener("abort", () => signal.removeEventListener("abort", stop), { once: true });
        }
    }
    get done() {
        return this.finished;
    }
    /** Cancels the stream; a loop waiting on it fails with `reason` if given, else ends. */
    cancel(reason) {
        if (reason && !this.cancelReason)
            this.cancelReason = reason;
        this.stopped.abort();
        if (!this.iterated && !this.finished) {
            this.finished = true;
            this.onDone(this);
        }
    }
    [Symbol.asyncIterator]() {
        if (this.iterated)
            throw new Error("statehouse: a stream is iterated once");
        this.iterated = true;
        const generator = this.run();
        return {
            next: () => generator.next(),
            return: async (value) => {
                this.stopped.abort();
                await generator.return(undefined);
                return { done: true, value: value };
            },
        };
    }
    async *run() {
        try {
            for await (const item of this.open(this.stopped.signal))
                yield item;
        }
        catch (error) {
            if (this.cancelReason)
                throw this.cancelReason;
            if (this.stopped.signal.aborted)
                return;
            throw StatehouseError.from(error);
        }
        finally {
            this.stopped.abort();
            this.finished = true;
            this.onDone(this);
        }
        if (this.cancelReason)
            throw this.cancelReason;
    }
}
/** A google.protobuf.Duration as given in a request, in milliseconds (0 when unset). */
function durationMs(duration) {
    if (!duration)
        return 0;
    const ms = Number(duration.seconds ?? 0) * 1000 + Number(duration.nanos ?? 0) / 1e6;
    return Number.isFinite(ms) && ms > 0 ? ms : 0;
}
/** How long the server may hold a call before it answers, added to its deadline. */
const SERVER_WAITS = {
    "statehouse.v1.ExecutionService.ClaimTaskRuns": (request) => durationMs(request.wait),
};
/** Combines signals: aborted when any is; release() removes its listeners (call it when done). */
function anySignal(signals) {
    const controller = new AbortController();
    const listening = [];
    for (const signal of signals) {
        if (!signal)
            continue;
        if (signal.aborted) {
            controller.abort(signal.reason);
            continue;
        }
        const abort = () => controller.abort(signal.reason);
        signal.addEventListener("abort", abort, { once: true });
        listening.push([signal, abort]);
    }
    const release = () => {
        for (const [signal, abort] of listening)
            signal.removeEventListener("abort", abort);
    };
    return { signal: controller.signal, release };
}
function closedError() {
    return new StatehouseError(Code.Canceled, "the client was closed");
}
function wrapUnary(method, call, shared) {
    const wait = SERVER_WAITS[`${method.parent.typeName}.${method.name}`];
    return async (request = {}, options = {}) => {
        const refused = refusal(method.input, request);
        if (refused)
            throw refused;
        if (shared.closing.aborted)
            throw closedError();
        const policy = options.retry ?? shared.retry;
        const retryable = isIdempotent(method.name, request);
        const deadline = Date.now() + (options.timeoutMs ?? shared.timeoutMs + (wait ? wait(request) : 0));
        const { signal, release } = anySignal([options.signal, shared.closing]);
        try {
            for (let failures = 1;; failures++) {
                try {
                    return await call(request, {
                        timeoutMs: Math.max(1, deadline - Date.now()),
                        signal,
                        headers: options.headers,
                    });
                }
                catch (caught) {
                    const error = shared.closing.aborted ? closedError() : StatehouseError.from(caught);
                    if (!retryable || !isTransient(policy, error) || !allowsRetry(policy, failures))
                        throw error;
                    const delay = backoffMs(policy, failures);
                    if (Date.now() + delay >= deadline)
                        throw error;
                    await sleep(delay, signal);
                    if (signal.aborted)
                        throw error;
                }
            }
        }
        finally {
            release();
        }
    };
}
function wrapStreaming(method, call, shared) {
    return (request = {}, options = {}) => {
        const refused = refusal(method.input, request);
        if (refused)
            throw refused;
        const stream = new Stream((signal) => call(request, { signal, headers: options.headers, timeoutMs: options.timeoutMs }), options.signal, (s) => shared.open.delete(s));
        shared.open.add(stream);
        if (shared.closing.aborted)
            stream.cancel(closedError());
        return stream;
    };
}
function wrapService(service, transport, shared) {
    const raw = createClient(service, transport);
    const wrapped = { raw };
    for (const method of service.methods) {
        const call = raw[method.localName].bind(raw);
        wrapped[method.localName] =
            method.methodKind === "server_streaming" ? wrapStreaming(method, call, shared) : wrapUnary(method, call, shared);
    }
    return wrapped;
}
/**
 * The Statehouse services over `transport`: createGrpcTransport from
 * @connectrpc/connect-node (what connect() of "statehouse-client" builds), or
 * createConnectTransport from @connectrpc/connect-web (connectWeb() of
 * "statehouse-client/web").
 */
export function createStatehouse(transport, options = {}) {
    const closing = new AbortController();
    const shared = {
        timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        retry: options.retry ?? DEFAULT_RETRY,
        closing: closing.signal,
        open: new Set(),
    };
    const executions = wrapService(ExecutionService, transport, shared);
    const transitionTaskRuns = executions.transitionTaskRuns;
    executions.transitionTaskRuns = async (request, callOptions) => (await transitionTaskRuns(request, callOptions)).results.map((result) => result.result.case === "error"
        ? StatehouseError.fromItemStatus(result.result.value)
        : result.result.value);
    const events = wrapService(EventService, transport, shared);
    const method = EventService.method.subscribe;
    events.subscribe = (request = {}, subscribeOptions = {}) => {
        const refused = refusal(method.input, request);
        if (refused)
            throw refused;
        const subscription = new Subscription((init, { signal, onHeader }) => events.raw.subscribe(init, { signal, onHeader, headers: subscribeOptions.headers }), request, subscribeOptions, (s) => shared.open.delete(s));
        shared.open.add(subscription);
        if (closing.signal.aborted)
            subscription.cancel(closedError());
        return subscription;
    };
    return {
        executions,
        events,
        metrics: wrapService(MetricService, transport, shared),
        admin: wrapService(AdminService, transport, shared),
        transport,
        close() {
            for (const stream of [...shared.open])
                stream.cancel(closedError());
            shared.open.clear();
            closing.abort();
            options.onClose?.();
        },
    };
}
