// The Connect-ES clients of the console, over the HTTP port that served it.
// A bearer token, when one is set (the "token" button), is kept in
// localStorage and sent in `Authorization` on every call.
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AdminService } from "../../client/ts/gen/statehouse/v1/admin_service_pb.js";
import { EventService } from "../../client/ts/gen/statehouse/v1/event_service_pb.js";
import { ExecutionService } from "../../client/ts/gen/statehouse/v1/execution_service_pb.js";
import { MetricService } from "../../client/ts/gen/statehouse/v1/metric_service_pb.js";

const TOKEN_KEY = "statehouse.token";

export function token(): string {
  return localStorage.getItem(TOKEN_KEY) ?? "";
}

export function setToken(value: string): void {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

const bearer: Interceptor = (next) => (request) => {
  const secret = token();
  if (secret) request.header.set("Authorization", `Bearer ${secret}`);
  return next(request);
};

const transport = createConnectTransport({
  baseUrl: location.origin,
  useBinaryFormat: true,
  interceptors: [bearer],
});

export const executions = createClient(ExecutionService, transport);
export const events = createClient(EventService, transport);
export const metrics = createClient(MetricService, transport);
export const admin = createClient(AdminService, transport);

/** The `reason` of a google.rpc.ErrorInfo detail (its field 1), if any. */
function errorReason(error: ConnectError): string {
  for (const detail of error.details) {
    if (!("type" in detail) || detail.type !== "google.rpc.ErrorInfo") continue;
    const reader = new BinaryReader(detail.value);
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === 1) return reader.string();
      reader.skip(wireType);
    }
  }
  return "";
}

/** The server's message for a failed call, as the CLI prints it: `message (REASON)`. */
export function describeError(error: unknown): string {
  const e = ConnectError.from(error);
  const reason = errorReason(e);
  const message = e.rawMessage || Code[e.code];
  const text = reason ? `${message} (${reason})` : message;
  return e.code === Code.Unauthenticated ? `${text}: set a bearer token with the token button` : text;
}

export function isNotFound(error: unknown): boolean {
  return ConnectError.from(error).code === Code.NotFound;
}

export function isPermissionDenied(error: unknown): boolean {
  return ConnectError.from(error).code === Code.PermissionDenied;
}

export function isCompacted(error: unknown): boolean {
  return ConnectError.from(error).code === Code.OutOfRange;
}

export function isCanceled(error: unknown): boolean {
  return ConnectError.from(error).code === Code.Canceled;
}
