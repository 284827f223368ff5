// statehouse-client: the client in Node.js (18 or later), over gRPC with
// @connectrpc/connect-node's HTTP/2 transport.
//
//   import { connect } from "statehouse-client";
//   const sh = connect("127.0.0.1:50051", { token: process.env.MY_TOKEN, tls: { ca: "ca.pem" } });
//   const { execution } = await sh.executions.createExecution({ namespace: "demo", flowId: "hello" });
//   for await (const message of sh.events.subscribe({ afterSequence: 0n })) { ... }
//   sh.close();
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { isIPv4, isIPv6 } from "node:net";
import type { Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { createStatehouse, type StatehouseClient } from "./client.js";
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

/** A PEM given as bytes, PEM text or a file path; null when unset. */
function readPem(value: Pem | undefined | null, what: string): Buffer | null {
  if (value === undefined || value === null || value === "") return null;
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (typeof value === "string") {
    if (value.includes("-----BEGIN ")) return Buffer.from(value);
    try {
      return readFileSync(value);
    } catch (error) {
      throw new Error(`statehouse: cannot read the TLS ${what} ${value}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  throw new TypeError(`statehouse: tls.${what} must be a Buffer, PEM text or a file path`);
}

/** "host:port" of a target: "host:port", "[::1]:port", "dns:///host:port", "http(s)://host:port". */
function hostPort(target: string): { host: string; port: string; scheme: string | null } {
  let rest = target.trim();
  let scheme: string | null = null;
  const url = /^(https?):\/\/([^/]+)\/?$/.exec(rest);
  if (url) {
    scheme = url[1];
    rest = url[2];
  }
  rest = rest.replace(/^(dns|ipv4|ipv6):(\/\/[^/]*\/)?/, "");
  if (rest.startsWith("[")) {
    const end = rest.indexOf("]");
    return { host: rest.slice(1, end), port: rest.slice(end + 2) || (scheme === "https" ? "443" : "80"), scheme };
  }
  if (isIPv6(rest)) return { host: rest, port: "", scheme };
  const colon = rest.lastIndexOf(":");
  if (colon < 0) return { host: rest, port: scheme === "https" ? "443" : scheme ? "80" : "", scheme };
  return { host: rest.slice(0, colon), port: rest.slice(colon + 1), scheme };
}

/** Whether a target is this machine (loopback addresses, localhost). */
export function isLoopback(target: string): boolean {
  if (/^unix(-abstract)?:/.test(target)) return true;
  const host = hostPort(target).host.toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIPv4(host)) return host.startsWith("127.");
  if (isIPv6(host)) return host === "::1" || /^(0{1,4}:){7}0{0,3}1$/.test(host) || /^::ffff:127\./.test(host);
  return false;
}

/**
 * OpenTelemetry's API, when the application has it (never required): sends
 * the caller's trace context (W3C traceparent, by the global propagator) on
 * every call and stream started while a span is active. Null without it.
 */
export function traceInterceptor(api: unknown = openTelemetry()): Interceptor | null {
  if (!api) return null;
  const otel = api as {
    context: { active(): unknown };
    trace: { getSpanContext(context: unknown): unknown };
    propagation: { inject(context: unknown, carrier: Headers, setter: unknown): void };
  };
  const setter = { set: (headers: Headers, key: string, value: unknown) => headers.set(key, String(value)) };
  return (next) => (request) => {
    const active = otel.context.active();
    if (otel.trace.getSpanContext(active)) otel.propagation.inject(active, request.header, setter);
    return next(request);
  };
}

function openTelemetry(): unknown {
  try {
    return createRequire(import.meta.url)("@opentelemetry/api");
  } catch {
    return null;
  }
}

/**
 * Connects to a Statehouse server over gRPC. Returns { executions, events,
 * metrics, admin, transport, close }: one method per RPC (createExecution,
 * subscribe, createToken, ...), messages as the generated types (camelCase
 * fields, 64-bit integers as bigint, enums as numbers: State.RUNNING).
 *
 * target: "host:port" (default $STATEHOUSE_TARGET, else 127.0.0.1:50051).
 * Nothing is sent until the first call; close() when done.
 */
export function connect(
  target: string = process.env.STATEHOUSE_TARGET || "127.0.0.1:50051",
  options: ConnectOptions = {},
): StatehouseClient {
  const {
    token = process.env.STATEHOUSE_TOKEN || "",
    tls = Boolean(process.env.STATEHOUSE_TLS_CA),
    allowPlaintextToken = false,
  } = options;
  const { host, port, scheme } = hostPort(target);
  if (!port) throw new TypeError(`statehouse: the target ${target} has no port (host:port)`);
  const secure = scheme === "https" || (scheme === null && Boolean(tls));
  const nodeOptions: Record<string, unknown> = {};
  if (secure) {
    const settings: TlsOptions = tls === true || tls === false || tls === undefined ? {} : tls;
    if (typeof settings !== "object" || settings === null) {
      throw new TypeError("statehouse: tls must be true, false or { ca, cert, key, serverName }");
    }
    const ca = readPem(settings.ca ?? process.env.STATEHOUSE_TLS_CA, "ca");
    const cert = readPem(settings.cert, "cert");
    const key = readPem(settings.key, "key");
    if (Boolean(cert) !== Boolean(key)) {
      throw new TypeError("statehouse: tls.cert and tls.key go together (a client certificate and its key)");
    }
    if (ca) nodeOptions.ca = ca;
    if (cert) nodeOptions.cert = cert;
    if (key) nodeOptions.key = key;
    // The name the certificate must hold; an IP address is checked as such (no SNI).
    const name = settings.serverName ?? host;
    if (!isIPv4(name) && !isIPv6(name)) nodeOptions.servername = name;
    else if (settings.serverName) nodeOptions.checkServerIdentity = serverIdentity(name);
  }
  const interceptors: Interceptor[] = [];
  const tracing = traceInterceptor();
  if (tracing) interceptors.push(tracing);
  if (token) {
    if (typeof token !== "string" || /[^\x20-\x7e]/.test(token)) {
      throw new TypeError("statehouse: the token must be a string of printable ASCII characters");
    }
    if (!secure && !allowPlaintextToken && !isLoopback(target)) {
      throw new Error(
        `statehouse: refusing to send a token without TLS to ${target}; ` +
          "pass tls (or set STATEHOUSE_TLS_CA), or allowPlaintextToken: true",
      );
    }
    const authorization = `Bearer ${token}`;
    interceptors.push((next) => (request) => {
      request.header.set("authorization", authorization);
      return next(request);
    });
  }
  interceptors.push(...(options.interceptors ?? []));
  const authority = isIPv6(host) ? `[${host}]` : host;
  const baseUrl = `${secure ? "https" : "http"}://${authority}:${port}`;
  const sessionManager = new Http2SessionManager(baseUrl, {}, { ...nodeOptions, ...options.nodeOptions });
  const transport = createGrpcTransport({ baseUrl, sessionManager, interceptors });
  return createStatehouse(transport, {
    timeoutMs: options.timeoutMs,
    retry: options.retry,
    onClose: () => sessionManager.abort(),
  });
}

/** Checks a certificate for an IP address given as serverName (Node's own check, by IP). */
function serverIdentity(address: string) {
  const tls = createRequire(import.meta.url)("node:tls") as typeof import("node:tls");
  return (_host: string, cert: import("node:tls").PeerCertificate) => tls.checkServerIdentity(address, cert);
}
