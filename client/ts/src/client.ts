// The transport-agnostic client: the four services over any Connect-ES
// Transport (gRPC from Node, Connect from browsers), each RPC described once
// by its descriptor and wrapped once: a default timeout (a claim's long poll
// added), retries of transient failures when the call is safe to repeat,
// requests checked before they are sent, errors as StatehouseError, streams
// that cancel when their loop is left, and subscriptions that resume.
import type { DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import { type Client, Code, createClient, type Transport } from "@connectrpc/connect";
import { AdminService } from "../gen/statehouse/v1/admin_service_pb.js";
import { EventService, type SubscribeResponse } from "../gen/statehouse/v1/event_service_pb.js";
import {
  ExecutionService,
  type TransitionTaskRunResponse,
  type TransitionTaskRunsResponse,
} from "../gen/statehouse/v1/execution_service_pb.js";
import { MetricService } from "../gen/statehouse/v1/metric_service_pb.js";
import { refusal } from "./check.js";
import { StatehouseError } from "./errors.js";
import { allowsRetry, backoffMs, DEFAULT_RETRY, isIdempotent, isTransient, type RetryPolicy, sleep } from "./retry.js";
import { type SubscribeOptions, type SubscribeRequestInit, Subscription } from "./subscription.js";

/** The deadline of a unary call when none is given: 10 s (a claim adds its wait). */
export const DEFAULT_TIMEOUT_MS = 10_000;

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
  [K in keyof Client<S>]: Client<S>[K] extends (request: infer Req, options?: infer _O) => Promise<infer Res>
    ? Unary<Req, Res>
    : Client<S>[K] extends (request: infer Req, options?: infer _O) => AsyncIterable<infer Res>
      ? Streaming<Req, Res>
      : never;
} & { readonly raw: Client<S> };

type Init<K extends keyof Client<S>, S extends DescService> = Parameters<Client<S>[K]>[0];

/** The ExecutionService; transitionTaskRuns answers each item with its response or its error. */
export type ExecutionsClient = Omit<Service<typeof ExecutionService>, "transitionTaskRuns"> & {
  /**
   * One entry per item, in order: its TransitionTaskRunResponse, or the
   * StatehouseError transitionTaskRun would have rejected with (returned, not
   * thrown). Rejects only when the whole call fails.
   */
  transitionTaskRuns(
    request: Init<"transitionTaskRuns", typeof ExecutionService>,
    options?: CallOptions,
  ): Promise<(TransitionTaskRunResponse | StatehouseError)[]>;
};

