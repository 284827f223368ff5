// The console's client: the shared JavaScript client (client/ts, its browser
// entry) over Connect on the HTTP port that served the page. A bearer token,
// when one is set (the "token" button), is kept in localStorage and sent in
// `Authorization` on every call.
import { Code, connectWeb, StatehouseError } from "../../client/ts/src/web.js";

const TOKEN_KEY = "statehouse.token";

export function token(): string {
  return localStorage.getItem(TOKEN_KEY) ?? "";
}

export function setToken(value: string): void {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

const client = connectWeb({ baseUrl: location.origin, token });

export const { executions, events, metrics, admin } = client;

/** The server's message for a failed call, as the CLI prints it: `message (REASON)`. */
export function describeError(error: unknown): string {
  const e = StatehouseError.from(error);
  const message = e.message || e.codeName;
  const text = e.reason ? `${message} (${e.reason})` : message;
  return e.code === Code.Unauthenticated ? `${text}: set a bearer token with the token button` : text;
}

export function isNotFound(error: unknown): boolean {
  return StatehouseError.from(error).code === Code.NotFound;
}

export function isPermissionDenied(error: unknown): boolean {
  return StatehouseError.from(error).code === Code.PermissionDenied;
}
