// A subscription to the event stream that resumes by itself: after a
// disconnect (the server restarting, the network) it says "reconnecting",
// opens the stream again after the last sequence it saw and drops any event at
// or below it, so the page sees every event exactly once.
import type { StateChangeEvent } from "../../client/ts/gen/statehouse/v1/event_pb.js";
import { events, isCanceled, isCompacted } from "./api.js";

export type StreamStatus = "connecting" | "live" | "reconnecting";

/** The resume logic, without I/O: which sequence to resume after, what to drop. */
export class EventCursor {
  duplicatesDropped = 0;
  constructor(public lastSequence: bigint) {}

  /** True if the event is new; false if it was seen already (dropped). */
  accept(sequence: bigint): boolean {
    if (sequence <= this.lastSequence) {
      this.duplicatesDropped++;
      return false;
    }
    this.lastSequence = sequence;
    return true;
  }

  /** A heartbeat: every event up to `sequence` has been considered for us. */
  advance(sequence: bigint): void {
    if (sequence > this.lastSequence) this.lastSequence = sequence;
  }
}

export interface LiveOptions {
  namespace?: string;
  flowId?: string;
  executionIds?: string[];
  afterSequence: bigint;
  onEvent(event: StateChangeEvent): void;
  onStatus(status: StreamStatus, detail: string): void;
  /** The events after afterSequence are gone from the log: start again. */
  onCompacted(): void;
}

const HEARTBEAT_SECONDS = 2n;
/** Several events per message, when the page is behind (the server's own cap). */
const MAX_EVENTS_PER_MESSAGE = 1000;
/** No message (not even a heartbeat) for this long: the connection is dead. */
const SILENCE_MS = 7000;
const BACKOFF_MS = [250, 500, 1000, 2000, 3000];

export class LiveSubscription {
  readonly cursor: EventCursor;
  reconnects = 0;
  status: StreamStatus = "connecting";
  private readonly closed = new AbortController();

  constructor(private readonly options: LiveOptions) {
    this.cursor = new EventCursor(options.afterSequence);
    void this.run();
  }

  close(): void {
    this.closed.abort();
  }

  private report(status: StreamStatus, detail: string): void {
    if (status === this.status) return;
    this.status = status;
    this.options.onStatus(status, detail);
  }

  private async run(): Promise<void> {
    const { options, cursor } = this;
    let failures = 0;
    options.onStatus(this.status, "");
    while (!this.closed.signal.aborted) {
      const connection = new AbortController();
      const stop = () => connection.abort();
      this.closed.signal.addEventListener("abort", stop);
      let silence = setTimeout(stop, SILENCE_MS);
      const alive = () => {
        clearTimeout(silence);
        silence = setTimeout(stop, SILENCE_MS);
        failures = 0;
        this.report("live", "");
      };
      try {
        const stream = events.subscribe(
          {
            filter: {
              namespace: options.namespace ?? "",
              flowId: options.flowId ?? "",
              executionIds: options.executionIds ?? [],
            },
            afterSequence: cursor.lastSequence,
            heartbeatInterval: { seconds: HEARTBEAT_SECONDS },
            maxEventsPerMessage: MAX_EVENTS_PER_MESSAGE,
          },
          { signal: connection.signal, onHeader: alive },
        );
        for await (const message of stream) {
          alive();
          if (message.payload.case === "event") {
            const event = message.payload.value;
            if (cursor.accept(event.sequence)) options.onEvent(event);
          } else if (message.payload.case === "heartbeat") {
            cursor.advance(message.payload.value.sequence);
          }
          // Several events in one message, in sequence order.
          for (const event of message.events) {
            if (cursor.accept(event.sequence)) options.onEvent(event);
          }
        }
      } catch (error) {
        if (this.closed.signal.aborted) break;
        if (isCompacted(error)) {
          options.onCompacted();
          break;
        }
        if (!isCanceled(error) && failures === 0) console.warn("event stream:", error);
      } finally {
        clearTimeout(silence);
        this.closed.signal.removeEventListener("abort", stop);
      }
      if (this.closed.signal.aborted) break;
      // The stream ended or broke: resume after the last sequence seen.
      this.report("reconnecting", `resuming after event ${cursor.lastSequence}`);
      const delay = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)];
      failures++;
      this.reconnects++;
      await sleep(delay, this.closed.signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
