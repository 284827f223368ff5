import type { Interceptor } from "@connectrpc/connect";
import { type StatehouseClient } from "./client.js";
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
export declare function connectWeb(options?: WebOptions): StatehouseClient;
