// A subscription to the event stream that resumes by itself: the shared
// client's Subscription (client/ts), which after a disconnect (the server
// restarting, the network, a silent connection) opens the stream again after
// the last sequence it saw and drops any event at or below it, so the page
// sees every event exactly once. This file maps it to the page's states.
import type { StateChangeEvent } from "../../client/ts/src/index.js";
import { Code, StatehouseError, type Subscription } from "../../client/ts/src/index.js";
import { events } from "./api.js";

export type StreamStatus = "connecting" | "live" | "reconnecting";

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
/** No message (not even a heartbeat) for this long: the connection is dead. */
const SILENCE_MS = 7000;
/**
 * Reconnect for as long as the page is open, whatever broke the stream (a
 * browser's failed fetch is not UNAVAILABLE), except a compacted log:
 * 250 ms, then doubling up to 3 s.
 */
const RETRY = {
  maxAttempts: 0,
  initialBackoffMs: 250,
  maxBackoffMs: 3000,
  multiplier: 2,
  jitter: 0,
  retryable: (error: StatehouseError) => error.code !== Code.OutOfRange,
};

export class LiveSubscription {
  reconnects = 0;
  status: StreamStatus = "connecting";
  private readonly subscription: Subscription;

  constructor(private readonly options: LiveOptions) {
    this.subscription = events.subscribe(
      {
        filter: {
          namespace: options.namespace ?? "",
          flowId: options.flowId ?? "",
          executionIds: options.executionIds ?? [],
        },
        afterSequence: options.afterSequence,
        heartbeatInterval: { seconds: HEARTBEAT_SECONDS },
      },
      {
        retry: RETRY,
        idleTimeoutMs: SILENCE_MS,
        onConnect: () => this.report("live", ""),
        onReconnect: ({ attempt, error }) => {
          if (error && error.code !== Code.Canceled && attempt === 1) console.warn("event stream:", error);
          this.reconnects++;
          this.report("reconnecting", `resuming after event ${this.subscription.lastSequence}`);
        },
      },
    );
    options.onStatus(this.status, "");
    void this.run();
  }

  /** The sequence the stream resumes after. */
  get lastSequence(): bigint {
    return this.subscription.lastSequence ?? this.options.afterSequence;
  }

  close(): void {
    this.subscription.cancel();
  }

  private report(status: StreamStatus, detail: string): void {
    if (status === this.status) return;
    this.status = status;
    this.options.onStatus(status, detail);
  }

  private async run(): Promise<void> {
    try {
      for await (const message of this.subscription) {
        this.report("live", "");
        if (message.payload.case === "event") this.options.onEvent(message.payload.value);
      }
    } catch (error) {
      if (StatehouseError.from(error).code === Code.OutOfRange) this.options.onCompacted();
      else console.warn("event stream:", error);
    }
  }
}