/** The EventService; subscribe returns a Subscription (one event per message, resuming). */
export type EventsClient = Omit<Service<typeof EventService>, "subscribe"> & {
  subscribe(request?: SubscribeRequestInit, options?: SubscribeOptions & { headers?: HeadersInit }): Subscription;
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
export class Stream<T> implements AsyncIterable<T> {
  private readonly stopped = new AbortController();
  private cancelReason: StatehouseError | null = null;
  private finished = false;
  private iterated = false;

  constructor(
    private readonly open: (signal: AbortSignal) => AsyncIterable<T>,
    signal: AbortSignal | undefined,
    private readonly onDone: (s: Stream<T>) => void,
  ) {
    if (signal) {
      const stop = () => this.stopped.abort();
      signal.addEventListener("abort", stop, { once: true });
      this.stopped.signal.addEventListener("abort", () => signal.removeEventListener("abort", stop), { once: true });
    }
  }

  get done(): boolean {
    return this.finished;
  }

  /** Cancels the stream; a loop waiting on it fails with `reason` if given, else ends. */
  cancel(reason?: StatehouseError): void {
    if (reason && !this.cancelReason) this.cancelReason = reason;
    this.stopped.abort();
    if (!this.iterated && !this.finished) {
      this.finished = true;
      this.onDone(this);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.iterated) throw new Error("statehouse: a stream is iterated once");
    this.iterated = true;
    const generator = this.run();
    return {
      next: () => generator.next(),
      return: async (value?: unknown) => {
        this.stopped.abort();
        await generator.return(undefined);
        return { done: true, value: value as T };
      },
    };
  }

  private async *run(): AsyncGenerator<T> {
    try {
      for await (const item of this.open(this.stopped.signal)) yield item;
    } catch (error) {
      if (this.cancelReason) throw this.cancelReason;
      if (this.stopped.signal.aborted) return;
      throw StatehouseError.from(error);
    } finally {
      this.stopped.abort();
      this.finished = true;
      this.onDone(this);
    }
    if (this.cancelReason) throw this.cancelReason;
  }
}

/** A google.protobuf.Duration as given in a request, in milliseconds (0 when unset). */
function durationMs(duration: { seconds?: bigint | number | string; nanos?: number } | undefined): number {
  if (!duration) return 0;
  const ms = Number(duration.seconds ?? 0) * 1000 + Number(duration.nanos ?? 0) / 1e6;
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/** How long the server may hold a call before it answers, added to its deadline. */
const SERVER_WAITS: Record<string, (request: Record<string, unknown>) => number> = {
  "statehouse.v1.ExecutionService.ClaimTaskRuns": (request) =>
    durationMs(request.wait as Parameters<typeof durationMs>[0]),
};

/** Combines signals: aborted when any is; release() removes its listeners (call it when done). */
function anySignal(signals: (AbortSignal | undefined)[]): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const listening: [AbortSignal, () => void][] = [];
  for (const signal of signals) {
    if (!signal) continue;
    if (signal.aborted) {
      controller.abort(signal.reason);
      continue;
    }
    const abort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    listening.push([signal, abort]);
  }
  const release = () => {
    for (const [signal, abort] of listening) signal.removeEventListener("abort", abort);
  };
  return { signal: controller.signal, release };
}

interface Shared {
  timeoutMs: number;
  retry: RetryPolicy;
  closing: AbortSignal;
  open: Set<{ cancel(reason?: StatehouseError): void }>;
}

function closedError(): StatehouseError {
  return new StatehouseError(Code.Canceled, "the client was closed");
}

function wrapUnary(method: DescMethod, call: Function, shared: Shared) {
  const wait = SERVER_WAITS[`${method.parent.typeName}.${method.name}`];
  return async (request: Record<string, unknown> = {}, options: CallOptions = {}) => {
    const refused = refusal(method.input as DescMessage, request);
    if (refused) throw refused;
    if (shared.closing.aborted) throw closedError();
    const policy = options.retry ?? shared.retry;
    const retryable = isIdempotent(method.name, request);
    const deadline = Date.now() + (options.timeoutMs ?? shared.timeoutMs + (wait ? wait(request) : 0));
    const { signal, release } = anySignal([options.signal, shared.closing]);
    try {
      for (let failures = 1; ; failures++) {
        try {
          return await call(request, {
            timeoutMs: Math.max(1, deadline - Date.now()),
            signal,
            headers: options.headers,
          });
        } catch (caught) {
          const error = shared.closing.aborted ? closedError() : StatehouseError.from(caught);
          if (!retryable || !isTransient(policy, error) || !allowsRetry(policy, failures)) throw error;
          const delay = backoffMs(policy, failures);
          if (Date.now() + delay >= deadline) throw error;
          await sleep(delay, signal);
          if (signal.aborted) throw error;
        }
      }
    } finally {
      release();
    }
  };
}

function wrapStreaming(method: DescMethod, call: Function, shared: Shared) {
  return (request: Record<string, unknown> = {}, options: StreamOptions = {}) => {
    const refused = refusal(method.input as DescMessage, request);
    if (refused) throw refused;
    const stream: Stream<unknown> = new Stream(
      (signal) => call(request, { signal, headers: options.headers, timeoutMs: options.timeoutMs }),
      options.signal,
      (s) => shared.open.delete(s),
    );
    shared.open.add(stream);
    if (shared.closing.aborted) stream.cancel(closedError());
    return stream;
  };
}

function wrapService<S extends DescService>(service: S, transport: Transport, shared: Shared): Service<S> {
  const raw = createClient(service, transport);
  const wrapped: Record<string, unknown> = { raw };
  for (const method of service.methods) {
    const call = (raw as Record<string, Function>)[method.localName].bind(raw);
    wrapped[method.localName] =
      method.methodKind === "server_streaming" ? wrapStreaming(method, call, shared) : wrapUnary(method, call, shared);
  }
  return wrapped as Service<S>;
}

/**
 * The Statehouse services over `transport`: createGrpcTransport from
 * @connectrpc/connect-node (what connect() of "statehouse-client" builds), or
 * createConnectTransport from @connectrpc/connect-web (connectWeb() of
 * "statehouse-client/web").
 */
export function createStatehouse(transport: Transport, options: ClientOptions = {}): StatehouseClient {
  const closing = new AbortController();
  const shared: Shared = {
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retry: options.retry ?? DEFAULT_RETRY,
    closing: closing.signal,
    open: new Set(),
  };
  const executions = wrapService(ExecutionService, transport, shared) as unknown as ExecutionsClient;
  const transitionTaskRuns = executions.transitionTaskRuns as unknown as Unary<unknown, TransitionTaskRunsResponse>;
  executions.transitionTaskRuns = async (request, callOptions) =>
    (await transitionTaskRuns(request, callOptions)).results.map((result) =>
      result.result.case === "error"
        ? StatehouseError.fromItemStatus(result.result.value)
        : (result.result.value as TransitionTaskRunResponse),
    );
  const events = wrapService(EventService, transport, shared) as unknown as EventsClient;
  const method = EventService.method.subscribe;
  events.subscribe = (request = {}, subscribeOptions = {}) => {
    const refused = refusal(method.input, request);
    if (refused) throw refused;
    const subscription = new Subscription(
      (init, { signal, onHeader }) =>
        events.raw.subscribe(init, { signal, onHeader, headers: subscribeOptions.headers }) as AsyncIterable<SubscribeResponse>,
      request,
      subscribeOptions,
      (s) => shared.open.delete(s),
    );
    shared.open.add(subscription);
    if (closing.signal.aborted) subscription.cancel(closedError());
    return subscription;
  };
  return {
    executions,
    events,
    metrics: wrapService(MetricService, transport, shared),
    admin: wrapService(AdminService, transport, shared),
    transport,
    close() {
      for (const stream of [...shared.open]) stream.cancel(closedError());
      shared.open.clear();
      closing.abort();
      options.onClose?.();
    },
  };
}
