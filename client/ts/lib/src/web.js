import { createConnectTransport } from "@connectrpc/connect-web";
import { createStatehouse } from "./client.js";
export * from "./index.js";
/** Connects to the HTTP port of a Statehouse server from a browser. */
export function connectWeb(options = {}) {
    const token = options.token;
    const bearer = (next) => (request) => {
        const secret = typeof token === "function" ? token() : token;
        if (secret)
            request.header.set("Authorization", `Bearer ${secret}`);
        return next(request);
    };
    const transport = createConnectTransport({
        baseUrl: options.baseUrl ?? globalThis.location.origin,
        useBinaryFormat: options.useBinaryFormat ?? true,
        interceptors: [bearer, ...(options.interceptors ?? [])],
    });
    return createStatehouse(transport, { timeoutMs: options.timeoutMs, retry: options.retry });
}
