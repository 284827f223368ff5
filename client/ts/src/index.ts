// statehouse-client/core: the transport-agnostic layer, for any Connect-ES
// transport (the web console builds on it), and the generated types of
// statehouse.v1. "statehouse-client" adds connect() over gRPC for Node;
// "statehouse-client/web" adds connectWeb() over Connect for browsers.
export {
  type CallOptions,
  type ClientOptions,
  createStatehouse,
  DEFAULT_TIMEOUT_MS,
  type EventsClient,
  type ExecutionsClient,
  type Service,
  type StatehouseClient,
  Stream,
  type StreamOptions,
} from "./client.js";
export { refusal } from "./check.js";
export {
  CODE_NAMES,
  decodeDetail,
  type ErrorDetail,
  type FieldViolation,
  type PreconditionViolation,
  type RawDetail,
  StatehouseError,
} from "./errors.js";
export {
  allowsRetry,
  backoffMs,
  DEFAULT_RETRY,
  DEFAULT_STREAM_RETRY,
  isIdempotent,
  isTransient,
  NO_RETRY,
  newRequestId,
  type RetryPolicy,
  withRequestId,
} from "./retry.js";
export {
  type ConnectInfo,
  MAX_EVENTS_PER_MESSAGE,
  type ReconnectInfo,
  START_SEQUENCE_HEADER,
  type SubscribeOptions,
  type SubscribeRequestInit,
  Subscription,
  SubscriptionCursor,
} from "./subscription.js";
export { Code } from "@connectrpc/connect";
export * from "../gen/statehouse/v1/admin_service_pb.js";
export * from "../gen/statehouse/v1/event_pb.js";
export * from "../gen/statehouse/v1/event_service_pb.js";
export * from "../gen/statehouse/v1/execution_pb.js";
export * from "../gen/statehouse/v1/execution_service_pb.js";
export * from "../gen/statehouse/v1/metric_pb.js";
export * from "../gen/statehouse/v1/metric_service_pb.js";
export * from "../gen/statehouse/v1/state_pb.js";
