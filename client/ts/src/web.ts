// statehouse-client/web: the client in a browser, over Connect (the server's
// HTTP port, --http-address), with connect-web's fetch transport.
import type { Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { createStatehouse, type StatehouseClient } from "./client.js";
import type { RetryPolicy } from "./retry.js";

export * from "./index.js";

export interface WebOptions {
  /** The server's HTTP address (default: the page's origin). */
  baseUrl?: string;
  /** A bearer token, or a function read on every call (a token the page may change). */
  token?: string | (() => string);
  /** Protobuf's binary format (default) or JSON. */
  useBinaryFormat?: boolean;
  timeoutMs?: number;
  retry?: RetryPolicy;
  interceptors?: Interceptor[];
}

/** Connects to the HTTP port of a Statehouse server from a browser. */
export function connectWeb(options: WebOptions = {}): StatehouseClient {
  const token = options.token;
  const bearer: Interceptor = (next) => (request) => {
    const secret = typeof token === "function" ? token() : token;
    if (secret) request.header.set("Authorization", `Bearer ${secret}`);
    return next(request);
  };
  const transport = createConnectTransport({
    baseUrl: options.baseUrl ?? globalThis.location.origin,
    useBinaryFormat: options.useBinaryFormat ?? true,
    interceptors: [bearer, ...(options.interceptors ?? [])],
  });
  return createStatehouse(transport, { timeoutMs: options.timeoutMs, retry: options.retry });
}
