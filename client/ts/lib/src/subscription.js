// Subscriptions to the event log that hand events over one by one and resume
// by themselves. SubscriptionCursor is the resume logic without I/O (the same
// as the Python SDK's and the Go client's); Subscription runs it over any
// transport's Subscribe stream.
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { SubscribeResponseSchema, } from "../gen/statehouse/v1/event_service_pb.js";
import { StatehouseError } from "./errors.js";
import { allowsRetry, backoffMs, DEFAULT_STREAM_RETRY, isTransient, sleep } from "./retry.js";
/** The response header of Subscribe that says after which sequence its events come. */
export const START_SEQUENCE_HEADER = "statehouse-start-sequence";
/** How many events a subscription accepts in one message (the server's own cap). */
export const MAX_EVENTS_PER_MESSAGE = 1000;
/**
 * Where a subscription stands, without I/O: the request to (re)open it with,
 * the events of a message that are new, and the sequence to resume after.
 *
 * `lastSequence` is the last event or heartbeat received, else where the
 * stream started (its `statehouse-start-sequence` header); null only for a
 * fromLatest subscription that no server has accepted yet.
 */
export class SubscriptionCursor {
    base;
    lastSequence;
    startSequence = null;
    messagesReceived = 0;
    eventsReceived = 0;
    duplicatesDropped = 0;
    constructor(base = {}) {
        this.base = base;
        this.lastSequence = base.fromLatest ? null : BigInt(base.afterSequence ?? 0n);
    }
    /** The request that opens (or reopens) the stream after lastSequence. */
    request() {
        const resuming = this.lastSequence !== null;
        return {
            ...this.base,
            fromLatest: !resuming && Boolean(this.base.fromLatest),
            afterSequence: this.lastSequence ?? 0n,
            maxEventsPerMessage: this.base.maxEventsPerMessage ?? MAX_EVENTS_PER_MESSAGE,
        };
    }
    /** The stream was accepted; `header` is its statehouse-start-sequence (or null). */
    started(header) {
        if (header === null || !/^\d+$/.test(header.trim()))
            return;
        const start = BigInt(header.trim());
        this.startSequence = start;
        if (this.lastSequence === null)
            this.lastSequence = start;
    }
    /**
     * What a message of the server hands over: one message per new event (in
     * order, none at or below the cursor), or the heartbeat, which moves the cursor.
     */
    receive(message) {
        this.messagesReceived += 1;
        if (message.payload.case === "heartbeat") {
            const sequence = message.payload.value.sequence;
            if (this.lastSequence === null || sequence > this.lastSequence)
                this.lastSequence = sequence;
            return [message];
        }
        const events = message.payload.case === "event" ? [message.payload.value] : message.events;
        const out = [];
        for (const event of events) {
            this.eventsReceived += 1;
            if (this.lastSequence !== null && event.sequence <= this.lastSequence) {
                this.duplicatesDropped += 1;
                continue;
            }
            this.lastSequence = event.sequence;
            out.push(create(SubscribeResponseSchema, { payload: { case: "event", value: event } }));
        }
        return out;
    }
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
export class Subscription {
    open;
    options;
    onDone;
    cursor;
    /** How many times a server accepted the stream. */
    opens = 0;
    stopped = new AbortController();
    cancelReason = null;
    iterated = false;
    finished = false;
    running;
    first;
    accepted;
    constructor(open, request, options = {}, onDone = () => { }) {
        this.open = open;
        this.options = options;
        this.onDone = onDone;
        this.cursor = new SubscriptionCursor(request);
        let resolve;
        let reject;
        const promise = new Promise((yes, no) => {
            resolve = yes;
            reject = no;
        });
        promise.catch(() => { });
        this.accepted = { promise, resolve, reject };
        const signal = options.signal;
        if (signal) {
            const stop = () => this.stopped.abort();
            signal.addEventListener("abort", stop, { once: true });
            this.stopped.signal.addEventListener("abort", () => signal.removeEventListener("abort", stop), { once: true });
        }
    }
    /** The sequence to resume after: see SubscriptionCursor. */
    get lastSequence() {
        return this.cursor.lastSequence;
    }
    /** Where the last accepted stream started (its statehouse-start-sequence header), or null. */
    get startSequence() {
        return this.cursor.startSequence;
    }
    get messagesReceived() {
        return this.cursor.messagesReceived;
    }
    get eventsReceived() {
        return this.cursor.eventsReceived;
    }
    get duplicatesDropped() {
        return this.cursor.duplicatesDropped;
    }
    /**
     * Opens the stream now, if no loop has yet, and resolves when a server
     * first accepts it (its headers), before any event; rejects with the
     * stream's error when none does. What arrives meanwhile waits for the loop.
     */
    ready() {
        const generator = this.generator();
        if (!this.iterated && !this.first) {
            this.first = generator.next();
            this.first.catch(() => undefined); // the loop, or ready(), reports it
        }
        return this.accepted.promise;
    }
    /** Whether the subscription is over: ended, failed, left or cancelled. */
    get done() {
        return this.finished;
    }
    /**
     * Cancels the stream on the server. A loop waiting on it fails with
     * CANCELLED when `reason` is given (as the client's close() does), else ends.
     */
    cancel(reason) {
        if (reason && !this.cancelReason)
            this.cancelReason = reason;
        this.stopped.abort();
        if (!this.running && !this.finished) {
            // Never opened: nothing to stop on the server.
            this.finished = true;
            this.onDone(this);
        }
    }
    [Symbol.asyncIterator]() {
        if (this.iterated)
            throw new Error("statehouse: a subscription is iterated once");
        this.iterated = true;
        const generator = this.generator();
        return {
            next: () => {
                const first = this.first;
                this.first = undefined;
                return first ?? generator.next();
            },
            // Leaving the loop: stop the stream first, so that a pending read ends.
            return: async (value) => {
                this.stopped.abort();
                if (this.first)
                    await this.first.catch(() => undefined);
                this.first = undefined;
                await generator.return(undefined);
                return { done: true, value: value };
            },
        };
    }
    generator() {
        if (!this.running)
            this.running = this.run();
        return this.running;
    }
    async *run() {
        const policy = this.options.retry === false ? { ...DEFAULT_STREAM_RETRY, maxAttempts: 1 } : (this.options.retry ?? DEFAULT_STREAM_RETRY);
        let failures = 0;
        try {
            while (!this.stopped.signal.aborted) {
                const connection = new AbortController();
                const stop = () => connection.abort();
                this.stopped.signal.addEventListener("abort", stop);
                let idle = false;
                let idleTimer;
                const alive = () => {
                    if (!this.options.idleTimeoutMs)
                        return;
                    clearTimeout(idleTimer);
                    idleTimer = setTimeout(() => {
                        idle = true;
                        connection.abort();
                    }, this.options.idleTimeoutMs);
                };
                let error = null;
                try {
                    alive();
                    const stream = this.open(this.cursor.request(), {
                        signal: connection.signal,
                        onHeader: (headers) => {
                            this.cursor.started(headers.get(START_SEQUENCE_HEADER));
                            this.opens += 1;
                            failures = 0;
                            alive();
                            this.accepted.resolve();
                            this.options.onConnect?.({ opens: this.opens, lastSequence: this.cursor.lastSequence });
                        },
                    });
                    for await (const message of stream) {
                        alive();
                        failures = 0;
                        for (const item of this.cursor.receive(message))
                            yield item;
                    }
                }
                catch (caught) {
                    if (this.stopped.signal.aborted)
                        break;
                    error = idle
                        ? new StatehouseError(Code.Unavailable, `no message for ${this.options.idleTimeoutMs} ms`)
                        : StatehouseError.from(caught);
                }
                finally {
                    clearTimeout(idleTimer);
                    this.stopped.signal.removeEventListener("abort", stop);
                    connection.abort();
                }
                if (this.stopped.signal.aborted)
                    break;
                failures += 1;
                if ((error && !isTransient(policy, error)) || !allowsRetry(policy, failures)) {
                    if (error)
                        throw error;
                    return;
                }
                const delayMs = backoffMs(policy, failures);
                this.options.onReconnect?.({ attempt: failures, error, delayMs, lastSequence: this.cursor.lastSequence });
                await sleep(delayMs, this.stopped.signal);
            }
            if (this.cancelReason)
                throw this.cancelReason;
        }
        catch (error) {
            this.accepted.reject(error);
            throw error;
        }
        finally {
            this.accepted.reject(new StatehouseError(Code.Canceled, "the subscription ended before a server accepted it"));
            this.stopped.abort();
            this.finished = true;
            this.onDone(this);
        }
    }
}
